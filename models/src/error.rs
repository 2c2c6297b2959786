//! Errors of the `models` crate: the lower layers' errors pass through unchanged, and bad
//! arguments to a model (a negative σ, a batch that does not match its condition) are
//! [`Error::Invalid`] values naming the function. Nothing here panics on user input.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tensor(#[from] tensor::Error),

    #[error(transparent)]
    Nn(#[from] nn::Error),

    #[error(transparent)]
    Data(#[from] data::Error),

    #[error("{op}: {msg}")]
    Invalid { op: &'static str, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Invalid { op, msg: msg.into() }
    }
}

/// Model errors inside the shared training loop (whose step and save closures return
/// `nn::Error`): the engine's and nn's errors pass through unchanged, the rest keep their message.
impl From<Error> for nn::Error {
    fn from(e: Error) -> nn::Error {
        match e {
            Error::Tensor(t) => nn::Error::Tensor(t),
            Error::Nn(n) => n,
            other => nn::Error::Invalid(other.to_string()),
        }
    }
}
