//! The image-diffusion training run (`edm.md` §3, §8.2): fresh batches from a seekable stream,
//! EDM's loss with condition dropout, Adam with warm-up and 1/√t decay, gradient clipping and
//! EDM's NaN guard, an EMA by half-life in images, checkpoints with bit-exact resume, metrics and
//! sample grids. The EMA weights are also written as a single weights file (`model.safetensors`)
//! at every checkpoint, ready for `r0-cli sample --weights`.
use super::{BatchSource, DataStats, ImageDiffusion, ImageTrainConfig, ModelCard};
use crate::edm::{sanitize_grads, Cond, CondDropout, EdmPrecond, LossBuckets, SamplerConfig};
use crate::error::{Error, Result};
use crate::toy2d::{lr_factor, RunOptions};
use crate::unet::{CondConfig, UNet};
use autograd::Var;
use data::image::{write_png_grid, GridOptions};
use nn::optim::{Adam, Ema, EmaMode, GradSet, Optimizer};
use nn::training::{run_loop, LoopConfig, LoopEnd, StepStats};
use nn::{CheckpointDir, ModuleExt, TrainState};
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tensor::Rng;

/// The prompts of the sample grids written during training (two seeds each).
pub const GRID_PROMPTS: [&str; 8] = [
    "a red circle",
    "a blue square",
    "a green triangle",
    "a yellow cross",
    "two purple circles",
    "a red square and a white triangle",
    "a blue circle left of a green square",
    "a yellow triangle above a red cross",
];

/// What the checkpoint stores besides the weights.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct SavedRun {
    config: ImageTrainConfig,
    stats: DataStats,
}

/// What a run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageTrainReport {
    pub steps: u64,
    pub images_seen: u64,
    pub params: usize,
    pub seconds: f64,
    pub interrupted: bool,
    /// Mean loss per dimension over the steps of this session's last fifth.
    pub final_loss_per_dim: f64,
    /// (ln σ from, ln σ to, mean ℓ per dim) over the same steps.
    pub loss_by_sigma: Vec<(f64, f64, f64)>,
    pub nonfinite_grads: u64,
    pub sigma_data: f64,
}

/// The configuration of the run in `dir` (from its latest checkpoint), to resume it.
pub fn saved_config(dir: &Path) -> Result<ImageTrainConfig> {
    Ok(read_saved(dir)?.config)
}

fn read_saved(dir: &Path) -> Result<SavedRun> {
    let latest = CheckpointDir::new(dir)
        .latest()?
        .ok_or_else(|| Error::invalid("resume", format!("no checkpoint in {}", dir.display())))?;
    let (_, meta) = tensor::safetensors_io::load_with_metadata(latest.join("state.safetensors"))?;
    let run = meta.get("config").map(String::as_str).unwrap_or("");
    serde_json::from_str(run)
        .map_err(|e| Error::invalid("resume", format!("{}: checkpoint config: {e}", latest.display())))
}

