//! The input gradient of a stride-1 convolution as the forward convolution of `dy` with the
//! weights flipped and transposed: `dx[ci, i, j] = Σ W[co, ci, ki, kj] · dy[co, i + ph − ki·dh,
//! j + pw − kj·dw]` is a correlation of `dy` (padded by `d·(k−1) − p`) with
//! `W'[ci, co, ki, kj] = W[co, ci, kh−1−ki, kw−1−kj]`, whose output is `dx`'s size. It runs as a
//! forward convolution (the implicit GEMM where that applies, im2col rows read from the padded
//! `dy` otherwise): no `dcols` matrix written out and scattered back by `col2im`. Each element is
//! one sum over `(co, ki, kj)`, not GEMM sums added by `col2im`, so the last bits differ from the
//! col2im path; still one fixed order, whatever the thread count.
use super::Conv2dGeom;
use crate::Real;
use std::mem::MaybeUninit;

/// The forward geometry whose output is `g`'s input gradient, where it applies: stride 1, one
/// group, not 1×1, padding at most `d·(k−1)`, nothing empty. Chosen by the shapes alone (its bits
/// differ from col2im's, so never by the thread count).
pub(super) fn geometry(g: &Conv2dGeom) -> Option<Conv2dGeom> {
    let (dh, dw) = g.dilation;
    let (eh, ew) = (dh * (g.kh - 1), dw * (g.kw - 1));
    let (ph, pw) = g.padding;
    if g.groups != 1 || g.stride != (1, 1) || g.is_pointwise() || ph > eh || pw > ew {
        return None;
    }
    let gt = Conv2dGeom { c_in: g.c_out, h: g.out_h(), w: g.out_w(), c_out: g.c_in, padding: (eh - ph, ew - pw), ..*g };
    let empty = g.n * g.c_in * g.h * g.w == 0 || g.c_out * gt.h * gt.w == 0;
    (!empty).then_some(gt)
}

/// Writes every element of `dx` (`gt` from [`geometry`] for `g`).
// dy: [N, C_out, Ho, Wo], w: [C_out, C_in, kh, kw], dx: [N, C_in, H, W]
pub(super) fn backward_input<T: Real>(g: &Conv2dGeom, gt: &Conv2dGeom, dy: &[T], w: &[T], dx: &mut [MaybeUninit<T>]) {
    g.check(dx.len(), w.len(), dy.len());
    debug_assert!(gt.out_h() == g.h && gt.out_w() == g.w);
    let (kh, kw, cin) = (g.kh, g.kw, g.c_in);
    // W'[ci, co, ki, kj] = W[co, ci, kh−1−ki, kw−1−kj]
    let mut wt = Vec::with_capacity(w.len());
    for ci in 0..cin {
        for co in 0..g.c_out {
            for ki in 0..kh {
                for kj in 0..kw {
                    wt.push(w[((co * cin + ci) * kh + (kh - 1 - ki)) * kw + (kw - 1 - kj)]);
                }
            }
        }
    }
    super::forward_into(gt, dy, &wt, dx, None);
}
