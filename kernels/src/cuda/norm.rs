//! Launch wrappers for `kernels/cuda/norm.cu`: layer/RMS/group norm forward and backward, and
//! cross-entropy, in f32 and f64. Inputs are `(buffer, view)` pairs read at their logical
//! row-major index; outputs are contiguous buffers of the stated length. Every reduction runs in
//! a fixed order (one block per row with a fixed tree; column sums over fixed row chunks, then the
//! chunks in order), so reruns give the same bits.
use super::ValidAsZeroBits;
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, LaunchConfig, PushKernelArg, Result, StridedLayout};
use crate::ptx::NORM;

/// Threads per block of the row kernels (`NORM_THREADS` in norm.cu).
pub const THREADS: u32 = 256;
/// Rows per partial column sum of dgamma/dbeta (`NORM_CHUNK` in norm.cu).
pub const CHUNK_ROWS: usize = 64;

/// The float element types with kernels: the kernel name's suffix.
pub trait Float: DeviceRepr + ValidAsZeroBits + Copy {
    const NAME: &'static str;
}
impl Float for f32 {
    const NAME: &'static str = "f32";
}
impl Float for f64 {
    const NAME: &'static str = "f64";
}

/// An input: the whole device buffer and the view of it to read.
pub type Input<'a, T> = (&'a CudaSlice<T>, StridedLayout);

/// The rows of a norm: `rows` rows of `d` elements; element `i` of row `r` uses the affine
/// channel `(r % groups) * (d / s) + i / s` (layer/RMS norm: `groups = s = 1`; group norm on
/// `[n, c, s]`: `rows = n * groups`, `d = (c / groups) * s`, `s ≥ 1`).
#[derive(Clone, Copy, Debug)]
pub struct Rows {
    pub rows: usize,
    pub d: usize,
    pub groups: usize,
    pub s: usize,
}

/// One block of [`THREADS`] per row (blocks loop over the rows beyond the grid).
fn per_row(rows: usize) -> LaunchConfig {
    let blocks = rows.clamp(1, 1 << 20) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
}

/// The parameter standing in for an absent input: a null pointer and an empty view.
const NULL: u64 = 0;
const NO_VIEW: StridedLayout =
    StridedLayout { ndim: 0, dims: [1; super::MAX_DIMS], strides: [0; super::MAX_DIMS], offset: 0 };

/// Pushes an optional input as (pointer, view), a null pointer when absent.
macro_rules! push_opt {
    ($b:ident, $opt:expr) => {
        match $opt {
            Some((buf, l)) => {
                $b.arg(*buf).arg(l);
            }
            None => {
                $b.arg(&NULL).arg(&NO_VIEW);
            }
        }
    };
}

fn check_out<T>(name: &str, buf: &CudaSlice<T>, want: usize) {
    assert!(buf.len() >= want, "{name}: buffer of {} elements, need {want}", buf.len());
}

/// Forward: `y = (x - mean)·rstd·gamma + beta` per row, with `rstd = 1/sqrt(var + eps)`.
/// `mean: None` is RMS norm (no centring, nothing stored). y: [rows·d]; mean, rstd: [rows].
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Float>(
    dev: &GpuDevice,
    x: Input<T>,
    gamma: Option<Input<T>>,
    beta: Option<Input<T>>,
    shape: Rows,
    eps: T,
    y: &mut CudaSlice<T>,
    mean: Option<&mut CudaSlice<T>>,
    rstd: &mut CudaSlice<T>,
) -> Result<()> {
    let Rows { rows, d, groups, s } = shape;
    check_out("y", y, rows * d);
    check_out("rstd", rstd, rows);
    if rows == 0 {
        return Ok(());
    }
    let f = dev.function(&NORM, &format!("norm_rows_forward_{}", T::NAME))?;
    let (rows64, d64, groups64, s64) = (rows as u64, d as u64, groups as u64, s.max(1) as u64);
    let center: i32 = mean.is_some().into();
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x.0).arg(&x.1);
    push_opt!(b, &gamma);
    push_opt!(b, &beta);
    b.arg(y);
    match mean {
        Some(m) => {
            check_out("mean", m, rows);
            b.arg(m);
        }
        None => {
            b.arg(&NULL);
        }
    }
    b.arg(rstd).arg(&rows64).arg(&d64).arg(&groups64).arg(&s64).arg(&center).arg(&eps);
    // SAFETY: matches `norm_rows_forward_<T>(const T*, SL, const T*, SL, const T*, SL, T*, T*, T*,
    // u64 rows, u64 d, u64 groups, u64 s, i32 center, T eps)`; the views address elements of their
    // buffers (the caller's contract) and the outputs hold rows·d and rows elements (checked).
    unsafe { b.launch(per_row(rows)) }?;
    Ok(())
}

