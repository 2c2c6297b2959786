//! The committed PTX: one module per `.cu` source under `kernels/cuda/`, compiled offline with
//! NVRTC 13.0 for two targets (`sm_80` for Ampere, `sm_90` for Hopper) by the `gen-ptx` tool and
//! embedded here with `include_str!`, so a binary needs no file besides itself.
//!
//! This part needs no CUDA library: the tests check that every source's hash matches the header
//! of both PTX files ("edited the kernel, forgot to regenerate"), with or without the `cuda`
//! feature.
use std::path::{Path, PathBuf};

/// One compiled source: its name (the `.cu` file's stem) and the PTX text for each target.
#[derive(Debug)]
pub struct PtxModule {
    pub name: &'static str,
    pub sm80: &'static str,
    pub sm90: &'static str,
}

macro_rules! ptx_module {
    ($name:literal) => {
        PtxModule {
            name: $name,
            sm80: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/cuda/ptx/sm_80/", $name, ".ptx")),
            sm90: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/cuda/ptx/sm_90/", $name, ".ptx")),
        }
    };
}

/// Strided copies, fills and dtype casts.
pub const COPY: PtxModule = ptx_module!("copy");
/// Unary/binary maps and their backward rules, comparisons, selection.
pub const ELEMENTWISE: PtxModule = ptx_module!("elementwise");
/// Row reductions (sum, mean, max, min, logsumexp, norm) and arg max/min.
pub const REDUCE: PtxModule = ptx_module!("reduce");
/// Layer/RMS/group norm forward and backward, cross-entropy forward and backward.
pub const NORM: PtxModule = ptx_module!("norm");
/// Strided scatter (cat, pad, slice_scatter), index_select, gather, one_hot, scatter_add, index_add.
pub const INDEX: PtxModule = ptx_module!("index");
/// Philox random tensors (the CPU's numbers, bit for bit).
pub const RNG: PtxModule = ptx_module!("rng");
/// Fused optimiser updates (Adam/AdamW, SGD) and the gradient sum of squares.
pub const OPTIM: PtxModule = ptx_module!("optim");
/// Batched matrix products, plain tiled f32/f64 (the default).
pub const GEMM: PtxModule = ptx_module!("gemm");
/// Batched matrix products on the tensor cores (TF32 / bf16 / f16, opt-in).
pub const GEMM_TC: PtxModule = ptx_module!("gemm_tc");
/// im2col / col2im for the convolutions.
pub const CONV: PtxModule = ptx_module!("conv");
/// 2-D max / average pooling and their backward passes.
pub const POOL: PtxModule = ptx_module!("pool");
/// Softmax and log-softmax over rows, forward and backward.
pub const SOFTMAX: PtxModule = ptx_module!("softmax");

/// Every module, for the header check and for loading both variants on a GPU.
/// A new `.cu` file is registered here after `gen-ptx` has written its PTX.
pub const MODULES: &[&PtxModule] =
    &[&COPY, &ELEMENTWISE, &REDUCE, &NORM, &INDEX, &RNG, &OPTIM, &GEMM, &GEMM_TC, &CONV, &POOL, &SOFTMAX];

/// The two compilation targets. `Sm80` PTX also JIT-compiles on compute capability 9.x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PtxArch {
    Sm80,
    Sm90,
}

impl PtxArch {
    pub const ALL: [PtxArch; 2] = [PtxArch::Sm80, PtxArch::Sm90];
    /// The NVRTC `--gpu-architecture` value and the folder name under `cuda/ptx/`.
    pub fn name(self) -> &'static str {
        match self {
            PtxArch::Sm80 => "sm_80",
            PtxArch::Sm90 => "sm_90",
        }
    }
    /// The PTX to load on a GPU of compute capability `major`.`minor`; `None` below 8.0.
    pub fn for_compute_capability(major: i32, _minor: i32) -> Option<PtxArch> {
        match major {
            m if m >= 9 => Some(PtxArch::Sm90),
            8 => Some(PtxArch::Sm80),
            _ => None,
        }
    }
}

impl PtxModule {
    pub fn ptx(&self, arch: PtxArch) -> &'static str {
        match arch {
            PtxArch::Sm80 => self.sm80,
            PtxArch::Sm90 => self.sm90,
        }
    }
}

/// The folder holding the `.cu` sources (`kernels/cuda`).
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cuda")
}

/// 64-bit FNV-1a, the hash written into each PTX header.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The text a module's hash covers: its `.cu` source followed by every local header it includes
/// with `#include "name.cuh"` (in order of appearance), so editing a shared header also shows.
pub fn hashed_source(dir: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let src = std::fs::read_to_string(dir.join(format!("{name}.cu")))?;
    let mut bytes = src.clone().into_bytes();
    for header in local_includes(&src) {
        bytes.extend_from_slice(&std::fs::read(dir.join(header))?);
    }
    Ok(bytes)
}

/// The quoted includes of a source: `#include "common.cuh"` gives `common.cuh`.
pub fn local_includes(src: &str) -> Vec<&str> {
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("#include"))
        .filter_map(|rest| rest.trim().strip_prefix('"')?.split('"').next())
        .collect()
}

/// The stems of every `.cu` file under `dir`, sorted.
pub fn source_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "cu") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                names.push(stem.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The header line carrying the source hash.
pub fn hash_line(hash: u64) -> String {
    format!("// source-fnv1a64: {hash:016x}")
}

/// The hash recorded in a PTX file's header, if any.
pub fn recorded_hash(ptx: &str) -> Option<u64> {
    ptx.lines()
        .take_while(|l| l.starts_with("//"))
        .find_map(|l| l.strip_prefix("// source-fnv1a64: "))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
}
