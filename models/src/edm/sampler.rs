//! Sampling (`edm.md` §4): the ρ-schedule of noise levels, the Euler and Heun solvers of the
//! probability-flow ODE dx/dσ = (x − D(x; σ))/σ (EDM Algorithm 1, with Algorithm 2's optional
//! churn), and the η-step / η-sampler that R0's few-step generator is made of.
//!
//! Everything runs on `Var`s: wrap a call in `autograd::no_grad` to sample, or leave the graph on
//! to backpropagate through the steps. Randomness comes only from the [`Rng`] passed in, so a seed
//! fixes the result bit for bit.
use super::{per_row, sigma_full, Cond, Denoiser};
use crate::error::{Error, Result};
use autograd::Var;
use tensor::{DType, Device, Rng, Tensor};

/// EDM's smallest noise level of the sampler.
pub const SIGMA_MIN: f64 = 0.002;
/// EDM's largest noise level (images in [−1, 1]).
pub const SIGMA_MAX: f64 = 80.0;
/// EDM's schedule exponent.
pub const RHO: f64 = 7.0;

/// The EDM noise levels, N values and a final 0 (N + 1 in all):
///
/// ```text
/// σ_i = ( σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}) )^ρ,  i = 0..N−1;   σ_N = 0
/// ```
///
/// ρ = 7 spends most steps at small σ, where the ODE's curvature is largest. N = 1 gives
/// [σ_max, 0].
pub fn sigma_schedule(n: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Result<Vec<f64>> {
    if n == 0 || !(sigma_min > 0.0 && sigma_min <= sigma_max && sigma_max.is_finite() && rho > 0.0 && rho.is_finite()) {
        return Err(Error::invalid(
            "sigma_schedule",
            format!(
                "need N ≥ 1, 0 < σ_min ≤ σ_max < ∞ and ρ > 0, got N = {n}, σ ∈ [{sigma_min}, {sigma_max}], ρ = {rho}"
            ),
        ));
    }
    let (a, b) = (sigma_max.powf(1.0 / rho), sigma_min.powf(1.0 / rho));
    let mut s: Vec<f64> =
        (0..n).map(|i| if n == 1 { sigma_max } else { (a + i as f64 / (n - 1) as f64 * (b - a)).powf(rho) }).collect();
    s.push(0.0);
    Ok(s)
}

/// The ODE solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Solver {
    /// First order: one D evaluation per step (N NFE).
    Euler,
    /// Second order (trapezoidal correction), none on the step to σ = 0: 2N − 1 NFE.
    Heun,
}

/// EDM Algorithm 2's stochastic "churn": at σ_i ∈ [S_min, S_max], raise the noise to
/// σ̂ = σ_i(1 + γ), γ = min(S_churn/N, √2 − 1), by adding fresh noise of std √(σ̂² − σ_i²)·S_noise,
/// then take the ODE step from σ̂. (ImageNet-64: S_churn 40, S_min 0.05, S_max 50, S_noise 1.003.)
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Churn {
    pub s_churn: f64,
    pub s_min: f64,
    pub s_max: f64,
    pub s_noise: f64,
}

/// Everything that defines a deterministic (or churned) EDM sampler run.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplerConfig {
    /// N, the number of noise levels before the final 0.
    pub steps: usize,
    pub sigma_min: f64,
    pub sigma_max: f64,
    pub rho: f64,
    pub solver: Solver,
    pub churn: Option<Churn>,
}

impl Default for SamplerConfig {
    /// Heun with N = 18 (35 NFE), σ ∈ [0.002, 80], ρ = 7: EDM's CIFAR-10 sampler.
    fn default() -> Self {
        SamplerConfig {
            steps: 18,
            sigma_min: SIGMA_MIN,
            sigma_max: SIGMA_MAX,
            rho: RHO,
            solver: Solver::Heun,
            churn: None,
        }
    }
}

impl SamplerConfig {
    pub fn sigmas(&self) -> Result<Vec<f64>> {
        sigma_schedule(self.steps, self.sigma_min, self.sigma_max, self.rho)
    }
}

fn check_grid(op: &'static str, sigmas: &[f64], last_may_be_zero: bool) -> Result<()> {
    let n = sigmas.len();
    let ok = n >= 1
        && sigmas
            .iter()
            .enumerate()
            .all(|(i, &s)| s.is_finite() && (s > 0.0 || (last_may_be_zero && i + 1 == n && s == 0.0)))
        && sigmas.windows(2).all(|w| w[1] < w[0]);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("noise levels must be finite, positive and decreasing, got {sigmas:?}")))
    }
}

