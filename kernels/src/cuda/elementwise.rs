//! Launch wrappers for `kernels/cuda/elementwise.cu`: unary and binary maps with their backward
//! rules, comparisons, `where` and `masked_fill`. Inputs are read through [`StridedLayout`]s (views,
//! broadcasts), outputs are contiguous buffers of `n` elements.
//!
//! The kernels pick the operation by an `int` code. The codes are defined here and only here
//! ([`unary_code`], [`binary_code`], [`cmp_code`]), next to the CPU enums they mirror; the `.cu`
//! header repeats the table.
use super::copy::Bits;
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, PushKernelArg, Result, StridedLayout, ValidAsZeroBits};
pub use crate::cuda_params::{binary_code, cmp_code, unary_code};
use crate::elementwise::{BinaryOp, CmpOp, UnaryOp};
use crate::ptx::ELEMENTWISE;
use cudarc::driver::{CudaView, DevicePtr};

/// An element type with kernels of its own: the kernel name's suffix.
pub trait Elem: DeviceRepr + ValidAsZeroBits + Copy + Unpin {
    const NAME: &'static str;
}
impl Elem for u8 {
    const NAME: &'static str = "u8";
}
impl Elem for i64 {
    const NAME: &'static str = "i64";
}
impl Elem for f32 {
    const NAME: &'static str = "f32";
}
impl Elem for f64 {
    const NAME: &'static str = "f64";
}

/// The float element types the arithmetic kernels exist for.
pub trait Float: Elem + Bits {
    /// `v` rounded to this type, as the CPU's `Real::from_f64` does (`v as f32`).
    fn of(v: f64) -> Self;
}
impl Float for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
}
impl Float for f64 {
    fn of(v: f64) -> Self {
        v
    }
}

/// Whether a buffer (or view) starts on a 16-byte boundary, as 128-bit loads and stores need.
fn aligned16<T, S: DevicePtr<T>>(dev: &GpuDevice, s: &S) -> bool {
    let (ptr, _record) = s.device_ptr(dev.stream());
    ptr % 16 == 0
}

/// The view `l` describes as a plain slice, when the `_vec4` fast path can read it: f32, one
/// contiguous run of `n` elements (layouts merge a contiguous view into one dim of stride 1),
/// 16-byte aligned.
fn vec4_run<'a, T: Float>(
    dev: &GpuDevice,
    s: &'a CudaSlice<T>,
    l: &StridedLayout,
    n: usize,
) -> Option<CudaView<'a, T>> {
    if <T as Elem>::NAME != "f32" || l.ndim != 1 || l.strides[0] != 1 || l.dims[0] as usize != n {
        return None;
    }
    let v = s.slice(l.offset as usize..);
    aligned16(dev, &v).then_some(v)
}

