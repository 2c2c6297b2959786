//! Softmax and log-softmax on a GPU over contiguous rows (`along_dim` in `ops_nn.rs` has already
//! moved the reduced dim last), forward and backward; one block per row, fixed reduction order.
use super::{alloc, dense_view, out_buf, same_gpu};
use crate::cuda::{gpu, CudaStorage};
use crate::{float_dispatch, Error, Result, Tensor};
use kernels::cuda::softmax;

/// `softmax` (or `log_softmax` when `log`) of each of the `rows` rows of length `d` of the
/// contiguous f32/f64 tensor `x`.
pub fn softmax_rows(x: &Tensor, st: &CudaStorage, rows: usize, d: usize, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    let x = x.contiguous()?;
    float_dispatch!(x.dtype(), op, T => {
        let mut y = alloc::<T>(st, rows * d)?;
        softmax::softmax_rows(&st.dev, &dense_view::<T>(op, &x)?, out_buf::<T>(&mut y), rows, d, log).map_err(gpu)?;
        Tensor::from_cuda(y, x.shape())
    })
}

/// Backward of softmax / log-softmax from the forward output `y` and the gradient `dy`, both
/// `[rows, d]` row-major (same shape).
pub fn softmax_rows_backward(
    y: &Tensor,
    st: &CudaStorage,
    dy: &Tensor,
    rows: usize,
    d: usize,
    log: bool,
) -> Result<Tensor> {
    const OP: &str = "softmax_backward";
    same_gpu(OP, y, st, dy)?;
    if y.dtype() != dy.dtype() {
        return Err(Error::DTypeMismatch { op: OP, lhs: y.dtype(), rhs: dy.dtype() });
    }
    let (y, dy) = (y.contiguous()?, dy.contiguous()?);
    float_dispatch!(y.dtype(), OP, T => {
        let mut dx = alloc::<T>(st, rows * d)?;
        let (yv, gv) = (dense_view::<T>(OP, &y)?, dense_view::<T>(OP, &dy)?);
        softmax::softmax_rows_backward(&st.dev, &yv, &gv, out_buf::<T>(&mut dx), rows, d, log).map_err(gpu)?;
        Tensor::from_cuda(dx, y.shape())
    })
}
