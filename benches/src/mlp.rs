//! train_step.py's `mlp`: `nn.Sequential(Linear(2, 256), SiLU, 3 × [Linear(256, 256), SiLU],
//! Linear(256, 2))`, batch 512, MSE against a fixed random target, Adam(lr 1e-3).
use crate::step::{torch_adam, Trainer};
use autograd::Var;
use nn::layers::Linear;
use nn::{visit_child, Module, ModuleExt, Visitor};
use tensor::{DType, Device, Result, Rng};

const DIN: usize = 2;
const WIDTH: usize = 256;
const DEPTH: usize = 4;
const BATCH: usize = 512;

/// 2·256+256 + 3·(256·256+256) + 256·2+2
pub const PYTORCH_PARAMS: usize = 198_658;
const TORCH_FLOPS: u64 = 606_601_216;

struct Mlp {
    /// The Linear layers; SiLU between them. Named like the Sequential's indices (0, 2, .., 8).
    layers: Vec<Linear>,
}

impl Mlp {
    fn new(rng: &mut Rng) -> Result<Mlp> {
        let mut dims = vec![DIN];
        dims.extend([WIDTH; DEPTH]);
        dims.push(DIN);
        let layers = dims.windows(2).map(|w| Linear::new(w[0], w[1], true, rng)).collect::<Result<_>>()?;
        Ok(Mlp { layers })
    }
    /// x: `[N, 2]` → `[N, 2]`
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut h = x.clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h)?;
            if i + 1 < self.layers.len() {
                h = h.silu()?;
            }
        }
        Ok(h)
    }
}

impl Module for Mlp {
    fn visit(&self, v: &mut dyn Visitor) {
        for (i, l) in self.layers.iter().enumerate() {
            visit_child(v, &(2 * i).to_string(), l);
        }
    }
}

pub fn build(device: Device) -> Result<Trainer> {
    let mut rng = Rng::new(0);
    let model = Mlp::new(&mut rng)?;
    model.to_device(device)?;
    let x = Var::constant(rng.normal(&[BATCH, DIN], 0.0, 1.0, DType::F32)?.to_device(device)?);
    let y = Var::constant(rng.normal(&[BATCH, DIN], 0.0, 1.0, DType::F32)?.to_device(device)?);
    let params = model.trainable_params();
    Ok(Trainer {
        loss: Box::new(move || model.forward(&x)?.mse(&y)),
        params,
        opt: torch_adam(),
        params_pytorch: PYTORCH_PARAMS,
        torch_flops: TORCH_FLOPS,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_match_pytorch_and_a_step_trains() {
        let mut t = super::build(tensor::Device::Cpu).unwrap();
        assert_eq!(t.param_count(), super::PYTORCH_PARAMS);
        let names: Vec<&str> = t.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!((names[0], names[names.len() - 1], names.len()), ("0.weight", "8.bias", 10));
        let r = t.time(0, 3).unwrap();
        assert!(r.last_loss.is_finite() && r.median_s > 0.0);
    }
}
