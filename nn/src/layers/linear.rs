//! Dense layer `y = x Wᵀ + b`.
use crate::init;
use crate::module::{Module, Visitor};
use crate::param::Param;
use autograd::Var;
use tensor::{Result, Rng};

#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out, in]` (PyTorch layout, so checkpoints interoperate).
    pub weight: Param,
    /// `[out]`
    pub bias: Option<Param>,
}

impl Linear {
    /// PyTorch's default init.
    pub fn new(d_in: usize, d_out: usize, bias: bool, rng: &mut Rng) -> Result<Linear> {
        let weight = Param::new(init::kaiming_uniform(&[d_out, d_in], d_in, rng)?);
        let bias = if bias { Some(Param::new(init::kaiming_uniform(&[d_out], d_in, rng)?)) } else { None };
        Ok(Linear { weight, bias })
    }
    /// Zero weight and bias: output projections that start as the identity of a residual branch.
    pub fn zeroed(self) -> Result<Linear> {
        self.weight.set(init::zeros(&self.weight.shape()))?;
        if let Some(b) = &self.bias {
            b.set(init::zeros(&b.shape()))?;
        }
        Ok(self)
    }
    /// LeCun-normal weights (`N(0, 1/fan_in)`) and zero bias instead of PyTorch's default.
    pub fn lecun_normal(self, rng: &mut Rng) -> Result<Linear> {
        self.reinit_lecun_normal(rng)?;
        Ok(self)
    }
    /// Re-initialises this layer's parameters in place (LeCun normal, zero bias).
    pub fn reinit_lecun_normal(&self, rng: &mut Rng) -> Result<()> {
        self.weight.set(init::lecun_normal(&self.weight.shape(), self.d_in(), rng)?)?;
        if let Some(b) = &self.bias {
            b.set(init::zeros(&b.shape()))?;
        }
        Ok(())
    }
    pub fn d_in(&self) -> usize {
        self.weight.shape()[1]
    }
    pub fn d_out(&self) -> usize {
        self.weight.shape()[0]
    }
    /// x: `[*, in]` → `[*, out]`
    pub fn forward(&self, x: &Var) -> Result<Var> {
        x.linear(&self.weight.var(), self.bias.as_ref().map(Param::var).as_ref())
    }
}

impl Module for Linear {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}
