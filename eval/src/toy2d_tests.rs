//! Tests of the 2-D metrics against closed forms and hand computations.
use super::*;

fn ring() -> Toy2d {
    Toy2d::from_name("ring").unwrap()
}

#[test]
fn true_samples_score_like_the_truth_on_ring_and_grid() {
    for name in ["ring", "grid"] {
        let d = Toy2d::from_name(name).unwrap();
        let xs = d.sample(20_000, 3);
        let m = mode_stats(&d, &xs, IN_MODE_K).unwrap();
        // 1 − e^{−4.5} = 0.98889; the binomial sd at N = 20 000 is 0.00074.
        assert!((m.expected_in_mode_rate - 0.988_891).abs() < 1e-6);
        assert!((m.in_mode_rate - m.expected_in_mode_rate).abs() < 0.003, "{name}: {}", m.in_mode_rate);
        // KL over modes of a multinomial sample is about (K − 1)/(2N): 2e-4 (ring), 6e-4 (grid).
        assert!(m.kl >= 0.0 && m.kl < 0.003, "{name}: KL {}", m.kl);
        assert_eq!(m.covered, m.n_modes, "{name}");
        for (mass, w) in m.mass.iter().zip(&m.weights) {
            assert!((mass - w * m.expected_in_mode_rate).abs() < 0.01, "{name}: {mass} vs {w}");
        }
    }
}

#[test]
fn dropped_and_collapsed_modes_are_caught() {
    let d = ring();
    let (xs, labels) = d.sample_labeled(8000, 4);
    let without_0: Vec<[f64; 2]> = xs.iter().zip(&labels).filter(|(_, &l)| l != 0).map(|(p, _)| *p).collect();
    let m = mode_stats(&d, &without_0, IN_MODE_K).unwrap();
    assert_eq!((m.covered, m.mass[0]), (7, 0.0));
    // q is uniform over 7 modes: KL(q ‖ w) = log(8/7).
    assert!((m.kl - (8.0f64 / 7.0).ln()).abs() < 0.01, "{}", m.kl);
    // Everything on one centre: rate 1, KL = log 8, one mode covered.
    let one = vec![[2.0, 0.0]; 100];
    let m = mode_stats(&d, &one, IN_MODE_K).unwrap();
    assert_eq!((m.in_mode_rate, m.covered), (1.0, 1));
    assert!((m.kl - 8f64.ln()).abs() < 1e-12);
    // Nothing near a mode.
    let m = mode_stats(&d, &[[0.0, 0.0]; 10], IN_MODE_K).unwrap();
    assert_eq!((m.in_mode_rate, m.covered, m.kl), (0.0, 0, f64::INFINITY));
    assert!(mode_stats(&Toy2d::from_name("moons").unwrap(), &xs, 3.0).is_err());
}

#[test]
fn mean_log_density_estimates_minus_entropy() {
    // Separated modes: H(p) = log 8 + log(2πeσ²), σ = 0.05.
    let d = ring();
    let minus_h = -(8f64.ln() + (2.0 * std::f64::consts::PI * std::f64::consts::E * 0.0025).ln());
    let ld = mean_log_density(&d, &d.sample(20_000, 5)).unwrap();
    // log p per sample is −log 8 − log(2πσ²) − χ²₂/2, whose sd is 1: SE 0.007.
    assert!((ld.mean - minus_h).abs() < 0.03, "{} vs {minus_h}", ld.mean);
    assert_eq!(ld.support_rate, 1.0);
    // Checkerboard: −log 8 on the board; one point off it makes the mean −∞.
    let cb = Toy2d::from_name("checkerboard").unwrap();
    let mut xs = cb.sample(99, 0);
    assert!((mean_log_density(&cb, &xs).unwrap().mean + 8f64.ln()).abs() < 1e-12);
    xs.push([-0.5, -1.5]); // row 0, column 1: a white cell
    let ld = mean_log_density(&cb, &xs).unwrap();
    assert_eq!(ld.mean, f64::NEG_INFINITY);
    assert!((ld.mean_on_support + 8f64.ln()).abs() < 1e-12 && (ld.support_rate - 0.99).abs() < 1e-12);
    assert!(mean_log_density(&cb, &[]).is_err());
}

