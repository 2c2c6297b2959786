//! The nn kernels (GEMM plain and tensor-core, im2col/col2im, pooling, softmax) on a GPU, once
//! with each committed PTX variant (sm_80 and sm_90), against the CPU kernels. Skipped without
//! a GPU. GEMM inputs are multiples of 1/4 in [-2, 2], exact in TF32, bf16 and f16, so every
//! kernel (tensor cores included) must reproduce the reference bit for bit.
#![cfg(feature = "cuda")]
use kernels::conv::Conv2dGeom;
use kernels::cuda::conv::{self, ColLayout, ConvDims};
use kernels::cuda::gemm::{self, GemmSpec, MatLayout, Precision};
use kernels::cuda::pool::{self, PoolDims};
use kernels::cuda::{softmax, GpuDevice};
use kernels::cuda_or_skip;
use kernels::gemm::{gemm_reference, MatRef};
use kernels::pool::Pool2dGeom;
use kernels::ptx::{PtxArch, CONV, GEMM, GEMM_TC, POOL, SOFTMAX};
use std::sync::Arc;

/// GPU 0 once per PTX variant.
fn variants() -> Vec<Arc<GpuDevice>> {
    PtxArch::ALL.iter().map(|&a| GpuDevice::get_with_arch(0, Some(a)).unwrap()).collect()
}

/// Deterministic multiples of 1/4 in [-2, 2].
fn quarters(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7 + seed * 13) % 17) as f32 * 0.25 - 2.0).collect()
}

/// The bits of an f32 that is exactly a bf16 / an f16 (normal or zero), for half inputs.
fn bf16_bits(v: f32) -> u16 {
    (v.to_bits() >> 16) as u16
}
fn f16_bits(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let b = v.to_bits();
    let (sign, exp, man) = ((b >> 16) & 0x8000, ((b >> 23) & 0xff) as i32 - 127 + 15, (b >> 13) & 0x3ff);
    (sign | ((exp as u32) << 10) | man) as u16
}

#[test]
fn every_nn_kernel_loads_from_both_ptx_variants() {
    let _dev = cuda_or_skip!();
    let mut names: Vec<(&kernels::ptx::PtxModule, String)> = Vec::new();
    for t in ["f32", "f64"] {
        names.push((&GEMM, format!("gemm_{t}")));
        for k in ["im2col", "col2im"] {
            names.push((&CONV, format!("{k}_{t}")));
        }
        for k in ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"] {
            names.push((&POOL, format!("{k}_{t}")));
        }
        for k in ["softmax", "softmax_backward"] {
            names.push((&SOFTMAX, format!("{k}_{t}")));
        }
    }
    for k in ["tf32", "bf16_of_f32", "bf16", "f16_of_f32", "f16"] {
        names.push((&GEMM_TC, format!("gemm_tc_{k}")));
    }
    for dev in variants() {
        for (m, k) in &names {
            dev.function(m, k).unwrap_or_else(|e| panic!("{:?} {}/{k}: {e}", dev.arch(), m.name));
        }
    }
}

/// `batch` items: A `[m, k]` per item (row-major), B one transposed `[k, n]` broadcast to all.
fn spec(batch: usize, m: usize, n: usize, k: usize, accumulate: bool) -> GemmSpec {
    GemmSpec {
        batch,
        m,
        n,
        k,
        a: MatLayout::batched(&[batch], &[m * k], 1, k, 1).unwrap(),
        b: MatLayout::batched(&[batch], &[0], 2, 1, k).unwrap(),
        c: MatLayout::batched(&[batch], &[m * n], 0, n, 1).unwrap(),
        accumulate,
    }
}

fn reference(s: &GemmSpec, a: &[f32], b: &[f32], c0: &[f32]) -> Vec<f32> {
    let mut c = c0.to_vec();
    for z in 0..s.batch {
        let am = MatRef { data: a, offset: 1 + z * s.m * s.k, row_stride: s.k, col_stride: 1 };
        let bm = MatRef { data: b, offset: 2, row_stride: 1, col_stride: s.k };
        gemm_reference(s.m, s.n, s.k, am, bm, &mut c[z * s.m * s.n..(z + 1) * s.m * s.n], s.accumulate);
    }
    c
}

