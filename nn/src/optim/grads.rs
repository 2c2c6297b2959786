//! The gradients of a model's parameters after `backward()`, by name, with global-norm clipping.
use crate::param::Param;
use autograd::Grads;
use tensor::{Result, Tensor};

/// `(name, param, gradient)` for every trainable parameter that received a gradient.
pub struct GradSet {
    pub items: Vec<(String, Param, Tensor)>,
}

impl GradSet {
    /// Pairs each trainable parameter with its gradient from `grads` (parameters outside the
    /// graph are skipped; see `testing::check_all_params_get_grads` to catch that in tests).
    pub fn collect(params: &[(String, Param)], grads: &Grads) -> GradSet {
        let items = params
            .iter()
            .filter(|(_, p)| p.trainable())
            .filter_map(|(n, p)| grads.get(&p.var()).map(|g| (n.clone(), p.share(), g.clone())))
            .collect();
        GradSet { items }
    }
    /// `sqrt(Σ ‖g‖²)` over all gradients, in f64 (one scalar per gradient comes to the host).
    pub fn global_norm(&self) -> Result<f64> {
        let mut total = 0.0;
        for (_, _, g) in &self.items {
            total += g.sum_squares_f64()?;
        }
        Ok(total.sqrt())
    }
    /// Scales all gradients so the global norm is at most `max_norm` (PyTorch's
    /// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when below 1). Returns the norm
    /// before clipping.
    pub fn clip_norm(&mut self, max_norm: f64) -> Result<f64> {
        let norm = self.global_norm()?;
        let coef = max_norm / (norm + 1e-6);
        if coef < 1.0 {
            for (_, _, g) in &mut self.items {
                *g = g.scale(coef)?;
            }
        }
        Ok(norm)
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
