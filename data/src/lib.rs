//! Data for the experiments: the shapes world, 2-D toys with exact densities, image files
//! (PNG, MNIST idx, CIFAR-10 binary batches) and batching. Errors are [`Error`] values.
pub mod batch;
pub mod error;
pub mod image;
pub mod shapes;
pub mod toy2d;

pub use error::{Error, Result};
