//! The committed PTX matches its sources (no CUDA library needed): every `.cu` under
//! `kernels/cuda/` has a PTX file for both targets whose header records the source's current hash,
//! and every source is registered in `kernels::ptx::MODULES` with the same text embedded.
use kernels::ptx::{fnv1a64, hashed_source, recorded_hash, source_dir, source_names, PtxArch, MODULES};

#[test]
fn every_source_has_current_ptx_for_both_targets() {
    let dir = source_dir();
    let names = source_names(&dir).expect("read kernels/cuda");
    assert!(!names.is_empty(), "no .cu sources found under {}", dir.display());
    for name in &names {
        let hash = fnv1a64(&hashed_source(&dir, name).expect("read source"));
        for arch in PtxArch::ALL {
            let path = dir.join("ptx").join(arch.name()).join(format!("{name}.ptx"));
            let ptx = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (run `scripts/gen-ptx.sh`)", path.display()));
            assert_eq!(
                recorded_hash(&ptx),
                Some(hash),
                "{} was generated from another version of {name}.cu: run `scripts/gen-ptx.sh`",
                path.display()
            );
            assert!(ptx.contains(&format!(".target {}", arch.name())), "{}: wrong target", path.display());
        }
    }
}

#[test]
fn every_source_is_registered_and_embedded() {
    let dir = source_dir();
    let names = source_names(&dir).expect("read kernels/cuda");
    let registered: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
    assert_eq!(registered.len(), names.len(), "registered {registered:?}, sources {names:?}");
    for m in MODULES {
        assert!(names.iter().any(|n| n == m.name), "{} is registered but has no source", m.name);
        for arch in PtxArch::ALL {
            let path = dir.join("ptx").join(arch.name()).join(format!("{}.ptx", m.name));
            let on_disk = std::fs::read_to_string(&path).expect("read ptx");
            assert_eq!(on_disk, m.ptx(arch), "{}: embedded text differs from the file", path.display());
        }
    }
}

#[test]
fn hash_and_include_parsing() {
    // Reference values of 64-bit FNV-1a.
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    let src = "#include \"common.cuh\"\n  #include <cuda_bf16.h>\n#include \"gemm_tiles.cuh\" // tiles\n";
    assert_eq!(kernels::ptx::local_includes(src), vec!["common.cuh", "gemm_tiles.cuh"]);
    assert_eq!(recorded_hash("// a\n// source-fnv1a64: 00000000000000ff\n.version 9.0\n"), Some(255));
    assert_eq!(recorded_hash(".version 9.0\n// source-fnv1a64: 00000000000000ff\n"), None);
}
