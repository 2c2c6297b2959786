//! Attention's score softmax as one op: `softmax(scale · scores)` over the last dim, optionally
//! with a causal mask, instead of a scale, a masked fill and a softmax that each read and write
//! the whole `[.., L_q, L_k]` score tensor (and build the mask) in the forward and again in the
//! backward. On the CPU it runs the fused kernel; elsewhere it is those three ops (same values).
use crate::{float_dispatch, CmpOp, DType, Device, Error, Result, Tensor};

impl Tensor {
    /// `softmax(scale · self)` over the last dim. With `causal`, `self` is `[.., L_q, L_k]` and
    /// query `i` sees only keys `j ≤ i` (PyTorch's `is_causal`, top-left aligned): the others
    /// count as `−∞` and get probability 0. The same bits as `self.scale(scale)`, a `masked_fill`
    /// with `−∞` and `softmax(-1)`.
    pub fn scaled_softmax(&self, scale: f64, causal: bool) -> Result<Tensor> {
        let (rows, d, lq) = score_rows("scaled_softmax", self.shape(), causal)?;
        if self.device() != Device::Cpu {
            let mut s = self.scale(scale)?;
            if causal {
                s = s.masked_fill(&causal_mask(self.shape(), self.device())?, f64::NEG_INFINITY)?;
            }
            return s.softmax(-1);
        }
        self.via_f32(|x| {
            let x = x.contiguous()?;
            float_dispatch!(x.dtype(), "scaled_softmax", T => {
                let mut y = vec![T::default(); rows * d];
                let s = <T as kernels::Real>::from_f64(scale);
                kernels::softmax::scaled_softmax_rows(&x.cpu_data::<T>()?, (rows, d), s, lq, &mut y);
                Tensor::from_vec(y, x.shape())
            })
        })
    }

    /// Backward of [`Tensor::scaled_softmax`] given its output `y`:
    /// `dx = scale · y · (dy − Σ_last dy·y)`, exactly 0 at the masked keys.
    pub fn scaled_softmax_backward(y: &Tensor, dy: &Tensor, scale: f64, causal: bool) -> Result<Tensor> {
        if y.shape() != dy.shape() {
            return Err(Error::ShapeMismatch {
                op: "scaled_softmax_backward",
                lhs: y.shape().to_vec(),
                rhs: dy.shape().to_vec(),
            });
        }
        let (rows, d, lq) = score_rows("scaled_softmax_backward", y.shape(), causal)?;
        if y.device() != Device::Cpu {
            let g = Tensor::softmax_backward(y, dy, -1, false)?;
            let g = if causal { g.masked_fill(&causal_mask(y.shape(), y.device())?, 0.0)? } else { g };
            return g.scale(scale);
        }
        y.via_f32(|y| {
            let (y, dy) = (y.contiguous()?, dy.to_dtype(y.dtype())?.contiguous()?);
            float_dispatch!(y.dtype(), "scaled_softmax_backward", T => {
                let mut dx = vec![T::default(); rows * d];
                let s = <T as kernels::Real>::from_f64(scale);
                let (yv, gv) = (y.cpu_data::<T>()?, dy.cpu_data::<T>()?);
                kernels::softmax::scaled_softmax_rows_backward((&yv, &gv), (rows, d), s, lq, &mut dx);
                Tensor::from_vec(dx, y.shape())
            })
        })
    }
}

/// `(rows, L_k, Some(L_q) when causal)` of a score tensor `[.., L_q, L_k]`; a causal mask needs
/// at least two dims.
fn score_rows(op: &'static str, shape: &[usize], causal: bool) -> Result<(usize, usize, Option<usize>)> {
    let rank = shape.len();
    if rank == 0 || (causal && rank < 2) {
        return Err(Error::invalid(
            op,
            format!("scores of shape {shape:?}: need [.., L_q, L_k] (rank ≥ 2 when causal)"),
        ));
    }
    let d = shape[rank - 1];
    let rows = shape[..rank - 1].iter().product();
    Ok((rows, d, causal.then(|| shape[rank - 2])))
}

/// `U8 [L_q, L_k]`: 1 where key `j > i` (blocked by a causal mask).
fn causal_mask(shape: &[usize], device: Device) -> Result<Tensor> {
    let (lq, lk) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let rows = Tensor::arange(0.0, lq as f64, 1.0, DType::F64)?.reshape(&[lq, 1])?;
    let cols = Tensor::arange(0.0, lk as f64, 1.0, DType::F64)?.reshape(&[1, lk])?;
    cols.cmp(CmpOp::Gt, &rows)?.to_device(device)
}
