//! Results must not depend on the number of threads: random numbers, a matmul, a conv2d and
//! group norm are bit-identical in 1- and 2-thread rayon pools (and the global pool).
use tensor::{Conv2dParams, DType, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec_f64().unwrap().iter().map(|v| v.to_bits()).collect()
}

/// Runs `f` in a fresh pool of each size and in the global pool; all results must be identical.
fn same_in_all_pools(what: &str, f: impl Fn() -> Vec<u64> + Send + Sync) {
    let global = f();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got = pool.install(&f);
        assert_eq!(got.len(), global.len(), "{what}");
        let diff = got.iter().zip(&global).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{what}: {diff} elements differ between {threads} threads and the global pool");
    }
}

#[test]
fn randn_is_thread_count_independent() {
    same_in_all_pools("randn", || {
        let mut r = tensor::Rng::new(17);
        let mut out = bits(&r.normal(&[300_001], 0.5, 2.0, DType::F32).unwrap());
        out.extend(bits(&r.uniform(&[70_000], -1.0, 1.0, DType::F64).unwrap()));
        out.extend(bits(&r.bernoulli(&[50_000], 0.25, DType::U8).unwrap()));
        out
    });
}

#[test]
fn matmul_300_is_thread_count_independent() {
    let a = Tensor::randn(&[300, 300], 0.0, 1.0, 1, DType::F32).unwrap();
    let b = Tensor::randn(&[300, 300], 0.0, 1.0, 2, DType::F32).unwrap();
    let b64 = b.to_dtype(DType::F64).unwrap();
    same_in_all_pools("matmul", || {
        let mut out = bits(&a.matmul(&b).unwrap());
        out.extend(bits(&a.to_dtype(DType::F64).unwrap().matmul(&b64.transpose(0, 1).unwrap()).unwrap()));
        // batched with broadcasting
        out.extend(bits(&a.reshape(&[3, 100, 300]).unwrap().matmul(&b).unwrap()));
        out
    });
}

#[test]
fn conv2d_is_thread_count_independent() {
    let x = Tensor::randn(&[4, 6, 33, 29], 0.0, 1.0, 3, DType::F32).unwrap();
    let w = Tensor::randn(&[8, 3, 3, 3], 0.0, 1.0, 4, DType::F32).unwrap();
    let p = Conv2dParams { stride: (2, 1), padding: (1, 1), dilation: (1, 2), groups: 2, output_padding: (0, 0) };
    let wt = Tensor::randn(&[6, 4, 3, 3], 0.0, 1.0, 5, DType::F32).unwrap();
    let pt = Conv2dParams { stride: (2, 2), padding: (1, 1), output_padding: (1, 0), ..Default::default() };
    same_in_all_pools("conv2d", || {
        let mut out = bits(&x.conv2d(&w, &p).unwrap());
        out.extend(bits(&x.conv_transpose2d(&wt, &pt).unwrap()));
        out
    });
}

#[test]
fn group_norm_is_thread_count_independent() {
    let x = Tensor::randn(&[3, 12, 40, 40], 1.0, 3.0, 6, DType::F32).unwrap();
    let gamma = Tensor::randn(&[12], 1.0, 0.1, 7, DType::F32).unwrap();
    let beta = Tensor::randn(&[12], 0.0, 0.1, 8, DType::F32).unwrap();
    same_in_all_pools("group_norm", || {
        let (y, st) = x.group_norm(4, Some(&gamma), Some(&beta), 1e-5).unwrap();
        let mut out = bits(&y);
        out.extend(bits(&st.mean));
        out.extend(bits(&st.rstd));
        let (ln, _) = x.reshape(&[36, 1600]).unwrap().layer_norm(&[1600], None, None, 1e-5).unwrap();
        out.extend(bits(&ln));
        out.extend(bits(&x.sum(&[0, 2, 3], false).unwrap()));
        out
    });
}
