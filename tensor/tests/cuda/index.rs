//! cat / stack / index_select / gather / scatter_add / index_add / pad / slice_scatter / one_hot
//! on a GPU against the CPU, for every dtype, contiguous and non-contiguous inputs and indices.
//! These ops move or add values in the CPU's order, so the results must be identical (tolerance
//! 0). Skipped (with the reason printed) on a machine without a GPU.
use crate::common::*;
use tensor::{DType, Tensor};

const ALL: [DType; 6] = [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::U8];
const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];

/// A reproducible tensor of any dtype (values −30..30 before the cast).
fn data(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    rnd(shape, seed, DType::F64).affine(10.0, 0.0).unwrap().to_dtype(dtype).unwrap()
}

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn same(what: &str, g: &Tensor, c: &Tensor) {
    assert_close(what, g, c, 0.0, 0.0);
}

#[test]
fn cat_and_stack_match_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in ALL {
        let (a, b, c) = (data(&[2, 3, 4], 1, dtype), data(&[2, 5, 4], 2, dtype), data(&[2, 1, 4], 3, dtype));
        let (ag, bg, cg) = (gpu(&a), gpu(&b), gpu(&c));
        same(
            &format!("cat dim 1 {dtype:?}"),
            &Tensor::cat(&[&ag, &bg, &cg], 1).unwrap(),
            &Tensor::cat(&[&a, &b, &c], 1).unwrap(),
        );
        // Non-contiguous parts: transposed views, along the first and the last dim.
        let (at, bt) = (a.transpose(0, 2).unwrap(), data(&[4, 3, 7], 4, dtype));
        let (atg, btg) = (gpu(&a).transpose(0, 2).unwrap(), gpu(&bt));
        same(
            &format!("cat dim 2 views {dtype:?}"),
            &Tensor::cat(&[&atg, &btg], 2).unwrap(),
            &Tensor::cat(&[&at, &bt], 2).unwrap(),
        );
        let (ct, dt) = (data(&[3, 4], 5, dtype), data(&[4, 3], 6, dtype).transpose(0, 1).unwrap());
        let (ctg, dtg) = (gpu(&ct), gpu(&data(&[4, 3], 6, dtype)).transpose(0, 1).unwrap());
        same(
            &format!("cat dim 0 views {dtype:?}"),
            &Tensor::cat(&[&ctg, &dtg, &ctg], 0).unwrap(),
            &Tensor::cat(&[&ct, &dt, &ct], 0).unwrap(),
        );
        // A long part (more than one block of threads).
        let l = data(&[1025, 4], 8, dtype);
        same(
            &format!("cat long {dtype:?}"),
            &Tensor::cat(&[&gpu(&ct), &gpu(&l)], 0).unwrap(),
            &Tensor::cat(&[&ct, &l], 0).unwrap(),
        );
        for dim in [0, 1, -1] {
            let want = Tensor::stack(&[&ct, &dt], dim).unwrap();
            same(&format!("stack {dim} {dtype:?}"), &Tensor::stack(&[&ctg, &dtg], dim).unwrap(), &want);
        }
    }
}

#[test]
fn index_select_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let ix = idx(&[4, 0, 4, 2, 1, 1, 0], &[7]);
    for dtype in ALL {
        let x = data(&[5, 6, 5], 10, dtype);
        for (name, xc, xg) in layouts(&x) {
            for dim in [0, 1, 2] {
                let what = format!("index_select {dtype:?} {name} dim {dim}");
                same(&what, &xg.index_select(dim, &gpu(&ix)).unwrap(), &xc.index_select(dim, &ix).unwrap());
            }
        }
        // Indices as a stepped view on the GPU; a long index list.
        let sv = |t: &Tensor| t.slice(0, 1, 7, 2).unwrap();
        same(
            "index_select stepped idx",
            &gpu(&x).index_select(1, &sv(&gpu(&ix))).unwrap(),
            &x.index_select(1, &sv(&ix)).unwrap(),
        );
        let long = idx(&(0..2000).map(|i| (i * 7) % 5).collect::<Vec<_>>(), &[2000]);
        same("index_select long", &gpu(&x).index_select(2, &gpu(&long)).unwrap(), &x.index_select(2, &long).unwrap());
    }
}

