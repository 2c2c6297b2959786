//! EDM's formulas: preconditioning, the loss and its F-form identity, the σ schedule's golden
//! values, the η-step, NFE counts, determinism, and gradients through the network, the loss and
//! the samplers.
use autograd::gradcheck::{gradcheck, Tolerance};
use autograd::{no_grad, Var};
use models::edm::*;
use models::mlp_denoiser::{MlpDenoiser, MlpDenoiserConfig};
use nn::{GradSet, ModuleExt, Param};
use tensor::{DType, Device, Rng, Tensor};

fn t64(v: &[f64], shape: &[usize]) -> Var {
    Var::constant(Tensor::from_vec(v.to_vec(), shape).unwrap())
}

fn vals(v: &Var) -> Vec<f64> {
    v.to_vec_f64().unwrap()
}

fn max_diff(a: &Var, b: &Var) -> f64 {
    vals(a).iter().zip(vals(b)).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// A small MLP denoiser in f64 (for exact identities and gradient checks).
fn mlp64(seed: u64, classes: Option<usize>) -> EdmPrecond<MlpDenoiser> {
    let cfg = MlpDenoiserConfig { hidden: 16, layers: 2, emb_dim: 8, num_classes: classes, ..Default::default() };
    let m = EdmPrecond::new(MlpDenoiser::new(&cfg, &mut Rng::new(seed)).unwrap(), 0.5).unwrap();
    m.cast(DType::F64).unwrap();
    m
}

fn batch(b: usize, seed: u64) -> (Var, Var, Var) {
    let mut rng = Rng::new(seed);
    let y = Var::constant(rng.normal(&[b, 2], 0.0, 0.5, DType::F64).unwrap());
    let sigma = Var::constant(EdmLoss::default().sample_sigma(b, DType::F64, &mut rng).unwrap());
    let n = Var::constant(rng.normal(&[b, 2], 0.0, 1.0, DType::F64).unwrap());
    (y, sigma, n)
}

#[test]
fn coefficients_match_the_formulas_and_limits() {
    let sd = 0.5;
    for s in [0.002, 0.1, 0.5, 3.0, 80.0] {
        let k = Coeffs::new(&t64(&[s], &[1]), sd).unwrap();
        let got = [&k.c_skip, &k.c_out, &k.c_in, &k.c_noise].map(|v| vals(v)[0]);
        let want = [c_skip(s, sd), c_out(s, sd), c_in(s, sd), c_noise(s)];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-14 * w.abs().max(1.0), "σ = {s}: {got:?} vs {want:?}");
        }
        // c_skip² σ_d² ... the unit-variance conditions of EDM's derivation:
        // Var(c_in·x) = c_in²(σ_d² + σ²) = 1 and Var(F̂) = (1 − c_skip)²σ_d² + c_skip²σ²)/c_out² = 1.
        assert!((c_in(s, sd).powi(2) * (sd * sd + s * s) - 1.0).abs() < 1e-12);
        let var_target =
            ((1.0 - c_skip(s, sd)).powi(2) * sd * sd + c_skip(s, sd).powi(2) * s * s) / c_out(s, sd).powi(2);
        assert!((var_target - 1.0).abs() < 1e-9, "σ = {s}: {var_target}");
        assert!((lambda(s, sd) * c_out(s, sd).powi(2) - 1.0).abs() < 1e-12);
    }
    assert!((c_skip(1e-9, sd) - 1.0).abs() < 1e-15 && c_out(1e-9, sd) < 2e-9);
    assert!(c_skip(1e6, sd) < 1e-12 && (c_in(1e6, sd) * 1e6 - 1.0).abs() < 1e-9);
    // D → x as σ → 0, for any network output.
    let m = mlp64(1, None);
    let x = t64(&[0.3, -1.2, 2.0, 0.1], &[2, 2]);
    let d = m.denoise(&x, &t64(&[1e-9, 1e-9], &[2]), None).unwrap();
    assert!(max_diff(&d, &x) < 1e-8);
}

#[test]
fn preconditioning_round_trips_the_target() {
    // c_skip·x + c_out·F̂ = y, and D built on an F that outputs exactly F̂ returns y.
    let m = mlp64(2, None);
    let (y, sigma, n) = batch(64, 3);
    let (f_hat, x) = m.target(&y, &sigma, &n).unwrap();
    let k = Coeffs::new(&sigma, 0.5).unwrap();
    let back = x
        .mul(&k.c_skip.reshape(&[64, 1]).unwrap())
        .unwrap()
        .add(&f_hat.mul(&k.c_out.reshape(&[64, 1]).unwrap()).unwrap())
        .unwrap();
    assert!(max_diff(&back, &y) < 1e-12, "{}", max_diff(&back, &y));
}