/// Trains (or resumes, with `opts.resume`) and returns the EMA model. `out_dir` receives
/// `step-N/` checkpoints, `latest`, `metrics.jsonl`, `model.safetensors` (EMA, f32) and
/// `samples/step-N.png`.
pub fn train_image_diffusion(
    cfg: &ImageTrainConfig,
    out_dir: &Path,
    opts: &RunOptions,
) -> Result<(ImageDiffusion, ImageTrainReport)> {
    cfg.validate()?;
    let t0 = std::time::Instant::now();
    let max_len = match cfg.net.cond {
        CondConfig::Text(t) => t.max_len,
        _ => data::shapes::tokenizer::DEFAULT_MAX_LEN,
    };
    let source = BatchSource::open(&cfg.data, cfg.seed, max_len)?;
    let ckpt = CheckpointDir::new(out_dir);
    let resuming = opts.resume && ckpt.latest()?.is_some();
    // On resume the saved statistics are used (they are a pure function of the data anyway).
    let saved_run = if resuming { Some(read_saved(out_dir)?) } else { None };
    // A fine-tuning run starts from the weights in `init_from` (on resume the checkpoint has them).
    let init = match (&cfg.init_from, resuming) {
        (Some(i), false) => Some(ImageDiffusion::load(&i.path)?),
        _ => None,
    };
    let stats = match (&saved_run, &init) {
        (Some(r), _) => r.stats.clone(),
        (None, Some(m)) => m.card.stats.clone(),
        (None, None) => DataStats::measure(&source, cfg.stats_items)?,
    };
    let saved = SavedRun { config: cfg.clone(), stats: stats.clone() };
    let model = EdmPrecond::new(UNet::new(&cfg.net, &mut Rng::new(cfg.seed))?, stats.sigma_data)?;
    if let (Some(m), Some(i)) = (&init, &cfg.init_from) {
        load_init(&model, m, cfg, &i.path)?;
    }
    let params = model.trainable_params();
    let mut opt = Adam::new(cfg.lr, cfg.betas, 1e-8, 0.0);
    let mut ema = Ema::new(&model, EmaMode::HalfLife { samples: cfg.ema_half_life, rampup: Some(cfg.ema_rampup) });
    let dropout = match model.net.null_cond()? {
        Some(null) if cfg.cond_dropout > 0.0 => Some(CondDropout::new(cfg.cond_dropout, null)?),
        _ => None,
    };
    let json = serde_json::to_value(&saved).map_err(|e| Error::invalid("train", e.to_string()))?;
    let mut state = TrainState {
        step: 0,
        samples_seen: 0,
        rng: Rng::new(cfg.seed.wrapping_add(1)),
        optim: opt.state(),
        ema: None,
        config: json.clone(),
    };
    if resuming {
        state = ckpt.load(&model)?;
        let theirs = saved_run.ok_or_else(|| Error::invalid("resume", "missing run config"))?;
        // Only the length of the run and the logging/checkpoint cadence may change between chunks.
        let mut mine = saved.clone();
        mine.config.steps = theirs.config.steps;
        mine.config.checkpoint_every = theirs.config.checkpoint_every;
        mine.config.sample_every = theirs.config.sample_every;
        mine.config.log_every = theirs.config.log_every;
        if theirs != mine {
            return Err(Error::invalid(
                "resume",
                format!("the checkpoint was made with {:?}, not {:?}", theirs.config, saved.config),
            ));
        }
        state.config = json;
        opt.load_state(&state.optim)?;
        ema.shadow = state.ema.take().ok_or_else(|| Error::invalid("resume", "the checkpoint has no EMA"))?;
    }
    // Train on the chosen device: the weights move now (after any loads); optimiser moments and
    // EMA shadows follow their parameters at the first step.
    model.to_device(opts.device)?;
    let stop = Arc::new(AtomicBool::new(false));
    let loop_cfg = LoopConfig {
        total_steps: cfg.steps,
        checkpoint_every: cfg.checkpoint_every,
        log_every: cfg.log_every,
        out_dir: out_dir.to_path_buf(),
        progress: opts.progress,
        stop: Some(stop.clone()),
    };
    let start = state.step;
    let dims = (cfg.net.img_channels * cfg.net.img_size * cfg.net.img_size) as f64;
    let tail_from = start + (cfg.steps.saturating_sub(start)) * 4 / 5;
    let (state, opt, ema) = (RefCell::new(state), RefCell::new(opt), RefCell::new(ema));
    let mut buckets = LossBuckets::new(&cfg.loss, 8);
    let (mut tail_sum, mut tail_n, mut nonfinite) = (0.0, 0u64, 0u64);
    let (steps0, images0) = cfg.init_from.as_ref().map_or((0, 0), |i| (i.steps, i.images_seen));
    let card = |steps: u64, images: u64| {
        ModelCard {
        net: cfg.net.clone(),
        stats: stats.clone(),
        data: cfg.data.clone(),
        steps: steps0 + steps,
        images_seen: images0 + images,
        best_cfg: None,
        best_cfg_interval: None,
        notes: match &cfg.init_from {
            Some(i) => format!(
                "fine-tuned by train_image_diffusion from {} ({} steps, {} images), then {steps} steps, seed {}, batch {}",
                i.path.display(),
                i.steps,
                i.images_seen,
                cfg.seed,
                cfg.batch
            ),
            None => format!("trained by train_image_diffusion, seed {}, batch {}", cfg.seed, cfg.batch),
        },
    }
    };
    let ema_model = |ema: &Ema, steps: u64, images: u64| -> nn::Result<ImageDiffusion> {
        let m = ImageDiffusion { model: model.clone(), card: card(steps, images) };
        ema.copy_to(&m.model)?;
        Ok(m)
    };
    let end = run_loop(
        &loop_cfg,
        start,
        |step| {
            let mut st = state.borrow_mut();
            let batch = source.batch(step, cfg.batch)?;
            let y = Var::constant(stats.to_model(&batch.images)?.to_device(opts.device)?);
            let out = cfg.loss.loss(&model, &y, batch.cond.as_ref(), dropout.as_ref(), &mut st.rng)?;
            let mut grads = GradSet::collect(&params, &out.loss.backward()?);
            nonfinite += sanitize_grads(&mut grads)?;
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
                let per_dim = out.per_sample.value().scale(1.0 / dims)?;
                buckets.add(&out.sigma, &per_dim)?;
                (tail_sum, tail_n) = (tail_sum + loss / dims, tail_n + 1);
            }
            if opts.stop_after == Some(step + 1) {
                stop.store(true, Ordering::SeqCst);
            }
            if cfg.sample_every > 0 && (step + 1) % cfg.sample_every == 0 && step + 1 < cfg.steps {
                let m = ema_model(&ema.borrow(), step + 1, st.samples_seen)?;
                write_grid(&m, &out_dir.join("samples").join(format!("step-{}.png", step + 1)))?;
            }
            let metrics = vec![
                ("loss_per_dim".into(), loss / dims),
                ("lr".into(), cfg.lr * factor),
                ("grad_norm".into(), gnorm),
                ("nonfinite_grads".into(), nonfinite as f64),
            ];
            Ok(StepStats { loss: loss / dims, samples: cfg.batch as u64, metrics })
        },
        |_| {
            let mut st = state.borrow_mut();
            st.optim = opt.borrow().state();
            st.ema = Some(ema.borrow().shadow.clone());
            ckpt.save(&model, &st, 2)?;
            let m = ema_model(&ema.borrow(), st.step, st.samples_seen)?;
            Ok(m.save(&out_dir.join("model.safetensors"), None)?)
        },
    )?;
    let st = state.borrow();
    let m = ema_model(&ema.borrow(), st.step, st.samples_seen)?;
    if st.step >= cfg.steps {
        write_grid(&m, &out_dir.join("samples").join(format!("step-{}.png", st.step)))?;
    }
    let means = buckets.means();
    let report = ImageTrainReport {
        steps: st.step,
        images_seen: st.samples_seen,
        params: model.param_count(),
        seconds: t0.elapsed().as_secs_f64(),
        interrupted: matches!(end, LoopEnd::Interrupted { .. }),
        final_loss_per_dim: if tail_n > 0 { tail_sum / tail_n as f64 } else { f64::NAN },
        loss_by_sigma: (0..means.len()).map(|i| (buckets.edges[i], buckets.edges[i + 1], means[i])).collect(),
        nonfinite_grads: nonfinite,
        sigma_data: stats.sigma_data,
    };
    Ok((m, report))
}

