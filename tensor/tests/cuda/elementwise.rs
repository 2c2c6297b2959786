//! Elementwise ops on a GPU against the CPU: every unary op (forward and backward), every binary
//! op with broadcasting (forward and backward), comparisons, `where_cond`, `masked_fill`, over
//! odd sizes, broadcast and transposed layouts, f32 and f64 (and half precision through f32).
//! Skipped (with the reason printed) on a machine without a GPU.
use crate::common::*;
use tensor::{BinaryOp, CmpOp, DType, Device, Error, Tensor, UnaryOp};

const UNARY: [UnaryOp; 22] = UnaryOp::ALL;

const BINARY: [BinaryOp; 7] = BinaryOp::ALL;

const CMP: [CmpOp; 5] = [CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];

const SHAPES: [&[usize]; 5] = [&[1], &[3], &[257], &[1025], &[7, 33]];

/// A test input for `op`, inside its domain (positive for log, sqrt, powf, recip…).
fn unary_input(op: UnaryOp, shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let x = rnd(shape, seed, dtype);
    match op {
        UnaryOp::Log | UnaryOp::Log1p | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Recip | UnaryOp::Powf(_) => {
            x.unary(UnaryOp::Abs).unwrap().affine(1.0, 0.1).unwrap()
        }
        _ => x.scale(2.0).unwrap(),
    }
}

/// A tensor of `shape` with small integer values (many exact ties), as `dtype`.
fn ties(shape: &[usize], seed: usize, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| ((i * 7 + seed * 3) % 5) as f64).collect();
    Tensor::from_vec(v, shape).unwrap().to_dtype(dtype).unwrap()
}

#[test]
fn unary_forward_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = tol(dtype);
        for op in UNARY {
            for (s, shape) in SHAPES.iter().enumerate() {
                let x = unary_input(op, shape, 10 + s as u64, dtype);
                for (name, c, g) in layouts(&x) {
                    let what = format!("{op:?} {dtype:?} {shape:?} {name}");
                    assert_close(&what, &g.unary(op).unwrap(), &c.unary(op).unwrap(), atol, rtol);
                }
            }
        }
    }
}

#[test]
fn unary_on_half_precision_goes_through_f32() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F16, DType::BF16] {
        let (atol, rtol) = tol(dtype);
        for op in [UnaryOp::Exp, UnaryOp::Silu, UnaryOp::Sqrt, UnaryOp::Affine(0.5, -1.0)] {
            let x = unary_input(op, &[5, 67], 3, dtype);
            for (name, c, g) in layouts(&x) {
                let what = format!("{op:?} {dtype:?} {name}");
                assert_close(&what, &g.unary(op).unwrap(), &c.unary(op).unwrap(), atol, rtol);
            }
        }
    }
}

#[test]
fn unary_backward_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = tol(dtype);
        for op in UNARY {
            for (s, shape) in SHAPES.iter().enumerate() {
                let x = unary_input(op, shape, 20 + s as u64, dtype);
                let dy = rnd(shape, 40 + s as u64, dtype);
                for ((name, cx, gx), (_, cdy, gdy)) in layouts(&x).into_iter().zip(layouts(&dy)) {
                    let (cy, gy) = (cx.unary(op).unwrap(), gx.unary(op).unwrap());
                    let want = Tensor::unary_backward(op, &cx, &cy, &cdy).unwrap();
                    let what = format!("{op:?} {dtype:?} {shape:?} {name}");
                    assert_close(&what, &Tensor::unary_backward(op, &gx, &gy, &gdy).unwrap(), &want, atol, rtol);
                    let owned = Tensor::unary_backward_owned(op, &gx, &gy, gdy.clone()).unwrap();
                    assert_close(&format!("{what} owned"), &owned, &want, atol, rtol);
                }
            }
        }
    }
}

#[test]
fn affine_and_scale_match_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16] {
        let (atol, rtol) = tol(dtype);
        let x = rnd(&[9, 31], 5, dtype);
        for (name, c, g) in layouts(&x) {
            assert_close(
                &format!("affine {name}"),
                &g.affine(3.0, -0.5).unwrap(),
                &c.affine(3.0, -0.5).unwrap(),
                atol,
                rtol,
            );
            assert_close(&format!("scale {name}"), &g.scale(0.1).unwrap(), &c.scale(0.1).unwrap(), atol, rtol);
        }
    }
}

/// Operand shapes that broadcast: equal, trailing, scalar, both sides growing.
fn binary_pairs() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![2, 3], vec![2, 3]),
        (vec![3, 1, 5], vec![4, 5]),
        (vec![257], vec![1]),
        (vec![], vec![5]),
        (vec![1025], vec![1025]),
        (vec![6, 1], vec![1, 7]),
        (vec![4, 1, 33], vec![4, 9, 1]),
    ]
}

