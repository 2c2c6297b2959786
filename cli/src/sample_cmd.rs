//! `r0-cli sample`: images from a prompt (or a class) with the shipped or a given model.
use crate::models_cmd::ModelArgs;
use crate::CliResult;
use clap::Args;
use data::image::{write_png_grid, GridOptions};
use data::shapes::{class_from_name, Prompt};
use models::unet::CondConfig;
use std::path::PathBuf;

#[derive(Args)]
pub struct SampleArgs {
    /// The caption, in the shapes world's grammar (e.g. "a red circle left of a blue square").
    #[arg(long)]
    prompt: Option<String>,
    /// For class-conditional models: a class name such as "red circle" (or a class index).
    #[arg(long)]
    class: Option<String>,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG (a grid of the images).
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Images per row of the grid (default: square).
    #[arg(long)]
    cols: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(a: SampleArgs) -> CliResult<()> {
    if a.n == 0 {
        return Err("--n must be at least 1".into());
    }
    let m = a.model.load()?;
    let sampler = a.model.sampler()?;
    let w = a.model.guidance(&m)?;
    let (cond, what) = match (m.card.net.cond, &a.prompt, &a.class) {
        (CondConfig::Text(_), Some(p), None) => {
            // Parsing checks the grammar and gives suggestions for unknown words.
            let prompt = Prompt::parse(p)?;
            (Some(m.text_cond(&vec![prompt.text.as_str(); a.n])?), format!("{:?}", prompt.text))
        }
        (CondConfig::Class { classes }, None, Some(c)) => {
            let id = match c.parse::<usize>() {
                Ok(i) if i < classes => i,
                Ok(i) => return Err(format!("class {i} out of range: the model has {classes}").into()),
                Err(_) => class_from_name(c)?,
            };
            (Some(m.class_cond(&vec![id; a.n])?), format!("class {c}"))
        }
        (CondConfig::None, None, None) => (None, "unconditional".to_string()),
        (CondConfig::Text(_), _, _) => return Err("this model is text-conditioned: give --prompt \"...\"".into()),
        (CondConfig::Class { .. }, _, _) => return Err("this model is class-conditional: give --class NAME".into()),
        (CondConfig::None, _, _) => return Err("this model is unconditional: drop --prompt/--class".into()),
    };
    let t = std::time::Instant::now();
    let images = m.sample(cond.as_ref(), a.n, &sampler, w, a.seed)?;
    let secs = t.elapsed().as_secs_f64();
    write_png_grid(&a.out, &images, &GridOptions { cols: a.cols, ..GridOptions::default() })?;
    let evals = match sampler.solver {
        models::edm::Solver::Heun => 2 * sampler.steps - 1,
        models::edm::Solver::Euler => sampler.steps,
    };
    // A guided evaluation runs the network on the condition and on ∅: twice the rows.
    let nfe = if w.w != 1.0 && cond.is_some() { 2 * evals } else { evals };
    println!(
        "wrote {} images of {what} to {} ({} steps, {}{nfe} NFE, cfg {w}, seed {}; {:.0} ms per image)",
        a.n,
        a.out.display(),
        sampler.steps,
        // With an interval, guided evaluations (two passes) happen only inside it.
        if w.interval.is_some() { "≤ " } else { "" },
        a.seed,
        1e3 * secs / a.n as f64
    );
    Ok(())
}