#[test]
fn gather_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in ALL {
        let x = data(&[4, 6], 20, dtype);
        let i1 = idx(&[5, 0, 0, 1, 2, 3, 4, 5, 5, 5, 1, 0], &[4, 3]);
        for (name, xc, xg) in layouts(&x) {
            same(
                &format!("gather dim 1 {dtype:?} {name}"),
                &xg.gather(1, &gpu(&i1)).unwrap(),
                &xc.gather(1, &i1).unwrap(),
            );
        }
        let i0 = idx(&[3, 0, 2, 1, 1, 1, 0, 3], &[2, 4]);
        same(&format!("gather dim 0 {dtype:?}"), &gpu(&x).gather(0, &gpu(&i0)).unwrap(), &x.gather(0, &i0).unwrap());
        // 3-D, smaller index along the other dims, index itself a transposed view.
        let x3 = data(&[3, 4, 5], 21, dtype);
        let i3 = idx(&(0..30).map(|i| (i * 3) % 4).collect::<Vec<_>>(), &[5, 3, 2]).permute(&[1, 2, 0]).unwrap();
        let i3g = gpu(&idx(&(0..30).map(|i| (i * 3) % 4).collect::<Vec<_>>(), &[5, 3, 2])).permute(&[1, 2, 0]).unwrap();
        for (name, xc, xg) in layouts(&x3) {
            same(&format!("gather 3-D {dtype:?} {name}"), &xg.gather(1, &i3g).unwrap(), &xc.gather(1, &i3).unwrap());
        }
    }
}

#[test]
fn scatter_add_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in FLOATS {
        let base = data(&[4, 6], 30, dtype);
        let i1 = idx(&[1, 1, 0, 3, 2, 2, 5, 5, 5, 0, 0, 0], &[4, 3]);
        let src = data(&[4, 3], 31, dtype);
        for (name, bc, bg) in layouts(&base) {
            let want = bc.scatter_add(1, &i1, &src).unwrap();
            same(
                &format!("scatter_add dim 1 {dtype:?} {name}"),
                &bg.scatter_add(1, &gpu(&i1), &gpu(&src)).unwrap(),
                &want,
            );
        }
        let i0 = idx(&[1, 0, 1, 3, 3, 3], &[2, 3]);
        let s0 = data(&[2, 3], 32, dtype);
        let (s0t, s0tg) = (
            s0.transpose(0, 1).unwrap().contiguous().unwrap(),
            gpu(&s0.transpose(0, 1).unwrap().contiguous().unwrap()),
        );
        let (s0v, s0vg) = (s0t.transpose(0, 1).unwrap(), s0tg.transpose(0, 1).unwrap()); // a transposed src view
        let want = base.scatter_add(0, &i0, &s0v).unwrap();
        same(&format!("scatter_add dim 0 {dtype:?}"), &gpu(&base).scatter_add(0, &gpu(&i0), &s0vg).unwrap(), &want);
        // gather's adjoint on a long row: many sources land on few targets.
        let (b2, s2) = (data(&[2, 7], 33, dtype), data(&[2, 1025], 34, dtype));
        let i2 = idx(&(0..2050).map(|i| (i * 5) % 7).collect::<Vec<_>>(), &[2, 1025]);
        let want = b2.scatter_add(1, &i2, &s2).unwrap();
        same(&format!("scatter_add long {dtype:?}"), &gpu(&b2).scatter_add(1, &gpu(&i2), &gpu(&s2)).unwrap(), &want);
    }
}

#[test]
fn index_add_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in FLOATS {
        let base = data(&[6, 4], 40, dtype);
        let ix = idx(&[1, 1, 3, 5, 1], &[5]);
        let src = data(&[5, 4], 41, dtype);
        for (name, bc, bg) in layouts(&base) {
            let want = bc.index_add(0, &ix, &src).unwrap();
            same(&format!("index_add dim 0 {dtype:?} {name}"), &bg.index_add(0, &gpu(&ix), &gpu(&src)).unwrap(), &want);
        }
        let i1 = idx(&[2, 0, 2], &[3]);
        let s1 = data(&[6, 3], 42, dtype);
        for (name, sc, sg) in layouts(&s1) {
            let want = base.index_add(1, &i1, &sc).unwrap();
            same(
                &format!("index_add dim 1 {dtype:?} src {name}"),
                &gpu(&base).index_add(1, &gpu(&i1), &sg).unwrap(),
                &want,
            );
        }
        // Embedding backward: zeros.index_add(0, ids, dy) with many repeated ids.
        let ids = idx(&(0..300).map(|i| (i * i) % 50).collect::<Vec<_>>(), &[300]);
        let (w, dy) = (Tensor::zeros(&[50, 8], dtype), data(&[300, 8], 43, dtype));
        same(
            &format!("index_add embedding {dtype:?}"),
            &gpu(&w).index_add(0, &gpu(&ids), &gpu(&dy)).unwrap(),
            &w.index_add(0, &ids, &dy).unwrap(),
        );
    }
}

#[test]
fn pad_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in ALL {
        let x = data(&[3, 4], 50, dtype);
        for value in [0.0, 0.5, -1.0, 7.0] {
            for (name, xc, xg) in layouts(&x) {
                let pads = [(1, 2), (0, 3)];
                same(
                    &format!("pad {dtype:?} {value} {name}"),
                    &xg.pad(&pads, value).unwrap(),
                    &xc.pad(&pads, value).unwrap(),
                );
            }
        }
        let x3 = data(&[2, 3, 4], 51, dtype).permute(&[2, 0, 1]).unwrap();
        let x3g = gpu(&data(&[2, 3, 4], 51, dtype)).permute(&[2, 0, 1]).unwrap();
        let pads = [(0, 0), (2, 1), (1, 1)];
        same(&format!("pad 3-D view {dtype:?}"), &x3g.pad(&pads, 1.0).unwrap(), &x3.pad(&pads, 1.0).unwrap());
    }
}

