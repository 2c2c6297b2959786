//! Reductions on a GPU against the CPU: every `ReduceOp` over several axis sets (keepdim or not),
//! rows shorter and much longer than one block, transposed layouts, f32/f64 and half precision;
//! var, argmax/argmin (ties and NaN), arg_mask, sum_to_shape, and bit-identical reruns.
//! Skipped (with the reason printed) on a machine without a GPU.
use crate::common::*;
use tensor::{DType, Error, ReduceOp, Tensor};

const OPS: [ReduceOp; 6] =
    [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::LogSumExp, ReduceOp::Norm2];

/// Shapes with the axis sets reduced over (empty = all axes).
fn cases() -> Vec<(Vec<usize>, Vec<Vec<isize>>)> {
    vec![
        (vec![1], vec![vec![]]),
        (vec![3], vec![vec![0]]),
        (vec![257], vec![vec![]]),
        (vec![1025], vec![vec![-1]]),
        (vec![4, 1025], vec![vec![1], vec![0], vec![]]),
        (vec![5, 6, 7], vec![vec![0, 2], vec![1], vec![2], vec![0], vec![-1, 0, 1]]),
        (vec![2, 5000], vec![vec![1], vec![0]]),
        (vec![300, 3], vec![vec![1], vec![0]]),
    ]
}

/// Tolerances for sums whose order differs from the CPU's pairwise order.
fn rtol_for(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-10, 1e-10),
        DType::F32 => (1e-4, 1e-4),
        d => tol(d),
    }
}

/// Small integers (many exact ties) as `dtype`.
fn ties(shape: &[usize], seed: usize, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| ((i * 7919 + seed * 31) % 13) as f64).collect();
    Tensor::from_vec(v, shape).unwrap().to_dtype(dtype).unwrap()
}

