//! Tensors on a GPU (feature `cuda`): the device buffer behind `Storage::Cuda`, host↔device
//! copies, and the CUDA side of the ops (one file per op family, like the CPU side). Every op
//! enqueues on the device's one stream; host copies synchronise.
//!
//! f16 and bf16 live in `u16` buffers (their bits), so no half-precision type crosses into the
//! CUDA bindings. Like on the CPU, float kernels compute in f32/f64 and half-precision tensors
//! go through f32 ([`Tensor::via_f32`]).
pub mod copy;
pub mod elementwise;
pub mod index;
pub mod nn;
pub mod norm;
pub mod optim;
pub mod reduce;
pub mod rng;

use crate::{CpuStorage, DType, Error, Layout, Result, Storage, Tensor};
use kernels::cuda::{CudaSlice, GpuDevice, StridedLayout};
use std::sync::Arc;

/// A typed device buffer.
pub enum GpuBuf {
    U8(CudaSlice<u8>),
    I64(CudaSlice<i64>),
    F16(CudaSlice<u16>),
    BF16(CudaSlice<u16>),
    F32(CudaSlice<f32>),
    F64(CudaSlice<f64>),
}

/// Calls `$body` with `$v` bound to the typed `CudaSlice` inside a `GpuBuf`, whatever its dtype.
#[macro_export]
macro_rules! with_gpu_buf {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::cuda::GpuBuf::U8($v) => $body,
            $crate::cuda::GpuBuf::I64($v) => $body,
            $crate::cuda::GpuBuf::F16($v) => $body,
            $crate::cuda::GpuBuf::BF16($v) => $body,
            $crate::cuda::GpuBuf::F32($v) => $body,
            $crate::cuda::GpuBuf::F64($v) => $body,
        }
    };
}

