//! The `r0-cli` binary end to end: commands write what they say, scores are right, and mistakes
//! are one-line errors with a non-zero exit status.
use std::path::PathBuf;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_r0-cli")).args(args).output().expect("r0-cli runs")
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("r0cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn data_render_and_toy2d_write_pngs() {
    let dir = tmp("render");
    let out = dir.join("grid.png");
    let o = cli(&[
        "data",
        "render",
        "--prompt",
        "a red circle left of a blue square",
        "--n",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = data::image::read_png(&out).unwrap();
    // 2×2 grid of 32×32 tiles with a 2 px margin
    assert_eq!(img.shape(), &[3, 2 + 2 * 34, 2 + 2 * 34]);
    let plot = dir.join("ring.png");
    let o = cli(&["data", "toy2d", "--dist", "ring", "--n", "500", "--size", "128", "--out", plot.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(data::image::read_png(&plot).unwrap().shape(), &[3, 128, 128]);
}

#[test]
fn eval_shapes_real_scores_ground_truth_perfectly() {
    let o = cli(&["eval", "shapes", "--real", "--set", "geneval_small", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(v["overall"].as_f64().unwrap() >= 0.99);
    assert_eq!(v["families"].as_object().unwrap().len(), 6);
    for (family, acc) in v["families"].as_object().unwrap() {
        assert!(acc.as_f64().unwrap() >= 0.99, "{family}");
    }
    let table = stdout(&cli(&["eval", "shapes", "--real", "--set", "geneval_small"]));
    assert!(table.contains("single_object") && table.contains("overall"));
}

#[test]
fn eval_shapes_scores_a_folder_of_pngs() {
    // A folder with a prompts.txt: one correct render and one render of a different prompt.
    let dir = tmp("folder");
    for (i, prompt) in ["a circle", "two blue squares"].iter().enumerate() {
        let out = dir.join(format!("{i:03}.png"));
        let o = cli(&["data", "render", "--prompt", prompt, "--n", "1", "--out", out.to_str().unwrap()]);
        assert!(o.status.success());
        // Strip the grid margin: re-save the 32×32 tile.
        let grid = data::image::read_png(&out).unwrap();
        let tile = grid.narrow(1, 2, 32).unwrap().narrow(2, 2, 32).unwrap();
        data::image::write_png(&out, &tile).unwrap();
    }
    std::fs::write(dir.join("prompts.txt"), "one circle\nthree green triangles\n").unwrap();
    let o = cli(&["eval", "shapes", "--images", dir.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["n"], 2);
    assert_eq!(v["families"]["single_object"], 1.0);
    assert_eq!(v["families"]["counting"], 0.0);
    // Without prompts.txt the image count must match the set.
    std::fs::remove_file(dir.join("prompts.txt")).unwrap();
    let o = cli(&["eval", "shapes", "--images", dir.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds 2 images"));
}

#[test]
fn mistakes_are_one_line_errors() {
    for args in [
        vec!["data", "render", "--prompt", "a red circl", "--out", "/tmp/never.png"],
        vec!["data", "render", "--prompt", "", "--out", "/tmp/never.png"],
        vec!["data", "toy2d", "--dist", "spiral", "--out", "/tmp/never.png"],
        vec!["eval", "shapes", "--real", "--set", "nope"],
        vec!["eval", "shapes", "--images", "/nonexistent/folder"],
    ] {
        let o = cli(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "{args:?}: {err}");
    }
    let o = cli(&["data", "render", "--prompt", "a red circl", "--out", "/tmp/never.png"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("closest known words: circle"));
}

#[test]
fn train_sample_eval_and_export_a_tiny_diffusion_model() {
    let dir = tmp("diffusion");
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let o =
        cli(&["train", "diffusion", "--data", "shapes", "--config", "tiny", "--steps", "6", "--out", run_s, "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("finished after 6 steps"), "{}", stdout(&o));
    // A second run into the same folder is refused; --resume extends it.
    let o = cli(&["train", "diffusion", "--config", "tiny", "--steps", "6", "--out", run_s, "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--resume"));
    let o = cli(&["train", "diffusion", "--resume", run_s, "--steps", "8", "--quiet"]);
    assert!(o.status.success() && stdout(&o).contains("after 8 steps"), "{}", String::from_utf8_lossy(&o.stderr));

    let png = dir.join("s.png");
    let args = ["sample", "--weights", run_s, "--prompt", "a red circle", "--n", "2", "--steps", "2"];
    let o = cli(&[&args[..], &["--out", png.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(data::image::read_png(&png).unwrap().shape(), &[3, 2 + 34, 2 + 2 * 34]);
    // Same seed, same bytes.
    let png2 = dir.join("s2.png");
    let o = cli(&[&args[..], &["--out", png2.to_str().unwrap()]].concat());
    assert!(o.status.success());
    assert_eq!(std::fs::read(&png).unwrap(), std::fs::read(&png2).unwrap());
    // Words outside the grammar are one-line errors with a suggestion.
    let o = cli(&[
        "sample",
        "--weights",
        run_s,
        "--prompt",
        "a red cirlce",
        "--steps",
        "2",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("circle") && err.lines().count() == 1, "{err}");

    let o = cli(&[
        "eval",
        "shapes",
        "--weights",
        run_s,
        "--steps",
        "2",
        "--cfg",
        "1.5",
        "--set",
        "geneval_small",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(v["overall"].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{v}");

    let w16 = dir.join("w16.safetensors");
    let o = cli(&["export-weights", "--from", run_s, "--out", w16.to_str().unwrap(), "--f16", "--best-cfg", "1.5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = models::image_diffusion::ImageDiffusion::load(&w16).unwrap();
    assert_eq!((m.card.best_cfg, m.card.steps, m.card.best_cfg_interval), (Some(1.5), 8, None));

    // A guidance interval: recorded with the weights and used by default; a bad one is refused.
    let wi = dir.join("wi.safetensors");
    let wi_s = wi.to_str().unwrap();
    let o =
        cli(&["export-weights", "--from", run_s, "--out", wi_s, "--best-cfg", "3", "--best-cfg-interval", "0.5,20"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = models::image_diffusion::ImageDiffusion::load(&wi).unwrap();
    assert_eq!((m.card.best_cfg, m.card.best_cfg_interval), (Some(3.0), Some((0.5, 20.0))));
    let o = cli(&[
        "sample",
        "--weights",
        wi_s,
        "--prompt",
        "a red circle",
        "--n",
        "2",
        "--steps",
        "2",
        "--out",
        png2.to_str().unwrap(),
    ]);
    assert!(stdout(&o).contains("cfg 3 for σ in [0.5, 20]"), "{}", stdout(&o));
    let o = cli(&[&args[..], &["--cfg", "2", "--cfg-interval", "5,1", "--out", png2.to_str().unwrap()]].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("LO < HI"), "{err}");

    // A fine-tuning run starts from those weights; its card counts their steps and images too.
    let ft = dir.join("ft");
    let o = cli(&[
        "train",
        "diffusion",
        "--config",
        "tiny",
        "--init-from",
        run_s,
        "--p-mean",
        "-0.5",
        "--steps",
        "2",
        "--out",
        ft.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = models::image_diffusion::ImageDiffusion::load(&ft.join("model.safetensors")).unwrap();
    assert_eq!((m.card.steps, m.card.images_seen), (10, 10 * 8), "{:?}", m.card);
    assert!(m.card.notes.contains("fine-tuned"), "{}", m.card.notes);
    let saved = models::image_diffusion::saved_config(&ft).unwrap();
    assert_eq!(saved.loss.p_mean, -0.5);
    // Weights of another architecture are refused in one line.
    let bad = dir.join("bad");
    let o =
        cli(&["train", "diffusion", "--init-from", run_s, "--steps", "1", "--out", bad.to_str().unwrap(), "--quiet"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("shape") && err.trim().lines().count() == 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kill PID` (SIGTERM) stops a training run the way Ctrl-C does: it saves a checkpoint, says so
/// and exits successfully, and `--resume` continues from there.
#[cfg(unix)]
#[test]
fn a_killed_training_run_saves_and_resumes() {
    let dir = tmp("sigterm");
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_r0-cli"))
        .args(["train", "diffusion", "--config", "tiny", "--steps", "1000000", "--out", run_s, "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first metrics line (step 10), then send SIGTERM.
    let metrics = run.join("metrics.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(true, |s| s.is_empty()) {
        assert!(t0.elapsed().as_secs() < 120, "no metrics after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("stopped after"), "{}", stdout(&o));
    let latest = std::fs::read_to_string(run.join("latest")).unwrap();
    let saved: u64 = latest.trim().trim_start_matches("step-").parse().unwrap();
    assert!(saved >= 10);
    let o = cli(&["train", "diffusion", "--resume", run_s, "--steps", &(saved + 2).to_string(), "--quiet"]);
    assert!(o.status.success() && stdout(&o).contains(&format!("finished after {} steps", saved + 2)));
    let _ = std::fs::remove_dir_all(&dir);
}
