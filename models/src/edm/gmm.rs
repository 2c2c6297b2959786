//! The exact denoiser of an isotropic Gaussian mixture (`edm.md` §6): the test oracle that lets
//! every sampler and metric run with no training.
//!
//! For p(y) = Σ_k π_k N(y; μ_k, s_k² I) in d dimensions, the noisy marginal is
//! p_σ(x) = Σ_k π_k N(x; μ_k, (s_k² + σ²) I), and the ideal denoiser E[y | x] is
//!
//! ```text
//! w_k(x)  = π_k N(x; μ_k, v_k I) / Σ_j π_j N(x; μ_j, v_j I),     v_k = s_k² + σ²   (a softmax)
//! D*(x;σ) = Σ_k w_k · [ μ_k + s_k²/v_k · (x − μ_k) ]  =  Σ_k w_k · (μ_k σ² + x s_k²) / v_k
//!         = x + σ²·∇ₓ log p_σ(x)
//! ```
//!
//! With s_k = 0 and equal weights (a finite data set) D* is the softmax-weighted mean of the
//! points with weights ∝ exp(−‖x − y_i‖²/(2σ²)), and the ODE carries noise back onto the points.
//!
//! The denoiser is written with `Var` ops (so gradients flow through it, and it runs in the
//! input's dtype: use f64 for oracle tests). Class conditioning picks one component: `Cond::Class`
//! id k < K restricts the mixture to component k, and id K (= [`ExactGmmDenoiser::null_class`])
//! is the null condition, the whole mixture.
use super::{check_sigma, Cond, Denoiser};
use crate::error::{Error, Result};
use autograd::Var;
use data::toy2d::GaussianMixture;
use tensor::Tensor;

#[derive(Clone, Debug, PartialEq)]
pub struct ExactGmmDenoiser {
    /// Component means, row-major `[K, d]`.
    means: Vec<f64>,
    dim: usize,
    /// log π_k (normalised).
    log_weights: Vec<f64>,
    /// s_k, the standard deviation of each component (0 for a point mass).
    stds: Vec<f64>,
}

impl ExactGmmDenoiser {
    /// A mixture of K components in d = `means[k].len()` dimensions with weights π_k (normalised
    /// here) and standard deviations s_k ≥ 0.
    pub fn new(means: &[Vec<f64>], weights: &[f64], stds: &[f64]) -> Result<Self> {
        let op = "ExactGmmDenoiser::new";
        let (k, dim) = (means.len(), means.first().map(Vec::len).unwrap_or(0));
        if k == 0 || dim == 0 || weights.len() != k || stds.len() != k || means.iter().any(|m| m.len() != dim) {
            return Err(Error::invalid(
                op,
                format!(
                    "need K ≥ 1 means of one length ≥ 1 and K weights and stds, got {k}, {}, {}",
                    weights.len(),
                    stds.len()
                ),
            ));
        }
        let total: f64 = weights.iter().sum();
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || total <= 0.0 || !total.is_finite() {
            return Err(Error::invalid(op, format!("weights must be ≥ 0 and not all 0, got {weights:?}")));
        }
        if stds.iter().any(|s| !(s.is_finite() && *s >= 0.0)) || means.iter().flatten().any(|m| !m.is_finite()) {
            return Err(Error::invalid(op, "means must be finite and stds finite and ≥ 0"));
        }
        Ok(ExactGmmDenoiser {
            means: means.concat(),
            dim,
            log_weights: weights.iter().map(|w| (w / total).ln()).collect(),
            stds: stds.to_vec(),
        })
    }

