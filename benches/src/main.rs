//! `bench`: the engine's CPU benchmarks, shaped like the peer scripts in `shared/peers/` so that
//! the two can be compared cell by cell (`benches/run.sh` runs both and prints the ratios).
//!
//! - `bench gemm`: f32 `Tensor::matmul` on the eight shapes of `gemm.py`, with its labels and its
//!   timing policy;
//! - `bench train-step --workload mlp|unet|gpt`: one full training step (forward, backward,
//!   optimiser) of the three models of `train_step.py`, same architectures, sizes, batch, loss and
//!   optimiser, same parameter count.
//!
//! Output: a table, or with `--json` one JSON object per line. Peak RSS is per process, so run
//! each workload in its own process for a clean number (`run.sh` does).
mod gemm;
mod gpt;
#[cfg(feature = "cuda")]
mod gpu;
mod load;
mod mlp;
mod step;
mod unet;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::process::ExitCode;

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "CPU benchmarks of the engine: SGEMM shapes and one training step, comparable with shared/peers/",
    long_about = "CPU benchmarks of the engine, comparable cell by cell with the peer scripts in shared/peers/ \
(gemm.py, train_step.py). `benches/run.sh` runs these and the peers and prints the ratios.\n\n\
Output: a table, or with --json one JSON object per line:\n  \
{\"bench\":\"gemm\",\"shape\":\"sq1024\",\"threads\":1,\"median_ms\":..,\"gflops\":..,\"peak_rss_mb\":..}\n  \
{\"bench\":\"train-step\",\"workload\":\"gpt\",\"threads\":2,\"median_ms\":..,\"params\":..,\"peak_rss_mb\":..}\n\
peak_rss_mb is the process's high-water mark (VmHWM): run one workload per process for a clean value.\n\
foreign_load is the number of cores other processes kept busy during the measurement (as the peers \
report it); run.sh reruns a process whose foreign load exceeds 0.15 cores.\n\
--threads N runs everything inside a rayon pool of N threads; the process is not pinned to a CPU \
(no libc dependency), so use `taskset -c 0 bench ... --threads 1` for a hard one-core cap, as run.sh does."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// f32 GEMM (Tensor::matmul) on gemm.py's shapes, labelled as gemm.py labels them:
    ///   sq128 .. sq2048, "conv 16384x288x64", "conv 4096x576x128" (im2col GEMMs of 3x3 convs) and
    ///   "attn 64x64x64 x256" (a batched matmul of 256 independent 64x64x64 products).
    /// Timing as gemm.py: 2 warm-up calls, then repeats for ~0.5 s (clamped to 7..100), median;
    /// GFLOP/s = 2*M*K*N*batch / median. Unlike numpy/torch's out=, every call allocates its output.
    #[command(verbatim_doc_comment)]
    Gemm {
        /// rayon pool size (default: all CPUs).
        #[arg(long)]
        threads: Option<usize>,
        /// Only the shapes whose label contains this text (e.g. "sq", "conv", "attn").
        #[arg(long)]
        filter: Option<String>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// GPU figures (a build with `--features cuda`): elementwise bandwidth as % of the device's
    /// peak (copy, add over 2^28 f32) and GEMM TFLOP/s at 4096^3. See scripts/gpu-check.sh.
    Gpu {
        #[arg(long)]
        json: bool,
    },
    /// One full training step (zero grads, forward, loss, backward, optimiser update) of a
    /// train_step.py workload, timed individually: `warmup` untimed steps, then the median (and
    /// min) of `steps` steps, plus the medians of the forward, backward and optimiser phases.
    ///   mlp:  2 -> 4x256 SiLU -> 2, batch 512, MSE, Adam(lr 1e-3)
    ///   unet: 32x32x3, channels 32/64/128, 2 res-blocks per level (GroupNorm(8), SiLU, time MLP),
    ///         stride-2 conv down, nearest-2x + conv up, skip concat, batch 32, MSE, Adam(lr 1e-3)
    ///   gpt:  4 pre-LN blocks, dim 128, 4 heads, seq 64, MLP 4x exact-erf GELU, causal attention,
    ///         vocab 512, learned pos-emb, untied head, batch 32, cross-entropy, AdamW(1e-3, wd 0.01)
    #[command(verbatim_doc_comment)]
    TrainStep {
        #[arg(long, value_enum)]
        workload: Workload,
        /// rayon pool size (default: all CPUs).
        #[arg(long)]
        threads: Option<usize>,
        /// Timed steps (the median is reported).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// cpu, or cuda / cuda:N (a build with `--features cuda`). On a GPU each step ends by
        /// reading the loss back, which waits for the stream, so the times are complete.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Workload {
    Mlp,
    Unet,
    Gpt,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Mlp => "mlp",
            Workload::Unet => "unet",
            Workload::Gpt => "gpt",
        }
    }
}

