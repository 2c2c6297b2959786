//! layer_norm / rms_norm / group_norm / softmax / log_softmax / cross_entropy against their
//! textbook formulas, on random shapes, layouts and dims.
mod common;

use common::{close, close_nd, numel, tol, with_layout, Gen, Nd};
use proptest::prelude::*;
use tensor::{DType, Tensor};

/// Normalises consecutive blocks of `d` elements: `(x − mean)·rstd` (or `x·rstd` for RMS).
/// Returns (normalised values, per-block mean, per-block rstd).
fn normalise_blocks(x: &[f64], d: usize, eps: f64, center: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut means, mut rstds) = (Vec::new(), Vec::new(), Vec::new());
    for block in x.chunks(d) {
        let mean = if center { block.iter().sum::<f64>() / d as f64 } else { 0.0 };
        let ms = block.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d as f64;
        let rstd = 1.0 / (ms + eps).sqrt();
        y.extend(block.iter().map(|v| (v - mean) * rstd));
        means.push(mean);
        rstds.push(rstd);
    }
    (y, means, rstds)
}

fn float_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=5, 1..=4)
}

proptest! {
    #![proptest_config(common::config(128))]

    /// Layer norm and RMS norm over the last one or two dims, with and without affine params.
    #[test]
    fn layer_and_rms_norm_match_formula(shape in shape_strategy(), trailing in 1usize..=2, seed in any::<u64>(), affine in (any::<bool>(), any::<bool>()),
                                        mode in 0u8..4, dtype in float_dtype(), rms in any::<bool>()) {
        let mut g = Gen::new(seed);
        let trailing = trailing.min(shape.len());
        let norm_shape = shape[shape.len() - trailing..].to_vec();
        let d = numel(&norm_shape);
        let x = Nd::random(&shape, &mut g).rounded(dtype);
        let gamma = Nd::random(&norm_shape, &mut g).rounded(dtype);
        let beta = Nd::random(&norm_shape, &mut g).rounded(dtype);
        let eps = 1e-5;
        let tx = with_layout(&x, dtype, mode, &mut g);
        let (tg, tb) = (gamma.tensor(dtype), beta.tensor(dtype));
        let (gopt, bopt) = (affine.0.then_some(&tg), affine.1.then_some(&tb));
        let (y, stats) = if rms { tx.rms_norm(&norm_shape, gopt, eps) } else { tx.layer_norm(&norm_shape, gopt, bopt, eps) }.unwrap();
        let (mut want, means, rstds) = normalise_blocks(&x.data, d, eps, !rms);
        for (i, v) in want.iter_mut().enumerate() {
            if affine.0 {
                *v *= gamma.data[i % d];
            }
            if affine.1 && !rms {
                *v += beta.data[i % d];
            }
        }
        let (atol, rtol) = tol(dtype);
        close_nd(&y, &Nd::new(&shape, want), 10.0 * atol, 10.0 * rtol)?;
        close(&stats.rstd.to_vec_f64().unwrap(), &rstds, 10.0 * atol, 10.0 * rtol)?;
        if !rms {
            close(&stats.mean.to_vec_f64().unwrap(), &means, atol, rtol)?;
        }
    }

    /// Group norm on `[N, C, *spatial]`: statistics per (sample, group), affine per channel.
    #[test]
    fn group_norm_matches_formula(n in 1usize..=3, groups in 1usize..=3, cpg in 1usize..=3, spatial in prop::collection::vec(1usize..=4, 0..=2),
                                  seed in any::<u64>(), affine in any::<bool>(), mode in 0u8..4, dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let c = groups * cpg;
        let mut shape = vec![n, c];
        shape.extend(&spatial);
        let s = numel(&spatial);
        let x = Nd::random(&shape, &mut g).rounded(dtype);
        let gamma = Nd::random(&[c], &mut g).rounded(dtype);
        let beta = Nd::random(&[c], &mut g).rounded(dtype);
        let eps = 1e-5;
        let tx = with_layout(&x, dtype, mode, &mut g);
        let (tg, tb) = (gamma.tensor(dtype), beta.tensor(dtype));
        let (y, stats) = tx.group_norm(groups, affine.then_some(&tg), affine.then_some(&tb), eps).unwrap();
        // Row-major [N, C, S] data: each (n, group) is a contiguous block of cpg·S values.
        let (mut want, means, rstds) = normalise_blocks(&x.data, cpg * s, eps, true);
        if affine {
            for (i, v) in want.iter_mut().enumerate() {
                let ch = (i / s) % c;
                *v = *v * gamma.data[ch] + beta.data[ch];
            }
        }
        let (atol, rtol) = tol(dtype);
        close_nd(&y, &Nd::new(&shape, want), 10.0 * atol, 10.0 * rtol)?;
        prop_assert_eq!(stats.mean.elem_count(), n * groups);
        close(&stats.mean.to_vec_f64().unwrap(), &means, atol, rtol)?;
        close(&stats.rstd.to_vec_f64().unwrap(), &rstds, 10.0 * atol, 10.0 * rtol)?;
    }

    /// softmax and log_softmax along any dim (negative too), any layout.
    #[test]
    fn softmax_family_matches_formula(shape in shape_strategy(), seed in any::<u64>(), mode in 0u8..4, dtype in float_dtype(), log in any::<bool>()) {
        let mut g = Gen::new(seed);
        let x = Nd::new(&shape, g.vals(numel(&shape), -8.0, 8.0)).rounded(dtype);
        let d = g.below(shape.len());
        let dim = if g.below(2) == 0 { d as isize } else { d as isize - shape.len() as isize };
        let tx = with_layout(&x, dtype, mode, &mut g);
        let y = if log { tx.log_softmax(dim) } else { tx.softmax(dim) }.unwrap();
        let want = Nd::from_fn(&shape, |idx| {
            let mut j = idx.to_vec();
            let row: Vec<f64> = (0..shape[d]).map(|k| { j[d] = k; x.at(&j) }).collect();
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            if log { x.at(idx) - lse } else { (x.at(idx) - lse).exp() }
        });
        let (atol, rtol) = tol(dtype);
        close_nd(&y, &want, atol, rtol)?;
    }

    /// Mean cross-entropy with ignored rows and label smoothing (PyTorch semantics):
    /// `loss_i = (1 − ε)·(−log p_i[t_i]) + ε·mean_c(−log p_i[c])`, averaged over counted rows.
    #[test]
    fn cross_entropy_matches_formula(rows in 1usize..8, classes in 1usize..7, seed in any::<u64>(), ignore in any::<bool>(),
                                     smoothing in prop_oneof![Just(0.0), 0.0f64..1.0], dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let logits = Nd::new(&[rows, classes], g.vals(rows * classes, -4.0, 4.0)).rounded(dtype);
        let ignore_index = ignore.then_some(-100i64);
        let targets: Vec<i64> = (0..rows).map(|_| if ignore && g.below(3) == 0 { -100 } else { g.below(classes) as i64 }).collect();
        let (loss, count) = logits.tensor(dtype)
            .cross_entropy(&Tensor::from_vec(targets.clone(), &[rows]).unwrap(), ignore_index, smoothing).unwrap();
        let (mut total, mut want_count) = (0.0, 0);
        for (r, &t) in targets.iter().enumerate() {
            if Some(t) == ignore_index {
                continue;
            }
            let row = &logits.data[r * classes..(r + 1) * classes];
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let nll = lse - row[t as usize];
            let smooth = row.iter().map(|v| lse - v).sum::<f64>() / classes as f64;
            total += (1.0 - smoothing) * nll + smoothing * smooth;
            want_count += 1;
        }
        prop_assert_eq!(count, want_count);
        prop_assert_eq!(loss.shape(), &[] as &[usize]);
        if want_count > 0 {
            let (atol, rtol) = tol(dtype);
            close(&loss.to_vec_f64().unwrap(), &[total / want_count as f64], 10.0 * atol, 10.0 * rtol)?;
        }
    }
}

