//! Python's `safetensors` + `numpy` read our checkpoints with the same names, shapes and values,
//! and we read theirs. The interpreter is `$R0_PYTHON`, else the project's `.venv` (created by
//! `scripts/python-env.sh`, which `.ci/run` runs; this test runs it too when needed). The test
//! is skipped only when `python3` itself is absent.
use nn::{save_module, Module, Param, Visitor};
use std::path::{Path, PathBuf};
use std::process::Command;
use tensor::{DType, Tensor};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The interpreter to use, or `None` when there is no python3 at all.
fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("R0_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = repo_root().join(".venv/bin/python");
    let usable =
        |p: &Path| Command::new(p).args(["-c", "import numpy, safetensors"]).output().is_ok_and(|o| o.status.success());
    if usable(&venv) {
        return Some(venv);
    }
    if Command::new("python3").arg("--version").output().is_err() {
        return None;
    }
    let out = Command::new(repo_root().join("scripts/python-env.sh")).output().expect("scripts/python-env.sh runs");
    assert!(
        out.status.success(),
        "python3 is present but numpy/safetensors could not be installed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

struct Model {
    w: Param,
    h: Param,
    bias: Param,
}
impl Module for Model {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("block.0.conv.weight", &self.w);
        v.param("block.0.norm.weight", &self.h);
        v.param("head.bias", &self.bias);
    }
}

#[test]
fn python_reads_our_checkpoints_and_we_read_theirs() {
    let Some(py) = python() else {
        println!("SKIPPED: python3 not found");
        return;
    };
    let dir = std::env::temp_dir().join(format!("r0ddo-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = Model {
        w: Param::new(Tensor::randn(&[4, 3, 3, 3], 0.0, 1.0, 1, DType::F32).unwrap()),
        h: Param::new(Tensor::randn(&[4], 0.0, 1.0, 2, DType::F32).unwrap().to_dtype(DType::F16).unwrap()),
        bias: Param::new(Tensor::from_vec(vec![0.25f64, -1.5], &[2]).unwrap()),
    };
    let ours = dir.join("ours.safetensors");
    save_module(&m, &ours, None).unwrap();
    let theirs = dir.join("theirs.safetensors");
    let script = r#"
import json, sys
import numpy as np
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1])
print(json.dumps({k: {"dtype": str(v.dtype), "shape": list(v.shape), "f64_hex": v.astype("<f8").tobytes().hex()} for k, v in t.items()}))
save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3) / 4, "ids": np.array([3, -1, 7], dtype=np.int64)}, sys.argv[2])
"#;
    let out = Command::new(&py).args(["-c", script]).arg(&ours).arg(&theirs).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (name, p) in [("block.0.conv.weight", &m.w), ("block.0.norm.weight", &m.h), ("head.bias", &m.bias)] {
        let entry = &seen[name];
        let dtype = match p.dtype() {
            DType::F32 => "float32",
            DType::F16 => "float16",
            _ => "float64",
        };
        assert_eq!(entry["dtype"], dtype, "{name}");
        assert_eq!(entry["shape"], serde_json::json!(p.shape()), "{name}");
        // Exact values: Python sends the little-endian f64 bytes as hex.
        let hex = entry["f64_hex"].as_str().unwrap();
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let values: Vec<f64> = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, p.value().to_vec_f64().unwrap(), "{name}");
    }
    let back = tensor::safetensors_io::load(&theirs).unwrap();
    assert_eq!(back["w"].shape(), &[2, 3]);
    assert_eq!(back["w"].to_vec::<f32>().unwrap(), vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    assert_eq!(back["ids"].to_vec::<i64>().unwrap(), vec![3, -1, 7]);
    let _ = std::fs::remove_dir_all(&dir);
}
