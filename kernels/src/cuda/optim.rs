//! Launch wrappers for `kernels/cuda/optim.cu`: fused Adam(W) and SGD steps with the CPU's exact
//! arithmetic (`crate::optim`), and the fixed-order f64 sum of squares behind gradient clipping.
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, LaunchConfig, PushKernelArg, Result, StridedLayout};
use crate::optim::{AdamScalars, SgdScalars};
use crate::ptx::OPTIM;

/// The element types the update kernels exist for.
pub trait OptimElem: DeviceRepr + Copy {
    /// `f32` or `f64`: the kernel name's suffix.
    const SUFFIX: &'static str;
}
impl OptimElem for f32 {
    const SUFFIX: &'static str = "f32";
}
impl OptimElem for f64 {
    const SUFFIX: &'static str = "f64";
}

/// An input: a whole device buffer and the view of it to read (row-major over the view's dims).
#[derive(Clone, Copy)]
pub struct View<'a, T> {
    pub buf: &'a CudaSlice<T>,
    pub layout: StridedLayout,
}

/// How an Adam step applies weight decay (`WD_*` in optim.cu).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightDecay {
    None = 0,
    /// AdamW: `p ← p·(1 − lr·wd)` before the update.
    Decoupled = 1,
    /// Adam: `g ← g + wd·p`.
    L2 = 2,
}

/// Flags of the SGD kernels (`SGD_*` in optim.cu).
pub const SGD_WEIGHT_DECAY: i32 = 1;
pub const SGD_FIRST: i32 = 2;
pub const SGD_NESTEROV: i32 = 4;

/// One Adam(W) step: `[p, g, m, v]` read through their views, `[p', m', v']` written contiguous.
// p, g, m, v: views of n elements; outputs: [n]
pub fn adam<T: OptimElem>(
    dev: &GpuDevice,
    inputs: [View<'_, T>; 4],
    outputs: [&mut CudaSlice<T>; 3],
    n: usize,
    s: &AdamScalars<T>,
    wd: WeightDecay,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&OPTIM, &format!("adam_{}", T::SUFFIX))?;
    let [p, g, m, v] = inputs;
    let [p_out, m_out, v_out] = outputs;
    let (n64, mode) = (n as u64, wd as i32);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(p.buf).arg(&p.layout).arg(g.buf).arg(&g.layout).arg(m.buf).arg(&m.layout).arg(v.buf).arg(&v.layout);
    b.arg(p_out).arg(m_out).arg(v_out).arg(&n64);
    b.arg(&s.b1).arg(&s.b2).arg(&s.bc2_sqrt).arg(&s.step_size).arg(&s.wd).arg(&s.decay).arg(&s.eps).arg(&mode);
    // SAFETY: matches `adam_<T>(const T*, StridedLayout ×4 interleaved, T* ×3, u64 n, T b1, T b2,
    // T bc2_sqrt, T step_size, T wd, T decay, T eps, int wd_mode)`; the caller's views address
    // only elements of their buffers and each output holds at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// One plain SGD step (no momentum): `p' = p − lr·(g [+ wd·p])`. `flags`: [`SGD_WEIGHT_DECAY`].
// p, g: views of n elements; p_out: [n]
pub fn sgd<T: OptimElem>(
    dev: &GpuDevice,
    p: View<'_, T>,
    g: View<'_, T>,
    p_out: &mut CudaSlice<T>,
    n: usize,
    s: &SgdScalars<T>,
    flags: i32,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&OPTIM, &format!("sgd_{}", T::SUFFIX))?;
    let n64 = n as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(p.buf).arg(&p.layout).arg(g.buf).arg(&g.layout).arg(p_out).arg(&n64).arg(&s.lr).arg(&s.wd).arg(&flags);
    // SAFETY: matches `sgd_<T>(const T*, StridedLayout, const T*, StridedLayout, T*, u64 n, T lr,
    // T wd, int flags)`; views inside their buffers, `p_out` holds at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// One SGD step with momentum: `[p, g, buf]` in, `[p', buf']` out. `flags`: any of
/// [`SGD_WEIGHT_DECAY`], [`SGD_FIRST`] (the buffer starts as the gradient; `buf` is not read),
/// [`SGD_NESTEROV`].
// p, g, buf: views of n elements; outputs: [n]
pub fn sgd_momentum<T: OptimElem>(
    dev: &GpuDevice,
    inputs: [View<'_, T>; 3],
    outputs: [&mut CudaSlice<T>; 2],
    n: usize,
    s: &SgdScalars<T>,
    flags: i32,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&OPTIM, &format!("sgd_momentum_{}", T::SUFFIX))?;
    let [p, g, buf] = inputs;
    let [p_out, buf_out] = outputs;
    let n64 = n as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(p.buf).arg(&p.layout).arg(g.buf).arg(&g.layout).arg(buf.buf).arg(&buf.layout);
    b.arg(p_out).arg(buf_out).arg(&n64).arg(&s.lr).arg(&s.mu).arg(&s.damp).arg(&s.wd).arg(&flags);
    // SAFETY: matches `sgd_momentum_<T>(const T*, StridedLayout ×3 interleaved, T* p_out,
    // T* buf_out, u64 n, T lr, T mu, T damp, T wd, int flags)`; views inside their buffers,
    // outputs of at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// Threads per block of the sum-of-squares kernels (`SUMSQ_THREADS` in optim.cu).
const SUMSQ_THREADS: u32 = 256;
/// Most blocks of the first stage (so one block can finish the partials).
const SUMSQ_MAX_BLOCKS: usize = 1024;

/// Blocks of the first stage for `n` elements: a function of `n` only, so the summation order is.
pub fn sumsq_grid(n: usize) -> u32 {
    n.div_ceil(SUMSQ_THREADS as usize).clamp(1, SUMSQ_MAX_BLOCKS) as u32
}

/// `Σ x²` over a view of `n` elements, accumulated in f64 in a fixed order; waits for the stream.
pub fn sum_squares<T: OptimElem>(dev: &GpuDevice, x: View<'_, T>, n: usize) -> Result<f64> {
    if n == 0 {
        return Ok(0.0);
    }
    let blocks = sumsq_grid(n);
    let s = dev.stream();
    let mut partial = s.alloc_zeros::<f64>(blocks as usize)?;
    let mut out = s.alloc_zeros::<f64>(1)?;
    let cfg =
        |grid: u32| LaunchConfig { grid_dim: (grid, 1, 1), block_dim: (SUMSQ_THREADS, 1, 1), shared_mem_bytes: 0 };
    let f = dev.function(&OPTIM, &format!("sumsq_partial_{}", T::SUFFIX))?;
    let n64 = n as u64;
    let mut b = s.launch_builder(&f);
    b.arg(x.buf).arg(&x.layout).arg(&n64).arg(&mut partial);
    // SAFETY: matches `sumsq_partial_<T>(const T*, StridedLayout, u64 n, double* partial)` with
    // SUMSQ_THREADS threads per block; `partial` holds one double per block.
    unsafe { b.launch(cfg(blocks)) }?;
    let f = dev.function(&OPTIM, "sumsq_final")?;
    let mut b = s.launch_builder(&f);
    b.arg(&partial).arg(&blocks).arg(&mut out);
    // SAFETY: matches `sumsq_final(const double*, unsigned int count, double* out)`, one block of
    // SUMSQ_THREADS threads; `partial` holds `blocks` doubles, `out` one.
    unsafe { b.launch(cfg(1)) }?;
    Ok(s.clone_dtoh(&out)?[0])
}