/// Input gradient `dx = rstd·(g - mean(g) - xhat·mean(g·xhat))` with `g = dy·gamma`;
/// `mean: None` is RMS norm (no `mean(g)` term). dx: [rows·d].
#[allow(clippy::too_many_arguments)]
pub fn backward_dx<T: Float>(
    dev: &GpuDevice,
    x: Input<T>,
    dy: Input<T>,
    gamma: Option<Input<T>>,
    mean: Option<Input<T>>,
    rstd: Input<T>,
    shape: Rows,
    dx: &mut CudaSlice<T>,
) -> Result<()> {
    let Rows { rows, d, groups, s } = shape;
    check_out("dx", dx, rows * d);
    if rows == 0 || d == 0 {
        return Ok(());
    }
    let f = dev.function(&NORM, &format!("norm_rows_backward_dx_{}", T::NAME))?;
    let (rows64, d64, groups64, s64) = (rows as u64, d as u64, groups as u64, s.max(1) as u64);
    let center: i32 = mean.is_some().into();
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x.0).arg(&x.1).arg(dy.0).arg(&dy.1);
    push_opt!(b, &gamma);
    push_opt!(b, &mean);
    b.arg(rstd.0).arg(&rstd.1).arg(dx).arg(&rows64).arg(&d64).arg(&groups64).arg(&s64).arg(&center);
    // SAFETY: matches `norm_rows_backward_dx_<T>(const T*, SL, const T*, SL, const T*, SL, const T*,
    // SL, const T*, SL, T*, u64 rows, u64 d, u64 groups, u64 s, i32 center)`; views inside their
    // buffers, dx holds rows·d (checked).
    unsafe { b.launch(per_row(rows)) }?;
    Ok(())
}

