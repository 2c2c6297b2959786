//! Matrix products against a naive triple loop: random sizes, batch broadcasting, transposed and
//! strided operands, f32 and f64; plus a 512×512 run as a speed sanity check.
mod common;

use common::{align, broadcast_shape, close_nd, with_layout, Gen, Nd};
use proptest::prelude::*;
use tensor::{DType, Tensor};

/// `[.., m, k] @ [.., k, n]` with NumPy broadcasting of the leading dims, by explicit loops.
fn naive_matmul(a: &Nd, b: &Nd) -> Nd {
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k, n) = (a.shape[ra - 2], a.shape[ra - 1], b.shape[rb - 1]);
    assert_eq!(k, b.shape[rb - 2]);
    let batch = broadcast_shape(&a.shape[..ra - 2], &b.shape[..rb - 2]).unwrap();
    let mut shape = batch.clone();
    shape.extend([m, n]);
    Nd::from_fn(&shape, |idx| {
        let (bi, i, j) = (&idx[..batch.len()], idx[batch.len()], idx[batch.len() + 1]);
        let (mut ia, mut ib) = (align(bi, &a.shape[..ra - 2]), align(bi, &b.shape[..rb - 2]));
        let (la, lb) = (ia.len(), ib.len());
        ia.extend([i, 0]);
        ib.extend([0, j]);
        let mut acc = 0.0;
        for p in 0..k {
            ia[la + 1] = p;
            ib[lb] = p;
            acc += a.at(&ia) * b.at(&ib);
        }
        acc
    })
}

/// Builds the operand `nd` either through `with_layout` or as the transpose of its stored
/// transpose (a `.transpose(-1, -2)` view).
fn operand(nd: &Nd, dtype: DType, mode: u8, g: &mut Gen) -> Tensor {
    let r = nd.rank();
    if mode >= 4 {
        let stored = nd.transpose(r - 2, r - 1);
        let t = stored.tensor(dtype).transpose(-1, -2).unwrap();
        assert!(!t.is_contiguous() || nd.shape[r - 1] == 1 || nd.shape[r - 2] == 1);
        t
    } else {
        with_layout(nd, dtype, mode, g)
    }
}

/// f32 tolerance grows with the reduction length `k` (inputs in [-1, 1]).
fn check(got: &Tensor, want: &Nd, dtype: DType, k: usize) -> Result<(), TestCaseError> {
    match dtype {
        DType::F64 => close_nd(got, want, 1e-12 * k as f64, 1e-12),
        _ => close_nd(got, want, 2e-6 * k as f64, 1e-6),
    }
}

fn float_dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

proptest! {
    #![proptest_config(common::config(64))]

    /// `[b, m, k] @ [k, n]` (the 2-D right operand is broadcast over the batch), plain 2-D, with
    /// random layouts and transposed views of either operand.
    #[test]
    fn matmul_batched_against_2d(b in 0usize..4, m in 1usize..40, n in 1usize..40, k in 1usize..40, seed in any::<u64>(),
                                 modes in (0u8..6, 0u8..6), dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let sa = if b == 0 { vec![m, k] } else { vec![b, m, k] };
        let a = Nd::new(&sa, g.vals(common::numel(&sa), -1.0, 1.0)).rounded(dtype);
        let bm = Nd::new(&[k, n], g.vals(k * n, -1.0, 1.0)).rounded(dtype);
        let (ta, tb) = (operand(&a, dtype, modes.0, &mut g), operand(&bm, dtype, modes.1, &mut g));
        let y = ta.matmul(&tb).unwrap();
        prop_assert_eq!(y.dtype(), dtype);
        check(&y, &naive_matmul(&a, &bm), dtype, k)?;
    }

    /// `[b, 1, m, k] @ [c, k, n] → [b, c, m, n]`: broadcasting on both sides.
    #[test]
    fn matmul_broadcasts_batches_both_ways(b in 1usize..4, c in 1usize..4, m in 1usize..24, n in 1usize..24, k in 1usize..24,
                                           seed in any::<u64>(), modes in (0u8..6, 0u8..6), dtype in float_dtype()) {
        let mut g = Gen::new(seed);
        let a = Nd::new(&[b, 1, m, k], g.vals(b * m * k, -1.0, 1.0)).rounded(dtype);
        let bm = Nd::new(&[c, k, n], g.vals(c * k * n, -1.0, 1.0)).rounded(dtype);
        let (ta, tb) = (operand(&a, dtype, modes.0, &mut g), operand(&bm, dtype, modes.1, &mut g));
        let y = ta.matmul(&tb).unwrap();
        prop_assert_eq!(y.shape(), &[b, c, m, n][..]);
        check(&y, &naive_matmul(&a, &bm), dtype, k)?;
        // And the mirrored broadcast: [c, m, k] @ [b, 1, k, n] → [b, c, m, n].
        let a2 = Nd::new(&[c, m, k], g.vals(c * m * k, -1.0, 1.0)).rounded(dtype);
        let b2 = Nd::new(&[b, 1, k, n], g.vals(b * k * n, -1.0, 1.0)).rounded(dtype);
        let y2 = operand(&a2, dtype, modes.1, &mut g).matmul(&operand(&b2, dtype, modes.0, &mut g)).unwrap();
        check(&y2, &naive_matmul(&a2, &b2), dtype, k)?;
    }
}

