//! EDM preconditioning (`edm.md` §2, EDM Table 1):
//!
//! ```text
//! D_θ(x; σ, c) = c_skip(σ)·x + c_out(σ)·F_θ( c_in(σ)·x ; c_noise(σ), c )
//!
//! c_skip  = σ_d² / (σ² + σ_d²)
//! c_out   = σ·σ_d / √(σ² + σ_d²)
//! c_in    = 1 / √(σ² + σ_d²)
//! c_noise = ¼·ln σ
//! ```
//!
//! σ_d (`sigma_data`) is the standard deviation of the data. The choice makes the network's input
//! c_in·x and its training target F̂ = (y − c_skip·x)/c_out both have unit variance at every σ
//! (for data of variance σ_d²), and c_skip is the value that minimises c_out, so F's errors are
//! amplified as little as possible. Limits: as σ → 0, c_skip → 1 and c_out → 0 (D → x); as
//! σ → ∞, c_skip → 0 and c_in·x has unit variance.
use super::{check_sigma, per_row, Cond, Denoiser, EdmNetwork};
use crate::error::{Error, Result};
use autograd::Var;

/// σ_d for images scaled as pixel/127.5 − 1 (EDM's default).
pub const SIGMA_DATA: f64 = 0.5;

/// c_skip(σ) = σ_d² / (σ² + σ_d²).
pub fn c_skip(sigma: f64, sigma_data: f64) -> f64 {
    sigma_data * sigma_data / (sigma * sigma + sigma_data * sigma_data)
}
/// c_out(σ) = σ·σ_d / √(σ² + σ_d²).
pub fn c_out(sigma: f64, sigma_data: f64) -> f64 {
    sigma * sigma_data / (sigma * sigma + sigma_data * sigma_data).sqrt()
}
/// c_in(σ) = 1 / √(σ² + σ_d²).
pub fn c_in(sigma: f64, sigma_data: f64) -> f64 {
    1.0 / (sigma * sigma + sigma_data * sigma_data).sqrt()
}
/// c_noise(σ) = ¼·ln σ.
pub fn c_noise(sigma: f64) -> f64 {
    0.25 * sigma.ln()
}

/// The four coefficients for a batch of noise levels σ `[B]`, each `[B]` in σ's dtype.
#[derive(Clone, Debug)]
pub struct Coeffs {
    pub c_skip: Var,
    pub c_out: Var,
    pub c_in: Var,
    pub c_noise: Var,
}

impl Coeffs {
    pub fn new(sigma: &Var, sigma_data: f64) -> Result<Coeffs> {
        let sd2 = sigma_data * sigma_data;
        // 1/√(σ² + σ_d²), shared by c_in and c_out.
        let inv_norm = sigma.square()?.add_scalar(sd2)?.rsqrt()?;
        Ok(Coeffs {
            c_skip: inv_norm.square()?.mul_scalar(sd2)?,
            c_out: sigma.mul(&inv_norm)?.mul_scalar(sigma_data)?,
            c_in: inv_norm,
            c_noise: sigma.log()?.mul_scalar(0.25)?,
        })
    }
}

/// D built from a network F by the preconditioning above. `sigma_data` belongs to the model:
/// save it with the weights (changing it between pretraining and DDO/R0 silently changes D).
#[derive(Clone, Debug)]
pub struct EdmPrecond<F> {
    pub net: F,
    pub sigma_data: f64,
}

impl<F: EdmNetwork> EdmPrecond<F> {
    /// Wraps `net`; σ_d must be finite and positive.
    pub fn new(net: F, sigma_data: f64) -> Result<Self> {
        if !(sigma_data.is_finite() && sigma_data > 0.0) {
            return Err(Error::invalid("EdmPrecond::new", format!("sigma_data must be > 0, got {sigma_data}")));
        }
        Ok(EdmPrecond { net, sigma_data })
    }

    /// The network's raw output F_θ(c_in·x; c_noise, c) and the coefficients it was called with.
    pub fn raw(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<(Var, Coeffs)> {
        check_sigma("EdmPrecond", x, sigma)?;
        let k = Coeffs::new(sigma, self.sigma_data)?;
        let x_in = x.mul(&per_row(&k.c_in, x.rank())?)?;
        let f = self.net.forward(&x_in, &k.c_noise, cond)?;
        if f.shape() != x.shape() {
            return Err(Error::invalid(
                "EdmPrecond",
                format!("the network returned {:?} for an input of {:?}", f.shape(), x.shape()),
            ));
        }
        Ok((f, k))
    }

    /// The training target of F at (y, σ, n): F̂ = (y − c_skip·x)/c_out with x = y + σ·n, and x.
    pub fn target(&self, y: &Var, sigma: &Var, n: &Var) -> Result<(Var, Var)> {
        check_sigma("EdmPrecond::target", y, sigma)?;
        let k = Coeffs::new(sigma, self.sigma_data)?;
        let r = y.rank();
        let x = y.add(&n.mul(&per_row(sigma, r)?)?)?;
        let f_hat = y.sub(&x.mul(&per_row(&k.c_skip, r)?)?)?.div(&per_row(&k.c_out, r)?)?;
        Ok((f_hat, x))
    }

    /// The per-sample EDM loss `[B]` (`edm.md` §3), summed over all dimensions of a sample:
    ///
    /// ```text
    /// ℓ(y; σ, n) = λ(σ)·‖D_θ(y + σn; σ) − y‖²  =  ‖F_θ(c_in·x; c_noise) − F̂‖²,   F̂ = (y − c_skip·x)/c_out
    /// ```
    ///
    /// computed in the F form (no division by a small c_out after the network). y `[B, ...]`,
    /// σ `[B]`, n shaped like y. DDO compares this loss between two networks at the same
    /// (y, σ, n); the training loss is its mean over the batch ([`super::EdmLoss`]).
    pub fn per_sample_loss(&self, y: &Var, sigma: &Var, n: &Var, cond: Option<&Cond>) -> Result<Var> {
        if n.shape() != y.shape() {
            return Err(Error::invalid(
                "per_sample_loss",
                format!("noise {:?} must be shaped like the data {:?}", n.shape(), y.shape()),
            ));
        }
        let (f_hat, x) = self.target(y, sigma, n)?;
        let (f, _) = self.raw(&x, sigma, cond)?;
        sum_per_sample(&f.sub(&f_hat)?.square()?)
    }
}

/// Σ over every dim but the first: `[B, ...]` → `[B]`.
pub(crate) fn sum_per_sample(v: &Var) -> Result<Var> {
    let dims: Vec<isize> = (1..v.rank() as isize).collect();
    if dims.is_empty() {
        return Ok(v.clone());
    }
    Ok(v.sum(&dims, false)?)
}

impl<F: EdmNetwork> Denoiser for EdmPrecond<F> {
    /// D_θ(x; σ, c) = c_skip·x + c_out·F_θ(c_in·x; c_noise, c).
    fn denoise(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<Var> {
        let (f, k) = self.raw(x, sigma, cond)?;
        let r = x.rank();
        Ok(x.mul(&per_row(&k.c_skip, r)?)?.add(&f.mul(&per_row(&k.c_out, r)?)?)?)
    }
}

impl<F: nn::Module> nn::Module for EdmPrecond<F> {
    /// The parameters are the network's, under the same names (σ_d is configuration).
    fn visit(&self, v: &mut dyn nn::Visitor) {
        self.net.visit(v)
    }
}