/// D(x; σ) at one noise level for the whole batch.
fn denoise_at(den: &impl Denoiser, x: &Var, sigma: f64, cond: Option<&Cond>) -> Result<Var> {
    let s = sigma_full(x.shape()[0], sigma, x.dtype())?.value().to_device(x.value().device())?;
    den.denoise(x, &Var::constant(s), cond)
}

/// Solves the PF-ODE from x = σ_0·`noise` along `sigmas` (e.g. [`sigma_schedule`], ending in 0):
///
/// ```text
/// for i = 0..N−1:
///     d  = (x − D(x; σ_i)) / σ_i
///     x' = x + (σ_{i+1} − σ_i)·d
///     Heun, σ_{i+1} > 0:  d' = (x' − D(x'; σ_{i+1}))/σ_{i+1};  x = x + (σ_{i+1} − σ_i)·(d + d')/2
///     else:               x = x'
/// ```
///
/// `noise` is ε ~ N(0, I) shaped `[B, ...]`; the state keeps its dtype (f64 for toys and oracle
/// tests, f32 for images). `churn` adds Algorithm 2's fresh noise, drawn from its `Rng`.
pub fn solve(
    den: &impl Denoiser,
    noise: &Var,
    sigmas: &[f64],
    solver: Solver,
    cond: Option<&Cond>,
    mut churn: Option<(&Churn, &mut Rng)>,
) -> Result<Var> {
    check_grid("solve", sigmas, true)?;
    if noise.rank() < 1 {
        return Err(Error::invalid("solve", "the noise needs a batch dimension"));
    }
    let steps = sigmas.len() - 1;
    let mut x = noise.mul_scalar(sigmas[0])?;
    for i in 0..steps {
        let (mut s_cur, s_next) = (sigmas[i], sigmas[i + 1]);
        if let Some((c, rng)) = churn.as_mut() {
            let gamma = if (c.s_min..=c.s_max).contains(&s_cur) {
                (c.s_churn / steps as f64).min(std::f64::consts::SQRT_2 - 1.0)
            } else {
                0.0
            };
            if gamma > 0.0 {
                let s_hat = s_cur * (1.0 + gamma);
                let eps = Var::constant(rng.normal_on(x.shape(), 0.0, 1.0, x.dtype(), x.value().device())?);
                x = x.add(&eps.mul_scalar((s_hat * s_hat - s_cur * s_cur).sqrt() * c.s_noise)?)?;
                s_cur = s_hat;
            }
        }
        let h = s_next - s_cur;
        let d = x.sub(&denoise_at(den, &x, s_cur, cond)?)?.div_scalar(s_cur)?;
        let x_euler = x.add(&d.mul_scalar(h)?)?;
        x = if solver == Solver::Heun && s_next > 0.0 {
            let d2 = x_euler.sub(&denoise_at(den, &x_euler, s_next, cond)?)?.div_scalar(s_next)?;
            x.add(&d.add(&d2)?.mul_scalar(0.5 * h)?)?
        } else {
            x_euler
        };
    }
    Ok(x)
}

/// Draws ε `[shape]` from `rng` and runs [`solve`] with `cfg` (churn noise from the same `rng`),
/// on `device` (the same numbers on every device).
#[allow(clippy::too_many_arguments)]
pub fn generate(
    den: &impl Denoiser,
    shape: &[usize],
    dtype: DType,
    device: Device,
    cfg: &SamplerConfig,
    cond: Option<&Cond>,
    rng: &mut Rng,
) -> Result<Var> {
    let noise = Var::constant(rng.normal_on(shape, 0.0, 1.0, dtype, device)?);
    let sigmas = cfg.sigmas()?;
    let churn = cfg.churn.as_ref().map(|c| (c, rng));
    solve(den, &noise, &sigmas, cfg.solver, cond, churn)
}

/// The η of an η-step: one value for the batch, or one per sample (R0 draws η ~ U[0, 1] per step
/// and per sample in training).
#[derive(Clone, Debug)]
pub enum Eta {
    Fixed(f64),
    /// `[B]`, any float dtype.
    PerSample(Tensor),
}

