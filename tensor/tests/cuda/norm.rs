//! Layer/RMS/group norm and cross-entropy on a GPU against the CPU: forward (output and saved
//! statistics) and backward (dx, dgamma, dbeta / dlogits), f32 and f64 (plus f16/bf16 through
//! f32), contiguous and transposed inputs, rows shorter and longer than one block (256 threads).
//! Skipped (with the reason printed) on a machine without a GPU.
use crate::common::*;
use tensor::{DType, Tensor};

const DTYPES: [DType; 2] = [DType::F32, DType::F64];
const EPS: f64 = 1e-5;

/// Tolerances: the GPU sums in another order than the CPU (and f32 `exp` differs in the last bits).
fn tl(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-11, 1e-9),
        DType::F32 => (5e-5, 5e-4),
        _ => (2e-2, 2e-2),
    }
}

fn close(what: &str, g: &Tensor, c: &Tensor) {
    let (atol, rtol) = tl(c.dtype());
    assert_close(what, g, c, atol, rtol);
}

fn close_opt(what: &str, g: &Option<Tensor>, c: &Option<Tensor>) {
    assert_eq!(g.is_some(), c.is_some(), "{what}: presence");
    if let (Some(g), Some(c)) = (g, c) {
        close(what, g, c);
    }
}

/// The last of `layouts(t)` (transposed for rank ≥ 2): a non-contiguous parameter.
fn param_view(t: &Tensor) -> (Tensor, Tensor) {
    let (_, c, g) = layouts(t).pop().unwrap();
    (c, g)
}

#[test]
fn layer_norm_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let cases: [(&[usize], &[usize]); 7] = [
        (&[3, 1], &[1]),
        (&[4, 3], &[3]),
        (&[2, 5, 257], &[257]),
        (&[7, 1025], &[1025]),
        (&[3, 4, 6], &[4, 6]),
        (&[300, 33], &[33]),
        (&[1, 2000], &[2000]),
    ];
    for dtype in DTYPES {
        for (ci, &(shape, ns)) in cases.iter().enumerate() {
            let seed = 10 * ci as u64;
            let (x, dy) = (rnd(shape, seed, dtype), rnd(shape, seed + 1, dtype));
            let (gc, gg) = param_view(&rnd(ns, seed + 2, dtype).affine(0.5, 1.0).unwrap());
            let (bc, bg) = param_view(&rnd(ns, seed + 3, dtype));
            for affine in 0..3 {
                let (g_c, g_g) = if affine >= 1 { (Some(&gc), Some(&gg)) } else { (None, None) };
                let (b_c, b_g) = if affine == 2 { (Some(&bc), Some(&bg)) } else { (None, None) };
                for ((name, xc, xg), (_, dyc, dyg)) in layouts(&x).into_iter().zip(layouts(&dy)) {
                    let what = format!("layer_norm {dtype:?} {shape:?} affine {affine} {name}");
                    let (yc, sc) = xc.layer_norm(ns, g_c, b_c, EPS).unwrap();
                    let (yg, sg) = xg.layer_norm(ns, g_g, b_g, EPS).unwrap();
                    close(&format!("{what}: y"), &yg, &yc);
                    close(&format!("{what}: mean"), &sg.mean, &sc.mean);
                    close(&format!("{what}: rstd"), &sg.rstd, &sc.rstd);
                    let (dxc, dgc, dbc) = Tensor::layer_norm_backward(&xc, &dyc, ns, g_c, b_c.is_some(), &sc).unwrap();
                    let (dxg, dgg, dbg) = Tensor::layer_norm_backward(&xg, &dyg, ns, g_g, b_g.is_some(), &sg).unwrap();
                    close(&format!("{what}: dx"), &dxg, &dxc);
                    close_opt(&format!("{what}: dgamma"), &dgg, &dgc);
                    close_opt(&format!("{what}: dbeta"), &dbg, &dbc);
                }
            }
        }
    }
}

