//! Layer/RMS/group norm and cross-entropy on a GPU, forward and backward, behind the ops in
//! `ops_norm.rs` (which validate shapes first and convert f16/bf16 to f32, so these functions
//! see f32 or f64 only). Statistics (`NormStats`) stay on the GPU.
//!
//! Cross-entropy targets are range-checked on the host before any launch (the op copies them
//! there: one device→host copy of `rows` i64 values and a wait for the stream), so the errors
//! are exactly the CPU's; the kernels then read the targets from the device.
use super::{gpu, strided, CudaStorage, GpuBuf, GpuBufElem};
use crate::{DType, Error, NormStats, Result, Tensor};
use kernels::cuda::norm::{self as k, Float, Input, Rows};
use kernels::cuda::CudaSlice;

/// The float element types with GPU kernels, tied to their dtype and buffer variant.
pub(crate) trait GpuFloat: Float + GpuBufElem {
    /// `v as Self` (how the CPU ops convert `eps` and friends).
    fn from_f64(v: f64) -> Self;
}
impl GpuFloat for f32 {
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
}
impl GpuFloat for f64 {
    fn from_f64(v: f64) -> f64 {
        v
    }
}

/// Calls `$f::<T>(args)` for the dtype's element type (f32/f64), else `UnsupportedDType`.
macro_rules! float_gpu {
    ($dtype:expr, $op:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $dtype {
            DType::F32 => $f::<f32>($($arg),*),
            DType::F64 => $f::<f64>($($arg),*),
            d => Err(Error::UnsupportedDType { op: $op, dtype: d }),
        }
    };
}
pub(crate) use float_gpu;

/// `a` and `b` must live on the same device.
pub(crate) fn same_device(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.device() != b.device() {
        return Err(Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() });
    }
    Ok(())
}

/// The buffer and view of `t`, which must be on `x`'s device and of dtype `T`.
pub(crate) fn operand<'a, T: GpuFloat>(op: &'static str, x: &Tensor, t: &'a Tensor) -> Result<Input<'a, T>> {
    same_device(op, x, t)?;
    if t.dtype() != T::DTYPE {
        return Err(Error::DTypeMismatch { op, lhs: T::DTYPE, rhs: t.dtype() });
    }
    let st = t.cuda_storage().ok_or(Error::NotOnCpu { device: t.device() })?;
    let buf = T::buf(&st.buf).ok_or(Error::UnsupportedDType { op, dtype: t.dtype() })?;
    Ok((buf, strided(t.layout())?))
}

/// The buffer and view of an `I64` index tensor on `x`'s device.
pub(crate) fn index_operand<'a>(op: &'static str, x: &Tensor, idx: &'a Tensor) -> Result<Input<'a, i64>> {
    same_device(op, x, idx)?;
    match idx.cuda_storage().map(|s| &s.buf) {
        Some(GpuBuf::I64(b)) => Ok((b, strided(idx.layout())?)),
        _ => Err(Error::DTypeMismatch { op, lhs: DType::I64, rhs: idx.dtype() }),
    }
}

/// The typed buffer of a freshly allocated `T` storage.
pub(crate) fn out_buf<T: GpuFloat>(st: &mut CudaStorage) -> Result<&mut CudaSlice<T>> {
    let dtype = st.dtype();
    T::buf_mut(&mut st.buf).ok_or(Error::UnsupportedDType { op: "cuda output", dtype })
}

/// `t` must hold `want` elements (the kernels index it by row or channel).
fn check_count(op: &'static str, t: &Tensor, want: &[usize]) -> Result<()> {
    if t.elem_count() != want.iter().product::<usize>() {
        return Err(Error::ShapeMismatch { op, lhs: want.to_vec(), rhs: t.shape().to_vec() });
    }
    Ok(())
}

