//! Group norm followed by SiLU as one op, `z = silu(gn(x))`, the pair every U-Net residual block
//! applies. The normalised `y` is never written out, nor kept for the backward pass:
//!
//! * forward, per `(image, group)` row: the statistics, `y` into an L1-sized scratch row, then
//!   `z = silu(y)` with the SIMD unary loop;
//! * backward, per row: `y` recomputed from `x` and the saved statistics, `dy = dz·silu'(y)` into
//!   a scratch row, then group norm's backward row (channel sums, then `dx`) from it.
//!
//! Each pass reads `x` (and `dz`) and writes its output once, where the separate ops also write
//! and re-read `y` and `dy`. The formulas and their order are those of the two ops, so `z`, `dx`,
//! `dgamma` and `dbeta` are the same bits as group norm then SiLU (tested).
use super::check_len;
use super::group::{forward_vec, group_norm_backward_into, Upstream};
use crate::elementwise::UnaryOp;
use crate::memory::written_vec;
use crate::Real;

/// `silu(group_norm(x))` into a new `z` (`[n, c, s]`); `mean`, `rstd` (`[n·groups]`) as
/// [`super::group_norm_forward`] fills them.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_silu_forward_vec<T: Real>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
    mean: &mut [T],
    rstd: &mut [T],
) -> Vec<T> {
    forward_vec(x, (n, c, s), groups, (gamma, beta), eps, Some(UnaryOp::Silu), (mean, rstd))
}

/// The backward pass of [`group_norm_silu_forward_vec`]: returns `dx`; `dgamma` / `dbeta` (`[c]`)
/// overwritten when given. `beta` is the forward's (the recomputed `y` needs it).
#[allow(clippy::too_many_arguments)]
pub fn group_norm_silu_backward_vec<T: Real>(
    x: &[T],
    dz: &[T],
    (n, c, s): (usize, usize, usize),
    groups: usize,
    (gamma, beta): (Option<&[T]>, Option<&[T]>),
    (mean, rstd): (&[T], &[T]),
    (dgamma, dbeta): (Option<&mut [T]>, Option<&mut [T]>),
) -> Vec<T> {
    beta.inspect(|b| check_len("beta", b, c));
    let upstream = Upstream::Silu { dz, beta };
    // SAFETY: `group_norm_backward_into` writes every element of `dx` (or panics).
    unsafe {
        written_vec(x.len(), |dx| {
            group_norm_backward_into(x, upstream, (n, c, s), groups, gamma, (mean, rstd), dx, (dgamma, dbeta))
        })
    }
}
