//! Launch wrappers for `kernels/cuda/pool.cu`: 2-D max / average pooling and their backward
//! passes on contiguous NCHW buffers (the backward passes gather, so no atomics).
use super::gemm::Float;
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, PushKernelArg, Result};
use crate::pool::Pool2dGeom;
use crate::ptx::POOL;
use cudarc::driver::CudaView;

/// The geometry parameter of the pool kernels; mirrors `PoolDims` in `kernels/cuda/pool.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolDims {
    pub n: i32,
    pub c: i32,
    pub h: i32,
    pub w: i32,
    pub kh: i32,
    pub kw: i32,
    pub sh: i32,
    pub sw: i32,
    pub ph: i32,
    pub pw: i32,
    pub ho: i32,
    pub wo: i32,
}

// SAFETY: repr(C), twelve i32 like the C struct (size checked below and by static_assert).
unsafe impl DeviceRepr for PoolDims {}
const _: () = assert!(std::mem::size_of::<PoolDims>() == 48);

impl PoolDims {
    /// The kernel geometry of a (validated) pooling; `None` when a size or an index the kernels
    /// compute (`ho·sh + kh`, `h + ph`, the flat index within a plane) does not fit in an `i32`.
    pub fn new(g: &Pool2dGeom) -> Option<PoolDims> {
        let i = |v: usize| i32::try_from(v).ok();
        let (ho, wo) = (g.out_h(), g.out_w());
        i(ho.checked_mul(g.stride.0)? + g.kh + g.h + g.padding.0)?;
        i(wo.checked_mul(g.stride.1)? + g.kw + g.w + g.padding.1)?;
        i(g.h.checked_mul(g.w)?)?;
        Some(PoolDims {
            n: i(g.n)?,
            c: i(g.c)?,
            h: i(g.h)?,
            w: i(g.w)?,
            kh: i(g.kh)?,
            kw: i(g.kw)?,
            sh: i(g.stride.0)?,
            sw: i(g.stride.1)?,
            ph: i(g.padding.0)?,
            pw: i(g.padding.1)?,
            ho: i(ho)?,
            wo: i(wo)?,
        })
    }
    /// Elements of the input: `N·C·H·W`.
    pub fn input_len(&self) -> usize {
        self.n as usize * self.c as usize * self.h as usize * self.w as usize
    }
    /// Elements of the output: `N·C·Ho·Wo`.
    pub fn output_len(&self) -> usize {
        self.n as usize * self.c as usize * self.ho as usize * self.wo as usize
    }
    fn check(&self, input_len: usize, output_len: usize) {
        assert!(input_len >= self.input_len(), "pool2d: input buffer of {input_len} for {self:?}");
        assert!(output_len >= self.output_len(), "pool2d: output buffer of {output_len} for {self:?}");
    }
}

/// Max pooling: `y` and `arg` (the flat index into `x` of each maximum, −1 for an empty window).
// x: [N, C, H, W]; y, arg: [N, C, Ho, Wo]
pub fn max_pool2d<T: Float>(
    dev: &GpuDevice,
    g: &PoolDims,
    x: &CudaView<T>,
    y: &mut CudaSlice<T>,
    arg: &mut CudaSlice<i64>,
) -> Result<()> {
    g.check(x.len(), y.len().min(arg.len()));
    let n = g.output_len();
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&POOL, &format!("max_pool2d_{}", T::NAME))?;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(y).arg(arg).arg(g);
    // SAFETY: `max_pool2d_<T>(const T *x, T *y, long long *arg, PoolDims g)`; lengths checked.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// Backward of max pooling: `dx[i]` is the sum of the `dy[o]` whose `arg[o] == i`.
// dy, arg: [N, C, Ho, Wo]; dx: [N, C, H, W] (overwritten)
pub fn max_pool2d_backward<T: Float>(
    dev: &GpuDevice,
    g: &PoolDims,
    dy: &CudaView<T>,
    arg: &CudaView<i64>,
    dx: &mut CudaSlice<T>,
) -> Result<()> {
    g.check(dx.len(), dy.len().min(arg.len()));
    let n = g.input_len();
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&POOL, &format!("max_pool2d_backward_{}", T::NAME))?;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(dy).arg(arg).arg(dx).arg(g);
    // SAFETY: `max_pool2d_backward_<T>(const T *dy, const long long *arg, T *dx, PoolDims g)`;
    // lengths checked.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// Average pooling, padding counted as zeros: window sum · (1/(kh·kw)).
// x: [N, C, H, W]; y: [N, C, Ho, Wo]
pub fn avg_pool2d<T: Float>(dev: &GpuDevice, g: &PoolDims, x: &CudaView<T>, y: &mut CudaSlice<T>) -> Result<()> {
    g.check(x.len(), y.len());
    let n = g.output_len();
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&POOL, &format!("avg_pool2d_{}", T::NAME))?;
    let inv = T::recip_of(g.kh as usize * g.kw as usize);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(y).arg(g).arg(&inv);
    // SAFETY: `avg_pool2d_<T>(const T *x, T *y, PoolDims g, T inv)`; lengths checked.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// Backward of average pooling: each input element gathers `dy · (1/(kh·kw))` of its windows.
// dy: [N, C, Ho, Wo]; dx: [N, C, H, W] (overwritten)
pub fn avg_pool2d_backward<T: Float>(
    dev: &GpuDevice,
    g: &PoolDims,
    dy: &CudaView<T>,
    dx: &mut CudaSlice<T>,
) -> Result<()> {
    g.check(dx.len(), dy.len());
    let n = g.input_len();
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&POOL, &format!("avg_pool2d_backward_{}", T::NAME))?;
    let inv = T::recip_of(g.kh as usize * g.kw as usize);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(dy).arg(dx).arg(g).arg(&inv);
    // SAFETY: `avg_pool2d_backward_<T>(const T *dy, T *dx, PoolDims g, T inv)`; lengths checked.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}