/// Shared forward: y plus the statistics (`center = false`: RMS norm, mean left empty).
#[allow(clippy::too_many_arguments)]
fn forward<T: GpuFloat>(
    op: &'static str,
    x: &Tensor,
    st: &CudaStorage,
    shape: Rows,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    eps: f64,
    center: bool,
) -> Result<(Tensor, NormStats)> {
    let dev = &st.dev;
    let xin = operand::<T>(op, x, x)?;
    let g = gamma.map(|g| operand::<T>(op, x, g)).transpose()?;
    let b = beta.map(|b| operand::<T>(op, x, b)).transpose()?;
    let rows = shape.rows;
    let mut y = CudaStorage::zeros(dev, T::DTYPE, x.elem_count())?;
    let mut rstd = CudaStorage::zeros(dev, T::DTYPE, rows)?;
    let mut mean = if center { Some(CudaStorage::zeros(dev, T::DTYPE, rows)?) } else { None };
    let mean_buf = match mean.as_mut() {
        Some(m) => Some(out_buf::<T>(m)?),
        None => None,
    };
    k::forward(dev, xin, g, b, shape, T::from_f64(eps), out_buf(&mut y)?, mean_buf, out_buf(&mut rstd)?)
        .map_err(gpu)?;
    let rstd = Tensor::from_cuda(rstd, &[rows])?;
    // RMS norm saves no mean: an empty view of rstd stands for it (no zero-length allocation).
    let mean = match mean {
        Some(m) => Tensor::from_cuda(m, &[rows])?,
        None => rstd.narrow(0, 0, 0)?,
    };
    Ok((Tensor::from_cuda(y, x.shape())?, NormStats { mean, rstd }))
}

/// Layer norm over rows of `d` (the trailing `norm_shape`).
pub fn layer_norm(
    x: &Tensor,
    st: &CudaStorage,
    (rows, d): (usize, usize),
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, NormStats)> {
    let shape = Rows { rows, d, groups: 1, s: 1 };
    float_gpu!(x.dtype(), "layer_norm", forward("layer_norm", x, st, shape, gamma, beta, eps, true))
}

/// RMS norm over rows of `d`; the stats' mean is empty, as on the CPU.
pub fn rms_norm(
    x: &Tensor,
    st: &CudaStorage,
    (rows, d): (usize, usize),
    gamma: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, NormStats)> {
    let shape = Rows { rows, d, groups: 1, s: 1 };
    float_gpu!(x.dtype(), "rms_norm", forward("rms_norm", x, st, shape, gamma, None, eps, false))
}

/// Group norm on `[n, c, s]` (s = product of the trailing dims); stats per (sample, group).
pub fn group_norm(
    x: &Tensor,
    st: &CudaStorage,
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    eps: f64,
) -> Result<(Tensor, NormStats)> {
    let shape = Rows { rows: n * groups, d: c / groups * s, groups, s: s.max(1) };
    float_gpu!(x.dtype(), "group_norm", forward("group_norm", x, st, shape, gamma, beta, eps, true))
}

/// What a backward needs besides x: dy, gamma, the stats and which gradients to return.
struct Grad<'a> {
    dy: &'a Tensor,
    gamma: Option<&'a Tensor>,
    has_beta: bool,
    stats: &'a NormStats,
    center: bool,
    /// Group norm: `(n, c, s, groups)`; `None` for layer/RMS norm.
    group: Option<(usize, usize, usize, usize)>,
    /// The shape of dgamma/dbeta.
    param_shape: &'a [usize],
}

type Grads = (Tensor, Option<Tensor>, Option<Tensor>);

