//! Fused optimiser updates on flat parameter buffers, written to match PyTorch's single-tensor
//! (`foreach=False`) code path operation for operation, so a step here and a step there agree to
//! the last rounding where the arithmetic is the same.
use crate::Real;

/// Adam / AdamW hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: decay the weights directly (`p ← p·(1 − lr·wd)`) instead of adding `wd·p` to the
    /// gradient (Adam's L2 penalty).
    pub decoupled: bool,
}

/// One Adam(W) step; `step` counts from 1. `m`, `v` are the first and second moments.
///
/// ```text
/// g ← g + wd·p                        (Adam only)
/// p ← p·(1 − lr·wd)                   (AdamW only)
/// m ← m + (1 − β1)(g − m)             (torch: exp_avg.lerp_(grad, 1 − β1))
/// v ← β2·v + (1 − β2)·g²
/// p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
/// ```
/// Large tensors are split across threads by fixed element ranges (each element's update is
/// independent, so the result does not depend on the thread count).
pub fn adam_step<T: Real>(cfg: &AdamConfig, step: u64, p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    assert!(g.len() == p.len() && m.len() == p.len() && v.len() == p.len(), "adam_step: lengths differ");
    if p.len() >= 2 * CHUNK {
        let _warm = crate::parallel::keep_warm();
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(b, ((p, m), v))| adam_step_serial(cfg, step, p, &g[b * CHUNK..b * CHUNK + p.len()], m, v));
    } else {
        adam_step_serial(cfg, step, p, g, m, v);
    }
}

/// The per-step constants of an Adam(W) step in the element type, computed once per step from
/// the f64 hyper-parameters. The GPU kernel receives exactly these values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars<T> {
    pub b1: T,
    pub b2: T,
    /// `√(1 − β2^t)`
    pub bc2_sqrt: T,
    /// `lr / (1 − β1^t)`
    pub step_size: T,
    pub wd: T,
    /// `1 − lr·wd`
    pub decay: T,
    pub eps: T,
}

impl AdamConfig {
    /// The constants of step `step` (counting from 1) in `T`.
    pub fn scalars<T: Real>(&self, step: u64) -> AdamScalars<T> {
        let c = <T as Real>::from_f64;
        let bc1 = 1.0 - self.beta1.powi(step as i32);
        AdamScalars {
            b1: c(self.beta1),
            b2: c(self.beta2),
            bc2_sqrt: c((1.0 - self.beta2.powi(step as i32)).sqrt()),
            step_size: c(self.lr / bc1),
            wd: c(self.weight_decay),
            decay: c(1.0 - self.lr * self.weight_decay),
            eps: c(self.eps),
        }
    }
}

simd_fn! {
    /// [`adam_step`] on one thread, compiled for AVX-512 / AVX2 where the CPU has them (the same
    /// bits as the portable loop: the same operations in the same order, square root and division
    /// exactly rounded in every copy).
    fn adam_step_serial<T>(cfg: &AdamConfig, step: u64, p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]) -> () {
        let AdamScalars { b1, b2, bc2_sqrt, step_size, wd, decay, eps } = cfg.scalars::<T>(step);
        let one = T::one();
        let (decay_p, l2) = (cfg.weight_decay != 0.0 && cfg.decoupled, cfg.weight_decay != 0.0 && !cfg.decoupled);
        let n = p.len();
        // Zipped slices of one length: no index checks, so the loop vectorises.
        for (((pi, &gi), mi), vi) in p.iter_mut().zip(&g[..n]).zip(&mut m[..n]).zip(&mut v[..n]) {
            let mut gi = gi;
            if decay_p {
                *pi *= decay;
            }
            if l2 {
                gi += wd * *pi;
            }
            *mi += (one - b1) * (gi - *mi);
            *vi = *vi * b2 + (one - b2) * gi * gi;
            let denom = vi.sqrt() / bc2_sqrt + eps;
            *pi -= step_size * (*mi / denom);
        }
    }
}

/// SGD hyper-parameters (PyTorch's `torch.optim.SGD`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
}

/// The constants of an SGD step in the element type (the GPU kernel receives exactly these).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdScalars<T> {
    pub lr: T,
    /// momentum μ
    pub mu: T,
    /// `1 − dampening`
    pub damp: T,
    pub wd: T,
}

impl SgdConfig {
    pub fn scalars<T: Real>(&self) -> SgdScalars<T> {
        let c = <T as Real>::from_f64;
        SgdScalars { lr: c(self.lr), mu: c(self.momentum), damp: c(1.0 - self.dampening), wd: c(self.weight_decay) }
    }
}

