//! `r0-cli train …`
use crate::CliResult;
use clap::{Args, Subcommand};
use models::image_diffusion::{
    saved_config, train_image_diffusion, DataSpec, ImageDiffusion, ImageTrainConfig, InitFrom,
};
use models::shapes_classifier::{train_classifier, ClassifierConfig};
use models::toy2d::{train_toy, RunOptions, ToyTrainConfig};
use models::unet::CondConfig;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TrainCommand {
    /// Train an EDM diffusion model (the teacher of R0 and the base model of DDO).
    ///
    /// Checkpoints (weights, EMA, optimiser, RNG) go to `--out` every `--checkpoint-every` steps
    /// and on Ctrl-C; `--resume DIR` continues a run bit-exactly (its saved configuration is
    /// used; `--steps` may extend it). The EMA weights are kept in `DIR/model.safetensors`,
    /// usable with `r0-cli sample --weights`.
    Diffusion(Box<DiffusionArgs>),
    /// Train the small shapes-world domain classifier whose features give the Fréchet distance
    /// of `r0-cli eval fd` (presence of each of the 24 shape-colour classes, object count, coarse
    /// positions). About 1500 steps of batch 64; resumable like `diffusion`.
    Classifier(ClassifierArgs),
}

#[derive(Args)]
pub struct ClassifierArgs {
    /// Output folder (checkpoints, metrics.jsonl).
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in `--out` from its latest checkpoint.
    #[arg(long)]
    resume: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training steps (default 1500).
    #[arg(long)]
    steps: Option<u64>,
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("dir").required(true).args(["out", "resume"])))]
pub struct DiffusionArgs {
    /// Training data: shapes (captions, text-conditioned), shapes-cls (24 classes),
    /// toy2d:<ring|grid|...> (2-D MLP denoiser), mnist:<dir of idx files>, cifar10:<dir of .bin batches>.
    #[arg(long, default_value = "shapes")]
    data: String,
    /// Where to train the image models: cpu, cuda (GPU 0) or cuda:N (needs a build with
    /// `--features cuda`). Checkpoints are the same files either way; toy2d trains on the CPU.
    #[arg(long, default_value = "cpu", value_parser = crate::models_cmd::parse_device)]
    device: tensor::Device,
    /// Model size: tiny (seconds, for tests) or small (the shipped teacher). Ignored for toy2d.
    #[arg(long, default_value = "small")]
    config: String,
    /// Total training steps (default: the config's).
    #[arg(long)]
    steps: Option<u64>,
    /// New run into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Batch size (default: the config's).
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate (default: the config's).
    #[arg(long)]
    lr: Option<f64>,
    /// Steps after which the learning rate decays as lr/√(t/T) (default: the config's, 10000 for
    /// small).
    #[arg(long, value_name = "T")]
    t_ref: Option<u64>,
    /// Fine-tune: start the new run from these weights (a weights file or a training folder)
    /// instead of a random initialisation. Parameters the file lacks keep their fresh values.
    #[arg(long, value_name = "PATH")]
    init_from: Option<PathBuf>,
    /// Text models: add the separate word embedding to the encoder's output tokens (true in the
    /// presets; `--word-path false` gives the encoder of the first teacher stage).
    #[arg(long, value_name = "BOOL")]
    word_path: Option<bool>,
    /// Mean of ln σ in the training-noise distribution (default: the config's, −1.0).
    #[arg(long, allow_hyphen_values = true)]
    p_mean: Option<f64>,
    /// Standard deviation of ln σ in the training-noise distribution (default: the config's, 1.4).
    #[arg(long)]
    p_std: Option<f64>,
    /// Stop (saving a checkpoint) after this many steps in total, e.g. to train in chunks.
    #[arg(long)]
    stop_after: Option<u64>,
    /// Checkpoint every this many steps (default: the config's).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Write a sample grid every this many steps (default: the config's; 0 = at the end only).
    #[arg(long)]
    sample_every: Option<u64>,
    /// No progress bar (logs still go to metrics.jsonl).
    #[arg(long)]
    quiet: bool,
}

pub fn run(cmd: TrainCommand) -> CliResult<()> {
    match cmd {
        TrainCommand::Diffusion(a) => diffusion(*a),
        TrainCommand::Classifier(a) => classifier(a),
    }
}

fn diffusion(a: DiffusionArgs) -> CliResult<()> {
    let opts =
        RunOptions { resume: a.resume.is_some(), progress: !a.quiet, stop_after: a.stop_after, device: a.device };
    let dir = a.resume.clone().or(a.out.clone()).ok_or("give --out DIR or --resume DIR")?;
    if let Some(dist) = a.data.strip_prefix("toy2d:") {
        return toy(dist, &a, &dir, &opts);
    }
    let mut cfg = if a.resume.is_some() {
        if a.batch.is_some()
            || a.lr.is_some()
            || a.t_ref.is_some()
            || a.seed != 0
            || a.init_from.is_some()
            || a.word_path.is_some()
            || a.p_mean.is_some()
            || a.p_std.is_some()
        {
            eprintln!(
                "note: --batch, --lr, --t-ref, --seed, --init-from, --word-path, --p-mean and --p-std are fixed by the run being resumed; ignored"
            );
        }
        saved_config(&dir)?
    } else {
        if dir.join("latest").exists() {
            return Err(format!("{} already holds a run: continue it with --resume {0}", dir.display()).into());
        }
        let mut c = ImageTrainConfig::preset(&a.config, DataSpec::parse(&a.data)?)?;
        c.seed = a.seed;
        c.batch = a.batch.unwrap_or(c.batch);
        c.lr = a.lr.unwrap_or(c.lr);
        c.t_ref = a.t_ref.unwrap_or(c.t_ref);
        if c.t_ref == 0 {
            return Err("--t-ref must be at least 1".into());
        }
        if let (Some(w), CondConfig::Text(t)) = (a.word_path, &mut c.net.cond) {
            t.word_path = w;
        }
        c.loss.p_mean = a.p_mean.unwrap_or(c.loss.p_mean);
        c.loss.p_std = a.p_std.unwrap_or(c.loss.p_std);
        if let Some(p) = &a.init_from {
            let file = if p.is_dir() { p.join("model.safetensors") } else { p.clone() };
            let m = ImageDiffusion::load(&file)?;
            c.init_from = Some(InitFrom { path: file, steps: m.card.steps, images_seen: m.card.images_seen });
        }
        c
    };
    cfg.steps = a.steps.unwrap_or(cfg.steps);
    cfg.checkpoint_every = a.checkpoint_every.unwrap_or(cfg.checkpoint_every);
    cfg.sample_every = a.sample_every.unwrap_or(cfg.sample_every);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (m, report) = train_image_diffusion(&cfg, &dir, &opts)?;
    // A run stopped before the last fifth of its steps has no tail loss to report.
    let tail = match report.final_loss_per_dim {
        l if l.is_nan() && report.interrupted => "n/a (stopped before it)".to_string(),
        l => format!("{l:.4}"),
    };
    println!(
        "{} after {} steps ({} images, {} parameters) in {:.0} s; loss/dim over the last fifth {tail}; σ_d {:.4}",
        if report.interrupted { "stopped" } else { "finished" },
        report.steps,
        report.images_seen,
        report.params,
        report.seconds,
        report.sigma_data
    );
    println!(
        "EMA weights in {} ({} steps); sample grids in {}",
        dir.join("model.safetensors").display(),
        m.card.steps,
        dir.join("samples").display()
    );
    Ok(())
}

fn classifier(a: ClassifierArgs) -> CliResult<()> {
    let defaults = ClassifierConfig::default();
    let cfg = ClassifierConfig { seed: a.seed, steps: a.steps.unwrap_or(defaults.steps), ..defaults };
    let opts = RunOptions { resume: a.resume, progress: !a.quiet, stop_after: None, device: tensor::Device::Cpu };
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let (_, r) = train_classifier(&cfg, &a.out, &opts)?;
    println!(
        "{} steps ({} parameters) in {:.0} s; held-out exact match on {} renders: presence {:.3}, count {:.3}, position {:.3}",
        r.steps, r.params, r.seconds, r.held_out.n, r.held_out.presence, r.held_out.count, r.held_out.position
    );
    println!("use it with: r0-cli eval fd --classifier {}", a.out.display());
    Ok(())
}

fn toy(dist: &str, a: &DiffusionArgs, dir: &std::path::Path, opts: &RunOptions) -> CliResult<()> {
    let d = data::toy2d::Toy2d::from_name(dist)?;
    let defaults = ToyTrainConfig::default();
    let steps = a.steps.unwrap_or(defaults.steps);
    let cfg = ToyTrainConfig {
        seed: a.seed,
        steps,
        batch: a.batch.unwrap_or(defaults.batch),
        lr: a.lr.unwrap_or(defaults.lr),
        warmup: steps / 20,
        t_ref: steps / 4,
        checkpoint_every: a.checkpoint_every.unwrap_or(defaults.checkpoint_every),
        ..defaults
    };
    let (model, report) = train_toy(&d, &cfg, dir, opts)?;
    let samples = model.sample(10_000, a.seed + 1000, &cfg.sampler)?;
    let r = eval::toy2d::evaluate(&d, &samples, 7)?;
    println!("{} steps in {:.1} s, final loss {:.4}", report.steps, report.seconds, report.final_loss);
    let m = r.modes.as_ref();
    println!(
        "10 000 samples (Heun {} steps): in-mode {:.4}, modes covered {}/{}, KL {:.4}, mean log p {:.3} (data {:.3}), MMD² {:.2e} (floor {:.2e}), SW {:.4} (floor {:.4})",
        cfg.sampler.steps,
        m.map_or(f64::NAN, |m| m.in_mode_rate),
        m.map_or(0, |m| m.covered),
        m.map_or(0, |m| m.n_modes),
        m.map_or(f64::NAN, |m| m.kl),
        r.log_density.mean,
        r.log_density_true.mean,
        r.mmd.sum,
        r.mmd_floor.sum,
        r.sliced_wasserstein,
        r.sliced_wasserstein_floor
    );
    let json = dir.join("report.json");
    std::fs::write(&json, serde_json::to_string_pretty(&r)?).map_err(|e| format!("{}: {e}", json.display()))?;
    let plot = dir.join("samples.png");
    data::image::write_scatter_png(&plot, &samples, &data::image::ScatterOptions::default())?;
    println!("10 000 samples plotted in {}", plot.display());
    Ok(())
}
