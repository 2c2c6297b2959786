//! Training the EDM MLP denoiser on a 2-D toy (`edm.md` §8.1), with the shared training loop:
//! Adam, a warm-up then lr/√max(t/t_ref, 1) decay, EMA with a half-life of a fixed fraction of
//! the images seen, EDM's non-finite-gradient guard, the per-σ loss buckets, checkpoints and
//! bit-exact resume. Sampling uses the EMA weights, in f64.
//!
//! **Units.** The model trains on y' = a·y with a = 0.5 / RMS(y), so the data have RMS 0.5 and
//! σ_d = 0.5 (`edm.md` §7, the uncentred variant). Samples are mapped back by 1/a, so every
//! metric is in the distribution's own units. `a` and σ_d are saved with the checkpoint.
use crate::edm::{generate, EdmLoss, EdmPrecond, ExactGmmDenoiser, LossBuckets, SamplerConfig, Solver};
use crate::error::{Error, Result};
use crate::mlp_denoiser::{MlpDenoiser, MlpDenoiserConfig};
use autograd::{no_grad, Var};
use data::toy2d::{tensor_to_points, Toy2d};
use nn::optim::{Adam, Ema, EmaMode, GradSet, Optimizer};
use nn::training::{run_loop, LoopConfig, LoopEnd, StepStats};
use nn::{CheckpointDir, ModuleExt, TrainState};
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tensor::{DType, Device, Rng};

/// The RMS the data are scaled to, and hence σ_d.
pub const TOY_SIGMA_DATA: f64 = 0.5;

/// Everything that defines a toy run (saved in the checkpoint; a resume must match it).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToyTrainConfig {
    pub seed: u64,
    pub steps: u64,
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps, then lr/√max(t/t_ref, 1).
    pub warmup: u64,
    pub t_ref: u64,
    pub betas: (f64, f64),
    /// Global gradient-norm clip (0 = off).
    pub grad_clip: f64,
    /// EMA half-life as a fraction of the images seen so far.
    pub ema_ratio: f64,
    pub loss: EdmLoss,
    pub net: MlpDenoiserConfig,
    /// The sampler for evaluation, in model units (σ_d = 0.5).
    pub sampler: SamplerConfig,
    pub checkpoint_every: u64,
    pub log_every: u64,
}

impl Default for ToyTrainConfig {
    fn default() -> Self {
        ToyTrainConfig {
            seed: 0,
            steps: 2000,
            batch: 512,
            lr: 1e-2,
            warmup: 100,
            t_ref: 500,
            betas: (0.9, 0.99),
            grad_clip: 0.0,
            ema_ratio: 0.1,
            loss: EdmLoss::default(),
            net: MlpDenoiserConfig::default(),
            // Heun, N = 18 (35 NFE); σ_max = 10 is 20× the data scale 0.5.
            sampler: SamplerConfig {
                steps: 18,
                sigma_min: 0.002,
                sigma_max: 10.0,
                rho: 7.0,
                solver: Solver::Heun,
                churn: None,
            },
            checkpoint_every: 0,
            log_every: 50,
        }
    }
}

impl ToyTrainConfig {
    /// Rejects settings no run can use (the loop, the optimiser and the EMA would fail later or
    /// silently do nothing).
    pub fn validate(&self) -> Result<()> {
        let ok = self.steps > 0
            && self.batch > 0
            && self.lr.is_finite()
            && self.lr > 0.0
            && (0.0..1.0).contains(&self.betas.0)
            && (0.0..1.0).contains(&self.betas.1)
            && self.grad_clip >= 0.0
            && self.ema_ratio.is_finite()
            && self.ema_ratio >= 0.0
            && self.loss.p_std.is_finite()
            && self.loss.p_std > 0.0;
        if ok {
            self.sampler.sigmas().map(|_| ())
        } else {
            Err(Error::invalid(
                "ToyTrainConfig",
                format!("need steps, batch, lr, p_std > 0, betas in [0, 1), clip and EMA ratio ≥ 0: {self:?}"),
            ))
        }
    }
}

/// How to run (not part of the experiment's definition).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from the latest checkpoint in the output folder.
    pub resume: bool,
    pub progress: bool,
    /// Stop (and save) after this many steps in total, as Ctrl-C would.
    pub stop_after: Option<u64>,
    /// Where the model trains (the image-diffusion run; the others train on the CPU).
    pub device: tensor::Device,
}

/// A trained toy model in data units: D in model units plus the scale a.
#[derive(Clone, Debug)]
pub struct ToyModel {
    pub precond: EdmPrecond<MlpDenoiser>,
    pub data_scale: f64,
}

impl ToyModel {
    /// `n` samples in data units from `sampler` (model units), in f64 under `no_grad`;
    /// a pure function of `seed`.
    pub fn sample(&self, n: usize, seed: u64, sampler: &SamplerConfig) -> Result<Vec<[f64; 2]>> {
        let m = self.precond.clone();
        m.cast(DType::F64)?;
        sample_points(&m, n, seed, sampler, self.data_scale)
    }

