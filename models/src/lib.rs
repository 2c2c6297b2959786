//! Networks and model families on top of the engine.
//!
//! - [`edm`]: EDM diffusion (Karras et al. 2022): preconditioning, the training loss, the
//!   samplers (Euler, Heun, the η-step), classifier-free guidance and the exact Gaussian-mixture
//!   denoiser used as a test oracle (`design/edm.md`);
//! - [`mlp_denoiser`]: the small MLP network F for 2-D toys;
//! - [`toy2d`]: training and sampling that MLP on a 2-D toy (DDO's testbed).
//!
//! Errors are [`Error`] values: the engine's errors pass through, bad arguments name the function.
pub mod edm;
pub mod error;
pub mod mlp_denoiser;
pub mod toy2d;

pub use error::{Error, Result};