/// `out[j] = Σ_k part[k·width + j]` over `k < chunks`, in order.
fn colsum<T: Float>(
    dev: &GpuDevice,
    part: &CudaSlice<T>,
    chunks: usize,
    width: usize,
    out: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("colsum part", part, chunks * width);
    check_out("colsum out", out, width);
    let f = dev.function(&NORM, &format!("colsum_{}", T::NAME))?;
    let (chunks64, width64) = (chunks as u64, width as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(part).arg(out).arg(&chunks64).arg(&width64);
    // SAFETY: matches `colsum_<T>(const T*, T*, u64 chunks, u64 width)`; sizes checked above.
    unsafe { b.launch(launch_1d(width)) }?;
    Ok(())
}

/// Layer/RMS norm `dgamma = Σ_rows dy·xhat`, `dbeta = Σ_rows dy` (both `[d]`, both computed):
/// partial sums over fixed chunks of [`CHUNK_ROWS`] rows, then the chunks in order.
#[allow(clippy::too_many_arguments)]
pub fn param_grads<T: Float>(
    dev: &GpuDevice,
    x: Input<T>,
    dy: Input<T>,
    mean: Option<Input<T>>,
    rstd: Input<T>,
    (rows, d): (usize, usize),
    dgamma: &mut CudaSlice<T>,
    dbeta: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("dgamma", dgamma, d);
    check_out("dbeta", dbeta, d);
    if d == 0 {
        return Ok(());
    }
    let stream = dev.stream();
    if rows == 0 {
        stream.memset_zeros(dgamma)?;
        stream.memset_zeros(dbeta)?;
        return Ok(());
    }
    let chunks = rows.div_ceil(CHUNK_ROWS);
    let (mut pg, mut pb) = (stream.alloc_zeros::<T>(chunks * d)?, stream.alloc_zeros::<T>(chunks * d)?);
    let f = dev.function(&NORM, &format!("norm_param_partials_{}", T::NAME))?;
    let (rows64, d64) = (rows as u64, d as u64);
    let center: i32 = mean.is_some().into();
    let mut b = stream.launch_builder(&f);
    b.arg(x.0).arg(&x.1).arg(dy.0).arg(&dy.1);
    push_opt!(b, &mean);
    b.arg(rstd.0).arg(&rstd.1).arg(&mut pg).arg(&mut pb).arg(&rows64).arg(&d64).arg(&center);
    // SAFETY: matches `norm_param_partials_<T>(const T*, SL, const T*, SL, const T*, SL, const T*,
    // SL, T*, T*, u64 rows, u64 d, i32 center)`; pg and pb hold ceil(rows/CHUNK_ROWS)·d.
    unsafe { b.launch(launch_1d(chunks * d)) }?;
    colsum(dev, &pg, chunks, d, dgamma)?;
    colsum(dev, &pb, chunks, d, dbeta)
}

/// Group norm `dgamma[ch] = Σ_{n,s} dy·xhat`, `dbeta[ch] = Σ_{n,s} dy` (both `[c]`): one block per
/// (sample, channel) sums over `s`, then the samples are added in order.
#[allow(clippy::too_many_arguments)]
pub fn group_param_grads<T: Float>(
    dev: &GpuDevice,
    x: Input<T>,
    dy: Input<T>,
    mean: Input<T>,
    rstd: Input<T>,
    (n, c, s, groups): (usize, usize, usize, usize),
    dgamma: &mut CudaSlice<T>,
    dbeta: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("dgamma", dgamma, c);
    check_out("dbeta", dbeta, c);
    if c == 0 {
        return Ok(());
    }
    let stream = dev.stream();
    if n == 0 {
        stream.memset_zeros(dgamma)?;
        stream.memset_zeros(dbeta)?;
        return Ok(());
    }
    let (mut pg, mut pb) = (stream.alloc_zeros::<T>(n * c)?, stream.alloc_zeros::<T>(n * c)?);
    let f = dev.function(&NORM, &format!("gn_param_partials_{}", T::NAME))?;
    let (n64, c64, s64, groups64) = (n as u64, c as u64, s as u64, groups as u64);
    let mut b = stream.launch_builder(&f);
    b.arg(x.0).arg(&x.1).arg(dy.0).arg(&dy.1).arg(mean.0).arg(&mean.1).arg(rstd.0).arg(&rstd.1);
    b.arg(&mut pg).arg(&mut pb).arg(&n64).arg(&c64).arg(&s64).arg(&groups64);
    // SAFETY: matches `gn_param_partials_<T>(const T*, SL, const T*, SL, const T*, SL, const T*, SL,
    // T*, T*, u64 n, u64 c, u64 s, u64 groups)`; pg and pb hold n·c.
    unsafe { b.launch(per_row(n * c)) }?;
    colsum(dev, &pg, n, c, dgamma)?;
    colsum(dev, &pb, n, c, dbeta)
}

/// The ignore index as the kernels' `(has_ignore, ignore)` pair.
fn ignore_args(ignore: Option<i64>) -> (i32, i64) {
    (ignore.is_some().into(), ignore.unwrap_or(0))
}

/// Per-row cross-entropy with label smoothing `eps` (0 for ignored rows). logits: [rows, classes];
/// targets: [rows] (each in range or the ignore index: the caller checked); losses: [rows].
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_rows<T: Float>(
    dev: &GpuDevice,
    logits: Input<T>,
    targets: Input<i64>,
    (rows, classes): (usize, usize),
    ignore: Option<i64>,
    eps: T,
    losses: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("losses", losses, rows);
    if rows == 0 {
        return Ok(());
    }
    let f = dev.function(&NORM, &format!("ce_rows_{}", T::NAME))?;
    let (rows64, classes64) = (rows as u64, classes as u64);
    let (has_ignore, ignore) = ignore_args(ignore);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(logits.0).arg(&logits.1).arg(targets.0).arg(&targets.1).arg(losses);
    b.arg(&rows64).arg(&classes64).arg(&has_ignore).arg(&ignore).arg(&eps);
    // SAFETY: matches `ce_rows_<T>(const T*, SL, const i64*, SL, T*, u64 rows, u64 classes,
    // i32 has_ignore, i64 ignore, T eps)`; targets are in 0..classes unless ignored (checked by the
    // caller), so every logit read is inside the view; losses holds rows.
    unsafe { b.launch(per_row(rows)) }?;
    Ok(())
}

/// `out[0] = Σ losses / count` (NaN when `count == 0`), summed by one block in a fixed order.
pub fn cross_entropy_mean<T: Float>(
    dev: &GpuDevice,
    losses: &CudaSlice<T>,
    rows: usize,
    count: usize,
    out: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("losses", losses, rows);
    check_out("out", out, 1);
    let f = dev.function(&NORM, &format!("ce_mean_{}", T::NAME))?;
    let (rows64, count64) = (rows as u64, count as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(losses).arg(out).arg(&rows64).arg(&count64);
    // SAFETY: matches `ce_mean_<T>(const T*, T*, u64 rows, u64 count)`; sizes checked above.
    unsafe { b.launch(per_row(1)) }?;
    Ok(())
}

/// Gradient of the mean cross-entropy: `dl = g·(softmax - eps/C) - g·(1-eps)·onehot(t)` with
/// `g = dloss / max(count, 1)` (dloss: one f64 element, divided in f64 then cast, as the CPU);
/// 0 for ignored rows. dl: [rows, classes].
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_backward<T: Float>(
    dev: &GpuDevice,
    logits: Input<T>,
    targets: Input<i64>,
    dloss: Input<f64>,
    count: usize,
    (rows, classes): (usize, usize),
    ignore: Option<i64>,
    eps: T,
    dl: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("dlogits", dl, rows * classes);
    if rows == 0 || classes == 0 {
        return Ok(());
    }
    let f = dev.function(&NORM, &format!("ce_backward_{}", T::NAME))?;
    let (count64, rows64, classes64) = (count as u64, rows as u64, classes as u64);
    let (has_ignore, ignore) = ignore_args(ignore);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(logits.0).arg(&logits.1).arg(targets.0).arg(&targets.1).arg(dloss.0).arg(&dloss.1);
    b.arg(&count64).arg(dl).arg(&rows64).arg(&classes64).arg(&has_ignore).arg(&ignore).arg(&eps);
    // SAFETY: matches `ce_backward_<T>(const T*, SL, const i64*, SL, const double*, SL, u64 count,
    // T*, u64 rows, u64 classes, i32 has_ignore, i64 ignore, T eps)`; targets checked by the caller,
    // dloss's view has one element, dl holds rows·classes.
    unsafe { b.launch(per_row(rows)) }?;
    Ok(())
}
