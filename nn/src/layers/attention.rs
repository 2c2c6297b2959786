//! Multi-head attention, self or cross, with boolean / additive / causal masks and optional
//! L2-normalised queries and keys with a learned per-head scale (as VAR uses).
use crate::layers::Linear;
use crate::module::{visit_child, Module, Visitor};
use crate::param::Param;
use autograd::{AttnMask, Var};
use tensor::{Error, Result, Rng, Tensor};

#[derive(Clone, Debug)]
pub struct MultiHeadAttention {
    pub heads: usize,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    /// `[1, heads, 1, 1]` log of the score scale when q/k are L2-normalised (VAR: init ln 4,
    /// clamped at ln 100).
    pub qk_log_scale: Option<Param>,
}

impl MultiHeadAttention {
    /// `dim` must divide by `heads`; `context_dim` is the key/value input width for
    /// cross-attention (`None` = self-attention).
    pub fn new(dim: usize, heads: usize, context_dim: Option<usize>, qk_norm: bool, rng: &mut Rng) -> Result<Self> {
        if heads == 0 || !dim.is_multiple_of(heads) {
            return Err(Error::invalid("MultiHeadAttention", format!("{heads} heads do not divide width {dim}")));
        }
        let c = context_dim.unwrap_or(dim);
        let qk_log_scale = if qk_norm {
            Some(Param::new(Tensor::full(&[1, heads, 1, 1], 4f64.ln(), tensor::DType::F32)))
        } else {
            None
        };
        Ok(MultiHeadAttention {
            heads,
            q: Linear::new(dim, dim, true, rng)?,
            k: Linear::new(c, dim, true, rng)?,
            v: Linear::new(c, dim, true, rng)?,
            out: Linear::new(dim, dim, true, rng)?,
            qk_log_scale,
        })
    }

    /// `[B, L, D]` → `[B, H, L, D/H]`
    fn split_heads(&self, x: &Var) -> Result<Var> {
        let (b, l, d) = (x.dim(0)?, x.dim(1)?, x.dim(2)?);
        x.reshape(&[b, l, self.heads, d / self.heads])?.transpose(1, 2)
    }

    /// x: `[B, L_q, D]`, context: `[B, L_k, D_c]` (defaults to x) → `[B, L_q, D]`.
    /// Masks broadcast against the scores `[B, H, L_q, L_k]`.
    pub fn forward(&self, x: &Var, context: Option<&Var>, mask: Option<&AttnMask>, causal: bool) -> Result<Var> {
        if x.rank() != 3 {
            return Err(Error::invalid("MultiHeadAttention", format!("expected [B, L, D], got {:?}", x.shape())));
        }
        let ctx = context.unwrap_or(x);
        let q = self.split_heads(&self.q.forward(x)?)?;
        let k = self.split_heads(&self.k.forward(ctx)?)?;
        let v = self.split_heads(&self.v.forward(ctx)?)?;
        let o = match &self.qk_log_scale {
            Some(log_scale) => {
                // q̂ = q/‖q‖ · exp(min(s, ln 100)), k̂ = k/‖k‖: scores are scaled cosines.
                let scale = log_scale.var().clamp(f64::NEG_INFINITY, 100f64.ln())?.exp()?;
                let q = l2_normalize(&q)?.mul(&scale)?;
                Var::attention_with_scale(&q, &l2_normalize(&k)?, &v, mask, causal, 1.0)?
            }
            None => Var::scaled_dot_product_attention(&q, &k, &v, mask, causal)?,
        };
        // [B, H, L, dh] → [B, L, D]
        let (b, l) = (o.dim(0)?, o.dim(2)?);
        self.out.forward(&o.transpose(1, 2)?.reshape(&[b, l, self.out.d_in()])?)
    }
}

/// `x / max(‖x‖, 1e-12)` over the last dim.
pub fn l2_normalize(x: &Var) -> Result<Var> {
    x.div(&x.norm(&[-1], true)?.clamp(1e-12, f64::INFINITY)?)
}

impl Module for MultiHeadAttention {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "q", &self.q);
        visit_child(v, "k", &self.k);
        visit_child(v, "v", &self.v);
        visit_child(v, "out", &self.out);
        if let Some(s) = &self.qk_log_scale {
            v.param("qk_log_scale", s);
        }
    }
}
