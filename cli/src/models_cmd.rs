//! Picking a model for `sample` and `eval`: the shipped weights embedded in the binary, or a
//! weights file / training folder given with `--weights`.
use crate::CliResult;
use clap::Args;
use models::edm::{SamplerConfig, Solver};
use models::image_diffusion::{GuidanceScale, ImageDiffusion};
use std::path::{Path, PathBuf};

/// The model `sample` and `eval` use when `--model` is not given. A later few-step generator
/// replaces the teacher here.
pub const DEFAULT_MODEL: &str = "diffusion";

/// The guidance scale used when neither `--cfg` nor the weights' card gives one.
pub const FALLBACK_CFG: f64 = 2.0;

/// The shipped text-conditioned teacher (`weights/README.md` says how it was trained).
#[cfg(shipped_teacher)]
static TEACHER: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../weights/teacher.safetensors"));
#[cfg(not(shipped_teacher))]
static TEACHER: &[u8] = &[];

/// The model flags shared by `sample` and `eval`.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// Which model: diffusion (the EDM teacher). Default for `sample`: diffusion.
    #[arg(long)]
    pub model: Option<String>,
    /// A weights file (`model.safetensors` of a training run) or a training folder, instead of
    /// the weights shipped in the binary.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Sampler steps N (Heun uses 2N − 1 network evaluations).
    #[arg(long, default_value_t = 18)]
    pub steps: usize,
    /// Classifier-free guidance scale w (1 = none). Default: the best scale recorded with the
    /// weights.
    #[arg(long)]
    pub cfg: Option<f64>,
    /// Guidance interval LO,HI: apply the scale only while σ is in [LO, HI] (w = 1 elsewhere).
    /// Default: the interval recorded with the weights' best scale (when `--cfg` is not given).
    #[arg(long, value_name = "LO,HI", value_parser = parse_interval)]
    pub cfg_interval: Option<(f64, f64)>,
    /// ODE solver: heun or euler.
    #[arg(long, default_value = "heun")]
    pub solver: String,
    /// Where to run: cpu, cuda (GPU 0) or cuda:N. A GPU needs a build with `--features cuda`
    /// and an NVIDIA driver.
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: tensor::Device,
}

/// `--device cpu|cuda|cuda:N`, checked when parsed: a GPU this build or machine cannot use is
/// refused in one line ("no CUDA driver found", "rebuild with --features cuda").
pub fn parse_device(s: &str) -> Result<tensor::Device, String> {
    let d: tensor::Device = s.parse().map_err(|e: tensor::Error| e.to_string())?;
    tensor::Tensor::zeros_on(&[1], tensor::DType::F32, d).map_err(|e| e.to_string())?;
    Ok(d)
}

impl ModelArgs {
    pub fn load(&self) -> CliResult<ImageDiffusion> {
        let model = self.model.as_deref().unwrap_or(DEFAULT_MODEL);
        if model != "diffusion" {
            return Err(format!("unknown --model {model:?}: available: diffusion").into());
        }
        let m = match &self.weights {
            Some(p) => load_weights(p)?,
            None if TEACHER.is_empty() => {
                return Err("this build has no shipped weights (weights/teacher.safetensors): pass --weights".into())
            }
            None => ImageDiffusion::from_bytes(TEACHER, Path::new("<shipped weights/teacher.safetensors>"))?,
        };
        m.to_device(self.device)?;
        Ok(m)
    }

    pub fn sampler(&self) -> CliResult<SamplerConfig> {
        let solver = match self.solver.as_str() {
            "heun" => Solver::Heun,
            "euler" => Solver::Euler,
            s => return Err(format!("unknown --solver {s:?}: heun or euler").into()),
        };
        if self.steps == 0 {
            return Err("--steps must be at least 1".into());
        }
        Ok(SamplerConfig { steps: self.steps, solver, ..SamplerConfig::default() })
    }

    /// `--cfg`, else the card's best scale, else [`FALLBACK_CFG`]; the interval from
    /// `--cfg-interval`, else (only with the card's scale) the card's interval.
    pub fn guidance(&self, m: &ImageDiffusion) -> CliResult<GuidanceScale> {
        let w = self.cfg.or(m.card.best_cfg).unwrap_or(FALLBACK_CFG);
        if !w.is_finite() {
            return Err(format!("--cfg must be finite, got {w}").into());
        }
        let card_interval = if self.cfg.is_none() { m.card.best_cfg_interval } else { None };
        Ok(GuidanceScale { w, interval: self.cfg_interval.or(card_interval) })
    }
}

/// A weights file, or the `model.safetensors` of a training folder.
fn load_weights(p: &Path) -> CliResult<ImageDiffusion> {
    let file = if p.is_dir() { p.join("model.safetensors") } else { p.to_path_buf() };
    if !file.exists() {
        return Err(format!("no weights at {}", file.display()).into());
    }
    Ok(ImageDiffusion::load(&file)?)
}

/// `r0-cli export-weights`: a training folder's EMA weights as one shippable file.
#[derive(Args)]
pub struct ExportArgs {
    /// A training folder (its `model.safetensors`) or a weights file.
    #[arg(long)]
    from: PathBuf,
    /// The file to write (e.g. weights/teacher.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Store the weights as f16 (half the size; check the quality with `eval shapes`).
    #[arg(long)]
    f16: bool,
    /// Record this guidance scale as the default for `sample` and `eval`.
    #[arg(long)]
    best_cfg: Option<f64>,
    /// Record this guidance interval (LO,HI in σ) with the best scale.
    #[arg(long, value_name = "LO,HI", value_parser = parse_interval, requires = "best_cfg")]
    best_cfg_interval: Option<(f64, f64)>,
    /// Replace the card's notes (how the weights were made).
    #[arg(long)]
    notes: Option<String>,
}

pub fn export(a: ExportArgs) -> CliResult<()> {
    let mut m = load_weights(&a.from)?;
    if let Some(w) = a.best_cfg {
        if !w.is_finite() {
            return Err(format!("--best-cfg must be finite, got {w}").into());
        }
        m.card.best_cfg = Some(w);
        m.card.best_cfg_interval = a.best_cfg_interval;
    }
    if let Some(n) = a.notes {
        m.card.notes = n;
    }
    m.save(&a.out, a.f16.then_some(tensor::DType::F16))?;
    let bytes = std::fs::metadata(&a.out).map(|md| md.len()).unwrap_or(0);
    println!(
        "wrote {} ({:.1} MiB, {}; {} steps, {} images, best cfg {:?}, interval {:?})",
        a.out.display(),
        bytes as f64 / (1 << 20) as f64,
        if a.f16 { "f16" } else { "f32" },
        m.card.steps,
        m.card.images_seen,
        m.card.best_cfg,
        m.card.best_cfg_interval
    );
    Ok(())
}

/// "LO,HI" with 0 ≤ LO < HI, both finite.
fn parse_interval(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("expected LO,HI with 0 <= LO < HI (noise levels σ), got {s:?}");
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?);
    if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi) {
        return Err(bad());
    }
    Ok((lo, hi))
}
