//! f32 GEMM through `Tensor::matmul` on gemm.py's shapes, with its labels and timing policy.
use crate::step::median;
use std::time::Instant;
use tensor::{DType, Result, Tensor};

/// `C[M, N] = A[M, K] · B[K, N]`, `batch` independent products when `batch > 1`.
pub struct Shape {
    pub label: &'static str,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub batch: usize,
}

const fn shape(label: &'static str, m: usize, k: usize, n: usize, batch: usize) -> Shape {
    Shape { label, m, k, n, batch }
}

/// gemm.py's `SHAPES`, labels verbatim.
pub const SHAPES: [Shape; 8] = [
    shape("sq128", 128, 128, 128, 1),
    shape("sq256", 256, 256, 256, 1),
    shape("sq512", 512, 512, 512, 1),
    shape("sq1024", 1024, 1024, 1024, 1),
    shape("sq2048", 2048, 2048, 2048, 1),
    shape("conv 16384x288x64", 16384, 288, 64, 1),
    shape("conv 4096x576x128", 4096, 576, 128, 1),
    shape("attn 64x64x64 x256", 64, 64, 64, 256),
];

pub struct GemmTiming {
    pub median_s: f64,
    pub gflops: f64,
    pub reps: usize,
}

/// gemm.py's `bench`: one warm-up call, one timed call as an estimate, then
/// `clamp(0.5 s / estimate, 7, 100)` timed calls; the median.
fn bench(mut f: impl FnMut() -> Result<()>) -> Result<(f64, usize)> {
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
    Ok((median(&ts), reps))
}

/// Times `A · B` for one shape (batched matmul `[b, m, k] · [b, k, n]` when `batch > 1`).
/// Unlike numpy/torch (`out=`), every call allocates its output, as the engine always does.
pub fn time_shape(s: &Shape) -> Result<GemmTiming> {
    let lead: &[usize] = if s.batch == 1 { &[] } else { std::slice::from_ref(&s.batch) };
    let a = Tensor::randn(&[lead, &[s.m, s.k]].concat(), 0.0, 1.0, 1, DType::F32)?;
    let b = Tensor::randn(&[lead, &[s.k, s.n]].concat(), 0.0, 1.0, 2, DType::F32)?;
    let (sec, reps) = bench(|| a.matmul(&b).map(drop))?;
    let flop = 2.0 * (s.m * s.k * s.n * s.batch) as f64;
    Ok(GemmTiming { median_s: sec, gflops: flop / sec / 1e9, reps })
}