#[test]
fn rms_norm_matches_the_cpu() {
    let dev = gpu_or_skip!();
    let cases: [(&[usize], &[usize]); 5] =
        [(&[3, 1], &[1]), (&[5, 7], &[7]), (&[2, 3, 257], &[257]), (&[130, 1025], &[1025]), (&[2, 3, 4], &[3, 4])];
    for dtype in DTYPES {
        for (ci, &(shape, ns)) in cases.iter().enumerate() {
            let seed = 100 + 10 * ci as u64;
            let (x, dy) = (rnd(shape, seed, dtype), rnd(shape, seed + 1, dtype));
            let (gc, gg) = param_view(&rnd(ns, seed + 2, dtype));
            for affine in [false, true] {
                let (g_c, g_g) = if affine { (Some(&gc), Some(&gg)) } else { (None, None) };
                for ((name, xc, xg), (_, dyc, dyg)) in layouts(&x).into_iter().zip(layouts(&dy)) {
                    let what = format!("rms_norm {dtype:?} {shape:?} gamma {affine} {name}");
                    let (yc, sc) = xc.rms_norm(ns, g_c, EPS).unwrap();
                    let (yg, sg) = xg.rms_norm(ns, g_g, EPS).unwrap();
                    close(&format!("{what}: y"), &yg, &yc);
                    close(&format!("{what}: rstd"), &sg.rstd, &sc.rstd);
                    assert_eq!((sg.mean.shape(), sg.mean.device()), (&[0usize][..], dev), "{what}: empty mean");
                    let (dxc, dgc) = Tensor::rms_norm_backward(&xc, &dyc, ns, g_c, &sc).unwrap();
                    let (dxg, dgg) = Tensor::rms_norm_backward(&xg, &dyg, ns, g_g, &sg).unwrap();
                    close(&format!("{what}: dx"), &dxg, &dxc);
                    close_opt(&format!("{what}: dgamma"), &dgg, &dgc);
                }
            }
        }
    }
}

#[test]
fn group_norm_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    let cases: [(&[usize], usize); 7] = [
        (&[2, 6, 5], 3),
        (&[3, 4, 7, 9], 2),
        (&[2, 8, 1025], 4),
        (&[5, 3], 3),
        (&[1, 4, 17, 17], 4),
        (&[65, 2, 3], 1),
        (&[2, 32, 3, 3], 8),
    ];
    for dtype in DTYPES {
        for (ci, &(shape, groups)) in cases.iter().enumerate() {
            let seed = 200 + 10 * ci as u64;
            let (x, dy) = (rnd(shape, seed, dtype), rnd(shape, seed + 1, dtype));
            let c = shape[1];
            let gamma = rnd(&[c], seed + 2, dtype).affine(0.5, 1.0).unwrap();
            let beta = rnd(&[c], seed + 3, dtype);
            let (gg, bg) = (gpu(&gamma), gpu(&beta));
            for affine in 0..3 {
                let (g_c, g_g) = if affine >= 1 { (Some(&gamma), Some(&gg)) } else { (None, None) };
                let (b_c, b_g) = if affine == 2 { (Some(&beta), Some(&bg)) } else { (None, None) };
                for ((name, xc, xg), (_, dyc, dyg)) in layouts(&x).into_iter().zip(layouts(&dy)) {
                    let what = format!("group_norm {dtype:?} {shape:?}/{groups} affine {affine} {name}");
                    let (yc, sc) = xc.group_norm(groups, g_c, b_c, EPS).unwrap();
                    let (yg, sg) = xg.group_norm(groups, g_g, b_g, EPS).unwrap();
                    close(&format!("{what}: y"), &yg, &yc);
                    close(&format!("{what}: mean"), &sg.mean, &sc.mean);
                    close(&format!("{what}: rstd"), &sg.rstd, &sc.rstd);
                    let (dxc, dgc, dbc) =
                        Tensor::group_norm_backward(&xc, &dyc, groups, g_c, b_c.is_some(), &sc).unwrap();
                    let (dxg, dgg, dbg) =
                        Tensor::group_norm_backward(&xg, &dyg, groups, g_g, b_g.is_some(), &sg).unwrap();
                    close(&format!("{what}: dx"), &dxg, &dxc);
                    close_opt(&format!("{what}: dgamma"), &dgg, &dgc);
                    close_opt(&format!("{what}: dbeta"), &dbg, &dbc);
                }
            }
        }
    }
}

