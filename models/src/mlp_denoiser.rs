//! The EDM network F for 2-D toys (`edm.md` §8.1; DDO's testbed, `ddo.md` §7.1).
//!
//! ```text
//! c_noise `[B]` ──Fourier features──▶ `[B, 2m]` ──Linear·SiLU·Linear──▶ e `[B, E]`  (+ class embedding)
//! [c_in·x `[B, d]`, e] ──Linear·SiLU──▶ … (L hidden layers of width H) ──Linear──▶ F `[B, d]`
//! ```
//!
//! The Fourier features [cos(2π f c_noise), sin(2π f c_noise)] use fixed random frequencies
//! f ~ N(0, scale²) (a buffer, saved with the weights). EDM2's toy model outputs a scalar
//! log-density and differentiates it (double backprop); this one outputs F directly, as the
//! spec asks. Linear layers start LeCun-normal (see [`MlpDenoiser::new`]). Deliberately small: DDO wants a capacity-limited model that still leaks mass.
use crate::edm::{Cond, EdmNetwork};
use crate::error::{Error, Result};
use autograd::Var;
use nn::layers::{Activation, Embedding, FourierEmbedding, Linear, Mlp};
use nn::{visit_child, Module, Visitor};
use tensor::{Rng, Tensor};

/// The shape of an [`MlpDenoiser`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpDenoiserConfig {
    /// d, the data dimension (2 for the toys).
    pub dim: usize,
    /// H, the width of the hidden layers.
    pub hidden: usize,
    /// L, the number of hidden layers.
    pub layers: usize,
    /// Number of Fourier features of c_noise (even).
    pub noise_features: usize,
    /// Standard deviation of the Fourier frequencies.
    pub fourier_scale: f64,
    /// E, the width of the noise (and class) embedding.
    pub emb_dim: usize,
    /// Class-conditional variant: K classes plus the null class id K (for CFG).
    pub num_classes: Option<usize>,
}

impl Default for MlpDenoiserConfig {
    /// 3 hidden layers × 64, 16 Fourier features, a 32-wide embedding, unconditional.
    fn default() -> Self {
        MlpDenoiserConfig {
            dim: 2,
            hidden: 64,
            layers: 3,
            noise_features: 16,
            fourier_scale: 1.0,
            emb_dim: 32,
            num_classes: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct MlpDenoiser {
    pub cfg: MlpDenoiserConfig,
    pub fourier: FourierEmbedding,
    /// Fourier features → noise embedding.
    pub map_noise: Mlp,
    /// `[K + 1, E]`, row K = the null class.
    pub label: Option<Embedding>,
    /// [x_in, embedding] → F.
    pub net: Mlp,
}

impl MlpDenoiser {
    /// A freshly initialised network (f32), deterministic in `rng`: Linear weights N(0, 1/fan_in)
    /// and zero biases, the class table N(0, 1), the Fourier frequencies N(0, scale²).
    pub fn new(cfg: &MlpDenoiserConfig, rng: &mut Rng) -> Result<Self> {
        let ok = cfg.dim > 0 && cfg.hidden > 0 && cfg.layers > 0 && cfg.emb_dim > 0;
        if !ok
            || cfg.noise_features < 2
            || !cfg.noise_features.is_multiple_of(2)
            || cfg.fourier_scale.is_nan()
            || cfg.fourier_scale <= 0.0
        {
            return Err(Error::invalid(
                "MlpDenoiser::new",
                format!("need positive sizes, an even number ≥ 2 of noise features and scale > 0: {cfg:?}"),
            ));
        }
        let fourier = FourierEmbedding::new(cfg.noise_features, cfg.fourier_scale, rng)?;
        let map_noise = Mlp::new(&[cfg.noise_features, cfg.emb_dim, cfg.emb_dim], Activation::Silu, rng)?;
        let label = match cfg.num_classes {
            Some(k) => Some(Embedding::new(k + 1, cfg.emb_dim, rng)?),
            None => None,
        };
        let mut dims = vec![cfg.dim + cfg.emb_dim];
        dims.extend(std::iter::repeat_n(cfg.hidden, cfg.layers));
        dims.push(cfg.dim);
        let net = Mlp::new(&dims, Activation::Silu, rng)?;
        for layer in map_noise.layers.iter().chain(&net.layers) {
            lecun_normal(layer, rng)?;
        }
        Ok(MlpDenoiser { cfg: cfg.clone(), fourier, map_noise, label, net })
    }

    /// Class ids `[B]` for the embedding: the given ones (checked), or all null without a condition.
    fn class_ids(&self, k: usize, cond: Option<&Cond>, b: usize) -> Result<Tensor> {
        match cond {
            None => Ok(Tensor::from_vec(vec![k as i64; b], &[b])?),
            Some(Cond::Class(ids)) => {
                let v = ids.to_vec_f64()?;
                if ids.shape() != [b] || v.iter().any(|&i| !(0.0..=k as f64).contains(&i)) {
                    return Err(Error::invalid(
                        "MlpDenoiser",
                        format!("need {b} class ids in 0..={k} ({k} = null), got shape {:?}", ids.shape()),
                    ));
                }
                Ok(ids.to_dtype(tensor::DType::I64)?)
            }
            Some(_) => Err(Error::invalid("MlpDenoiser", "only class conditions are understood")),
        }
    }
}

/// Weights N(0, 1/fan_in), bias 0. PyTorch's default U(±1/√fan_in) divides the activations'
/// variance by 3 per layer, so the SiLU net starts almost linear; on the toys that stalls training
/// at the trivial F ≈ 0 for many hundred steps (the best linear F is nearly 0).
fn lecun_normal(layer: &Linear, rng: &mut Rng) -> Result<()> {
    Ok(layer.reinit_lecun_normal(rng)?)
}

impl EdmNetwork for MlpDenoiser {
    /// x_in `[B, d]`, c_noise `[B]` → F `[B, d]`.
    fn forward(&self, x_in: &Var, c_noise: &Var, cond: Option<&Cond>) -> Result<Var> {
        let b = x_in.shape().first().copied().unwrap_or(0);
        if x_in.shape() != [b, self.cfg.dim] || c_noise.shape() != [b] {
            return Err(Error::invalid(
                "MlpDenoiser",
                format!(
                    "need x_in [B, {}] and c_noise [B], got {:?} and {:?}",
                    self.cfg.dim,
                    x_in.shape(),
                    c_noise.shape()
                ),
            ));
        }
        let mut emb = self.map_noise.forward(&self.fourier.forward(c_noise)?)?;
        match (&self.label, self.cfg.num_classes) {
            (Some(table), Some(k)) => emb = emb.add(&table.forward(&self.class_ids(k, cond, b)?)?)?,
            _ if cond.is_some() => {
                return Err(Error::invalid("MlpDenoiser", "this network is unconditional but got a condition"))
            }
            _ => {}
        }
        Ok(self.net.forward(&Var::cat(&[x_in, &emb.silu()?], 1)?)?)
    }
}

impl Module for MlpDenoiser {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "fourier", &self.fourier);
        visit_child(v, "map_noise", &self.map_noise);
        if let Some(l) = &self.label {
            visit_child(v, "label", l);
        }
        visit_child(v, "net", &self.net);
    }
}
