//! `r0-cli eval …`
use crate::models_cmd::{ModelArgs, DEFAULT_MODEL};
use crate::CliResult;
use clap::{Args, Subcommand};
use data::image::{read_png_folder, write_png_grid, GridOptions};
use data::shapes::{prompt_set, render_batch, Prompt, SceneSampler, ShapesRng};
use models::edm::SamplerConfig;
use models::image_diffusion::{GuidanceScale, ImageDiffusion};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Score images against the shapes-world prompts with the rule-based evaluator (GenEval rules).
    Shapes(ShapesArgs),
    /// Fréchet distance of a model's samples to real renders in the domain classifier's feature
    /// space (train it with `r0-cli train classifier`), beside the real-vs-real floor. Captions
    /// come from the training distribution (a fresh seed).
    Fd(FdArgs),
}

#[derive(Args)]
pub struct FdArgs {
    /// The classifier's training folder.
    #[arg(long)]
    classifier: PathBuf,
    /// Generated images (and real images per set).
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Seed of the real renders and captions (not a training seed).
    #[arg(long, default_value_t = 777)]
    real_seed: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    gen: ModelArgs,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["real", "images", "model", "weights"])))]
pub struct ShapesArgs {
    /// Score ground-truth renders of the prompt set (the evaluator's own ceiling).
    #[arg(long)]
    real: bool,
    /// Score the PNGs in this folder (sorted by name). With a `prompts.txt` there (one prompt per
    /// image, same order) any prompts are used; otherwise the folder must hold `--per-prompt`
    /// images for each prompt of `--set`, prompt-major (prompt i, sample j at i·k + j).
    #[arg(long)]
    images: Option<PathBuf>,
    /// Prompt set: geneval, geneval_small or geneval_heldout.
    #[arg(long, default_value = "geneval")]
    set: String,
    /// Images per prompt (default: 4 for --real/--images, 1 for a model).
    #[arg(long)]
    per_prompt: Option<usize>,
    /// Generate the images with a model (`--model diffusion`, or `--weights PATH`); seeds are
    /// `--seed` for image i of the run.
    #[command(flatten)]
    gen: ModelArgs,
    /// Also write the generated images as one PNG grid here.
    #[arg(long)]
    save_grid: Option<PathBuf>,
    /// Seed for `--real` renders.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image side for `--real` renders.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// List up to this many misses (prompt and failed rule).
    #[arg(long, default_value_t = 0)]
    show_misses: usize,
}

pub fn run(cmd: EvalCommand) -> CliResult<()> {
    match cmd {
        EvalCommand::Shapes(a) => shapes(a),
        EvalCommand::Fd(a) => fd(a),
    }
}

