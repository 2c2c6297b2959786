//! Regenerates the committed PTX: compiles every `kernels/cuda/*.cu` with NVRTC 13.0 for sm_80
//! and sm_90 into `kernels/cuda/ptx/<arch>/<name>.ptx`. Run through `scripts/gen-ptx.sh`, which
//! sets up NVRTC from the PyPI wheels. `--check` compares instead of writing (exit 1 on a diff).
use kernels::cuda::ptx_gen::{cuda_include_dir, generate};
use kernels::ptx::{source_dir, source_names, PtxArch};

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    if let Err(e) = run(check) {
        eprintln!("gen-ptx: {e}");
        std::process::exit(1);
    }
}

fn run(check: bool) -> Result<(), Box<dyn std::error::Error>> {
    let dir = source_dir();
    let include = cuda_include_dir()?;
    let mut stale = Vec::new();
    for name in source_names(&dir)? {
        for arch in PtxArch::ALL {
            let t = std::time::Instant::now();
            let ptx = generate(&dir, &name, arch, &include)?;
            let path = dir.join("ptx").join(arch.name()).join(format!("{name}.ptx"));
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current == ptx {
                println!("{:>6} {} {:.0} ms (unchanged)", arch.name(), name, t.elapsed().as_secs_f64() * 1e3);
            } else if check {
                println!("{:>6} {} differs from the committed PTX", arch.name(), name);
                stale.push(path);
            } else {
                let tmp = path.with_extension("ptx.tmp");
                std::fs::write(&tmp, &ptx)?;
                std::fs::rename(&tmp, &path)?;
                println!("{:>6} {} {:.0} ms (written)", arch.name(), name, t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    if !stale.is_empty() {
        return Err(format!("{} PTX file(s) out of date: run scripts/gen-ptx.sh", stale.len()).into());
    }
    Ok(())
}
