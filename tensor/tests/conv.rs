//! `conv2d` against a naive direct convolution and `conv_transpose2d` against a naive scatter,
//! over random stride / padding / dilation / groups / output_padding, layouts and dtypes.
mod common;

use common::{close_nd, with_layout, Gen, Nd};
use proptest::prelude::*;
use tensor::{Conv2dParams, DType, Tensor};

/// Direct convolution (cross-correlation), zero padding, grouped channels.
fn naive_conv2d(x: &Nd, w: &Nd, p: &Conv2dParams) -> Nd {
    let [n, cin, h, wd] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
    let [cout, cin_pg, kh, kw] = [w.shape[0], w.shape[1], w.shape[2], w.shape[3]];
    let cout_pg = cout / p.groups;
    let out = |len: usize, pad: usize, d: usize, k: usize, s: usize| (len + 2 * pad - d * (k - 1) - 1) / s + 1;
    let (ho, wo) =
        (out(h, p.padding.0, p.dilation.0, kh, p.stride.0), out(wd, p.padding.1, p.dilation.1, kw, p.stride.1));
    assert_eq!(cin, cin_pg * p.groups);
    Nd::from_fn(&[n, cout, ho, wo], |idx| {
        let (b, co, oh, ow) = (idx[0], idx[1], idx[2], idx[3]);
        let grp = co / cout_pg;
        let mut acc = 0.0;
        for cl in 0..cin_pg {
            for ki in 0..kh {
                for kj in 0..kw {
                    let r = (oh * p.stride.0 + ki * p.dilation.0) as isize - p.padding.0 as isize;
                    let c = (ow * p.stride.1 + kj * p.dilation.1) as isize - p.padding.1 as isize;
                    if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < wd {
                        acc += x.at(&[b, grp * cin_pg + cl, r as usize, c as usize]) * w.at(&[co, cl, ki, kj]);
                    }
                }
            }
        }
        acc
    })
}

