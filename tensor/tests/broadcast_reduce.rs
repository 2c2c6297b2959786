//! Broadcasting binary ops and reductions on random shapes and layouts, against naive loops.
mod common;

use common::{align, broadcast_shape, close, close_nd, numel, tol, unravel, with_layout, Gen, Nd};
use proptest::prelude::*;
use tensor::{BinaryOp, DType, Tensor};

const OPS: [BinaryOp; 6] =
    [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum];

fn apply(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
        BinaryOp::Pow => a.powf(b),
    }
}

fn naive_binary(op: BinaryOp, a: &Nd, b: &Nd) -> Nd {
    let shape = broadcast_shape(&a.shape, &b.shape).expect("compatible shapes");
    Nd::from_fn(&shape, |idx| apply(op, a.at(&align(idx, &a.shape)), b.at(&align(idx, &b.shape))))
}

/// An operand shape that broadcasts to `out`: some leading dims dropped, some dims set to 1.
fn operand_shape(out: &[usize], g: &mut Gen) -> Vec<usize> {
    let drop = g.below(out.len() + 1);
    out[drop..].iter().map(|&d| if g.below(3) == 0 { 1 } else { d }).collect()
}

/// Naive reduction of `x` over `dims` (empty = all), grouping values in row-major order.
fn naive_reduce(x: &Nd, dims: &[usize], keepdim: bool, f: impl Fn(&[f64]) -> f64) -> Nd {
    let r = x.rank();
    let red: Vec<bool> = (0..r).map(|d| dims.is_empty() || dims.contains(&d)).collect();
    let kept: Vec<usize> = (0..r).filter(|&d| !red[d]).map(|d| x.shape[d]).collect();
    let mut groups = vec![Vec::new(); numel(&kept)];
    for (i, &v) in x.data.iter().enumerate() {
        let idx = unravel(i, &x.shape);
        let key: Vec<usize> = (0..r).filter(|&d| !red[d]).map(|d| idx[d]).collect();
        groups[common::ravel(&key, &kept)].push(v);
    }
    let out_shape: Vec<usize> =
        (0..r).filter(|&d| keepdim || !red[d]).map(|d| if red[d] { 1 } else { x.shape[d] }).collect();
    Nd::new(&out_shape, groups.iter().map(|g| f(g)).collect())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64], unbiased: bool) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - unbiased as usize) as f64
}

fn lse(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn first_arg(v: &[f64], max: bool) -> f64 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if (max && x > v[best]) || (!max && x < v[best]) {
            best = i;
        }
    }
    best as f64
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=5, 1..=4)
}

fn float_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

