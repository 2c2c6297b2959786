//! Tensors: shapes and layouts, element types, devices and storage, views and broadcasting,
//! counter-based random numbers, safetensors I/O, and the dispatch of every op to the kernels.
//! Nothing here records gradients; that is the `autograd` crate's job.
#[cfg(feature = "cuda")]
pub mod cuda;
mod dtype;
mod error;
pub mod layout;
mod ops_attention;
mod ops_elementwise;
mod ops_index;
mod ops_nn;
mod ops_norm;
mod ops_optim;
mod ops_reduce;
pub mod rng;
pub mod safetensors_io;
mod storage;
mod tensor;

pub use dtype::{DType, WithDType};
pub use error::{Error, Result};
pub use kernels::elementwise::{BinaryOp, CmpOp, UnaryOp};
pub use kernels::pool::ResizeKind;
pub use kernels::reduce::ReduceOp;
pub use layout::Layout;
pub use ops_nn::Conv2dParams;
pub use ops_norm::NormStats;
pub use ops_optim::{AdamConfig, SgdConfig};
pub use rng::Rng;
pub use storage::{CpuElem, CpuStorage, Device, Storage};
pub use tensor::Tensor;
