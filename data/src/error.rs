//! The `data` crate's error type. Every failure on user input (a prompt, a size, a class index,
//! a file) is one of these values, never a panic.

/// Errors of the `data` crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A prompt with no words in it (empty, or only spaces and punctuation).
    #[error("empty prompt: write a caption such as \"a red circle\"")]
    EmptyPrompt,

    /// A prompt longer than the tokenizer's maximum sequence length.
    #[error("prompt has {words} words, but at most {max} fit (the tokenizer's max length {max_len} includes <cls>)")]
    PromptTooLong { words: usize, max: usize, max_len: usize },

    /// A word outside the grammar's vocabulary, with the nearest known words by edit distance.
    #[error("unknown word \"{word}\" (closest known words: {})", suggestions.join(", "))]
    UnknownWord { word: String, suggestions: Vec<String> },

    /// A prompt made of known words that the caption grammar does not accept.
    #[error("cannot parse \"{prompt}\": {msg}")]
    Parse { prompt: String, msg: String },

    /// A prompt that names more objects than a scene can hold.
    #[error("\"{prompt}\" asks for {objects} objects, but a scene holds at most {max}")]
    TooManyObjects { prompt: String, objects: usize, max: usize },

    /// The scene sampler found no layout that keeps the objects apart and satisfies the relation,
    /// even with every object at the small size.
    #[error("could not place the objects of \"{prompt}\" apart and in relation, even at the small size")]
    PlacementFailed { prompt: String },

    /// A prompt that uses a held-out combination when the sampler excludes them.
    #[error("\"{prompt}\" uses a held-out combination ({what}), which this sampler excludes")]
    HeldOut { prompt: String, what: String },

    /// A class index outside `0..=NULL_CLASS`, or an unknown class name.
    #[error("unknown class {0}")]
    UnknownClass(String),

    /// An unknown prompt-set or family name.
    #[error("unknown {kind} \"{name}\" (known: {})", known.join(", "))]
    UnknownName { kind: &'static str, name: String, known: Vec<String> },

    /// An argument outside its valid range (an image size of 0, a tokenizer length of 1, ...).
    #[error("{what}: {msg}")]
    InvalidArgument { what: &'static str, msg: String },

    /// The operating system refused a read or write (a missing file, a folder that cannot be
    /// listed, a full disk).
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },

    /// A file whose contents break its format: truncated, wrong magic number, inconsistent sizes,
    /// undecodable. `msg` says what is wrong.
    #[error("bad file {path}: {msg}")]
    BadFile { path: String, msg: String },

    /// An error from the tensor crate (building a batch tensor).
    #[error(transparent)]
    Tensor(#[from] tensor::Error),
}

/// `Result` with the `data` crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(what: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument { what, msg: msg.into() }
    }
    /// Shorthand for [`Error::BadFile`] naming `path`.
    pub fn bad_file(path: impl AsRef<std::path::Path>, msg: impl Into<String>) -> Self {
        Error::BadFile { path: path.as_ref().display().to_string(), msg: msg.into() }
    }
    /// Shorthand for [`Error::Io`] naming `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
}
