//! Joining, indexing and padding on a GPU: cat (and stack through it), index_select, gather,
//! scatter_add, index_add, pad, slice_scatter and one_hot, behind the ops in `ops_index.rs`.
//!
//! Index validation: the op copies a GPU index tensor to the host and range-checks it there
//! before anything is launched (one device→host copy of 8 bytes per index and a wait for the
//! stream), so the errors are exactly the CPU's. The kernels then read the indices from the
//! device; index_add instead uploads a small CSR list built from the checked host copy, so each
//! output row adds only its own sources. scatter_add and index_add have no atomics: each output
//! element adds its contributions in the CPU's order (bit-identical to the CPU).
use super::norm::{float_gpu, index_operand, operand, out_buf, same_device, GpuFloat};
use super::{gpu, strided, CudaStorage, GpuBuf};
use crate::{DType, Error, Layout, Result, Tensor, WithDType};
use kernels::cuda::index::{self as k, raw_layout};

/// Runs `$body` with `$s`, `$d` bound to the typed source and destination buffers of one dtype.
macro_rules! same_bits {
    ($op:expr, $src:expr, $dst:expr, ($s:ident, $d:ident) => $body:expr) => {
        match ($src, $dst) {
            (GpuBuf::U8($s), GpuBuf::U8($d)) => $body.map_err(gpu),
            (GpuBuf::I64($s), GpuBuf::I64($d)) => $body.map_err(gpu),
            (GpuBuf::F16($s), GpuBuf::F16($d)) | (GpuBuf::BF16($s), GpuBuf::BF16($d)) => $body.map_err(gpu),
            (GpuBuf::F32($s), GpuBuf::F32($d)) => $body.map_err(gpu),
            (GpuBuf::F64($s), GpuBuf::F64($d)) => $body.map_err(gpu),
            (s, d) => Err(Error::DTypeMismatch { op: $op, lhs: buf_dtype(d), rhs: buf_dtype(s) }),
        }
    };
}

fn buf_dtype(b: &GpuBuf) -> DType {
    match b {
        GpuBuf::U8(_) => DType::U8,
        GpuBuf::I64(_) => DType::I64,
        GpuBuf::F16(_) => DType::F16,
        GpuBuf::BF16(_) => DType::BF16,
        GpuBuf::F32(_) => DType::F32,
        GpuBuf::F64(_) => DType::F64,
    }
}

/// Writes the logical elements of `src` into the view `dst` of `out` (a contiguous buffer the
/// view addresses without repeats).
fn scatter_into(op: &'static str, out: &mut CudaStorage, dst: &Layout, src: &Tensor) -> Result<()> {
    let sst = src.cuda_storage().ok_or(Error::NotOnCpu { device: src.device() })?;
    let (ls, ld, n) = (strided(src.layout())?, strided(dst)?, src.elem_count());
    let dev = out.dev.clone();
    same_bits!(op, &sst.buf, &mut out.buf, (s, d) => k::scatter_strided(&dev, (s, ls), d, &ld, n))
}

/// Concatenation along `d` into `shape` (validated by the op): one strided copy per input.
pub fn cat(tensors: &[&Tensor], d: usize, shape: &[usize], first: &CudaStorage) -> Result<Tensor> {
    let n = crate::layout::checked_elem_count("cat", shape)?;
    let mut out = CudaStorage::zeros(&first.dev, first.dtype(), n)?;
    let full = Layout::contiguous(shape);
    let mut start = 0;
    for t in tensors {
        same_device("cat", tensors[0], t)?;
        let len = t.shape()[d];
        scatter_into("cat", &mut out, &full.slice(d, start, len, 1)?, t)?;
        start += len;
    }
    Tensor::from_cuda(out, shape)
}

