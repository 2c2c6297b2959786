//! Reductions on `Var`s. Every rule first broadcasts the output gradient back over the reduced
//! axes (`expand_back`), then weights it: 1 for sum, 1/n for mean, the one-hot arg mask for
//! max/min, softmax for logsumexp, x/‖x‖ for the norm, 2(x − mean)/(n − ddof) for the variance.
use crate::backward::Ctx;
use crate::op::Op;
use crate::var::Var;
use tensor::layout::resolve_dim;
use tensor::{ReduceOp, Result, Tensor};

/// The reduced dims as a sorted list of non-negative indices (empty input = all dims).
fn resolve_dims(dims: &[isize], rank: usize) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..rank).collect());
    }
    let mut d: Vec<usize> = dims.iter().map(|&d| resolve_dim("reduce", d, rank)).collect::<Result<_>>()?;
    d.sort_unstable();
    d.dedup();
    Ok(d)
}

/// Reshapes a reduced gradient to keepdim form and broadcasts it to the input shape.
fn expand_back(g: &Tensor, dims: &[isize], x_shape: &[usize]) -> Result<Tensor> {
    let mut keep = x_shape.to_vec();
    for d in resolve_dims(dims, x_shape.len())? {
        keep[d] = 1;
    }
    g.reshape(&keep)?.broadcast_to(x_shape)
}

impl Var {
    /// Reduces over `dims` (empty = all).
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Result<Var> {
        let y = self.value().reduce(op, dims, keepdim)?;
        Ok(Var::from_op(y, Op::Reduce { op, dims: dims.to_vec(), keepdim }, vec![self.clone()]))
    }
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Sum, dims, keepdim)
    }
    pub fn sum_all(&self) -> Result<Var> {
        self.reduce(ReduceOp::Sum, &[], false)
    }
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Mean, dims, keepdim)
    }
    pub fn mean_all(&self) -> Result<Var> {
        self.reduce(ReduceOp::Mean, &[], false)
    }
    /// Max over `dims`; the gradient goes to the (first) arg max.
    pub fn max(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Max, dims, keepdim)
    }
    pub fn min(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Min, dims, keepdim)
    }
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::LogSumExp, dims, keepdim)
    }
    /// Euclidean (L2) norm over `dims`.
    pub fn norm(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Norm2, dims, keepdim)
    }
    /// Variance over `dims`; `unbiased` divides by n − 1.
    pub fn var(&self, dims: &[isize], unbiased: bool, keepdim: bool) -> Result<Var> {
        let y = self.value().var(dims, unbiased, keepdim)?;
        Ok(Var::from_op(y, Op::Variance { dims: dims.to_vec(), unbiased, keepdim }, vec![self.clone()]))
    }
    /// Indices of the max along `dim` (`I64`; not differentiable).
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.value().argmax(dim, keepdim)
    }
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.value().argmin(dim, keepdim)
    }
}

// x: [*], y: reduced, dy: like y  →  dx: like x
pub(crate) fn reduce_backward(
    op: ReduceOp,
    dims: &[isize],
    _keepdim: bool,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let x = c.x(0);
    let ge = expand_back(g, dims, x.shape())?;
    let ye = || expand_back(c.out, dims, x.shape());
    let dx = match op {
        ReduceOp::Sum => ge.contiguous()?,
        ReduceOp::Mean => ge.scale(1.0 / x.reduced_count(dims)? as f64)?,
        ReduceOp::Max => ge.mul(&x.arg_mask(dims, true)?)?,
        ReduceOp::Min => ge.mul(&x.arg_mask(dims, false)?)?,
        // d/dx log Σ exp(x) = exp(x − lse) = softmax(x)
        ReduceOp::LogSumExp => ge.mul(&x.sub(&ye()?)?.exp()?)?,
        // d/dx ‖x‖ = x / ‖x‖ (0 at the origin)
        ReduceOp::Norm2 => {
            let n = ye()?;
            let safe = Tensor::where_cond(
                &n.cmp_scalar(tensor::CmpOp::Eq, 0.0)?,
                &Tensor::full_on(&[], 1.0, n.dtype(), n.device())?,
                &n,
            )?;
            ge.mul(&x.div(&safe)?)?
        }
    };
    Ok(vec![Some(dx)])
}

// d var / dx = 2 (x − mean) / (n − ddof)
pub(crate) fn variance_backward(
    dims: &[isize],
    unbiased: bool,
    _keepdim: bool,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let x = c.x(0);
    let n = x.reduced_count(dims)?;
    let denom = if unbiased { n.saturating_sub(1) } else { n } as f64;
    let centred = x.sub(&x.mean(dims, true)?)?;
    let dx = expand_back(g, dims, x.shape())?.mul(&centred)?.scale(2.0 / denom)?;
    Ok(vec![Some(dx)])
}
