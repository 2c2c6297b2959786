//! Views (permute, strided slice, broadcast, unsqueeze/squeeze, flatten, reshape, transpose) on
//! random shapes, checked against a naive gather over a dense reference array, plus the storage
//! sharing rules: views share storage, `contiguous()` copies only when it has to.
mod common;

use common::{numel, Gen, Nd};
use proptest::prelude::*;
use tensor::{DType, Tensor};

/// Applies one random view op (chosen and parameterised by `code`, always valid for the current
/// shape) to the tensor and to the reference. Returns whether the result must still share the
/// base storage (false once a reshape of a non-contiguous tensor had to copy).
fn step(t: &Tensor, nd: &Nd, code: u64, shared: bool) -> (Tensor, Nd, bool, String) {
    let mut g = Gen::new(code);
    let r = nd.rank();
    let signed = |g: &mut Gen, d: usize, rank: usize| {
        if g.below(2) == 0 {
            d as isize
        } else {
            d as isize - rank as isize
        }
    };
    match g.below(8) {
        0 => {
            let p = g.perm(r);
            (t.permute(&p).unwrap(), nd.permute(&p), shared, format!("permute({p:?})"))
        }
        1 => {
            let d = g.below(r);
            let n = nd.shape[d];
            let start = g.below(n);
            let end = start + 1 + g.below(n - start + 2);
            let st = 1 + g.below(3);
            let dim = signed(&mut g, d, r);
            (
                t.slice(dim, start, end, st).unwrap(),
                nd.slice(d, start, end, st),
                shared,
                format!("slice({dim}, {start}, {end}, {st})"),
            )
        }
        2 if r < 5 && numel(&nd.shape) <= 200 => {
            let mut shape = vec![1 + g.below(3)];
            shape.extend(nd.shape.iter().map(|&d| if d == 1 { 1 + g.below(3) } else { d }));
            (t.broadcast_to(&shape).unwrap(), nd.broadcast_to(&shape), shared, format!("broadcast_to({shape:?})"))
        }
        3 if r < 5 => {
            let pos = g.below(r + 1);
            let dim = signed(&mut g, pos, r + 1);
            let mut shape = nd.shape.clone();
            shape.insert(pos, 1);
            (t.unsqueeze(dim).unwrap(), nd.reshape(&shape), shared, format!("unsqueeze({dim})"))
        }
        4 if nd.shape.contains(&1) && r > 1 => {
            let ones: Vec<usize> = (0..r).filter(|&d| nd.shape[d] == 1).collect();
            let d = ones[g.below(ones.len())];
            let dim = signed(&mut g, d, r);
            let mut shape = nd.shape.clone();
            shape.remove(d);
            (t.squeeze(dim).unwrap(), nd.reshape(&shape), shared, format!("squeeze({dim})"))
        }
        5 => {
            let s = g.below(r);
            let e = s + g.below(r - s);
            let mut shape = nd.shape[..s].to_vec();
            shape.push(numel(&nd.shape[s..=e]));
            shape.extend_from_slice(&nd.shape[e + 1..]);
            let keeps = shared && t.is_contiguous();
            let (sa, ea) = (signed(&mut g, s, r), signed(&mut g, e, r));
            (t.flatten(sa, ea).unwrap(), nd.reshape(&shape), keeps, format!("flatten({sa}, {ea})"))
        }
        6 => {
            let n = numel(&nd.shape);
            let divs: Vec<usize> = (1..=n).filter(|a| n.is_multiple_of(*a)).collect();
            let a = divs[g.below(divs.len())];
            let shape = if g.below(2) == 0 { vec![a, n / a] } else { vec![n / a, 1, a] };
            let keeps = shared && t.is_contiguous();
            (t.reshape(&shape).unwrap(), nd.reshape(&shape), keeps, format!("reshape({shape:?})"))
        }
        _ => {
            let (a, b) = (g.below(r), g.below(r));
            let (da, db) = (signed(&mut g, a, r), signed(&mut g, b, r));
            (t.transpose(da, db).unwrap(), nd.transpose(a, b), shared, format!("transpose({da}, {db})"))
        }
    }
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=5, 1..=4)
}

