//! `r0-cli eval …`
use crate::CliResult;
use clap::{Args, Subcommand};
use data::image::read_png_folder;
use data::shapes::{prompt_set, render_batch, Prompt, SceneSampler, ShapesRng};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Score images against the shapes-world prompts with the rule-based evaluator (GenEval rules).
    Shapes(ShapesArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["real", "images"])))]
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
    /// Images per prompt.
    #[arg(long, default_value_t = 4)]
    per_prompt: usize,
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
    }
}

fn shapes(a: ShapesArgs) -> CliResult<()> {
    if a.per_prompt == 0 {
        return Err("--per-prompt must be at least 1".into());
    }
    let set = prompt_set(&a.set)?;
    let (images, prompts) = if let Some(dir) = &a.images {
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
            if n != set.prompts.len() * a.per_prompt {
                return Err(format!(
                    "{} holds {n} images; set {} needs {} × {} = {} (or add a prompts.txt)",
                    dir.display(),
                    set.name,
                    set.prompts.len(),
                    a.per_prompt,
                    set.prompts.len() * a.per_prompt
                )
                .into());
            }
            set.prompts.iter().flat_map(|p| std::iter::repeat_n(p.clone(), a.per_prompt)).collect()
        };
        (folder.images, prompts)
    } else {
        let sampler = SceneSampler { exclude_heldout: false, ..SceneSampler::default() };
        let mut scenes = Vec::new();
        let mut prompts = Vec::new();
        for (i, p) in set.prompts.iter().enumerate() {
            for j in 0..a.per_prompt {
                let item = (i * a.per_prompt + j) as u64;
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
        println!("{report}");
        for m in report.misses.iter().take(a.show_misses) {
            println!("miss #{}: {:?}: {}", m.index, m.prompt, m.reason);
        }
    }
    Ok(())
}
