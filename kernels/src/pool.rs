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
        assert!(
            self.stride.0 >= 1 && self.stride.1 >= 1,
            "pool2d: stride must be >= 1"
        );
        assert!(self.kh >= 1 && self.kw >= 1, "pool2d: kernel must be >= 1");
        assert_eq!(
            x_len,
            self.n * self.c * self.h * self.w,
            "pool2d: input length"
        );
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
    y.par_chunks_mut(plane_out)
        .zip(argmax.par_chunks_mut(plane_out))
        .zip(x.par_chunks(hw))
        .enumerate()
        .for_each(|(plane, ((yp, ap), xp))| {
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
                *av = if arg == usize::MAX {
                    arg
                } else {
                    plane * hw + arg
                };
            }
        });
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
    dx.par_chunks_mut(hw)
        .zip(dy.par_chunks(plane_out).zip(argmax.par_chunks(plane_out)))
        .enumerate()
        .for_each(|(plane, (dxp, (dyp, ap)))| {
            for (&d, &a) in dyp.iter().zip(ap) {
                if a != usize::MAX {
                    // An index from the forward pass always lies in its own plane.
                    dxp[a - plane * hw] += d;
                }
            }
        });
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
    y.par_chunks_mut(g.out_h() * wo)
        .zip(x.par_chunks(hw))
        .for_each(|(yp, xp)| {
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
    dx.par_chunks_mut(hw)
        .zip(dy.par_chunks(g.out_h() * wo))
        .for_each(|(dxp, dyp)| {
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
                let weights = [
                    cubic_far(t + 1.0),
                    cubic_near(t),
                    cubic_near(1.0 - t),
                    cubic_far(2.0 - t),
                ];
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic values from a seed (splitmix64): in [-1, 1), or small integers when `ties`.
    fn rand_vec(seed: u64, len: usize, ties: bool) -> Vec<f64> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                let u = (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                if ties {
                    (u * 2.0).floor()
                } else {
                    u
                }
            })
            .collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn lens(g: &Pool2dGeom) -> (usize, usize) {
        (g.n * g.c * g.h * g.w, g.n * g.c * g.out_h() * g.out_w())
    }

    prop_compose! {
        fn geom()(n in 1usize..=2, c in 1usize..=3, kh in 1usize..=4, kw in 1usize..=4,
                  sh in 1usize..=3, sw in 1usize..=3, ph_r in 0usize..=2, pw_r in 0usize..=2,
                  eh in 0usize..=6, ew in 0usize..=6) -> Pool2dGeom {
            // padding ≤ k/2 (PyTorch's rule); size large enough for one output.
            let (ph, pw) = (ph_r.min(kh / 2), pw_r.min(kw / 2));
            let (h, w) = ((kh - 2 * ph).max(1) + eh, (kw - 2 * pw).max(1) + ew);
            Pool2dGeom { n, c, h, w, kh, kw, stride: (sh, sw), padding: (ph, pw) }
        }
    }

    /// Value at padded coordinate (r, q) of plane `p` (input shifted by the padding), or None.
    fn at(g: &Pool2dGeom, x: &[f64], p: usize, r: usize, q: usize) -> Option<(f64, usize)> {
        let (ih, iw) = (
            r as isize - g.padding.0 as isize,
            q as isize - g.padding.1 as isize,
        );
        if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize {
            return None;
        }
        let idx = (p * g.h + ih as usize) * g.w + iw as usize;
        Some((x[idx], idx))
    }

    /// Naive max / average pooling over the explicitly padded image.
    fn reference(g: &Pool2dGeom, x: &[f64]) -> (Vec<f64>, Vec<usize>, Vec<f64>) {
        let (mut ymax, mut arg, mut yavg) = (vec![], vec![], vec![]);
        for p in 0..g.n * g.c {
            for oh in 0..g.out_h() {
                for ow in 0..g.out_w() {
                    let (mut best, mut best_i, mut sum) = (f64::NEG_INFINITY, usize::MAX, 0.0);
                    for r in oh * g.stride.0..oh * g.stride.0 + g.kh {
                        for q in ow * g.stride.1..ow * g.stride.1 + g.kw {
                            let (v, i) =
                                at(g, x, p, r, q).unwrap_or((f64::NEG_INFINITY, usize::MAX));
                            if i != usize::MAX && (best_i == usize::MAX || v > best) {
                                (best, best_i) = (v, i);
                            }
                            sum += at(g, x, p, r, q).map_or(0.0, |(v, _)| v);
                        }
                    }
                    ymax.push(best);
                    arg.push(best_i);
                    yavg.push(sum / (g.kh * g.kw) as f64);
                }
            }
        }
        (ymax, arg, yavg)
    }

    proptest! {
        #[test]
        fn pooling_matches_reference(g in geom(), seed in any::<u64>(), ties in any::<bool>()) {
            let (xl, yl) = lens(&g);
            let x = rand_vec(seed, xl, ties);
            let (want_max, want_arg, want_avg) = reference(&g, &x);
            let (mut y, mut arg) = (vec![f64::NAN; yl], vec![0; yl]);
            max_pool2d_forward(&g, &x, &mut y, &mut arg);
            prop_assert_eq!(&y, &want_max);
            prop_assert_eq!(&arg, &want_arg);
            let mut ya = vec![f64::NAN; yl];
            avg_pool2d_forward(&g, &x, &mut ya);
            for (a, b) in ya.iter().zip(&want_avg) {
                prop_assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }

        #[test]
        fn backward_passes_are_adjoints(g in geom(), seed in any::<u64>()) {
            // With argmax fixed, max pooling is the linear selection y = S·x.
            let (xl, yl) = lens(&g);
            let x = rand_vec(seed, xl, false);
            let dy = rand_vec(!seed, yl, false);
            let (mut y, mut arg) = (vec![0.0; yl], vec![0; yl]);
            max_pool2d_forward(&g, &x, &mut y, &mut arg);
            let mut dx = vec![f64::NAN; xl];
            max_pool2d_backward(&g, &dy, &arg, &mut dx);
            prop_assert!((dot(&y, &dy) - dot(&x, &dx)).abs() < 1e-12 * (1.0 + yl as f64));
            avg_pool2d_forward(&g, &x, &mut y);
            avg_pool2d_backward(&g, &dy, &mut dx);
            prop_assert!((dot(&y, &dy) - dot(&x, &dx)).abs() < 1e-12 * (1.0 + yl as f64));
        }

        #[test]
        fn resize_rows_sum_to_one(in_size in 1usize..40, out_size in 1usize..40) {
            for kind in [ResizeKind::Nearest, ResizeKind::Area, ResizeKind::Bicubic] {
                let m = resize_matrix(kind, in_size, out_size);
                prop_assert_eq!(m.len(), in_size * out_size);
                for row in m.chunks_exact(in_size) {
                    prop_assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{kind:?} {row:?}");
                }
            }
        }
    }

    #[test]
    fn max_pool_ties_padding_and_nan() {
        // 1×1×2×3, k = 2×2, stride 1, padding 1: padding never wins even against −5.
        let g = Pool2dGeom {
            n: 1,
            c: 1,
            h: 2,
            w: 3,
            kh: 2,
            kw: 2,
            stride: (1, 1),
            padding: (1, 1),
        };
        let x = [-5.0, 2.0, 2.0, 2.0, f64::NAN, -1.0];
        let (mut y, mut arg) = (vec![0.0; 12], vec![0; 12]);
        max_pool2d_forward(&g, &x, &mut y, &mut arg);
        assert_eq!((y[0], arg[0]), (-5.0, 0));
        // Window rows 0..1, cols 0..2 holds 2.0 twice: the first one (index 1) is chosen.
        assert_eq!((y[2], arg[2]), (2.0, 1));
        // Any window containing the NaN yields NaN.
        assert!(y[5].is_nan() && arg[5] == 4);
        let mut dx = vec![0.0; 6];
        max_pool2d_backward(&g, &[1.0; 12], &arg, &mut dx);
        assert_eq!(dx.iter().sum::<f64>(), 12.0);
    }

    #[test]
    fn resize_identity_when_sizes_match() {
        for kind in [ResizeKind::Nearest, ResizeKind::Area, ResizeKind::Bicubic] {
            for n in [1, 2, 5, 16] {
                let m = resize_matrix(kind, n, n);
                for (i, row) in m.chunks_exact(n).enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        assert_eq!(v, if i == j { 1.0 } else { 0.0 }, "{kind:?} n={n}");
                    }
                }
            }
        }
    }

    #[test]
    fn nearest_upsample_duplicates() {
        let m = resize_matrix(ResizeKind::Nearest, 5, 10);
        for (i, row) in m.chunks_exact(5).enumerate() {
            assert_eq!(row.iter().position(|&v| v == 1.0), Some(i / 2));
        }
        // 3 → 5: scale 0.6, src = floor(i·0.6) = 0, 0, 1, 1, 2.
        let m = resize_matrix(ResizeKind::Nearest, 3, 5);
        let src: Vec<_> = m
            .chunks_exact(3)
            .map(|r| r.iter().position(|&v| v == 1.0))
            .collect();
        assert_eq!(src, [Some(0), Some(0), Some(1), Some(1), Some(2)]);
    }

    #[test]
    fn area_downsample_is_average_pooling() {
        let (h, w) = (6, 8);
        let g = Pool2dGeom {
            n: 1,
            c: 1,
            h,
            w,
            kh: 2,
            kw: 2,
            stride: (2, 2),
            padding: (0, 0),
        };
        let x = rand_vec(5, h * w, false);
        let mut want = vec![0.0; 12];
        avg_pool2d_forward(&g, &x, &mut want);
        let (mh, mw) = (
            resize_matrix(ResizeKind::Area, h, 3),
            resize_matrix(ResizeKind::Area, w, 4),
        );
        // Y = M_h · X · M_wᵀ
        for i in 0..3 {
            for j in 0..4 {
                let mut acc = 0.0;
                for r in 0..h {
                    for q in 0..w {
                        acc += mh[i * h + r] * x[r * w + q] * mw[j * w + q];
                    }
                }
                assert!((acc - want[i * 4 + j]).abs() < 1e-14);
            }
        }
        // Non-divisible: 5 → 3 rows cover [0,2), [1,4), [3,5).
        let m = resize_matrix(ResizeKind::Area, 5, 3);
        let h2 = 0.5;
        let t3 = 1.0 / 3.0;
        assert_eq!(
            m,
            [h2, h2, 0.0, 0.0, 0.0, 0.0, t3, t3, t3, 0.0, 0.0, 0.0, 0.0, h2, h2]
        );
    }

    /// Hand-derived from the Keys formula with A = −0.75:
    ///   near(x) = (1.25x − 2.25)x² + 1,  far(x) = ((−0.75x + 3.75)x − 6)x + 3.
    ///   near(0.25) = −1.9375·0.0625 + 1 = 0.87890625     near(0.75) = −1.3125·0.5625 + 1 = 0.26171875
    ///   far(1.25) = (2.8125·1.25 − 6)·1.25 + 3 = −0.10546875
    ///   far(1.75) = (2.4375·1.75 − 6)·1.75 + 3 = −0.03515625
    ///   near(0.5) = −1.625·0.25 + 1 = 0.59375             far(1.5) = (2.625·1.5 − 6)·1.5 + 3 = −0.09375
    /// in=4, out=8 (scale 0.5):
    ///   row 0: src = 0.5·0.5 − 0.5 = −0.25, i0 = −1, t = 0.75; taps −2,−1,0,1 → 0,0,0,1 with weights
    ///          far(1.75), near(0.75), near(0.25), far(1.25) → [1.10546875, −0.10546875, 0, 0]
    ///   row 3: src = 3.5·0.5 − 0.5 = 1.25, i0 = 1, t = 0.25; taps 0..3 with weights
    ///          far(1.25), near(0.25), near(0.75), far(1.75) → [−0.10546875, 0.87890625, 0.26171875, −0.03515625]
    ///   row 7: src = 3.25, i0 = 3, t = 0.25; taps 2,3,4,5 → 2,3,3,3 → [0, 0, −0.10546875, 1.10546875]
    /// in=8, out=4 (scale 2): row 0: src = 0.5, i0 = 0, t = 0.5; taps −1,0,1,2 → 0,0,1,2 with
    ///   far(1.5), near(0.5), near(0.5), far(1.5) → [0.5, 0.59375, −0.09375, 0, …]
    #[test]
    fn bicubic_hand_values() {
        let m = resize_matrix(ResizeKind::Bicubic, 4, 8);
        let row = |r: usize| &m[r * 4..(r + 1) * 4];
        assert_eq!(row(0), [1.10546875, -0.10546875, 0.0, 0.0]);
        assert_eq!(row(3), [-0.10546875, 0.87890625, 0.26171875, -0.03515625]);
        assert_eq!(row(7), [0.0, 0.0, -0.10546875, 1.10546875]);
        let m = resize_matrix(ResizeKind::Bicubic, 8, 4);
        assert_eq!(m[..8], [0.5, 0.59375, -0.09375, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