proptest! {
    #![proptest_config(common::config(256))]

    /// A chain of up to six random view ops reads exactly the elements a naive gather reads.
    #[test]
    fn view_chains_match_naive_gather(shape in shape_strategy(), seed in any::<u64>(), ops in prop::collection::vec(any::<u64>(), 1..=6)) {
        let mut g = Gen::new(seed);
        let base_nd = Nd::random(&shape, &mut g);
        let base = base_nd.tensor(DType::F64);
        let (mut t, mut nd, mut shared) = (base.clone(), base_nd, true);
        let mut trace = Vec::new();
        for &code in &ops {
            let (t2, nd2, sh2, what) = step(&t, &nd, code, shared);
            trace.push(what);
            (t, nd, shared) = (t2, nd2, sh2);
            prop_assert_eq!(t.shape(), nd.shape.as_slice(), "after {:?}", trace);
            prop_assert_eq!(t.elem_count(), nd.data.len());
            prop_assert_eq!(&t.to_vec_f64().unwrap(), &nd.data, "to_vec_f64 after {:?}", trace);
            // `to_vec` goes through the contiguous fast path when the layout claims contiguity.
            prop_assert_eq!(&t.to_vec::<f64>().unwrap(), &nd.data, "to_vec after {:?}", trace);
            if shared {
                prop_assert!(t.same_storage(&base), "a view copied: {:?}", trace);
            }
        }
        let c = t.contiguous().unwrap();
        prop_assert!(c.is_contiguous());
        prop_assert_eq!(c.shape(), t.shape());
        prop_assert_eq!(&c.to_vec_f64().unwrap(), &nd.data);
        prop_assert_eq!(c.same_storage(&t), t.is_contiguous(), "contiguous() copy rule, {:?}", trace);
        let cp = t.copy().unwrap();
        prop_assert!(!cp.same_storage(&t));
        prop_assert_eq!(&cp.to_vec_f64().unwrap(), &nd.data);
        // A reshape of the (possibly non-contiguous) view keeps the row-major element order.
        let flat = t.flatten_all().unwrap();
        prop_assert_eq!(flat.shape(), &[nd.data.len()][..]);
        prop_assert_eq!(&flat.to_vec_f64().unwrap(), &nd.data);
    }

    /// `is_contiguous` agrees with the definition: the storage offsets of the elements, in
    /// row-major order, are consecutive.
    #[test]
    fn is_contiguous_matches_offsets(shape in shape_strategy(), seed in any::<u64>(), ops in prop::collection::vec(any::<u64>(), 0..=4)) {
        let mut g = Gen::new(seed);
        let nd = Nd::random(&shape, &mut g);
        let mut t = nd.tensor(DType::F32);
        let mut nd = nd;
        for &code in &ops {
            let (t2, nd2, _, _) = step(&t, &nd, code, false);
            (t, nd) = (t2, nd2);
        }
        let offs = t.layout().offsets();
        let consecutive = offs.windows(2).all(|w| w[1] == w[0] + 1);
        prop_assert_eq!(t.is_contiguous(), consecutive, "shape {:?} strides {:?}", t.shape(), t.layout().strides());
    }
}