fn backward<T: GpuFloat>(op: &'static str, x: &Tensor, st: &CudaStorage, shape: Rows, a: Grad<'_>) -> Result<Grads> {
    let dev = &st.dev;
    let stat_rows = [shape.rows];
    check_count(op, a.dy, x.shape())?; // read at x's logical indices, as on the CPU
    check_count(op, &a.stats.rstd, &stat_rows)?;
    if a.center {
        check_count(op, &a.stats.mean, &stat_rows)?;
    }
    if let Some(g) = a.gamma {
        check_count(op, g, a.param_shape)?;
    }
    let (xin, dyin) = (operand::<T>(op, x, x)?, operand::<T>(op, x, a.dy)?);
    let g = a.gamma.map(|g| operand::<T>(op, x, g)).transpose()?;
    let mean = if a.center { Some(operand::<T>(op, x, &a.stats.mean)?) } else { None };
    let rstd = operand::<T>(op, x, &a.stats.rstd)?;
    let mut dx = CudaStorage::zeros(dev, T::DTYPE, x.elem_count())?;
    k::backward_dx(dev, xin, dyin, g, mean, rstd, shape, out_buf(&mut dx)?).map_err(gpu)?;
    let dx = Tensor::from_cuda(dx, x.shape())?;
    if a.gamma.is_none() && !a.has_beta {
        return Ok((dx, None, None));
    }
    let width = a.param_shape.iter().product();
    let mut dg = CudaStorage::zeros(dev, T::DTYPE, width)?;
    let mut db = CudaStorage::zeros(dev, T::DTYPE, width)?;
    match (a.group, mean) {
        (Some(dims), Some(mean)) => {
            k::group_param_grads(dev, xin, dyin, mean, rstd, dims, out_buf(&mut dg)?, out_buf(&mut db)?)
        }
        (_, mean) => {
            k::param_grads(dev, xin, dyin, mean, rstd, (shape.rows, shape.d), out_buf(&mut dg)?, out_buf(&mut db)?)
        }
    }
    .map_err(gpu)?;
    let dg = a.gamma.map(|_| Tensor::from_cuda(dg, a.param_shape)).transpose()?;
    let db = if a.has_beta { Some(Tensor::from_cuda(db, a.param_shape)?) } else { None };
    Ok((dx, dg, db))
}

/// `(dx, dgamma, dbeta)` of layer norm (dgamma/dbeta when gamma is given / `has_beta`).
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward(
    x: &Tensor,
    st: &CudaStorage,
    dy: &Tensor,
    (rows, d): (usize, usize),
    norm_shape: &[usize],
    gamma: Option<&Tensor>,
    has_beta: bool,
    stats: &NormStats,
) -> Result<Grads> {
    let shape = Rows { rows, d, groups: 1, s: 1 };
    let a = Grad { dy, gamma, has_beta, stats, center: true, group: None, param_shape: norm_shape };
    float_gpu!(x.dtype(), "layer_norm_backward", backward("layer_norm_backward", x, st, shape, a))
}

/// `(dx, dgamma)` of RMS norm.
pub fn rms_norm_backward(
    x: &Tensor,
    st: &CudaStorage,
    dy: &Tensor,
    (rows, d): (usize, usize),
    norm_shape: &[usize],
    gamma: Option<&Tensor>,
    stats: &NormStats,
) -> Result<(Tensor, Option<Tensor>)> {
    let shape = Rows { rows, d, groups: 1, s: 1 };
    let a = Grad { dy, gamma, has_beta: false, stats, center: false, group: None, param_shape: norm_shape };
    let (dx, dg, _) = float_gpu!(x.dtype(), "rms_norm_backward", backward("rms_norm_backward", x, st, shape, a))?;
    Ok((dx, dg))
}

/// `(dx, dgamma, dbeta)` of group norm on `[n, c, s]`; dgamma/dbeta are `[c]`.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward(
    x: &Tensor,
    st: &CudaStorage,
    dy: &Tensor,
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&Tensor>,
    has_beta: bool,
    stats: &NormStats,
) -> Result<Grads> {
    let shape = Rows { rows: n * groups, d: c / groups * s, groups, s: s.max(1) };
    let param_shape = [c];
    let a =
        Grad { dy, gamma, has_beta, stats, center: true, group: Some((n, c, s, groups)), param_shape: &param_shape };
    float_gpu!(x.dtype(), "group_norm_backward", backward("group_norm_backward", x, st, shape, a))
}

