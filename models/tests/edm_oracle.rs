//! Oracle tests with the exact Gaussian-mixture denoiser, all in f64 and with no training
//! (`edm.md` §6): D* against the mixture's posterior and score, the samplers reproducing the ring
//! and the grid, Euler and Heun converging, and a finite data set being reproduced.
use autograd::{no_grad, Var};
use data::toy2d::{tensor_to_points, Toy2d};
use eval::toy2d::{evaluate, mode_stats, IN_MODE_K};
use models::edm::*;
use tensor::{DType, Device, Rng, Tensor};

fn oracle(name: &str) -> (Toy2d, ExactGmmDenoiser) {
    let d = Toy2d::from_name(name).unwrap();
    let o = ExactGmmDenoiser::from_mixture(d.mixture().unwrap(), 1.0).unwrap();
    (d, o)
}

fn points(x: &Var) -> Vec<[f64; 2]> {
    tensor_to_points(x.value()).unwrap()
}

#[test]
fn exact_denoiser_is_the_posterior_mean_and_x_plus_sigma2_score() {
    let (d, o) = oracle("grid");
    let mix = d.mixture().unwrap();
    let xs = d.sample(64, 1);
    let x = Var::constant(Tensor::from_vec(xs.iter().flatten().copied().collect(), &[64, 2]).unwrap());
    for sigma in [0.01, 0.05, 0.3, 1.0, 5.0] {
        // Perturb so that the points are not exactly on the modes.
        let xn = x.add(&Var::constant(Tensor::randn(&[64, 2], 0.0, sigma, 2, DType::F64).unwrap())).unwrap();
        let got = points(&o.denoise(&xn, &sigma_full(64, sigma, DType::F64).unwrap(), None).unwrap());
        let noisy = mix.convolved(sigma).unwrap();
        let s2 = mix.std() * mix.std();
        for (p, g) in points(&xn).iter().zip(&got) {
            // Σ_k r_k (μ_k σ² + x s²)/(s² + σ²) with r the noisy mixture's responsibilities.
            let r = noisy.responsibilities(*p);
            let mut want = [0.0; 2];
            for (k, m) in mix.means().iter().enumerate() {
                for j in 0..2 {
                    want[j] += r[k] * (m[j] * sigma * sigma + p[j] * s2) / (s2 + sigma * sigma);
                }
            }
            assert!((g[0] - want[0]).abs() < 1e-10 && (g[1] - want[1]).abs() < 1e-10, "σ {sigma}: {g:?} vs {want:?}");
            // D* = x + σ² ∇log p_σ, the gradient by central differences of the exact log p_σ.
            let h = 1e-5;
            let lp = |a: f64, b: f64| o.log_density(&[a, b], sigma).unwrap();
            let fd = [
                (lp(p[0] + h, p[1]) - lp(p[0] - h, p[1])) / (2.0 * h),
                (lp(p[0], p[1] + h) - lp(p[0], p[1] - h)) / (2.0 * h),
            ];
            for j in 0..2 {
                let via_score = p[j] + sigma * sigma * fd[j];
                assert!((g[j] - via_score).abs() < 1e-5 * (1.0 + fd[j].abs() * sigma * sigma), "σ {sigma}: {g:?}");
            }
            assert!((o.log_density(p, sigma).unwrap() - noisy.log_density(*p)).abs() < 1e-10);
        }
    }
}

/// Heun's known bias on one isotropic mode of std `s`: the ODE is linear there,
/// u' = u·σ/(s² + σ²) with u = x − μ, so each step multiplies u by a number. Returns the ratio of
/// the sampled std to the true one (> 1: Heun with few steps widens sharp modes slightly).
fn heun_std_inflation(s: f64, sigmas: &[f64]) -> f64 {
    let f = |sig: f64| sig / (s * s + sig * sig);
    let mut u = 1.0;
    for w in sigmas.windows(2) {
        let (a, b) = (w[0], w[1]);
        let u1 = u + (b - a) * u * f(a);
        u = if b > 0.0 { u + (b - a) * (u * f(a) + u1 * f(b)) / 2.0 } else { u1 };
    }
    u / (s / (s * s + sigmas[0] * sigmas[0]).sqrt())
}