/// The η-step from σ to σ' (`edm.md` §4.3), given x̂₀ = D(x; σ) and fresh noise ξ ~ N(0, I):
///
/// ```text
/// ε̂ = (x − x̂₀)/σ,     x' = x̂₀ + σ'·( √(1−η²)·ε̂ + η·ξ )
/// ```
///
/// η = 0 is exactly the Euler step x + (σ' − σ)·(x − x̂₀)/σ; η = 1 re-noises x̂₀ with fresh noise
/// (consistency-model style). Every η keeps the marginal variance σ'² of the added noise.
pub fn eta_step(x: &Var, x0: &Var, sigma: f64, sigma_next: f64, eta: &Eta, xi: &Var) -> Result<Var> {
    if !(sigma > 0.0 && sigma_next >= 0.0) || x.shape() != x0.shape() || xi.shape() != x.shape() {
        return Err(Error::invalid(
            "eta_step",
            format!(
                "need σ > 0, σ' ≥ 0 and x, x̂₀, ξ of one shape; got σ = {sigma}, σ' = {sigma_next}, {:?}, {:?}, {:?}",
                x.shape(),
                x0.shape(),
                xi.shape()
            ),
        ));
    }
    let eps_hat = x.sub(x0)?.div_scalar(sigma)?;
    let noise = match eta {
        Eta::Fixed(e) => {
            if !(0.0..=1.0).contains(e) {
                return Err(Error::invalid("eta_step", format!("η must be in [0, 1], got {e}")));
            }
            if *e == 0.0 {
                eps_hat
            } else {
                eps_hat.mul_scalar((1.0 - e * e).sqrt())?.add(&xi.mul_scalar(*e)?)?
            }
        }
        Eta::PerSample(t) => {
            let v = t.to_vec_f64()?;
            if t.shape() != [x.shape()[0]] || v.iter().any(|e| !(0.0..=1.0).contains(e)) {
                return Err(Error::invalid(
                    "eta_step",
                    format!("per-sample η must be [{}] in [0, 1], got {:?}", x.shape()[0], t.shape()),
                ));
            }
            let e = per_row(&Var::constant(t.to_dtype(x.dtype())?), x.rank())?;
            let keep = e.square()?.affine(-1.0, 1.0)?.sqrt()?;
            eps_hat.mul(&keep)?.add(&xi.mul(&e)?)?
        }
    };
    Ok(x0.add(&noise.mul_scalar(sigma_next)?)?)
}

/// R0's σ grid for a K-step η-sampler: the K largest levels of the N = K + 1 schedule, so the last
/// evaluation is at a moderate σ (K = 4, EDM defaults: 80, 17.5278, 2.5152, 0.1698).
pub fn eta_sigmas(k: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Result<Vec<f64>> {
    let mut s = sigma_schedule(k + 1, sigma_min, sigma_max, rho)?;
    s.truncate(k);
    Ok(s)
}

/// The K-step η-sampler (`r0.md` §2): x = σ_0·`noise`, then for each level x̂₀ = D(x; σ_i, c);
/// the last x̂₀ is returned, and before that [`eta_step`] moves x to σ_{i+1} with η = `etas[i]`
/// and ξ drawn from `rng`. `sigmas` are the K evaluation levels (e.g. [`eta_sigmas`]), `etas`
/// has K − 1 entries. K network evaluations.
pub fn eta_sample(
    den: &impl Denoiser,
    noise: &Var,
    sigmas: &[f64],
    etas: &[Eta],
    cond: Option<&Cond>,
    rng: &mut Rng,
) -> Result<Var> {
    check_grid("eta_sample", sigmas, false)?;
    if etas.len() + 1 != sigmas.len() || noise.rank() < 1 {
        return Err(Error::invalid(
            "eta_sample",
            format!("{} levels need {} η values, got {}", sigmas.len(), sigmas.len() - 1, etas.len()),
        ));
    }
    let mut x = noise.mul_scalar(sigmas[0])?;
    for (i, &sigma) in sigmas.iter().enumerate() {
        let x0 = denoise_at(den, &x, sigma, cond)?;
        let Some(&next) = sigmas.get(i + 1) else { return Ok(x0) };
        let xi = Var::constant(rng.normal_on(x.shape(), 0.0, 1.0, x.dtype(), x.value().device())?);
        x = eta_step(&x, &x0, sigma, next, &etas[i], &xi)?;
    }
    Err(Error::invalid("eta_sample", "no noise levels"))
}
