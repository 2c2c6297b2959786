//! The project's root crate: re-exports the engine's layers so that examples and the
//! cross-crate integration tests in `tests/` can use one import.
pub use autograd;
pub use data;
pub use eval;
pub use kernels;
pub use nn;
pub use tensor;

pub mod convnet_demo;