/// The single-mode analysis is exact for one Gaussian: Heun's samples have exactly that std.
#[test]
fn heun_on_one_gaussian_matches_the_linear_analysis() {
    let s = 0.05;
    let o = ExactGmmDenoiser::new(&[vec![0.3, -0.2]], &[1.0], &[s]).unwrap();
    let noise = Var::constant(Tensor::randn(&[50, 2], 0.0, 1.0, 5, DType::F64).unwrap());
    for (n, smax) in [(18, 80.0), (32, 10.0), (200, 80.0)] {
        let sig = sigma_schedule(n, 0.002, smax, 7.0).unwrap();
        let x = solve(&o, &noise, &sig, Solver::Heun, None, None).unwrap().value().to_vec_f64().unwrap();
        // x_final − μ = G·(σ_max ε − μ), G = inflation · s/√(s² + σ_max²).
        let g = heun_std_inflation(s, &sig) * s / (s * s + smax * smax).sqrt();
        for (i, e) in noise.value().to_vec_f64().unwrap().iter().enumerate() {
            let mu = [0.3, -0.2][i % 2];
            assert!(
                (x[i] - (mu + g * (smax * e - mu))).abs() < 1e-12,
                "N {n}: {} vs {}",
                x[i],
                mu + g * (smax * e - mu)
            );
        }
    }
    assert!((heun_std_inflation(s, &sigma_schedule(200, 0.002, 80.0, 7.0).unwrap()) - 1.0).abs() < 1e-3);
}

/// Heun with D* reproduces the mixture: per-mode mass, KL, coverage and MMD match exact samples
/// within sampling error; the in-mode rate matches the truth once the linear analysis' Heun bias
/// is accounted for, and the truth itself at N = 100.
#[test]
fn heun_with_the_exact_denoiser_reproduces_ring_and_grid() {
    let n = 20_000;
    for name in ["ring", "grid"] {
        for steps in [18, 32, 100] {
            let (d, o) = oracle(name);
            // σ_max = 10 is 7× the data scale (std 1.41), inside edm.md's 5–10× for toys.
            let cfg = SamplerConfig { steps, sigma_max: 10.0, ..Default::default() };
            let x = no_grad(|| generate(&o, &[n, 2], DType::F64, Device::Cpu, &cfg, None, &mut Rng::new(7))).unwrap();
            let r = evaluate(&d, &points(&x), 100).unwrap();
            let m = r.modes.as_ref().unwrap();
            let f = heun_std_inflation(data::toy2d::MODE_STD, &cfg.sigmas().unwrap());
            let predicted = 1.0 - (-IN_MODE_K * IN_MODE_K / (2.0 * f * f)).exp();
            // Binomial sd of the rate at n = 20 000: 0.00075.
            let se = (predicted * (1.0 - predicted) / n as f64).sqrt();
            assert!((m.in_mode_rate - predicted).abs() < 4.0 * se, "{name}/{steps}: {} vs {predicted}", m.in_mode_rate);
            if steps == 100 {
                assert!((m.in_mode_rate - m.expected_in_mode_rate).abs() < 4.0 * se, "{name}: {}", m.in_mode_rate);
            }
            assert_eq!(m.covered, m.n_modes, "{name}");
            // KL over modes of a multinomial sample ≈ (K − 1)/(2n): 2e-4 (ring), 6e-4 (grid).
            assert!(m.kl < 0.002, "{name}/{steps}: KL {}", m.kl);
            for (k, (mass, w)) in m.mass.iter().zip(&m.weights).enumerate() {
                let sd = (w * (1.0 - w) / n as f64).sqrt();
                assert!((mass / m.in_mode_rate - w).abs() < 4.5 * sd, "{name} mode {k}: {mass} vs {w}");
            }
            // MMD² and sliced W₂ at the data-vs-data floor.
            let floor = r.mmd_floor.sum.abs().max(2e-4);
            assert!(r.mmd.sum < 4.0 * floor, "{name}/{steps}: MMD² {} vs floor {}", r.mmd.sum, r.mmd_floor.sum);
            assert!(
                r.sliced_wasserstein < 2.0 * r.sliced_wasserstein_floor + 0.01,
                "{name}: SW {}",
                r.sliced_wasserstein
            );
            eprintln!(
                "{name} Heun N={steps}: in-mode {:.4} (Heun-predicted {predicted:.4}, exact {:.4}), KL {:.5}, \
                 MMD² {:.2e} (floor {:.2e}), SW {:.4} (floor {:.4}), mean log p {:.3} (exact {:.3})",
                m.in_mode_rate,
                m.expected_in_mode_rate,
                m.kl,
                r.mmd.sum,
                r.mmd_floor.sum,
                r.sliced_wasserstein,
                r.sliced_wasserstein_floor,
                r.log_density.mean,
                r.log_density_true.mean
            );
        }
    }
}

