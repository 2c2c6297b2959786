//! The image-diffusion stack at `tiny` size: the U-Net's gradients reach every parameter, a run
//! learns (the loss on a fixed batch falls), resume is bit-exact, sampling is a pure function of
//! the seed, and single-file weights round-trip (f32 exactly, f16 closely).
use autograd::Var;
use models::edm::{Cond, EdmNetwork, SamplerConfig};
use models::image_diffusion::{
    train_image_diffusion, BatchSource, DataSpec, DataStats, ImageDiffusion, ImageTrainConfig,
};
use models::toy2d::RunOptions;
use models::unet::UNet;
use nn::ModuleExt;
use tensor::{DType, Rng, Tensor};

fn tiny(data: DataSpec, steps: u64) -> ImageTrainConfig {
    let mut c = ImageTrainConfig::preset("tiny", data).unwrap();
    c.steps = steps;
    c.stats_items = 64;
    c
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("r0ddo-imgdiff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Mean EDM loss per dimension of `m` on 4 fixed batches with fixed σ and noise.
fn fixed_loss(m: &ImageDiffusion, cfg: &ImageTrainConfig) -> f64 {
    let src = BatchSource::open(&cfg.data, 12345, 16).unwrap();
    let mut rng = Rng::new(7);
    let mut total = 0.0;
    for i in 0..4 {
        let b = src.batch(i, 16).unwrap();
        let y = Var::constant(m.card.stats.to_model(&b.images).unwrap());
        let out = autograd::no_grad(|| cfg.loss.loss(&m.model, &y, b.cond.as_ref(), None, &mut rng)).unwrap();
        total += out.loss.to_scalar_f64().unwrap() / (3.0 * 32.0 * 32.0);
    }
    total / 4.0
}

#[test]
fn every_unet_parameter_gets_a_gradient() {
    for data in [DataSpec::Shapes, DataSpec::ShapesCls] {
        let cfg = tiny(data, 1);
        let net = UNet::new(&cfg.net, &mut Rng::new(0)).unwrap();
        // Zero-initialised output layers block the gradient to everything before them at init;
        // perturb every parameter so the check sees the whole graph.
        let mut rng = Rng::new(1);
        for (_, p) in net.named_params() {
            let v = p.value();
            p.set(v.add(&rng.normal(v.shape(), 0.0, 0.05, v.dtype()).unwrap()).unwrap()).unwrap();
        }
        let src = BatchSource::open(&cfg.data, 0, 16).unwrap();
        let b = src.batch(0, 3).unwrap();
        let x = Var::constant(b.images.clone());
        let c_noise = Var::constant(Tensor::from_vec(vec![-0.5f32, 0.0, 0.7], &[3]).unwrap());
        let problems = nn::testing::check_all_params_get_grads(&net, || {
            net.forward(&x, &c_noise, b.cond.as_ref()).unwrap().square()?.mean_all()
        })
        .unwrap();
        assert!(problems.is_empty(), "{:?}: {problems:?}", cfg.data);
        // A condition of the wrong kind is an error, not a panic.
        let wrong = Cond::Class(Tensor::from_vec(vec![0i64; 3], &[3]).unwrap());
        if cfg.data == DataSpec::Shapes {
            assert!(net.forward(&x, &c_noise, Some(&wrong)).is_err());
        }
    }
}

#[test]
fn tiny_text_run_learns_resumes_exactly_and_samples_deterministically() {
    let cfg = tiny(DataSpec::Shapes, 60);
    let (dir_a, dir_b) = (tmp("a"), tmp("b"));
    // Untrained reference: the same network at initialisation.
    let src = BatchSource::open(&cfg.data, cfg.seed, 16).unwrap();
    let stats = DataStats::measure(&src, cfg.stats_items).unwrap();
    let (trained, report) = train_image_diffusion(&cfg, &dir_a, &RunOptions::default()).unwrap();
    assert_eq!(report.steps, 60);
    assert_eq!(trained.card.stats, stats, "statistics are a pure function of the data");
    let init = ImageDiffusion::new(trained.card.clone(), cfg.seed).unwrap();
    let (before, after) = (fixed_loss(&init, &cfg), fixed_loss(&trained, &cfg));
    assert!(after < 0.8 * before, "loss per dim {before:.4} → {after:.4}");

    // 30 steps, interrupt, resume to 60: bit-identical EMA weights.
    let stop = RunOptions { stop_after: Some(30), ..Default::default() };
    let (_, r) = train_image_diffusion(&cfg, &dir_b, &stop).unwrap();
    assert!(r.interrupted && r.steps == 30);
    let (resumed, r) = train_image_diffusion(&cfg, &dir_b, &RunOptions { resume: true, ..Default::default() }).unwrap();
    assert_eq!(r.steps, 60);
    let (a, b) = (trained.model.state_dict(), resumed.model.state_dict());
    for (k, t) in &a {
        assert_eq!(t.to_vec_f64().unwrap(), b[k].to_vec_f64().unwrap(), "{k} differs after resume");
    }

    // Sampling: a pure function of (seed, row, condition); chunking does not matter.
    let sampler = SamplerConfig { steps: 3, ..SamplerConfig::default() };
    let prompts = ["a red circle", "two blue squares", "a green cross above a yellow square"];
    let cond = trained.text_cond(&prompts).unwrap();
    let s1 = trained.sample(Some(&cond), 0, &sampler, 2.0, 5).unwrap();
    let s2 = trained.sample(Some(&cond), 0, &sampler, 2.0, 5).unwrap();
    let s3 = trained.sample(Some(&cond), 0, &sampler, 2.0, 6).unwrap();
    assert_eq!(s1.shape(), &[3, 3, 32, 32]);
    assert_eq!(s1.to_vec_f64().unwrap(), s2.to_vec_f64().unwrap());
    assert_ne!(s1.to_vec_f64().unwrap(), s3.to_vec_f64().unwrap());
    let v = s1.to_vec_f64().unwrap();
    assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)));
    let many: Vec<&str> = (0..34).map(|i| prompts[i % 3]).collect();
    let s4 = trained.sample(Some(&trained.text_cond(&many).unwrap()), 0, &sampler, 2.0, 5).unwrap();
    assert_eq!(s4.narrow(0, 0, 3).unwrap().to_vec_f64().unwrap(), v);

    // Weights files: f32 exact, f16 within half precision, and the card survives.
    let f32_path = dir_a.join("w32.safetensors");
    let f16_path = dir_a.join("w16.safetensors");
    trained.save(&f32_path, None).unwrap();
    trained.save(&f16_path, Some(DType::F16)).unwrap();
    let l32 = ImageDiffusion::load(&f32_path).unwrap();
    let l16 = ImageDiffusion::load(&f16_path).unwrap();
    assert_eq!(l32.card, trained.card);
    assert_eq!(l32.sample(Some(&cond), 0, &sampler, 2.0, 5).unwrap().to_vec_f64().unwrap(), v);
    let v16 = l16.sample(Some(&cond), 0, &sampler, 2.0, 5).unwrap().to_vec_f64().unwrap();
    let max_diff = v.iter().zip(&v16).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(max_diff < 0.05, "f16 weights change pixels by {max_diff}");
    assert!(std::fs::metadata(&f16_path).unwrap().len() < std::fs::metadata(&f32_path).unwrap().len());
    let stored = tensor::safetensors_io::load(&f16_path).unwrap();
    assert_eq!(stored["noise_emb.freqs"].dtype(), DType::F32, "fixed frequencies stay f32");
    assert_eq!(stored["stem.weight"].dtype(), DType::F16);
    // The training folder's own weights file is the same EMA model.
    let from_dir = ImageDiffusion::load(&dir_a.join("model.safetensors")).unwrap();
    assert_eq!(from_dir.card.steps, 60);
    let _ = (std::fs::remove_dir_all(&dir_a), std::fs::remove_dir_all(&dir_b));
}