/// F* = (D* − c_skip·x)/c_out of the exact mixture, recovering x and σ from what F receives.
/// EdmPrecond over it must give D* back: this pins c_in·x (not x) and c_noise = ¼ ln σ.
struct InverseOracle {
    oracle: ExactGmmDenoiser,
    sigma_data: f64,
}

impl EdmNetwork for InverseOracle {
    fn forward(&self, x_in: &Var, c_noise: &Var, cond: Option<&Cond>) -> models::Result<Var> {
        let sigma = c_noise.mul_scalar(4.0)?.exp()?;
        let k = Coeffs::new(&sigma, self.sigma_data)?;
        let x = x_in.div(&k.c_in.reshape(&[x_in.shape()[0], 1])?)?;
        let d = self.oracle.denoise(&x, &sigma, cond)?;
        let r = |v: &Var| v.reshape(&[x_in.shape()[0], 1]);
        Ok(d.sub(&x.mul(&r(&k.c_skip)?)?)?.div(&r(&k.c_out)?)?)
    }
}

#[test]
fn precond_feeds_c_in_x_and_quarter_log_sigma() {
    let ring = data::toy2d::Toy2d::from_name("ring").unwrap();
    let oracle = ExactGmmDenoiser::from_mixture(ring.mixture().unwrap(), 1.0).unwrap();
    let wrapped = EdmPrecond::new(InverseOracle { oracle: oracle.clone(), sigma_data: 1.3 }, 1.3).unwrap();
    let mut rng = Rng::new(4);
    let x = Var::constant(rng.normal(&[32, 2], 0.0, 2.0, DType::F64).unwrap());
    for s in [0.01, 0.3, 2.0, 40.0] {
        let sigma = sigma_full(32, s, DType::F64).unwrap();
        let (a, b) = (wrapped.denoise(&x, &sigma, None).unwrap(), oracle.denoise(&x, &sigma, None).unwrap());
        assert!(max_diff(&a, &b) < 1e-9 * (1.0 + s), "σ = {s}: {}", max_diff(&a, &b));
    }
}

#[test]
fn f_form_equals_weighted_d_form_and_loss_is_a_per_sample_sum() {
    let m = mlp64(5, None);
    let (y, sigma, n) = batch(50, 6);
    let f_form = m.per_sample_loss(&y, &sigma, &n, None).unwrap();
    let d_form = weighted_denoising_loss(&m, &y, &sigma, &n, None, 0.5).unwrap();
    assert_eq!(f_form.shape(), &[50]);
    for (a, b) in vals(&f_form).iter().zip(vals(&d_form)) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
    }
    // The sum over the two dims, by hand.
    let (f_hat, x) = m.target(&y, &sigma, &n).unwrap();
    let (f, _) = m.raw(&x, &sigma, None).unwrap();
    let sq: Vec<f64> = vals(&f.sub(&f_hat).unwrap().square().unwrap());
    for (i, l) in vals(&f_form).iter().enumerate() {
        assert!((l - (sq[2 * i] + sq[2 * i + 1])).abs() < 1e-12);
    }
    // Same (σ, n): the same bits.
    assert_eq!(vals(&f_form), vals(&m.per_sample_loss(&y, &sigma, &n, None).unwrap()));
    // The batch loss is the mean of the per-sample sums, and EdmLoss draws σ then n from the rng.
    let out = EdmLoss::default().loss(&m, &y, None, None, &mut Rng::new(9)).unwrap();
    let mut rng = Rng::new(9);
    let s2 = EdmLoss::default().sample_sigma(50, DType::F64, &mut rng).unwrap();
    let n2 = Var::constant(rng.normal(&[50, 2], 0.0, 1.0, DType::F64).unwrap());
    let want = m.per_sample_loss(&y, &Var::constant(s2), &n2, None).unwrap();
    assert_eq!(vals(&out.per_sample), vals(&want));
    let mean = vals(&want).iter().sum::<f64>() / 50.0;
    assert!((out.loss.to_scalar_f64().unwrap() - mean).abs() < 1e-12);
}

#[test]
fn sigma_distribution_is_log_normal() {
    let s = EdmLoss::default().sample_sigma(40_000, DType::F64, &mut Rng::new(1)).unwrap().to_vec_f64().unwrap();
    let l: Vec<f64> = s.iter().map(|v| v.ln()).collect();
    let mean = l.iter().sum::<f64>() / l.len() as f64;
    let sd = (l.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / l.len() as f64).sqrt();
    assert!((mean - P_MEAN).abs() < 0.02 && (sd - P_STD).abs() < 0.02, "{mean} {sd}");
}

