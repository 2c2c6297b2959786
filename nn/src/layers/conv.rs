//! Convolutions and the up/down-sampling blocks of a U-Net.
use crate::init;
use crate::module::{visit_child, Module, Visitor};
use crate::param::Param;
use autograd::Var;
use tensor::{Conv2dParams, Result, Rng};

#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[C_out, C_in/groups, kh, kw]`
    pub weight: Param,
    /// `[C_out]`
    pub bias: Option<Param>,
    pub params: Conv2dParams,
}

impl Conv2d {
    /// A `k×k` convolution with "same" padding for odd `k` at stride 1.
    pub fn new(c_in: usize, c_out: usize, k: usize, rng: &mut Rng) -> Result<Conv2d> {
        let p = Conv2dParams { padding: (k / 2, k / 2), ..Default::default() };
        Conv2d::with_params(c_in, c_out, (k, k), p, true, rng)
    }
    pub fn with_params(
        c_in: usize,
        c_out: usize,
        k: (usize, usize),
        params: Conv2dParams,
        bias: bool,
        rng: &mut Rng,
    ) -> Result<Conv2d> {
        let g = params.groups.max(1);
        let fan_in = c_in / g * k.0 * k.1;
        let weight = Param::new(init::kaiming_uniform(&[c_out, c_in / g, k.0, k.1], fan_in, rng)?);
        let bias = if bias { Some(Param::new(init::kaiming_uniform(&[c_out], fan_in, rng)?)) } else { None };
        Ok(Conv2d { weight, bias, params })
    }
    pub fn zeroed(self) -> Result<Conv2d> {
        self.weight.set(init::zeros(&self.weight.shape()))?;
        if let Some(b) = &self.bias {
            b.set(init::zeros(&b.shape()))?;
        }
        Ok(self)
    }
    /// x: `[N, C_in, H, W]` → `[N, C_out, Ho, Wo]`
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let b = self.bias.as_ref().map(Param::var);
        x.conv2d(&self.weight.var(), b.as_ref(), &self.params)
    }
}

impl Module for Conv2d {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConvTranspose2d {
    /// `[C_in, C_out/groups, kh, kw]` (PyTorch layout)
    pub weight: Param,
    pub bias: Option<Param>,
    pub params: Conv2dParams,
}

impl ConvTranspose2d {
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: (usize, usize),
        params: Conv2dParams,
        bias: bool,
        rng: &mut Rng,
    ) -> Result<ConvTranspose2d> {
        let g = params.groups.max(1);
        // PyTorch computes fan_in from weight.size(1) · receptive field for transposed convs.
        let fan_in = c_out / g * k.0 * k.1;
        let weight = Param::new(init::kaiming_uniform(&[c_in, c_out / g, k.0, k.1], fan_in, rng)?);
        let bias = if bias { Some(Param::new(init::kaiming_uniform(&[c_out], fan_in, rng)?)) } else { None };
        Ok(ConvTranspose2d { weight, bias, params })
    }
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let b = self.bias.as_ref().map(Param::var);
        x.conv_transpose2d(&self.weight.var(), b.as_ref(), &self.params)
    }
}

impl Module for ConvTranspose2d {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}

/// 2× nearest-neighbour upsampling followed by a 3×3 convolution (avoids the checkerboard
/// artefacts of strided transposed convolutions).
#[derive(Clone, Debug)]
pub struct Upsample {
    pub conv: Conv2d,
}

impl Upsample {
    pub fn new(c_in: usize, c_out: usize, rng: &mut Rng) -> Result<Upsample> {
        Ok(Upsample { conv: Conv2d::new(c_in, c_out, 3, rng)? })
    }
    /// `[N, C, H, W]` → `[N, C_out, 2H, 2W]`
    pub fn forward(&self, x: &Var) -> Result<Var> {
        self.conv.forward(&x.upsample_nearest(2, 2)?)
    }
}

impl Module for Upsample {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "conv", &self.conv);
    }
}

/// A 3×3 convolution with stride 2: `[N, C, H, W]` → `[N, C_out, ⌈H/2⌉, ⌈W/2⌉]`.
#[derive(Clone, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
}

impl Downsample {
    pub fn new(c_in: usize, c_out: usize, rng: &mut Rng) -> Result<Downsample> {
        let p = Conv2dParams { stride: (2, 2), padding: (1, 1), ..Default::default() };
        Ok(Downsample { conv: Conv2d::with_params(c_in, c_out, (3, 3), p, true, rng)? })
    }
    pub fn forward(&self, x: &Var) -> Result<Var> {
        self.conv.forward(x)
    }
}

impl Module for Downsample {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "conv", &self.conv);
    }
}
