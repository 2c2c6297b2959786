//! Networks and model families on top of the engine.
//!
//! - [`edm`]: EDM diffusion (Karras et al. 2022): preconditioning, the training loss, the
//!   samplers (Euler, Heun, the η-step), classifier-free guidance and the exact Gaussian-mixture
//!   denoiser used as a test oracle (`design/edm.md`);
//! - [`mlp_denoiser`]: the small MLP network F for 2-D toys;
//! - [`toy2d`]: training and sampling that MLP on a 2-D toy (DDO's testbed);
//! - [`shapes_classifier`]: the small domain classifier whose features give FD_shapes
//!   (`design/evaluation.md` §1);
//! - [`unet`], [`text_encoder`]: the image network F and its jointly trained prompt encoder;
//! - [`image_diffusion`]: EDM on images (shapes world, MNIST, CIFAR-10): configs, training,
//!   single-file weights, sampling.
//!
//! Errors are [`Error`] values: the engine's errors pass through, bad arguments name the function.
pub mod edm;
pub mod error;
pub mod image_diffusion;
pub mod mlp_denoiser;
pub mod shapes_classifier;
pub mod text_encoder;
pub mod toy2d;
pub mod unet;

pub use error::{Error, Result};