#[test]
fn schedule_golden_values() {
    let round = |v: &[f64]| v.iter().map(|x| (x * 1e4).round() / 1e4).collect::<Vec<_>>();
    let s18 = sigma_schedule(18, 0.002, 80.0, 7.0).unwrap();
    let want18 = [
        80.0, 57.586, 40.7856, 28.3746, 19.3525, 12.9101, 8.4009, 5.3152, 3.2568, 1.9233, 1.0882, 0.5853, 0.2964,
        0.1395, 0.0599, 0.0229, 0.0075, 0.002, 0.0,
    ];
    assert_eq!(round(&s18), want18.to_vec());
    let s10 = sigma_schedule(10, 0.002, 80.0, 7.0).unwrap();
    let want10 = [80.0, 42.4152, 21.1087, 9.7232, 4.0661, 1.5017, 0.47, 0.1166, 0.0204, 0.002, 0.0];
    assert_eq!(round(&s10), want10.to_vec());
    assert_eq!(round(&eta_sigmas(4, 0.002, 80.0, 7.0).unwrap()), vec![80.0, 17.5278, 2.5152, 0.1698]);
    assert_eq!(round(&eta_sigmas(2, 0.002, 80.0, 7.0).unwrap()), vec![80.0, 2.5152]);
    assert_eq!(sigma_schedule(1, 0.002, 80.0, 7.0).unwrap(), vec![80.0, 0.0]);
    assert!(sigma_schedule(0, 0.002, 80.0, 7.0).is_err());
    assert!(sigma_schedule(5, 0.0, 80.0, 7.0).is_err());
    assert!(sigma_schedule(5, 1.0, 0.5, 7.0).is_err());
}

#[test]
fn eta_zero_is_euler_and_eta_one_renoises() {
    let mut rng = Rng::new(11);
    let x = Var::constant(rng.normal(&[16, 2], 0.0, 3.0, DType::F64).unwrap());
    let x0 = Var::constant(rng.normal(&[16, 2], 0.0, 1.0, DType::F64).unwrap());
    let xi = Var::constant(rng.normal(&[16, 2], 0.0, 1.0, DType::F64).unwrap());
    let (s, s1) = (2.5, 0.7);
    let euler = x.add(&x.sub(&x0).unwrap().mul_scalar((s1 - s) / s).unwrap()).unwrap();
    let e0 = eta_step(&x, &x0, s, s1, &Eta::Fixed(0.0), &xi).unwrap();
    assert!(max_diff(&e0, &euler) < 1e-12);
    let zeros = Eta::PerSample(Tensor::zeros(&[16], DType::F32));
    assert!(max_diff(&eta_step(&x, &x0, s, s1, &zeros, &xi).unwrap(), &euler) < 1e-12);
    let e1 = eta_step(&x, &x0, s, s1, &Eta::Fixed(1.0), &xi).unwrap();
    assert!(max_diff(&e1, &x0.add(&xi.mul_scalar(s1).unwrap()).unwrap()) < 1e-12);
    // Per-sample η: row i uses η_i.
    let etas: Vec<f64> = (0..16).map(|i| i as f64 / 15.0).collect();
    let mixed = eta_step(&x, &x0, s, s1, &Eta::PerSample(Tensor::from_vec(etas.clone(), &[16]).unwrap()), &xi).unwrap();
    for (i, &e) in etas.iter().enumerate() {
        let one = eta_step(&x, &x0, s, s1, &Eta::Fixed(e), &xi).unwrap();
        assert!((vals(&mixed)[2 * i] - vals(&one)[2 * i]).abs() < 1e-12);
    }
    assert!(eta_step(&x, &x0, s, s1, &Eta::Fixed(1.5), &xi).is_err());
    assert!(eta_step(&x, &x0, 0.0, s1, &Eta::Fixed(0.5), &xi).is_err());
}