/// `x.index_select(d, idx)`; `nidx` indices, already range-checked.
pub fn index_select(x: &Tensor, st: &CudaStorage, d: usize, idx: &Tensor, nidx: usize) -> Result<Tensor> {
    let ii = index_operand("index_select", x, idx)?;
    let shape = x.shape();
    let (outer, size, inner) = (shape[..d].iter().product(), shape[d], shape[d + 1..].iter().product());
    let mut out_shape = shape.to_vec();
    out_shape[d] = nidx;
    let mut out = CudaStorage::zeros(&st.dev, x.dtype(), outer * nidx * inner)?;
    let lx = strided(x.layout())?;
    let dev = &st.dev;
    same_bits!("index_select", &st.buf, &mut out.buf, (s, o) =>
        k::index_select(dev, (s, lx), ii, (outer, size, inner), nidx, o))?;
    Tensor::from_cuda(out, &out_shape)
}

/// `x.gather(d, idx)` (indices already range-checked); the output has idx's shape.
pub fn gather(x: &Tensor, st: &CudaStorage, d: usize, idx: &Tensor) -> Result<Tensor> {
    let ii = index_operand("gather", x, idx)?;
    let l = x.layout();
    let xr = raw_layout(idx.shape(), l.strides(), l.offset()).map_err(Error::Cuda)?;
    let n = idx.elem_count();
    let mut out = CudaStorage::zeros(&st.dev, x.dtype(), n)?;
    let dev = &st.dev;
    same_bits!("gather", &st.buf, &mut out.buf, (s, o) => k::gather(dev, s, &xr, ii, d, n, o))?;
    Tensor::from_cuda(out, idx.shape())
}

/// `x.scatter_add(d, idx, src)` for f32/f64 `x` and `src` (indices already range-checked).
pub fn scatter_add(x: &Tensor, st: &CudaStorage, d: usize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
    fn run<T: GpuFloat>(x: &Tensor, st: &CudaStorage, d: usize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        let op = "scatter_add";
        let (xb, _) = operand::<T>(op, x, x)?;
        let (sb, _) = operand::<T>(op, x, src)?;
        let (ib, _) = index_operand(op, x, idx)?;
        let (lx, li, ls) = (x.layout(), idx.layout(), src.layout());
        let raw = |shape: &[usize], l: &Layout| raw_layout(shape, l.strides(), l.offset()).map_err(Error::Cuda);
        let (xr, ir, sr) = (raw(x.shape(), lx)?, raw(idx.shape(), li)?, raw(idx.shape(), ls)?);
        let n = x.elem_count();
        let mut out = CudaStorage::zeros(&st.dev, T::DTYPE, n)?;
        k::scatter_add(&st.dev, (xb, &xr), (ib, &ir), (sb, &sr), d, n, out_buf::<T>(&mut out)?).map_err(gpu)?;
        Tensor::from_cuda(out, x.shape())
    }
    float_gpu!(x.dtype(), "scatter_add", run(x, st, d, idx, src))
}

/// `x.index_add(d, idx, src)` for f32/f64 `x` and `src`; `ix` are the checked indices (host).
pub fn index_add(x: &Tensor, st: &CudaStorage, d: usize, idx: &Tensor, ix: &[usize], src: &Tensor) -> Result<Tensor> {
    same_device("index_add", x, idx)?;
    fn run<T: GpuFloat>(x: &Tensor, st: &CudaStorage, d: usize, ix: &[usize], src: &Tensor) -> Result<Tensor> {
        let op = "index_add";
        let (xi, si) = (operand::<T>(op, x, x)?, operand::<T>(op, x, src)?);
        let shape = x.shape();
        let (outer, size, inner) = (shape[..d].iter().product(), shape[d], shape[d + 1..].iter().product());
        let (starts, mut js) = k::index_lists(ix, size);
        if js.is_empty() {
            js.push(0); // never read (every list is empty); avoids a zero-length allocation
        }
        let stream = st.dev.stream();
        let (starts, js) = (stream.clone_htod(&starts).map_err(gpu)?, stream.clone_htod(&js).map_err(gpu)?);
        let mut out = CudaStorage::zeros(&st.dev, T::DTYPE, x.elem_count())?;
        let dims = (outer, size, inner);
        k::index_add(&st.dev, xi, si, &starts, &js, dims, ix.len(), out_buf::<T>(&mut out)?).map_err(gpu)?;
        Tensor::from_cuda(out, shape)
    }
    float_gpu!(x.dtype(), "index_add", run(x, st, d, ix, src))
}

