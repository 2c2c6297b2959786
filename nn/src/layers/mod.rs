//! The layers models are built from. Each is a plain struct of `Param`s with a `forward` and a
//! `Module` impl that names its parameters like PyTorch does.
mod attention;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod mlp;
mod modulation;
mod norm;

pub use attention::{l2_normalize, MultiHeadAttention};
pub use conv::{Conv2d, ConvTranspose2d, Downsample, Upsample};
pub use dropout::Dropout;
pub use embedding::{Embedding, FourierEmbedding, SinusoidalEmbedding};
pub use linear::Linear;
pub use mlp::{Activation, Mlp};
pub use modulation::{AdaGroupNorm, AdaLayerNorm};
pub use norm::{GroupNorm, LayerNorm, RmsNorm};
