//! `Param`: a named, trainable tensor that an optimiser can update in place.
//!
//! Tensors are immutable, so "updating" a parameter means swapping in a new value. A `Param` is a
//! small shared cell holding the current value as a leaf `Var`; every forward pass reads that
//! `Var`, so `grads.get(&param.var())` finds its gradient after `backward()`.
use autograd::Var;
use std::sync::{Arc, RwLock};
use tensor::{DType, Tensor};

struct State {
    var: Var,
    trainable: bool,
}

pub struct Param {
    cell: Arc<RwLock<State>>,
}

impl Param {
    /// A trainable parameter.
    pub fn new(value: Tensor) -> Param {
        Param { cell: Arc::new(RwLock::new(State { var: Var::leaf(value), trainable: true })) }
    }
    /// A non-trainable tensor saved with the model (PyTorch's buffer: running stats, fixed
    /// Fourier frequencies).
    pub fn buffer(value: Tensor) -> Param {
        Param { cell: Arc::new(RwLock::new(State { var: Var::constant(value), trainable: false })) }
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-swap of an Arc; the state is intact.
        self.cell.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.cell.write().unwrap_or_else(|e| e.into_inner())
    }
    /// The graph leaf for the current value (a constant when frozen).
    pub fn var(&self) -> Var {
        self.read().var.clone()
    }
    pub fn value(&self) -> Tensor {
        self.read().var.value().clone()
    }
    pub fn shape(&self) -> Vec<usize> {
        self.read().var.shape().to_vec()
    }
    pub fn dtype(&self) -> DType {
        self.read().var.dtype()
    }
    pub fn elem_count(&self) -> usize {
        self.read().var.value().elem_count()
    }
    pub fn trainable(&self) -> bool {
        self.read().trainable
    }
    /// Replaces the value (same shape; converted to the parameter's dtype).
    pub fn set(&self, value: Tensor) -> tensor::Result<()> {
        let mut st = self.write();
        if value.shape() != st.var.shape() {
            return Err(tensor::Error::ShapeMismatch {
                op: "Param::set",
                lhs: st.var.shape().to_vec(),
                rhs: value.shape().to_vec(),
            });
        }
        let value = value.to_dtype(st.var.dtype())?;
        st.var = if st.trainable { Var::leaf(value) } else { Var::constant(value) };
        Ok(())
    }
    /// Turns gradients on or off (freezing).
    pub fn set_trainable(&self, on: bool) {
        let mut st = self.write();
        let value = st.var.value().clone();
        st.trainable = on;
        st.var = if on { Var::leaf(value) } else { Var::constant(value) };
    }
    /// Casts the stored value (e.g. to f16 for shipping, back to f32 for training).
    pub fn cast(&self, dtype: DType) -> tensor::Result<()> {
        let mut st = self.write();
        let value = st.var.value().to_dtype(dtype)?;
        st.var = if st.trainable { Var::leaf(value) } else { Var::constant(value) };
        Ok(())
    }
    /// Moves the stored value to `device` (a no-op when it is already there).
    pub fn to_device(&self, device: tensor::Device) -> tensor::Result<()> {
        let mut st = self.write();
        if st.var.value().device() == device {
            return Ok(());
        }
        let value = st.var.value().to_device(device)?;
        st.var = if st.trainable { Var::leaf(value) } else { Var::constant(value) };
        Ok(())
    }
    pub fn device(&self) -> tensor::Device {
        self.read().var.value().device()
    }
    /// Another handle to the *same* parameter (weight tying).
    pub fn share(&self) -> Param {
        Param { cell: self.cell.clone() }
    }
}

/// Cloning a `Param` makes an independent parameter with the same current value (cheap: tensors
/// are immutable and shared), so cloning a model gives a copy for a frozen reference or EMA.
impl Clone for Param {
    fn clone(&self) -> Self {
        let st = self.read();
        let var = if st.trainable { Var::leaf(st.var.value().clone()) } else { Var::constant(st.var.value().clone()) };
        Param { cell: Arc::new(RwLock::new(State { var, trainable: st.trainable })) }
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.read();
        write!(f, "Param({:?}, {:?}, trainable={})", st.var.shape(), st.var.dtype(), st.trainable)
    }
}
