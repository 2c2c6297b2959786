//! Times `Tensor::matmul` (f32) on the GEMM shapes of the peer script `gemm.py`, with its timing
//! policy (warm-up, then repeats for ~0.5 s clamped to 7..100, median), and prints GFLOP/s.
//! Thread count: `RAYON_NUM_THREADS` (default: all cores). A first look; the `bench` binary with
//! JSON output and peer ratios comes with the performance work.
//!
//! Run: `RAYON_NUM_THREADS=1 cargo run --release --example matmul_speed`
use r0ddo::tensor::{DType, Result, Tensor};
use std::time::Instant;

const SHAPES: [(&str, usize, usize, usize, usize); 8] = [
    ("sq128", 128, 128, 128, 1),
    ("sq256", 256, 256, 256, 1),
    ("sq512", 512, 512, 512, 1),
    ("sq1024", 1024, 1024, 1024, 1),
    ("sq2048", 2048, 2048, 2048, 1),
    ("conv 16384x288x64", 16384, 288, 64, 1),
    ("conv 4096x576x128", 4096, 576, 128, 1),
    ("attn 64x64x64 x256", 64, 64, 64, 256),
];

fn median_secs(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let t = Instant::now();
    f()?;
    let est = t.elapsed().as_secs_f64().max(1e-7);
    let reps = ((0.5 / est) as usize).clamp(7, 100);
    let mut ts = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    ts.sort_by(f64::total_cmp);
    Ok(ts[reps / 2])
}

fn main() -> Result<()> {
    println!("threads: {}", rayon::current_num_threads());
    println!("| shape | median ms | GFLOP/s |\n|---|---|---|");
    for (label, m, k, n, b) in SHAPES {
        let batch: &[usize] = if b == 1 { &[] } else { &[b] };
        let a = Tensor::randn(&[batch, &[m, k]].concat(), 0.0, 1.0, 1, DType::F32)?;
        let bm = Tensor::randn(&[batch, &[k, n]].concat(), 0.0, 1.0, 2, DType::F32)?;
        let s = median_secs(|| a.matmul(&bm).map(|_| ()))?;
        println!("| {label} | {:.3} | {:.1} |", s * 1e3, 2.0 * (m * k * n * b) as f64 / s / 1e9);
    }
    Ok(())
}
