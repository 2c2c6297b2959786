//! `Var`: a tensor value plus, when it was computed from other `Var`s that need gradients, the op
//! that made it and its inputs. That is the whole graph: every `Var` points at its inputs, and
//! `backward()` walks those pointers in reverse.
use crate::op::Op;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tensor::{DType, Tensor};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` with graph recording switched off (PyTorch's `torch.no_grad()`): every op inside
/// returns a constant `Var`. Sampling and evaluation code uses this to save memory.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

/// Whether ops currently record the graph.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

pub(crate) struct Node {
    pub op: Op,
    pub inputs: Vec<Var>,
}

pub(crate) struct VarInner {
    pub id: usize,
    pub value: Tensor,
    pub requires_grad: bool,
    pub node: Option<Node>,
}

impl Drop for VarInner {
    /// Frees the graph below this node with an explicit stack: the default recursive drop would
    /// overflow the thread stack on graphs tens of thousands of ops deep.
    fn drop(&mut self) {
        let Some(node) = self.node.take() else { return };
        let mut stack = node.inputs;
        while let Some(v) = stack.pop() {
            if let Some(mut inner) = Arc::into_inner(v.0) {
                if let Some(n) = inner.node.take() {
                    stack.extend(n.inputs);
                }
            }
        }
    }
}

/// A node of the autograd graph. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Var(pub(crate) Arc<VarInner>);

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self.0.node.as_ref().map(|n| n.op.kind().name()).unwrap_or("leaf");
        write!(f, "Var#{}({op}, {:?}, requires_grad={})", self.0.id, self.0.value, self.0.requires_grad)
    }
}

impl Var {
    fn make(value: Tensor, requires_grad: bool, node: Option<Node>) -> Var {
        Var(Arc::new(VarInner { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), value, requires_grad, node }))
    }
    /// A leaf that gradients are computed for (a parameter or a differentiable input).
    pub fn leaf(value: Tensor) -> Var {
        Var::make(value, true, None)
    }
    /// A leaf that never receives a gradient (data, targets, masks).
    pub fn constant(value: Tensor) -> Var {
        Var::make(value, false, None)
    }
    /// Records `value = op(inputs)` when gradients are enabled and some input needs one;
    /// otherwise returns a constant.
    pub(crate) fn from_op(value: Tensor, op: Op, inputs: Vec<Var>) -> Var {
        if grad_enabled() && inputs.iter().any(|v| v.requires_grad()) {
            Var::make(value, true, Some(Node { op, inputs }))
        } else {
            Var::constant(value)
        }
    }
    /// Same value, cut from the graph.
    pub fn detach(&self) -> Var {
        Var::constant(self.0.value.clone())
    }

    pub fn id(&self) -> usize {
        self.0.id
    }
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }
    /// The op that produced this `Var` (`None` for leaves and constants).
    pub fn op(&self) -> Option<&Op> {
        self.0.node.as_ref().map(|n| &n.op)
    }
    /// The inputs of the op that produced this `Var`.
    pub fn inputs(&self) -> &[Var] {
        self.0.node.as_ref().map(|n| &n.inputs[..]).unwrap_or(&[])
    }
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }
    pub fn rank(&self) -> usize {
        self.0.value.rank()
    }
    pub fn dtype(&self) -> DType {
        self.0.value.dtype()
    }
    pub fn dim(&self, d: isize) -> tensor::Result<usize> {
        self.0.value.dim(d)
    }
    pub fn to_vec_f64(&self) -> tensor::Result<Vec<f64>> {
        self.0.value.to_vec_f64()
    }
    pub fn to_scalar_f64(&self) -> tensor::Result<f64> {
        self.0.value.to_scalar_f64()
    }
}
