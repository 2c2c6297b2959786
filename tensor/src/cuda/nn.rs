//! The network ops of `ops_nn.rs` on a GPU: matmul (plain tiled GEMM with a deterministic
//! split-K for deep products, tensor cores on request), convolution by im2col + GEMM, pooling
//! (resize is matmuls with host-built matrices), softmax. Like the CPU side they compute in f32 or f64;
//! the hooks in `ops_nn.rs` convert half-precision tensors first, exactly where the CPU does.
pub mod conv;
pub mod matmul;
pub mod pool;
pub mod softmax;

use super::{CudaStorage, GpuBufElem};
use crate::{Error, Result, Tensor};
use kernels::cuda::cudarc::driver::{CudaSlice, CudaView};
use kernels::cuda::gemm::Float;

/// The element types the kernels compute in (f32, f64), with typed access to a device buffer.
pub(crate) trait NnFloat: Float + kernels::cuda::copy::Bits + GpuBufElem {}
impl<T: Float + kernels::cuda::copy::Bits + GpuBufElem> NnFloat for T {}

/// `b`'s GPU storage when `b` lives on the same GPU as `a` (whose storage is `st`).
pub(crate) fn same_gpu<'t>(op: &'static str, a: &Tensor, st: &CudaStorage, b: &'t Tensor) -> Result<&'t CudaStorage> {
    match b.cuda_storage() {
        Some(sb) if sb.ordinal() == st.ordinal() => Ok(sb),
        _ => Err(Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() }),
    }
}

/// `t`'s typed buffer (`T` must be its dtype).
pub(crate) fn typed<'t, T: NnFloat>(op: &'static str, t: &'t Tensor) -> Result<&'t CudaSlice<T>> {
    t.cuda_storage().and_then(|s| T::buf(&s.buf)).ok_or(Error::DTypeMismatch { op, lhs: t.dtype(), rhs: T::DTYPE })
}

/// The elements of a contiguous GPU tensor `t` (offset included), as a device view.
pub(crate) fn dense_view<'t, T: NnFloat>(op: &'static str, t: &'t Tensor) -> Result<CudaView<'t, T>> {
    debug_assert!(t.is_contiguous(), "{op}: dense_view of a strided tensor");
    let off = t.layout().offset();
    Ok(typed::<T>(op, t)?.slice(off..off + t.elem_count()))
}

/// A fresh zeroed `T` buffer of `n` elements on `st`'s device.
pub(crate) fn alloc<T: NnFloat>(st: &CudaStorage, n: usize) -> Result<CudaStorage> {
    CudaStorage::zeros(&st.dev, T::DTYPE, n)
}

/// The typed buffer inside a storage made by [`alloc`].
pub(crate) fn out_buf<T: NnFloat>(s: &mut CudaStorage) -> &mut CudaSlice<T> {
    T::buf_mut(&mut s.buf).expect("alloc::<T> makes a T buffer")
}
