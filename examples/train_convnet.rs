//! Trains a small conv-net classifier with AdamW + EMA + a progress bar, writing checkpoints
//! to `--out`; Ctrl-C (or `--stop-after N`) saves and stops; `--resume` continues bit-exactly.
//!
//! ```text
//! cargo run --release --example train_convnet -- --out runs/convnet                  # 300 steps
//! cargo run --release --example train_convnet -- --out runs/b --stop-after 150       # "interrupted"
//! cargo run --release --example train_convnet -- --out runs/b --resume               # same end
//! ```
use r0ddo::convnet_demo::{run, DemoConfig};
use r0ddo::nn;
use std::path::PathBuf;

fn main() {
    r0ddo::kernels::memory::keep_freed_buffers();
    let mut args = std::env::args().skip(1);
    let (mut out, mut resume, mut stop_after, mut cfg) =
        (PathBuf::from("runs/convnet"), false, None, DemoConfig::default());
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed: Result<(), String> = match a.as_str() {
            "--out" => value("--out").map(|v| out = v.into()),
            "--resume" => {
                resume = true;
                Ok(())
            }
            "--stop-after" => value("--stop-after")
                .and_then(|v| v.parse().map(|n| stop_after = Some(n)).map_err(|e| format!("--stop-after: {e}"))),
            "--steps" => {
                value("--steps").and_then(|v| v.parse().map(|n| cfg.steps = n).map_err(|e| format!("--steps: {e}")))
            }
            "--seed" => {
                value("--seed").and_then(|v| v.parse().map(|n| cfg.seed = n).map_err(|e| format!("--seed: {e}")))
            }
            "-h" | "--help" => {
                println!("train_convnet [--out DIR] [--steps N] [--seed S] [--stop-after N] [--resume]");
                return;
            }
            other => Err(format!("unknown argument {other:?} (try --help)")),
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
    match run(&cfg, &out, resume, stop_after, true) {
        Ok(o) => {
            match o.end {
                nn::training::LoopEnd::Finished => println!("finished {} steps", cfg.steps),
                nn::training::LoopEnd::Interrupted { step } => {
                    println!("stopped at step {step} of {}; continue with --resume", cfg.steps)
                }
            }
            println!("last training loss {:.6} ({:e})", o.last_loss, o.last_loss);
            println!(
                "EMA weights on 256 held-out images: loss {:.4}, accuracy {:.1}%",
                o.eval_loss,
                100.0 * o.eval_accuracy
            );
            println!("checkpoints and metrics.jsonl in {}", out.display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