#[test]
fn half_precision_norms_go_through_f32_on_the_gpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F16, DType::BF16] {
        let (x, dy) = (rnd(&[4, 2, 33], 300, dtype), rnd(&[4, 2, 33], 301, dtype));
        let gamma = rnd(&[33], 302, dtype);
        let (yc, sc) = x.layer_norm(&[33], Some(&gamma), None, EPS).unwrap();
        let (yg, sg) = gpu(&x).layer_norm(&[33], Some(&gpu(&gamma)), None, EPS).unwrap();
        close(&format!("{dtype:?} layer_norm y"), &yg, &yc);
        let (dxc, dgc, _) = Tensor::layer_norm_backward(&x, &dy, &[33], Some(&gamma), false, &sc).unwrap();
        let (dxg, dgg, _) =
            Tensor::layer_norm_backward(&gpu(&x), &gpu(&dy), &[33], Some(&gpu(&gamma)), false, &sg).unwrap();
        close(&format!("{dtype:?} layer_norm dx"), &dxg, &dxc);
        close_opt(&format!("{dtype:?} layer_norm dgamma"), &dgg, &dgc);
        let (yc, _) = x.group_norm(2, None, None, EPS).unwrap();
        let (yg, _) = gpu(&x).group_norm(2, None, None, EPS).unwrap();
        close(&format!("{dtype:?} group_norm y"), &yg, &yc);
        let (yc, _) = x.rms_norm(&[2, 33], None, EPS).unwrap();
        let (yg, _) = gpu(&x).rms_norm(&[2, 33], None, EPS).unwrap();
        close(&format!("{dtype:?} rms_norm y"), &yg, &yc);
    }
}

/// Targets: row r gets class (7r + 3) % classes; with an ignore index every fourth row is ignored.
fn targets(rows: usize, classes: usize, ignore: Option<i64>) -> Tensor {
    let v: Vec<i64> = (0..rows)
        .map(|r| match ignore {
            Some(i) if r % 4 == 1 => i,
            _ => ((7 * r + 3) % classes) as i64,
        })
        .collect();
    Tensor::from_vec(v, &[rows]).unwrap()
}

#[test]
fn cross_entropy_matches_the_cpu() {
    let dev = gpu_or_skip!();
    for dtype in DTYPES {
        for (rows, classes) in [(1, 1), (5, 3), (70, 257), (9, 1025), (3, 2000)] {
            let logits = rnd(&[rows, classes], (rows * classes) as u64, dtype).affine(3.0, 0.0).unwrap();
            for ignore in [None, Some(-100), Some(1)] {
                let t = targets(rows, classes, ignore);
                for smoothing in [0.0, 0.1] {
                    for (name, lc, lg) in layouts(&logits) {
                        let what = format!("cross_entropy {dtype:?} [{rows}, {classes}] {ignore:?} {smoothing} {name}");
                        let (loss_c, nc) = lc.cross_entropy(&t, ignore, smoothing).unwrap();
                        let (loss_g, ng) = lg.cross_entropy(&gpu(&t), ignore, smoothing).unwrap();
                        assert_eq!(ng, nc, "{what}: count");
                        close(&format!("{what}: loss"), &loss_g, &loss_c);
                        let dloss = Tensor::scalar(1.7, dtype);
                        let dc = Tensor::cross_entropy_backward(&lc, &t, ignore, smoothing, nc, &dloss).unwrap();
                        let dg =
                            Tensor::cross_entropy_backward(&lg, &gpu(&t), ignore, smoothing, ng, &gpu(&dloss)).unwrap();
                        close(&format!("{what}: dlogits"), &dg, &dc);
                        // A host dloss (any float dtype) is accepted as on the CPU.
                        let dh = Tensor::scalar(1.7, DType::F64);
                        let dg = Tensor::cross_entropy_backward(&lg, &gpu(&t), ignore, smoothing, ng, &dh).unwrap();
                        assert_eq!(dg.device(), dev);
                        close(&format!("{what}: dlogits (host dloss)"), &dg, &dc);
                    }
                }
            }
        }
    }
}