/// Transposed convolution by its scatter definition:
/// `y[n, g·Cout_pg + co, i·s − p + ki·d, j·s − p + kj·d] += x[n, ci, i, j] · w[ci, co, ki, kj]`,
/// output size `(H − 1)·s − 2p + d·(k − 1) + output_padding + 1`. `None` when that is < 1.
fn naive_conv_transpose2d(x: &Nd, w: &Nd, p: &Conv2dParams) -> Option<Nd> {
    let [n, cin, h, wd] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
    let [_, cout_pg, kh, kw] = [w.shape[0], w.shape[1], w.shape[2], w.shape[3]];
    let cin_pg = cin / p.groups;
    let size = |len: usize, s: usize, pad: usize, d: usize, k: usize, op: usize| {
        ((len - 1) * s + d * (k - 1) + op + 1) as isize - 2 * pad as isize
    };
    let ho = size(h, p.stride.0, p.padding.0, p.dilation.0, kh, p.output_padding.0);
    let wo = size(wd, p.stride.1, p.padding.1, p.dilation.1, kw, p.output_padding.1);
    if ho < 1 || wo < 1 {
        return None;
    }
    let (ho, wo) = (ho as usize, wo as usize);
    let mut y = Nd::new(&[n, cout_pg * p.groups, ho, wo], vec![0.0; n * cout_pg * p.groups * ho * wo]);
    for b in 0..n {
        for ci in 0..cin {
            let grp = ci / cin_pg;
            for i in 0..h {
                for j in 0..wd {
                    for co in 0..cout_pg {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let r = (i * p.stride.0 + ki * p.dilation.0) as isize - p.padding.0 as isize;
                                let c = (j * p.stride.1 + kj * p.dilation.1) as isize - p.padding.1 as isize;
                                if r >= 0 && c >= 0 && (r as usize) < ho && (c as usize) < wo {
                                    let o = common::ravel(&[b, grp * cout_pg + co, r as usize, c as usize], &y.shape);
                                    y.data[o] += x.at(&[b, ci, i, j]) * w.at(&[ci, co, ki, kj]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Some(y)
}

fn check(got: &Tensor, want: &Nd, dtype: DType, terms: usize) -> Result<(), TestCaseError> {
    match dtype {
        DType::F64 => close_nd(got, want, 1e-12, 1e-10),
        _ => close_nd(got, want, 2e-6 * terms as f64, 1e-5),
    }
}

prop_compose! {
    /// (n, cin_pg, cout_pg, groups, (kh, kw), params, (h, w))
    fn conv_case()(n in 1usize..=2, groups in 1usize..=3, cin_pg in 1usize..=3, cout_pg in 1usize..=3,
                   k in (1usize..=3, 1usize..=3), s in (1usize..=3, 1usize..=3), pad in (0usize..=2, 0usize..=2),
                   d in (1usize..=2, 1usize..=2), extra in (0usize..=6, 0usize..=6))
                   -> (usize, usize, usize, usize, (usize, usize), Conv2dParams, (usize, usize)) {
        let p = Conv2dParams { stride: s, padding: pad, dilation: d, groups, output_padding: (0, 0) };
        // Smallest input with at least one output position, plus a random margin.
        let h = (d.0 * (k.0 - 1) + 1).saturating_sub(2 * pad.0).max(1) + extra.0;
        let w = (d.1 * (k.1 - 1) + 1).saturating_sub(2 * pad.1).max(1) + extra.1;
        (n, cin_pg, cout_pg, groups, k, p, (h, w))
    }
}

fn float_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

proptest! {
    #![proptest_config(common::config(128))]

    #[test]
    fn conv2d_matches_direct_convolution(case in conv_case(), seed in any::<u64>(), modes in (0u8..4, 0u8..4), dtype in float_dtype()) {
        let (n, cin_pg, cout_pg, groups, (kh, kw), p, (h, w)) = case;
        let mut g = Gen::new(seed);
        let x = Nd::random(&[n, cin_pg * groups, h, w], &mut g).rounded(dtype);
        let wt = Nd::random(&[cout_pg * groups, cin_pg, kh, kw], &mut g).rounded(dtype);
        let tx = with_layout(&x, dtype, modes.0, &mut g);
        let tw = with_layout(&wt, dtype, modes.1, &mut g);
        let y = tx.conv2d(&tw, &p).unwrap();
        prop_assert_eq!(y.dtype(), dtype);
        check(&y, &naive_conv2d(&x, &wt, &p), dtype, cin_pg * kh * kw)?;
    }

    /// `output_padding` is drawn below the stride (the usual case).
    #[test]
    fn conv_transpose2d_matches_scatter(case in conv_case(), op in (0usize..3, 0usize..3), seed in any::<u64>(),
                                        modes in (0u8..4, 0u8..4), dtype in float_dtype()) {
        let (n, cin_pg, cout_pg, groups, (kh, kw), mut p, (h, w)) = case;
        p.output_padding = (op.0 % p.stride.0, op.1 % p.stride.1);
        let mut g = Gen::new(seed);
        let x = Nd::random(&[n, cin_pg * groups, h, w], &mut g).rounded(dtype);
        let wt = Nd::random(&[cin_pg * groups, cout_pg, kh, kw], &mut g).rounded(dtype);
        let tx = with_layout(&x, dtype, modes.0, &mut g);
        let tw = with_layout(&wt, dtype, modes.1, &mut g);
        let got = tx.conv_transpose2d(&tw, &p);
        match naive_conv_transpose2d(&x, &wt, &p) {
            Some(want) => check(&got.unwrap(), &want, dtype, cin_pg * kh * kw)?,
            None => prop_assert!(got.is_err(), "no output expected for {:?}, got {:?}", p, got.map(|t| t.shape().to_vec())),
        }
    }
}

/// PyTorch also accepts an `output_padding` below the dilation only; this crate documents that it
/// requires `output_padding < stride`. Such parameters must give a typed error (they used to reach
/// the kernel with mismatched sizes and panic), and the same output size with `output_padding`
/// below the stride must still work.
#[test]
fn conv_transpose2d_output_padding_at_or_above_stride_is_an_error() {
    let mut g = Gen::new(9);
    let x = Nd::random(&[1, 2, 3, 4], &mut g);
    let w = Nd::random(&[2, 3, 2, 2], &mut g);
    let p = Conv2dParams { stride: (1, 1), padding: (0, 0), dilation: (2, 2), groups: 1, output_padding: (1, 1) };
    let got = std::panic::catch_unwind(|| {
        x.tensor(DType::F64).conv_transpose2d(&w.tensor(DType::F64), &p).map(|t| t.shape().to_vec())
    });
    assert!(matches!(got, Ok(Err(tensor::Error::InvalidArgument { .. }))), "{got:?}");
    let p = Conv2dParams { stride: (2, 3), padding: (1, 0), dilation: (2, 2), groups: 1, output_padding: (1, 2) };
    let want = naive_conv_transpose2d(&x, &w, &p).unwrap();
    assert_eq!(want.shape, vec![1, 3, 6, 14]);
    let got = x.tensor(DType::F64).conv_transpose2d(&w.tensor(DType::F64), &p).unwrap();
    close_nd(&got, &want, 1e-12, 1e-12).unwrap();
}

/// A 1×1 kernel with stride 1 and no padding takes the no-unrolling path in the kernel.
#[test]
fn conv2d_pointwise_and_by_hand() {
    let mut g = Gen::new(4);
    let x = Nd::random(&[2, 6, 5, 3], &mut g);
    let w = Nd::random(&[4, 3, 1, 1], &mut g);
    let p = Conv2dParams { groups: 2, ..Default::default() };
    let y = x.tensor(DType::F64).conv2d(&w.tensor(DType::F64), &p).unwrap();
    close_nd(&y, &naive_conv2d(&x, &w, &p), 1e-12, 1e-12).unwrap();

    // 3×3 image, 2×2 box kernel of ones, no padding: window sums.
    let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect::<Vec<_>>(), &[1, 1, 3, 3]).unwrap();
    let w = Tensor::ones(&[1, 1, 2, 2], DType::F32);
    let y = x.conv2d(&w, &Conv2dParams::default()).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![12.0, 16.0, 24.0, 28.0]);
    // Stride 2, padding 1 with a single-tap kernel: output 3×3 reading x[2i−1, 2j−1] (0 outside).
    let one = Tensor::ones(&[1, 1, 1, 1], DType::F32);
    let p = Conv2dParams { stride: (2, 2), padding: (1, 1), ..Default::default() };
    let y = x.conv2d(&one, &p).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn conv_transpose2d_by_hand() {
    // Stride 2 scatter of a 2×2 input with a 1×1 kernel of 3: values land on even positions.
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    let w = Tensor::full(&[1, 1, 1, 1], 3.0, DType::F64);
    let p = Conv2dParams { stride: (2, 2), output_padding: (1, 1), ..Default::default() };
    let y = x.conv_transpose2d(&w, &p).unwrap();
    assert_eq!(y.shape(), &[1, 1, 4, 4]);
    #[rustfmt::skip]
    let want = vec![3.0, 0.0, 6.0, 0.0,
                    0.0, 0.0, 0.0, 0.0,
                    9.0, 0.0, 12.0, 0.0,
                    0.0, 0.0, 0.0, 0.0];
    assert_eq!(y.to_vec::<f64>().unwrap(), want);
}

#[test]
fn conv_half_precision_computes_in_f32() {
    for dtype in [DType::F16, DType::BF16] {
        let mut g = Gen::new(2);
        let x = Nd::new(&[1, 2, 4, 4], g.ints(32, 2)).rounded(dtype);
        let w = Nd::new(&[2, 2, 3, 3], g.ints(36, 1)).rounded(dtype);
        let p = Conv2dParams { padding: (1, 1), ..Default::default() };
        let y = x.tensor(dtype).conv2d(&w.tensor(dtype), &p).unwrap();
        assert_eq!(y.dtype(), dtype);
        close_nd(&y, &naive_conv2d(&x, &w, &p), 0.0, 0.0).unwrap();
    }
}

/// `conv2d_bias` is `conv2d` then the broadcast add, the same bits, in f32, f64 and bf16 (the
/// two ops); a bias of the wrong shape or dtype is an error naming it.
#[test]
fn conv2d_bias_is_the_conv_then_the_add() {
    let p = Conv2dParams { padding: (1, 1), ..Default::default() };
    for dt in [DType::F32, DType::F64, DType::BF16] {
        let x = Tensor::randn(&[2, 3, 5, 16], 0.0, 1.0, 7, DType::F32).unwrap().to_dtype(dt).unwrap();
        let w = Tensor::randn(&[4, 3, 3, 3], 0.0, 1.0, 8, DType::F32).unwrap().to_dtype(dt).unwrap();
        let b = Tensor::randn(&[4], 0.0, 1.0, 9, DType::F32).unwrap().to_dtype(dt).unwrap();
        let want = x.conv2d(&w, &p).unwrap().add(&b.reshape(&[1, 4, 1, 1]).unwrap()).unwrap();
        let got = x.conv2d_bias(&w, &b, &p).unwrap();
        assert_eq!(got.shape(), want.shape());
        let (g, e) = (
            got.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap(),
            want.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap(),
        );
        assert!(g.iter().zip(&e).all(|(a, b)| a.to_bits() == b.to_bits()), "{dt:?}");
    }
    let x = Tensor::randn(&[1, 3, 4, 4], 0.0, 1.0, 1, DType::F32).unwrap();
    let w = Tensor::randn(&[4, 3, 3, 3], 0.0, 1.0, 2, DType::F32).unwrap();
    let err = x.conv2d_bias(&w, &Tensor::zeros(&[3], DType::F32), &p).unwrap_err().to_string();
    assert!(err.contains("bias") && err.contains("[4]"), "{err}");
    assert!(x.conv2d_bias(&w, &Tensor::zeros(&[4], DType::F64), &p).is_err());
}
