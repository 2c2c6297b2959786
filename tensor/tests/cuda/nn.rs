//! matmul (plain kernel, and the opt-in tensor-core precisions) and the softmax family on a GPU
//! against the CPU: shapes with odd sizes, broadcast batches, transposed and stepped views,
//! f32 / f64 / half dtypes, forward and backward. Skipped (with the reason printed) without a GPU.
use crate::common::*;
use tensor::cuda::nn::matmul::{matmul_with, Precision};
use tensor::{DType, Error, Tensor};

/// f32/f64 tolerances for a product of depth `k` (the CPU and GPU sum in different orders).
fn tol_k(dtype: DType, k: usize) -> (f64, f64) {
    let (atol, rtol) = tol(dtype);
    (atol * 4.0 * (k.max(1) as f64).sqrt(), rtol)
}

#[test]
fn matmul_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![1, 1], vec![1, 1]),
        (vec![3, 5], vec![5, 4]),
        (vec![257, 33], vec![33, 65]),
        (vec![64, 128], vec![128, 64]),
        (vec![1025, 3], vec![3, 2]),
        (vec![2, 3, 70, 17], vec![17, 66]),
        (vec![2, 1, 5, 7], vec![3, 7, 6]),
        (vec![4, 7, 9], vec![9, 3]),
        (vec![5, 1], vec![3, 1, 4]),
        // few output tiles, long depth: the split-K path (11 slices and a tail; 2 slices)
        (vec![20, 3000], vec![3000, 30]),
        (vec![2, 1, 10, 700], vec![3, 700, 5]),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (i, (sa, sb)) in cases.iter().enumerate() {
            let (a, b) = (rnd(sa, 10 + i as u64, dtype), rnd(sb, 50 + i as u64, dtype));
            let k = sa[sa.len() - 1];
            let (atol, rtol) = tol_k(dtype, k);
            for (na, ca, ga) in layouts(&a) {
                for (nb, cb, gb) in layouts(&b) {
                    let what = format!("{dtype:?} {sa:?}@{sb:?} {na}/{nb}");
                    assert_close(&what, &ga.matmul(&gb).unwrap(), &ca.matmul(&cb).unwrap(), atol, rtol);
                }
            }
        }
    }
}

#[test]
fn matmul_of_stepped_and_broadcast_views() {
    let _dev = gpu_or_skip!();
    let big = rnd(&[3, 12, 10], 7, DType::F32);
    let w = rnd(&[10, 6], 8, DType::F32);
    let (gbig, gw) = (gpu(&big), gpu(&w));
    // rows 1, 3, .., 11 of every batch item, and an offset narrow of the weight's columns
    let a = |t: &Tensor| t.slice(1, 1, 12, 2).unwrap();
    let b = |t: &Tensor| t.narrow(1, 2, 4).unwrap();
    let (atol, rtol) = tol_k(DType::F32, 10);
    assert_close("stepped", &a(&gbig).matmul(&b(&gw)).unwrap(), &a(&big).matmul(&b(&w)).unwrap(), atol, rtol);
    // a weight broadcast over a batch dim (stride 0) on the right, batch 3
    let wb = |t: &Tensor| t.unsqueeze(0).unwrap().broadcast_to(&[3, 10, 6]).unwrap();
    assert_close("broadcast", &gbig.matmul(&wb(&gw)).unwrap(), &big.matmul(&wb(&w)).unwrap(), atol, rtol);
    // transposed right operand inside a batch
    let bt = rnd(&[3, 5, 10], 9, DType::F32);
    let t = |x: &Tensor| x.transpose(1, 2).unwrap();
    assert_close("batched transpose", &gbig.matmul(&t(&gpu(&bt))).unwrap(), &big.matmul(&t(&bt)).unwrap(), atol, rtol);
}

#[test]
fn matmul_of_half_tensors_goes_through_f32() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F16, DType::BF16] {
        let (a, b) = (rnd(&[2, 9, 33], 3, dtype), rnd(&[33, 17], 4, dtype));
        assert_close(&format!("{dtype:?}"), &gpu(&a).matmul(&gpu(&b)).unwrap(), &a.matmul(&b).unwrap(), 0.05, 0.02);
    }
}

#[test]
fn matmul_is_deterministic_and_reports_errors() {
    let _dev = gpu_or_skip!();
    let (a, b) = (gpu(&rnd(&[300, 200], 1, DType::F32)), gpu(&rnd(&[200, 100], 2, DType::F32)));
    let (r1, r2) = (a.matmul(&b).unwrap().to_vec_f64().unwrap(), a.matmul(&b).unwrap().to_vec_f64().unwrap());
    assert!(r1.iter().zip(&r2).all(|(x, y)| x.to_bits() == y.to_bits()), "two runs differ");
    assert!(matches!(a.matmul(&a), Err(Error::ShapeMismatch { .. })));
    let cpu_b = rnd(&[200, 100], 2, DType::F32);
    assert!(matches!(a.matmul(&cpu_b), Err(Error::DeviceMismatch { .. })));
    assert!(matches!(a.matmul(&gpu(&rnd(&[200, 100], 2, DType::F64))), Err(Error::DTypeMismatch { .. })));
}

