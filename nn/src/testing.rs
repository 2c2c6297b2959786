//! Test helpers shared by every model's tests.
use crate::module::{Module, ModuleExt};
use autograd::Var;
use tensor::Result;

/// Runs `loss_fn` (one forward pass ending in a scalar), backpropagates, and checks that *every*
/// trainable parameter of `model` received a finite gradient that is not all zeros. Returns the
/// list of problems (empty = all good); catches detached branches and ops that drop gradients.
pub fn check_all_params_get_grads(model: &dyn Module, loss_fn: impl FnOnce() -> Result<Var>) -> Result<Vec<String>> {
    let loss = loss_fn()?;
    let grads = loss.backward()?;
    let mut problems = Vec::new();
    for (name, p) in model.trainable_params() {
        match grads.get(&p.var()) {
            None => problems.push(format!("{name}: no gradient (not in the graph)")),
            Some(g) => {
                let v = g.to_vec_f64()?;
                if v.iter().any(|x| !x.is_finite()) {
                    problems.push(format!("{name}: non-finite gradient"));
                } else if v.iter().all(|&x| x == 0.0) {
                    problems.push(format!("{name}: gradient is all zeros"));
                }
            }
        }
    }
    Ok(problems)
}