    /// The 2-D mixture of a `data::toy2d` distribution, with every coordinate multiplied by
    /// `scale` (models train on rescaled data; `scale` = 1 keeps data units).
    pub fn from_mixture(m: &GaussianMixture, scale: f64) -> Result<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::invalid("ExactGmmDenoiser::from_mixture", format!("scale must be > 0, got {scale}")));
        }
        let means: Vec<Vec<f64>> = m.means().iter().map(|p| vec![p[0] * scale, p[1] * scale]).collect();
        ExactGmmDenoiser::new(&means, m.weights(), &vec![m.std() * scale; means.len()])
    }

    /// Equal-weight point masses at the rows of `points` `[K, ...]`: the ideal denoiser of a
    /// finite training set (each row flattened to d values).
    pub fn from_points(points: &Tensor) -> Result<Self> {
        let k = points.shape().first().copied().unwrap_or(0);
        let v = points.to_vec_f64()?;
        if k == 0 || v.is_empty() {
            return Err(Error::invalid("ExactGmmDenoiser::from_points", "need at least one point"));
        }
        let means: Vec<Vec<f64>> = v.chunks_exact(v.len() / k).map(<[f64]>::to_vec).collect();
        ExactGmmDenoiser::new(&means, &vec![1.0; k], &vec![0.0; k])
    }

    pub fn n_components(&self) -> usize {
        self.stds.len()
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The class id that means "no condition" (the whole mixture): K.
    pub fn null_class(&self) -> i64 {
        self.n_components() as i64
    }

    /// Exact log p_σ(x) for one point (d values), by log-sum-exp over the components:
    /// log Σ_k π_k N(x; μ_k, (s_k² + σ²) I).
    pub fn log_density(&self, x: &[f64], sigma: f64) -> Result<f64> {
        if x.len() != self.dim || !(sigma.is_finite() && sigma >= 0.0) {
            return Err(Error::invalid(
                "ExactGmmDenoiser::log_density",
                format!("need a point of {} values and σ ≥ 0, got {} values, σ = {sigma}", self.dim, x.len()),
            ));
        }
        let d = self.dim as f64;
        let logs: Vec<f64> = (0..self.n_components())
            .map(|k| {
                let v = self.stds[k] * self.stds[k] + sigma * sigma;
                let mu = &self.means[k * self.dim..(k + 1) * self.dim];
                let d2: f64 = x.iter().zip(mu).map(|(a, b)| (a - b) * (a - b)).sum();
                self.log_weights[k] - 0.5 * d * (2.0 * std::f64::consts::PI * v).ln() - d2 / (2.0 * v)
            })
            .collect();
        let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Ok(max + logs.iter().map(|l| (l - max).exp()).sum::<f64>().ln())
    }

    /// 0 for allowed components and −∞ for the others, `[B, K]`, from class ids.
    fn class_mask(&self, cond: Option<&Cond>, b: usize) -> Result<Option<Tensor>> {
        let ids = match cond {
            None => return Ok(None),
            Some(Cond::Class(ids)) => ids,
            Some(_) => {
                return Err(Error::invalid("ExactGmmDenoiser", "only class conditions (component ids) are understood"))
            }
        };
        let k = self.n_components();
        let ids = ids.to_vec_f64()?;
        if ids.len() != b || ids.iter().any(|&i| !(0.0..=k as f64).contains(&i)) {
            return Err(Error::invalid(
                "ExactGmmDenoiser",
                format!("need {b} class ids in 0..={k} ({k} = null), got {ids:?}"),
            ));
        }
        let blocked: Vec<u8> =
            ids.iter().flat_map(|&i| (0..k).map(move |j| (i as usize != k && j != i as usize) as u8)).collect();
        Ok(Some(Tensor::from_vec(blocked, &[b, k])?))
    }
}

impl Denoiser for ExactGmmDenoiser {
    /// D*(x; σ) for x `[B, ...]` with d values per row, σ `[B]` (both in x's dtype; σ > 0 unless
    /// every s_k > 0).
    fn denoise(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<Var> {
        check_sigma("ExactGmmDenoiser", x, sigma)?;
        let (b, k, d) = (x.shape()[0], self.n_components(), self.dim);
        if x.value().elem_count() != b * d {
            return Err(Error::invalid("ExactGmmDenoiser", format!("rows of x {:?} must hold {d} values", x.shape())));
        }
        let dt = x.dtype();
        let cst = |v: Vec<f64>, shape: &[usize]| -> Result<Var> {
            Ok(Var::constant(Tensor::from_vec(v, shape)?.to_dtype(dt)?))
        };
        let mu = cst(self.means.clone(), &[k, d])?;
        let s2 = cst(self.stds.iter().map(|s| s * s).collect(), &[1, k])?;
        let xf = x.reshape(&[b, d])?;
        // v_k = s_k² + σ²: [B, K]
        let v = sigma.square()?.reshape(&[b, 1])?.add(&s2)?;
        // ‖x − μ_k‖²: [B, K]
        let d2 = xf.reshape(&[b, 1, d])?.sub(&mu.reshape(&[1, k, d])?)?.square()?.sum(&[-1], false)?;
        // log π_k + log N(x; μ_k, v_k I) up to the shared −(d/2)·log 2π
        let mut logits = cst(self.log_weights.clone(), &[1, k])?
            .sub(&v.log()?.mul_scalar(0.5 * d as f64)?)?
            .sub(&d2.div(&v.mul_scalar(2.0)?)?)?;
        if let Some(blocked) = self.class_mask(cond, b)? {
            logits = logits.masked_fill(&blocked, f64::NEG_INFINITY)?;
        }
        let w = logits.softmax(-1)?;
        // D* = Σ_k w_k σ²/v_k · μ_k  +  x · Σ_k w_k s_k²/v_k
        let w_over_v = w.div(&v)?;
        let towards_means = w_over_v.mul(&sigma.square()?.reshape(&[b, 1])?)?.matmul(&mu)?;
        let keep_x = w_over_v.mul(&s2)?.sum(&[-1], true)?;
        Ok(towards_means.add(&xf.mul(&keep_x)?)?.reshape(x.shape())?)
    }
}