#[test]
fn gemm_kernels_reproduce_the_reference_on_both_targets() {
    let _dev = cuda_or_skip!();
    for dev in variants() {
        let st = dev.stream();
        for &(batch, m, n, k) in &[(3, 37, 70, 45), (1, 130, 129, 300), (2, 1, 1, 1), (1, 64, 64, 0)] {
            for accumulate in [false, true] {
                let s = spec(batch, m, n, k, accumulate);
                let (a, b) = (quarters(1 + batch * m * k, 1), quarters(2 + k * n, 2));
                let c0 = quarters(batch * m * n, 3);
                let want = reference(&s, &a, &b, &c0);
                let what = |p: &str| format!("{:?} {p} batch {batch} {m}x{n}x{k} acc {accumulate}", dev.arch());
                let (ga, gb) = (st.clone_htod(&a).unwrap(), st.clone_htod(&b).unwrap());
                for prec in [Precision::F32, Precision::Tf32, Precision::Bf16, Precision::F16] {
                    let mut gc = st.clone_htod(&c0).unwrap();
                    gemm::gemm_f32(&dev, prec, &s, &ga, &gb, &mut gc).unwrap();
                    assert_eq!(st.clone_dtoh(&gc).unwrap(), want, "{}", what(&format!("{prec:?}")));
                }
                for (prec, bits) in [(Precision::Bf16, bf16_bits as fn(f32) -> u16), (Precision::F16, f16_bits)] {
                    let ha = st.clone_htod(&a.iter().map(|&v| bits(v)).collect::<Vec<u16>>()).unwrap();
                    let hb = st.clone_htod(&b.iter().map(|&v| bits(v)).collect::<Vec<u16>>()).unwrap();
                    let mut gc = st.clone_htod(&c0).unwrap();
                    gemm::gemm_half(&dev, prec, &s, &ha, &hb, &mut gc).unwrap();
                    assert_eq!(st.clone_dtoh(&gc).unwrap(), want, "{}", what(&format!("{prec:?} bits")));
                }
                let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
                let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
                let mut gc = st.clone_htod(&c0.iter().map(|&v| v as f64).collect::<Vec<_>>()).unwrap();
                gemm::gemm(&dev, &s, &st.clone_htod(&a64).unwrap(), &st.clone_htod(&b64).unwrap(), &mut gc).unwrap();
                let got: Vec<f32> = st.clone_dtoh(&gc).unwrap().iter().map(|&v| v as f32).collect();
                assert_eq!(got, want, "{}", what("f64"));
            }
        }
    }
}