/// The process's peak resident set (VmHWM in /proc/self/status), in MiB; `None` off Linux.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs `f` inside a rayon pool of `threads` threads (all CPUs when `None`).
fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> BoxResult<(usize, T)> {
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if n == 0 {
        return Err("--threads must be at least 1".into());
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build()?;
    Ok((n, kernels::parallel::install(&pool, f)))
}

/// One JSON object with its keys in the given order (serde_json's `json!` sorts them, and turning
/// on its `preserve_order` feature would change the map type for the whole workspace).
fn json_line(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", Value::from(*k))).collect();
    format!("{{{}}}", body.join(","))
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn run_gemm(threads: Option<usize>, filter: Option<String>, as_json: bool) -> BoxResult<()> {
    let shapes: Vec<_> =
        gemm::SHAPES.iter().filter(|s| filter.as_ref().is_none_or(|f| s.label.contains(f.as_str()))).collect();
    if shapes.is_empty() {
        return Err(format!("no GEMM shape matches {filter:?}").into());
    }
    let (n, failed) = in_pool(threads, || {
        let mut failed = 0;
        if !as_json {
            println!("threads: {}", rayon::current_num_threads());
            println!("| shape (M x K x N [x batch]) | median ms | GFLOP/s | reps |\n|---|---|---|---|");
        }
        for s in &shapes {
            let meter = load::LoadMeter::start();
            let r = match gemm::time_shape(s) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("gemm {}: {e}", s.label);
                    failed += 1;
                    continue;
                }
            };
            if as_json {
                let o = json_line(&[
                    ("bench", json!("gemm")),
                    ("shape", json!(s.label)),
                    ("threads", json!(rayon::current_num_threads())),
                    ("median_ms", json!(round3(r.median_s * 1e3))),
                    ("gflops", json!(round3(r.gflops))),
                    ("peak_rss_mb", json!(peak_rss_mb().map(round3))),
                    ("m", json!(s.m)),
                    ("k", json!(s.k)),
                    ("n", json!(s.n)),
                    ("batch", json!(s.batch)),
                    ("reps", json!(r.reps)),
                    ("foreign_load", json!(meter.foreign_cores().map(round3))),
                ]);
                println!("{o}");
            } else {
                println!("| {} | {:.4} | {:.2} | {} |", s.label, r.median_s * 1e3, r.gflops, r.reps);
            }
        }
        failed
    })?;
    if !as_json {
        println!("\npeak RSS {:.1} MB ({n} threads)", peak_rss_mb().unwrap_or(f64::NAN));
    }
    if failed > 0 {
        return Err(format!("{failed} GEMM shape(s) failed").into());
    }
    Ok(())
}

fn run_train_step(
    w: Workload,
    threads: Option<usize>,
    steps: usize,
    warmup: usize,
    device: tensor::Device,
    as_json: bool,
) -> BoxResult<()> {
    if steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    let (n, res) = in_pool(threads, || -> tensor::Result<step::Timing> {
        let mut trainer = match w {
            Workload::Mlp => mlp::build(device)?,
            Workload::Unet => unet::build(device)?,
            Workload::Gpt => gpt::build(device)?,
        };
        trainer.time(warmup, steps)
    })?;
    let t = res?;
    if t.params != t.params_pytorch {
        eprintln!(
            "warning: {} has {} parameters, PyTorch's train_step.py has {}",
            w.name(),
            t.params,
            t.params_pytorch
        );
    }
    let rss = peak_rss_mb();
    let achieved = t.torch_flops as f64 / t.median_s / 1e9;
    if as_json {
        let o = json_line(&[
            ("bench", json!("train-step")),
            ("workload", json!(w.name())),
            ("threads", json!(n)),
            ("device", json!(format!("{device:?}"))),
            ("median_ms", json!(round3(t.median_s * 1e3))),
            ("peak_rss_mb", json!(rss.map(round3))),
            ("params", json!(t.params)),
            ("params_pytorch", json!(t.params_pytorch)),
            ("min_ms", json!(round3(t.min_s * 1e3))),
            ("fwd_ms", json!(round3(t.fwd_s * 1e3))),
            ("bwd_ms", json!(round3(t.bwd_s * 1e3))),
            ("opt_ms", json!(round3(t.opt_s * 1e3))),
            ("achieved_gflops", json!(round3(achieved))),
            ("loss", json!(t.last_loss)),
            ("steps", json!(steps)),
            ("warmup", json!(warmup)),
            ("foreign_load", json!(t.foreign_cores.map(round3))),
        ]);
        println!("{o}");
    } else {
        println!("workload {} ({n} threads): {} parameters (PyTorch: {})", w.name(), t.params, t.params_pytorch);
        println!(
            "median {:.2} ms/step, min {:.2} ms (fwd {:.2}, bwd {:.2}, optimiser {:.2} ms medians) over {steps} steps \
             after {warmup} warm-up",
            t.median_s * 1e3,
            t.min_s * 1e3,
            t.fwd_s * 1e3,
            t.bwd_s * 1e3,
            t.opt_s * 1e3
        );
        println!(
            "{:.2} GFLOP per step (torch's count) -> {achieved:.1} GFLOP/s; last loss {:.5}; peak RSS {:.1} MB; \
             foreign load {:.2} cores",
            t.torch_flops as f64 / 1e9,
            t.last_loss,
            rss.unwrap_or(f64::NAN),
            t.foreign_cores.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    kernels::memory::keep_freed_buffers();
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Gemm { threads, filter, json } => run_gemm(threads, filter, json),
        #[cfg(feature = "cuda")]
        Cmd::Gpu { json } => gpu::run(json),
        #[cfg(not(feature = "cuda"))]
        Cmd::Gpu { .. } => Err("`bench gpu` needs a build with `--features cuda` (scripts/gpu-build.sh)".into()),
        Cmd::TrainStep { workload, threads, steps, warmup, device, json } => match device.parse() {
            Ok(d) => run_train_step(workload, threads, steps, warmup, d, json),
            Err(e) => Err(Box::new(e) as Box<dyn std::error::Error>),
        },
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
