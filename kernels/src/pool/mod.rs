//! 2-D max / average pooling and the separable resize matrices.
//!
//! Pooling works plane by plane (one `(n, c)` pair at a time, in parallel over planes; every
//! output element is written by exactly one task, so results do not depend on the thread count).
//! Output position `(oh, ow)` sees the window of input rows `oh·sh − ph .. oh·sh − ph + kh`
//! (columns likewise), clipped to the image; the clipped-off part is padding.
//!
//! * max: padding acts as −∞; the forward pass records, for every output, the flat index into
//!   `x` of the element it picked (the first maximum in row-major window order; a NaN wins and
//!   propagates, as in PyTorch), and the backward pass scatters `dy` to those indices.
//! * average: PyTorch `count_include_pad=True`, i.e. the window sum is always divided by `kh·kw`
//!   (padding counts as zeros). In floor mode a window never reaches past the padded extent, so
//!   this is exactly PyTorch's divisor.
//!
//! Resizing one axis from `in` to `out` samples is linear, `y = M·x` with `M: [out, in]`, and a 2-D
//! resize is separable: `Y = M_h · X · M_wᵀ` (see [`resize_matrix`]).
use crate::Real;
use rayon::prelude::*;

/// Shape and hyper-parameters of a 2-D pooling. `stride` and `padding` are `(vertical, horizontal)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl Pool2dGeom {
    /// Output height, floor mode: `(h + 2p − k) / s + 1`.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.padding.0 - self.kh) / self.stride.0 + 1
    }

    /// Output width, floor mode: `(w + 2p − k) / s + 1`.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.padding.1 - self.kw) / self.stride.1 + 1
    }

    fn check(&self, x_len: usize, y_len: usize) {
        assert!(self.stride.0 >= 1 && self.stride.1 >= 1, "pool2d: stride must be >= 1");
        assert!(self.kh >= 1 && self.kw >= 1, "pool2d: kernel must be >= 1");
        assert_eq!(x_len, self.n * self.c * self.h * self.w, "pool2d: input length");
        let y_want = self.n * self.c * self.out_h() * self.out_w();
        assert_eq!(y_len, y_want, "pool2d: output length");
    }

    /// The clipped input ranges `(rows, cols)` of the window of output `(oh, ow)`.
    fn window(&self, oh: usize, ow: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let clip = |o: usize, s: usize, p: usize, k: usize, len: usize| {
            let start = o * s;
            start.saturating_sub(p).min(len)..(start + k).saturating_sub(p).min(len)
        };
        let rows = clip(oh, self.stride.0, self.padding.0, self.kh, self.h);
        let cols = clip(ow, self.stride.1, self.padding.1, self.kw, self.w);
        (rows, cols)
    }
}

/// Max pooling. `argmax[i]` is the flat index into `x` of the element chosen for `y[i]` (first
/// maximum on ties). A window lying entirely in the padding (impossible when `padding ≤ k/2`)
/// gives `y = −∞` and `argmax = usize::MAX`, which the backward pass skips.
// x: [N, C, H, W], y / argmax: [N, C, Ho, Wo] (overwritten)
pub fn max_pool2d_forward<T: Real>(g: &Pool2dGeom, x: &[T], y: &mut [T], argmax: &mut [usize]) {
    g.check(x.len(), y.len());
    assert_eq!(argmax.len(), y.len(), "max_pool2d: argmax length");
    let (hw, wo) = (g.h * g.w, g.out_w());
    if y.is_empty() {
        return;
    }
    if hw == 0 {
        y.fill(T::neg_infinity());
        argmax.fill(usize::MAX);
        return;
    }
    let plane_out = g.out_h() * wo;
    let _warm = crate::parallel::keep_warm();
    y.par_chunks_mut(plane_out).zip(argmax.par_chunks_mut(plane_out)).zip(x.par_chunks(hw)).enumerate().for_each(
        |(plane, ((yp, ap), xp))| {
            for (i, (yv, av)) in yp.iter_mut().zip(ap.iter_mut()).enumerate() {
                let (rows, cols) = g.window(i / wo, i % wo);
                let (mut best, mut arg) = (T::neg_infinity(), usize::MAX);
                for ih in rows {
                    for iw in cols.clone() {
                        let v = xp[ih * g.w + iw];
                        // Strictly greater keeps the first maximum; the first NaN wins for good.
                        if arg == usize::MAX || v > best || (v.is_nan() && !best.is_nan()) {
                            (best, arg) = (v, ih * g.w + iw);
                        }
                    }
                }
                *yv = best;
                *av = if arg == usize::MAX { arg } else { plane * hw + arg };
            }
        },
    );
}