    /// The same sampler run on the exact mixture denoiser of `dist` (the floor a perfect network
    /// would reach with this sampler).
    pub fn sample_exact(
        dist: &Toy2d,
        data_scale: f64,
        n: usize,
        seed: u64,
        sampler: &SamplerConfig,
    ) -> Result<Vec<[f64; 2]>> {
        let mix = dist.mixture().ok_or_else(|| Error::invalid("sample_exact", "the checkerboard is not a mixture"))?;
        sample_points(&ExactGmmDenoiser::from_mixture(mix, data_scale)?, n, seed, sampler, data_scale)
    }

    /// The EMA weights of the latest checkpoint in `dir` (as written by [`train_toy`]).
    pub fn load(dir: &Path) -> Result<(ToyModel, ToyTrainConfig)> {
        let ck = CheckpointDir::new(dir);
        let latest = ck
            .latest()?
            .ok_or_else(|| Error::invalid("ToyModel::load", format!("no checkpoint in {}", dir.display())))?;
        let (_, meta) = tensor::safetensors_io::load_with_metadata(latest.join("state.safetensors"))?;
        let saved: SavedConfig = serde_json::from_str(meta.get("config").map(String::as_str).unwrap_or(""))
            .map_err(|e| Error::invalid("ToyModel::load", format!("config: {e}")))?;
        let net = MlpDenoiser::new(&saved.config.net, &mut Rng::new(0))?;
        let precond = EdmPrecond::new(net, saved.sigma_data)?;
        let ema = tensor::safetensors_io::load(latest.join("ema.safetensors"))?;
        nn::checkpoint::load_state_dict(&precond, &ema, true, &latest)?;
        Ok((ToyModel { precond, data_scale: saved.data_scale }, saved.config))
    }
}

fn sample_points(
    den: &impl crate::edm::Denoiser,
    n: usize,
    seed: u64,
    sampler: &SamplerConfig,
    data_scale: f64,
) -> Result<Vec<[f64; 2]>> {
    let x = no_grad(|| generate(den, &[n, 2], DType::F64, Device::Cpu, sampler, None, &mut Rng::new(seed)))?;
    Ok(tensor_to_points(&x.value().scale(1.0 / data_scale)?)?)
}

/// What the checkpoint stores besides the weights.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct SavedConfig {
    config: ToyTrainConfig,
    data_scale: f64,
    sigma_data: f64,
}

/// What a run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ToyTrainReport {
    pub distribution: String,
    pub steps: u64,
    pub batch: usize,
    pub params: usize,
    pub seconds: f64,
    /// `true` when the run stopped early (Ctrl-C or `stop_after`) after saving.
    pub interrupted: bool,
    /// Mean batch loss (sum over the 2 dims) over the last fifth of the steps run.
    pub final_loss: f64,
    /// Mean loss per bin of ln σ over the last fifth: (ln σ from, ln σ to, mean ℓ).
    pub loss_by_sigma: Vec<(f64, f64, f64)>,
    /// Gradient elements replaced by EDM's NaN/Inf guard.
    pub nonfinite_grads: u64,
    pub data_scale: f64,
    pub sigma_data: f64,
}

/// a = 0.5 / RMS(y), from 100 000 exact samples.
pub fn toy_data_scale(dist: &Toy2d) -> Result<f64> {
    let pts = dist.sample(100_000, 0xD5CA1E);
    let ms = pts.iter().map(|p| p[0] * p[0] + p[1] * p[1]).sum::<f64>() / (2.0 * pts.len() as f64);
    if !(ms.is_finite() && ms > 0.0) {
        return Err(Error::invalid("toy_data_scale", format!("mean square {ms}")));
    }
    Ok(TOY_SIGMA_DATA / ms.sqrt())
}