#[test]
fn eta_sampler_at_eta_zero_is_euler_to_zero_and_nfe_counts() {
    let ring = data::toy2d::Toy2d::from_name("ring").unwrap();
    let oracle = CountEvals::new(ExactGmmDenoiser::from_mixture(ring.mixture().unwrap(), 1.0).unwrap());
    let noise = Var::constant(Tensor::randn(&[200, 2], 0.0, 1.0, 3, DType::F64).unwrap());
    let k_sigmas = eta_sigmas(4, 0.002, 80.0, 7.0).unwrap();
    let etas = vec![Eta::Fixed(0.0); 3];
    let a = eta_sample(&oracle, &noise, &k_sigmas, &etas, None, &mut Rng::new(0)).unwrap();
    assert_eq!(oracle.calls(), 4);
    let mut grid = k_sigmas.clone();
    grid.push(0.0);
    let b = solve(&oracle, &noise, &grid, Solver::Euler, None, None).unwrap();
    assert!(max_diff(&a, &b) < 1e-12);
    assert_eq!(oracle.calls(), 8);
    // Heun: 2N − 1 evaluations (no correction on the last step); Euler: N.
    let cfg = SamplerConfig { steps: 10, ..Default::default() };
    let before = oracle.calls();
    generate(&oracle, &[5, 2], DType::F64, Device::Cpu, &cfg, None, &mut Rng::new(1)).unwrap();
    assert_eq!(oracle.calls() - before, 19);
    let before = oracle.calls();
    generate(
        &oracle,
        &[5, 2],
        DType::F64,
        Device::Cpu,
        &SamplerConfig { solver: Solver::Euler, ..cfg },
        None,
        &mut Rng::new(1),
    )
    .unwrap();
    assert_eq!(oracle.calls() - before, 10);
}

#[test]
fn sampling_is_deterministic_per_seed() {
    let m = mlp64(7, None);
    let cfg = SamplerConfig { steps: 6, sigma_max: 10.0, ..Default::default() };
    let run =
        |seed| no_grad(|| generate(&m, &[64, 2], DType::F64, Device::Cpu, &cfg, None, &mut Rng::new(seed))).unwrap();
    assert_eq!(vals(&run(3)), vals(&run(3)));
    assert_ne!(vals(&run(3)), vals(&run(4)));
    let churn = Churn { s_churn: 10.0, s_min: 0.05, s_max: 50.0, s_noise: 1.003 };
    let cfg = SamplerConfig { churn: Some(churn), ..cfg };
    let churned =
        |seed| no_grad(|| generate(&m, &[64, 2], DType::F64, Device::Cpu, &cfg, None, &mut Rng::new(seed))).unwrap();
    assert_eq!(vals(&churned(5)), vals(&churned(5)));
    assert_ne!(vals(&churned(5)), vals(&run(5)), "churn adds noise");
}

fn oracle_classes() -> ExactGmmDenoiser {
    ExactGmmDenoiser::new(&[vec![-1.0, 0.0], vec![1.0, 0.5], vec![0.0, 2.0]], &[0.2, 0.5, 0.3], &[0.1, 0.2, 0.05])
        .unwrap()
}

#[test]
fn every_parameter_gets_a_gradient_through_loss_and_samplers() {
    for classes in [None, Some(3)] {
        let m = mlp64(12, classes);
        let cond = classes.map(|_| Cond::Class(Tensor::from_vec(vec![0i64, 1, 2, 3, 1, 0, 2, 3], &[8]).unwrap()));
        let (y, sigma, n) = batch(8, 13);
        let p = nn::testing::check_all_params_get_grads(&m, || {
            m.per_sample_loss(&y, &sigma, &n, cond.as_ref()).and_then(|l| Ok(l.mean_all()?)).map_err(tensor_err)
        })
        .unwrap();
        assert!(p.is_empty(), "{p:?}");
    }
    // R0 backpropagates through a few-step η-sampler; the EDM sampler works with gradients too.
    let m = mlp64(14, None);
    let noise = Var::constant(Tensor::randn(&[8, 2], 0.0, 1.0, 1, DType::F64).unwrap());
    let p = nn::testing::check_all_params_get_grads(&m, || {
        let etas = [Eta::Fixed(0.5), Eta::PerSample(Tensor::rand_uniform(&[8], 0.0, 1.0, 2, DType::F64).unwrap())];
        let x = eta_sample(&m, &noise, &eta_sigmas(3, 0.002, 10.0, 7.0).unwrap(), &etas, None, &mut Rng::new(3));
        x.and_then(|x| Ok(x.square()?.mean_all()?)).map_err(tensor_err)
    })
    .unwrap();
    assert!(p.is_empty(), "{p:?}");
    let cfg = SamplerConfig { steps: 3, sigma_max: 5.0, ..Default::default() };
    let x = generate(&m, &[8, 2], DType::F64, Device::Cpu, &cfg, None, &mut Rng::new(4)).unwrap();
    let grads = x.square().unwrap().mean_all().unwrap().backward().unwrap();
    assert_eq!(GradSet::collect(&m.trainable_params(), &grads).items.len(), m.trainable_params().len());
}

fn tensor_err(e: models::Error) -> tensor::Error {
    tensor::Error::invalid("test", e.to_string())
}

