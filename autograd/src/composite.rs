//! Ops built from other ops: their gradients come for free from the pieces' rules (and the
//! gradient checks cover them as compositions). Attention, losses, dropout and the
//! straight-through estimator live here.
use crate::var::Var;
use tensor::{CmpOp, DType, Error, Result, Rng, Tensor};

/// An attention mask: boolean (`U8`, 1 = may attend) or additive (added to the scores).
/// Either broadcasts against the scores `[.., L_q, L_k]`.
#[derive(Clone, Debug)]
pub enum AttnMask {
    Bool(Tensor),
    Additive(Tensor),
}

impl Var {
    /// Mean squared error `mean((self − target)²)`.
    pub fn mse(&self, target: &Var) -> Result<Var> {
        self.sub(target)?.square()?.mean_all()
    }

    /// Scaled dot-product attention: `softmax(q kᵀ / √d + mask) v`.
    /// q: `[.., L_q, d]`, k: `[.., L_k, d]`, v: `[.., L_k, d_v]` → `[.., L_q, d_v]`.
    /// `causal` lets query i see keys `0..=i` (PyTorch's `is_causal`, top-left aligned).
    pub fn scaled_dot_product_attention(
        q: &Var,
        k: &Var,
        v: &Var,
        mask: Option<&AttnMask>,
        causal: bool,
    ) -> Result<Var> {
        let d = q.dim(-1)?;
        Var::attention_with_scale(q, k, v, mask, causal, 1.0 / (d as f64).sqrt())
    }

    /// Attention with an explicit score scale: `softmax(scale · q kᵀ + mask) v` (VAR's
    /// L2-normalised q/k use a learned scale instead of `1/√d`).
    pub fn attention_with_scale(
        q: &Var,
        k: &Var,
        v: &Var,
        mask: Option<&AttnMask>,
        causal: bool,
        scale: f64,
    ) -> Result<Var> {
        let d = q.dim(-1)?;
        if k.dim(-1)? != d || k.dim(-2)? != v.dim(-2)? {
            return Err(Error::ShapeMismatch {
                op: "attention (q/k/v)",
                lhs: q.shape().to_vec(),
                rhs: k.shape().to_vec(),
            });
        }
        let mut scores = q.matmul(&k.transpose(-1, -2)?)?;
        if mask.is_none() {
            // Scale, causal mask and softmax as one op (one pass over the scores each way).
            return scores.scaled_softmax(scale, causal)?.matmul(v);
        }
        if scale != 1.0 {
            scores = scores.mul_scalar(scale)?;
        }
        // Masks are built wherever the caller likes; they follow the scores to their device.
        let device = q.value().device();
        match mask {
            Some(AttnMask::Bool(m)) => {
                let blocked = m.to_device(device)?.cmp_scalar(CmpOp::Eq, 0.0)?;
                scores = scores.masked_fill(&blocked, f64::NEG_INFINITY)?;
            }
            Some(AttnMask::Additive(m)) => {
                scores = scores.add(&Var::constant(m.to_dtype(q.dtype())?.to_device(device)?))?
            }
            None => {}
        }
        if causal {
            let (lq, lk) = (q.dim(-2)?, k.dim(-2)?);
            let rows = Tensor::arange(0.0, lq as f64, 1.0, DType::F64)?.reshape(&[lq, 1])?;
            let cols = Tensor::arange(0.0, lk as f64, 1.0, DType::F64)?.reshape(&[1, lk])?;
            scores = scores.masked_fill(&cols.cmp(CmpOp::Gt, &rows)?.to_device(device)?, f64::NEG_INFINITY)?;
        }
        scores.softmax(-1)?.matmul(v)
    }

    /// Inverted dropout: in training, zeroes each element with probability `p` and scales the
    /// rest by `1/(1−p)`; in evaluation, the identity. The mask comes from `rng` (seeded).
    pub fn dropout(&self, p: f64, train: bool, rng: &mut Rng) -> Result<Var> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::invalid("dropout", format!("p = {p} must be in [0, 1)")));
        }
        if !train || p == 0.0 {
            return Ok(self.clone());
        }
        let keep = rng.bernoulli(self.shape(), 1.0 - p, self.dtype())?.scale(1.0 / (1.0 - p))?;
        let keep = keep.to_device(self.value().device())?;
        self.mul(&Var::constant(keep))
    }

    /// Straight-through estimator: the value of `quantized`, the gradient of `self`
    /// (`x + (q − x).detach()`), as used by vector quantisers.
    pub fn straight_through(&self, quantized: &Var) -> Result<Var> {
        self.add(&quantized.sub(self)?.detach())
    }
}