/// `y[i] = op(x[lx(i)])` for `i < n`.
// x: any view of n elements; y: [n]
pub fn unary<T: Float>(
    dev: &GpuDevice,
    op: UnaryOp,
    x: &CudaSlice<T>,
    lx: &StridedLayout,
    y: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let (code, p) = unary_code(op);
    let (n64, p0, p1, p2) = (n as u64, T::of(p[0]), T::of(p[1]), T::of(p[2]));
    if let Some(xv) = vec4_run(dev, x, lx, n).filter(|_| aligned16(dev, y)) {
        let f = dev.function(&ELEMENTWISE, "unary_vec4_f32")?;
        let mut b = dev.stream().launch_builder(&f);
        b.arg(&xv).arg(y).arg(&n64).arg(&code).arg(&p0).arg(&p1);
        // SAFETY: matches `unary_vec4_f32(const float4*, float4*, u64, int, float, float)` (T is
        // f32 here); `xv` is a contiguous run of n elements and `y` holds at least `n`, both
        // 16-byte aligned; at least 4 threads cover the tail.
        unsafe { b.launch(launch_1d((n / 4).max(1))) }?;
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("unary_{}", <T as Elem>::NAME))?;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(lx).arg(y).arg(&n64).arg(&code).arg(&p0).arg(&p1).arg(&p2);
    // SAFETY: matches `unary_<T>(const T*, StridedLayout, T*, u64, int, T, T, T)`; the layout
    // addresses only elements of `x` and `y` holds at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `dx[i] = dy[ldy(i)] · f'(x[lx(i)], y[ly(i)])` for `i < n`.
// x, y, dy: views of n elements; dx: [n]
#[allow(clippy::too_many_arguments)]
pub fn unary_backward<T: Float>(
    dev: &GpuDevice,
    op: UnaryOp,
    (x, lx): (&CudaSlice<T>, &StridedLayout),
    (y, ly): (&CudaSlice<T>, &StridedLayout),
    (dy, ldy): (&CudaSlice<T>, &StridedLayout),
    dx: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("unary_backward_{}", <T as Elem>::NAME))?;
    let (code, p) = unary_code(op);
    let (n64, p0, p1, p2) = (n as u64, T::of(p[0]), T::of(p[1]), T::of(p[2]));
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(lx).arg(y).arg(ly).arg(dy).arg(ldy).arg(dx).arg(&n64).arg(&code).arg(&p0).arg(&p1).arg(&p2);
    // SAFETY: matches `unary_backward_<T>(const T*, StridedLayout, const T*, StridedLayout,
    // const T*, StridedLayout, T*, u64, int, T, T, T)`; each layout addresses only its buffer and
    // `dx` holds at least `n`.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[i] = op(a[la(i)], b[lb(i)])` for `i < n` (both layouts broadcast to the output shape).
// a, b: views of n elements; out: [n]
pub fn binary<T: Float>(
    dev: &GpuDevice,
    op: BinaryOp,
    (a, la): (&CudaSlice<T>, &StridedLayout),
    (b, lb): (&CudaSlice<T>, &StridedLayout),
    out: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let (n64, code) = (n as u64, binary_code(op));
    if let (Some(av), Some(bv), true) = (vec4_run(dev, a, la, n), vec4_run(dev, b, lb, n), aligned16(dev, out)) {
        let f = dev.function(&ELEMENTWISE, "binary_vec4_f32")?;
        let mut l = dev.stream().launch_builder(&f);
        l.arg(&av).arg(&bv).arg(out).arg(&n64).arg(&code);
        // SAFETY: matches `binary_vec4_f32(const float4*, const float4*, float4*, u64, int)` (T is
        // f32 here); `av` and `bv` are contiguous runs of n elements and `out` holds at least `n`,
        // all 16-byte aligned; at least 4 threads cover the tail.
        unsafe { l.launch(launch_1d((n / 4).max(1))) }?;
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("binary_{}", <T as Elem>::NAME))?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(a).arg(la).arg(b).arg(lb).arg(out).arg(&n64).arg(&code);
    // SAFETY: matches `binary_<T>(const T*, StridedLayout, const T*, StridedLayout, T*, u64, int)`;
    // the layouts address only their buffers and `out` holds at least `n`.
    unsafe { l.launch(launch_1d(n)) }?;
    Ok(())
}

/// `ga[i] = dy·∂y/∂a`, `gb[i] = dy·∂y/∂b` at every element of the broadcast output (`n` of them).
// a, b, y, dy: views of n elements; ga, gb: [n]
#[allow(clippy::too_many_arguments)]
pub fn binary_backward<T: Float>(
    dev: &GpuDevice,
    op: BinaryOp,
    (a, la): (&CudaSlice<T>, &StridedLayout),
    (b, lb): (&CudaSlice<T>, &StridedLayout),
    (y, ly): (&CudaSlice<T>, &StridedLayout),
    (dy, ldy): (&CudaSlice<T>, &StridedLayout),
    (ga, gb): (&mut CudaSlice<T>, &mut CudaSlice<T>),
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("binary_backward_{}", <T as Elem>::NAME))?;
    let (n64, code) = (n as u64, binary_code(op));
    let mut l = dev.stream().launch_builder(&f);
    l.arg(a).arg(la).arg(b).arg(lb).arg(y).arg(ly).arg(dy).arg(ldy).arg(ga).arg(gb).arg(&n64).arg(&code);
    // SAFETY: matches `binary_backward_<T>(const T*, StridedLayout, const T*, StridedLayout,
    // const T*, StridedLayout, const T*, StridedLayout, T*, T*, u64, int)`; the layouts address
    // only their buffers and `ga`, `gb` hold at least `n` each.
    unsafe { l.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[i] = op(a[la(i)], b[lb(i)]) as u8` for `i < n`.
// a, b: views of n elements; out: [n] u8
pub fn cmp<T: Elem>(
    dev: &GpuDevice,
    op: CmpOp,
    (a, la): (&CudaSlice<T>, &StridedLayout),
    (b, lb): (&CudaSlice<T>, &StridedLayout),
    out: &mut CudaSlice<u8>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("cmp_{}", T::NAME))?;
    let (n64, code) = (n as u64, cmp_code(op));
    let mut l = dev.stream().launch_builder(&f);
    l.arg(a).arg(la).arg(b).arg(lb).arg(out).arg(&n64).arg(&code);
    // SAFETY: matches `cmp_<T>(const T*, StridedLayout, const T*, StridedLayout, u8*, u64, int)`;
    // the layouts address only their buffers and `out` holds at least `n`.
    unsafe { l.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[i] = m[lm(i)] != 0 ? a[la(i)] : b[lb(i)]` for `i < n` (raw bits: any dtype of the width).
// m: u8 view; a, b: views of n elements; out: [n]
pub fn where_cond<T: Bits>(
    dev: &GpuDevice,
    (m, lm): (&CudaSlice<u8>, &StridedLayout),
    (a, la): (&CudaSlice<T>, &StridedLayout),
    (b, lb): (&CudaSlice<T>, &StridedLayout),
    out: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("where_{}", T::SUFFIX))?;
    let n64 = n as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(m).arg(lm).arg(a).arg(la).arg(b).arg(lb).arg(out).arg(&n64);
    // SAFETY: matches `where_<bits>(const u8*, StridedLayout, const T*, StridedLayout, const T*,
    // StridedLayout, T*, u64)`; the layouts address only their buffers, `out` holds at least `n`.
    unsafe { l.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[i] = m[lm(i)] != 0 ? v : x[lx(i)]` for `i < n`.
// x: view of n elements; m: u8 view; out: [n]
pub fn masked_fill<T: Float>(
    dev: &GpuDevice,
    (x, lx): (&CudaSlice<T>, &StridedLayout),
    (m, lm): (&CudaSlice<u8>, &StridedLayout),
    v: T,
    out: &mut CudaSlice<T>,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&ELEMENTWISE, &format!("masked_fill_{}", <T as Elem>::NAME))?;
    let n64 = n as u64;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(x).arg(lx).arg(m).arg(lm).arg(&v).arg(out).arg(&n64);
    // SAFETY: matches `masked_fill_<T>(const T*, StridedLayout, const u8*, StridedLayout, T, T*,
    // u64)`; the layouts address only their buffers and `out` holds at least `n`.
    unsafe { l.launch(launch_1d(n)) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_codes_are_distinct() {
        // UnaryOp::ALL lists Powf twice (p = 2.5 and p = 0), one code.
        let mut codes: Vec<i32> = UnaryOp::ALL.iter().map(|&op| unary_code(op).0).collect();
        codes.dedup();
        assert_eq!(codes, (0..21).collect::<Vec<_>>());
        assert_eq!(unary_code(UnaryOp::Powf(0.0)).1, [0.0, -1.0, 1.0]);
        assert_eq!(BinaryOp::ALL.map(binary_code), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!([CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge].map(cmp_code), [0, 1, 2, 3, 4]);
    }
}