/// Inputs for `op` (a positive base for `pow`, a divisor away from zero for `div`).
fn binary_inputs(op: BinaryOp, sa: &[usize], sb: &[usize], seed: u64, dtype: DType) -> (Tensor, Tensor) {
    let (a, b) = (rnd(sa, seed, dtype), rnd(sb, seed + 1, dtype));
    match op {
        BinaryOp::Pow => (a.unary(UnaryOp::Abs).unwrap().affine(1.0, 0.1).unwrap(), b),
        BinaryOp::Div => (a, b.unary(UnaryOp::Abs).unwrap().affine(1.0, 0.5).unwrap()),
        _ => (a, b),
    }
}

#[test]
fn binary_forward_matches_the_cpu_with_broadcasting() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16] {
        let (atol, rtol) = tol(dtype);
        for op in BINARY {
            for (i, (sa, sb)) in binary_pairs().into_iter().enumerate() {
                let (a, b) = binary_inputs(op, &sa, &sb, 100 + i as u64, dtype);
                for ((name, ca, ga), (_, cb, gb)) in layouts(&a).into_iter().zip(layouts(&b).into_iter().cycle()) {
                    let what = format!("{op:?} {dtype:?} {sa:?} {sb:?} {name}");
                    assert_close(&what, &ga.binary(op, &gb).unwrap(), &ca.binary(op, &cb).unwrap(), atol, rtol);
                    let swapped = format!("{what} swapped");
                    if op != BinaryOp::Pow && op != BinaryOp::Div {
                        assert_close(&swapped, &gb.binary(op, &ga).unwrap(), &cb.binary(op, &ca).unwrap(), atol, rtol);
                    }
                }
            }
        }
    }
}

#[test]
fn binary_backward_matches_the_cpu_with_broadcasting() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = (tol(dtype).0 * 10.0, tol(dtype).1);
        for op in BINARY {
            for (i, (sa, sb)) in binary_pairs().into_iter().enumerate() {
                let (a, b) = binary_inputs(op, &sa, &sb, 200 + i as u64, dtype);
                let (ca, cb) = (a.clone(), b.clone());
                let cy = ca.binary(op, &cb).unwrap();
                let dy = rnd(cy.shape(), 300 + i as u64, dtype);
                let (want_a, want_b) = Tensor::binary_backward(op, &ca, &cb, &cy, &dy).unwrap();
                for ((name, _, ga), (_, _, gdy)) in layouts(&a).into_iter().zip(layouts(&dy).into_iter().cycle()) {
                    let gb = gpu(&b);
                    let gy = ga.binary(op, &gb).unwrap();
                    let (da, db) = Tensor::binary_backward(op, &ga, &gb, &gy, &gdy).unwrap();
                    let what = format!("{op:?} {dtype:?} {sa:?} {sb:?} {name}");
                    assert_close(&format!("{what} da"), &da, &want_a, atol, rtol);
                    assert_close(&format!("{what} db"), &db, &want_b, atol, rtol);
                }
            }
        }
    }
}

#[test]
fn max_min_ties_send_the_gradient_to_a() {
    let _dev = gpu_or_skip!();
    let a = ties(&[4, 6], 1, DType::F32);
    let b = ties(&[6], 2, DType::F32);
    for op in [BinaryOp::Maximum, BinaryOp::Minimum] {
        let cy = a.binary(op, &b).unwrap();
        let dy = rnd(cy.shape(), 9, DType::F32);
        let (wa, wb) = Tensor::binary_backward(op, &a, &b, &cy, &dy).unwrap();
        let (ga, gb) = (gpu(&a), gpu(&b));
        let gy = ga.binary(op, &gb).unwrap();
        assert_close(&format!("{op:?} y"), &gy, &cy, 0.0, 0.0);
        let (da, db) = Tensor::binary_backward(op, &ga, &gb, &gy, &gpu(&dy)).unwrap();
        assert_close(&format!("{op:?} da"), &da, &wa, 1e-6, 1e-6);
        assert_close(&format!("{op:?} db"), &db, &wb, 1e-6, 1e-6);
    }
}

#[test]
fn add_owned_matches_add() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        let (a, b) = (rnd(&[3, 257], 1, dtype), rnd(&[3, 257], 2, dtype));
        let want = a.add(&b).unwrap();
        assert_close("add_owned", &gpu(&a).add_owned(&gpu(&b)).unwrap(), &want, 0.0, 0.0);
        let bc = rnd(&[257], 3, dtype);
        assert_close("add_owned broadcast", &gpu(&a).add_owned(&gpu(&bc)).unwrap(), &a.add(&bc).unwrap(), 0.0, 0.0);
    }
}

#[test]
fn comparisons_match_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::I64, DType::U8, DType::F16, DType::BF16] {
        for (i, (sa, sb)) in binary_pairs().into_iter().enumerate() {
            let (a, b) = (ties(&sa, i, dtype), ties(&sb, i + 1, dtype));
            for ((name, ca, ga), (_, cb, gb)) in layouts(&a).into_iter().zip(layouts(&b).into_iter().cycle()) {
                for op in CMP {
                    let what = format!("{op:?} {dtype:?} {sa:?} {sb:?} {name}");
                    assert_close(&what, &ga.cmp(op, &gb).unwrap(), &ca.cmp(op, &cb).unwrap(), 0.0, 0.0);
                    for v in [2.0, 2.5, -1.0] {
                        let c = ca.cmp_scalar(op, v).unwrap();
                        assert_close(&format!("{what} scalar {v}"), &ga.cmp_scalar(op, v).unwrap(), &c, 0.0, 0.0);
                    }
                }
            }
        }
    }
}