/// Mean cross-entropy of `logits: [rows, classes]`; `host_targets` are the targets already
/// copied to the host and range-checked by the op. Returns the scalar loss (on the GPU) and the
/// number of rows that counted.
pub fn cross_entropy(
    logits: &Tensor,
    st: &CudaStorage,
    targets: &Tensor,
    host_targets: &[i64],
    ignore: Option<i64>,
    label_smoothing: f64,
) -> Result<(Tensor, usize)> {
    let count = host_targets.iter().filter(|&&t| ignore != Some(t)).count();
    fn run<T: GpuFloat>(
        l: &Tensor,
        st: &CudaStorage,
        t: &Tensor,
        ign: Option<i64>,
        eps: f64,
        count: usize,
    ) -> Result<Tensor> {
        let (dev, (rows, classes)) = (&st.dev, (l.shape()[0], l.shape()[1]));
        let (lin, tin) = (operand::<T>("cross_entropy", l, l)?, index_operand("cross_entropy", l, t)?);
        // At least one element: a zero-length device allocation is not portable.
        let mut losses = CudaStorage::zeros(dev, T::DTYPE, rows.max(1))?;
        k::cross_entropy_rows(dev, lin, tin, (rows, classes), ign, T::from_f64(eps), out_buf(&mut losses)?)
            .map_err(gpu)?;
        let mut out = CudaStorage::zeros(dev, T::DTYPE, 1)?;
        k::cross_entropy_mean(dev, out_buf::<T>(&mut losses)?, rows, count, out_buf(&mut out)?).map_err(gpu)?;
        Tensor::from_cuda(out, &[])
    }
    let loss = float_gpu!(logits.dtype(), "cross_entropy", run(logits, st, targets, ignore, label_smoothing, count))?;
    Ok((loss, count))
}

/// Gradient of the mean cross-entropy w.r.t. the logits, scaled by the scalar `dloss` (on this GPU
/// or on the CPU; it is read as f64 and divided by `max(count, 1)` as on the CPU).
pub fn cross_entropy_backward(
    logits: &Tensor,
    st: &CudaStorage,
    targets: &Tensor,
    ignore: Option<i64>,
    label_smoothing: f64,
    count: usize,
    dloss: &Tensor,
) -> Result<Tensor> {
    if dloss.elem_count() != 1 {
        return Err(Error::ShapeMismatch { op: "to_scalar", lhs: dloss.shape().to_vec(), rhs: vec![] });
    }
    if dloss.device().is_cuda() {
        same_device("cross_entropy_backward", logits, dloss)?;
    }
    let dl = dloss.to_dtype(DType::F64)?.to_device(logits.device())?;
    fn run<T: GpuFloat>(
        l: &Tensor,
        st: &CudaStorage,
        t: &Tensor,
        dl: &Tensor,
        (ign, eps, count): (Option<i64>, f64, usize),
    ) -> Result<Tensor> {
        let op = "cross_entropy_backward";
        let (dev, (rows, classes)) = (&st.dev, (l.shape()[0], l.shape()[1]));
        let (lin, tin, din) = (operand::<T>(op, l, l)?, index_operand(op, l, t)?, operand::<f64>(op, l, dl)?);
        let mut out = CudaStorage::zeros(dev, T::DTYPE, rows * classes)?;
        k::cross_entropy_backward(
            dev,
            lin,
            tin,
            din,
            count,
            (rows, classes),
            ign,
            T::from_f64(eps),
            out_buf(&mut out)?,
        )
        .map_err(gpu)?;
        Tensor::from_cuda(out, l.shape())
    }
    let args = (ignore, label_smoothing, count);
    float_gpu!(logits.dtype(), "cross_entropy_backward", run(logits, st, targets, &dl, args))
}
