//! The `Module` convention: a model exposes its parameters (and train/eval switches) to a
//! visitor, with PyTorch state-dict names (`down.0.res.1.conv1.weight`). Everything else —
//! counting, freezing, train/eval, state dicts — is written once on top of that.
use crate::param::Param;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tensor::Tensor;

/// A training-mode switch owned by a layer that behaves differently in training (dropout).
#[derive(Debug)]
pub struct ModeFlag(Arc<AtomicBool>);

impl ModeFlag {
    pub fn new() -> Self {
        ModeFlag(Arc::new(AtomicBool::new(true)))
    }
    pub fn training(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed)
    }
}

impl Default for ModeFlag {
    fn default() -> Self {
        ModeFlag::new()
    }
}

/// Cloning a model gives an independent switch.
impl Clone for ModeFlag {
    fn clone(&self) -> Self {
        ModeFlag(Arc::new(AtomicBool::new(self.training())))
    }
}

/// Receives a model's parameters and mode switches.
pub trait Visitor {
    fn param(&mut self, name: &str, p: &Param);
    fn mode(&mut self, _flag: &ModeFlag) {}
}

/// A network: it names its parameters and children.
pub trait Module {
    /// Calls `v.param(name, p)` for each own parameter and `visit_child(v, name, child)` for each
    /// sub-module.
    fn visit(&self, v: &mut dyn Visitor);
}

struct Prefixed<'a> {
    inner: &'a mut dyn Visitor,
    prefix: &'a str,
}

impl Visitor for Prefixed<'_> {
    fn param(&mut self, name: &str, p: &Param) {
        self.inner.param(&format!("{}.{name}", self.prefix), p)
    }
    fn mode(&mut self, flag: &ModeFlag) {
        self.inner.mode(flag)
    }
}

/// Visits `child` with its parameter names prefixed by `name.`.
pub fn visit_child(v: &mut dyn Visitor, name: &str, child: &dyn Module) {
    child.visit(&mut Prefixed { inner: v, prefix: name });
}

/// Visits a list of children named `name.0`, `name.1`, ... (PyTorch's `ModuleList`).
pub fn visit_list<M: Module>(v: &mut dyn Visitor, name: &str, children: &[M]) {
    for (i, c) in children.iter().enumerate() {
        visit_child(v, &format!("{name}.{i}"), c);
    }
}

struct Collect<F: FnMut(&str, &Param)>(F);
impl<F: FnMut(&str, &Param)> Visitor for Collect<F> {
    fn param(&mut self, name: &str, p: &Param) {
        (self.0)(name, p)
    }
}

struct Modes(bool);
impl Visitor for Modes {
    fn param(&mut self, _: &str, _: &Param) {}
    fn mode(&mut self, flag: &ModeFlag) {
        flag.set(self.0)
    }
}

/// What every `Module` gets for free.
pub trait ModuleExt: Module {
    /// `(name, param)` pairs in visiting order; the params are shared handles.
    fn named_params(&self) -> Vec<(String, Param)> {
        let mut out = Vec::new();
        self.visit(&mut Collect(|n: &str, p: &Param| out.push((n.to_string(), p.share()))));
        out
    }
    /// Only the parameters that currently train.
    fn trainable_params(&self) -> Vec<(String, Param)> {
        self.named_params().into_iter().filter(|(_, p)| p.trainable()).collect()
    }
    fn param_count(&self) -> usize {
        self.named_params().iter().map(|(_, p)| p.elem_count()).sum()
    }
    /// Freezes (or unfreezes) every parameter.
    fn set_trainable(&self, on: bool) {
        for (_, p) in self.named_params() {
            p.set_trainable(on)
        }
    }
    /// Training mode on (`true`) or evaluation mode.
    fn set_training(&self, on: bool) {
        self.visit(&mut Modes(on));
    }
    /// Name → current value.
    fn state_dict(&self) -> BTreeMap<String, Tensor> {
        self.named_params().into_iter().map(|(n, p)| (n, p.value())).collect()
    }
    /// Casts every parameter (f16 for shipping, f32 for training).
    fn cast(&self, dtype: tensor::DType) -> tensor::Result<()> {
        self.named_params().iter().try_for_each(|(_, p)| p.cast(dtype))
    }
    /// Moves every parameter and buffer to `device` (PyTorch's `module.to(device)`).
    fn to_device(&self, device: tensor::Device) -> tensor::Result<()> {
        self.named_params().iter().try_for_each(|(_, p)| p.to_device(device))
    }
}

impl<M: Module + ?Sized> ModuleExt for M {}
