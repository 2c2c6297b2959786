//! Fused optimiser updates on a GPU against the CPU: several Adam(W) and SGD steps on f32 and f64
//! parameters of odd sizes, with strided views as inputs. The kernels perform the CPU's operations
//! in the CPU's order with the host-computed step constants, so the results are compared bit for
//! bit. Also the f64 sum of squares behind gradient clipping. Skipped without a GPU.
use crate::common::*;
use tensor::{AdamConfig, DType, SgdConfig, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec_f64().unwrap().iter().map(|x| x.to_bits()).collect()
}

fn assert_same(what: &str, gpu: &Tensor, cpu: &Tensor) {
    assert!(gpu.device().is_cuda(), "{what}: not on the GPU");
    assert_eq!((gpu.shape(), gpu.dtype()), (cpu.shape(), cpu.dtype()), "{what}");
    let (g, c) = (bits(gpu), bits(cpu));
    if let Some(i) = (0..c.len()).find(|&i| g[i] != c[i]) {
        let (a, b) = (f64::from_bits(g[i]), f64::from_bits(c[i]));
        panic!("{what}: element {i} of {}: gpu {a:e} vs cpu {b:e} (diff {:e})", c.len(), a - b);
    }
}

const SHAPES: [&[usize]; 5] = [&[1], &[3], &[257], &[33, 31], &[2, 40000]];

/// Gradient number `k` for a parameter of `shape`: a transposed view for rank-2 shapes, so the
/// kernels read it through its strides.
fn grad(shape: &[usize], k: u64, dtype: DType) -> Tensor {
    if shape.len() == 2 {
        let t = rnd(&[shape[1], shape[0]], 100 + k, dtype);
        t.transpose(0, 1).unwrap()
    } else {
        rnd(shape, 100 + k, dtype)
    }
}

#[test]
fn adam_and_adamw_steps_match_the_cpu() {
    let _dev = gpu_or_skip!();
    let configs = [
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false },
        AdamConfig { lr: 3e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.01, decoupled: false },
        AdamConfig { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, decoupled: true },
    ];
    for dtype in [DType::F32, DType::F64] {
        for shape in SHAPES {
            for cfg in &configs {
                let p0 = rnd(shape, 1, dtype);
                let (mut pc, mut mc, mut vc) = (p0.clone(), p0.zeros_like().unwrap(), p0.zeros_like().unwrap());
                let (mut pg, mut mg, mut vg) = (gpu(&pc), gpu(&mc), gpu(&vc));
                for step in 1..=4 {
                    let g = grad(shape, step, dtype);
                    (pc, mc, vc) = pc.adam_update(&g, &mc, &vc, cfg, step).unwrap();
                    (pg, mg, vg) = pg.adam_update(&gpu(&g), &mg, &vg, cfg, step).unwrap();
                    let what = format!("{dtype:?} {shape:?} {cfg:?} step {step}");
                    assert_same(&format!("{what} p"), &pg, &pc);
                    assert_same(&format!("{what} m"), &mg, &mc);
                    assert_same(&format!("{what} v"), &vg, &vc);
                }
            }
        }
    }
}

#[test]
fn adam_reads_strided_parameters_and_state() {
    let _dev = gpu_or_skip!();
    let cfg = AdamConfig { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.05, decoupled: true };
    for dtype in [DType::F32, DType::F64] {
        // p, m, v all transposed views of [9, 13] tensors, g a stepped slice.
        let view = |t: Tensor| t.transpose(0, 1).unwrap();
        let (p, m) = (rnd(&[9, 13], 2, dtype), rnd(&[9, 13], 3, dtype).affine(0.1, 0.0).unwrap());
        let v = rnd(&[9, 13], 4, dtype).square().unwrap();
        let g_full = rnd(&[13, 18], 5, dtype);
        let g = g_full.slice(1, 0, 18, 2).unwrap();
        let (pc, mc, vc) = view(p.clone()).adam_update(&g, &view(m.clone()), &view(v.clone()), &cfg, 7).unwrap();
        let (pg, mg, vg) = view(gpu(&p))
            .adam_update(&gpu(&g_full).slice(1, 0, 18, 2).unwrap(), &view(gpu(&m)), &view(gpu(&v)), &cfg, 7)
            .unwrap();
        assert_same("strided p", &pg, &pc);
        assert_same("strided m", &mg, &mc);
        assert_same("strided v", &vg, &vc);
    }
}

