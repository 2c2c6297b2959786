//! Parameter initialisation matching PyTorch's defaults.
//!
//! `nn.Linear` / `nn.Conv2d` use `kaiming_uniform_(w, a=√5)`, which works out to
//! `U(−1/√fan_in, 1/√fan_in)` for the weight, and the same bound for the bias.
use tensor::{DType, Result, Rng, Tensor};

/// `U(−1/√fan_in, 1/√fan_in)`: PyTorch's default for Linear/Conv weights and biases.
pub fn kaiming_uniform(shape: &[usize], fan_in: usize, rng: &mut Rng) -> Result<Tensor> {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    rng.uniform(shape, -bound, bound, DType::F32)
}

/// `N(0, std²)`.
pub fn normal(shape: &[usize], std: f64, rng: &mut Rng) -> Result<Tensor> {
    rng.normal(shape, 0.0, std, DType::F32)
}

/// LeCun normal: `N(0, 1/fan_in)`. Keeps activations at unit variance through layers, where
/// PyTorch's default divides the variance by 3 per layer (small nets with smooth activations
/// can then start almost linear and stall, as the EDM toy MLP did).
pub fn lecun_normal(shape: &[usize], fan_in: usize, rng: &mut Rng) -> Result<Tensor> {
    normal(shape, 1.0 / (fan_in.max(1) as f64).sqrt(), rng)
}

/// Xavier/Glorot uniform: `U(−√(6/(fan_in+fan_out)), +…)` (transformer projections).
pub fn xavier_uniform(shape: &[usize], fan_in: usize, fan_out: usize, rng: &mut Rng) -> Result<Tensor> {
    let bound = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    rng.uniform(shape, -bound, bound, DType::F32)
}

pub fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32)
}

pub fn ones(shape: &[usize]) -> Tensor {
    Tensor::ones(shape, DType::F32)
}