fn shapes(a: ShapesArgs) -> CliResult<()> {
    let from_model = a.gen.model.is_some() || a.gen.weights.is_some();
    let per_prompt = a.per_prompt.unwrap_or(if from_model { 1 } else { 4 });
    if per_prompt == 0 {
        return Err("--per-prompt must be at least 1".into());
    }
    let set = prompt_set(&a.set)?;
    let mut header = None;
    let (images, prompts) = if from_model {
        let m = a.gen.load()?;
        let (sampler, w) = (a.gen.sampler()?, a.gen.guidance(&m)?);
        let prompts: Vec<Prompt> =
            set.prompts.iter().flat_map(|p| std::iter::repeat_n(p.clone(), per_prompt)).collect();
        let texts: Vec<&str> = prompts.iter().map(|p| p.text.as_str()).collect();
        let t = std::time::Instant::now();
        let images = progress_sample(&m, &texts, &sampler, w, a.seed)?;
        header = Some(format!(
            "{} images ({} prompts × {per_prompt}) from {} steps={} cfg={w} in {:.0} s",
            texts.len(),
            set.prompts.len(),
            a.gen.model.as_deref().unwrap_or(DEFAULT_MODEL),
            sampler.steps,
            t.elapsed().as_secs_f64()
        ));
        if let Some(path) = &a.save_grid {
            write_png_grid(path, &images, &GridOptions::default())?;
        }
        (images, prompts)
    } else if let Some(dir) = &a.images {
        let folder = read_png_folder(dir)?;
        let n = folder.paths.len();
        let listed = dir.join("prompts.txt");
        let prompts: Vec<Prompt> = if listed.exists() {
            let text = std::fs::read_to_string(&listed).map_err(|e| format!("{}: {e}", listed.display()))?;
            let ps = text.lines().filter(|l| !l.trim().is_empty()).map(Prompt::parse).collect::<Result<Vec<_>, _>>()?;
            if ps.len() != n {
                return Err(format!("{} lists {} prompts for {n} images", listed.display(), ps.len()).into());
            }
            ps
        } else {
            if n != set.prompts.len() * per_prompt {
                return Err(format!(
                    "{} holds {n} images; set {} needs {} × {} = {} (or add a prompts.txt)",
                    dir.display(),
                    set.name,
                    set.prompts.len(),
                    per_prompt,
                    set.prompts.len() * per_prompt
                )
                .into());
            }
            set.prompts.iter().flat_map(|p| std::iter::repeat_n(p.clone(), per_prompt)).collect()
        };
        (folder.images, prompts)
    } else {
        let sampler = SceneSampler { exclude_heldout: false, ..SceneSampler::default() };
        let mut scenes = Vec::new();
        let mut prompts = Vec::new();
        for (i, p) in set.prompts.iter().enumerate() {
            for j in 0..per_prompt {
                let item = (i * per_prompt + j) as u64;
                scenes.push(sampler.scene_for(p, &mut ShapesRng::for_item(a.seed, item))?);
                prompts.push(p.clone());
            }
        }
        (render_batch(&scenes, a.size, a.size)?, prompts)
    };
    let report = eval::shapes::Evaluator::default().evaluate_batch(&images, &prompts)?;
    if a.json {
        println!("{}", report.to_json());
    } else {
        if let Some(h) = header {
            println!("{h}");
        }
        println!("{report}");
        for m in report.misses.iter().take(a.show_misses) {
            println!("miss #{}: {:?}: {}", m.index, m.prompt, m.reason);
        }
    }
    Ok(())
}

/// Samples one image per prompt, with a progress bar on stderr.
fn progress_sample(
    m: &ImageDiffusion,
    texts: &[&str],
    sampler: &SamplerConfig,
    w: GuidanceScale,
    seed: u64,
) -> CliResult<tensor::Tensor> {
    let bar = indicatif::ProgressBar::new(texts.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("sampling {bar:30} {pos}/{len} images [{elapsed} < {eta}]")
            .map_err(|e| e.to_string())?,
    );
    let images = m.sample_with_progress(Some(&m.text_cond(texts)?), 0, sampler, w, seed, |k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    Ok(images)
}

fn fd(a: FdArgs) -> CliResult<()> {
    if a.n < 2 {
        return Err("--n must be at least 2".into());
    }
    let classifier = models::shapes_classifier::load_classifier(&a.classifier)?;
    let m = a.gen.load()?;
    let (sampler, w) = (a.gen.sampler()?, a.gen.guidance(&m)?);
    // Captions of items 2n..3n of the real stream: disjoint from both real sets (0..n, n..2n).
    let sampler_real = SceneSampler::default();
    let captions: Vec<String> = (0..a.n as u64)
        .map(|i| sampler_real.sample_pair_at(a.real_seed, 2 * a.n as u64 + i).map(|(p, _)| p.text))
        .collect::<Result<_, _>>()?;
    let texts: Vec<&str> = captions.iter().map(String::as_str).collect();
    let t = std::time::Instant::now();
    let images = progress_sample(&m, &texts, &sampler, w, a.seed)?;
    let secs = t.elapsed().as_secs_f64();
    let r = models::shapes_classifier::frechet_vs_real(&classifier, &images, a.real_seed, a.n)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"fd": r.fd, "floor_real_vs_real": r.floor_real_vs_real, "n": a.n,
                "steps": sampler.steps, "cfg": w.w, "cfg_interval": w.interval, "real_seed": a.real_seed, "seed": a.seed})
        );
    } else {
        println!(
            "FD_shapes {:.2} (real vs real floor {:.2}) on {} images, {} steps, cfg {w}; sampling took {secs:.0} s",
            r.fd, r.floor_real_vs_real, a.n, sampler.steps
        );
    }
    Ok(())
}