#[test]
fn mmd_hand_case_and_behaviour() {
    // X = Y = {0, (d, 0)}: κ = exp(−d²/2h²); MMD²_u = κ + κ − 2(1 + κ)/2 = κ − 1 (hand computed).
    let x = [[0.0, 0.0], [1.5, 0.0]];
    let h = 0.7;
    let kappa = (-1.5f64 * 1.5 / (2.0 * h * h)).exp();
    let got = mmd2_rbf(&x, &x, &[h]).unwrap()[0];
    assert!((got - (kappa - 1.0)).abs() < 1e-15, "{got}");
    // Independent exact samples: near 0 at every bandwidth (the sd of MMD²_u is O(1/N), and the
    // mode counts fluctuate); a set shifted by 10σ: clearly positive.
    let d = ring();
    let (a, b) = (d.sample(1000, 1), d.sample(1000, 2));
    let shifted: Vec<[f64; 2]> = b.iter().map(|p| [p[0] + 0.5, p[1]]).collect();
    let same = mmd_report(&a, &b, &MmdOptions::default()).unwrap();
    let diff = mmd_report(&a, &shifted, &MmdOptions::default()).unwrap();
    assert_eq!(same.bandwidths.len(), 5);
    assert!(same.mmd2.iter().all(|v| v.abs() < 5e-3), "{same:?}");
    assert!(diff.sum > 5.0 * same.sum.abs() && diff.mmd2.iter().all(|v| *v > 0.0), "{diff:?} vs {same:?}");
    assert!((same.bandwidths[2] - same.median_distance).abs() < 1e-15);
    assert!(mmd2_rbf(&x, &x, &[0.0]).is_err() && mmd2_rbf(&x[..1], &x, &[1.0]).is_err());
}

#[test]
fn median_distance_by_hand() {
    // Distances among (0,0), (3,0), (0,4): 3, 4, 5 → median 4.
    assert_eq!(median_pairwise_distance(&[[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]]).unwrap(), 4.0);
}

#[test]
fn sliced_wasserstein_of_a_shift_is_its_length_over_root_two() {
    // Each direction θ moves every projection by θ·s, so W₂² = (θ·s)²; the mean of cos² over
    // equally spaced angles on [0, π) is exactly ½, hence SW = ‖s‖/√2.
    let xs = ring().sample(500, 6);
    let s = [0.3, -0.4];
    let ys: Vec<[f64; 2]> = xs.iter().map(|p| [p[0] + s[0], p[1] + s[1]]).collect();
    for m in [2, 7, 128] {
        let sw = sliced_wasserstein(&xs, &ys, m).unwrap();
        assert!((sw - 0.5 / 2f64.sqrt()).abs() < 1e-12, "M = {m}: {sw}");
    }
    assert!(sliced_wasserstein(&xs, &xs, 16).unwrap() < 1e-15);
    assert!(sliced_wasserstein(&xs, &[], 16).is_err() && sliced_wasserstein(&xs, &xs, 0).is_err());
}

#[test]
fn one_dimensional_w2_with_unequal_sizes_by_hand() {
    // Quantiles of {0, 1}: 0 on [0, ½), 1 on [½, 1); of {0, ½, 1}: 0, ½, 1 on thirds.
    // Squared gaps: ¼ on [⅓, ½) and on [½, ⅔): W₂² = 2 · ¼ · ⅙ = 1/12.
    let w = wasserstein2_1d_sq(&mut [1.0, 0.0], &mut [0.5, 1.0, 0.0]);
    assert!((w - 1.0 / 12.0).abs() < 1e-15, "{w}");
    // Equal sizes: the mean of squared sorted differences.
    let w = wasserstein2_1d_sq(&mut [3.0, 1.0], &mut [0.0, 5.0]);
    assert!((w - (1.0 + 4.0) / 2.0).abs() < 1e-15);
}

#[test]
fn evaluate_reports_floors_and_serialises() {
    let d = Toy2d::from_name("grid").unwrap();
    let good = d.sample(1500, 100);
    let r = evaluate(&d, &good, 7).unwrap();
    assert_eq!((r.n, r.distribution.as_str()), (1500, "grid"));
    assert!(r.modes.as_ref().is_some_and(|m| m.covered == 25));
    assert!(r.sliced_wasserstein < 3.0 * r.sliced_wasserstein_floor + 0.02, "{r:?}");
    // A blurred model (σ 0.05 → 0.3) scores worse on every axis.
    let blurred: Vec<[f64; 2]> = d.mixture().unwrap().convolved(0.3).unwrap().sample_labeled(1500, 100).0;
    let b = evaluate(&d, &blurred, 7).unwrap();
    assert!(b.log_density.mean < r.log_density.mean - 1.0);
    assert!(b.modes.as_ref().is_some_and(|m| m.in_mode_rate < 0.2));
    assert!(b.mmd.sum > r.mmd.sum && b.sliced_wasserstein > r.sliced_wasserstein);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"sliced_wasserstein\"") && json.contains("\"covered\":25"));
    let cb = evaluate(&Toy2d::from_name("checkerboard").unwrap(), &good, 0).unwrap();
    assert!(cb.modes.is_none());
    assert!(evaluate(&d, &[[f64::NAN, 0.0], [0.0, 0.0]], 0).is_err());
}
