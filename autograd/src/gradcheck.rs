//! Finite-difference gradient checks in f64.
//!
//! For a function `f` of some input tensors, the analytic gradient of the scalar
//! `L = Σ f(x) ⊙ w` (with a fixed random `w`, so every output element matters and no symmetry
//! hides a wrong sign) is compared with the central difference
//! `(L(x + ε e_j) − L(x − ε e_j)) / 2ε` for every input element `j`.
use crate::op::OpKind;
use crate::var::{no_grad, Var};
use std::collections::{BTreeSet, HashSet};
use tensor::{DType, Result, Tensor};

/// Step and tolerances: `|analytic − numeric| ≤ atol + rtol·|numeric|`.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub eps: f64,
    pub atol: f64,
    pub rtol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }
    }
}

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Op kinds recorded in the graph of `f` (so a test can prove it exercised the op).
    pub kinds: BTreeSet<OpKind>,
    /// Largest `|analytic − numeric|` over all elements.
    pub max_abs_err: f64,
    /// Human-readable mismatches (empty when the check passed).
    pub failures: Vec<String>,
    /// Number of input elements checked.
    pub checked: usize,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Every op kind in the graph below `v`.
pub fn graph_kinds(v: &Var) -> BTreeSet<OpKind> {
    let mut kinds = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut stack = vec![v.clone()];
    while let Some(v) = stack.pop() {
        if !seen.insert(v.id()) {
            continue;
        }
        if let Some(op) = v.op() {
            kinds.insert(op.kind());
        }
        stack.extend(v.inputs().iter().cloned());
    }
    kinds
}

/// Checks the gradient of `f` w.r.t. each of `inputs` (converted to contiguous f64).
pub fn gradcheck(f: impl Fn(&[Var]) -> Result<Var>, inputs: &[Tensor], tol: Tolerance) -> Result<Report> {
    let base: Vec<Tensor> = inputs.iter().map(|t| t.to_dtype(DType::F64)?.copy()).collect::<Result<_>>()?;
    let leaves: Vec<Var> = base.iter().cloned().map(Var::leaf).collect();
    let out = f(&leaves)?;
    let w = Tensor::randn(out.shape(), 0.0, 1.0, 0x5eed, DType::F64)?;
    let loss = out.mul(&Var::constant(w.clone()))?.sum_all()?;
    let grads = loss.backward()?;
    let mut report = Report { kinds: graph_kinds(&out), ..Report::default() };

    // L(inputs) without recording a graph.
    let eval = |xs: &[Tensor]| -> Result<f64> {
        no_grad(|| {
            let vars: Vec<Var> = xs.iter().cloned().map(Var::constant).collect();
            f(&vars)?.value().mul(&w)?.sum_all()?.to_scalar_f64()
        })
    };
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = match grads.get(leaf) {
            Some(g) => g.to_vec::<f64>()?,
            None => vec![0.0; base[i].elem_count()],
        };
        let values = base[i].to_vec::<f64>()?;
        for j in 0..values.len() {
            let mut shifted = base.clone();
            let mut at = |delta: f64| -> Result<f64> {
                let mut v = values.clone();
                v[j] += delta;
                shifted[i] = Tensor::from_vec(v, base[i].shape())?;
                eval(&shifted)
            };
            let numeric = (at(tol.eps)? - at(-tol.eps)?) / (2.0 * tol.eps);
            let err = (analytic[j] - numeric).abs();
            report.max_abs_err = report.max_abs_err.max(err);
            report.checked += 1;
            // Written so that a NaN error counts as a failure.
            if err.is_nan() || err > tol.atol + tol.rtol * numeric.abs() {
                report.failures.push(format!("input {i} element {j}: analytic {} vs numeric {numeric}", analytic[j]));
            }
        }
    }
    Ok(report)
}
