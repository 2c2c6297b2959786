//! EDM (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models"),
//! written with the paper's symbols. The spec is `design/edm.md`; DDO and R0 reuse the loss and
//! the samplers exactly as defined here.
//!
//! Data y, noise level σ, noisy sample x = y + σ·n with n ~ N(0, I). A *denoiser* D(x; σ, c)
//! estimates E[y | x] (c is an optional condition). It defines the probability-flow ODE
//! dx/dσ = (x − D(x; σ))/σ and the score ∇ₓ log p(x; σ) = (D(x; σ) − x)/σ².
//!
//! | file | what |
//! |---|---|
//! | `precond.rs` | c_skip, c_out, c_in, c_noise; [`EdmPrecond`] = D built from a network F |
//! | `loss.rs` | ln σ ~ N(P_mean, P_std²), λ(σ), [`EdmPrecond::per_sample_loss`], condition dropout |
//! | `sampler.rs` | the ρ-schedule, Euler / Heun (optionally stochastic), the η-step and η-sampler |
//! | `guidance.rs` | classifier-free guidance D_w = D(∅) + w·(D(c) − D(∅)) with a σ interval |
//! | `gmm.rs` | the exact denoiser of a Gaussian mixture (the test oracle, no training) |
//!
//! Two traits separate the two levels of the model. An [`EdmNetwork`] is the raw network F
//! (an MLP, a U-Net) that sees c_in·x and c_noise; a [`Denoiser`] is the full D(x; σ, c) that
//! samplers and metrics call. [`EdmPrecond`] turns the first into the second, and the exact
//! mixture denoiser is a `Denoiser` directly, so every sampler runs on either.
//!
//! All functions work on [`Var`]s: inside `autograd::no_grad` they only compute values (sampling,
//! evaluation); outside it they record the graph, so R0 can backpropagate through a few sampler
//! steps.
mod gmm;
mod guidance;
mod loss;
mod precond;
mod sampler;

pub use gmm::ExactGmmDenoiser;
pub use guidance::{CountEvals, Guidance, Guided};
pub use loss::{
    lambda, sanitize_grads, weighted_denoising_loss, CondDropout, EdmLoss, LossBuckets, LossOutput, P_MEAN, P_STD,
};
pub use precond::{c_in, c_noise, c_out, c_skip, Coeffs, EdmPrecond, SIGMA_DATA};
pub use sampler::{
    eta_sample, eta_sigmas, eta_step, generate, sigma_schedule, solve, Churn, Eta, SamplerConfig, Solver, RHO,
    SIGMA_MAX, SIGMA_MIN,
};

use crate::error::{Error, Result};
use autograd::Var;
use tensor::{DType, Tensor};

/// The condition c of a conditional model, one row per sample. Models pick the variants they
/// understand and reject the others with an error.
#[derive(Clone, Debug)]
pub enum Cond {
    /// Class ids `[B]` (`I64`). A model reserves one id for the null class (CFG's ∅).
    Class(Tensor),
    /// Token ids `[B, L]` (`I64`) for a text encoder that lives inside the model and is trained
    /// jointly with it (the empty prompt's tokens are the null condition).
    Tokens(Tensor),
    /// A precomputed, possibly differentiable embedding `[B, ...]`: a pooled text vector
    /// `[B, E]` or a token sequence `[B, L, E]` (a zero vector or a learned NULL is ∅).
    Embedding(Var),
}

impl Cond {
    /// Number of rows B.
    pub fn batch(&self) -> usize {
        let shape = match self {
            Cond::Class(t) | Cond::Tokens(t) => t.shape(),
            Cond::Embedding(v) => v.shape(),
        };
        shape.first().copied().unwrap_or(0)
    }