/// Error against a 200-step Heun reference from the same noise: Heun's falls like N⁻² and
/// Euler's like N⁻¹, so Heun's shrinks faster, and both converge to the same samples.
#[test]
fn euler_and_heun_converge_to_the_same_samples() {
    let (_, o) = oracle("ring");
    let noise = Var::constant(Tensor::randn(&[2000, 2], 0.0, 1.0, 21, DType::F64).unwrap());
    let run = |steps, solver| {
        let s = sigma_schedule(steps, 0.002, 80.0, 7.0).unwrap();
        no_grad(|| solve(&o, &noise, &s, solver, None, None)).unwrap().value().to_vec_f64().unwrap()
    };
    let reference = run(200, Solver::Heun);
    let err = |x: Vec<f64>| {
        x.chunks(2)
            .zip(reference.chunks(2))
            .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
            .sum::<f64>()
            / 2000.0
    };
    // (At N = 8 Heun is still worse than Euler: second order pays off once steps are small.)
    let ns = [16, 32, 64];
    let heun: Vec<f64> = ns.iter().map(|&n| err(run(n, Solver::Heun))).collect();
    let euler: Vec<f64> = ns.iter().map(|&n| err(run(n, Solver::Euler))).collect();
    eprintln!("mean |x_N − x_ref| for N = {ns:?}: Heun {heun:?}, Euler {euler:?}");
    for i in 0..ns.len() {
        assert!(heun[i] < euler[i], "N = {}: Heun {} vs Euler {}", ns[i], heun[i], euler[i]);
    }
    for i in 1..ns.len() {
        assert!(euler[i] < euler[i - 1] && heun[i] < heun[i - 1], "both must shrink: {heun:?} {euler:?}");
    }
    // Rates over the last doubling: Heun ≥ 3× per halving of the step (second order), Euler ≤ 2.5×.
    let (h_rate, e_rate) = (heun[1] / heun[2], euler[1] / euler[2]);
    assert!(h_rate > 3.0 && h_rate > e_rate + 1.0, "rates Heun {h_rate}, Euler {e_rate}");
    assert!(euler[2] < 0.02 && heun[2] < 0.002, "{euler:?} {heun:?}");
}

/// With D* of a finite data set (point masses, s = 0), Heun carries noise onto the points.
#[test]
fn heun_with_the_empirical_denoiser_reproduces_training_points() {
    let pts = Tensor::randn(&[8, 3, 4, 4], 0.0, 0.5, 9, DType::F64).unwrap();
    let o = ExactGmmDenoiser::from_points(&pts).unwrap();
    let cfg = SamplerConfig { steps: 18, ..Default::default() };
    let x = no_grad(|| generate(&o, &[64, 3, 4, 4], DType::F64, Device::Cpu, &cfg, None, &mut Rng::new(2))).unwrap();
    let (xs, ps) = (x.value().to_vec_f64().unwrap(), pts.to_vec_f64().unwrap());
    let mut hits = [0usize; 8];
    for s in xs.chunks(48) {
        let d: Vec<f64> =
            ps.chunks(48).map(|p| p.iter().zip(s).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()).collect();
        let (k, best) = d.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        assert!(*best < 1e-2, "a sample is {best} from the nearest training point");
        hits[k] += 1;
    }
    assert!(hits.iter().filter(|&&h| h > 0).count() >= 6, "{hits:?}");
}

#[test]
fn class_conditional_oracle_samples_one_mode() {
    let (d, o) = oracle("ring");
    let cond = Cond::Class(Tensor::from_vec(vec![3i64; 500], &[500]).unwrap());
    let cfg = SamplerConfig::default();
    let x = no_grad(|| generate(&o, &[500, 2], DType::F64, Device::Cpu, &cfg, Some(&cond), &mut Rng::new(4))).unwrap();
    let m = mode_stats(&d, &points(&x), IN_MODE_K).unwrap();
    assert!(m.mass[3] > 0.97 && m.in_mode_rate > 0.97, "{:?}", m.mass);
}