/// A left operand expanded from one row (row stride 0) and a right operand expanded from one
/// column (column stride 0).
#[test]
fn matmul_with_stride_zero_operands() {
    let mut g = Gen::new(11);
    let (m, k, n) = (5, 7, 6);
    let row = Nd::new(&[1, k], g.vals(k, -1.0, 1.0));
    let col = Nd::new(&[k, 1], g.vals(k, -1.0, 1.0));
    let a = row.tensor(DType::F64).expand(&[m, k]).unwrap();
    let b = col.tensor(DType::F64).expand(&[k, n]).unwrap();
    let y = a.matmul(&b).unwrap();
    let want = naive_matmul(&row.broadcast_to(&[m, k]), &col.broadcast_to(&[k, n]));
    close_nd(&y, &want, 1e-12, 1e-12).unwrap();
}

#[test]
fn matmul_small_by_hand() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let b = Tensor::from_vec(vec![7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2]).unwrap();
    let y = a.matmul(&b).unwrap();
    assert_eq!(y.shape(), &[2, 2]);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![58.0, 64.0, 139.0, 154.0]);
    // aᵀ as a view: [3, 2]ᵀ @ [3, 2] = [2, 2]
    let at = a.transpose(0, 1).unwrap().contiguous().unwrap().transpose(0, 1).unwrap();
    assert_eq!(at.matmul(&b).unwrap().to_vec::<f32>().unwrap(), vec![58.0, 64.0, 139.0, 154.0]);
}

#[test]
fn matmul_half_precision_computes_in_f32() {
    for dtype in [DType::F16, DType::BF16] {
        let mut g = Gen::new(5);
        let a = Nd::new(&[3, 8], g.ints(24, 4)).rounded(dtype);
        let b = Nd::new(&[8, 2], g.ints(16, 4)).rounded(dtype);
        let y = a.tensor(dtype).matmul(&b.tensor(dtype)).unwrap();
        assert_eq!(y.dtype(), dtype);
        // Small integers: every partial sum is exact in f32 and the results fit the format.
        close_nd(&y, &naive_matmul(&a, &b), 0.0, 0.0).unwrap();
    }
}

/// Speed sanity: a 512×512 f32 product runs (no timing asserts); spot-check some entries.
#[test]
fn matmul_512_f32_runs() {
    let n = 512;
    let a = Tensor::rand_uniform(&[n, n], -1.0, 1.0, 1, DType::F32).unwrap();
    let b = Tensor::rand_uniform(&[n, n], -1.0, 1.0, 2, DType::F32).unwrap();
    let y = a.matmul(&b).unwrap();
    assert_eq!(y.shape(), &[n, n]);
    let (av, bv, yv) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap(), y.to_vec_f64().unwrap());
    let mut g = Gen::new(3);
    for _ in 0..32 {
        let (i, j) = (g.below(n), g.below(n));
        let want: f64 = (0..n).map(|p| av[i * n + p] * bv[p * n + j]).sum();
        assert!((yv[i * n + j] - want).abs() < 2e-6 * n as f64, "y[{i}, {j}] = {} vs {want}", yv[i * n + j]);
    }
}
