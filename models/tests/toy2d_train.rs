//! Training the MLP denoiser on a 2-D toy: a short run must clearly beat a Gaussian fit of the
//! data, and an interrupted run must resume bit for bit.
use data::toy2d::Toy2d;
use eval::toy2d::{mean_log_density, mmd_report, mode_stats, MmdOptions, IN_MODE_K};
use models::mlp_denoiser::MlpDenoiserConfig;
use models::toy2d::{train_toy, RunOptions, ToyModel, ToyTrainConfig};
use nn::ModuleExt;
use tensor::{DType, Tensor};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("models-toy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Samples of the Gaussian with the data's mean and covariance: the trivial baseline.
fn gaussian_fit(dist: &Toy2d, n: usize) -> Vec<[f64; 2]> {
    let y = dist.sample(50_000, 77);
    let m = y.iter().fold([0.0; 2], |a, p| [a[0] + p[0] / 5e4, a[1] + p[1] / 5e4]);
    let mut c = [0.0; 3];
    for p in &y {
        let (a, b) = (p[0] - m[0], p[1] - m[1]);
        c = [c[0] + a * a / 5e4, c[1] + a * b / 5e4, c[2] + b * b / 5e4];
    }
    // Cholesky of [[c0, c1], [c1, c2]].
    let l00 = c[0].sqrt();
    let (l10, l11) = (c[1] / l00, (c[2] - c[1] * c[1] / c[0]).sqrt());
    let z = Tensor::randn(&[n, 2], 0.0, 1.0, 78, DType::F64).unwrap().to_vec_f64().unwrap();
    z.chunks(2).map(|z| [m[0] + l00 * z[0], m[1] + l10 * z[0] + l11 * z[1]]).collect()
}

#[test]
fn a_short_run_on_the_ring_clearly_beats_a_gaussian_fit() {
    let ring = Toy2d::from_name("ring").unwrap();
    let cfg =
        ToyTrainConfig { steps: 1000, batch: 512, lr: 1e-2, warmup: 100, t_ref: 250, seed: 0, ..Default::default() };
    let dir = temp_dir("ring");
    let (model, report) = train_toy(&ring, &cfg, &dir, &RunOptions::default()).unwrap();
    let xs = model.sample(2000, 5, &cfg.sampler).unwrap();
    let base = gaussian_fit(&ring, 2000);
    let (m, mb) = (mode_stats(&ring, &xs, IN_MODE_K).unwrap(), mode_stats(&ring, &base, IN_MODE_K).unwrap());
    let (ld, ldb) = (mean_log_density(&ring, &xs).unwrap(), mean_log_density(&ring, &base).unwrap());
    let truth = ring.sample(2000, 6);
    let mmd = |x: &[[f64; 2]]| mmd_report(x, &truth, &MmdOptions::default()).unwrap().sum;
    let (mmd_model, mmd_base) = (mmd(&xs), mmd(&base));
    eprintln!(
        "ring, {} steps in {:.1}s: loss {:.3}, in-mode {:.3} (Gaussian fit {:.3}), covered {}/8, mean log p {:.2} \
         (Gaussian fit {:.1}), MMD² {:.2e} (Gaussian fit {:.2e}); loss by ln σ {:?}",
        report.steps,
        report.seconds,
        report.final_loss,
        m.in_mode_rate,
        mb.in_mode_rate,
        m.covered,
        ld.mean,
        ldb.mean,
        mmd_model,
        mmd_base,
        report.loss_by_sigma.iter().map(|b| (b.2 * 100.0).round() / 100.0).collect::<Vec<_>>()
    );
    // The Gaussian fit puts ≈ 2% of its samples in a mode and has mean log p ≈ −100 or lower.
    assert!(m.in_mode_rate > 0.5 && mb.in_mode_rate < 0.1, "in-mode {} vs {}", m.in_mode_rate, mb.in_mode_rate);
    assert!(m.covered >= 6, "covered {}", m.covered);
    assert!(ld.mean > ldb.mean + 50.0, "mean log p {} vs {}", ld.mean, ldb.mean);
    assert!(mmd_model < 0.2 * mmd_base, "MMD² {mmd_model} vs {mmd_base}");
    // The loss fell from ≈ 2 (F ≈ 0) and no gradient needed repair.
    assert!(report.final_loss < 1.6 && report.nonfinite_grads == 0, "{report:?}");
    let _ = std::fs::remove_dir_all(dir);
}

fn weights(m: &ToyModel) -> Vec<(String, Vec<f64>)> {
    m.precond.state_dict().into_iter().map(|(k, t)| (k, t.to_vec_f64().unwrap())).collect()
}

#[test]
fn an_interrupted_run_resumes_bit_for_bit() {
    let grid = Toy2d::from_name("grid").unwrap();
    let net = MlpDenoiserConfig { hidden: 16, layers: 2, emb_dim: 8, ..Default::default() };
    let cfg =
        ToyTrainConfig { steps: 30, batch: 64, warmup: 5, t_ref: 10, checkpoint_every: 10, net, ..Default::default() };
    let (a_dir, b_dir) = (temp_dir("a"), temp_dir("b"));
    let (a, ra) = train_toy(&grid, &cfg, &a_dir, &RunOptions::default()).unwrap();
    let stop = RunOptions { stop_after: Some(17), ..Default::default() };
    let (_, rb) = train_toy(&grid, &cfg, &b_dir, &stop).unwrap();
    assert!(rb.interrupted && rb.steps == 17, "{rb:?}");
    let (b, rb) = train_toy(&grid, &cfg, &b_dir, &RunOptions { resume: true, ..Default::default() }).unwrap();
    assert!(!rb.interrupted && rb.steps == 30 && !ra.interrupted);
    assert_eq!(weights(&a), weights(&b));
    // The checkpoint's EMA weights are the returned model, with the same data scale.
    let (loaded, saved_cfg) = ToyModel::load(&b_dir).unwrap();
    assert_eq!(weights(&loaded), weights(&b));
    assert_eq!((saved_cfg, loaded.data_scale), (cfg.clone(), b.data_scale));
    assert_eq!(a.sample(50, 1, &cfg.sampler).unwrap(), loaded.sample(50, 1, &cfg.sampler).unwrap());
    // A resume with another configuration is refused.
    let other = ToyTrainConfig { lr: 5e-3, ..cfg.clone() };
    assert!(train_toy(&grid, &other, &b_dir, &RunOptions { resume: true, ..Default::default() }).is_err());
    let bad = ToyTrainConfig { batch: 0, ..cfg };
    assert!(train_toy(&grid, &bad, &temp_dir("bad"), &RunOptions::default()).is_err());
    let _ = std::fs::remove_dir_all(a_dir);
    let _ = std::fs::remove_dir_all(b_dir);
}
