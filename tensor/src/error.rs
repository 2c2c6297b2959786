//! Typed errors. Every failure a user can cause (a shape that does not fit, a bad index, a broken
//! file) is an `Error` value naming the op and the offending shapes; nothing here panics on input.
use crate::{DType, Device};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op}: shape mismatch between {lhs:?} and {rhs:?}")]
    ShapeMismatch { op: &'static str, lhs: Vec<usize>, rhs: Vec<usize> },

    #[error("{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together")]
    BroadcastMismatch { op: &'static str, lhs: Vec<usize>, rhs: Vec<usize> },

    #[error("{op}: dtype mismatch, {lhs:?} vs {rhs:?}")]
    DTypeMismatch { op: &'static str, lhs: DType, rhs: DType },

    #[error("{op}: dtype {dtype:?} is not supported")]
    UnsupportedDType { op: &'static str, dtype: DType },

    #[error("{op}: device mismatch, {lhs:?} vs {rhs:?}")]
    DeviceMismatch { op: &'static str, lhs: Device, rhs: Device },

    #[error("device {0:?} is not available in this build (rebuild with `--features cuda`)")]
    DeviceUnavailable(Device),

    #[error("this op has no kernel for a tensor on {device:?} yet (move it with .to_device(Device::Cpu))")]
    NotOnCpu { device: Device },

    #[cfg(feature = "cuda")]
    #[error(transparent)]
    Cuda(#[from] kernels::cuda::CudaError),

    #[error("{op}: dimension {dim} is out of range for a tensor of rank {rank}")]
    DimOutOfRange { op: &'static str, dim: isize, rank: usize },

    #[error("{op}: index {index} is out of range for size {size}")]
    IndexOutOfRange { op: &'static str, index: i64, size: usize },

    #[error("{op}: element count {got} does not match shape {shape:?} ({want} elements)")]
    ElementCount { op: &'static str, got: usize, want: usize, shape: Vec<usize> },

    #[error("{op}: {msg}")]
    InvalidArgument { op: &'static str, msg: String },

    #[error("{op}: this op has no backward rule, so no gradient can flow through it")]
    NoBackward { op: &'static str },

    #[error("backward() needs a scalar output (or an explicit output gradient), got shape {shape:?}")]
    NotScalar { shape: Vec<usize> },

    #[error("safetensors file {path}: {msg}")]
    BadFile { path: String, msg: String },

    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument { op, msg: msg.into() }
    }
}
