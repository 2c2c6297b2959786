//! train_step.py's `unet`: a 32×32×3 U-Net with channels 32/64/128, two residual blocks per
//! level (GroupNorm(8) → SiLU → 3×3 conv, the time embedding added after the first conv, 1×1 skip
//! conv when the width changes), stride-2 3×3 conv down, nearest-2× + 3×3 conv up, skip concat;
//! batch 32, MSE against a fixed random target, Adam(lr 1e-3). Parameter names follow the
//! PyTorch module (`down.1.0.skip.weight`, `ups.0.bias`, ...).
use crate::step::{torch_adam, Trainer};
use autograd::Var;
use nn::layers::{Conv2d, GroupNorm, Linear};
use nn::{visit_child, Module, ModuleExt, Visitor};
use tensor::{Conv2dParams, DType, Device, Result, Rng, Tensor};

const IMG: usize = 32;
const CIN: usize = 3;
const CHANS: [usize; 3] = [32, 64, 128];
const NRES: usize = 2;
const GROUPS: usize = 8;
const TDIM: usize = 128;
const BATCH: usize = 32;

/// Worked out from the script's modules (and equal to peers/results/train.*.csv).
pub const PYTORCH_PARAMS: usize = 1_324_195;
const TORCH_FLOPS: u64 = 58_787_889_152;

/// `ResBlock(cin, cout)`: `h = c1(silu(n1(x))) + t(silu(temb))`, `h = c2(silu(n2(h)))`,
/// `out = h + skip(x)`.
struct ResBlock {
    n1: GroupNorm,
    c1: Conv2d,
    t: Linear,
    n2: GroupNorm,
    c2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    fn new(cin: usize, cout: usize, rng: &mut Rng) -> Result<ResBlock> {
        Ok(ResBlock {
            n1: GroupNorm::new(GROUPS, cin, true),
            c1: Conv2d::new(cin, cout, 3, rng)?,
            t: Linear::new(TDIM, cout, true, rng)?,
            n2: GroupNorm::new(GROUPS, cout, true),
            c2: Conv2d::new(cout, cout, 3, rng)?,
            skip: if cin != cout { Some(Conv2d::new(cin, cout, 1, rng)?) } else { None },
        })
    }
    /// x: `[N, cin, H, W]`, temb: `[N, TDIM]` → `[N, cout, H, W]`
    fn forward(&self, x: &Var, temb: &Var) -> Result<Var> {
        let h = self.c1.forward(&self.n1.forward_silu(x)?)?;
        let (n, c) = (h.dim(0)?, h.dim(1)?);
        let h = h.add(&self.t.forward(&temb.silu()?)?.reshape(&[n, c, 1, 1])?)?;
        let h = self.c2.forward(&self.n2.forward_silu(&h)?)?;
        match &self.skip {
            Some(s) => h.add(&s.forward(x)?),
            None => h.add(x),
        }
    }
}

impl Module for ResBlock {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "n1", &self.n1);
        visit_child(v, "c1", &self.c1);
        visit_child(v, "t", &self.t);
        visit_child(v, "n2", &self.n2);
        visit_child(v, "c2", &self.c2);
        if let Some(s) = &self.skip {
            visit_child(v, "skip", s);
        }
    }
}

struct UNet {
    t1: Linear,
    t2: Linear,
    stem: Conv2d,
    down: Vec<Vec<ResBlock>>,
    downs: Vec<Conv2d>,
    up: Vec<Vec<ResBlock>>,
    ups: Vec<Conv2d>,
    onorm: GroupNorm,
    out: Conv2d,
}

impl UNet {
    fn new(rng: &mut Rng) -> Result<UNet> {
        let (t1, t2) = (Linear::new(CHANS[0], TDIM, true, rng)?, Linear::new(TDIM, TDIM, true, rng)?);
        let stem = Conv2d::new(CIN, CHANS[0], 3, rng)?;
        let (mut down, mut downs, mut up, mut ups) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut cur = CHANS[0];
        for (i, &co) in CHANS.iter().enumerate() {
            down.push((0..NRES).map(|j| ResBlock::new(if j == 0 { cur } else { co }, co, rng)).collect::<Result<_>>()?);
            cur = co;
            if i + 1 < CHANS.len() {
                let p = Conv2dParams { stride: (2, 2), padding: (1, 1), ..Default::default() };
                downs.push(Conv2d::with_params(co, co, (3, 3), p, true, rng)?);
            }
        }
        for i in (0..CHANS.len() - 1).rev() {
            ups.push(Conv2d::new(cur, cur, 3, rng)?);
            let co = CHANS[i];
            up.push(
                (0..NRES).map(|j| ResBlock::new(if j == 0 { cur + co } else { co }, co, rng)).collect::<Result<_>>()?,
            );
            cur = co;
        }
        let onorm = GroupNorm::new(GROUPS, cur, true);
        let out = Conv2d::new(cur, CIN, 3, rng)?;
        Ok(UNet { t1, t2, stem, down, downs, up, ups, onorm, out })
    }

