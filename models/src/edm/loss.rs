//! The EDM training loss (`edm.md` §3).
//!
//! - Noise levels: ln σ ~ N(P_mean, P_std²), P_mean = −1.2, P_std = 1.2.
//! - Weight: λ(σ) = (σ² + σ_d²)/(σ·σ_d)² = 1/c_out², which makes the loss in the F form
//!   ‖F − F̂‖² with a unit-variance target at every σ.
//! - Reduction: the per-sample loss is a **sum** over the d dimensions of a sample, the batch loss
//!   the mean over samples (EDM sums over pixels and divides by the batch size: the same thing).
//!   Logs also show ℓ/d.
//! - Condition dropout for classifier-free guidance: each row's condition is replaced by the null
//!   condition with probability p (0.1–0.2).
//! - Non-finite gradients are replaced before the optimiser step (NaN → 0, ±∞ → ±1e5) and counted.
use super::precond::{sum_per_sample, EdmPrecond};
use super::{check_sigma, per_row, Cond, Denoiser, EdmNetwork};
use crate::error::{Error, Result};
use autograd::Var;
use nn::GradSet;
use tensor::{DType, Device, Rng, Tensor};

/// EDM's mean of ln σ during training.
pub const P_MEAN: f64 = -1.2;
/// EDM's standard deviation of ln σ during training.
pub const P_STD: f64 = 1.2;

/// λ(σ) = (σ² + σ_d²)/(σ·σ_d)².
pub fn lambda(sigma: f64, sigma_data: f64) -> f64 {
    (sigma * sigma + sigma_data * sigma_data) / (sigma * sigma_data).powi(2)
}

/// The D form of the per-sample loss, λ(σ)·‖D(y + σn; σ, c) − y‖² `[B]`, for any denoiser (the
/// exact mixture denoiser gives the irreducible part of the loss). For an [`EdmPrecond`] it equals
/// [`EdmPrecond::per_sample_loss`] up to rounding; that identity is a unit test.
pub fn weighted_denoising_loss(
    den: &impl Denoiser,
    y: &Var,
    sigma: &Var,
    n: &Var,
    cond: Option<&Cond>,
    sigma_data: f64,
) -> Result<Var> {
    check_sigma("weighted_denoising_loss", y, sigma)?;
    let r = y.rank();
    let x = y.add(&n.mul(&per_row(sigma, r)?)?)?;
    let d = den.denoise(&x, sigma, cond)?;
    // λ = (σ² + σ_d²) / (σ² σ_d²)
    let s2 = sigma.square()?;
    let lam = s2.add_scalar(sigma_data * sigma_data)?.div(&s2.mul_scalar(sigma_data * sigma_data)?)?;
    sum_per_sample(&d.sub(y)?.square()?)?.mul(&lam).map_err(Error::from)
}

/// Replaces each row's condition by the null condition with probability `p` (classifier-free
/// guidance training). `null` has one row: a null class id, the empty prompt's tokens, or a
/// zero / learned NULL embedding.
#[derive(Clone, Debug)]
pub struct CondDropout {
    pub p: f64,
    pub null: Cond,
}

impl CondDropout {
    pub fn new(p: f64, null: Cond) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) || null.batch() != 1 {
            return Err(Error::invalid(
                "CondDropout::new",
                format!("need 0 ≤ p ≤ 1 and a one-row null condition, got p = {p}, {} rows", null.batch()),
            ));
        }
        Ok(CondDropout { p, null })
    }
    /// The condition with dropped rows, and which rows were dropped.
    pub fn apply(&self, cond: &Cond, rng: &mut Rng) -> Result<(Cond, Vec<bool>)> {
        let b = cond.batch();
        let drop: Vec<bool> = rng.bernoulli(&[b], self.p, DType::F64)?.to_vec_f64()?.iter().map(|&v| v > 0.5).collect();
        Ok((cond.where_rows(&drop, &self.null)?, drop))
    }
}

/// The training-noise distribution and reduction of EDM.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EdmLoss {
    pub p_mean: f64,
    pub p_std: f64,
}

impl Default for EdmLoss {
    fn default() -> Self {
        EdmLoss { p_mean: P_MEAN, p_std: P_STD }
    }
}

/// One evaluation of the training loss.
#[derive(Clone, Debug)]
pub struct LossOutput {
    /// Mean over the batch of the per-sample sums (what is backpropagated).
    pub loss: Var,
    /// ℓ per sample `[B]`.
    pub per_sample: Var,
    /// The σ drawn for each sample `[B]`.
    pub sigma: Tensor,
}

impl EdmLoss {
    /// `b` noise levels σ = exp(P_mean + P_std·z), z ~ N(0, 1).
    pub fn sample_sigma(&self, b: usize, dtype: DType, rng: &mut Rng) -> Result<Tensor> {
        Ok(rng.normal(&[b], self.p_mean, self.p_std, DType::F64)?.exp()?.to_dtype(dtype)?)
    }

