//! cat / stack / index_select / gather / scatter_add / index_add / where_cond / masked_fill / pad /
//! one_hot / slice_scatter: hand-checked small cases, plus gather and scatter_add against a naive
//! loop on random shapes.
mod common;

use common::{close_nd, numel, unravel, with_layout, Gen, Nd};
use proptest::prelude::*;
use tensor::{DType, Tensor};

fn f64s(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape).unwrap()
}

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape).unwrap()
}

#[test]
fn cat_and_stack() {
    let a = f64s(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = f64s(&[5.0, 6.0], &[2, 1]);
    let c = Tensor::cat(&[&a, &b], 1).unwrap();
    assert_eq!(c.shape(), &[2, 3]);
    assert_eq!(c.to_vec::<f64>().unwrap(), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    let r = f64s(&[7.0, 8.0], &[1, 2]);
    let c = Tensor::cat(&[&a, &r, &a], -2).unwrap();
    assert_eq!(c.shape(), &[5, 2]);
    assert_eq!(c.to_vec::<f64>().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 7.0, 8.0, 1.0, 2.0, 3.0, 4.0]);
    // Non-contiguous inputs are read in logical order.
    let at = a.transpose(0, 1).unwrap();
    assert_eq!(Tensor::cat(&[&at, &b], 1).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    let (x, y) = (f64s(&[1.0, 2.0], &[2]), f64s(&[3.0, 4.0], &[2]));
    let s0 = Tensor::stack(&[&x, &y], 0).unwrap();
    assert_eq!((s0.shape(), s0.to_vec::<f64>().unwrap()), (&[2, 2][..], vec![1.0, 2.0, 3.0, 4.0]));
    let s1 = Tensor::stack(&[&x, &y], -1).unwrap();
    assert_eq!((s1.shape(), s1.to_vec::<f64>().unwrap()), (&[2, 2][..], vec![1.0, 3.0, 2.0, 4.0]));
    let u = Tensor::cat(&[&idx(&[1, 2], &[2]), &idx(&[3], &[1])], 0).unwrap();
    assert_eq!(u.to_vec::<i64>().unwrap(), vec![1, 2, 3]);
}

#[test]
fn index_select_by_hand() {
    let x = f64s(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]);
    let y = x.index_select(0, &idx(&[2, 0, 2], &[3])).unwrap();
    assert_eq!((y.shape(), y.to_vec::<f64>().unwrap()), (&[3, 2][..], vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]));
    let y = x.index_select(-1, &idx(&[1], &[1])).unwrap();
    assert_eq!((y.shape(), y.to_vec::<f64>().unwrap()), (&[3, 1][..], vec![1.0, 3.0, 5.0]));
    // On a transposed view: xᵀ = [[0, 2, 4], [1, 3, 5]].
    let y = x.transpose(0, 1).unwrap().index_select(1, &idx(&[2, 1], &[2])).unwrap();
    assert_eq!(y.to_vec::<f64>().unwrap(), vec![4.0, 2.0, 5.0, 3.0]);
    let e = x.index_select(0, &idx(&[], &[0])).unwrap();
    assert_eq!(e.shape(), &[0, 2]);
}

#[test]
fn gather_scatter_add_index_add_by_hand() {
    // torch.gather docs example.
    let x = f64s(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let g = x.gather(1, &idx(&[0, 0, 1, 0], &[2, 2])).unwrap();
    assert_eq!(g.to_vec::<f64>().unwrap(), vec![1.0, 1.0, 4.0, 3.0]);
    let g = x.gather(0, &idx(&[1, 0], &[1, 2])).unwrap();
    assert_eq!((g.shape(), g.to_vec::<f64>().unwrap()), (&[1, 2][..], vec![3.0, 2.0]));
    let s = Tensor::zeros(&[3], DType::F64)
        .scatter_add(0, &idx(&[0, 1, 0, 2, 0], &[5]), &f64s(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5]))
        .unwrap();
    assert_eq!(s.to_vec::<f64>().unwrap(), vec![9.0, 2.0, 4.0]);
    let base = Tensor::ones(&[2, 3], DType::F32);
    let src = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let s = base.scatter_add(1, &idx(&[0, 0, 2, 1], &[2, 2]), &src).unwrap();
    assert_eq!(s.to_vec::<f32>().unwrap(), vec![4.0, 1.0, 1.0, 1.0, 5.0, 4.0]);
    let a = Tensor::zeros(&[3, 2], DType::F64)
        .index_add(0, &idx(&[2, 0, 2], &[3]), &f64s(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0], &[3, 2]))
        .unwrap();
    assert_eq!(a.to_vec::<f64>().unwrap(), vec![2.0, 2.0, 0.0, 0.0, 4.0, 4.0]);
    let a = Tensor::zeros(&[2, 3], DType::F64)
        .index_add(1, &idx(&[1, 1], &[2]), &f64s(&[1.0, 2.0, 3.0, 4.0], &[2, 2]))
        .unwrap();
    assert_eq!(a.to_vec::<f64>().unwrap(), vec![0.0, 3.0, 0.0, 0.0, 7.0, 0.0]);
    // The input is not modified.
    assert_eq!(base.to_vec::<f32>().unwrap(), vec![1.0; 6]);
}

