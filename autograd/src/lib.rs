//! Reverse-mode automatic differentiation.
//!
//! A [`Var`] holds a tensor value and, if it was computed from `Var`s that need gradients, the
//! [`Op`] that made it. `loss.backward()` sorts the graph and applies each op's backward rule in
//! reverse order (see `backward.rs`, the core in one screen). The rules live beside the forwards,
//! by family: `elementwise.rs`, `reduce.rs`, `shape.rs`, `nn.rs`; `composite.rs` builds attention,
//! losses, dropout and the straight-through estimator from those. [`gradcheck`] compares every
//! rule against central finite differences in f64.
mod backward;
mod composite;
mod elementwise;
pub mod gradcheck;
mod nn;
pub mod op;
mod reduce;
mod shape;
mod var;

pub use backward::Grads;
pub use composite::AttnMask;
pub use op::{Op, OpKind};
pub use tensor::{Error, Result};
pub use var::{grad_enabled, no_grad, Var};
