//! Assembles every committed PTX file for its architecture with `ptxas` 13.0 — what the driver's
//! JIT does at `cuModuleLoadData` on a GPU machine — and checks what only the assembler can see:
//! the PTX is accepted, no kernel spills registers to local memory, static shared memory stays
//! within the 48 KiB a launch gets without opting in, and no kernel keeps a stack frame except
//! the unary maps, whose `sinf`/`cosf` keep a small array for reducing huge arguments. (Registers
//! need no check: ptxas caps a thread at 255, and 255 × the launches' 256 threads fits the 64 Ki
//! register file.) Skips with the reason when no `ptxas` is found (`eval
//! "$(scripts/nvrtc-env.sh)"` installs it and sets `PTXAS`).
#![cfg(feature = "cuda")]
use kernels::ptx::{PtxArch, MODULES};
use std::path::PathBuf;
use std::process::Command;

/// Static shared memory a block may use without `cudaFuncAttributeMaxDynamicSharedMemorySize`.
const SMEM_LIMIT: usize = 48 * 1024;

/// `$PTXAS`, else the `ptxas` beside the wheel's include folder, else `ptxas` on the PATH.
fn find_ptxas() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("PTXAS") {
        candidates.push(p.into());
    }
    if let Ok(inc) = std::env::var("CUDA_INCLUDE_DIR") {
        candidates.push(PathBuf::from(inc).join("../bin/ptxas"));
    }
    candidates.push("ptxas".into());
    candidates.into_iter().find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// The numbers `ptxas -v` reports for one kernel.
#[derive(Default, Debug)]
struct KernelInfo {
    registers: usize,
    smem: usize,
    spill_bytes: usize,
    /// Local memory for arrays indexed at run time: not a spill, but a by-value layout indexed at
    /// run time gets copied there by every thread (see `strided_offset` in common.cuh).
    stack_bytes: usize,
}

/// The first number before `unit` in `line` (`"16640 bytes smem"` → 16640 for `"bytes smem"`).
fn number_before(line: &str, unit: &str) -> Option<usize> {
    let head = &line[..line.find(unit)?];
    head.split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty())?.parse().ok()
}

/// Parses `ptxas -v` output into one record per kernel (`Compiling entry function '…'` starts one).
fn parse(report: &str) -> Vec<(String, KernelInfo)> {
    let mut out: Vec<(String, KernelInfo)> = Vec::new();
    for line in report.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or_default().to_string();
            out.push((name, KernelInfo::default()));
            continue;
        }
        let Some((_, info)) = out.last_mut() else { continue };
        if let Some(r) = number_before(line, " registers") {
            info.registers = r;
        }
        if let Some(s) = number_before(line, " bytes smem") {
            info.smem = s;
        }
        if let Some(b) = number_before(line, " bytes stack frame") {
            info.stack_bytes = b;
        }
        for unit in [" bytes spill stores", " bytes spill loads"] {
            info.spill_bytes += number_before(line, unit).unwrap_or(0);
        }
    }
    out
}

#[test]
fn parses_ptxas_reports() {
    let report = "ptxas info    : Compiling entry function 'gemm_f32' for 'sm_90'\n\
        ptxas info    : Function properties for gemm_f32\n\
        \x20   0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
        ptxas info    : Used 124 registers, used 1 barriers, 16640 bytes smem, 400 bytes cmem[0]\n";
    let k = parse(report);
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].0, "gemm_f32");
    assert_eq!((k[0].1.registers, k[0].1.smem, k[0].1.spill_bytes), (124, 16640, 12));
}

#[test]
fn committed_ptx_assembles_without_spills() {
    let Some(ptxas) = find_ptxas() else {
        eprintln!("skipped: no ptxas found (set PTXAS, or eval \"$(scripts/nvrtc-env.sh)\")");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ptx-assemble-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut kernels = 0;
    for module in MODULES {
        for arch in PtxArch::ALL {
            let src = dir.join(format!("{}-{}.ptx", module.name, arch.name()));
            std::fs::write(&src, module.ptx(arch)).unwrap();
            let out = Command::new(&ptxas)
                .args(["-v", &format!("-arch={}", arch.name()), "-o"])
                .arg(dir.join("out.cubin"))
                .arg(&src)
                .output()
                .unwrap();
            let report = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "ptxas rejected {} for {}:\n{report}", module.name, arch.name());
            let parsed = parse(&report);
            let entries = module.ptx(arch).matches(".entry ").count();
            assert_eq!(parsed.len(), entries, "kernels reported for {} ({}):\n{report}", module.name, arch.name());
            let (mut max_reg, mut max_smem, mut max_stack) = (0, 0, 0);
            for (name, k) in &parsed {
                assert_eq!(k.spill_bytes, 0, "{}/{name} ({}) spills: {k:?}", module.name, arch.name());
                let what = format!("{}/{name} ({})", module.name, arch.name());
                assert!(k.smem <= SMEM_LIMIT, "{what} uses {} B of shared memory", k.smem);
                // The first GPU run measured what a stack frame costs: the copy kernel, which
                // copied its 104-byte layout to local memory in every thread, reached 6.5 % of
                // the H200's bandwidth.
                let allowed = if name.starts_with("unary") { 64 } else { 0 };
                assert!(k.stack_bytes <= allowed, "{what} keeps a {} B stack frame", k.stack_bytes);
                (max_reg, max_smem, max_stack) =
                    (max_reg.max(k.registers), max_smem.max(k.smem), max_stack.max(k.stack_bytes));
            }
            kernels += parsed.len();
            eprintln!(
                "{:>12} {}: {:3} kernels, ≤ {max_reg} registers, ≤ {max_smem} B shared, ≤ {max_stack} B stack",
                module.name,
                arch.name(),
                parsed.len()
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(kernels > 0);
}
