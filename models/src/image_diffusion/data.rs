//! Where training images come from, and how they are normalised (`edm.md` §7).
//!
//! Images enter as `[B, C, H, W]` in [−1, 1] (the project's image convention: renders, files,
//! the evaluator). The model works on y = img − μ_c, centred per channel, with σ_d the pooled
//! standard deviation of the centred data. μ_c and σ_d are measured once per run from a
//! fixed sample of the data and stored with the weights.
use crate::edm::Cond;
use crate::error::{Error, Result};
use crate::text_encoder::encode_prompts;
use data::image::{load_cifar10, load_mnist, LabeledImages, Split};
use data::shapes::tokenizer::Tokenizer;
use data::shapes::{render_batch, sample_class_pair_at, SceneSampler, NUM_CLASSES};
use std::path::PathBuf;
use tensor::{Tensor, UnaryOp};

/// The `--data` of `r0-cli train diffusion`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DataSpec {
    /// Shapes-world captions and renders (text-conditioned).
    Shapes,
    /// Single-object shapes-world renders labelled with one of the 24 (shape, colour) classes.
    ShapesCls,
    /// MNIST idx files in a folder (class-conditional, 1 channel, 28×28).
    Mnist(PathBuf),
    /// CIFAR-10 binary batches in a folder (class-conditional, 32×32).
    Cifar10(PathBuf),
}

impl DataSpec {
    /// Parses `shapes`, `shapes-cls`, `mnist:<dir>`, `cifar10:<dir>`.
    pub fn parse(s: &str) -> Result<DataSpec> {
        let (kind, path) = match s.split_once(':') {
            Some((k, p)) => (k, Some(PathBuf::from(p))),
            None => (s, None),
        };
        match (kind, path) {
            ("shapes", None) => Ok(DataSpec::Shapes),
            ("shapes-cls", None) => Ok(DataSpec::ShapesCls),
            ("mnist", Some(p)) => Ok(DataSpec::Mnist(p)),
            ("cifar10", Some(p)) => Ok(DataSpec::Cifar10(p)),
            ("mnist" | "cifar10", None) => {
                Err(Error::invalid("--data", format!("{kind} needs a folder: {kind}:<path to the files>")))
            }
            _ => Err(Error::invalid(
                "--data",
                format!("unknown data {s:?}: expected shapes, shapes-cls, toy2d:<dist>, mnist:<dir> or cifar10:<dir>"),
            )),
        }
    }
    /// Image channels, side and number of classes (0 = text prompts).
    pub fn geometry(&self) -> (usize, usize, usize) {
        match self {
            DataSpec::Shapes => (3, 32, 0),
            DataSpec::ShapesCls => (3, 32, NUM_CLASSES),
            DataSpec::Mnist(_) => (1, 28, 10),
            DataSpec::Cifar10(_) => (3, 32, 10),
        }
    }
}

/// An endless, seekable stream of training batches: batch t is a pure function of (seed, t).
pub enum BatchSource {
    Shapes { seed: u64, sampler: SceneSampler, max_len: usize },
    ShapesCls { seed: u64 },
    Files { images: LabeledImages, seed: u64 },
}

/// One batch: images `[B, C, H, W]` in [−1, 1], the condition and, for text, the captions.
pub struct Batch {
    pub images: Tensor,
    pub cond: Option<Cond>,
    pub captions: Vec<String>,
}

impl BatchSource {
    pub fn open(spec: &DataSpec, seed: u64, max_len: usize) -> Result<BatchSource> {
        Ok(match spec {
            DataSpec::Shapes => BatchSource::Shapes { seed, sampler: SceneSampler::default(), max_len },
            DataSpec::ShapesCls => BatchSource::ShapesCls { seed },
            DataSpec::Mnist(dir) => BatchSource::Files { images: load_mnist(dir, Split::Train)?, seed },
            DataSpec::Cifar10(dir) => BatchSource::Files { images: load_cifar10(dir, Split::Train)?, seed },
        })
    }