    /// [`EdmLoss::sample_sigma`] on `device` (the same numbers).
    pub fn sample_sigma_on(&self, b: usize, dtype: DType, device: Device, rng: &mut Rng) -> Result<Tensor> {
        Ok(self.sample_sigma(b, dtype, rng)?.to_device(device)?)
    }

    /// Draws σ, then n, then (with `dropout`) the dropped rows from `rng` for the batch y `[B, ...]`
    /// and returns the loss; dropped rows see the null condition.
    pub fn loss<F: EdmNetwork>(
        &self,
        model: &EdmPrecond<F>,
        y: &Var,
        cond: Option<&Cond>,
        dropout: Option<&CondDropout>,
        rng: &mut Rng,
    ) -> Result<LossOutput> {
        let b = y.shape().first().copied().unwrap_or(0);
        if y.rank() < 1 || b == 0 {
            return Err(Error::invalid("EdmLoss::loss", format!("need a non-empty batch, got {:?}", y.shape())));
        }
        let device = y.value().device();
        let sigma = self.sample_sigma_on(b, y.dtype(), device, rng)?;
        let n = Var::constant(rng.normal_on(y.shape(), 0.0, 1.0, y.dtype(), device)?);
        let dropped = match (cond, dropout) {
            (Some(c), Some(d)) => Some(d.apply(c, rng)?.0),
            _ => None,
        };
        let cond = dropped.as_ref().or(cond);
        let per_sample = model.per_sample_loss(y, &Var::constant(sigma.clone()), &n, cond)?;
        Ok(LossOutput { loss: per_sample.mean_all()?, per_sample, sigma })
    }
}

/// Running means of the per-sample loss in bins of ln σ, to see which noise levels are
/// under-trained (`edm.md` §3, "log the loss per σ bucket").
#[derive(Clone, Debug, PartialEq)]
pub struct LossBuckets {
    /// Bin edges in ln σ: bin i covers `[edges[i], edges[i+1])`; the end bins are open.
    pub edges: Vec<f64>,
    pub sums: Vec<f64>,
    pub counts: Vec<u64>,
}

impl LossBuckets {
    /// `bins` equal bins of ln σ over P_mean ± 2·P_std (values beyond go to the end bins).
    pub fn new(loss: &EdmLoss, bins: usize) -> Self {
        let bins = bins.max(1);
        let (lo, hi) = (loss.p_mean - 2.0 * loss.p_std, loss.p_mean + 2.0 * loss.p_std);
        let edges = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
        LossBuckets { edges, sums: vec![0.0; bins], counts: vec![0; bins] }
    }
    /// Adds a batch of (σ, ℓ) pairs.
    pub fn add(&mut self, sigma: &Tensor, per_sample: &Tensor) -> Result<()> {
        let (s, l) = (sigma.to_vec_f64()?, per_sample.to_vec_f64()?);
        if s.len() != l.len() {
            return Err(Error::invalid("LossBuckets::add", format!("{} sigmas for {} losses", s.len(), l.len())));
        }
        let bins = self.sums.len();
        for (s, l) in s.iter().zip(&l) {
            let i = self.edges[1..bins].partition_point(|&e| e <= s.ln());
            self.sums[i] += l;
            self.counts[i] += 1;
        }
        Ok(())
    }
    /// The mean loss per bin (NaN for an empty bin).
    pub fn means(&self) -> Vec<f64> {
        self.sums.iter().zip(&self.counts).map(|(s, &c)| if c == 0 { f64::NAN } else { s / c as f64 }).collect()
    }
    pub fn reset(&mut self) {
        self.sums.iter_mut().for_each(|s| *s = 0.0);
        self.counts.iter_mut().for_each(|c| *c = 0);
    }
}

/// EDM's guard before the optimiser step: NaN → 0 and ±∞ → ±1e5 in every gradient. Returns the
/// number of elements replaced (log it: a count that grows means the run is diverging).
pub fn sanitize_grads(grads: &mut GradSet) -> Result<u64> {
    let mut replaced = 0u64;
    for (_, _, g) in &mut grads.items {
        // One scalar per gradient (on a GPU only it comes back): Σg² is finite when every element
        // is; an overflowing sum of finite values falls through to the element check below.
        if g.sum_squares_f64()?.is_finite() {
            continue;
        }
        let v = g.to_vec_f64()?;
        if v.iter().all(|x| x.is_finite()) {
            continue;
        }
        let fixed: Vec<f64> = v
            .iter()
            .map(|&x| {
                if x.is_finite() {
                    x
                } else {
                    replaced += 1;
                    if x.is_nan() {
                        0.0
                    } else {
                        1e5f64.copysign(x)
                    }
                }
            })
            .collect();
        *g = Tensor::from_vec(fixed, g.shape())?.to_dtype(g.dtype())?.to_device(g.device())?;
    }
    Ok(replaced)
}