proptest! {
    #![proptest_config(common::config(256))]

    #[test]
    fn binary_broadcasting_matches_naive(out in shape_strategy(), seed in any::<u64>(), op_i in 0usize..6,
                                         modes in (0u8..4, 0u8..4), swap in any::<bool>(), dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let op = OPS[op_i];
        let (sa, sb) = (operand_shape(&out, &mut g), operand_shape(&out, &mut g));
        let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
        let a = Nd::random(&sa, &mut g).rounded(dtype);
        // Keep divisors away from zero so relative tolerances stay meaningful.
        let b = Nd::random(&sb, &mut g).map(|v| if op == BinaryOp::Div && v.abs() < 0.25 { v + 0.5 } else { v }).rounded(dtype);
        let (ta, tb) = (with_layout(&a, dtype, modes.0, &mut g), with_layout(&b, dtype, modes.1, &mut g));
        let y = ta.binary(op, &tb).unwrap();
        prop_assert_eq!(y.dtype(), dtype);
        prop_assert!(y.is_contiguous());
        let want = naive_binary(op, &a, &b);
        let (atol, rtol) = tol(dtype);
        close_nd(&y, &want, atol, rtol)?;
    }

    /// Every reduction over a random subset of axes (negative indices too), keepdim on and off,
    /// on random layouts.
    #[test]
    fn reductions_match_naive(shape in shape_strategy(), seed in any::<u64>(), mask in any::<u8>(), keepdim in any::<bool>(),
                              op in 0usize..8, mode in 0u8..4, dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let r = shape.len();
        let x = Nd::random(&shape, &mut g).rounded(dtype);
        let t = with_layout(&x, dtype, mode, &mut g);
        let dims: Vec<usize> = (0..r).filter(|d| mask >> d & 1 == 1).collect();
        let dims_arg: Vec<isize> = dims.iter().map(|&d| if g.below(2) == 0 { d as isize } else { d as isize - r as isize }).collect();
        let (got, want) = match op {
            0 => (t.sum(&dims_arg, keepdim), naive_reduce(&x, &dims, keepdim, |v| v.iter().sum())),
            1 => (t.mean(&dims_arg, keepdim), naive_reduce(&x, &dims, keepdim, mean)),
            2 => (t.max(&dims_arg, keepdim), naive_reduce(&x, &dims, keepdim, |v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max))),
            3 => (t.min(&dims_arg, keepdim), naive_reduce(&x, &dims, keepdim, |v| v.iter().copied().fold(f64::INFINITY, f64::min))),
            4 => (t.logsumexp(&dims_arg, keepdim), naive_reduce(&x, &dims, keepdim, lse)),
            5 => (t.norm(&dims_arg, keepdim), naive_reduce(&x, &dims, keepdim, |v| v.iter().map(|a| a * a).sum::<f64>().sqrt())),
            6 => (t.var(&dims_arg, true, keepdim), naive_reduce(&x, &dims, keepdim, |v| var(v, true))),
            _ => (t.var(&dims_arg, false, keepdim), naive_reduce(&x, &dims, keepdim, |v| var(v, false))),
        };
        let got = got.unwrap();
        prop_assert_eq!(got.dtype(), dtype);
        let (atol, rtol) = tol(dtype);
        close_nd(&got, &want, atol, rtol)?;
    }

    /// argmax / argmin pick the first extremum (values with many ties).
    #[test]
    fn arg_reductions_match_naive(shape in shape_strategy(), seed in any::<u64>(), keepdim in any::<bool>(), max in any::<bool>(), mode in 0u8..4) {
        let mut g = Gen::new(seed);
        let x = Nd::new(&shape, g.ints(numel(&shape), 1));
        let t = with_layout(&x, DType::F32, mode, &mut g);
        let d = g.below(shape.len());
        let dim = if g.below(2) == 0 { d as isize } else { d as isize - shape.len() as isize };
        let got = if max { t.argmax(dim, keepdim) } else { t.argmin(dim, keepdim) }.unwrap();
        prop_assert_eq!(got.dtype(), DType::I64);
        let want = naive_reduce(&x, &[d], keepdim, |v| first_arg(v, max));
        prop_assert_eq!(got.shape(), want.shape.as_slice());
        let got: Vec<f64> = got.to_vec::<i64>().unwrap().into_iter().map(|v| v as f64).collect();
        close(&got, &want.data, 0.0, 0.0)?;
    }

    /// `sum_to_shape` is the adjoint of broadcasting: it sums the broadcast copies back.
    #[test]
    fn sum_to_shape_inverts_broadcast(out in shape_strategy(), seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        let small = operand_shape(&out, &mut g);
        let y = Nd::random(&out, &mut g);
        let got = y.tensor(DType::F64).sum_to_shape(&small).unwrap();
        let mut want = Nd::new(&small, vec![0.0; numel(&small)]);
        for (i, &v) in y.data.iter().enumerate() {
            let j = common::ravel(&align(&unravel(i, &out), &small), &small);
            want.data[j] += v;
        }
        close_nd(&got, &want, 1e-12, 1e-12)?;
    }
}

