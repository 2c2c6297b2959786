//! Errors of the `nn` layer: tensor errors pass through; checkpoints and training loops add their own.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tensor(#[from] tensor::Error),

    /// Everything wrong with a checkpoint at once: missing and unexpected names, shape and dtype
    /// mismatches.
    #[error("checkpoint {path} does not fit the model:\n  {}", problems.join("\n  "))]
    CheckpointMismatch { path: PathBuf, problems: Vec<String> },

    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("training state {path}: {msg}")]
    BadState { path: PathBuf, msg: String },

    #[error("loss became {value} at step {step}; stopped (the last good checkpoint is kept)")]
    NonFiniteLoss { step: u64, value: f64 },

    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
