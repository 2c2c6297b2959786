//! Normalisation layers with learned affine parameters (γ = 1, β = 0 at init, as PyTorch).
use crate::init;
use crate::module::{Module, Visitor};
use crate::param::Param;
use autograd::Var;
use tensor::Result;

#[derive(Clone, Debug)]
pub struct GroupNorm {
    pub groups: usize,
    pub eps: f64,
    /// `[C]`
    pub weight: Option<Param>,
    /// `[C]`
    pub bias: Option<Param>,
}

impl GroupNorm {
    pub fn new(groups: usize, channels: usize, affine: bool) -> GroupNorm {
        let (weight, bias) = if affine {
            (Some(Param::new(init::ones(&[channels]))), Some(Param::new(init::zeros(&[channels]))))
        } else {
            (None, None)
        };
        GroupNorm { groups, eps: 1e-5, weight, bias }
    }
    /// x: `[N, C, *]`
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let (w, b) = (self.weight.as_ref().map(Param::var), self.bias.as_ref().map(Param::var));
        x.group_norm(self.groups, w.as_ref(), b.as_ref(), self.eps)
    }
    /// `silu(self.forward(x))` as one op (`Var::group_norm_silu`): the same values, without the
    /// normalised tensor stored for the backward pass.
    pub fn forward_silu(&self, x: &Var) -> Result<Var> {
        let (w, b) = (self.weight.as_ref().map(Param::var), self.bias.as_ref().map(Param::var));
        x.group_norm_silu(self.groups, w.as_ref(), b.as_ref(), self.eps)
    }
}

impl Module for GroupNorm {
    fn visit(&self, v: &mut dyn Visitor) {
        if let Some(w) = &self.weight {
            v.param("weight", w);
        }
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}

#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub shape: Vec<usize>,
    pub eps: f64,
    pub weight: Option<Param>,
    pub bias: Option<Param>,
}

impl LayerNorm {
    /// Normalises over the trailing dims `shape`.
    pub fn new(shape: &[usize], affine: bool) -> LayerNorm {
        let (weight, bias) = if affine {
            (Some(Param::new(init::ones(shape))), Some(Param::new(init::zeros(shape))))
        } else {
            (None, None)
        };
        LayerNorm { shape: shape.to_vec(), eps: 1e-5, weight, bias }
    }
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let (w, b) = (self.weight.as_ref().map(Param::var), self.bias.as_ref().map(Param::var));
        x.layer_norm(&self.shape, w.as_ref(), b.as_ref(), self.eps)
    }
}

impl Module for LayerNorm {
    fn visit(&self, v: &mut dyn Visitor) {
        if let Some(w) = &self.weight {
            v.param("weight", w);
        }
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}

#[derive(Clone, Debug)]
pub struct RmsNorm {
    pub dim: usize,
    pub eps: f64,
    pub weight: Param,
}

impl RmsNorm {
    pub fn new(dim: usize) -> RmsNorm {
        RmsNorm { dim, eps: 1e-6, weight: Param::new(init::ones(&[dim])) }
    }
    /// x: `[*, dim]`
    pub fn forward(&self, x: &Var) -> Result<Var> {
        x.rms_norm(&[self.dim], Some(&self.weight.var()), self.eps)
    }
}

impl Module for RmsNorm {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
    }
}
