//! Reductions on a GPU, planned like the CPU's: the reduced axes are moved last (`plan.perm`),
//! the permuted view is made contiguous (`rows × len`), and the row kernels reduce one row per
//! block in a fixed order, so a result depends only on the shape.
use super::elementwise::{alloc, storage, typed, wrap};
use super::gpu;
use crate::ops_reduce::ReducePlan;
use crate::{float_dispatch, Result, Tensor};
use kernels::cuda::reduce as k;
use kernels::reduce::ReduceOp;

/// `op` over the plan's reduced axes of `x` (f32/f64; the op converts half precision), shaped
/// `plan.keep_shape`.
pub(crate) fn reduce(x: &Tensor, op: ReduceOp, plan: &ReducePlan) -> Result<Tensor> {
    // xp: [rows, len] after the permute (contiguous, possibly at an offset into its buffer)
    let xp = x.permute(&plan.perm)?.contiguous()?;
    let sp = storage("reduce", &xp)?;
    let dev = &sp.dev;
    float_dispatch!(x.dtype(), "reduce", T => {
        let mut out = alloc::<T>(dev, plan.rows)?;
        let src = (typed::<T>("reduce", sp)?, xp.layout().offset());
        k::reduce_rows(dev, op, src, &mut out, plan.rows, plan.len).map_err(gpu)?;
        wrap(dev, out, &plan.keep_shape)
    })
}

/// Index (`I64`) of the first max (`max`) or min along the plan's one reduced axis of `x`
/// (already in its compute dtype); the first NaN wins, as on the CPU.
pub(crate) fn arg_reduce(x: &Tensor, max: bool, plan: &ReducePlan) -> Result<Tensor> {
    let (idx, dev) = arg_rows(x, max, plan)?;
    wrap(&dev, idx, &plan.keep_shape)
}

/// The per-row argmax/argmin of the permuted `rows × len` view, `[rows]` on the device.
fn arg_rows(
    x: &Tensor,
    max: bool,
    plan: &ReducePlan,
) -> Result<(kernels::cuda::CudaSlice<i64>, std::sync::Arc<kernels::cuda::GpuDevice>)> {
    let xp = x.permute(&plan.perm)?.contiguous()?;
    let sp = storage("argmax", &xp)?;
    let dev = &sp.dev;
    let mut idx = alloc::<i64>(dev, plan.rows)?;
    float_dispatch!(x.dtype(), "argmax", T => {
        let src = (typed::<T>("argmax", sp)?, xp.layout().offset());
        k::arg_reduce_rows(dev, src, &mut idx, plan.rows, plan.len, max).map_err(gpu)
    })?;
    Ok((idx, dev.clone()))
}

/// A 0/1 tensor shaped like `t` (and of its dtype) with one 1 per reduced group at the first
/// max (`max`) or min: the routing mask of the max/min backward rule.
pub(crate) fn arg_mask(t: &Tensor, max: bool, plan: &ReducePlan) -> Result<Tensor> {
    let x = t.to_dtype(t.dtype().compute_dtype())?;
    let (idx, dev) = arg_rows(&x, max, plan).map_err(|e| match e {
        crate::Error::UnsupportedDType { dtype, .. } => crate::Error::UnsupportedDType { op: "max", dtype },
        e => e,
    })?;
    // mask: [rows, len] in the permuted order, then permuted back
    let permuted_shape: Vec<usize> = plan.perm.iter().map(|&d| t.shape()[d]).collect();
    let mut inverse = vec![0; plan.perm.len()];
    for (i, &p) in plan.perm.iter().enumerate() {
        inverse[p] = i;
    }
    let m = float_dispatch!(x.dtype(), "max", T => {
        let mut mask = alloc::<T>(&dev, plan.rows * plan.len)?;
        k::arg_mask(&dev, &idx, &mut mask, plan.rows, plan.len).map_err(gpu)?;
        wrap(&dev, mask, &permuted_shape)
    })?;
    m.permute(&inverse)?.contiguous()?.to_dtype(t.dtype())
}