    /// Batch `index` of size `b` (items `index·b .. index·b + b` of the stream).
    pub fn batch(&self, index: u64, b: usize) -> Result<Batch> {
        let first = index * b as u64;
        match self {
            BatchSource::Shapes { seed, sampler, max_len } => {
                let (prompts, scenes): (Vec<_>, Vec<_>) = (0..b as u64)
                    .map(|j| sampler.sample_pair_at(*seed, first + j))
                    .collect::<data::Result<Vec<_>>>()?
                    .into_iter()
                    .unzip();
                let captions: Vec<String> = prompts.into_iter().map(|p| p.text).collect();
                let ids = encode_prompts(&captions, *max_len)?;
                Ok(Batch { images: render_batch(&scenes, 32, 32)?, cond: Some(Cond::Tokens(ids)), captions })
            }
            BatchSource::ShapesCls { seed } => {
                let (classes, scenes): (Vec<_>, Vec<_>) = (0..b as u64)
                    .map(|j| sample_class_pair_at(*seed, first + j))
                    .collect::<data::Result<Vec<_>>>()?
                    .into_iter()
                    .unzip();
                let ids = Tensor::from_vec(classes.iter().map(|&c| c as i64).collect(), &[b])?;
                Ok(Batch { images: render_batch(&scenes, 32, 32)?, cond: Some(Cond::Class(ids)), captions: vec![] })
            }
            BatchSource::Files { images, seed } => {
                // Epoch e is a fresh permutation; item k of the stream is perm_e[k mod n].
                let n = images.n as u64;
                if n == 0 {
                    return Err(Error::invalid("BatchSource", "the data folder holds no images"));
                }
                let mut idx = Vec::with_capacity(b);
                let mut perm: Option<(u64, Vec<usize>)> = None;
                for k in first..first + b as u64 {
                    let epoch = k / n;
                    if perm.as_ref().map(|p| p.0) != Some(epoch) {
                        perm = Some((epoch, data::batch::shuffled_indices(images.n, *seed, epoch)));
                    }
                    if let Some((_, p)) = &perm {
                        idx.push(p[(k % n) as usize]);
                    }
                }
                Ok(Batch {
                    images: images.images_tensor(&idx)?,
                    cond: Some(Cond::Class(images.labels_tensor(&idx)?)),
                    captions: vec![],
                })
            }
        }
    }
}

/// The centring of `edm.md` §7, saved with the weights.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataStats {
    /// μ_c of the images in [−1, 1], per channel.
    pub mean: Vec<f64>,
    /// Pooled standard deviation of the centred data.
    pub sigma_data: f64,
}

impl DataStats {
    /// Measures μ_c and σ_d on `n` items of the stream (seeded separately from training).
    pub fn measure(source: &BatchSource, n: usize) -> Result<DataStats> {
        let chunk = 256;
        let (mut sum, mut sq, mut count) = (Vec::new(), Vec::new(), 0usize);
        for i in 0..n.div_ceil(chunk) {
            // Far from the training batches' indices.
            let x = source.batch(u64::MAX / (2 * chunk as u64) - i as u64, chunk)?.images;
            let (b, c) = (x.dim(0)?, x.dim(1)?);
            let v = x.to_vec_f64()?;
            let hw = v.len() / (b * c);
            sum.resize(c, 0.0);
            sq.resize(c, 0.0);
            for (k, &p) in v.iter().enumerate() {
                sum[(k / hw) % c] += p;
                sq[(k / hw) % c] += p * p;
            }
            count += b * hw;
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / count as f64).collect();
        let var = sq.iter().zip(&mean).map(|(q, m)| q / count as f64 - m * m).sum::<f64>() / mean.len() as f64;
        if !(var.is_finite() && var > 0.0) {
            return Err(Error::invalid("DataStats::measure", format!("degenerate data (variance {var})")));
        }
        Ok(DataStats { mean, sigma_data: var.sqrt() })
    }

    /// `[1, C, 1, 1]` μ_c.
    fn mean_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.mean.iter().map(|&m| m as f32).collect(), &[1, self.mean.len(), 1, 1])?)
    }
    /// img `[B, C, H, W]` in [−1, 1] → y = img − μ_c (on img's device).
    pub fn to_model(&self, img: &Tensor) -> Result<Tensor> {
        Ok(img.sub(&self.mean_tensor()?.to_dtype(img.dtype())?.to_device(img.device())?)?)
    }
    /// y → img = y + μ_c, clamped to [−1, 1]; images come back to the CPU (for PNGs and metrics).
    pub fn to_image(&self, y: &Tensor) -> Result<Tensor> {
        let y = y.to_device(tensor::Device::Cpu)?;
        Ok(y.add(&self.mean_tensor()?.to_dtype(y.dtype())?)?.unary(UnaryOp::Clamp(-1.0, 1.0))?)
    }
}

/// Token ids for prompts (validated against the shapes grammar's vocabulary).
pub fn prompt_tokens<S: AsRef<str>>(prompts: &[S]) -> Result<Tensor> {
    encode_prompts(prompts, Tokenizer::default().max_len())
}
