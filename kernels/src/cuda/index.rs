//! Launch wrappers for `kernels/cuda/index.cu`: strided scatter (the core of cat, pad and
//! slice_scatter), index_select, gather and one_hot for any element width, scatter_add and
//! index_add for f32/f64. Indices are i64 and must already be range-checked: the kernels trust
//! them. Every output element is written by one thread that adds its contributions in the CPU's
//! order, so there are no atomics and the results are reproducible bit for bit.
use super::copy::Bits;
use super::norm::{Float, Input};
use super::{launch_1d, CudaError, CudaSlice, GpuDevice, PushKernelArg, Result, StridedLayout, MAX_DIMS};
use crate::ptx::INDEX;

/// A "raw" view for kernels that replace one coordinate by an index: one entry per dimension of
/// `shape` (no merging, so entry `d` is dimension `d`), with `strides` and `offset` of the tensor
/// read through it. Errors when the rank exceeds [`MAX_DIMS`].
pub fn raw_layout(shape: &[usize], strides: &[usize], offset: usize) -> Result<StridedLayout> {
    if shape.len() > MAX_DIMS || shape.iter().any(|&n| n > u32::MAX as usize) {
        return Err(CudaError::TooManyDims { rank: shape.len() });
    }
    let mut l =
        StridedLayout { ndim: shape.len() as u32, dims: [1; MAX_DIMS], strides: [0; MAX_DIMS], offset: offset as i64 };
    for (d, (&n, &s)) in shape.iter().zip(strides).enumerate() {
        l.dims[d] = n as u32;
        l.strides[d] = s as i64;
    }
    Ok(l)
}

fn check_out<T>(name: &str, buf: &CudaSlice<T>, want: usize) {
    assert!(buf.len() >= want, "{name}: buffer of {} elements, need {want}", buf.len());
}

/// `dst[ld(i)] = src[ls(i)]` for `i < n`: both views have the same logical shape (`n` elements);
/// the destination view addresses distinct elements of `dst`.
pub fn scatter_strided<T: Bits>(
    dev: &GpuDevice,
    src: Input<T>,
    dst: &mut CudaSlice<T>,
    ld: &StridedLayout,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&INDEX, &format!("scatter_strided_{}", T::SUFFIX))?;
    let n64 = n as u64;
    let mut b = dev.stream().launch_builder(&f);
    b.arg(src.0).arg(&src.1).arg(dst).arg(ld).arg(&n64);
    // SAFETY: matches `scatter_strided_<bits>(const T*, SL, T*, SL, u64 n)`; both views address
    // elements of their buffers (caller's contract) and the destination view has no repeats.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[o, j, k] = x[o, idx[j], k]`: x: [outer, size, inner] (logical), idx: [nidx] with every
