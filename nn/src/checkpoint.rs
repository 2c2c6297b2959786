//! Saving and loading weights as safetensors, named like PyTorch state dicts.
//!
//! Writes are atomic: the bytes go to a temporary file in the same folder, are fsync'ed, and
//! the file is renamed over the target (then the folder is fsync'ed), so a crash leaves either
//! the old file or the new one, never half of one. Loading checks every name, shape and dtype
//! and reports all problems in one error.
use crate::error::{io_err, Error, Result};
use crate::module::{Module, ModuleExt};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use tensor::safetensors_io::{self as st, Metadata};
use tensor::{DType, Tensor};

/// Writes `bytes` to `path` atomically (temp file + fsync + rename + fsync of the folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Saves named tensors (optionally cast to `dtype`, e.g. F16 for shipping) with metadata.
pub fn save_tensors(
    tensors: &BTreeMap<String, Tensor>,
    meta: &Metadata,
    dtype: Option<DType>,
    path: &Path,
) -> Result<()> {
    let cast: BTreeMap<String, Tensor> = match dtype {
        Some(d) => tensors
            .iter()
            .map(|(k, t)| Ok((k.clone(), if t.dtype().is_float() { t.to_dtype(d)? } else { t.clone() })))
            .collect::<Result<_>>()?,
        None => tensors.clone(),
    };
    write_atomic(path, &st::save_with_metadata_to_bytes(&cast, meta)?)
}

/// Saves a model's weights (in their own dtype, or cast to `dtype`).
pub fn save_module(model: &dyn Module, path: &Path, dtype: Option<DType>) -> Result<()> {
    save_tensors(&model.state_dict(), &Metadata::new(), dtype, path)
}

/// What a load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: Vec<String>,
    /// Parameters the file did not have (non-strict loads only).
    pub missing: Vec<String>,
    /// Tensors in the file that the model does not have (non-strict loads only).
    pub unexpected: Vec<String>,
}

/// Loads `tensors` into `model`. Float tensors convert to the parameter's dtype (an f16 file
/// loads into an f32 model). `strict`: any missing or unexpected name is an error. Shape and
/// float/integer mismatches are always errors. All problems are reported together.
pub fn load_state_dict(
    model: &dyn Module,
    tensors: &BTreeMap<String, Tensor>,
    strict: bool,
    path: &Path,
) -> Result<LoadReport> {
    let params = model.named_params();
    let mut problems = Vec::new();
    let mut report = LoadReport::default();
    for (name, p) in &params {
        match tensors.get(name) {
            None => report.missing.push(name.clone()),
            Some(t) if t.shape() != p.shape().as_slice() => {
                problems.push(format!("{name}: shape {:?} in file, {:?} in model", t.shape(), p.shape()))
            }
            Some(t) if t.dtype().is_float() != p.dtype().is_float() => {
                problems.push(format!("{name}: dtype {:?} in file, {:?} in model", t.dtype(), p.dtype()))
            }
            Some(_) => report.loaded.push(name.clone()),
        }
    }
    let known: std::collections::HashSet<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    report.unexpected = tensors.keys().filter(|k| !known.contains(k.as_str())).cloned().collect();
    if strict {
        problems.extend(report.missing.iter().map(|n| format!("{n}: missing from the file")));
        problems.extend(report.unexpected.iter().map(|n| format!("{n}: in the file but not in the model")));
    }
    if !problems.is_empty() {
        return Err(Error::CheckpointMismatch { path: path.to_path_buf(), problems });
    }
    for (name, p) in &params {
        if let Some(t) = tensors.get(name) {
            p.set(t.clone())?;
        }
    }
    Ok(report)
}

/// Loads a `.safetensors` file into `model` (see [`load_state_dict`]).
pub fn load_module(model: &dyn Module, path: &Path, strict: bool) -> Result<LoadReport> {
    let tensors = st::load(path)?;
    load_state_dict(model, &tensors, strict, path)
}
