//! Resuming is bit-exact: N steps straight and N/2 + (interrupt, save, reload) + N/2 give the
//! same losses and the same weights, bit for bit.
use r0ddo::convnet_demo::{run, DemoConfig};
use r0ddo::nn::training::LoopEnd;
use r0ddo::tensor;

fn tmp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("r0ddo-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[test]
fn interrupted_and_resumed_run_matches_the_straight_run_bit_for_bit() {
    let cfg = DemoConfig { steps: 40, batch: 8, checkpoint_every: 15, ..Default::default() };
    let (a, b) = (tmp("straight"), tmp("resumed"));
    let straight = run(&cfg, &a, false, None, false).unwrap();
    assert_eq!(straight.end, LoopEnd::Finished);
    let first = run(&cfg, &b, false, Some(20), false).unwrap();
    assert_eq!(first.end, LoopEnd::Interrupted { step: 20 });
    let resumed = run(&cfg, &b, true, None, false).unwrap();
    assert_eq!(resumed.end, LoopEnd::Finished);
    assert_eq!(straight.last_loss.to_bits(), resumed.last_loss.to_bits());
    assert_eq!(straight.eval_loss.to_bits(), resumed.eval_loss.to_bits());
    for file in ["model.safetensors", "ema.safetensors", "state.safetensors"] {
        let load = |dir: &std::path::Path| {
            tensor::safetensors_io::load_with_metadata(dir.join("step-00000040").join(file)).unwrap()
        };
        let ((ta, ma), (tb, mb)) = (load(&a), load(&b));
        assert_eq!(ma, mb, "{file}: metadata differs");
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (k, t) in &ta {
            let (x, y) = (t.to_vec::<f32>().unwrap(), tb[k].to_vec::<f32>().unwrap());
            assert!(x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()), "{file}: {k} differs");
        }
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn resuming_with_a_different_config_is_a_clear_error() {
    let cfg = DemoConfig { steps: 4, batch: 4, checkpoint_every: 2, ..Default::default() };
    let dir = tmp("config");
    run(&cfg, &dir, false, None, false).unwrap();
    let other = DemoConfig { seed: 7, ..cfg };
    let err = run(&other, &dir, true, None, false).unwrap_err().to_string();
    assert!(err.contains("checkpoint was made with"), "{err}");
    let missing = tmp("missing");
    let err = run(&cfg, &missing, true, None, false).unwrap_err().to_string();
    assert!(err.contains("no checkpoint"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