/// An element type with a `GpuBuf` variant of its own (u8, i64, f32, f64; f16 and bf16 share
/// `u16` and are reached through their variants directly): typed access to a device buffer.
pub(crate) trait GpuBufElem: Sized {
    const DTYPE: DType;
    fn buf(b: &GpuBuf) -> Option<&CudaSlice<Self>>;
    fn buf_mut(b: &mut GpuBuf) -> Option<&mut CudaSlice<Self>>;
    fn wrap(s: CudaSlice<Self>) -> GpuBuf;
}
macro_rules! gpu_buf_elem {
    ($t:ty, $d:ident) => {
        impl GpuBufElem for $t {
            const DTYPE: DType = DType::$d;
            fn buf(b: &GpuBuf) -> Option<&CudaSlice<Self>> {
                match b {
                    GpuBuf::$d(v) => Some(v),
                    _ => None,
                }
            }
            fn buf_mut(b: &mut GpuBuf) -> Option<&mut CudaSlice<Self>> {
                match b {
                    GpuBuf::$d(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(s: CudaSlice<Self>) -> GpuBuf {
                GpuBuf::$d(s)
            }
        }
    };
}
gpu_buf_elem!(u8, U8);
gpu_buf_elem!(i64, I64);
gpu_buf_elem!(f32, F32);
gpu_buf_elem!(f64, F64);

/// The storage of a tensor on a GPU: the buffer and the device (context + stream) it lives on.
pub struct CudaStorage {
    pub dev: Arc<GpuDevice>,
    pub buf: GpuBuf,
}

impl std::fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaStorage({:?}, {:?}, {} elements)", self.dev, self.dtype(), self.len())
    }
}

impl CudaStorage {
    pub fn dtype(&self) -> DType {
        match self.buf {
            GpuBuf::U8(_) => DType::U8,
            GpuBuf::I64(_) => DType::I64,
            GpuBuf::F16(_) => DType::F16,
            GpuBuf::BF16(_) => DType::BF16,
            GpuBuf::F32(_) => DType::F32,
            GpuBuf::F64(_) => DType::F64,
        }
    }
    pub fn len(&self) -> usize {
        with_gpu_buf!(&self.buf, v => v.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn ordinal(&self) -> usize {
        self.dev.ordinal()
    }
    /// A zero-filled buffer of `n` elements on `dev`. An empty tensor still gets one element:
    /// the driver refuses zero-byte allocations, and no kernel reads past a view's elements.
    pub fn zeros(dev: &Arc<GpuDevice>, dtype: DType, n: usize) -> Result<CudaStorage> {
        Self::alloc(dev, dtype, n, true)
    }
    /// A buffer of `n` elements (at least one) with unspecified contents, for a kernel that writes
    /// every element ([`kernels::cuda::alloc_for_overwrite`]).
    pub fn for_overwrite(dev: &Arc<GpuDevice>, dtype: DType, n: usize) -> Result<CudaStorage> {
        Self::alloc(dev, dtype, n, false)
    }
    fn alloc(dev: &Arc<GpuDevice>, dtype: DType, n: usize, zeroed: bool) -> Result<CudaStorage> {
        let s = dev.stream();
        macro_rules! buf {
            ($v:ident) => {
                GpuBuf::$v(if zeroed {
                    s.alloc_zeros(n.max(1)).map_err(gpu)?
                } else {
                    kernels::cuda::alloc_for_overwrite(s, n).map_err(gpu)?
                })
            };
        }
        let buf = match dtype {
            DType::U8 => buf!(U8),
            DType::I64 => buf!(I64),
            DType::F16 => buf!(F16),
            DType::BF16 => buf!(BF16),
            DType::F32 => buf!(F32),
            DType::F64 => buf!(F64),
        };
        Ok(CudaStorage { dev: dev.clone(), buf })
    }
    /// Copies a host buffer to `dev`.
    pub fn from_cpu(dev: &Arc<GpuDevice>, st: &CpuStorage) -> Result<CudaStorage> {
        if st.is_empty() {
            return CudaStorage::zeros(dev, st.dtype(), 0);
        }
        let s = dev.stream();
        let buf = match st {
            CpuStorage::U8(v) => GpuBuf::U8(s.clone_htod(v).map_err(gpu)?),
            CpuStorage::I64(v) => GpuBuf::I64(s.clone_htod(v).map_err(gpu)?),
            CpuStorage::F16(v) => GpuBuf::F16(s.clone_htod(bytemuck::cast_slice::<_, u16>(v)).map_err(gpu)?),
            CpuStorage::BF16(v) => GpuBuf::BF16(s.clone_htod(bytemuck::cast_slice::<_, u16>(v)).map_err(gpu)?),
            CpuStorage::F32(v) => GpuBuf::F32(s.clone_htod(v).map_err(gpu)?),
            CpuStorage::F64(v) => GpuBuf::F64(s.clone_htod(v).map_err(gpu)?),
        };
        Ok(CudaStorage { dev: dev.clone(), buf })
    }
    /// Copies the whole buffer to the host (waits for the stream).
    pub fn to_cpu(&self) -> Result<CpuStorage> {
        let s = self.dev.stream();
        Ok(match &self.buf {
            GpuBuf::U8(v) => CpuStorage::U8(s.clone_dtoh(v).map_err(gpu)?),
            GpuBuf::I64(v) => CpuStorage::I64(s.clone_dtoh(v).map_err(gpu)?),
            GpuBuf::F16(v) => CpuStorage::F16(bytemuck::cast_vec(s.clone_dtoh(v).map_err(gpu)?)),
            GpuBuf::BF16(v) => CpuStorage::BF16(bytemuck::cast_vec(s.clone_dtoh(v).map_err(gpu)?)),
            GpuBuf::F32(v) => CpuStorage::F32(s.clone_dtoh(v).map_err(gpu)?),
            GpuBuf::F64(v) => CpuStorage::F64(s.clone_dtoh(v).map_err(gpu)?),
        })
    }
}

/// A driver error as a tensor error.
pub(crate) fn gpu(e: impl Into<kernels::cuda::CudaError>) -> Error {
    Error::Cuda(e.into())
}

/// The open device for `Device::Cuda(ordinal)`.
pub fn device(ordinal: usize) -> Result<Arc<GpuDevice>> {
    GpuDevice::get(ordinal).map_err(Error::Cuda)
}

/// A view's layout as the kernels' by-value parameter.
pub fn strided(l: &Layout) -> Result<StridedLayout> {
    StridedLayout::new(l.shape(), l.strides(), l.offset()).map_err(Error::Cuda)
}

impl Tensor {
    /// The GPU storage of a tensor that lives on a GPU (`None` on the CPU).
    pub fn cuda_storage(&self) -> Option<&CudaStorage> {
        match self.storage() {
            Storage::Cuda(s) => Some(s),
            Storage::Cpu(_) => None,
        }
    }
    /// A fresh contiguous tensor of `shape` around a device buffer.
    pub fn from_cuda(st: CudaStorage, shape: &[usize]) -> Result<Tensor> {
        let want = crate::layout::checked_elem_count("from_cuda", shape)?;
        // An empty tensor's buffer holds one unused element (see `CudaStorage::zeros`).
        if st.len() != want && !(want == 0 && st.len() == 1) {
            return Err(Error::ElementCount { op: "from_cuda", got: st.len(), want, shape: shape.to_vec() });
        }
        Ok(Tensor::from_storage(Storage::Cuda(st), Layout::contiguous(shape)))
    }
}

/// Waits until everything queued on `device`'s stream has run (for timing; host copies already
/// wait). A no-op for the CPU.
pub fn synchronize(device: crate::Device) -> Result<()> {
    match device {
        crate::Device::Cuda(n) => device_sync(n),
        crate::Device::Cpu => Ok(()),
    }
}

fn device_sync(ordinal: usize) -> Result<()> {
    device(ordinal)?.synchronize().map_err(Error::Cuda)
}
