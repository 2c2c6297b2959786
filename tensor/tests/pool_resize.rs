//! max / avg pooling and `resize2d` (nearest, area, bicubic) against naive implementations of
//! PyTorch's semantics.
mod common;

use common::{close, close_nd, with_layout, Gen, Nd};
use proptest::prelude::*;
use tensor::{DType, ResizeKind, Tensor};

#[derive(Clone, Debug)]
struct Pool {
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
}

/// Naive pooling over the zero/−∞ padded image: (max, flat argmax into x, avg with the padding
/// counted in the divisor).
fn naive_pool(x: &Nd, pl: &Pool) -> (Nd, Vec<i64>, Nd) {
    let [n, c, h, w] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
    let ho = (h + 2 * pl.p.0 - pl.k.0) / pl.s.0 + 1;
    let wo = (w + 2 * pl.p.1 - pl.k.1) / pl.s.1 + 1;
    let shape = [n, c, ho, wo];
    let (mut mx, mut arg, mut avg) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..common::numel(&shape) {
        let idx = common::unravel(i, &shape);
        let (mut best, mut best_i, mut sum) = (f64::NEG_INFINITY, -1i64, 0.0);
        for ki in 0..pl.k.0 {
            for kj in 0..pl.k.1 {
                let r = (idx[2] * pl.s.0 + ki) as isize - pl.p.0 as isize;
                let q = (idx[3] * pl.s.1 + kj) as isize - pl.p.1 as isize;
                if r < 0 || q < 0 || r as usize >= h || q as usize >= w {
                    continue;
                }
                let at = [idx[0], idx[1], r as usize, q as usize];
                let v = x.at(&at);
                sum += v;
                if best_i < 0 || v > best {
                    (best, best_i) = (v, common::ravel(&at, &x.shape) as i64);
                }
            }
        }
        mx.push(best);
        arg.push(best_i);
        avg.push(sum / (pl.k.0 * pl.k.1) as f64);
    }
    (Nd::new(&shape, mx), arg, Nd::new(&shape, avg))
}

/// Keys cubic convolution kernel with a = −0.75.
fn keys(t: f64) -> f64 {
    let (a, t) = (-0.75, t.abs());
    if t <= 1.0 {
        ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        a * t * t * t - 5.0 * a * t * t + 8.0 * a * t - 4.0 * a
    } else {
        0.0
    }
}

/// Source taps and weights of output index `i` along one axis (`in_` → `out` samples).
fn taps(kind: ResizeKind, i: usize, in_: usize, out: usize) -> Vec<(usize, f64)> {
    match kind {
        // src = floor(i·in/out) (exact in integers; PyTorch's f32 product agrees at these sizes)
        ResizeKind::Nearest => vec![((i * in_ / out).min(in_ - 1), 1.0)],
        // adaptive average pooling bin [floor(i·in/out), ceil((i+1)·in/out))
        ResizeKind::Area => {
            let (lo, hi) = (i * in_ / out, ((i + 1) * in_).div_ceil(out));
            (lo..hi).map(|j| (j, 1.0 / (hi - lo) as f64)).collect()
        }
        // align_corners=False: src = (i + ½)·in/out − ½, four taps with clamped indices
        ResizeKind::Bicubic => {
            let src = (i as f64 + 0.5) * in_ as f64 / out as f64 - 0.5;
            let f = src.floor();
            (-1..=2)
                .map(|o| {
                    let tap = f as i64 + o;
                    (tap.clamp(0, in_ as i64 - 1) as usize, keys(src - tap as f64))
                })
                .collect()
        }
    }
}

/// Direct 2-D resize: `y[.., i, j] = Σ wr·wc·x[.., r, c]` over the row and column taps.
fn naive_resize(x: &Nd, kind: ResizeKind, oh: usize, ow: usize) -> Nd {
    let [n, c, h, w] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
    Nd::from_fn(&[n, c, oh, ow], |idx| {
        let mut acc = 0.0;
        for (r, wr) in taps(kind, idx[2], h, oh) {
            for &(q, wc) in &taps(kind, idx[3], w, ow) {
                acc += wr * wc * x.at(&[idx[0], idx[1], r, q]);
            }
        }
        acc
    })
}

prop_compose! {
    fn pool_case()(k in (1usize..=4, 1usize..=4), s in (1usize..=3, 1usize..=3), p in (0usize..=2, 0usize..=2),
                   extra in (0usize..=5, 0usize..=5), n in 1usize..=2, c in 1usize..=3) -> (Vec<usize>, Pool) {
        // PyTorch requires padding ≤ kernel / 2 and at least one window.
        let p = (p.0.min(k.0 / 2), p.1.min(k.1 / 2));
        let h = (k.0 - 2 * p.0).max(1) + extra.0;
        let w = (k.1 - 2 * p.1).max(1) + extra.1;
        (vec![n, c, h, w], Pool { k, s, p })
    }
}

fn float_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

fn resize_kind() -> impl Strategy<Value = ResizeKind> {
    prop_oneof![Just(ResizeKind::Nearest), Just(ResizeKind::Area), Just(ResizeKind::Bicubic)]
}