#[test]
fn slice_scatter_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in ALL {
        let base = data(&[6, 5], 60, dtype);
        let src0 = data(&[2, 5], 61, dtype);
        for (name, bc, bg) in layouts(&base) {
            let want = bc.slice_scatter(&src0, 0, 1, 3).unwrap();
            same(
                &format!("slice_scatter dim 0 {dtype:?} {name}"),
                &bg.slice_scatter(&gpu(&src0), 0, 1, 3).unwrap(),
                &want,
            );
        }
        let src1 = data(&[6, 3], 62, dtype);
        for (name, sc, sg) in layouts(&src1) {
            let want = base.slice_scatter(&sc, 1, 0, 2).unwrap();
            same(
                &format!("slice_scatter dim 1 {dtype:?} src {name}"),
                &gpu(&base).slice_scatter(&sg, 1, 0, 2).unwrap(),
                &want,
            );
        }
    }
}

#[test]
fn one_hot_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let ix = idx(&[0, 4, 2, 2, 1, 3], &[2, 3]);
    for dtype in ALL {
        let want = Tensor::one_hot(&ix, 5, dtype).unwrap();
        same(&format!("one_hot {dtype:?}"), &Tensor::one_hot(&gpu(&ix), 5, dtype).unwrap(), &want);
        let (tc, tg) = (ix.transpose(0, 1).unwrap(), gpu(&ix).transpose(0, 1).unwrap());
        same(
            &format!("one_hot view {dtype:?}"),
            &Tensor::one_hot(&tg, 5, dtype).unwrap(),
            &Tensor::one_hot(&tc, 5, dtype).unwrap(),
        );
    }
    let long = idx(&(0..1025).map(|i| i % 1000).collect::<Vec<_>>(), &[1025]);
    same(
        "one_hot long",
        &Tensor::one_hot(&gpu(&long), 1000, DType::F32).unwrap(),
        &Tensor::one_hot(&long, 1000, DType::F32).unwrap(),
    );
}

#[test]
fn bad_indices_give_the_cpu_errors_before_any_launch() {
    let _dev = gpu_or_skip!();
    let x = data(&[4, 6], 70, DType::F32);
    let xg = gpu(&x);
    let err = |r: tensor::Result<Tensor>| r.unwrap_err().to_string();
    let bad = idx(&[0, 6, 1], &[3]);
    assert_eq!(err(xg.index_select(1, &gpu(&bad))), err(x.index_select(1, &bad)));
    let bad2 = idx(&[0, -1, 1, 2], &[2, 2]);
    assert_eq!(err(xg.gather(1, &gpu(&bad2))), err(x.gather(1, &bad2)));
    let s = data(&[2, 2], 71, DType::F32);
    assert_eq!(err(xg.scatter_add(1, &gpu(&bad2), &gpu(&s))), err(x.scatter_add(1, &bad2, &s)));
    let s3 = data(&[4, 3], 72, DType::F32);
    assert_eq!(err(xg.index_add(1, &gpu(&bad), &gpu(&s3))), err(x.index_add(1, &bad, &s3)));
    assert_eq!(err(Tensor::one_hot(&gpu(&bad), 6, DType::F32)), err(Tensor::one_hot(&bad, 6, DType::F32)));
    // Operands on another device are an error, not a silent copy.
    assert!(xg.index_add(1, &gpu(&idx(&[0, 1, 2], &[3])), &s3).is_err());
    assert!(Tensor::cat(&[&xg, &x], 0).is_err());
    assert!(xg.slice_scatter(&data(&[4, 2], 73, DType::F32), 1, 0, 1).is_err());
}

/// Zero-element operands. Kept apart: a zero-length device buffer is the storage layer's business
/// (`CudaStorage::zeros(.., 0)`), and a failure here should not hide the cases above.
#[test]
fn empty_operands_match_the_cpu() {
    let _dev = gpu_or_skip!();
    let (x, e, l) = (data(&[5, 3], 80, DType::F32), data(&[0, 3], 81, DType::F32), data(&[2, 3], 82, DType::F32));
    same(
        "cat with an empty part",
        &Tensor::cat(&[&gpu(&e), &gpu(&l)], 0).unwrap(),
        &Tensor::cat(&[&e, &l], 0).unwrap(),
    );
    let empty = idx(&[], &[0]);
    same("index_select empty", &gpu(&x).index_select(0, &gpu(&empty)).unwrap(), &x.index_select(0, &empty).unwrap());
    let s_none = Tensor::zeros(&[5, 0], DType::F32);
    let want = x.index_add(1, &empty, &s_none).unwrap();
    same("index_add empty", &gpu(&x).index_add(1, &gpu(&empty), &gpu(&s_none)).unwrap(), &want);
}