/// Backward of max pooling: `dx` is zeroed, then each `dy[i]` is added at `argmax[i]`.
// dy / argmax: [N, C, Ho, Wo], dx: [N, C, H, W] (overwritten)
pub fn max_pool2d_backward<T: Real>(g: &Pool2dGeom, dy: &[T], argmax: &[usize], dx: &mut [T]) {
    g.check(dx.len(), dy.len());
    assert_eq!(argmax.len(), dy.len(), "max_pool2d: argmax length");
    dx.fill(T::zero());
    let hw = g.h * g.w;
    if dy.is_empty() || hw == 0 {
        return;
    }
    let plane_out = g.out_h() * g.out_w();
    let _warm = crate::parallel::keep_warm();
    dx.par_chunks_mut(hw).zip(dy.par_chunks(plane_out).zip(argmax.par_chunks(plane_out))).enumerate().for_each(
        |(plane, (dxp, (dyp, ap)))| {
            for (&d, &a) in dyp.iter().zip(ap) {
                if a != usize::MAX {
                    // An index from the forward pass always lies in its own plane.
                    dxp[a - plane * hw] += d;
                }
            }
        },
    );
}

/// Average pooling with `count_include_pad=True`: every window sum is divided by `kh·kw`.
// x: [N, C, H, W], y: [N, C, Ho, Wo] (overwritten)
pub fn avg_pool2d_forward<T: Real>(g: &Pool2dGeom, x: &[T], y: &mut [T]) {
    g.check(x.len(), y.len());
    let (hw, wo) = (g.h * g.w, g.out_w());
    if y.is_empty() || hw == 0 {
        y.fill(T::zero());
        return;
    }
    let inv = T::one() / <T as Real>::from_f64((g.kh * g.kw) as f64);
    let _warm = crate::parallel::keep_warm();
    y.par_chunks_mut(g.out_h() * wo).zip(x.par_chunks(hw)).for_each(|(yp, xp)| {
        for (i, yv) in yp.iter_mut().enumerate() {
            let (rows, cols) = g.window(i / wo, i % wo);
            let mut acc = T::zero();
            for ih in rows {
                for &v in &xp[ih * g.w + cols.start..ih * g.w + cols.end] {
                    acc += v;
                }
            }
            *yv = acc * inv;
        }
    });
}

/// Backward of average pooling: each `dy / (kh·kw)` is added onto the in-image part of its window.
// dy: [N, C, Ho, Wo], dx: [N, C, H, W] (overwritten)
pub fn avg_pool2d_backward<T: Real>(g: &Pool2dGeom, dy: &[T], dx: &mut [T]) {
    g.check(dx.len(), dy.len());
    dx.fill(T::zero());
    let (hw, wo) = (g.h * g.w, g.out_w());
    if dy.is_empty() || hw == 0 {
        return;
    }
    let inv = T::one() / <T as Real>::from_f64((g.kh * g.kw) as f64);
    let _warm = crate::parallel::keep_warm();
    dx.par_chunks_mut(hw).zip(dy.par_chunks(g.out_h() * wo)).for_each(|(dxp, dyp)| {
        for (i, &d) in dyp.iter().enumerate() {
            let (rows, cols) = g.window(i / wo, i % wo);
            let share = d * inv;
            for ih in rows {
                for v in &mut dxp[ih * g.w + cols.start..ih * g.w + cols.end] {
                    *v += share;
                }
            }
        }
    });
}