#[test]
fn sgd_steps_match_the_cpu() {
    let _dev = gpu_or_skip!();
    let configs = [
        SgdConfig { lr: 0.1, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false },
        SgdConfig { lr: 0.05, momentum: 0.0, dampening: 0.0, weight_decay: 0.01, nesterov: false },
        SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false },
        SgdConfig { lr: 0.02, momentum: 0.9, dampening: 0.1, weight_decay: 1e-4, nesterov: false },
        SgdConfig { lr: 0.01, momentum: 0.8, dampening: 0.0, weight_decay: 0.5, nesterov: true },
    ];
    for dtype in [DType::F32, DType::F64] {
        for shape in SHAPES {
            for cfg in &configs {
                let (mut pc, mut bc) = (rnd(shape, 6, dtype), Tensor::zeros(shape, dtype));
                let (mut pg, mut bg) = (gpu(&pc), gpu(&bc));
                for step in 1..=3u64 {
                    let g = grad(shape, step, dtype);
                    (pc, bc) = pc.sgd_update(&g, &bc, cfg, step == 1).unwrap();
                    (pg, bg) = pg.sgd_update(&gpu(&g), &bg, cfg, step == 1).unwrap();
                    let what = format!("{dtype:?} {shape:?} {cfg:?} step {step}");
                    assert_same(&format!("{what} p"), &pg, &pc);
                    assert_same(&format!("{what} buf"), &bg, &bc);
                }
            }
        }
    }
}

#[test]
fn sum_of_squares_matches_the_cpu_and_repeats_exactly() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16] {
        for shape in [&[1usize][..], &[3], &[257], &[1025], &[300, 1001]] {
            let t = rnd(shape, 9, dtype);
            let want = t.sum_squares_f64().unwrap();
            let g = gpu(&t);
            let got = g.sum_squares_f64().unwrap();
            // The squares are exact in f64; only the order of the additions differs (a tree on the
            // GPU), and a sum of n non-negative terms moves by at most (n − 1)·u relative to its
            // value in any order (u = 2⁻⁵³). The first GPU run found 1.2e-13 at n = 300 300.
            let bound = t.elem_count() as f64 * f64::EPSILON * want;
            assert!((got - want).abs() <= bound, "{dtype:?} {shape:?}: gpu {got} vs cpu {want}");
            assert_eq!(got.to_bits(), g.sum_squares_f64().unwrap().to_bits(), "{dtype:?} {shape:?}: not reproducible");
        }
    }
    // A transposed view reads through its strides; an empty tensor sums to zero.
    let t = rnd(&[37, 41], 10, DType::F32);
    let got = gpu(&t).transpose(0, 1).unwrap().sum_squares_f64().unwrap();
    let want = t.sum_squares_f64().unwrap();
    assert!((got - want).abs() <= (37.0 * 41.0) * f64::EPSILON * want, "transposed: gpu {got} vs cpu {want}");
    assert_eq!(gpu(&Tensor::zeros(&[0], DType::F32)).sum_squares_f64().unwrap(), 0.0);
}

#[test]
fn mismatched_devices_are_an_error() {
    let _dev = gpu_or_skip!();
    let cfg = SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false };
    let p = rnd(&[4], 1, DType::F32);
    let err = gpu(&p).sgd_update(&p, &gpu(&p), &cfg, true).unwrap_err();
    assert!(matches!(err, tensor::Error::DeviceMismatch { op: "sgd", .. }), "{err}");
}
