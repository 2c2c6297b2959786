//! `r0-cli`: the project's command line. `sample` (images from a prompt with the shipped teacher),
//! `train` (diffusion on the shapes world, 2-D toys, MNIST, CIFAR-10), `eval` (the rule-based
//! shapes evaluator on renders, PNG folders or a model's samples), `export-weights`, and `data`
//! (render the shapes world, plot 2-D toys, list prompt sets). Errors print as one line and exit
//! with status 1.
use clap::{Parser, Subcommand};

mod data_cmd;
mod eval_cmd;
mod models_cmd;
mod sample_cmd;
mod train_cmd;

#[derive(Parser)]
#[command(name = "r0-cli", version, about = "R0 and DDO post-training on a from-scratch Rust tensor engine", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with the data: render shapes-world prompts, plot 2-D toy distributions, list prompt sets.
    #[command(subcommand)]
    Data(data_cmd::DataCommand),
    /// Evaluate images or models.
    #[command(subcommand)]
    Eval(eval_cmd::EvalCommand),
    /// Generate images from a prompt with the shipped teacher (or `--weights`).
    Sample(sample_cmd::SampleArgs),
    /// Write a training run's EMA weights as one file to ship (optionally f16, with a default CFG).
    ExportWeights(models_cmd::ExportArgs),
    /// Train models: diffusion (EDM) on the shapes world, 2-D toys, MNIST or CIFAR-10.
    #[command(subcommand)]
    Train(train_cmd::TrainCommand),
}

/// The CLI's error: any library error, shown as one line.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() {
    kernels::memory::keep_freed_buffers();
    let cli = Cli::parse();
    let run = move || {
        let result = match cli.command {
            Command::Data(c) => data_cmd::run(c),
            Command::Eval(c) => eval_cmd::run(c),
            Command::Train(c) => train_cmd::run(c),
            Command::Sample(a) => sample_cmd::run(a),
            Command::ExportWeights(a) => models_cmd::export(a),
        };
        result.map_err(|e| e.to_string())
    };
    // The command runs on a thread of its own pool (all CPUs, or RAYON_NUM_THREADS), whose other
    // threads stay awake between kernels (`kernels::parallel`); 8 MiB stacks, as the main thread's.
    let result = match rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build() {
        Ok(pool) => kernels::parallel::install(&pool, run),
        Err(_) => run(),
    };
    if let Err(e) = result {
        // One clear line (multi-line library messages are folded).
        eprintln!("error: {}", e.replace('\n', "; "));
        std::process::exit(1);
    }
}
