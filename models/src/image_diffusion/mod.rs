//! EDM on images: the U-Net of [`crate::unet`] under EDM's preconditioning, trained on the
//! shapes world (text- or class-conditional), MNIST or CIFAR-10; the teacher that R0 distils and
//! DDO fine-tunes.
//!
//! | file | what |
//! |---|---|
//! | `data.rs` | `--data` specs, the seekable batch streams, the centring μ_c / σ_d |
//! | `train.rs` | the training run: Adam, EMA, condition dropout, checkpoints, resume, sample grids |
//! | here | run configurations (`tiny`, `small`), the trained model and its single-file weights |
//!
//! A weights file is one safetensors file: the EMA parameters (f32, or f16 to ship) and, in its
//! metadata under `image_diffusion`, the [`ModelCard`] (network shape, μ_c, σ_d, the data, how it
//! was trained, the best CFG scale measured for it).
mod data;
mod train;

pub use data::{prompt_tokens, Batch, BatchSource, DataSpec, DataStats};
pub use train::{saved_config, train_image_diffusion, ImageTrainReport, GRID_PROMPTS};

use crate::edm::{generate, Cond, EdmLoss, EdmPrecond, Guidance, Guided, SamplerConfig};
use crate::error::{Error, Result};
use crate::text_encoder::TextEncoderConfig;
use crate::unet::{CondConfig, UNet, UNetConfig};
use autograd::no_grad;
use nn::ModuleExt;
use std::collections::BTreeMap;
use std::path::Path;
use tensor::{DType, Device, Rng, Tensor};

/// The metadata key of a weights file.
pub const CARD_KEY: &str = "image_diffusion";

/// Images generated per batch by [`ImageDiffusion::sample`] (part of its seeding).
pub const SAMPLE_CHUNK: usize = 32;

/// XOR-ed into sampling seeds (see [`ImageDiffusion::sample_chunk`]).
const SAMPLE_SEED_TAG: u64 = 0x5A3F_1E00_D1FF_0001;

/// Buffers that stay f32 in an f16 weights file (fixed frequencies, not learned weights: f16
/// would shift the phase of the noise embedding at large |c_noise|).
const KEEP_F32: [&str; 1] = ["noise_emb.freqs"];

/// Everything that defines an image-diffusion run (saved in its checkpoints; a resume must match
/// it except for `steps`, which may grow).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageTrainConfig {
    pub seed: u64,
    pub steps: u64,
    pub batch: usize,
    /// Peak learning rate (Adam).
    pub lr: f64,
    /// Linear warm-up steps, then lr/√max(t/t_ref, 1).
    pub warmup: u64,
    pub t_ref: u64,
    pub betas: (f64, f64),
    /// Global gradient-norm clip (0 = off).
    pub grad_clip: f64,
    /// EMA half-life in images, ramped up as min(half_life, rampup·images seen).
    pub ema_half_life: f64,
    pub ema_rampup: f64,
    /// Probability of replacing a row's condition by ∅ (classifier-free guidance).
    pub cond_dropout: f64,
    pub loss: EdmLoss,
    pub net: UNetConfig,
    pub data: DataSpec,
    /// Items used to measure μ_c and σ_d.
    pub stats_items: usize,
    /// Write a sample grid every this many steps (0 = only at the end).
    pub sample_every: u64,
    pub checkpoint_every: u64,
    pub log_every: u64,
    /// Start from trained weights instead of a random initialisation (a fine-tuning run).
    #[serde(default)]
    pub init_from: Option<InitFrom>,
}

/// The weights a run started from: every parameter of the file is copied into the new network
/// (parameters the file lacks, e.g. a newly added path, keep their fresh initialisation) and the
/// file's data statistics are used, since σ_d is part of the denoiser.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InitFrom {
    pub path: std::path::PathBuf,
    /// Training steps and images behind those weights (counted into the new model card).
    pub steps: u64,
    pub images_seen: u64,
}

