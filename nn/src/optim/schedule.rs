//! Learning-rate schedules: a multiplier of the base rate per step (0-based).
//!
//! `factor(step) = warmup(step) · decay(step)` with a linear warmup from `1/warmup` to 1 over the
//! first `warmup` steps (PyTorch's `LinearLR(start_factor=1/warmup)`), then the decay.

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decay {
    Constant,
    /// Half-cosine from 1 down to `final_factor` at `total` steps.
    Cosine {
        total: u64,
        final_factor: f64,
    },
    /// `sqrt(warmup / step)` after the warmup (transformer "Noam" style; EDM2 uses it too).
    InverseSqrt,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSchedule {
    pub warmup: u64,
    pub decay: Decay,
}

impl LrSchedule {
    pub fn constant() -> Self {
        LrSchedule { warmup: 0, decay: Decay::Constant }
    }
    pub fn factor(&self, step: u64) -> f64 {
        let w = if step < self.warmup { (step + 1) as f64 / self.warmup as f64 } else { 1.0 };
        let d = match self.decay {
            Decay::Constant => 1.0,
            Decay::Cosine { total, final_factor } => {
                let t = (step as f64 / total.max(1) as f64).min(1.0);
                final_factor + (1.0 - final_factor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Decay::InverseSqrt => {
                if step < self.warmup.max(1) {
                    1.0
                } else {
                    (self.warmup.max(1) as f64 / step as f64).sqrt()
                }
            }
        };
        w * d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_and_inverse_sqrt() {
        let s = LrSchedule { warmup: 4, decay: Decay::Cosine { total: 100, final_factor: 0.1 } };
        assert_eq!(s.factor(0), 0.25);
        assert_eq!(s.factor(3), 1.0 * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * 0.03).cos())));
        assert!((s.factor(50) - 0.55).abs() < 1e-12);
        assert!((s.factor(100) - 0.1).abs() < 1e-12 && (s.factor(1000) - 0.1).abs() < 1e-12);
        let r = LrSchedule { warmup: 100, decay: Decay::InverseSqrt };
        assert_eq!(r.factor(99), 1.0);
        assert!((r.factor(400) - 0.5).abs() < 1e-12);
        assert_eq!(LrSchedule::constant().factor(123), 1.0);
    }
}
