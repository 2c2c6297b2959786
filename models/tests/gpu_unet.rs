//! The U-Net on a GPU against the CPU (skipped without one; `REQUIRE_GPU=1` makes that a failure):
//! one EDM training step of the shipped teacher's architecture (loss, every gradient through
//! Adam's update) and a short guided sampling run of the shipped teacher.
#![cfg(feature = "cuda")]
use autograd::{no_grad, Var};
use models::edm::{SamplerConfig, Solver};
use models::image_diffusion::{BatchSource, DataSpec, DataStats, ImageDiffusion, ImageTrainConfig};
use models::unet::UNet;
use nn::optim::{Adam, GradSet, Optimizer};
use nn::ModuleExt;
use std::path::Path;
use tensor::{Device, Rng, Tensor};

const TEACHER: &[u8] = include_bytes!("../../weights/teacher.safetensors");

fn gpu_or_skip() -> Option<Device> {
    match Tensor::zeros_on(&[1], tensor::DType::F32, Device::Cuda(0)) {
        Ok(_) => Some(Device::Cuda(0)),
        Err(e) if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") => panic!("REQUIRE_GPU=1 but: {e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Largest |a − b| over two tensors of one shape, and the largest |b|.
fn max_diff(a: &Tensor, b: &Tensor) -> (f64, f64) {
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).fold((0.0f64, 0.0f64), |(d, m), (x, y)| (d.max((x - y).abs()), m.max(y.abs())))
}

#[test]
fn one_training_step_matches_the_cpu() {
    let Some(dev) = gpu_or_skip() else { return };
    let mut cfg = ImageTrainConfig::preset("small", DataSpec::Shapes).unwrap();
    cfg.batch = 8;
    let source = BatchSource::open(&cfg.data, 0, 16).unwrap();
    let stats = DataStats::measure(&source, 256).unwrap();
    let build =
        || models::edm::EdmPrecond::new(UNet::new(&cfg.net, &mut Rng::new(3)).unwrap(), stats.sigma_data).unwrap();
    let (cpu, gpu) = (build(), build());
    gpu.net.to_device(dev).unwrap();
    let batch = source.batch(0, cfg.batch).unwrap();
    let mut after = Vec::new();
    for (model, device) in [(&cpu, Device::Cpu), (&gpu, dev)] {
        let y = Var::constant(stats.to_model(&batch.images).unwrap().to_device(device).unwrap());
        let out = cfg.loss.loss(model, &y, batch.cond.as_ref(), None, &mut Rng::new(11)).unwrap();
        let params = model.trainable_params();
        let grads = GradSet::collect(&params, &out.loss.backward().unwrap());
        let mut opt = Adam::new(1e-3, (0.9, 0.999), 1e-8, 0.0);
        opt.step(&grads).unwrap();
        after.push((out.loss.value().to_scalar_f64().unwrap(), grads, model.state_dict()));
    }
    let (l_cpu, l_gpu) = (after[0].0, after[1].0);
    assert!((l_cpu - l_gpu).abs() <= 1e-4 * l_cpu.abs(), "loss: cpu {l_cpu} gpu {l_gpu}");
    for ((name, _, g_cpu), (_, _, g_gpu)) in after[0].1.items.iter().zip(&after[1].1.items) {
        let (d, m) = max_diff(g_gpu, g_cpu);
        assert!(d <= 1e-3 * m.max(1e-3), "gradient of {name}: max diff {d}, max |g| {m}");
    }
    // Adam's first step moves a weight by lr·g/(|g| + ε) ≈ ±lr = 1e-3 whatever |g| is, so a
    // gradient element near zero whose sign differs between the devices (another summation order)
    // legitimately moves 2·lr apart. Where |g| is well above the gradients' tolerance the signs
    // agree and so must the updates; elsewhere an update can only be within ±lr.
    let cpu_grads: std::collections::HashMap<&str, Vec<f64>> =
        after[0].1.items.iter().map(|(n, _, g)| (n.as_str(), g.to_vec_f64().unwrap())).collect();
    for ((name, p_cpu), (_, p_gpu)) in after[0].2.iter().zip(&after[1].2) {
        assert_eq!(p_gpu.device(), dev, "{name} left the GPU");
        let (a, b) = (p_gpu.to_vec_f64().unwrap(), p_cpu.to_vec_f64().unwrap());
        let g = cpu_grads.get(name.as_str());
        let sure = g.map(|g| 10.0 * 1e-3 * g.iter().fold(1e-3f64, |m, v| m.max(v.abs())));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let d = (x - y).abs();
            match (g, sure) {
                (Some(g), Some(t)) if g[i].abs() <= t => {
                    assert!(d <= 2e-3 + 1e-6, "{name}[{i}] after one Adam step: diff {d} (|g| {})", g[i].abs())
                }
                _ => assert!(d <= 2e-4, "{name}[{i}] after one Adam step: diff {d}"),
            }
        }
    }
}

#[test]
fn guided_sampling_matches_the_cpu() {
    let Some(dev) = gpu_or_skip() else { return };
    let (cpu, gpu) = (
        ImageDiffusion::from_bytes(TEACHER, Path::new("teacher")).unwrap(),
        ImageDiffusion::from_bytes(TEACHER, Path::new("teacher")).unwrap(),
    );
    gpu.to_device(dev).unwrap();
    assert_eq!(gpu.device(), dev);
    let sampler = SamplerConfig { steps: 6, solver: Solver::Heun, ..SamplerConfig::default() };
    let prompts = ["a red circle left of a blue square", "two green triangles"];
    let run =
        |m: &ImageDiffusion| no_grad(|| m.sample(Some(&m.text_cond(&prompts).unwrap()), 2, &sampler, 4.0, 5)).unwrap();
    let (a, b) = (run(&cpu), run(&gpu));
    assert_eq!(b.device(), Device::Cpu, "images come back to the host");
    let (d, _) = max_diff(&b, &a);
    assert!(d <= 2e-3, "images differ by up to {d}");
}