#[test]
fn views_share_storage_and_reflect_the_base() {
    let base = Tensor::from_vec((0..24).map(|v| v as f32).collect::<Vec<_>>(), &[2, 3, 4]).unwrap();
    let views = [
        base.permute(&[2, 0, 1]).unwrap(),
        base.transpose(0, -1).unwrap(),
        base.narrow(1, 1, 2).unwrap(),
        base.slice(2, 0, 4, 3).unwrap(),
        base.unsqueeze(0).unwrap(),
        base.reshape(&[6, 4]).unwrap(),
        base.flatten(0, 1).unwrap(),
        base.narrow(0, 0, 1).unwrap().squeeze(0).unwrap(),
        base.narrow(0, 1, 1).unwrap().expand(&[5, 2, 3, 4]).unwrap(),
    ];
    for v in &views {
        assert!(v.same_storage(&base), "{v:?}");
    }
    assert_eq!(
        base.slice(2, 0, 4, 3).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0, 3.0, 4.0, 7.0, 8.0, 11.0, 12.0, 15.0, 16.0, 19.0, 20.0, 23.0]
    );
    assert_eq!(
        base.narrow(1, 1, 2).unwrap().narrow(2, 3, 1).unwrap().to_vec::<f32>().unwrap(),
        vec![7.0, 11.0, 19.0, 23.0]
    );
    let c = base.contiguous().unwrap();
    assert!(c.same_storage(&base), "contiguous() of a contiguous tensor must not copy");
    let t = base.transpose(1, 2).unwrap();
    assert!(!t.is_contiguous());
    assert!(!t.contiguous().unwrap().same_storage(&base));
    // A contiguous view at an offset is still contiguous and is not copied.
    let n = base.narrow(0, 1, 1).unwrap();
    assert!(n.is_contiguous());
    assert!(n.contiguous().unwrap().same_storage(&base));
    assert_eq!(n.to_vec::<f32>().unwrap(), (12..24).map(|v| v as f32).collect::<Vec<_>>());
}

#[test]
fn slice_clamps_end_and_allows_empty_results() {
    let t = Tensor::arange(0.0, 10.0, 1.0, DType::I64).unwrap();
    assert_eq!(t.slice(0, 7, 100, 2).unwrap().to_vec::<i64>().unwrap(), vec![7, 9]);
    assert_eq!(t.slice(-1, 3, 3, 1).unwrap().shape(), &[0]);
    assert_eq!(t.slice(0, 9, 2, 1).unwrap().shape(), &[0]);
    assert_eq!(t.slice(0, 10, 12, 1).unwrap().shape(), &[0]);
    assert_eq!(t.slice(0, 0, 10, 4).unwrap().to_vec::<i64>().unwrap(), vec![0, 4, 8]);
}

#[test]
fn unsqueeze_negative_dims_follow_pytorch() {
    let t = Tensor::zeros(&[2, 3], DType::F32);
    assert_eq!(t.unsqueeze(-1).unwrap().shape(), &[2, 3, 1]);
    assert_eq!(t.unsqueeze(-3).unwrap().shape(), &[1, 2, 3]);
    assert_eq!(t.unsqueeze(1).unwrap().shape(), &[2, 1, 3]);
    assert_eq!(t.unsqueeze(2).unwrap().shape(), &[2, 3, 1]);
    assert_eq!(t.dim(-1).unwrap(), 3);
    assert_eq!(t.dims(), &[2, 3]);
}

#[test]
fn split_and_chunk_pieces_are_views() {
    let t = Tensor::arange(0.0, 14.0, 1.0, DType::F64).unwrap().reshape(&[7, 2]).unwrap();
    let parts = t.split(3, 0).unwrap();
    assert_eq!(parts.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert!(parts.iter().all(|p| p.same_storage(&t)));
    assert_eq!(parts[2].to_vec::<f64>().unwrap(), vec![12.0, 13.0]);
    // PyTorch chunk: pieces of ceil(7 / 3) = 3.
    let chunks = t.chunk(3, 0).unwrap();
    assert_eq!(chunks.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(), vec![3, 3, 1]);
    let cols = t.chunk(2, 1).unwrap();
    assert_eq!(cols.len(), 2);
    assert_eq!(cols[1].to_vec::<f64>().unwrap(), (0..7).map(|i| (2 * i + 1) as f64).collect::<Vec<_>>());
    let chunks4 = Tensor::zeros(&[6], DType::U8).chunk(4, 0).unwrap();
    assert_eq!(chunks4.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(), vec![2, 2, 2]);
}
