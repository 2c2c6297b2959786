//! Adaptive normalisation: a condition vector (noise level, class, text) predicts a per-channel
//! scale and shift (and optionally a gate) applied after a parameter-free norm.
//! AdaGN (diffusion U-Nets): `y = GN(x)·(1 + scale) + shift`; AdaLN (transformers) likewise over
//! the last dim, with a gate for the residual branch (DiT / VAR).
use crate::layers::{GroupNorm, LayerNorm, Linear};
use crate::module::{visit_child, Module, Visitor};
use autograd::Var;
use tensor::{Result, Rng};

#[derive(Clone, Debug)]
pub struct AdaGroupNorm {
    pub norm: GroupNorm,
    /// cond `[N, cond_dim]` → `[N, 2C]` (scale, shift); zero-initialised so training starts from
    /// a plain GroupNorm.
    pub proj: Linear,
}

impl AdaGroupNorm {
    pub fn new(groups: usize, channels: usize, cond_dim: usize, rng: &mut Rng) -> Result<AdaGroupNorm> {
        Ok(AdaGroupNorm {
            norm: GroupNorm::new(groups, channels, false),
            proj: Linear::new(cond_dim, 2 * channels, true, rng)?.zeroed()?,
        })
    }
    /// x: `[N, C, H, W]`, cond: `[N, cond_dim]`
    pub fn forward(&self, x: &Var, cond: &Var) -> Result<Var> {
        let (n, c) = (x.dim(0)?, x.dim(1)?);
        let ss = self.proj.forward(cond)?.reshape(&[n, 2 * c, 1, 1])?;
        let (scale, shift) = (ss.narrow(1, 0, c)?, ss.narrow(1, c, c)?);
        self.norm.forward(x)?.mul(&scale.add_scalar(1.0)?)?.add(&shift)
    }
}

impl Module for AdaGroupNorm {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "norm", &self.norm);
        visit_child(v, "proj", &self.proj);
    }
}

#[derive(Clone, Debug)]
pub struct AdaLayerNorm {
    pub norm: LayerNorm,
    /// cond → `[N, k·D]` with k = 2 (shift, scale) or 3 (shift, scale, gate); zero-initialised.
    pub proj: Linear,
    pub with_gate: bool,
}

impl AdaLayerNorm {
    pub fn new(dim: usize, cond_dim: usize, with_gate: bool, rng: &mut Rng) -> Result<AdaLayerNorm> {
        let k = if with_gate { 3 } else { 2 };
        Ok(AdaLayerNorm {
            norm: LayerNorm::new(&[dim], false),
            proj: Linear::new(cond_dim, k * dim, true, rng)?.zeroed()?,
            with_gate,
        })
    }
    /// x: `[N, L, D]`, cond: `[N, cond_dim]` → (`LN(x)·(1 + scale) + shift`, gate `[N, 1, D]`).
    pub fn forward(&self, x: &Var, cond: &Var) -> Result<(Var, Option<Var>)> {
        let (n, d) = (x.dim(0)?, x.dim(2)?);
        let k = if self.with_gate { 3 } else { 2 };
        let m = self.proj.forward(cond)?.reshape(&[n, 1, k * d])?;
        let (shift, scale) = (m.narrow(2, 0, d)?, m.narrow(2, d, d)?);
        let y = self.norm.forward(x)?.mul(&scale.add_scalar(1.0)?)?.add(&shift)?;
        let gate = if self.with_gate { Some(m.narrow(2, 2 * d, d)?) } else { None };
        Ok((y, gate))
    }
}

impl Module for AdaLayerNorm {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "norm", &self.norm);
        visit_child(v, "proj", &self.proj);
    }
}