    /// x: `[N, 3, 32, 32]`, t: `[N]` (a constant) → `[N, 3, 32, 32]`
    fn forward(&self, x: &Var, t: &Tensor) -> Result<Var> {
        let temb = self.t2.forward(&self.t1.forward(&sin_emb(t, CHANS[0])?)?.silu()?)?;
        let mut h = self.stem.forward(x)?;
        let mut skips = Vec::new();
        for (i, blocks) in self.down.iter().enumerate() {
            for b in blocks {
                h = b.forward(&h, &temb)?;
            }
            if let Some(d) = self.downs.get(i) {
                skips.push(h.clone());
                h = d.forward(&h)?;
            }
        }
        for (upc, blocks) in self.ups.iter().zip(&self.up) {
            h = upc.forward(&h.upsample_nearest(2, 2)?)?;
            let skip = skips.pop().expect("one skip per up level");
            h = Var::cat(&[&h, &skip], 1)?;
            for b in blocks {
                h = b.forward(&h, &temb)?;
            }
        }
        self.out.forward(&self.onorm.forward_silu(&h)?)
    }
}

/// train_step.py's `sin_emb`: `a = t·f`, `f_i = exp(−ln(10⁴)·i/half)` (in f32), features
/// `[sin a, cos a]` (sin first; nn's `SinusoidalEmbedding` puts cos first).
fn sin_emb(t: &Tensor, dim: usize) -> Result<Var> {
    let half = dim / 2;
    let f: Vec<f32> = (0..half).map(|i| (-(10000f32.ln()) * i as f32 / half as f32).exp()).collect();
    let n = t.dim(0)?;
    let f = Tensor::from_vec(f, &[1, half])?.to_device(t.device())?;
    let a = Var::constant(t.reshape(&[n, 1])?).mul(&Var::constant(f))?;
    Var::cat(&[&a.sin()?, &a.cos()?], 1)
}

impl Module for UNet {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "t1", &self.t1);
        visit_child(v, "t2", &self.t2);
        visit_child(v, "stem", &self.stem);
        for (i, blocks) in self.down.iter().enumerate() {
            for (j, b) in blocks.iter().enumerate() {
                visit_child(v, &format!("down.{i}.{j}"), b);
            }
        }
        nn::visit_list(v, "downs", &self.downs);
        for (i, blocks) in self.up.iter().enumerate() {
            for (j, b) in blocks.iter().enumerate() {
                visit_child(v, &format!("up.{i}.{j}"), b);
            }
        }
        nn::visit_list(v, "ups", &self.ups);
        visit_child(v, "onorm", &self.onorm);
        visit_child(v, "out", &self.out);
    }
}

pub fn build(device: Device) -> Result<Trainer> {
    let mut rng = Rng::new(0);
    let model = UNet::new(&mut rng)?;
    model.to_device(device)?;
    let x = Var::constant(rng.normal(&[BATCH, CIN, IMG, IMG], 0.0, 1.0, DType::F32)?.to_device(device)?);
    let t = rng.uniform(&[BATCH], 0.0, 1000.0, DType::F32)?.to_device(device)?;
    let y = Var::constant(rng.normal(&[BATCH, CIN, IMG, IMG], 0.0, 1.0, DType::F32)?.to_device(device)?);
    let params = model.trainable_params();
    Ok(Trainer {
        loss: Box::new(move || model.forward(&x, &t)?.mse(&y)),
        params,
        opt: torch_adam(),
        params_pytorch: PYTORCH_PARAMS,
        torch_flops: TORCH_FLOPS,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_match_pytorch() {
        let t = super::build(tensor::Device::Cpu).unwrap();
        assert_eq!(t.param_count(), super::PYTORCH_PARAMS);
        let names: Vec<&str> = t.params.iter().map(|(n, _)| n.as_str()).collect();
        for n in ["t1.weight", "down.1.0.skip.weight", "downs.1.bias", "up.0.0.skip.weight", "ups.1.weight"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        assert_eq!((names[0], names[names.len() - 1]), ("t1.weight", "out.bias"));
    }
}
