//! Copies, casts and fills on a GPU: `contiguous()`/`copy()`, `to_dtype()`, `full`/`zeros` on a
//! device, and the host↔device moves behind `to_device()`.
use super::{gpu, strided, CudaStorage, GpuBuf};
use crate::{DType, Result, Tensor};
use kernels::cuda::{copy, GpuDevice};
use std::sync::Arc;

/// A contiguous copy of a GPU tensor (any layout, any dtype).
pub fn copy_contiguous(t: &Tensor, st: &CudaStorage) -> Result<Tensor> {
    Tensor::from_cuda(copy_storage(t, st)?, t.shape())
}

/// The logical elements of a GPU tensor in a fresh contiguous buffer.
fn copy_storage(t: &Tensor, st: &CudaStorage) -> Result<CudaStorage> {
    let (dev, n) = (&st.dev, t.elem_count());
    let l = strided(t.layout())?;
    // The copy kernel writes all n elements.
    let mut out = CudaStorage::for_overwrite(dev, t.dtype(), n)?;
    match (&st.buf, &mut out.buf) {
        (GpuBuf::U8(s), GpuBuf::U8(d)) => copy::copy_strided(dev, s, &l, d, n),
        (GpuBuf::I64(s), GpuBuf::I64(d)) => copy::copy_strided(dev, s, &l, d, n),
        (GpuBuf::F16(s), GpuBuf::F16(d)) | (GpuBuf::BF16(s), GpuBuf::BF16(d)) => copy::copy_strided(dev, s, &l, d, n),
        (GpuBuf::F32(s), GpuBuf::F32(d)) => copy::copy_strided(dev, s, &l, d, n),
        (GpuBuf::F64(s), GpuBuf::F64(d)) => copy::copy_strided(dev, s, &l, d, n),
        _ => unreachable!("for_overwrite() allocates the source's dtype"),
    }
    .map_err(gpu)?;
    Ok(out)
}

/// `t` cast to `dtype`, contiguous: every value goes through f64 exactly as the CPU's `to_dtype`
/// does (saturating integer casts, the `half` crate's rounding), so both give the same bits.
pub fn cast(t: &Tensor, st: &CudaStorage, dtype: DType) -> Result<Tensor> {
    let (dev, n) = (&st.dev, t.elem_count());
    let l = strided(t.layout())?;
    let mut out = CudaStorage::for_overwrite(dev, dtype, n)?;
    let (from, to) = (t.dtype().as_str(), dtype.as_str());
    crate::with_gpu_buf!(&st.buf, s => crate::with_gpu_buf!(&mut out.buf, d => copy::cast(dev, from, to, s, &l, d, n)))
        .map_err(gpu)?;
    Tensor::from_cuda(out, t.shape())
}

/// A tensor of `shape` filled with `v` on `dev`.
pub fn full(dev: &Arc<GpuDevice>, shape: &[usize], v: f64, dtype: DType) -> Result<Tensor> {
    let n = crate::layout::checked_elem_count("full", shape)?;
    let mut out = CudaStorage::zeros(dev, dtype, n)?;
    // +0.0 is what the allocation already holds (-0.0 is not).
    if v.to_bits() != 0 {
        match &mut out.buf {
            GpuBuf::U8(d) => copy::fill(dev, d, v as u8, n),
            GpuBuf::I64(d) => copy::fill(dev, d, v as i64, n),
            GpuBuf::F16(d) => copy::fill(dev, d, half::f16::from_f64(v).to_bits(), n),
            GpuBuf::BF16(d) => copy::fill(dev, d, half::bf16::from_f64(v).to_bits(), n),
            GpuBuf::F32(d) => copy::fill(dev, d, v as f32, n),
            GpuBuf::F64(d) => copy::fill(dev, d, v, n),
        }
        .map_err(gpu)?;
    }
    Tensor::from_cuda(out, shape)
}

/// `t` on `Device::Cuda(ordinal)`: uploads the logical elements (contiguous) of a CPU tensor,
/// or copies between GPUs through the host.
pub fn to_gpu(t: &Tensor, ordinal: usize) -> Result<Tensor> {
    let dev = super::device(ordinal)?;
    let host = t.to_device(crate::Device::Cpu)?.contiguous()?;
    let st = CudaStorage::from_cpu(&dev, &host.into_cpu_storage()?)?;
    Tensor::from_cuda(st, t.shape())
}

/// A GPU tensor's logical elements on the host.
pub fn to_host(t: &Tensor, st: &CudaStorage) -> Result<Tensor> {
    if t.elem_count() == 0 {
        return Tensor::try_full(t.shape(), 0.0, t.dtype());
    }
    let host = if t.is_contiguous() && t.layout().offset() == 0 && st.len() == t.elem_count() {
        st.to_cpu()?
    } else {
        copy_storage(t, st)?.to_cpu()?
    };
    Tensor::from_cpu(host, t.shape())
}