#[test]
fn tensor_core_precisions_track_the_plain_kernel() {
    let _dev = gpu_or_skip!();
    let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![70, 37], vec![37, 65]),
        (vec![1, 1], vec![1, 1]),
        (vec![2, 1, 64, 128], vec![3, 128, 40]),
        (vec![130, 300], vec![300, 129]),
    ];
    for (i, (sa, sb)) in cases.iter().enumerate() {
        let k = sa[sa.len() - 1] as f64;
        for (prec, tol) in [(Precision::Tf32, 5e-3), (Precision::Bf16, 4e-2), (Precision::F16, 5e-3)] {
            let bound = tol * (1.0 + k.sqrt());
            let (ca, cb) = (rnd(sa, 20 + i as u64, DType::F32), rnd(sb, 30 + i as u64, DType::F32));
            let (a, b) = (gpu(&ca), gpu(&cb));
            let plain = a.matmul(&b).unwrap();
            for (na, _, ga) in layouts(&ca) {
                for (nb, _, gb) in layouts(&cb) {
                    let what = format!("{prec:?} {sa:?}@{sb:?} {na}/{nb}");
                    assert_close(&what, &matmul_with(&ga, &gb, prec).unwrap(), &plain, bound, 0.0);
                }
            }
            // half tensors of the matching dtype go straight to the tensor cores
            let half = match prec {
                Precision::Bf16 => Some(DType::BF16),
                Precision::F16 => Some(DType::F16),
                _ => None,
            };
            if let Some(dt) = half {
                let (ah, bh) = (a.to_dtype(dt).unwrap(), b.to_dtype(dt).unwrap());
                let want = ah.matmul(&bh).unwrap();
                let got = matmul_with(&ah, &bh, prec).unwrap();
                assert_close(&format!("{dt:?} {sa:?}@{sb:?}"), &got, &want, bound + 0.02, 0.01);
            }
        }
    }
    let (a, b) = (gpu(&rnd(&[4, 5], 1, DType::F64)), gpu(&rnd(&[5, 6], 2, DType::F64)));
    assert!(matches!(matmul_with(&a, &b, Precision::Tf32), Err(Error::UnsupportedDType { .. })));
    assert_close("F32 is matmul", &matmul_with(&a, &b, Precision::F32).unwrap(), &a.matmul(&b).unwrap(), 0.0, 0.0);
}

#[test]
fn softmax_family_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let cases: Vec<(Vec<usize>, isize)> = vec![
        (vec![3, 1], -1),
        (vec![5, 3], 1),
        (vec![4, 257], -1),
        (vec![2, 1025], 1),
        (vec![2, 3, 300], 0),
        (vec![2, 3, 300], 1),
        (vec![6, 40], 0),
    ];
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = tol(dtype);
        for (i, (shape, dim)) in cases.iter().enumerate() {
            let x = rnd(shape, 70 + i as u64, dtype).affine(4.0, 0.0).unwrap();
            let dy = rnd(shape, 90 + i as u64, dtype);
            for (name, cx, gx) in layouts(&x) {
                let what = format!("{dtype:?} {shape:?} dim {dim} {name}");
                for log in [false, true] {
                    let (cy, gy) = if log {
                        (cx.log_softmax(*dim).unwrap(), gx.log_softmax(*dim).unwrap())
                    } else {
                        (cx.softmax(*dim).unwrap(), gx.softmax(*dim).unwrap())
                    };
                    assert_close(&format!("{what} log={log}"), &gy, &cy, atol, rtol);
                    let cdx = Tensor::softmax_backward(&cy, &dy, *dim, log).unwrap();
                    let gdx = Tensor::softmax_backward(&gy, &gpu(&dy), *dim, log).unwrap();
                    assert_close(&format!("{what} log={log} backward"), &gdx, &cdx, atol, rtol);
                }
            }
        }
    }
}

#[test]
fn softmax_of_half_and_huge_logits() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F16, DType::BF16] {
        let x = rnd(&[3, 70], 5, dtype);
        assert_close(&format!("{dtype:?}"), &gpu(&x).softmax(-1).unwrap(), &x.softmax(-1).unwrap(), 1e-2, 1e-2);
    }
    let x = Tensor::from_vec(vec![1000.0f32, -1000.0, 0.0, 999.0], &[1, 4]).unwrap();
    let (y, ly) = (gpu(&x).softmax(1).unwrap(), gpu(&x).log_softmax(1).unwrap());
    assert!(y.to_vec_f64().unwrap().iter().chain(&ly.to_vec_f64().unwrap()).all(|v| v.is_finite()));
    assert_close("huge", &y, &x.softmax(1).unwrap(), 1e-6, 1e-5);
    let bad = Tensor::softmax_backward(&gpu(&x), &gpu(&rnd(&[1, 5], 1, DType::F32)), 1, false);
    assert!(matches!(bad, Err(Error::ShapeMismatch { .. })));
}