#[test]
fn named_binary_methods_and_scalars() {
    let a = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, 4.0, 5.0, -6.0], &[2, 3]).unwrap();
    let s = Tensor::scalar(2.0, DType::F32);
    assert_eq!(a.add(&s).unwrap().to_vec::<f32>().unwrap(), vec![3.0, 0.0, 5.0, 6.0, 7.0, -4.0]);
    assert_eq!(s.sub(&a).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 4.0, -1.0, -2.0, -3.0, 8.0]);
    assert_eq!(a.mul(&s).unwrap().to_vec::<f32>().unwrap(), vec![2.0, -4.0, 6.0, 8.0, 10.0, -12.0]);
    assert_eq!(a.div(&s).unwrap().to_vec::<f32>().unwrap(), vec![0.5, -1.0, 1.5, 2.0, 2.5, -3.0]);
    let col = Tensor::from_vec(vec![10.0f32, 20.0], &[2, 1]).unwrap();
    assert_eq!(a.add(&col).unwrap().to_vec::<f32>().unwrap(), vec![11.0, 8.0, 13.0, 24.0, 25.0, 14.0]);
    assert_eq!(a.affine(2.0, 1.0).unwrap().to_vec::<f32>().unwrap(), vec![3.0, -3.0, 7.0, 9.0, 11.0, -11.0]);
    assert_eq!(a.neg().unwrap().scale(0.5).unwrap().to_vec::<f32>().unwrap(), vec![-0.5, 1.0, -1.5, -2.0, -2.5, 3.0]);
    assert_eq!(a.square().unwrap().sqrt().unwrap().to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // scalar ⊕ scalar stays 0-d
    assert_eq!(s.add(&s).unwrap().shape(), &[] as &[usize]);
}

#[test]
fn full_reductions_and_rank0() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    assert_eq!(x.sum_all().unwrap().shape(), &[] as &[usize]);
    assert_eq!(x.sum_all().unwrap().to_scalar_f64().unwrap(), 10.0);
    assert_eq!(x.sum(&[], true).unwrap().shape(), &[1, 1]);
    assert_eq!(x.reduced_count(&[0]).unwrap(), 2);
    assert_eq!(x.reduced_count(&[]).unwrap(), 4);
    let s = Tensor::scalar(3.5, DType::F64);
    assert_eq!(s.sum_all().unwrap().to_scalar_f64().unwrap(), 3.5);
    assert_eq!(s.max(&[], false).unwrap().to_scalar_f64().unwrap(), 3.5);
}

#[test]
fn comparisons_and_where() {
    let a = Tensor::from_vec(vec![1.0f32, 5.0, 3.0], &[3]).unwrap();
    let b = Tensor::from_vec(vec![2.0f32, 5.0, 1.0], &[3]).unwrap();
    let lt = a.cmp(tensor::CmpOp::Lt, &b).unwrap();
    assert_eq!(lt.dtype(), DType::U8);
    assert_eq!(lt.to_vec::<u8>().unwrap(), vec![1, 0, 0]);
    assert_eq!(a.cmp_scalar(tensor::CmpOp::Ge, 3.0).unwrap().to_vec::<u8>().unwrap(), vec![0, 1, 1]);
    let sel = Tensor::where_cond(&lt, &a, &b).unwrap();
    assert_eq!(sel.to_vec::<f32>().unwrap(), vec![1.0, 5.0, 1.0]);
}

/// NaN propagates through max/min (reductions and elementwise) like PyTorch, and argmax/argmin
/// report the first NaN; infinite maxima decide logsumexp alone.
#[test]
fn nan_and_infinity_semantics() {
    let nan = f64::NAN;
    let x = Tensor::from_vec(vec![1.0f64, nan, 3.0, 0.0, -1.0, 2.0], &[2, 3]).unwrap();
    let row = |t: tensor::Result<Tensor>| t.unwrap().to_vec::<f64>().unwrap();
    let (mx, mn) = (row(x.max(&[1], false)), row(x.min(&[1], false)));
    assert!(mx[0].is_nan() && mx[1] == 2.0, "{mx:?}");
    assert!(mn[0].is_nan() && mn[1] == -1.0, "{mn:?}");
    assert!(row(x.max(&[], false))[0].is_nan());
    assert_eq!(x.argmax(1, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 2]);
    assert_eq!(x.argmin(1, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 1]);
    let two = Tensor::scalar(2.0, DType::F64);
    for (a, b) in [(&x, &two), (&two, &x)] {
        let m = row(a.binary(BinaryOp::Maximum, b));
        assert!(m[1].is_nan(), "maximum {m:?}");
        assert_eq!([m[0], m[2], m[3]], [2.0, 3.0, 2.0]);
        let m = row(a.binary(BinaryOp::Minimum, b));
        assert!(m[1].is_nan(), "minimum {m:?}");
        assert_eq!([m[0], m[2], m[4]], [1.0, 2.0, -1.0]);
    }
    let r = row(x.unary(tensor::UnaryOp::Relu));
    assert!(r[1].is_nan() && r[4] == 0.0, "relu {r:?}");
    let c = row(x.unary(tensor::UnaryOp::Clamp(0.5, 2.5)));
    assert!(c[1].is_nan() && c[0] == 1.0 && c[2] == 2.5 && c[3] == 0.5, "clamp {c:?}");
    let inf = Tensor::from_vec(vec![f64::INFINITY, 1.0, f64::NEG_INFINITY, f64::NEG_INFINITY], &[2, 2]).unwrap();
    assert_eq!(row(inf.logsumexp(&[1], false)), vec![f64::INFINITY, f64::NEG_INFINITY]);
}