impl ImageTrainConfig {
    /// A named preset: `tiny` (CI: seconds per hundred steps) or `small` (the shipped teacher).
    pub fn preset(name: &str, data: DataSpec) -> Result<ImageTrainConfig> {
        let (channels, size, classes) = data.geometry();
        // The word path keeps colour words distinct for the cross-attention (see text_encoder.rs).
        let text =
            |w, l, h| CondConfig::Text(TextEncoderConfig { word_path: true, ..TextEncoderConfig::shapes(w, l, h) });
        let cond = |w, l, h| if classes == 0 { text(w, l, h) } else { CondConfig::Class { classes } };
        let net = match name {
            "tiny" => UNetConfig {
                img_channels: channels,
                img_size: size,
                base: 8,
                mult: vec![1, 2],
                enc_blocks: 1,
                self_attn: vec![size / 2],
                cross_attn: vec![size / 2],
                head_dim: 16,
                fourier_scale: 2.0,
                cond: cond(16, 1, 2),
            },
            "small" => UNetConfig {
                img_channels: channels,
                img_size: size,
                base: 32,
                mult: vec![1, 2, 2],
                enc_blocks: 1,
                self_attn: vec![size / 4],
                cross_attn: vec![size / 2, size / 4],
                head_dim: 32,
                fourier_scale: 2.0,
                cond: cond(128, 3, 4),
            },
            other => {
                return Err(Error::invalid("--config", format!("unknown config {other:?}: expected tiny or small")))
            }
        };
        let tiny = name == "tiny";
        Ok(ImageTrainConfig {
            seed: 0,
            steps: if tiny { 200 } else { 12_000 },
            batch: if tiny { 8 } else { 32 },
            lr: 1e-3,
            warmup: if tiny { 20 } else { 500 },
            t_ref: if tiny { 1_000 } else { 10_000 },
            betas: (0.9, 0.999),
            // EDM does not clip; Adam is invariant to the gradient's scale (the loss sums pixels).
            grad_clip: 0.0,
            ema_half_life: if tiny { 500.0 } else { 25_000.0 },
            ema_rampup: 0.1,
            cond_dropout: if classes == 0 { 0.1 } else { 0.15 },
            // More weight on mid-to-high noise than EDM's (−1.2, 1.2): layout is decided there.
            loss: EdmLoss { p_mean: -1.0, p_std: 1.4 },
            net,
            data,
            stats_items: if tiny { 256 } else { 4096 },
            sample_every: if tiny { 0 } else { 1000 },
            checkpoint_every: if tiny { 0 } else { 250 },
            log_every: if tiny { 10 } else { 25 },
            init_from: None,
        })
    }

    pub fn validate(&self) -> Result<()> {
        let ok = self.steps > 0
            && self.batch > 0
            && self.lr.is_finite()
            && self.lr > 0.0
            && (0.0..1.0).contains(&self.betas.0)
            && (0.0..1.0).contains(&self.betas.1)
            && self.grad_clip >= 0.0
            && self.ema_half_life >= 0.0
            && (0.0..=1.0).contains(&self.cond_dropout)
            && self.loss.p_std > 0.0
            && self.stats_items > 0;
        if !ok {
            return Err(Error::invalid("ImageTrainConfig", format!("settings out of range: {self:?}")));
        }
        self.net.validate()
    }
}

/// What a weights file says about its model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCard {
    pub net: UNetConfig,
    pub stats: DataStats,
    pub data: DataSpec,
    /// Training steps and images behind the weights.
    pub steps: u64,
    pub images_seen: u64,
    /// The guidance scale recorded as best for these weights (used when none is given).
    pub best_cfg: Option<f64>,
    /// The σ interval the recorded best scale applies in (guidance interval), if any.
    #[serde(default)]
    pub best_cfg_interval: Option<(f64, f64)>,
    /// Free text: the command that made it, the seed, the date.
    pub notes: String,
}

/// A classifier-free guidance setting: scale w (1 = none) and an optional σ interval outside
/// which w is 1 (Kynkäänniemi et al. 2024). A plain `f64` converts to "w everywhere".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuidanceScale {
    pub w: f64,
    pub interval: Option<(f64, f64)>,
}