proptest! {
    #![proptest_config(common::config(128))]

    /// Values with ties check that the recorded argmax is the first maximum in window order.
    #[test]
    fn pooling_matches_naive(case in pool_case(), seed in any::<u64>(), ties in any::<bool>(), mode in 0u8..4, dtype in float_dtype()) {
        let (shape, pl) = case;
        let mut g = Gen::new(seed);
        let n = common::numel(&shape);
        let x = Nd::new(&shape, if ties { g.ints(n, 2) } else { g.vals(n, -2.0, 2.0) }).rounded(dtype);
        let tx = with_layout(&x, dtype, mode, &mut g);
        let (want_max, want_arg, want_avg) = naive_pool(&x, &pl);
        let (y, arg) = tx.max_pool2d(pl.k, pl.s, pl.p).unwrap();
        prop_assert_eq!(y.dtype(), dtype);
        close_nd(&y, &want_max, 0.0, 0.0)?;
        prop_assert_eq!(arg.dtype(), DType::I64);
        prop_assert_eq!(arg.shape(), want_max.shape.as_slice());
        prop_assert_eq!(arg.to_vec::<i64>().unwrap(), want_arg);
        let avg = tx.avg_pool2d(pl.k, pl.s, pl.p).unwrap();
        let (atol, rtol) = common::tol(dtype);
        close_nd(&avg, &want_avg, atol, rtol)?;
    }

    /// Up- and down-sampling to sizes 1..=12 on random layouts.
    #[test]
    fn resize2d_matches_pytorch_semantics(n in 1usize..=2, c in 1usize..=2, h in 1usize..=12, w in 1usize..=12, oh in 1usize..=12, ow in 1usize..=12,
                                          kind in resize_kind(), seed in any::<u64>(), mode in 0u8..4, dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let x = Nd::random(&[n, c, h, w], &mut g).rounded(dtype);
        let tx = with_layout(&x, dtype, mode, &mut g);
        let y = tx.resize2d(kind, oh, ow).unwrap();
        prop_assert_eq!(y.dtype(), dtype);
        let (atol, rtol) = common::tol(dtype);
        close_nd(&y, &naive_resize(&x, kind, oh, ow), 10.0 * atol, 10.0 * rtol)?;
    }
}

#[test]
fn resize_identity_and_rows_sum_to_one() {
    let mut g = Gen::new(1);
    let x = Nd::random(&[1, 2, 5, 7], &mut g);
    for kind in [ResizeKind::Nearest, ResizeKind::Area, ResizeKind::Bicubic] {
        let y = x.tensor(DType::F64).resize2d(kind, 5, 7).unwrap();
        close_nd(&y, &x, 1e-12, 0.0).unwrap();
        let (mh, mwt) = x.tensor(DType::F64).resize_matrices(kind, 3, 11).unwrap();
        assert_eq!((mh.shape(), mwt.shape()), (&[3, 5][..], &[7, 11][..]));
        let rows = mh.sum(&[1], false).unwrap().to_vec_f64().unwrap();
        close(&rows, &[1.0; 3], 1e-12, 0.0).unwrap();
        let cols = mwt.sum(&[0], false).unwrap().to_vec_f64().unwrap();
        close(&cols, &[1.0; 11], 1e-12, 0.0).unwrap();
    }
}

#[test]
fn pooling_by_hand() {
    let x = Tensor::from_vec((1..=16).map(|v| v as f32).collect::<Vec<_>>(), &[1, 1, 4, 4]).unwrap();
    let (y, arg) = x.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![6.0, 8.0, 14.0, 16.0]);
    assert_eq!(arg.to_vec::<i64>().unwrap(), vec![5, 7, 13, 15]);
    let a = x.avg_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), vec![3.5, 5.5, 11.5, 13.5]);
    // 3×3 window, padding 1, stride 2 on the corner: (1 + 2 + 5 + 6) / 9.
    let a = x.avg_pool2d((3, 3), (2, 2), (1, 1)).unwrap();
    assert_eq!(a.shape(), &[1, 1, 2, 2]);
    assert!((a.to_vec::<f32>().unwrap()[0] - 14.0 / 9.0).abs() < 1e-6);
    // Nearest 2× upsampling repeats every pixel.
    let up = x.resize2d(ResizeKind::Nearest, 8, 8).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(&up[..8], &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]);
    // Area 2× downsampling is 2×2 average pooling.
    let down = x.resize2d(ResizeKind::Area, 2, 2).unwrap();
    assert_eq!(down.to_vec::<f32>().unwrap(), vec![3.5, 5.5, 11.5, 13.5]);
}

#[test]
fn pooling_half_precision() {
    for dtype in [DType::F16, DType::BF16] {
        let x = Tensor::from_vec((0..16).map(|v| v as f64).collect::<Vec<_>>(), &[1, 1, 4, 4])
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let (y, _) = x.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
        assert_eq!(y.dtype(), dtype);
        assert_eq!(y.to_vec_f64().unwrap(), vec![5.0, 7.0, 13.0, 15.0]);
        let a = x.avg_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
        assert_eq!(a.dtype(), dtype);
        assert_eq!(a.to_vec_f64().unwrap(), vec![2.5, 4.5, 10.5, 12.5]);
    }
}
