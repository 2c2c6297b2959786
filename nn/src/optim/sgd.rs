//! SGD with momentum / Nesterov / weight decay, PyTorch's exact rule (`kernels::optim`, applied on
//! the parameter's device by `Tensor::sgd_update`).
use super::{GradSet, OptimState, Optimizer};
use kernels::optim::SgdConfig;
use std::collections::BTreeMap;
use tensor::{Result, Tensor};

pub struct Sgd {
    pub cfg: SgdConfig,
    step: u64,
    buffers: BTreeMap<String, Tensor>,
}

impl Sgd {
    pub fn new(lr: f64, momentum: f64, nesterov: bool, weight_decay: f64) -> Sgd {
        Sgd {
            cfg: SgdConfig { lr, momentum, dampening: 0.0, weight_decay, nesterov },
            step: 0,
            buffers: BTreeMap::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, grads: &GradSet) -> Result<()> {
        self.step += 1;
        for (name, p, g) in &grads.items {
            let value = p.value();
            let first = !self.buffers.contains_key(name);
            let buf = match self.buffers.entry(name.clone()) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(value.zeros_like()?),
            };
            if buf.device() != value.device() {
                *buf = buf.to_device(value.device())?;
            }
            let g = g.to_dtype(value.dtype())?;
            let (new, buf_new) = value.sgd_update(&g, buf, &self.cfg, first)?;
            *buf = buf_new;
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
        let tensors = self.buffers.iter().map(|(n, b)| (format!("momentum.{n}"), b.clone())).collect();
        OptimState { step: self.step, lr: self.cfg.lr, tensors }
    }
    fn load_state(&mut self, st: &OptimState) -> Result<()> {
        self.step = st.step;
        self.cfg.lr = st.lr;
        self.buffers = st
            .tensors
            .iter()
            .filter_map(|(k, t)| k.strip_prefix("momentum.").map(|n| (n.to_string(), t.clone())))
            .collect();
        Ok(())
    }
}