#[test]
fn class_conditional_run_trains_and_samples_a_class() {
    let cfg = tiny(DataSpec::ShapesCls, 8);
    let dir = tmp("cls");
    let (m, r) = train_image_diffusion(&cfg, &dir, &RunOptions::default()).unwrap();
    assert!(r.final_loss_per_dim.is_finite());
    let cond = m.class_cond(&[0, 23]).unwrap();
    let s = m.sample(Some(&cond), 0, &SamplerConfig { steps: 2, ..Default::default() }, 1.5, 0).unwrap();
    assert_eq!(s.shape(), &[2, 3, 32, 32]);
    assert!(m.class_cond(&[24]).is_err(), "class ids beyond the table are rejected");
    assert!(m.text_cond(&["a red circle"]).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn data_specs_parse_and_reject_clearly() {
    assert_eq!(DataSpec::parse("shapes").unwrap(), DataSpec::Shapes);
    assert_eq!(DataSpec::parse("mnist:/data/mnist").unwrap(), DataSpec::Mnist("/data/mnist".into()));
    for bad in ["mnist", "cifar10", "imagenet", "shapes:x"] {
        let e = DataSpec::parse(bad).unwrap_err().to_string();
        assert!(e.contains("--data"), "{bad}: {e}");
    }
    assert!(ImageTrainConfig::preset("huge", DataSpec::Shapes).is_err());
    let missing = BatchSource::open(&DataSpec::Mnist("/nonexistent/dir".into()), 0, 16);
    assert!(missing.is_err());
}

/// A few synthetic MNIST digits (bars at a class-dependent row) in idx format.
fn write_fake_mnist(dir: &std::path::Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut img = vec![0, 0, 8, 3];
    for d in [n as u32, 28, 28] {
        img.extend(d.to_be_bytes());
    }
    let mut lab = vec![0, 0, 8, 1];
    lab.extend((n as u32).to_be_bytes());
    for i in 0..n {
        let class = i % 10;
        let mut px = vec![0u8; 28 * 28];
        for x in 4..24 {
            px[(2 + 2 * class) * 28 + x] = 255;
        }
        img.extend(px);
        lab.push(class as u8);
    }
    std::fs::write(dir.join("train-images-idx3-ubyte"), img).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), lab).unwrap();
}

