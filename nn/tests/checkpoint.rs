//! Checkpoints: round trips, dtype casts, validation that reports every problem at once, atomic
//! writes, the `latest` pointer, and the training loop's stop paths (Ctrl-C-like stop, NaN).
use nn::checkpoint::{load_state_dict, save_tensors};
use nn::training::{run_loop, LoopConfig, LoopEnd, StepStats};
use nn::{load_module, save_module, CheckpointDir, Error, Module, OptimState, Param, TrainState, Visitor};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tensor::{DType, Rng, Tensor};

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("r0ddo-nn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

struct Model {
    a: Param,
    b: Param,
}
impl Module for Model {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("layer.a", &self.a);
        v.param("layer.b", &self.b);
    }
}
fn model(seed: u64) -> Model {
    Model {
        a: Param::new(Tensor::randn(&[2, 3], 0.0, 1.0, seed, DType::F32).unwrap()),
        b: Param::new(Tensor::randn(&[4], 0.0, 1.0, seed + 1, DType::F32).unwrap()),
    }
}

#[test]
fn round_trip_and_half_precision() {
    let dir = tmp("roundtrip");
    let (m, n) = (model(1), model(2));
    save_module(&m, &dir.join("w.safetensors"), None).unwrap();
    let report = load_module(&n, &dir.join("w.safetensors"), true).unwrap();
    assert_eq!(report.loaded, ["layer.a", "layer.b"]);
    assert_eq!(n.a.value().to_vec::<f32>().unwrap(), m.a.value().to_vec::<f32>().unwrap());
    // f16 on disk, f32 in the model
    save_module(&m, &dir.join("h.safetensors"), Some(DType::F16)).unwrap();
    let raw = tensor::safetensors_io::load(dir.join("h.safetensors")).unwrap();
    assert_eq!(raw["layer.a"].dtype(), DType::F16);
    let k = model(3);
    load_module(&k, &dir.join("h.safetensors"), true).unwrap();
    assert_eq!(k.a.dtype(), DType::F32);
    for (x, y) in k.a.value().to_vec::<f32>().unwrap().iter().zip(m.a.value().to_vec::<f32>().unwrap()) {
        assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()));
    }
    // no temporary files are left behind
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn every_mismatch_is_reported_at_once() {
    let m = model(1);
    let mut file = BTreeMap::new();
    file.insert("layer.a".to_string(), Tensor::zeros(&[3, 2], DType::F32));
    file.insert("layer.c".to_string(), Tensor::zeros(&[1], DType::F32));
    let err = load_state_dict(&m, &file, true, std::path::Path::new("x.safetensors")).unwrap_err();
    match &err {
        Error::CheckpointMismatch { problems, .. } => {
            assert_eq!(problems.len(), 3, "{problems:?}");
            let all = problems.join("\n");
            assert!(all.contains("layer.a: shape [3, 2] in file, [2, 3] in model"));
            assert!(all.contains("layer.b: missing"));
            assert!(all.contains("layer.c: in the file but not in the model"));
        }
        other => panic!("{other}"),
    }
    let before = m.a.value().to_vec::<f32>().unwrap();
    assert_eq!(m.a.value().to_vec::<f32>().unwrap(), before, "a failed load changes nothing");
    // Non-strict: missing and unexpected names are reported, not errors; the rest loads.
    file.insert("layer.a".to_string(), Tensor::ones(&[2, 3], DType::F32));
    file.insert("layer.b".to_string(), Tensor::zeros(&[4], DType::I64));
    let err = load_state_dict(&m, &file, false, std::path::Path::new("x")).unwrap_err().to_string();
    assert!(err.contains("layer.b: dtype I64"), "{err}");
    file.remove("layer.b");
    let report = load_state_dict(&m, &file, false, std::path::Path::new("x")).unwrap();
    assert_eq!((report.missing, report.unexpected), (vec!["layer.b".to_string()], vec!["layer.c".to_string()]));
    assert_eq!(m.a.value().to_vec::<f32>().unwrap(), vec![1.0; 6]);
}

fn state(step: u64) -> TrainState {
    TrainState {
        step,
        samples_seen: step * 4,
        rng: Rng { seed: 9, next_stream: step },
        optim: OptimState { step, lr: 1e-3, tensors: BTreeMap::new() },
        ema: None,
        config: serde_json::json!({"width": 8}),
    }
}

#[test]
fn checkpoint_dir_points_latest_at_complete_saves_and_prunes() {
    let dir = tmp("ckptdir");
    let ck = CheckpointDir::new(&dir);
    assert!(ck.latest().unwrap().is_none());
    let m = model(1);
    for s in [10, 20, 30] {
        ck.save(&m, &state(s), 2).unwrap();
    }
    assert_eq!(ck.latest().unwrap().unwrap(), dir.join("step-00000030"));
    assert!(!dir.join("step-00000010").exists() && dir.join("step-00000020").exists());
    let n = model(5);
    let st = ck.load(&n).unwrap();
    assert_eq!((st.step, st.samples_seen, st.rng, st.optim.lr), (30, 120, Rng { seed: 9, next_stream: 30 }, 1e-3));
    assert_eq!(st.config["width"], 8);
    assert_eq!(n.b.value().to_vec::<f32>().unwrap(), m.b.value().to_vec::<f32>().unwrap());
    // A corrupt state file is a clear error, not a panic.
    std::fs::write(dir.join("step-00000030").join("state.safetensors"), b"garbage").unwrap();
    assert!(ck.load(&n).is_err());
    let _ = save_tensors(&BTreeMap::new(), &BTreeMap::new(), None, &dir.join("empty.safetensors"));
}

fn loop_cfg(dir: &std::path::Path, stop: Option<Arc<AtomicBool>>) -> LoopConfig {
    LoopConfig { total_steps: 10, checkpoint_every: 2, log_every: 1, out_dir: dir.to_path_buf(), progress: false, stop }
}

#[test]
fn a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = tmp("nan");
    let mut saved = Vec::new();
    let err = run_loop(
        &loop_cfg(&dir, None),
        0,
        |step| {
            Ok(StepStats {
                loss: if step == 5 { f64::NAN } else { 1.0 / (step + 1) as f64 },
                samples: 4,
                metrics: vec![],
            })
        },
        |step| {
            saved.push(step);
            Ok(())
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { step: 5, .. }), "{err}");
    assert!(err.to_string().contains("step 5"));
    assert_eq!(saved, vec![2, 4]);
    let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let parsed: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(parsed.len(), 5);
    assert_eq!(parsed[4]["step"], 5);
}

#[test]
fn a_stop_request_saves_and_ends_cleanly() {
    let dir = tmp("stop");
    let stop = Arc::new(AtomicBool::new(false));
    let mut saved = Vec::new();
    let end = run_loop(
        &loop_cfg(&dir, Some(stop.clone())),
        0,
        |step| {
            if step == 2 {
                stop.store(true, Ordering::SeqCst);
            }
            Ok(StepStats { loss: 0.5, samples: 1, metrics: vec![("lr".into(), 0.1)] })
        },
        |step| {
            saved.push(step);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(end, LoopEnd::Interrupted { step: 3 });
    assert_eq!(saved, vec![2, 3]);
    // A finished run saves the final step.
    let mut saved = Vec::new();
    let end = run_loop(
        &loop_cfg(&dir, None),
        7,
        |_| Ok(StepStats { loss: 0.1, ..Default::default() }),
        |s| {
            saved.push(s);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!((end, saved), (LoopEnd::Finished, vec![8, 10]));
}
