//! The CUDA backend's raw layer: finding a GPU without panicking, loading the embedded PTX once
//! per context, and typed launch wrappers per kernel family. Like the CPU kernels, everything here
//! works on buffers (`CudaSlice<T>`) with explicit sizes and layouts and knows nothing of tensors.
//!
//! Only the driver API is used (through `cudarc` with dynamic loading), so building needs no CUDA
//! toolkit and a machine without a driver gets [`CudaError::NoDriver`] from [`GpuDevice::get`].
//! One stream per device: every allocation, copy and launch is ordered on it.
pub mod conv;
pub mod copy;
mod device;
pub mod elementwise;
pub mod gemm;
pub mod index;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod ptx_gen;
pub mod reduce;
pub mod rng;
pub mod softmax;

pub use cudarc;
pub use cudarc::driver::{CudaSlice, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits};
pub use device::{GpuDevice, StridedLayout, MAX_DIMS};

/// Why a CUDA call could not be made or failed.
#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error("no CUDA driver found (libcuda could not be loaded)")]
    NoDriver,
    #[error("CUDA device {ordinal} not found: {count} device(s) visible")]
    NoDevice { ordinal: usize, count: usize },
    #[error("GPU {name} has compute capability {major}.{minor}; the embedded PTX needs 8.0 or newer")]
    UnsupportedGpu { name: String, major: i32, minor: i32 },
    #[error("a view of rank {rank} has more than {max} non-mergeable dimensions", max = MAX_DIMS)]
    TooManyDims { rank: usize },
    #[error("CUDA driver: {0}")]
    Driver(#[from] cudarc::driver::DriverError),
    #[error("loading kernel {kernel} from module {module}: {msg}")]
    Load { module: &'static str, kernel: String, msg: String },
}

pub type Result<T> = std::result::Result<T, CudaError>;

pub use crate::cuda_params::BLOCK;

/// Element types for which every bit pattern is a valid value: the plain numbers the GPU buffers
/// hold (half precision is stored as `u16`). Sealed: only these.
pub trait AnyBits: DeviceRepr + private::Sealed {}
mod private {
    pub trait Sealed {}
}
macro_rules! any_bits {
    ($($t:ty),*) => {$( impl private::Sealed for $t {} impl AnyBits for $t {} )*};
}
any_bits!(u8, u16, u32, u64, i64, f32, f64);

/// A device buffer of `n` elements (at least one: the driver refuses zero-byte allocations) whose
/// contents are left as they are, for a kernel that writes every element before anything reads
/// it. It skips the memset of a zero-filled buffer, a third of a binary op's memory traffic.
pub fn alloc_for_overwrite<T: AnyBits>(
    stream: &std::sync::Arc<cudarc::driver::CudaStream>,
    n: usize,
) -> Result<CudaSlice<T>> {
    // SAFETY: every bit pattern is a valid `T` (`AnyBits`), so reading the memory before a kernel
    // writes it yields some value, never undefined behaviour; the length is the one allocated.
    Ok(unsafe { stream.alloc::<T>(n.max(1)) }?)
}

/// A grid-stride launch over `n` elements: enough blocks to cover `n` (capped; the kernels loop).
pub fn launch_1d(n: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (crate::cuda_params::blocks_1d(n), 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

/// Opens GPU 0 for a test, or prints `skipped: <reason>` and returns from the test when there is
/// none. With `REQUIRE_GPU=1` (set by `scripts/gpu-check.sh` on the GPU machine) a missing GPU
/// fails the test instead, so a broken driver load can never pass silently.
#[macro_export]
macro_rules! cuda_or_skip {
    () => {
        match $crate::cuda::GpuDevice::get(0) {
            Ok(dev) => dev,
            Err(e) => {
                if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") {
                    panic!("REQUIRE_GPU=1 but the GPU could not be opened: {e}");
                }
                eprintln!("skipped: {e}");
                return;
            }
        }
    };
}