#[test]
fn mnist_folders_train_a_one_channel_class_model() {
    let dir = tmp("mnist");
    write_fake_mnist(&dir.join("data"), 40);
    let cfg = tiny(DataSpec::parse(&format!("mnist:{}", dir.join("data").display())).unwrap(), 4);
    assert_eq!((cfg.net.img_channels, cfg.net.img_size), (1, 28));
    let (m, r) = train_image_diffusion(&cfg, &dir.join("run"), &RunOptions::default()).unwrap();
    assert!(r.final_loss_per_dim.is_finite() && r.steps == 4);
    let s =
        m.sample(Some(&m.class_cond(&[3, 9]).unwrap()), 0, &SamplerConfig { steps: 2, ..Default::default() }, 1.0, 0);
    assert_eq!(s.unwrap().shape(), &[2, 1, 28, 28]);
    // Items cycle through fresh permutations: every image of an epoch appears once.
    let src = BatchSource::open(&cfg.data, 0, 16).unwrap();
    let labels = |i| match src.batch(i, 20).unwrap().cond {
        Some(Cond::Class(t)) => t.to_vec_f64().unwrap(),
        _ => panic!("MNIST batches carry class labels"),
    };
    let mut epoch = [labels(0), labels(1)].concat();
    epoch.sort_by(f64::total_cmp);
    assert_eq!(epoch, (0..40).map(|i| (i / 4) as f64).collect::<Vec<_>>());
    assert_ne!(labels(2), labels(0), "the next epoch is another permutation");
    let _ = std::fs::remove_dir_all(&dir);
}
