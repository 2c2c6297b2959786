//! Evaluation: the rule-based shapes evaluator (GenEval's rules on an exact parser of rendered
//! scenes), feature-based sample metrics, and 2-D sample metrics. Errors are [`Error`] values.
pub mod error;
pub mod fid;
pub mod linalg;
pub mod precision_recall;
pub mod shapes;
pub mod toy2d;

pub use error::{Error, Result};