#[test]
fn cross_entropy_edge_cases_match_the_cpu() {
    let _dev = gpu_or_skip!();
    // Every row ignored: the mean is NaN and the gradient 0 on both sides.
    let logits = rnd(&[3, 4], 400, DType::F32);
    let t = Tensor::from_vec(vec![-100i64; 3], &[3]).unwrap();
    let (lc, nc) = logits.cross_entropy(&t, Some(-100), 0.0).unwrap();
    let (lg, ng) = gpu(&logits).cross_entropy(&gpu(&t), Some(-100), 0.0).unwrap();
    assert_eq!((nc, ng), (0, 0));
    assert!(lc.to_scalar_f64().unwrap().is_nan() && lg.to_scalar_f64().unwrap().is_nan());
    let one = Tensor::scalar(1.0, DType::F32);
    let dg = Tensor::cross_entropy_backward(&gpu(&logits), &gpu(&t), Some(-100), 0.0, 0, &gpu(&one)).unwrap();
    assert_eq!(dg.to_vec_f64().unwrap(), vec![0.0; 12]);
    // Targets as a stepped view on the GPU; huge logits stay finite.
    let big = logits.affine(1000.0, 0.0).unwrap();
    let long = Tensor::from_vec(vec![0i64, 9, 3, 9, 1, 9], &[6]).unwrap();
    let view = |t: &Tensor| t.slice(0, 0, 6, 2).unwrap();
    let (lc, _) = big.cross_entropy(&view(&long), None, 0.2).unwrap();
    let (lg, _) = gpu(&big).cross_entropy(&view(&gpu(&long)), None, 0.2).unwrap();
    close("huge logits loss", &lg, &lc);
    // Half logits: the forward goes through f32, the backward is unsupported on both devices.
    let h = logits.to_dtype(DType::F16).unwrap();
    let t2 = Tensor::from_vec(vec![0i64, 3, 2], &[3]).unwrap();
    let (lc, _) = h.cross_entropy(&t2, None, 0.0).unwrap();
    let (lg, _) = gpu(&h).cross_entropy(&gpu(&t2), None, 0.0).unwrap();
    close("f16 loss", &lg, &lc);
    let hd = Tensor::scalar(1.0, DType::F16);
    assert!(Tensor::cross_entropy_backward(&gpu(&h), &gpu(&t2), None, 0.0, 3, &gpu(&hd)).is_err());
}

#[test]
fn bad_inputs_give_the_cpu_errors() {
    let _dev = gpu_or_skip!();
    let logits = rnd(&[3, 4], 500, DType::F32);
    let t = Tensor::from_vec(vec![0i64, 4, 1], &[3]).unwrap();
    let ec = logits.cross_entropy(&t, None, 0.0).unwrap_err().to_string();
    let eg = gpu(&logits).cross_entropy(&gpu(&t), None, 0.0).unwrap_err().to_string();
    assert_eq!(eg, ec);
    let x = rnd(&[2, 6], 501, DType::F32);
    let ec = x.layer_norm(&[5], None, None, EPS).unwrap_err().to_string();
    let eg = gpu(&x).layer_norm(&[5], None, None, EPS).unwrap_err().to_string();
    assert_eq!(eg, ec);
    let ec = x.group_norm(4, None, None, EPS).unwrap_err().to_string();
    let eg = gpu(&x).group_norm(4, None, None, EPS).unwrap_err().to_string();
    assert_eq!(eg, ec);
    // A gamma left on the host is a device mismatch, not a silent copy.
    let gamma = rnd(&[6], 502, DType::F32);
    assert!(gpu(&x).layer_norm(&[6], Some(&gamma), None, EPS).is_err());
}

#[test]
fn norm_gradients_are_bit_identical_across_runs() {
    let _dev = gpu_or_skip!();
    let (x, dy) = (gpu(&rnd(&[300, 1025], 600, DType::F32)), gpu(&rnd(&[300, 1025], 601, DType::F32)));
    let gamma = gpu(&rnd(&[1025], 602, DType::F32));
    let run = || {
        let (y, st) = x.layer_norm(&[1025], Some(&gamma), None, EPS).unwrap();
        let (dx, dg, db) = Tensor::layer_norm_backward(&x, &dy, &[1025], Some(&gamma), true, &st).unwrap();
        [y, dx, dg.unwrap(), db.unwrap()].map(|t| t.to_vec_f64().unwrap())
    };
    assert!(run() == run(), "layer norm results differ between runs");
}

#[test]
fn every_norm_and_index_kernel_loads_from_both_ptx_variants() {
    let _dev = gpu_or_skip!();
    use kernels::cuda::GpuDevice;
    use kernels::ptx::{PtxArch, INDEX, NORM};
    for arch in PtxArch::ALL {
        let dev = GpuDevice::get_with_arch(0, Some(arch)).unwrap();
        for m in [&NORM, &INDEX] {
            let names: Vec<&str> = m
                .ptx(arch)
                .lines()
                .filter_map(|l| l.strip_prefix(".visible .entry "))
                .map(|l| l.trim_end_matches('('))
                .collect();
            assert!(names.len() >= 8, "{} {arch:?}: only {names:?}", m.name);
            for name in names {
                dev.function(m, name).unwrap_or_else(|e| panic!("{} {arch:?} {name}: {e}", m.name));
            }
        }
    }
}
