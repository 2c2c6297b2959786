//! Lookup tables and the noise-level / time embeddings of diffusion models.
use crate::init;
use crate::module::{Module, Visitor};
use crate::param::Param;
use autograd::Var;
use tensor::{DType, Result, Rng, Tensor};

/// `ids → table[ids]`, table `[vocab, dim]` initialised `N(0, 1)` (PyTorch's default).
#[derive(Clone, Debug)]
pub struct Embedding {
    pub weight: Param,
}

impl Embedding {
    pub fn new(vocab: usize, dim: usize, rng: &mut Rng) -> Result<Embedding> {
        Ok(Embedding { weight: Param::new(init::normal(&[vocab, dim], 1.0, rng)?) })
    }
    /// ids: any shape of `I64` → `[*ids, dim]`
    pub fn forward(&self, ids: &Tensor) -> Result<Var> {
        let w = self.weight.var();
        w.embedding(&ids.to_device(w.value().device())?)
    }
}

impl Module for Embedding {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
    }
}

/// Transformer / DDPM sinusoidal embedding of a scalar per sample (no parameters):
/// `[cos(t·f_0), …, cos(t·f_{h−1}), sin(t·f_0), …]` with `f_i = max_period^(−i/h)`, `h = dim/2`.
#[derive(Clone, Debug)]
pub struct SinusoidalEmbedding {
    pub dim: usize,
    pub max_period: f64,
}

impl SinusoidalEmbedding {
    pub fn new(dim: usize) -> SinusoidalEmbedding {
        SinusoidalEmbedding { dim, max_period: 10_000.0 }
    }
    /// t: `[N]` → `[N, dim]`
    pub fn forward(&self, t: &Var) -> Result<Var> {
        let half = self.dim / 2;
        let freqs: Vec<f64> = (0..half).map(|i| self.max_period.powf(-(i as f64) / half as f64)).collect();
        phase_features(t, &Tensor::from_vec(freqs, &[1, half])?)
    }
}

/// `[cos(t·f), sin(t·f)]` for a row of frequencies `f: [1, h]`.
fn phase_features(t: &Var, freqs: &Tensor) -> Result<Var> {
    let n = t.shape().first().copied().unwrap_or(1);
    let arg = t.reshape(&[n, 1])?.mul(&Var::constant(freqs.to_dtype(t.dtype())?.to_device(t.value().device())?))?;
    Var::cat(&[&arg.cos()?, &arg.sin()?], 1)
}

/// Random Fourier features (EDM's embedding for the VE / NCSN++ networks): fixed frequencies
/// `f ~ N(0, scale²)`, features `[cos(2π t f), sin(2π t f)]`. The frequencies are a buffer:
/// saved with the model, never trained.
#[derive(Clone, Debug)]
pub struct FourierEmbedding {
    pub freqs: Param,
}

impl FourierEmbedding {
    pub fn new(dim: usize, scale: f64, rng: &mut Rng) -> Result<FourierEmbedding> {
        let f = rng.normal(&[1, dim / 2], 0.0, scale, DType::F32)?.scale(2.0 * std::f64::consts::PI)?;
        Ok(FourierEmbedding { freqs: Param::buffer(f) })
    }
    /// t: `[N]` → `[N, dim]`
    pub fn forward(&self, t: &Var) -> Result<Var> {
        phase_features(t, &self.freqs.value())
    }
}

impl Module for FourierEmbedding {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("freqs", &self.freqs);
    }
}