#[test]
fn softmax_is_stable_for_large_logits() {
    let x = Tensor::from_vec(vec![1000.0f32, 1000.0, -1000.0, 0.0], &[1, 4]).unwrap();
    let y = x.softmax(-1).unwrap().to_vec::<f32>().unwrap();
    assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    close(&y.iter().map(|&v| v as f64).collect::<Vec<_>>(), &[0.5, 0.5, 0.0, 0.0], 1e-7, 0.0).unwrap();
    let l = x.log_softmax(1).unwrap().to_vec::<f32>().unwrap();
    assert!((l[0] as f64 - (-std::f64::consts::LN_2)).abs() < 1e-6 && l[2] < -1999.0, "{l:?}");
}

#[test]
fn layer_norm_by_hand() {
    // Row [1, 2, 3, 4]: mean 2.5, biased var 1.25.
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[1, 4]).unwrap();
    let (y, st) = x.layer_norm(&[4], None, None, 0.0).unwrap();
    let s = 1.25f64.sqrt();
    close(&y.to_vec::<f64>().unwrap(), &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-14, 0.0).unwrap();
    assert_eq!(st.mean.to_vec::<f64>().unwrap(), vec![2.5]);
    // RMS of [3, 4] is sqrt(12.5).
    let x = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap();
    let (y, _) = x.rms_norm(&[2], Some(&Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap()), 0.0).unwrap();
    let r = 12.5f64.sqrt();
    close(&y.to_vec::<f64>().unwrap(), &[3.0 / r, 8.0 / r], 1e-14, 0.0).unwrap();
}

#[test]
fn cross_entropy_by_hand() {
    // Uniform logits over 4 classes: loss ln 4 whatever the target or smoothing.
    let logits = Tensor::zeros(&[3, 4], DType::F64);
    let t = Tensor::from_vec(vec![0i64, 3, 1], &[3]).unwrap();
    let (loss, count) = logits.cross_entropy(&t, None, 0.3).unwrap();
    assert_eq!(count, 3);
    assert!((loss.to_scalar_f64().unwrap() - 4f64.ln()).abs() < 1e-14);
    // Ignoring row 1 with a custom ignore index.
    let logits = Tensor::from_vec(vec![0.0f64, 1.0, 5.0, -5.0], &[2, 2]).unwrap();
    let t = Tensor::from_vec(vec![1i64, 7], &[2]).unwrap();
    let (loss, count) = logits.cross_entropy(&t, Some(7), 0.0).unwrap();
    assert_eq!(count, 1);
    let want = (1.0f64.exp() + 1.0).ln() - 1.0;
    assert!((loss.to_scalar_f64().unwrap() - want).abs() < 1e-14);
    // Every row ignored: 0 / 0 = NaN, as in PyTorch.
    let (loss, count) = logits.cross_entropy(&Tensor::from_vec(vec![7i64, 7], &[2]).unwrap(), Some(7), 0.1).unwrap();
    assert_eq!(count, 0);
    assert!(loss.to_scalar_f64().unwrap().is_nan());
}
