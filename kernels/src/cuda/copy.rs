//! Launch wrappers for `kernels/cuda/copy.cu`: strided copies, fills and dtype casts.
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, PushKernelArg, Result, StridedLayout};
use crate::ptx::COPY;

/// An element type by its width: copies and fills move raw bits, so f32 and u32 (or f16 and bf16,
/// both stored as `u16`) share one kernel.
pub trait Bits: DeviceRepr + Copy {
    /// `b8`, `b16`, `b32` or `b64`: the kernel name's suffix.
    const SUFFIX: &'static str;
}
impl Bits for u8 {
    const SUFFIX: &'static str = "b8";
}
impl Bits for u16 {
    const SUFFIX: &'static str = "b16";
}
impl Bits for f32 {
    const SUFFIX: &'static str = "b32";
}
impl Bits for u32 {
    const SUFFIX: &'static str = "b32";
}
impl Bits for f64 {
    const SUFFIX: &'static str = "b64";
}
impl Bits for i64 {
    const SUFFIX: &'static str = "b64";
}
impl Bits for u64 {
    const SUFFIX: &'static str = "b64";
}

/// `dst[i] = src[l(i)]` for `i < n`, where `l` is the source view (row-major over its dims).
// src: the whole storage; dst: [n] contiguous
pub fn copy_strided<T: Bits>(
    dev: &GpuDevice,
    src: &CudaSlice<T>,
    l: &StridedLayout,
    dst: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    if l.ndim == 1 && l.strides[0] == 1 {
        // One contiguous run: the driver's device-to-device copy, the fastest there is.
        let off = l.offset as usize;
        dev.stream().memcpy_dtod(&src.slice(off..off + n), &mut dst.slice_mut(0..n))?;
        return Ok(());
    }
    let f = dev.function(&COPY, &format!("copy_strided_{}", T::SUFFIX))?;
    let n64 = n as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(src).arg(l).arg(dst).arg(&n64);
    // SAFETY: arguments match `copy_strided_<bits>(const T*, StridedLayout, T*, u64)`; the caller's
    // layout addresses only elements of `src` and `dst` holds at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `dst[i] = v` for `i < n`.
pub fn fill<T: Bits>(dev: &GpuDevice, dst: &mut CudaSlice<T>, v: T, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&COPY, &format!("fill_{}", T::SUFFIX))?;
    let n64 = n as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(dst).arg(&v).arg(&n64);
    // SAFETY: arguments match `fill_<bits>(T*, T, u64)` and `dst` holds at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `dst[i] = (to) src[l(i)]`: a dtype cast read through a view. `from`/`to` are the dtype names
/// (`f32`, `f64`, `f16`, `bf16`, `i64`, `u8`) and must match the element types of the buffers
/// (f16 and bf16 live in `u16` buffers).
pub fn cast<A: DeviceRepr, B: DeviceRepr>(
    dev: &GpuDevice,
    from: &str,
    to: &str,
    src: &CudaSlice<A>,
    l: &StridedLayout,
    dst: &mut CudaSlice<B>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&COPY, &format!("cast_{from}_{to}"))?;
    let n64 = n as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(src).arg(l).arg(dst).arg(&n64);
    // SAFETY: `cast_<from>_<to>(const A*, StridedLayout, B*, u64)`; the caller passes buffers of the
    // named dtypes, a layout inside `src` and a `dst` of at least `n` elements.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}