#[test]
fn where_and_masked_fill_by_hand() {
    let mask = Tensor::from_vec(vec![1u8, 0], &[2, 1]).unwrap();
    let t = f64s(&[1.0, 2.0, 3.0], &[3]);
    let f = Tensor::scalar(0.0, DType::F64);
    let w = Tensor::where_cond(&mask, &t, &f).unwrap();
    assert_eq!((w.shape(), w.to_vec::<f64>().unwrap()), (&[2, 3][..], vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0]));
    let x = Tensor::from_vec(vec![1i64, 2, 3, 4], &[4]).unwrap();
    let m = Tensor::from_vec(vec![0u8, 1, 0, 1], &[4]).unwrap();
    assert_eq!(x.masked_fill(&m, 9.0).unwrap().to_vec::<i64>().unwrap(), vec![1, 9, 3, 9]);
    // Operands that are views (transposed, narrowed) are read in logical order.
    let xs = f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).transpose(0, 1).unwrap();
    let m = Tensor::from_vec(vec![1u8, 0, 0, 1, 1, 0], &[3, 2]).unwrap();
    let n = f64s(&[0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0], &[4, 2]).narrow(0, 1, 3).unwrap();
    assert_eq!(
        Tensor::where_cond(&m, &xs, &n).unwrap().to_vec::<f64>().unwrap(),
        vec![1.0, -3.0, -4.0, 5.0, 3.0, -7.0]
    );
}

