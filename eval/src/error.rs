//! The `eval` crate's error type: bad inputs to an evaluator are values, never panics.

/// Errors of the `eval` crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An image buffer whose length is not 3·H·W.
    #[error("an image has {len} values, but a 3×{height}×{width} image has {}", 3 * height * width)]
    ImageSize { len: usize, height: usize, width: usize },

    /// A batch tensor that is not [N, 3, H, W].
    #[error("expected images of shape [N, 3, H, W], got {0:?}")]
    BatchShape(Vec<usize>),

    /// Different numbers of images and prompts.
    #[error("{images} images but {prompts} prompts: give one prompt per image")]
    CountMismatch { images: usize, prompts: usize },

    /// Nothing to evaluate.
    #[error("no images to evaluate")]
    Empty,

    /// An argument outside its valid range.
    #[error("{what}: {msg}")]
    InvalidArgument { what: &'static str, msg: String },

    /// An error from the data crate (parsing a prompt, loading a prompt set).
    #[error(transparent)]
    Data(#[from] data::Error),

    /// An error from the tensor crate.
    #[error(transparent)]
    Tensor(#[from] tensor::Error),
}

/// `Result` with the `eval` crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidArgument`] (inputs a metric cannot use: mismatched feature
    /// dimensions, too few samples, non-finite values).
    pub fn invalid(what: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument { what, msg: msg.into() }
    }
}
