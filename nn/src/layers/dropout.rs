//! Dropout: active in training mode only (see `ModuleExt::set_training`).
use crate::module::{ModeFlag, Module, Visitor};
use autograd::Var;
use tensor::{Result, Rng};

#[derive(Clone, Debug)]
pub struct Dropout {
    pub p: f64,
    pub mode: ModeFlag,
}

impl Dropout {
    pub fn new(p: f64) -> Dropout {
        Dropout { p, mode: ModeFlag::new() }
    }
    /// Zeroes elements with probability `p` (scaling the rest by `1/(1−p)`) in training mode;
    /// the identity in evaluation mode. The mask comes from `rng`.
    pub fn forward(&self, x: &Var, rng: &mut Rng) -> Result<Var> {
        x.dropout(self.p, self.mode.training(), rng)
    }
}

impl Module for Dropout {
    fn visit(&self, v: &mut dyn Visitor) {
        v.mode(&self.mode);
    }
}