#[test]
fn im2col_col2im_pool_and_softmax_match_the_cpu_on_both_targets() {
    let _dev = cuda_or_skip!();
    let g = Conv2dGeom {
        n: 2,
        c_in: 3,
        h: 7,
        w: 6,
        c_out: 4,
        kh: 3,
        kw: 2,
        stride: (2, 1),
        padding: (1, 1),
        dilation: (1, 2),
        groups: 1,
    };
    let d = ConvDims::new(&g).unwrap();
    let img = g.c_in * g.h * g.w;
    let x = quarters(g.n * img, 4);
    let cols_len = g.col_rows() * g.col_cols();
    for dev in variants() {
        let st = dev.stream();
        let gx = st.clone_htod(&x).unwrap();
        // im2col of both images, image-major, against the CPU unrolling of each image
        let mut cols = st.alloc_zeros::<f32>(g.n * cols_len).unwrap();
        conv::im2col(&dev, &d, &gx.as_view(), &mut cols, &ColLayout::image_major(&d, g.n)).unwrap();
        let mut want = vec![0.0f32; g.n * cols_len];
        for (i, c) in want.chunks_exact_mut(cols_len).enumerate() {
            kernels::conv::im2col(&g, &x[i * img..(i + 1) * img], c);
        }
        assert_eq!(st.clone_dtoh(&cols).unwrap(), want, "{:?} im2col", dev.arch());
        // col2im of those columns against the CPU adjoint
        let mut dx = st.alloc_zeros::<f32>(g.n * img).unwrap();
        conv::col2im(&dev, &d, &cols, &mut dx.as_view_mut(), &ColLayout::image_major(&d, g.n)).unwrap();
        let mut want_dx = vec![0.0f32; g.n * img];
        for (i, o) in want_dx.chunks_exact_mut(img).enumerate() {
            kernels::conv::col2im(&g, &want[i * cols_len..(i + 1) * cols_len], o);
        }
        assert_eq!(st.clone_dtoh(&dx).unwrap(), want_dx, "{:?} col2im", dev.arch());

        // pooling, forward and backward, exactly like the CPU
        let pg = Pool2dGeom { n: 2, c: 3, h: 7, w: 6, kh: 3, kw: 2, stride: (2, 2), padding: (1, 1) };
        let pd = PoolDims::new(&pg).unwrap();
        let out = pd.output_len();
        let (mut y, mut arg) = (st.alloc_zeros::<f32>(out).unwrap(), st.alloc_zeros::<i64>(out).unwrap());
        pool::max_pool2d(&dev, &pd, &gx.as_view(), &mut y, &mut arg).unwrap();
        let (mut cy, mut carg) = (vec![0.0f32; out], vec![0usize; out]);
        kernels::pool::max_pool2d_forward(&pg, &x, &mut cy, &mut carg);
        assert_eq!(st.clone_dtoh(&y).unwrap(), cy, "{:?} max_pool2d", dev.arch());
        let carg64: Vec<i64> = carg.iter().map(|&a| a as i64).collect();
        assert_eq!(st.clone_dtoh(&arg).unwrap(), carg64, "{:?} argmax", dev.arch());
        let dy = quarters(out, 5);
        let gdy = st.clone_htod(&dy).unwrap();
        let mut gdx = st.alloc_zeros::<f32>(pd.input_len()).unwrap();
        pool::max_pool2d_backward(&dev, &pd, &gdy.as_view(), &arg.as_view(), &mut gdx).unwrap();
        let mut cdx = vec![0.0f32; pd.input_len()];
        kernels::pool::max_pool2d_backward(&pg, &dy, &carg, &mut cdx);
        assert_eq!(st.clone_dtoh(&gdx).unwrap(), cdx, "{:?} max_pool2d_backward", dev.arch());
        pool::avg_pool2d(&dev, &pd, &gx.as_view(), &mut y).unwrap();
        kernels::pool::avg_pool2d_forward(&pg, &x, &mut cy);
        assert_eq!(st.clone_dtoh(&y).unwrap(), cy, "{:?} avg_pool2d", dev.arch());
        pool::avg_pool2d_backward(&dev, &pd, &gdy.as_view(), &mut gdx).unwrap();
        kernels::pool::avg_pool2d_backward(&pg, &dy, &mut cdx);
        assert_eq!(st.clone_dtoh(&gdx).unwrap(), cdx, "{:?} avg_pool2d_backward", dev.arch());

        // softmax rows (f64: the CPU uses the exact exp there)
        let (rows, len) = (5, 300);
        let xs: Vec<f64> = quarters(rows * len, 6).iter().map(|&v| v as f64 * 3.0).collect();
        let gxs = st.clone_htod(&xs).unwrap();
        for log in [false, true] {
            let mut gy = st.alloc_zeros::<f64>(rows * len).unwrap();
            softmax::softmax_rows(&dev, &gxs.as_view(), &mut gy, rows, len, log).unwrap();
            let mut cy = vec![0.0f64; rows * len];
            if log {
                kernels::softmax::log_softmax_rows(&xs, rows, len, &mut cy);
            } else {
                kernels::softmax::softmax_rows(&xs, rows, len, &mut cy);
            }
            let got = st.clone_dtoh(&gy).unwrap();
            for (i, (a, b)) in got.iter().zip(&cy).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-13 + 1e-12 * b.abs(),
                    "{:?} softmax log={log} [{i}]: {a} vs {b}",
                    dev.arch()
                );
            }
            let mut gdx = st.alloc_zeros::<f64>(rows * len).unwrap();
            softmax::softmax_rows_backward(&dev, &gy.as_view(), &gxs.as_view(), &mut gdx, rows, len, log).unwrap();
            let mut cdx = vec![0.0f64; rows * len];
            if log {
                kernels::softmax::log_softmax_rows_backward(&cy, &xs, rows, len, &mut cdx);
            } else {
                kernels::softmax::softmax_rows_backward(&cy, &xs, rows, len, &mut cdx);
            }
            let got = st.clone_dtoh(&gdx).unwrap();
            for (i, (a, b)) in got.iter().zip(&cdx).enumerate() {
                assert!((a - b).abs() <= 1e-12 + 1e-10 * b.abs(), "{:?} softmax backward log={log} [{i}]", dev.arch());
            }
        }
    }
}
