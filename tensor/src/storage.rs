//! Where tensor data lives. `Storage` is an enum over devices (the CPU, and a GPU with the `cuda`
//! feature) and `CpuStorage` an enum over element types.
use crate::{DType, Error, Result, WithDType};
use half::{bf16, f16};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    #[default]
    Cpu,
    /// A CUDA device by ordinal. Builds without the `cuda` feature answer
    /// `Error::DeviceUnavailable`; with it, a machine without a driver or GPU answers
    /// `Error::Cuda` ("no CUDA driver found"). Never a panic.
    Cuda(usize),
}

#[derive(Clone, Debug)]
pub enum CpuStorage {
    U8(Vec<u8>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Calls `$body` with `$v` bound to the typed vector inside a `CpuStorage`, whatever its dtype.
#[macro_export]
macro_rules! with_cpu_vec {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::CpuStorage::U8($v) => $body,
            $crate::CpuStorage::I64($v) => $body,
            $crate::CpuStorage::F16($v) => $body,
            $crate::CpuStorage::BF16($v) => $body,
            $crate::CpuStorage::F32($v) => $body,
            $crate::CpuStorage::F64($v) => $body,
        }
    };
}

impl CpuStorage {
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::U8(_) => DType::U8,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }
    pub fn len(&self) -> usize {
        with_cpu_vec!(self, v => v.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn zeros(dtype: DType, n: usize) -> Self {
        match dtype {
            DType::U8 => CpuStorage::U8(vec![0; n]),
            DType::I64 => CpuStorage::I64(vec![0; n]),
            DType::F16 => CpuStorage::F16(vec![f16::ZERO; n]),
            DType::BF16 => CpuStorage::BF16(vec![bf16::ZERO; n]),
            DType::F32 => CpuStorage::F32(vec![0.0; n]),
            DType::F64 => CpuStorage::F64(vec![0.0; n]),
        }
    }
    /// `n` copies of `v` (converted to `dtype` once, then filled; zeros come from the
    /// allocator's zeroed pages).
    pub fn full(dtype: DType, n: usize, v: f64) -> Self {
        if v.to_bits() == 0 {
            return CpuStorage::zeros(dtype, n);
        }
        fn fill<T: WithDType>(n: usize, v: f64) -> Vec<T> {
            vec![T::from_f64(v); n]
        }
        match dtype {
            DType::U8 => CpuStorage::U8(fill(n, v)),
            DType::I64 => CpuStorage::I64(fill(n, v)),
            DType::F16 => CpuStorage::F16(fill(n, v)),
            DType::BF16 => CpuStorage::BF16(fill(n, v)),
            DType::F32 => CpuStorage::F32(fill(n, v)),
            DType::F64 => CpuStorage::F64(fill(n, v)),
        }
    }
    /// Builds a storage of `dtype` from f64 values.
    pub fn from_f64_iter(dtype: DType, it: impl Iterator<Item = f64>) -> Self {
        fn conv<T: WithDType>(it: impl Iterator<Item = f64>) -> Vec<T> {
            it.map(T::from_f64).collect()
        }
        match dtype {
            DType::U8 => CpuStorage::U8(conv(it)),
            DType::I64 => CpuStorage::I64(conv(it)),
            DType::F16 => CpuStorage::F16(conv(it)),
            DType::BF16 => CpuStorage::BF16(conv(it)),
            DType::F32 => CpuStorage::F32(conv(it)),
            DType::F64 => CpuStorage::F64(conv(it)),
        }
    }
}

macro_rules! from_vec {
    ($t:ty, $d:ident) => {
        impl From<Vec<$t>> for CpuStorage {
            fn from(v: Vec<$t>) -> Self {
                CpuStorage::$d(v)
            }
        }
    };
}
from_vec!(u8, U8);
from_vec!(i64, I64);
from_vec!(f16, F16);
from_vec!(bf16, BF16);
from_vec!(f32, F32);
from_vec!(f64, F64);

/// Typed access to a `CpuStorage` buffer.
pub trait CpuElem: WithDType {
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
}
macro_rules! cpu_elem {
    ($t:ty, $d:ident) => {
        impl CpuElem for $t {
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$d(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
                match s {
                    CpuStorage::$d(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
cpu_elem!(u8, U8);
cpu_elem!(i64, I64);
cpu_elem!(f16, F16);
cpu_elem!(bf16, BF16);
cpu_elem!(f32, F32);
cpu_elem!(f64, F64);

/// Device-level storage. Ops dispatch on this enum.
#[derive(Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    #[cfg(feature = "cuda")]
    Cuda(crate::cuda::CudaStorage),
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Device::Cuda(s.ordinal()),
        }
    }
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => s.dtype(),
        }
    }
    pub fn as_cpu(&self) -> Result<&CpuStorage> {
        match self {
            Storage::Cpu(s) => Ok(s),
            #[cfg(feature = "cuda")]
            Storage::Cuda(_) => Err(Error::NotOnCpu { device: self.device() }),
        }
    }
}

/// On a GPU tensor, returns the CUDA implementation's result from the enclosing function:
/// `on_cuda!(x, st => crate::cuda::...(x, st))` binds the tensor's `CudaStorage` to `st`.
/// Expands to nothing without the `cuda` feature.
#[macro_export]
macro_rules! on_cuda {
    ($t:expr, $st:ident => $body:expr) => {
        #[cfg(feature = "cuda")]
        if let $crate::Storage::Cuda($st) = $t.storage() {
            return $body;
        }
    };
}

/// Checks that a device can hold tensors in this build (and, for a GPU, that it opens).
pub fn check_device(device: Device) -> Result<()> {
    match device {
        Device::Cpu => Ok(()),
        #[cfg(feature = "cuda")]
        Device::Cuda(n) => crate::cuda::device(n).map(|_| ()),
        #[cfg(not(feature = "cuda"))]
        d => Err(Error::DeviceUnavailable(d)),
    }
}

impl Device {
    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda(_))
    }
}

impl std::str::FromStr for Device {
    type Err = Error;
    /// `cpu`, `cuda` (GPU 0) or `cuda:N`.
    fn from_str(s: &str) -> Result<Device> {
        match s.trim() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| Error::invalid("device", format!("{other:?}: expected cpu, cuda or cuda:N"))),
        }
    }
}