/// value in `0..size`, out: [outer, nidx, inner].
pub fn index_select<T: Bits>(
    dev: &GpuDevice,
    x: Input<T>,
    idx: Input<i64>,
    (outer, size, inner): (usize, usize, usize),
    nidx: usize,
    out: &mut CudaSlice<T>,
) -> Result<()> {
    let n = outer * nidx * inner;
    check_out("out", out, n);
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&INDEX, &format!("index_select_{}", T::SUFFIX))?;
    let (nidx64, size64, inner64, n64) = (nidx as u64, size as u64, inner as u64, n as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x.0).arg(&x.1).arg(idx.0).arg(&idx.1).arg(out).arg(&nidx64).arg(&size64).arg(&inner64).arg(&n64);
    // SAFETY: matches `index_select_<bits>(const T*, SL, const i64*, SL, T*, u64 nidx, u64 size,
    // u64 inner, u64 n)`; indices are in 0..size (checked by the caller), out holds n (checked).
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[j] = x[j with coordinate dim := idx[j]]`: `xr` is the raw view of x over idx's shape
/// ([`raw_layout`] with idx's shape and x's strides and offset); idx values are in range of x's
/// dimension `dim`; out: [n] (idx's shape).
pub fn gather<T: Bits>(
    dev: &GpuDevice,
    x: &CudaSlice<T>,
    xr: &StridedLayout,
    idx: Input<i64>,
    dim: usize,
    n: usize,
    out: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("out", out, n);
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&INDEX, &format!("gather_{}", T::SUFFIX))?;
    let (dim32, n64) = (dim as u32, n as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(xr).arg(idx.0).arg(&idx.1).arg(out).arg(&dim32).arg(&n64);
    // SAFETY: matches `gather_<bits>(const T*, SL, const i64*, SL, T*, u32 dim, u64 n)`; idx
    // values are in range of x's dim `dim` (checked by the caller), out holds n (checked).
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// `out[r, idx[r]] = one` for `r < rows` into a zero-filled out: [rows, classes]; idx values are
/// in `0..classes`.
pub fn one_hot<T: Bits>(
    dev: &GpuDevice,
    idx: Input<i64>,
    one: T,
    (rows, classes): (usize, usize),
    out: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("out", out, rows * classes);
    if rows == 0 || classes == 0 {
        return Ok(());
    }
    let f = dev.function(&INDEX, &format!("one_hot_{}", T::SUFFIX))?;
    let (rows64, classes64) = (rows as u64, classes as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(idx.0).arg(&idx.1).arg(out).arg(&one).arg(&rows64).arg(&classes64);
    // SAFETY: matches `one_hot_<bits>(const i64*, SL, T*, T one, u64 rows, u64 classes)`; idx in
    // 0..classes (checked by the caller), out holds rows·classes (checked).
    unsafe { b.launch(launch_1d(rows)) }?;
    Ok(())
}

/// `out = self` with `out[p with coordinate dim := idx[p]] += src[p]` for every position `p` of
/// idx, each output element adding its matches in the CPU's (row-major) order. `selfr`: raw view
/// of self (its shape); `idxr`, `srcr`: raw views of idx and src over idx's shape. out: self's
/// element count `n`, contiguous.
#[allow(clippy::too_many_arguments)]
pub fn scatter_add<T: Float>(
    dev: &GpuDevice,
    self_: (&CudaSlice<T>, &StridedLayout),
    idx: (&CudaSlice<i64>, &StridedLayout),
    src: (&CudaSlice<T>, &StridedLayout),
    dim: usize,
    n: usize,
    out: &mut CudaSlice<T>,
) -> Result<()> {
    check_out("out", out, n);
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&INDEX, &format!("scatter_add_{}", T::NAME))?;
    let (dim32, n64) = (dim as u32, n as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(self_.0).arg(self_.1).arg(idx.0).arg(idx.1).arg(src.0).arg(src.1).arg(out).arg(&dim32).arg(&n64);
    // SAFETY: matches `scatter_add_<T>(const T*, SL, const i64*, SL, const T*, SL, T*, u32 dim,
    // u64 n)`; idx values are in range of self's dim `dim` (checked by the caller), idx and src
    // share idx's shape, out holds n (checked).
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// The targets of index_add as a CSR list: `starts[i]..starts[i + 1]` indexes `js`, which lists in
/// ascending order the positions `j` with `idx[j] == i`. `idx` values must be `< size`.
pub fn index_lists(idx: &[usize], size: usize) -> (Vec<u64>, Vec<u64>) {
    let mut starts = vec![0u64; size + 1];
    for &i in idx {
        starts[i + 1] += 1;
    }
    for i in 0..size {
        starts[i + 1] += starts[i];
    }
    let mut fill: Vec<u64> = starts[..size].to_vec();
    let mut js = vec![0u64; idx.len()];
    for (j, &i) in idx.iter().enumerate() {
        js[fill[i] as usize] = j as u64;
        fill[i] += 1;
    }
    (starts, js)
}

/// `out = self` with `out[o, i, k] += src[o, j, k]` for every `j` in `i`'s list (ascending `j`, the
/// CPU's order). self: [outer, size, inner] (logical), src: [outer, nidx, inner] (logical);
/// `starts` ([size + 1]) and `js` ([nidx]) from [`index_lists`]; out: [outer, size, inner].
#[allow(clippy::too_many_arguments)]
pub fn index_add<T: Float>(
    dev: &GpuDevice,
    self_: Input<T>,
    src: Input<T>,
    starts: &CudaSlice<u64>,
    js: &CudaSlice<u64>,
    (outer, size, inner): (usize, usize, usize),
    nidx: usize,
    out: &mut CudaSlice<T>,
) -> Result<()> {
    let n = outer * size * inner;
    check_out("out", out, n);
    check_out("starts", starts, size + 1);
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&INDEX, &format!("index_add_{}", T::NAME))?;
    let (size64, nidx64, inner64, n64) = (size as u64, nidx as u64, inner as u64, n as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(self_.0).arg(&self_.1).arg(src.0).arg(&src.1).arg(starts).arg(js).arg(out);
    b.arg(&size64).arg(&nidx64).arg(&inner64).arg(&n64);
    // SAFETY: matches `index_add_<T>(const T*, SL, const T*, SL, const u64*, const u64*, T*,
    // u64 size, u64 nidx, u64 inner, u64 n)`; `starts`/`js` form a CSR over 0..nidx (built by
    // index_lists from checked indices), out holds n (checked).
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_group_positions_by_target_in_order() {
        let (starts, js) = index_lists(&[1, 1, 3, 0, 1], 5);
        assert_eq!(starts, vec![0, 1, 4, 4, 5, 5]);
        assert_eq!(js, vec![3, 0, 1, 4, 2]);
        let (starts, js) = index_lists(&[], 2);
        assert_eq!((starts, js), (vec![0, 0, 0], vec![]));
    }

    #[test]
    fn raw_layout_keeps_every_dim() {
        let l = raw_layout(&[2, 1, 3], &[3, 3, 1], 4).unwrap();
        assert_eq!((l.ndim, &l.dims[..3], &l.strides[..3], l.offset), (3, &[2, 1, 3][..], &[3, 3, 1][..], 4));
        assert!(raw_layout(&[1; 9], &[1; 9], 0).is_err());
    }
}