/// Interpolation kernel of [`resize_matrix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeKind {
    Nearest,
    Area,
    Bicubic,
}

/// Keys cubic convolution coefficient `A` used by PyTorch's bicubic mode.
const CUBIC_A: f64 = -0.75;

/// Keys kernel for `|x| ≤ 1`: `((A+2)·x − (A+3))·x² + 1`.
fn cubic_near(x: f64) -> f64 {
    ((CUBIC_A + 2.0) * x - (CUBIC_A + 3.0)) * x * x + 1.0
}

/// Keys kernel for `1 < |x| < 2`: `((A·x − 5A)·x + 8A)·x − 4A`.
fn cubic_far(x: f64) -> f64 {
    ((CUBIC_A * x - 5.0 * CUBIC_A) * x + 8.0 * CUBIC_A) * x - 4.0 * CUBIC_A
}

/// Row-major `[out_size, in_size]` matrix M (f64) such that resizing one axis is y = M·x.
/// Resizing a 2D image is separable: Y = M_h · X · M_w^T.
///
/// Exactly PyTorch's `F.interpolate` / adaptive pooling semantics, with `i` the output index:
///
/// * `Nearest` (`mode='nearest'`): `src = min(floor(i · scale), in − 1)` with
///   `scale = in / out` computed in f32, as PyTorch does; `M[i, src] = 1`.
/// * `Area` (`mode='area'` = `adaptive_avg_pool`): row `i` averages the input indices
///   `[floor(i·in/out), ceil((i+1)·in/out))` (integer arithmetic), weight `1 / count` each.
/// * `Bicubic` (`mode='bicubic', align_corners=False`): `src = (i + 0.5)·(in/out) − 0.5`, not
///   clamped at 0; `i0 = floor(src)`, `t = src − i0`; the taps `i0−1, i0, i0+1, i0+2` get the Keys
///   weights (A = −0.75) `K(t+1), K(t), K(1−t), K(2−t)`, i.e. `cubic_far(t+1)`, `cubic_near(t)`,
///   `cubic_near(1−t)`, `cubic_far(2−t)`. Each tap index is clamped to `[0, in−1]`, so the weights
///   of out-of-range taps accumulate on the border element. (Computed here in f64; PyTorch
///   computes the source coordinate in the tensor's own precision.)
///
/// Every row sums to 1, and `in == out` gives the identity for all three kinds.
pub fn resize_matrix(kind: ResizeKind, in_size: usize, out_size: usize) -> Vec<f64> {
    let mut m = vec![0.0; out_size * in_size];
    if in_size == 0 || out_size == 0 {
        return m;
    }
    for (i, row) in m.chunks_exact_mut(in_size).enumerate() {
        match kind {
            ResizeKind::Nearest => {
                let scale = in_size as f32 / out_size as f32;
                let src = ((i as f32 * scale).floor() as usize).min(in_size - 1);
                row[src] = 1.0;
            }
            ResizeKind::Area => {
                let start = i * in_size / out_size;
                let end = ((i + 1) * in_size).div_ceil(out_size);
                let weight = 1.0 / (end - start) as f64;
                row[start..end].fill(weight);
            }
            ResizeKind::Bicubic => {
                let src = (i as f64 + 0.5) * (in_size as f64 / out_size as f64) - 0.5;
                let i0 = src.floor();
                let t = src - i0;
                let weights = [cubic_far(t + 1.0), cubic_near(t), cubic_near(1.0 - t), cubic_far(2.0 - t)];
                for (tap, wt) in weights.into_iter().enumerate() {
                    let idx = (i0 as i64 - 1 + tap as i64).clamp(0, in_size as i64 - 1);
                    row[idx as usize] += wt;
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests;
