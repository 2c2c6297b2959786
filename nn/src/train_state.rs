//! Resumable training checkpoints.
//!
//! Layout of an output folder:
//! ```text
//! OUT/step-00000300/model.safetensors   weights
//! OUT/step-00000300/ema.safetensors     EMA weights (when the run keeps an EMA)
//! OUT/step-00000300/state.safetensors   optimiser tensors + metadata: step, samples seen,
//!                                       RNG state, optimiser step and lr, run config (JSON)
//! OUT/latest                            "step-00000300", replaced atomically last
//! ```
//! A step folder is complete before `latest` points at it, so a crash mid-save leaves the
//! previous checkpoint in charge. Older step folders beyond `keep` are removed.
use crate::checkpoint::{load_module, save_module, save_tensors, write_atomic};
use crate::error::{io_err, Error, Result};
use crate::module::Module;
use crate::optim::OptimState;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tensor::safetensors_io::{self as st, Metadata};
use tensor::{Rng, Tensor};

/// Everything besides the weights that a run needs to continue bit-exactly.
#[derive(Clone, Debug)]
pub struct TrainState {
    pub step: u64,
    pub samples_seen: u64,
    pub rng: Rng,
    pub optim: OptimState,
    pub ema: Option<BTreeMap<String, Tensor>>,
    /// The run's configuration, so `--resume` can rebuild the same model and data.
    pub config: serde_json::Value,
}

pub struct CheckpointDir {
    pub root: PathBuf,
}

fn meta_get<T: std::str::FromStr>(meta: &Metadata, key: &str, path: &Path) -> Result<T> {
    meta.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| Error::BadState {
        path: path.to_path_buf(),
        msg: format!("metadata {key:?} missing or invalid"),
    })
}

impl CheckpointDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CheckpointDir { root: root.into() }
    }

    /// Writes a complete checkpoint for `state.step` and points `latest` at it.
    pub fn save(&self, model: &dyn Module, state: &TrainState, keep: usize) -> Result<PathBuf> {
        let name = format!("step-{:08}", state.step);
        let dir = self.root.join(&name);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        save_module(model, &dir.join("model.safetensors"), None)?;
        let ema_path = dir.join("ema.safetensors");
        match &state.ema {
            Some(ema) => save_tensors(ema, &Metadata::new(), None, &ema_path)?,
            // A folder re-used for the same step must not keep an older run's EMA.
            None if ema_path.exists() => std::fs::remove_file(&ema_path).map_err(io_err(&ema_path))?,
            None => {}
        }
        let mut meta = Metadata::new();
        meta.insert("step".into(), state.step.to_string());
        meta.insert("samples_seen".into(), state.samples_seen.to_string());
        meta.insert("rng_seed".into(), state.rng.seed.to_string());
        meta.insert("rng_next_stream".into(), state.rng.next_stream.to_string());
        meta.insert("optim_step".into(), state.optim.step.to_string());
        meta.insert("optim_lr".into(), state.optim.lr.to_string());
        meta.insert("config".into(), state.config.to_string());
        save_tensors(&state.optim.tensors, &meta, None, &dir.join("state.safetensors"))?;
        write_atomic(&self.root.join("latest"), name.as_bytes())?;
        self.prune(keep.max(1), &name)?;
        Ok(dir)
    }

    /// The folder `latest` points at, if any.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let p = self.root.join("latest");
        if !p.exists() {
            return Ok(None);
        }
        let name = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        let dir = self.root.join(name.trim());
        if !dir.is_dir() {
            return Err(Error::BadState { path: p, msg: format!("points at missing folder {}", dir.display()) });
        }
        Ok(Some(dir))
    }

    /// Loads the latest checkpoint: weights into `model` (strict) and the training state.
    pub fn load(&self, model: &dyn Module) -> Result<TrainState> {
        let dir = self.latest()?.ok_or_else(|| Error::BadState {
            path: self.root.clone(),
            msg: "no checkpoint here (no `latest` file)".into(),
        })?;
        load_module(model, &dir.join("model.safetensors"), true)?;
        let sp = dir.join("state.safetensors");
        let (tensors, meta) = st::load_with_metadata(&sp)?;
        let ema_path = dir.join("ema.safetensors");
        let ema = if ema_path.exists() { Some(st::load(&ema_path)?) } else { None };
        let config = serde_json::from_str(meta.get("config").map(String::as_str).unwrap_or("null"))
            .map_err(|e| Error::BadState { path: sp.clone(), msg: format!("config: {e}") })?;
        Ok(TrainState {
            step: meta_get(&meta, "step", &sp)?,
            samples_seen: meta_get(&meta, "samples_seen", &sp)?,
            rng: Rng { seed: meta_get(&meta, "rng_seed", &sp)?, next_stream: meta_get(&meta, "rng_next_stream", &sp)? },
            optim: OptimState {
                step: meta_get(&meta, "optim_step", &sp)?,
                lr: meta_get(&meta, "optim_lr", &sp)?,
                tensors,
            },
            ema,
            config,
        })
    }

    /// Removes step folders other than the newest `keep` (always keeping `current`).
    fn prune(&self, keep: usize, current: &str) -> Result<()> {
        let mut steps: Vec<String> = std::fs::read_dir(&self.root)
            .map_err(io_err(&self.root))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("step-"))
            .collect();
        steps.sort();
        let excess = steps.len().saturating_sub(keep);
        for old in steps.into_iter().take(excess).filter(|n| n != current) {
            let p = self.root.join(old);
            std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(())
    }
}