    fn kind(&self) -> &'static str {
        match self {
            Cond::Class(_) => "Class",
            Cond::Tokens(_) => "Tokens",
            Cond::Embedding(_) => "Embedding",
        }
    }

    /// A one-row condition (such as the null condition) repeated to `b` rows.
    pub fn repeat_rows(&self, b: usize) -> Result<Cond> {
        if self.batch() != 1 {
            return Err(Error::invalid("Cond::repeat_rows", format!("need a single row, got {}", self.batch())));
        }
        let rep = |t: &Tensor| -> Result<Tensor> {
            let mut shape = t.shape().to_vec();
            shape[0] = b;
            Ok(t.broadcast_to(&shape)?.contiguous()?)
        };
        Ok(match self {
            Cond::Class(t) => Cond::Class(rep(t)?),
            Cond::Tokens(t) => Cond::Tokens(rep(t)?),
            Cond::Embedding(v) => {
                let mut shape = v.shape().to_vec();
                shape[0] = b;
                Cond::Embedding(v.broadcast_to(&shape)?.contiguous()?)
            }
        })
    }

    /// Rows `start..start + len`.
    pub fn rows(&self, start: usize, len: usize) -> Result<Cond> {
        if start + len > self.batch() {
            return Err(Error::invalid("Cond::rows", format!("rows {start}..{} of {}", start + len, self.batch())));
        }
        Ok(match self {
            Cond::Class(t) => Cond::Class(t.narrow(0, start, len)?.contiguous()?),
            Cond::Tokens(t) => Cond::Tokens(t.narrow(0, start, len)?.contiguous()?),
            Cond::Embedding(v) => Cond::Embedding(v.narrow(0, start, len)?),
        })
    }

    /// The rows of `self` followed by the rows of `other` (same variant).
    pub fn cat(&self, other: &Cond) -> Result<Cond> {
        Ok(match (self, other) {
            (Cond::Class(a), Cond::Class(b)) => Cond::Class(Tensor::cat(&[a, b], 0)?),
            (Cond::Tokens(a), Cond::Tokens(b)) => Cond::Tokens(Tensor::cat(&[a, b], 0)?),
            (Cond::Embedding(a), Cond::Embedding(b)) => Cond::Embedding(Var::cat(&[a, b], 0)?),
            (a, b) => {
                return Err(Error::invalid("Cond::cat", format!("cannot join {} and {} rows", a.kind(), b.kind())))
            }
        })
    }

    /// Row i is `replacement`'s row (its only row, when it has one) where `mask[i]`, else ours.
    /// Condition dropout uses it with the null condition.
    pub fn where_rows(&self, mask: &[bool], replacement: &Cond) -> Result<Cond> {
        let b = self.batch();
        if mask.len() != b || !(replacement.batch() == 1 || replacement.batch() == b) {
            return Err(Error::invalid(
                "Cond::where_rows",
                format!("{b} rows, a mask of {} and a replacement of {} rows", mask.len(), replacement.batch()),
            ));
        }
        let rep = if replacement.batch() == 1 { replacement.repeat_rows(b)? } else { replacement.clone() };
        // A U8 mask shaped [B, 1, ...] that broadcasts over the row.
        let mask_like = |rank: usize| -> Result<Tensor> {
            let mut shape = vec![1; rank.max(1)];
            shape[0] = b;
            let m: Vec<u8> = mask.iter().map(|&m| m as u8).collect();
            Ok(Tensor::from_vec(m, &shape)?)
        };
        Ok(match (self, &rep) {
            (Cond::Class(a), Cond::Class(r)) => Cond::Class(Tensor::where_cond(&mask_like(a.rank())?, r, a)?),
            (Cond::Tokens(a), Cond::Tokens(r)) => Cond::Tokens(Tensor::where_cond(&mask_like(a.rank())?, r, a)?),
            (Cond::Embedding(a), Cond::Embedding(r)) => Cond::Embedding(Var::where_cond(&mask_like(a.rank())?, r, a)?),
            (a, r) => {
                return Err(Error::invalid(
                    "Cond::where_rows",
                    format!("cannot mix {} and {} rows", a.kind(), r.kind()),
                ))
            }
        })
    }
}

/// The raw network F_θ of EDM's preconditioning (`edm.md` §2): it sees the scaled input
/// c_in(σ)·x `[B, ...]`, the noise label c_noise(σ) = ¼ ln σ `[B]` and the condition, and
/// returns a tensor shaped like its input. Implemented by the MLP denoiser for 2-D toys and, later,
/// the U-Net; wrap it in [`EdmPrecond`] to get a [`Denoiser`].
pub trait EdmNetwork {
    fn forward(&self, x_in: &Var, c_noise: &Var, cond: Option<&Cond>) -> Result<Var>;
}

/// A denoiser D(x; σ, c) ≈ E[y | x = y + σn, c]: x `[B, ...]`, σ `[B]` (same dtype as x, > 0),
/// the result shaped like x. Every sampler, loss and metric here takes one.
pub trait Denoiser {
    fn denoise(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<Var>;
}

impl<D: Denoiser + ?Sized> Denoiser for &D {
    fn denoise(&self, x: &Var, sigma: &Var, cond: Option<&Cond>) -> Result<Var> {
        (**self).denoise(x, sigma, cond)
    }
}

/// `v` `[B]` (or a scalar) reshaped to `[B, 1, ..., 1]` so that it broadcasts over the rows of a
/// tensor of rank `rank`.
pub(crate) fn per_row(v: &Var, rank: usize) -> Result<Var> {
    match v.rank() {
        0 => Ok(v.clone()),
        1 => {
            let mut shape = vec![1; rank.max(1)];
            shape[0] = v.shape()[0];
            Ok(v.reshape(&shape)?)
        }
        _ => Err(Error::invalid("per_row", format!("expected a scalar or a [B] vector, got shape {:?}", v.shape()))),
    }
}

/// Checks that σ is `[B]` for an x of `[B, ...]` with the same dtype.
pub(crate) fn check_sigma(op: &'static str, x: &Var, sigma: &Var) -> Result<()> {
    let b = x.shape().first().copied().unwrap_or(0);
    if x.rank() < 1 || sigma.shape() != [b] {
        return Err(Error::invalid(
            op,
            format!("x {:?} needs sigma of shape [{b}], got {:?}", x.shape(), sigma.shape()),
        ));
    }
    if sigma.dtype() != x.dtype() {
        return Err(Error::invalid(op, format!("x is {:?} but sigma is {:?}", x.dtype(), sigma.dtype())));
    }
    Ok(())
}

/// A constant σ `[b]` filled with `sigma` (what samplers pass at one noise level).
pub fn sigma_full(b: usize, sigma: f64, dtype: DType) -> Result<Var> {
    Ok(Var::constant(Tensor::try_full(&[b], sigma, dtype)?))
}