/// The data seed of step t: fresh exact samples every step, reproducible on resume.
fn data_seed(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x5EED);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Trains the MLP denoiser on `dist` (any toy: resampled exactly every step) and returns the EMA
/// model. Checkpoints (weights, EMA, optimiser, RNG, config) and `metrics.jsonl` go to `out_dir`.
pub fn train_toy(
    dist: &Toy2d,
    cfg: &ToyTrainConfig,
    out_dir: &Path,
    opts: &RunOptions,
) -> Result<(ToyModel, ToyTrainReport)> {
    cfg.validate()?;
    let t0 = std::time::Instant::now();
    let data_scale = toy_data_scale(dist)?;
    let saved = SavedConfig { config: cfg.clone(), data_scale, sigma_data: TOY_SIGMA_DATA };
    let model = EdmPrecond::new(MlpDenoiser::new(&cfg.net, &mut Rng::new(cfg.seed))?, TOY_SIGMA_DATA)?;
    let params = model.trainable_params();
    let ckpt = CheckpointDir::new(out_dir);
    let mut opt = Adam::new(cfg.lr, cfg.betas, 1e-8, 0.0);
    let total_images = (cfg.steps * cfg.batch as u64) as f64;
    let mut ema =
        Ema::new(&model, EmaMode::HalfLife { samples: cfg.ema_ratio * total_images, rampup: Some(cfg.ema_ratio) });
    let json = serde_json::to_value(&saved).map_err(|e| Error::invalid("train_toy", e.to_string()))?;
    let mut state = TrainState {
        step: 0,
        samples_seen: 0,
        rng: Rng::new(cfg.seed.wrapping_add(1)),
        optim: opt.state(),
        ema: None,
        config: json,
    };
    if opts.resume && ckpt.latest()?.is_some() {
        state = ckpt.load(&model)?;
        let theirs: SavedConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| Error::invalid("train_toy", format!("checkpoint config: {e}")))?;
        if theirs != saved {
            return Err(Error::invalid("train_toy", format!("the checkpoint was made with {theirs:?}, not {saved:?}")));
        }
        opt.load_state(&state.optim)?;
        ema.shadow = state.ema.take().ok_or_else(|| Error::invalid("train_toy", "the checkpoint has no EMA"))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let loop_cfg = LoopConfig {
        total_steps: cfg.steps,
        checkpoint_every: cfg.checkpoint_every,
        log_every: cfg.log_every,
        out_dir: out_dir.to_path_buf(),
        progress: opts.progress,
        stop: Some(stop.clone()),
    };
    let tail_from = cfg.steps - cfg.steps / 5;
    let (start, state) = (state.step, RefCell::new(state));
    let (opt, ema) = (RefCell::new(opt), RefCell::new(ema));
    let mut buckets = LossBuckets::new(&cfg.loss, 8);
    let (mut tail_sum, mut tail_n, mut nonfinite) = (0.0, 0u64, 0u64);
    let end = run_loop(
        &loop_cfg,
        start,
        |step| {
            let mut st = state.borrow_mut();
            let y = dist
                .sample_tensor(cfg.batch, data_seed(cfg.seed, step), DType::F32)
                .map_err(|e| nn::Error::from(Error::from(e)))?;
            let y = Var::constant(y.scale(data_scale)?);
            let out = cfg.loss.loss(&model, &y, None, None, &mut st.rng)?;
            let mut grads = GradSet::collect(&params, &out.loss.backward()?);
            nonfinite += crate::edm::sanitize_grads(&mut grads)?;
            let gnorm = if cfg.grad_clip > 0.0 { grads.clip_norm(cfg.grad_clip)? } else { grads.global_norm()? };
            let factor = lr_factor(step, cfg.warmup, cfg.t_ref);
            let mut opt = opt.borrow_mut();
            opt.set_lr(cfg.lr * factor);
            opt.step(&grads)?;
            ema.borrow_mut().update(&model, cfg.batch as u64, st.samples_seen)?;
            st.samples_seen += cfg.batch as u64;
            st.step = step + 1;
            let loss = out.loss.to_scalar_f64()?;
            if step >= tail_from {
                buckets.add(&out.sigma, out.per_sample.value())?;
                (tail_sum, tail_n) = (tail_sum + loss, tail_n + 1);
            }
            if opts.stop_after == Some(step + 1) {
                stop.store(true, Ordering::SeqCst);
            }
            let metrics = vec![
                ("loss_per_dim".into(), loss / 2.0),
                ("lr".into(), cfg.lr * factor),
                ("grad_norm".into(), gnorm),
                ("nonfinite_grads".into(), nonfinite as f64),
            ];
            Ok(StepStats { loss, samples: cfg.batch as u64, metrics })
        },
        |_| {
            let mut st = state.borrow_mut();
            st.optim = opt.borrow().state();
            st.ema = Some(ema.borrow().shadow.clone());
            ckpt.save(&model, &st, 2).map(|_| ())
        },
    )?;
    let ema_model = model.clone();
    ema.borrow().copy_to(&ema_model)?;
    let means = buckets.means();
    let report = ToyTrainReport {
        distribution: dist.name().to_string(),
        steps: state.borrow().step,
        batch: cfg.batch,
        params: model.param_count(),
        seconds: t0.elapsed().as_secs_f64(),
        interrupted: matches!(end, LoopEnd::Interrupted { .. }),
        final_loss: if tail_n > 0 { tail_sum / tail_n as f64 } else { f64::NAN },
        loss_by_sigma: (0..means.len()).map(|i| (buckets.edges[i], buckets.edges[i + 1], means[i])).collect(),
        nonfinite_grads: nonfinite,
        data_scale,
        sigma_data: TOY_SIGMA_DATA,
    };
    Ok((ToyModel { precond: ema_model, data_scale }, report))
}

/// Linear warm-up over `warmup` steps, then 1/√max(t/t_ref, 1) (EDM2's toy schedule).
pub fn lr_factor(step: u64, warmup: u64, t_ref: u64) -> f64 {
    let t = (step + 1) as f64;
    let warm = if warmup > 0 { (t / warmup as f64).min(1.0) } else { 1.0 };
    warm / (t / t_ref.max(1) as f64).max(1.0).sqrt()
}