#[test]
fn gradchecks_of_network_loss_and_sampler_in_f64() {
    let tol = Tolerance { eps: 1e-6, atol: 1e-6, rtol: 1e-4 };
    let m = mlp64(15, None);
    let (y, sigma, n) = batch(4, 16);
    // D and the per-sample loss w.r.t. their inputs.
    let r = gradcheck(|v| m.denoise(&v[0], &sigma, None).map_err(tensor_err), &[y.value().clone()], tol).unwrap();
    assert!(r.passed(), "{:?}", r.failures);
    let r = gradcheck(
        |v| m.per_sample_loss(&v[0], &sigma, &v[1], None).map_err(tensor_err),
        &[y.value().clone(), n.value().clone()],
        tol,
    )
    .unwrap();
    assert!(r.passed(), "{:?}", r.failures);
    // The exact mixture denoiser and a 3-step η-sampler on it, w.r.t. the starting noise.
    let o = oracle_classes();
    let r = gradcheck(|v| o.denoise(&v[0], &sigma, None).map_err(tensor_err), &[y.value().clone()], tol).unwrap();
    assert!(r.passed(), "{:?}", r.failures);
    let sig = [3.0, 0.8, 0.2];
    let sampler = |v: &[Var]| {
        eta_sample(&o, &v[0], &sig, &[Eta::Fixed(0.3), Eta::Fixed(0.0)], None, &mut Rng::new(5)).map_err(tensor_err)
    };
    let r = gradcheck(sampler, &[n.value().clone()], tol).unwrap();
    assert!(r.passed(), "{:?}", r.failures);
}

#[test]
fn nonfinite_gradients_are_replaced_and_counted() {
    let p = Param::new(Tensor::zeros(&[4], DType::F32));
    let g = Tensor::from_vec(vec![1.0f32, f32::NAN, f32::INFINITY, f32::NEG_INFINITY], &[4]).unwrap();
    let mut set = GradSet { items: vec![("p".into(), p, g)] };
    assert_eq!(sanitize_grads(&mut set).unwrap(), 3);
    assert_eq!(set.items[0].2.to_vec_f64().unwrap(), vec![1.0, 0.0, 1e5, -1e5]);
    assert_eq!(sanitize_grads(&mut set).unwrap(), 0);
}

#[test]
fn loss_buckets_bin_by_log_sigma() {
    let mut b = LossBuckets::new(&EdmLoss::default(), 4);
    // Edges in ln σ: −3.6, −2.4, −1.2, 0, 1.2.
    let s = Tensor::from_vec(vec![(-5.0f64).exp(), (-2.0f64).exp(), 0.5f64.exp(), 9.0f64.exp()], &[4]).unwrap();
    b.add(&s, &Tensor::from_vec(vec![1.0, 2.0, 3.0, 5.0], &[4]).unwrap()).unwrap();
    assert_eq!(b.counts, vec![1, 1, 0, 2]);
    let m = b.means();
    assert_eq!((m[0], m[1], m[3]), (1.0, 2.0, 4.0));
    assert!(m[2].is_nan());
}

#[test]
fn bad_arguments_are_errors() {
    let m = mlp64(17, None);
    let x = t64(&[0.0; 6], &[3, 2]);
    assert!(m.denoise(&x, &t64(&[1.0, 1.0], &[2]), None).is_err());
    assert!(m.denoise(&x, &Var::constant(Tensor::ones(&[3], DType::F32)), None).is_err());
    assert!(m.denoise(&t64(&[0.0; 6], &[2, 3]), &t64(&[1.0; 2], &[2]), None).is_err());
    let cond = Cond::Class(Tensor::zeros(&[3], DType::I64));
    assert!(m.denoise(&x, &t64(&[1.0; 3], &[3]), Some(&cond)).is_err(), "unconditional net with a condition");
    assert!(EdmPrecond::new(m.net.clone(), 0.0).is_err());
    assert!(solve(&m, &x, &[1.0, 2.0, 0.0], Solver::Heun, None, None).is_err());
    assert!(eta_sample(&m, &x, &[2.0, 1.0], &[], None, &mut Rng::new(0)).is_err());
    assert!(m.per_sample_loss(&x, &t64(&[1.0; 3], &[3]), &t64(&[0.0; 4], &[2, 2]), None).is_err());
    assert!(ExactGmmDenoiser::new(&[vec![0.0, 0.0]], &[1.0, 1.0], &[0.1]).is_err());
    let o = oracle_classes();
    let bad = Cond::Class(Tensor::from_vec(vec![7i64, 0, 0], &[3]).unwrap());
    assert!(o.denoise(&x, &t64(&[1.0; 3], &[3]), Some(&bad)).is_err());
}