impl From<f64> for GuidanceScale {
    fn from(w: f64) -> Self {
        GuidanceScale { w, interval: None }
    }
}

impl std::fmt::Display for GuidanceScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.interval {
            Some((lo, hi)) => write!(f, "{} for σ in [{lo}, {hi}]", self.w),
            None => write!(f, "{}", self.w),
        }
    }
}

/// A trained image-diffusion model: D = EdmPrecond(UNet) with the data's centring.
#[derive(Clone, Debug)]
pub struct ImageDiffusion {
    pub model: EdmPrecond<UNet>,
    pub card: ModelCard,
}

impl ImageDiffusion {
    /// A fresh (untrained) model for `card`.
    pub fn new(card: ModelCard, seed: u64) -> Result<ImageDiffusion> {
        let net = UNet::new(&card.net, &mut Rng::new(seed))?;
        Ok(ImageDiffusion { model: EdmPrecond::new(net, card.stats.sigma_data)?, card })
    }

    /// Where the weights live (the device of the first parameter; the CPU for a model without any).
    pub fn device(&self) -> Device {
        self.model.net.named_params().first().map(|(_, p)| p.device()).unwrap_or(Device::Cpu)
    }
    /// Moves the weights to `device`; sampling then runs there.
    pub fn to_device(&self, device: Device) -> Result<()> {
        Ok(self.model.net.to_device(device)?)
    }

