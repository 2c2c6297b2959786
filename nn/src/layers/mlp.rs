//! Multi-layer perceptron: Linear → activation → … → Linear.
use crate::layers::Linear;
use crate::module::{visit_list, Module, Visitor};
use autograd::Var;
use tensor::{Result, Rng};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Silu,
    Gelu,
    Tanh,
}

impl Activation {
    pub fn apply(self, x: &Var) -> Result<Var> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Silu => x.silu(),
            Activation::Gelu => x.gelu(),
            Activation::Tanh => x.tanh(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    pub act: Activation,
}

impl Mlp {
    /// `dims = [in, hidden…, out]`; no activation after the last layer.
    pub fn new(dims: &[usize], act: Activation, rng: &mut Rng) -> Result<Mlp> {
        let layers = dims.windows(2).map(|w| Linear::new(w[0], w[1], true, rng)).collect::<Result<_>>()?;
        Ok(Mlp { layers, act })
    }
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let mut h = x.clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h)?;
            if i + 1 < self.layers.len() {
                h = self.act.apply(&h)?;
            }
        }
        Ok(h)
    }
}

impl Module for Mlp {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_list(v, "layers", &self.layers);
    }
}