#[test]
fn every_reduce_op_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16] {
        let (atol, rtol) = rtol_for(dtype);
        for (i, (shape, dim_sets)) in cases().into_iter().enumerate() {
            let x = rnd(&shape, 50 + i as u64, dtype);
            for (name, c, g) in layouts(&x) {
                for dims in &dim_sets {
                    for keepdim in [false, true] {
                        for op in OPS {
                            let what = format!("{op:?} {dtype:?} {shape:?} dims {dims:?} keep {keepdim} {name}");
                            let want = c.reduce(op, dims, keepdim).unwrap();
                            assert_close(&what, &g.reduce(op, dims, keepdim).unwrap(), &want, atol, rtol);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn named_reductions_and_var_match_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::BF16] {
        let (atol, rtol) = rtol_for(dtype);
        let x = rnd(&[6, 300], 7, dtype);
        for (name, c, g) in layouts(&x) {
            assert_close(&format!("sum_all {name}"), &g.sum_all().unwrap(), &c.sum_all().unwrap(), atol, rtol);
            for dims in [vec![1isize], vec![0], vec![]] {
                let what = format!("{dtype:?} {dims:?} {name}");
                let (gl, cl) = (g.logsumexp(&dims, true).unwrap(), c.logsumexp(&dims, true).unwrap());
                assert_close(&format!("logsumexp {what}"), &gl, &cl, atol, rtol);
                assert_close(
                    &format!("norm {what}"),
                    &g.norm(&dims, false).unwrap(),
                    &c.norm(&dims, false).unwrap(),
                    atol,
                    rtol,
                );
                assert_close(
                    &format!("mean {what}"),
                    &g.mean(&dims, false).unwrap(),
                    &c.mean(&dims, false).unwrap(),
                    atol,
                    rtol,
                );
                for unbiased in [false, true] {
                    let (gv, cv) = (g.var(&dims, unbiased, true).unwrap(), c.var(&dims, unbiased, true).unwrap());
                    assert_close(&format!("var {unbiased} {what}"), &gv, &cv, atol, rtol);
                }
            }
        }
    }
}

#[test]
fn logsumexp_and_max_handle_infinities_and_nan() {
    let _dev = gpu_or_skip!();
    let v =
        vec![1.0, f64::NEG_INFINITY, 2.0, 0.5, f64::INFINITY, 3.0, f64::NAN, 1.0, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for dtype in [DType::F32, DType::F64] {
        let x = Tensor::from_vec(v.clone(), &[5, 2]).unwrap().to_dtype(dtype).unwrap();
        for op in OPS {
            for dims in [vec![1isize], vec![0]] {
                let what = format!("{op:?} {dtype:?} {dims:?}");
                assert_close(
                    &what,
                    &gpu(&x).reduce(op, &dims, false).unwrap(),
                    &x.reduce(op, &dims, false).unwrap(),
                    1e-6,
                    1e-6,
                );
            }
        }
    }
}

#[test]
fn argmax_argmin_pick_the_cpu_index() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16] {
        for shape in [vec![6usize, 300], vec![3, 1025], vec![1, 1], vec![4, 3, 5]] {
            let x = ties(&shape, 1, dtype);
            for (name, c, g) in layouts(&x) {
                for dim in 0..shape.len() as isize {
                    for keepdim in [false, true] {
                        let what = format!("{dtype:?} {shape:?} dim {dim} keep {keepdim} {name}");
                        let (ga, ca) = (g.argmax(dim, keepdim).unwrap(), c.argmax(dim, keepdim).unwrap());
                        assert_close(&format!("argmax {what}"), &ga, &ca, 0.0, 0.0);
                        let (ga, ca) = (g.argmin(dim, keepdim).unwrap(), c.argmin(dim, keepdim).unwrap());
                        assert_close(&format!("argmin {what}"), &ga, &ca, 0.0, 0.0);
                    }
                }
            }
        }
    }
    // NaN wins (the first one), in rows longer than a block too.
    let mut v: Vec<f64> = (0..2 * 700).map(|i| ((i * 37) % 11) as f64).collect();
    v[500] = f64::NAN;
    v[650] = f64::NAN;
    v[700 + 3] = f64::NAN;
    let x = Tensor::from_vec(v, &[2, 700]).unwrap();
    for max in [true, false] {
        let (g, c) = (gpu(&x).arg_reduce(1, false, max).unwrap(), x.arg_reduce(1, false, max).unwrap());
        assert_close(&format!("nan max={max}"), &g, &c, 0.0, 0.0);
    }
    // Integer tensors are refused, as on the CPU.
    let i = Tensor::from_vec(vec![1i64, 3, 2], &[3]).unwrap();
    assert!(matches!(gpu(&i).argmax(0, false), Err(Error::UnsupportedDType { .. })));
}

#[test]
fn arg_mask_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16] {
        let x = ties(&[4, 3, 300], 2, dtype);
        for (name, c, g) in layouts(&x) {
            for dims in [vec![], vec![2isize], vec![0, 2], vec![1]] {
                for max in [true, false] {
                    let what = format!("{dtype:?} {dims:?} max={max} {name}");
                    assert_close(&what, &g.arg_mask(&dims, max).unwrap(), &c.arg_mask(&dims, max).unwrap(), 0.0, 0.0);
                }
            }
        }
    }
}

#[test]
fn sum_to_shape_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = rtol_for(dtype);
        let x = rnd(&[4, 3, 257], 8, dtype);
        for (name, c, g) in layouts(&x) {
            for target in [vec![3usize, 1], vec![257], vec![1, 1, 1], vec![4, 1, 257], vec![], vec![4, 3, 257]] {
                let what = format!("{dtype:?} -> {target:?} {name}");
                assert_close(&what, &g.sum_to_shape(&target).unwrap(), &c.sum_to_shape(&target).unwrap(), atol, rtol);
            }
        }
    }
}

#[test]
fn reductions_are_bit_identical_across_runs_and_layouts() {
    let _dev = gpu_or_skip!();
    let x = rnd(&[3, 20000], 4, DType::F32);
    let bits = |t: &Tensor| t.to_vec_f64().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let views = layouts(&x);
    for op in OPS {
        let first = bits(&views[0].2.reduce(op, &[1], false).unwrap());
        for (name, _, g) in &views {
            for _ in 0..2 {
                assert_eq!(bits(&g.reduce(op, &[1], false).unwrap()), first, "{op:?} {name}");
            }
        }
    }
}

#[test]
fn reduce_errors_match_the_cpu() {
    let _dev = gpu_or_skip!();
    let x = gpu(&rnd(&[3, 4], 1, DType::F32));
    assert!(matches!(x.sum(&[2], false), Err(Error::DimOutOfRange { .. })));
    assert!(matches!(x.argmax(-3, false), Err(Error::DimOutOfRange { .. })));
    let i = gpu(&Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap());
    assert!(matches!(i.sum_all(), Err(Error::UnsupportedDType { .. })));
}