#[test]
fn where_cond_matches_the_cpu_for_every_dtype() {
    let _dev = gpu_or_skip!();
    let mask = ties(&[3, 1, 5], 0, DType::F32).cmp_scalar(CmpOp::Gt, 1.5).unwrap();
    for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::U8] {
        let t = ties(&[4, 5], 3, dtype);
        let f = ties(&[1, 1, 5], 2, dtype);
        for (name, ct, gt) in layouts(&t) {
            let want = Tensor::where_cond(&mask, &ct, &f).unwrap();
            let got = Tensor::where_cond(&gpu(&mask), &gt, &gpu(&f)).unwrap();
            assert_close(&format!("where {dtype:?} {name}"), &got, &want, 0.0, 0.0);
        }
    }
}

#[test]
fn masked_fill_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let mask = ties(&[5], 0, DType::F32).cmp_scalar(CmpOp::Lt, 2.0).unwrap();
    for dtype in [DType::F32, DType::F64, DType::F16, DType::I64] {
        let x = ties(&[4, 5], 1, dtype);
        for (name, c, g) in layouts(&x) {
            let what = format!("masked_fill {dtype:?} {name}");
            assert_close(
                &what,
                &g.masked_fill(&gpu(&mask), -7.0).unwrap(),
                &c.masked_fill(&mask, -7.0).unwrap(),
                0.0,
                0.0,
            );
        }
    }
    // The mask may be larger than x: the result takes the broadcast shape.
    let big = ties(&[3, 5], 4, DType::F32).cmp_scalar(CmpOp::Ge, 3.0).unwrap();
    let x = rnd(&[5], 1, DType::F32);
    assert_close(
        "masked_fill grows",
        &gpu(&x).masked_fill(&gpu(&big), 1e9).unwrap(),
        &x.masked_fill(&big, 1e9).unwrap(),
        0.0,
        0.0,
    );
}

#[test]
fn mixing_devices_is_an_error() {
    let dev = gpu_or_skip!();
    let (c, g) = (rnd(&[3], 1, DType::F32), rnd(&[3], 2, DType::F32).to_device(dev).unwrap());
    assert!(matches!(g.add(&c), Err(Error::DeviceMismatch { .. })));
    assert!(matches!(c.add(&g), Err(Error::DeviceMismatch { .. })));
    assert!(matches!(g.cmp(CmpOp::Lt, &c), Err(Error::DeviceMismatch { .. })));
    let mask = Tensor::full(&[3], 1.0, DType::U8);
    assert!(g.masked_fill(&mask, 0.0).is_err());
    assert!(Tensor::where_cond(&mask, &g, &g).is_err());
    let y = g.exp().unwrap();
    assert!(Tensor::unary_backward(UnaryOp::Exp, &g, &y, &c).is_err());
    assert_eq!(y.device(), Device::Cuda(0));
}

#[test]
fn both_ptx_variants_load_and_run() {
    let _dev = gpu_or_skip!();
    use kernels::cuda::{elementwise as k, GpuDevice, StridedLayout};
    use kernels::ptx::{PtxArch, ELEMENTWISE, REDUCE};
    let mut names: Vec<(&kernels::ptx::PtxModule, String)> = Vec::new();
    for t in ["f32", "f64"] {
        for k in ["unary", "unary_backward", "binary", "binary_backward", "masked_fill"] {
            names.push((&ELEMENTWISE, format!("{k}_{t}")));
        }
        for k in ["reduce_rows", "arg_reduce_rows", "arg_mask"] {
            names.push((&REDUCE, format!("{k}_{t}")));
        }
    }
    for t in ["f32", "f64", "i64", "u8"] {
        names.push((&ELEMENTWISE, format!("cmp_{t}")));
    }
    for t in ["b8", "b16", "b32", "b64"] {
        names.push((&ELEMENTWISE, format!("where_{t}")));
    }
    for arch in PtxArch::ALL {
        let dev = GpuDevice::get_with_arch(0, Some(arch)).unwrap();
        for (m, name) in &names {
            dev.function(m, name).unwrap_or_else(|e| panic!("{arch:?} {name}: {e}"));
        }
        let x: Vec<f32> = (0..300).map(|i| i as f32 * 0.01 - 1.0).collect();
        let xs = dev.stream().clone_htod(&x).unwrap();
        let mut y = dev.stream().alloc_zeros::<f32>(300).unwrap();
        k::unary(&dev, UnaryOp::Square, &xs, &StridedLayout::contiguous(300, 0).unwrap(), &mut y, 300).unwrap();
        let got = dev.stream().clone_dtoh(&y).unwrap();
        assert!(got.iter().zip(&x).all(|(a, b)| *a == b * b), "{arch:?}");
    }
}