#[test]
fn pad_one_hot_slice_scatter_by_hand() {
    let x = f64s(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let p = x.pad(&[(1, 0), (0, 2)], -1.0).unwrap();
    assert_eq!(p.shape(), &[3, 4]);
    #[rustfmt::skip]
    let want = vec![-1.0, -1.0, -1.0, -1.0,
                    1.0, 2.0, -1.0, -1.0,
                    3.0, 4.0, -1.0, -1.0];
    assert_eq!(p.to_vec::<f64>().unwrap(), want);
    let p = x.transpose(0, 1).unwrap().pad(&[(0, 0), (1, 1)], 0.0).unwrap();
    assert_eq!(p.to_vec::<f64>().unwrap(), vec![0.0, 1.0, 3.0, 0.0, 0.0, 2.0, 4.0, 0.0]);
    let pi = idx(&[5], &[1]).pad(&[(2, 1)], 7.0).unwrap();
    assert_eq!(pi.to_vec::<i64>().unwrap(), vec![7, 7, 5, 7]);

    let oh = Tensor::one_hot(&idx(&[2, 0, 1], &[3]), 3, DType::F32).unwrap();
    assert_eq!((oh.shape(), oh.dtype()), (&[3, 3][..], DType::F32));
    assert_eq!(oh.to_vec::<f32>().unwrap(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let oh = Tensor::one_hot(&idx(&[1, 0, 3, 3], &[2, 2]), 4, DType::U8).unwrap();
    assert_eq!(oh.shape(), &[2, 2, 4]);
    assert_eq!(oh.to_vec::<u8>().unwrap(), vec![0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);

    let base = Tensor::zeros(&[5], DType::F64);
    let s = base.slice_scatter(&f64s(&[1.0, 2.0], &[2]), 0, 1, 3).unwrap();
    assert_eq!(s.to_vec::<f64>().unwrap(), vec![0.0, 1.0, 0.0, 0.0, 2.0]);
    assert_eq!(base.to_vec::<f64>().unwrap(), vec![0.0; 5], "the input is not modified");
    let base = f64s(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3]);
    let s = base.slice_scatter(&f64s(&[9.0, 8.0], &[2, 1]), 1, 2, 1).unwrap();
    assert_eq!(s.to_vec::<f64>().unwrap(), vec![0.0, 1.0, 9.0, 3.0, 4.0, 8.0]);
    // slice_scatter undoes a strided slice: scatter(x.slice(..)) over x is x.
    let x = f64s(&(0..12).map(|v| v as f64).collect::<Vec<_>>(), &[3, 4]);
    let sl = x.slice(1, 1, 4, 2).unwrap();
    assert_eq!(x.slice_scatter(&sl, 1, 1, 2).unwrap().to_vec::<f64>().unwrap(), x.to_vec::<f64>().unwrap());
}

/// `slice_add_owned` is `self + zeros.slice_scatter(src)`, whether `self` owns its buffer (added
/// in place), shares it with another tensor (which must not change) or is a view; f32 and f64.
#[test]
fn slice_add_owned_equals_the_full_add() {
    let v = |t: &Tensor| t.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap();
    let src = f64s(&[0.5, -1.5, 2.25, 4.0, -0.125, 8.0], &[3, 2]);
    for dtype in [DType::F64, DType::F32] {
        let src = src.to_dtype(dtype).unwrap();
        let x = f64s(&(0..15).map(|v| v as f64 * 0.75 - 3.0).collect::<Vec<_>>(), &[3, 5]).to_dtype(dtype).unwrap();
        let want = v(&x.add(&x.zeros_like().unwrap().slice_scatter(&src, 1, 1, 3).unwrap()).unwrap());
        // Owned: a fresh copy nobody else holds.
        let owned = x.copy().unwrap().slice_add_owned(&src, 1, 1, 3).unwrap();
        assert_eq!(v(&owned), want);
        // Shared: `x` itself must come out unchanged.
        let before = v(&x);
        let shared = x.clone().slice_add_owned(&src, 1, 1, 3).unwrap();
        assert_eq!(v(&shared), want);
        assert_eq!(v(&x), before, "a shared input is not modified");
        // A transposed view (not contiguous).
        let xt = x.transpose(0, 1).unwrap();
        let src_t = src.transpose(0, 1).unwrap();
        let got = xt.clone().slice_add_owned(&src_t, 0, 1, 3).unwrap();
        let want_t = xt.add(&xt.zeros_like().unwrap().slice_scatter(&src_t, 0, 1, 3).unwrap()).unwrap();
        assert_eq!(v(&got), v(&want_t));
    }
    // A wrong shape is an error, as for slice_scatter.
    assert!(f64s(&[0.0; 6], &[2, 3]).slice_add_owned(&f64s(&[1.0; 4], &[2, 2]), 1, 2, 1).is_err());
    // Other dtypes take the generic path: integers cannot be added, as with `add`.
    assert!(idx(&[1, 2, 3, 4], &[4]).slice_add_owned(&idx(&[10, 20], &[2]), 0, 0, 2).is_err());
}

proptest! {
    #![proptest_config(common::config(128))]

    /// `gather` reads `x[.., idx[.., j, ..], ..]` and `scatter_add` adds `src` at the same places.
    #[test]
    fn gather_and_scatter_add_match_naive(shape in prop::collection::vec(1usize..=4, 1..=3), seed in any::<u64>(), mode in 0u8..4) {
        let mut g = Gen::new(seed);
        let r = shape.len();
        let d = g.below(r);
        // The index may be smaller than x in every dim and any size along `d`.
        let ishape: Vec<usize> = (0..r).map(|k| if k == d { 1 + g.below(5) } else { 1 + g.below(shape[k]) }).collect();
        let ix: Vec<i64> = (0..numel(&ishape)).map(|_| g.below(shape[d]) as i64).collect();
        let x = Nd::random(&shape, &mut g);
        let tx = with_layout(&x, DType::F64, mode, &mut g);
        let ti = idx(&ix, &ishape);
        let pos = |i: usize| {
            let mut p = unravel(i, &ishape);
            p[d] = ix[i] as usize;
            p
        };
        let got = tx.gather(d as isize, &ti).unwrap();
        let want = Nd::new(&ishape, (0..ix.len()).map(|i| x.at(&pos(i))).collect());
        close_nd(&got, &want, 0.0, 0.0)?;

        let src = Nd::random(&ishape, &mut g);
        let got = tx.scatter_add(d as isize, &ti, &src.tensor(DType::F64)).unwrap();
        let mut want = x.clone();
        for (i, &v) in src.data.iter().enumerate() {
            let o = common::ravel(&pos(i), &shape);
            want.data[o] += v;
        }
        close_nd(&got, &want, 1e-12, 1e-12)?;
    }
}
