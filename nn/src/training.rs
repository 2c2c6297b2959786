//! The loop every trainer shares: progress bar, JSONL metrics, periodic and final checkpoints,
//! Ctrl-C (save, then stop cleanly), and a hard stop on a NaN/Inf loss that names the step.
//!
//! The trainer supplies two closures: `step(step) -> StepStats` does one optimisation step, and
//! `save(step)` writes a checkpoint (usually [`crate::CheckpointDir::save`]).
use crate::error::{io_err, Error, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<bool> = OnceLock::new();

/// Installs the Ctrl-C handler once per process (later calls do nothing). After Ctrl-C, SIGTERM
/// or SIGHUP (`kill PID`: background runs started from a script ignore SIGINT) the loop finishes
/// its current step, saves, and returns [`LoopEnd::Interrupted`].
pub fn install_interrupt_handler() -> bool {
    *HANDLER.get_or_init(|| ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).is_ok())
}

/// Asks the running loop to stop as if Ctrl-C had been pressed (tests, embedding programs).
pub fn request_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst)
}

/// Clears a pending interrupt (before starting a new loop in the same process).
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst)
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[derive(Clone, Debug)]
pub struct LoopConfig {
    /// Steps are numbered `start..total_steps`.
    pub total_steps: u64,
    /// Save every this many steps (0 = only at the end).
    pub checkpoint_every: u64,
    /// Write a metrics line every this many steps.
    pub log_every: u64,
    /// `metrics.jsonl` goes here.
    pub out_dir: PathBuf,
    pub progress: bool,
    /// A stop switch of this run's own (besides the process-wide Ctrl-C flag): set it and the
    /// loop saves and stops before the next step, exactly as after Ctrl-C.
    pub stop: Option<Arc<AtomicBool>>,
}

/// What one step reports.
#[derive(Clone, Debug, Default)]
pub struct StepStats {
    pub loss: f64,
    /// Samples processed by this step (for throughput).
    pub samples: u64,
    /// Extra scalars for the log (learning rate, gradient norm, ...).
    pub metrics: Vec<(String, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopEnd {
    Finished,
    /// Stopped after Ctrl-C with a checkpoint at this step.
    Interrupted {
        step: u64,
    },
}

fn json_line(step: u64, s: &StepStats, rate: f64) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("step".into(), step.into());
    obj.insert("loss".into(), serde_json::Value::from(s.loss));
    obj.insert("samples_per_s".into(), serde_json::Value::from(rate));
    for (k, v) in &s.metrics {
        obj.insert(k.clone(), serde_json::Value::from(*v));
    }
    serde_json::Value::Object(obj).to_string()
}

/// Runs steps `start..cfg.total_steps`. A non-finite loss stops the run with
/// [`Error::NonFiniteLoss`] *without* saving, so the last good checkpoint stays the newest.
/// Installs the interrupt handler, so every program that trains through this loop saves and stops
/// cleanly on Ctrl-C or `kill`.
pub fn run_loop(
    cfg: &LoopConfig,
    start: u64,
    mut step_fn: impl FnMut(u64) -> Result<StepStats>,
    mut save: impl FnMut(u64) -> Result<()>,
) -> Result<LoopEnd> {
    install_interrupt_handler();
    std::fs::create_dir_all(&cfg.out_dir).map_err(io_err(&cfg.out_dir))?;
    let log_path = cfg.out_dir.join("metrics.jsonl");
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io_err(&log_path))?;
    let bar = ProgressBar::with_draw_target(
        Some(cfg.total_steps),
        if cfg.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
            .map_err(|e| Error::Invalid(e.to_string()))?,
    );
    bar.set_position(start);
    let t0 = Instant::now();
    let mut samples = 0u64;
    for step in start..cfg.total_steps {
        if interrupted() || cfg.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            bar.abandon_with_message(format!("interrupted at step {step}; saving"));
            save(step)?;
            return Ok(LoopEnd::Interrupted { step });
        }
        let stats = step_fn(step)?;
        if !stats.loss.is_finite() {
            bar.abandon_with_message(format!("loss {} at step {step}", stats.loss));
            return Err(Error::NonFiniteLoss { step, value: stats.loss });
        }
        samples += stats.samples;
        let rate = samples as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        bar.set_position(step + 1);
        bar.set_message(format!("loss {:.4}  {:.0} samples/s", stats.loss, rate));
        if cfg.log_every > 0 && (step + 1) % cfg.log_every == 0 {
            writeln!(log, "{}", json_line(step + 1, &stats, rate)).map_err(io_err(&log_path))?;
        }
        let done = step + 1;
        if cfg.checkpoint_every > 0 && done % cfg.checkpoint_every == 0 && done != cfg.total_steps {
            save(done)?;
        }
    }
    save(cfg.total_steps.max(start))?;
    bar.finish_with_message("done");
    Ok(LoopEnd::Finished)
}
