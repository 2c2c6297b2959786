//! What the three training workloads share: a model's loss closure, its trainable parameters and
//! optimiser, one training step split into timed phases, and train_step.py's timing policy.
use crate::load::LoadMeter;
use autograd::Var;
use nn::optim::{Adam, GradSet, Optimizer};
use nn::Param;
use std::time::Instant;
use tensor::Result;

/// Everything one training step needs. `loss` runs the forward pass on the workload's fixed batch.
pub struct Trainer {
    pub loss: Box<dyn Fn() -> Result<Var>>,
    pub params: Vec<(String, Param)>,
    pub opt: Adam,
    /// Our parameter count and train_step.py's (PyTorch's `sum(p.numel())`, worked out from the
    /// script and confirmed by peers/results/train.*.csv).
    pub params_pytorch: usize,
    /// torch's FlopCounterMode count of one forward + backward (matmul/conv/attention only), from
    /// peers/results/train.*.csv; only used to print an "achieved GFLOP/s" comparable with theirs.
    pub torch_flops: u64,
}

/// Seconds spent in each phase of one step.
#[derive(Clone, Copy, Debug, Default)]
struct Phases {
    fwd: f64,
    bwd: f64,
    opt: f64,
    total: f64,
}

/// The result of [`Trainer::time`]: medians over the timed steps (each phase's median separately).
#[derive(Clone, Debug)]
pub struct Timing {
    pub median_s: f64,
    pub min_s: f64,
    pub fwd_s: f64,
    pub bwd_s: f64,
    pub opt_s: f64,
    pub params: usize,
    pub params_pytorch: usize,
    pub torch_flops: u64,
    pub last_loss: f64,
    /// Cores kept busy by other processes during the timed steps.
    pub foreign_cores: Option<f64>,
}

/// Waits for a GPU's queue (nothing to wait for on the CPU), so each phase's time is its own:
/// launches return at once, and without this the forward and backward kernels would be paid for
/// at the loss's read-back in the optimiser phase.
fn wait(device: tensor::Device) -> Result<()> {
    #[cfg(feature = "cuda")]
    tensor::cuda::synchronize(device)?;
    #[cfg(not(feature = "cuda"))]
    let _ = device;
    Ok(())
}

/// Python's `statistics.median`: the mean of the two middle values for an even count.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl Trainer {
    pub fn param_count(&self) -> usize {
        self.params.iter().map(|(_, p)| p.elem_count()).sum()
    }

    /// One step: forward + loss, backward, optimiser update. The graph and gradients are dropped
    /// inside the timed region (PyTorch frees its graph during `backward()` and zero_grad).
    fn step(&mut self) -> Result<(Phases, f64)> {
        let t0 = Instant::now();
        let loss = (self.loss)()?;
        let device = loss.value().device();
        wait(device)?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        wait(device)?;
        let t2 = Instant::now();
        let set = GradSet::collect(&self.params, &grads);
        drop(grads);
        self.opt.step(&set)?;
        drop(set);
        let value = loss.to_scalar_f64()?;
        drop(loss);
        let t3 = Instant::now();
        let s = |a: Instant, b: Instant| (b - a).as_secs_f64();
        Ok((Phases { fwd: s(t0, t1), bwd: s(t1, t2), opt: s(t2, t3), total: s(t0, t3) }, value))
    }

    /// train_step.py's policy: `warmup` untimed steps, then `steps` individually timed steps.
    pub fn time(&mut self, warmup: usize, steps: usize) -> Result<Timing> {
        for _ in 0..warmup {
            self.step()?;
        }
        let mut ph = Vec::with_capacity(steps);
        let mut last_loss = f64::NAN;
        let meter = LoadMeter::start();
        for _ in 0..steps {
            let (p, l) = self.step()?;
            ph.push(p);
            last_loss = l;
        }
        let foreign_cores = meter.foreign_cores();
        let col = |f: fn(&Phases) -> f64| ph.iter().map(f).collect::<Vec<_>>();
        let totals = col(|p| p.total);
        Ok(Timing {
            median_s: median(&totals),
            min_s: totals.iter().copied().fold(f64::INFINITY, f64::min),
            fwd_s: median(&col(|p| p.fwd)),
            bwd_s: median(&col(|p| p.bwd)),
            opt_s: median(&col(|p| p.opt)),
            params: self.param_count(),
            params_pytorch: self.params_pytorch,
            torch_flops: self.torch_flops,
            last_loss,
            foreign_cores,
        })
    }
}

/// PyTorch's `Adam(lr=1e-3)` (betas 0.9/0.999, eps 1e-8, no weight decay).
pub fn torch_adam() -> Adam {
    Adam::new(1e-3, (0.9, 0.999), 1e-8, 0.0)
}

/// PyTorch's `AdamW(lr=1e-3, weight_decay=0.01)`.
pub fn torch_adamw() -> Adam {
    Adam::adamw(1e-3, (0.9, 0.999), 1e-8, 0.01)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_matches_python_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