/// A fresh buffer of `n` elements of `dtype`, every one `v` converted as the CPU converts it.
fn filled(st: &CudaStorage, dtype: DType, n: usize, v: f64) -> Result<CudaStorage> {
    use kernels::cuda::copy::fill;
    let mut out = CudaStorage::zeros(&st.dev, dtype, n)?;
    if v.to_bits() != 0 {
        let dev = &st.dev;
        match &mut out.buf {
            GpuBuf::U8(b) => fill(dev, b, <u8 as WithDType>::from_f64(v), n),
            GpuBuf::I64(b) => fill(dev, b, <i64 as WithDType>::from_f64(v), n),
            GpuBuf::F16(b) => fill(dev, b, <half::f16 as WithDType>::from_f64(v).to_bits(), n),
            GpuBuf::BF16(b) => fill(dev, b, <half::bf16 as WithDType>::from_f64(v).to_bits(), n),
            GpuBuf::F32(b) => fill(dev, b, <f32 as WithDType>::from_f64(v), n),
            GpuBuf::F64(b) => fill(dev, b, v, n),
        }
        .map_err(gpu)?;
    }
    Ok(out)
}

/// Constant padding: `shape` is the padded shape and `dst` the view of x's place inside it.
pub fn pad(x: &Tensor, st: &CudaStorage, shape: &[usize], dst: &Layout, value: f64) -> Result<Tensor> {
    let n = crate::layout::checked_elem_count("pad", shape)?;
    let mut out = filled(st, x.dtype(), n, value)?;
    scatter_into("pad", &mut out, dst, x)?;
    Tensor::from_cuda(out, shape)
}

/// A copy of x with the view `dst` (of x's contiguous layout) replaced by `src`.
pub fn slice_scatter(x: &Tensor, st: &CudaStorage, src: &Tensor, dst: &Layout) -> Result<Tensor> {
    same_device("slice_scatter", x, src)?;
    let mut out = CudaStorage::zeros(&st.dev, x.dtype(), x.elem_count())?;
    scatter_into("slice_scatter", &mut out, &Layout::contiguous(x.shape()), x)?;
    scatter_into("slice_scatter", &mut out, dst, src)?;
    Tensor::from_cuda(out, x.shape())
}

/// One-hot rows of `classes` (indices already range-checked) in `dtype`, on idx's GPU.
pub fn one_hot(idx: &Tensor, st: &CudaStorage, classes: usize, dtype: DType) -> Result<Tensor> {
    let ii = index_operand("one_hot", idx, idx)?;
    let rows = idx.elem_count();
    let mut shape = idx.shape().to_vec();
    shape.push(classes);
    let n = crate::layout::checked_elem_count("one_hot", &shape)?;
    let mut out = CudaStorage::zeros(&st.dev, dtype, n)?;
    let (dev, rc) = (&st.dev, (rows, classes));
    match &mut out.buf {
        GpuBuf::U8(o) => k::one_hot(dev, ii, 1u8, rc, o),
        GpuBuf::I64(o) => k::one_hot(dev, ii, 1i64, rc, o),
        GpuBuf::F16(o) => k::one_hot(dev, ii, half::f16::ONE.to_bits(), rc, o),
        GpuBuf::BF16(o) => k::one_hot(dev, ii, half::bf16::ONE.to_bits(), rc, o),
        GpuBuf::F32(o) => k::one_hot(dev, ii, 1f32, rc, o),
        GpuBuf::F64(o) => k::one_hot(dev, ii, 1f64, rc, o),
    }
    .map_err(gpu)?;
    Tensor::from_cuda(out, &shape)
}