/// One SGD step. `buf` is the momentum buffer; `first` marks the first step (the buffer starts
/// as a copy of the gradient, as in PyTorch).
///
/// ```text
/// d ← g + wd·p
/// buf ← d (first step) or μ·buf + (1 − dampening)·d
/// d ← d + μ·buf (Nesterov) or buf
/// p ← p − lr·d
/// ```
pub fn sgd_step<T: Real>(cfg: &SgdConfig, first: bool, p: &mut [T], g: &[T], buf: &mut [T]) {
    let SgdScalars { lr, mu, damp, wd } = cfg.scalars::<T>();
    for i in 0..p.len() {
        let mut d = g[i];
        if cfg.weight_decay != 0.0 {
            d += wd * p[i];
        }
        if cfg.momentum != 0.0 {
            buf[i] = if first { d } else { buf[i] * mu + damp * d };
            d = if cfg.nesterov { d + mu * buf[i] } else { buf[i] };
        }
        p[i] -= lr * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three Adam steps on one scalar, computed by hand from the formulas in f64.
    #[test]
    fn parallel_adam_matches_the_serial_loop_bitwise() {
        let n = 100_003; // several parallel chunks and a short last one
        let cfg = AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decoupled: true };
        let g: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        let init: Vec<f32> = (0..n).map(|i| (i % 17) as f32 * 0.1 - 0.8).collect();
        let (mut p0, mut m0, mut v0) = (init.clone(), vec![0.1f32; n], vec![0.01f32; n]);
        adam_step_serial(&cfg, 3, &mut p0, &g, &mut m0, &mut v0);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (mut p, mut m, mut v) = (init.clone(), vec![0.1f32; n], vec![0.01f32; n]);
            pool.install(|| adam_step(&cfg, 3, &mut p, &g, &mut m, &mut v));
            let bits = |x: &[f32]| x.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
            assert_eq!((bits(&p), bits(&m), bits(&v)), (bits(&p0), bits(&m0), bits(&v0)), "{threads} threads");
        }
    }

    /// Every `simd_fn!` copy of the Adam loop (AVX-512, AVX2, portable; those this CPU has) gives
    /// the same bits, for Adam, AdamW and no weight decay, over a length that ends mid-vector.
    #[test]
    fn adam_loop_gives_the_same_bits_in_every_simd_copy() {
        let n = 1003;
        let g: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        let init: Vec<f32> = (0..n).map(|i| (i % 17) as f32 * 0.1 - 0.8).collect();
        for (weight_decay, decoupled) in [(0.01, false), (0.01, true), (0.0, false)] {
            let cfg = AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, decoupled };
            let run = |level: u8| {
                let (mut p, mut m, mut v) = (init.clone(), vec![0.1f32; n], vec![0.01f32; n]);
                crate::with_simd_copy(level, || adam_step_serial(&cfg, 3, &mut p, &g, &mut m, &mut v));
                [p, m, v].concat().iter().map(|a| a.to_bits()).collect::<Vec<_>>()
            };
            let widest = run(2);
            for level in [1, 0] {
                assert_eq!(run(level), widest, "copy {level}, weight decay {weight_decay}, decoupled {decoupled}");
            }
        }
    }

    #[test]
    fn adam_matches_hand_computed_steps() {
        let cfg = AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false };
        let (mut p, mut m, mut v) = ([1.0f64], [0.0], [0.0]);
        // t=1: g=0.5: m=0.05, v=0.00025, m̂=0.5, v̂=0.25, p = 1 − 0.1·0.5/(0.5+1e-8)
        adam_step(&cfg, 1, &mut p, &[0.5], &mut m, &mut v);
        let want1 = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8);
        assert!((p[0] - want1).abs() < 1e-15, "{} vs {want1}", p[0]);
        // t=2: g=−0.2: m = 0.05 + 0.1(−0.2 − 0.05) = 0.025, v = 0.999·0.00025 + 0.001·0.04
        adam_step(&cfg, 2, &mut p, &[-0.2], &mut m, &mut v);
        let (m2, v2): (f64, f64) = (0.025, 0.999 * 0.00025 + 0.001 * 0.04);
        let want2 = want1 - 0.1 / (1.0 - 0.81) * m2 / (v2.sqrt() / (1.0 - 0.999f64.powi(2)).sqrt() + 1e-8);
        assert!((m[0] - m2).abs() < 1e-15 && (v[0] - v2).abs() < 1e-15);
        assert!((p[0] - want2).abs() < 1e-14, "{} vs {want2}", p[0]);
    }

    #[test]
    fn adamw_decays_weights_before_the_update_and_adam_adds_l2_to_the_gradient() {
        let base = AdamConfig { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decoupled: true };
        let (mut p, mut m, mut v) = ([2.0f64], [0.0], [0.0]);
        adam_step(&base, 1, &mut p, &[0.3], &mut m, &mut v);
        // p·(1 − lr·wd) − lr·m̂/(√v̂+ε) with m̂ = g, v̂ = g²
        let want = 2.0 * (1.0 - 0.001) - 0.01 * 0.3 / (0.3 + 1e-8);
        assert!((p[0] - want).abs() < 1e-14);
        let l2 = AdamConfig { decoupled: false, ..base };
        let (mut p, mut m, mut v) = ([2.0f64], [0.0], [0.0]);
        adam_step(&l2, 1, &mut p, &[0.3], &mut m, &mut v);
        // effective gradient 0.3 + 0.1·2 = 0.5; first step moves by lr·g/|g|
        assert!((p[0] - (2.0 - 0.01 * 0.5 / (0.5 + 1e-8))).abs() < 1e-14);
    }

    #[test]
    fn sgd_momentum_and_nesterov_match_hand_computed_steps() {
        let cfg = SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false };
        let (mut p, mut buf) = ([1.0f64], [0.0]);
        sgd_step(&cfg, true, &mut p, &[1.0], &mut buf); // buf = 1, p = 0.9
        sgd_step(&cfg, false, &mut p, &[1.0], &mut buf); // buf = 1.9, p = 0.71
        assert!((p[0] - 0.71).abs() < 1e-15 && (buf[0] - 1.9).abs() < 1e-15);
        let nes = SgdConfig { nesterov: true, weight_decay: 0.5, ..cfg };
        let (mut p, mut buf) = ([1.0f64], [0.0]);
        sgd_step(&nes, true, &mut p, &[1.0], &mut buf); // d = 1.5, buf = 1.5, d = 1.5 + 1.35 = 2.85
        assert!((p[0] - (1.0 - 0.285)).abs() < 1e-15);
        let plain = SgdConfig { momentum: 0.0, ..cfg };
        let (mut p, mut buf) = ([1.0f64], [0.0]);
        sgd_step(&plain, true, &mut p, &[2.0], &mut buf);
        assert!((p[0] - 0.8).abs() < 1e-15 && buf[0] == 0.0);
    }
}
