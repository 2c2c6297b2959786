//! Tests: the fast kernels against the naive references.
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
    let (ih, iw) = (r as isize - g.padding.0 as isize, q as isize - g.padding.1 as isize);
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
                        let (v, i) = at(g, x, p, r, q).unwrap_or((f64::NEG_INFINITY, usize::MAX));
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
    let g = Pool2dGeom { n: 1, c: 1, h: 2, w: 3, kh: 2, kw: 2, stride: (1, 1), padding: (1, 1) };
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
    let src: Vec<_> = m.chunks_exact(3).map(|r| r.iter().position(|&v| v == 1.0)).collect();
    assert_eq!(src, [Some(0), Some(0), Some(1), Some(1), Some(2)]);
}

#[test]
fn area_downsample_is_average_pooling() {
    let (h, w) = (6, 8);
    let g = Pool2dGeom { n: 1, c: 1, h, w, kh: 2, kw: 2, stride: (2, 2), padding: (0, 0) };
    let x = rand_vec(5, h * w, false);
    let mut want = vec![0.0; 12];
    avg_pool2d_forward(&g, &x, &mut want);
    let (mh, mw) = (resize_matrix(ResizeKind::Area, h, 3), resize_matrix(ResizeKind::Area, w, 4));
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
    assert_eq!(m, [h2, h2, 0.0, 0.0, 0.0, 0.0, t3, t3, t3, 0.0, 0.0, 0.0, 0.0, h2, h2]);
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