proptest! {
    #![proptest_config(common::config(256))]

    /// `where_cond` broadcasts mask and both branches together, whatever their layouts.
    #[test]
    fn where_cond_broadcasts_like_naive(out in shape_strategy(), seed in any::<u64>(), modes in (0u8..4, 0u8..4, 0u8..4)) {
        let mut g = Gen::new(seed);
        let (sm, st, sf) = (operand_shape(&out, &mut g), operand_shape(&out, &mut g), operand_shape(&out, &mut g));
        let mask = Nd::new(&sm, (0..numel(&sm)).map(|_| g.below(2) as f64).collect());
        let (t, f) = (Nd::random(&st, &mut g), Nd::random(&sf, &mut g));
        let tm = with_layout(&mask, DType::F64, modes.0, &mut g).to_dtype(DType::U8).unwrap();
        let (tt, tf) = (with_layout(&t, DType::F64, modes.1, &mut g), with_layout(&f, DType::F64, modes.2, &mut g));
        let got = Tensor::where_cond(&tm, &tt, &tf).unwrap();
        let shape = broadcast_shape(&broadcast_shape(&sm, &st).unwrap(), &sf).unwrap();
        let want = Nd::from_fn(&shape, |idx| {
            if mask.at(&align(idx, &sm)) != 0.0 { t.at(&align(idx, &st)) } else { f.at(&align(idx, &sf)) }
        });
        close_nd(&got, &want, 0.0, 0.0)?;
        let filled = tt.masked_fill(&tm.broadcast_to(&broadcast_shape(&sm, &st).unwrap()).unwrap(), -9.0).unwrap();
        let shape2 = broadcast_shape(&sm, &st).unwrap();
        let want2 = Nd::from_fn(&shape2, |idx| if mask.at(&align(idx, &sm)) != 0.0 { -9.0 } else { t.at(&align(idx, &st)) });
        close_nd(&filled, &want2, 0.0, 0.0)?;
    }
}

/// Ops on tensors with a zero-sized dim give empty (or identity-valued) results, not panics.
#[test]
fn empty_tensors() {
    let e = Tensor::zeros(&[0, 3], DType::F32);
    assert_eq!(e.add(&Tensor::ones(&[3], DType::F32)).unwrap().shape(), &[0, 3]);
    assert_eq!(e.sum(&[0], false).unwrap().to_vec::<f32>().unwrap(), vec![0.0; 3]);
    assert_eq!(e.sum(&[1], false).unwrap().shape(), &[0]);
    assert_eq!(e.transpose(0, 1).unwrap().contiguous().unwrap().shape(), &[3, 0]);
    assert_eq!(e.exp().unwrap().shape(), &[0, 3]);
    let y = Tensor::zeros(&[2, 0], DType::F64).matmul(&Tensor::zeros(&[0, 3], DType::F64)).unwrap();
    assert_eq!((y.shape(), y.to_vec::<f64>().unwrap()), (&[2, 3][..], vec![0.0; 6]));
    assert_eq!(
        Tensor::cat(&[&e, &Tensor::ones(&[1, 3], DType::F32)], 0).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 3]
    );
    assert_eq!(e.softmax(1).unwrap().shape(), &[0, 3]);
}
