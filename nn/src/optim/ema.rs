//! Exponential moving average of weights, by a fixed decay or by a half-life in samples (EDM):
//! `β = 0.5^(batch / half_life)`, with an optional ramp-up `half_life ← min(half_life,
//! samples_seen · ramp)` so early averages are not dominated by the random init.
//! Update: `ema ← p + β·(ema − p)` (EDM's `p_net.lerp(p_ema, β)`).
use crate::module::{Module, ModuleExt};
use crate::param::Param;
use std::collections::BTreeMap;
use tensor::{Error, Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EmaMode {
    Decay(f64),
    HalfLife { samples: f64, rampup: Option<f64> },
}

#[derive(Clone, Debug)]
pub struct Ema {
    pub mode: EmaMode,
    pub shadow: BTreeMap<String, Tensor>,
}

impl Ema {
    /// Starts from the model's current weights.
    pub fn new(model: &dyn Module, mode: EmaMode) -> Ema {
        Ema { mode, shadow: model.state_dict() }
    }
    /// The decay used for a step of `batch` samples after `samples_seen` samples.
    pub fn beta(&self, batch: u64, samples_seen: u64) -> f64 {
        match self.mode {
            EmaMode::Decay(d) => d,
            EmaMode::HalfLife { samples, rampup } => {
                let hl = match rampup {
                    Some(r) => samples.min(samples_seen as f64 * r),
                    None => samples,
                };
                0.5f64.powf(batch as f64 / hl.max(1e-8))
            }
        }
    }
    pub fn update(&mut self, model: &dyn Module, batch: u64, samples_seen: u64) -> Result<()> {
        let beta = self.beta(batch, samples_seen);
        for (name, p) in model.named_params() {
            let cur = p.value();
            let e = self.shadow.get(&name).ok_or_else(|| Error::invalid("ema", format!("unknown parameter {name}")))?;
            // ema ← p + β·(ema − p)
            // The shadow follows its parameter's device (a checkpoint loads it on the CPU).
            let e = e.to_dtype(cur.dtype())?.to_device(cur.device())?;
            let next = cur.add(&e.sub(&cur)?.scale(beta)?)?;
            self.shadow.insert(name, next);
        }
        Ok(())
    }
    /// Writes the averaged weights into `model` (e.g. a clone used for sampling).
    pub fn copy_to(&self, model: &dyn Module) -> Result<()> {
        for (name, p) in model.named_params() {
            if let Some(t) = self.shadow.get(&name) {
                Param::set(&p, t.clone())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_life_beta_halves_after_half_life_samples() {
        let e = Ema { mode: EmaMode::HalfLife { samples: 1000.0, rampup: None }, shadow: BTreeMap::new() };
        let b = e.beta(10, 0);
        assert!((b.powi(100) - 0.5).abs() < 1e-12);
        let r = Ema { mode: EmaMode::HalfLife { samples: 1000.0, rampup: Some(0.05) }, shadow: BTreeMap::new() };
        assert!((r.beta(10, 2000) - 0.5f64.powf(10.0 / 100.0)).abs() < 1e-15);
    }
}
