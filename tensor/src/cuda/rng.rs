//! Random tensors drawn on a GPU: the same Philox numbers as the CPU (`crate::rng`), bit for bit.
use super::{gpu, CudaStorage};
use crate::rng::Distribution;
use crate::{DType, Result, Tensor};
use kernels::cuda::rng::{fill_random, Distribution as Kernel};
use kernels::cuda::GpuDevice;
use std::sync::Arc;

/// A tensor of `shape` on `dev` whose element `i` is element `i` of (`seed`, `stream`) under
/// `dist`, converted to `dtype` as the CPU converts it.
pub fn random(
    dev: &Arc<GpuDevice>,
    shape: &[usize],
    dist: Distribution,
    seed: u64,
    stream: u64,
    dtype: DType,
) -> Result<Tensor> {
    let n = crate::layout::checked_elem_count("random", shape)?;
    let dist = match dist {
        Distribution::Uniform { lo, hi } => Kernel::Uniform { lo, hi },
        Distribution::Normal { mean, std } => Kernel::Normal { mean, std },
        Distribution::Bernoulli { p } => Kernel::Bernoulli { p },
    };
    let mut out = CudaStorage::zeros(dev, dtype, n)?;
    let name = dtype.as_str();
    crate::with_gpu_buf!(&mut out.buf, d => fill_random(dev, name, dist, seed, stream, d, n)).map_err(gpu)?;
    Tensor::from_cuda(out, shape)
}
