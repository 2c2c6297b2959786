//! Matrix products on a GPU: `Tensor::matmul` (plain tiled kernel, f32/f64 fused multiply-adds,
//! the default) and [`matmul_with`], the opt-in tensor-core path (TF32, bf16, f16 operands with
//! f32 accumulation).
use super::{alloc, out_buf, same_gpu, typed, NnFloat};
use crate::cuda::{gpu, CudaStorage, GpuBuf};
use crate::layout::{broadcast_shapes, contiguous_strides};
use crate::{float_dispatch, DType, Error, Layout, Result, Tensor};
pub use kernels::cuda::gemm::Precision;
use kernels::cuda::gemm::{self, GemmSpec, MatLayout};

/// The batched product behind `Tensor::matmul` on a GPU. `la: [batch.., m, k]` and
/// `lb: [batch.., k, n]` are the operands' layouts already broadcast to the common batch dims
/// (`nb` of them, stride 0 where broadcast); the result is contiguous `[batch.., m, n]`.
pub fn matmul(a: &Tensor, st: &CudaStorage, b: &Tensor, la: &Layout, lb: &Layout, nb: usize) -> Result<Tensor> {
    same_gpu("matmul", a, st, b)?;
    let spec = spec(la, lb, nb).map_err(Error::Cuda)?;
    let out_shape = out_shape(la, lb, nb);
    float_dispatch!(a.dtype(), "matmul", T => product::<T>(a, st, b, &spec, &out_shape))
}

/// The sizes and operand layouts of `la @ lb` (see [`matmul`]); C is contiguous.
fn spec(la: &Layout, lb: &Layout, nb: usize) -> kernels::cuda::Result<GemmSpec> {
    let batch = &la.shape()[..nb];
    let (m, k, n) = (la.shape()[nb], la.shape()[nb + 1], lb.shape()[nb + 1]);
    let (sa, sb) = (la.strides(), lb.strides());
    let c_strides: Vec<usize> = contiguous_strides(batch).into_iter().map(|s| s * m * n).collect();
    Ok(GemmSpec {
        batch: batch.iter().product(),
        m,
        n,
        k,
        a: MatLayout::batched(batch, &sa[..nb], la.offset(), sa[nb], sa[nb + 1])?,
        b: MatLayout::batched(batch, &sb[..nb], lb.offset(), sb[nb], sb[nb + 1])?,
        c: MatLayout::batched(batch, &c_strides, 0, n, 1)?,
        accumulate: false,
    })
}

fn out_shape(la: &Layout, lb: &Layout, nb: usize) -> Vec<usize> {
    let mut shape = la.shape()[..nb].to_vec();
    shape.extend([la.shape()[nb], lb.shape()[nb + 1]]);
    shape
}

/// `C = A·B` with the plain kernel into a fresh `T` tensor.
fn product<T: NnFloat>(a: &Tensor, st: &CudaStorage, b: &Tensor, spec: &GemmSpec, shape: &[usize]) -> Result<Tensor> {
    let (ba, bb) = (typed::<T>("matmul", a)?, typed::<T>("matmul", b)?);
    let mut out = alloc::<T>(st, spec.batch * spec.m * spec.n)?;
    gemm::gemm(&st.dev, spec, ba, bb, out_buf::<T>(&mut out)).map_err(gpu)?;
    Tensor::from_cuda(out, shape)
}

/// `a.matmul(b)` on a GPU with the arithmetic `prec` picks. `Precision::F32` is exactly
/// `a.matmul(b)`. The tensor-core precisions take f32 operands (rounded to TF32, bf16 or f16 on
/// the way in) or, for `Bf16` / `F16`, tensors of that dtype directly; other half-precision
/// inputs go through f32. Products accumulate in f32; the result has the operands' dtype. f64
/// has no tensor-core path (`UnsupportedDType`).
pub fn matmul_with(a: &Tensor, b: &Tensor, prec: Precision) -> Result<Tensor> {
    const OP: &str = "matmul_with";
    if prec == Precision::F32 {
        return a.matmul(b);
    }
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch { op: OP, lhs: a.dtype(), rhs: b.dtype() });
    }
    let st = a
        .cuda_storage()
        .ok_or_else(|| Error::invalid(OP, format!("operands must be on a GPU, not {:?}", a.device())))?;
    same_gpu(OP, a, st, b)?;
    let (ra, rb) = (a.rank(), b.rank());
    if ra < 2 || rb < 2 {
        return Err(Error::invalid(
            OP,
            format!("operands must be at least 2-D, got {:?} and {:?}", a.shape(), b.shape()),
        ));
    }
    let (m, k, k2, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != k2 {
        return Err(Error::ShapeMismatch { op: OP, lhs: a.shape().to_vec(), rhs: b.shape().to_vec() });
    }
    let half = match (a.dtype(), prec) {
        (DType::F32, _) => None,
        (DType::BF16, Precision::Bf16) | (DType::F16, Precision::F16) => Some(prec),
        (DType::BF16 | DType::F16, _) => {
            let (a32, b32) = (a.to_dtype(DType::F32)?, b.to_dtype(DType::F32)?);
            return matmul_with(&a32, &b32, prec)?.to_dtype(a.dtype());
        }
        (dtype, _) => return Err(Error::UnsupportedDType { op: OP, dtype }),
    };
    let batch = broadcast_shapes(OP, &a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
    let nb = batch.len();
    let (mut full_a, mut full_b) = (batch.clone(), batch);
    full_a.extend([m, k]);
    full_b.extend([k, n]);
    let (la, lb) = (a.layout().broadcast_to(&full_a)?, b.layout().broadcast_to(&full_b)?);
    let spec = spec(&la, &lb, nb).map_err(Error::Cuda)?;
    let mut out = CudaStorage::zeros(&st.dev, DType::F32, spec.batch * m * n)?;
    let c = out_buf::<f32>(&mut out);
    let sb = b.cuda_storage().ok_or(Error::DeviceMismatch { op: OP, lhs: a.device(), rhs: b.device() })?;
    match (&st.buf, &sb.buf, half) {
        (GpuBuf::F32(x), GpuBuf::F32(y), None) => gemm::gemm_f32(&st.dev, prec, &spec, x, y, c),
        (GpuBuf::BF16(x), GpuBuf::BF16(y), Some(p)) | (GpuBuf::F16(x), GpuBuf::F16(y), Some(p)) => {
            gemm::gemm_half(&st.dev, p, &spec, x, y, c)
        }
        _ => return Err(Error::UnsupportedDType { op: OP, dtype: a.dtype() }),
    }
    .map_err(gpu)?;
    Tensor::from_cuda(out, &out_shape(&la, &lb, nb))?.to_dtype(a.dtype())
}
