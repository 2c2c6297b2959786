//! Optimisers, gradient clipping, learning-rate schedules and weight EMA.
mod adam;
mod ema;
mod grads;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use ema::{Ema, EmaMode};
pub use grads::GradSet;
pub use schedule::{Decay, LrSchedule};
pub use sgd::Sgd;

use std::collections::BTreeMap;
use tensor::{Result, Tensor};

/// An optimiser's resumable state: its step count, current learning rate and per-parameter
/// tensors (named `m.<param>`, `v.<param>`, `momentum.<param>`).
#[derive(Clone, Debug, Default)]
pub struct OptimState {
    pub step: u64,
    pub lr: f64,
    pub tensors: BTreeMap<String, Tensor>,
}

pub trait Optimizer {
    /// Applies one update to every parameter in `grads`.
    fn step(&mut self, grads: &GradSet) -> Result<()>;
    fn lr(&self) -> f64;
    fn set_lr(&mut self, lr: f64);
    fn state(&self) -> OptimState;
    fn load_state(&mut self, st: &OptimState) -> Result<()>;
}

pub(crate) fn state_entry(st: &OptimState, key: &str) -> Result<Tensor> {
    st.tensors
        .get(key)
        .cloned()
        .ok_or_else(|| tensor::Error::invalid("optimizer state", format!("missing tensor {key:?}")))
}
