//! Launch wrappers for `kernels/cuda/rng.cu`: uniform, normal and Bernoulli tensors from
//! Philox4x32-10, element for element the numbers of `tensor::rng` on the CPU.
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, PushKernelArg, Result};
use crate::ptx::RNG;

/// What to draw. Each element is computed in f64 and then converted to the output dtype.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// `lo + (hi − lo)·u`, u uniform in [0, 1).
    Uniform { lo: f64, hi: f64 },
    /// `mean + std·z`, z standard normal (Box–Muller).
    Normal { mean: f64, std: f64 },
    /// 1 where `u < p`, else 0.
    Bernoulli { p: f64 },
}

impl Distribution {
    /// The kernel name's stem and its two `double` parameters.
    fn kernel(self) -> (&'static str, f64, f64) {
        match self {
            Distribution::Uniform { lo, hi } => ("rand_uniform", lo, hi),
            Distribution::Normal { mean, std } => ("rand_normal", mean, std),
            Distribution::Bernoulli { p } => ("rand_bernoulli", p, 0.0),
        }
    }
}

/// `out[i]` = element `i` of (`seed`, `stream`) drawn from `dist`, for `i < n`. `dtype` names the
/// element type of `out` (`f32`, `f64`, `f16`, `bf16` — those two in `u16` buffers —, `i64`, `u8`).
// out: [n] contiguous
pub fn fill_random<T: DeviceRepr>(
    dev: &GpuDevice,
    dtype: &str,
    dist: Distribution,
    seed: u64,
    stream: u64,
    out: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let (stem, a, b) = dist.kernel();
    let f = dev.function(&RNG, &format!("{stem}_{dtype}"))?;
    let n64 = n as u64;
    let mut lb = dev.stream().launch_builder(&f);
    lb.arg(out).arg(&n64).arg(&seed).arg(&stream).arg(&a).arg(&b);
    // SAFETY: arguments match `rand_<dist>_<dtype>(T*, u64 n, u64 seed, u64 stream, double, double)`;
    // the caller passes a buffer of the named dtype holding at least `n` elements.
    unsafe { lb.launch(launch_1d(n.div_ceil(2))) }?;
    Ok(())
}
