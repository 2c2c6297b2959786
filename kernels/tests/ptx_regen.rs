//! Recompiles every `.cu` source with NVRTC 13.0 and byte-compares with the committed PTX, when
//! NVRTC is loadable (`eval "$(scripts/nvrtc-env.sh)"`); otherwise prints why it was skipped.
//! This is also the "kernels compile" check on a machine without a GPU.
#![cfg(feature = "cuda")]
use kernels::cuda::ptx_gen::{cuda_include_dir, generate, nvrtc_version};
use kernels::ptx::{source_dir, source_names, PtxArch};

#[test]
fn committed_ptx_is_what_nvrtc_13_0_generates() {
    if let Err(e) = nvrtc_version() {
        eprintln!("skipped: {e}");
        return;
    }
    let Ok(include) = cuda_include_dir() else {
        eprintln!("skipped: CUDA_INCLUDE_DIR is not set (eval \"$(scripts/nvrtc-env.sh)\")");
        return;
    };
    let dir = source_dir();
    for name in source_names(&dir).unwrap() {
        for arch in PtxArch::ALL {
            let fresh = generate(&dir, &name, arch, &include).unwrap_or_else(|e| panic!("{e}"));
            let path = dir.join("ptx").join(arch.name()).join(format!("{name}.ptx"));
            let committed = std::fs::read_to_string(&path).unwrap();
            assert!(fresh == committed, "{} differs from a fresh NVRTC build: run scripts/gen-ptx.sh", path.display());
        }
    }
}
