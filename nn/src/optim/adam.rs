//! Adam and AdamW with PyTorch's exact update rule (the arithmetic is in `kernels::optim`, applied
//! on the parameter's device by `Tensor::adam_update`).
use super::{state_entry, GradSet, OptimState, Optimizer};
use kernels::optim::AdamConfig;
use std::collections::BTreeMap;
use tensor::{Result, Tensor};

pub struct Adam {
    pub cfg: AdamConfig,
    step: u64,
    /// name → (m, v)
    moments: BTreeMap<String, (Tensor, Tensor)>,
}

impl Adam {
    /// Adam with an L2 penalty folded into the gradient (PyTorch `Adam(weight_decay=…)`).
    pub fn new(lr: f64, betas: (f64, f64), eps: f64, weight_decay: f64) -> Adam {
        let cfg = AdamConfig { lr, beta1: betas.0, beta2: betas.1, eps, weight_decay, decoupled: false };
        Adam { cfg, step: 0, moments: BTreeMap::new() }
    }
    /// AdamW: decoupled weight decay (PyTorch `AdamW`, default `weight_decay = 0.01`).
    pub fn adamw(lr: f64, betas: (f64, f64), eps: f64, weight_decay: f64) -> Adam {
        let mut a = Adam::new(lr, betas, eps, weight_decay);
        a.cfg.decoupled = true;
        a
    }
}

impl Optimizer for Adam {
    fn step(&mut self, grads: &GradSet) -> Result<()> {
        self.step += 1;
        for (name, p, g) in &grads.items {
            let value = p.value();
            let (mut m, mut v) = match self.moments.remove(name) {
                Some(mv) => mv,
                None => (value.zeros_like()?, value.zeros_like()?),
            };
            // Moments follow their parameter (a checkpoint loads them on the CPU).
            if m.device() != value.device() {
                (m, v) = (m.to_device(value.device())?, v.to_device(value.device())?);
            }
            let g = g.to_dtype(value.dtype())?;
            // On the parameter's device: the fused update, no copy to the host; the moments are
            // handed over so the CPU updates them in their own buffers.
            let (new, m_new, v_new) = value.adam_update_owned(&g, (m, v), &self.cfg, self.step)?;
            self.moments.insert(name.clone(), (m_new, v_new));
            p.set(new)?;
        }
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.cfg.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }
    fn state(&self) -> OptimState {
        let mut tensors = BTreeMap::new();
        for (n, (m, v)) in &self.moments {
            tensors.insert(format!("m.{n}"), m.clone());
            tensors.insert(format!("v.{n}"), v.clone());
        }
        OptimState { step: self.step, lr: self.cfg.lr, tensors }
    }
    fn load_state(&mut self, st: &OptimState) -> Result<()> {
        self.step = st.step;
        self.cfg.lr = st.lr;
        self.moments.clear();
        for (key, m) in &st.tensors {
            if let Some(name) = key.strip_prefix("m.") {
                let v = state_entry(st, &format!("v.{name}"))?;
                self.moments.insert(name.to_string(), (m.clone(), v));
            }
        }
        Ok(())
    }
}