/// Copies the weights of `init` into the fresh `model`: every tensor of the file must fit a
/// parameter (parameters the file lacks keep their initialisation), and the data must match.
fn load_init(model: &EdmPrecond<UNet>, init: &ImageDiffusion, cfg: &ImageTrainConfig, path: &Path) -> Result<()> {
    if init.card.data != cfg.data {
        return Err(Error::invalid(
            "--init-from",
            format!("{} was trained on {:?}, this run uses {:?}", path.display(), init.card.data, cfg.data),
        ));
    }
    let report = nn::checkpoint::load_state_dict(model, &init.model.state_dict(), false, path)?;
    if !report.unexpected.is_empty() {
        return Err(Error::invalid(
            "--init-from",
            format!(
                "{} does not fit this configuration: the network has no {}",
                path.display(),
                report.unexpected.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A 4×4 grid: each [`GRID_PROMPTS`] prompt (or class 0..7) with two seeds, Heun 18 steps,
/// CFG 2 for conditional models.
fn write_grid(m: &ImageDiffusion, path: &Path) -> Result<()> {
    let cond: Option<Cond> = match m.card.net.cond {
        CondConfig::Text(_) => {
            let prompts: Vec<&str> = GRID_PROMPTS.iter().flat_map(|p| [*p, *p]).collect();
            Some(m.text_cond(&prompts)?)
        }
        CondConfig::Class { classes } => Some(m.class_cond(&(0..16).map(|i| (i / 2) % classes).collect::<Vec<_>>())?),
        CondConfig::None => None,
    };
    let images = m.sample(cond.as_ref(), 16, &SamplerConfig::default(), 2.0, 0)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::invalid("sample grid", format!("{}: {e}", dir.display())))?;
    }
    write_png_grid(path, &images, &GridOptions { cols: Some(4), ..GridOptions::default() })?;
    Ok(())
}
