//! `r0-cli data …`
use crate::CliResult;
use clap::{Args, Subcommand};
use data::image::{write_png_grid, write_scatter_png, GridOptions, ScatterOptions};
use data::shapes::{prompt_set, render_batch, Prompt, SceneSampler, ShapesRng, PROMPT_SET_NAMES};
use data::toy2d::Toy2d;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Render ground-truth shapes-world images for a prompt as a PNG grid.
    Render(RenderArgs),
    /// Draw samples from a 2-D toy distribution as a scatter-plot PNG.
    Toy2d(Toy2dArgs),
    /// List the prompts of an evaluation prompt set.
    Prompts(PromptsArgs),
}

#[derive(Args)]
pub struct RenderArgs {
    /// The caption, e.g. "a red circle left of a blue square" (see `data prompts` for examples).
    #[arg(long)]
    prompt: String,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    n: usize,
    /// Seed of the scene sampler (image i uses an independent stream).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image side in pixels.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Images per grid row (default: about √n).
    #[arg(long)]
    cols: Option<usize>,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct Toy2dArgs {
    /// Distribution: ring (8 Gaussians), grid (5×5, unequal weights), moons, checkerboard.
    #[arg(long)]
    dist: String,
    /// Number of samples.
    #[arg(long, default_value_t = 2000)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Plot side in pixels.
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct PromptsArgs {
    /// Prompt set: geneval, geneval_small or geneval_heldout.
    #[arg(long, default_value = "geneval")]
    set: String,
}

pub fn run(cmd: DataCommand) -> CliResult<()> {
    match cmd {
        DataCommand::Render(a) => render(a),
        DataCommand::Toy2d(a) => toy2d(a),
        DataCommand::Prompts(a) => {
            let set = prompt_set(&a.set)?;
            for p in &set.prompts {
                println!("{}\t{}", p.family().name(), p.text);
            }
            eprintln!("{} prompts in {} (sets: {})", set.prompts.len(), set.name, PROMPT_SET_NAMES.join(", "));
            Ok(())
        }
    }
}

fn render(a: RenderArgs) -> CliResult<()> {
    if a.n == 0 || a.size < 8 {
        return Err(format!("need --n ≥ 1 and --size ≥ 8 (got {} and {})", a.n, a.size).into());
    }
    let prompt = Prompt::parse(&a.prompt)?;
    // Rendering a given prompt may use held-out combinations; only training excludes them.
    let sampler = SceneSampler { exclude_heldout: false, ..SceneSampler::default() };
    let scenes = (0..a.n)
        .map(|i| sampler.scene_for(&prompt, &mut ShapesRng::for_item(a.seed, i as u64)))
        .collect::<Result<Vec<_>, _>>()?;
    let images = render_batch(&scenes, a.size, a.size)?;
    write_png_grid(&a.out, &images, &GridOptions { cols: a.cols, ..GridOptions::default() })?;
    println!("wrote {} images of {:?} ({} family) to {}", a.n, prompt.text, prompt.family().name(), a.out.display());
    Ok(())
}

fn toy2d(a: Toy2dArgs) -> CliResult<()> {
    let dist = Toy2d::from_name(&a.dist)?;
    let points = dist.sample(a.n, a.seed);
    write_scatter_png(&a.out, &points, &ScatterOptions { size: a.size, ..ScatterOptions::default() })?;
    println!("wrote {} samples of {} to {}", a.n, dist.name(), a.out.display());
    Ok(())
}