    /// Loads a weights file written by [`ImageDiffusion::save`].
    pub fn load(path: &Path) -> Result<ImageDiffusion> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::invalid("load weights", format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes, path)
    }

    /// Loads weights from the bytes of a file (the shipped weights are embedded this way);
    /// `name` labels errors.
    pub fn from_bytes(bytes: &[u8], name: &Path) -> Result<ImageDiffusion> {
        let (tensors, meta) = tensor::safetensors_io::load_with_metadata_from_bytes(bytes, name)?;
        let card_json = meta.get(CARD_KEY).ok_or_else(|| {
            Error::invalid(
                "load weights",
                format!("{} has no `{CARD_KEY}` metadata: not an image-diffusion file", name.display()),
            )
        })?;
        let card: ModelCard = serde_json::from_str(card_json)
            .map_err(|e| Error::invalid("load weights", format!("{}: bad model card: {e}", name.display())))?;
        let m = Self::new(card, 0)?;
        nn::checkpoint::load_state_dict(&m.model, &tensors, true, name)?;
        m.model.cast(DType::F32)?;
        Ok(m)
    }

    /// Writes the weights (cast to `dtype`, e.g. F16 to ship) and the card, atomically.
    pub fn save(&self, path: &Path, dtype: Option<DType>) -> Result<()> {
        let json = serde_json::to_string(&self.card).map_err(|e| Error::invalid("save weights", e.to_string()))?;
        let meta: BTreeMap<String, String> = [(CARD_KEY.to_string(), json)].into_iter().collect();
        let mut tensors = self.model.state_dict();
        if let Some(d) = dtype {
            for (name, t) in tensors.iter_mut() {
                if t.dtype().is_float() && !KEEP_F32.contains(&name.as_str()) {
                    *t = t.to_dtype(d)?;
                }
            }
        }
        nn::checkpoint::save_tensors(&tensors, &meta, None, path)?;
        Ok(())
    }

    /// `[C, H, W]` of the images.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.card.net.img_channels, self.card.net.img_size, self.card.net.img_size]
    }

    /// The condition for prompts (text models) or class ids (class models).
    pub fn text_cond<S: AsRef<str>>(&self, prompts: &[S]) -> Result<Cond> {
        match self.card.net.cond {
            CondConfig::Text(t) => Ok(Cond::Tokens(crate::text_encoder::encode_prompts(prompts, t.max_len)?)),
            _ => Err(Error::invalid("sample", "this model is not text-conditioned (use a class)")),
        }
    }
    pub fn class_cond(&self, classes: &[usize]) -> Result<Cond> {
        match self.card.net.cond {
            CondConfig::Class { classes: k } => {
                if let Some(c) = classes.iter().find(|&&c| c >= k) {
                    return Err(Error::invalid("sample", format!("class {c} out of range (the model has {k})")));
                }
                Ok(Cond::Class(Tensor::from_vec(classes.iter().map(|&c| c as i64).collect(), &[classes.len()])?))
            }
            _ => Err(Error::invalid("sample", "this model is not class-conditional")),
        }
    }

    /// Samples one image per condition row (or `n` unconditional ones when `cond` is `None`)
    /// with `sampler` and guidance scale `w` (1 = none), as `[N, C, H, W]` in [−1, 1]. Rows are
    /// generated in chunks of [`SAMPLE_CHUNK`] with noise seeded by (seed, chunk), so image i
    /// depends only on the seed, i and its own condition.
    pub fn sample(
        &self,
        cond: Option<&Cond>,
        n: usize,
        sampler: &SamplerConfig,
        w: impl Into<GuidanceScale>,
        seed: u64,
    ) -> Result<Tensor> {
        self.sample_with_progress(cond, n, sampler, w, seed, |_| {})
    }

    /// [`ImageDiffusion::sample`], calling `done(images)` after each chunk (progress bars).
    pub fn sample_with_progress(
        &self,
        cond: Option<&Cond>,
        n: usize,
        sampler: &SamplerConfig,
        w: impl Into<GuidanceScale>,
        seed: u64,
        mut done: impl FnMut(usize),
    ) -> Result<Tensor> {
        let w = w.into();
        let n = cond.map(Cond::batch).unwrap_or(n);
        let mut out = Vec::new();
        for (k, start) in (0..n).step_by(SAMPLE_CHUNK).enumerate() {
            let len = SAMPLE_CHUNK.min(n - start);
            let rows = cond.map(|c| c.rows(start, len)).transpose()?;
            out.push(self.sample_chunk(rows.as_ref(), len, sampler, w, seed, k as u64)?);
            done(len);
        }
        if out.is_empty() {
            return Err(Error::invalid("sample", "nothing to sample (n = 0)"));
        }
        Ok(Tensor::cat(&out.iter().collect::<Vec<_>>(), 0)?)
    }

    /// Chunk `chunk` of [`ImageDiffusion::sample`]: `len` ≤ [`SAMPLE_CHUNK`] images (one per row
    /// of `cond`), noise from Philox streams `chunk·2³² …` of `seed`.
    pub fn sample_chunk(
        &self,
        cond: Option<&Cond>,
        len: usize,
        sampler: &SamplerConfig,
        w: impl Into<GuidanceScale>,
        seed: u64,
        chunk: u64,
    ) -> Result<Tensor> {
        let w = w.into();
        let len = cond.map(Cond::batch).unwrap_or(len);
        if len == 0 || len > SAMPLE_CHUNK {
            return Err(Error::invalid("sample_chunk", format!("{len} rows: need 1..={SAMPLE_CHUNK}")));
        }
        let null = self.model.net.null_cond()?;
        let guidance = match (&null, w.w == 1.0) {
            (Some(null), false) => {
                let g = Guidance::new(w.w, null.clone())?;
                Some(match w.interval {
                    Some((lo, hi)) => g.with_interval(lo, hi),
                    None => g,
                })
            }
            _ => None,
        };
        let [c, h, wd] = self.image_shape();
        // A domain tag keeps sampling noise apart from the streams that initialised the model.
        let mut rng = Rng { seed: seed ^ SAMPLE_SEED_TAG, next_stream: chunk << 32 };
        let shape = [len, c, h, wd];
        let y = no_grad(|| match &guidance {
            Some(g) => {
                generate(&Guided::new(&self.model, g), &shape, DType::F32, self.device(), sampler, cond, &mut rng)
            }
            None => generate(&self.model, &shape, DType::F32, self.device(), sampler, cond, &mut rng),
        })?;
        self.card.stats.to_image(y.value())
    }
}
