//! Elementwise ops on a GPU: unary and binary maps (with NumPy broadcasting: each operand is read
//! through its layout broadcast to the output shape, stride 0 on broadcast dims), their backward
//! rules, comparisons, `where_cond` and `masked_fill`. Outputs are fresh contiguous tensors.
//! Float kernels exist for f32 and f64; the ops in `ops_elementwise.rs` convert f16/bf16 first.
use super::{gpu, strided, CudaStorage, GpuBuf, GpuBufElem};
use crate::layout::broadcast_shapes;
use crate::{float_dispatch, DType, Error, Result, Tensor};
use kernels::cuda::copy::Bits;
use kernels::cuda::elementwise::{self as k, Elem, Float};
use kernels::cuda::{AnyBits, CudaSlice, GpuDevice, ValidAsZeroBits};
use kernels::elementwise::{BinaryOp, CmpOp, UnaryOp};
use std::sync::Arc;

/// An element type the elementwise kernels take, with its own `GpuBuf` variant.
pub(crate) trait GpuElem: Elem + GpuBufElem {}
impl<T: Elem + GpuBufElem> GpuElem for T {}

/// The typed buffer of `st`, which must hold `T`.
pub(crate) fn typed<'a, T: GpuElem>(op: &'static str, st: &'a CudaStorage) -> Result<&'a CudaSlice<T>> {
    T::buf(&st.buf).ok_or(Error::DTypeMismatch { op, lhs: st.dtype(), rhs: T::DTYPE })
}

/// A zero-filled device buffer of `n` elements (the kernels overwrite it); at least one element,
/// as for `CudaStorage::zeros` (the driver refuses zero-byte allocations).
pub(crate) fn alloc<T: GpuElem + ValidAsZeroBits>(dev: &Arc<GpuDevice>, n: usize) -> Result<CudaSlice<T>> {
    dev.stream().alloc_zeros::<T>(n.max(1)).map_err(gpu)
}

/// A device buffer of `n` elements for the kernels here that write every output element (the
/// grid-stride loops over `n`): no zero-fill ([`kernels::cuda::alloc_for_overwrite`]).
fn out_buf<T: AnyBits>(dev: &Arc<GpuDevice>, n: usize) -> Result<CudaSlice<T>> {
    kernels::cuda::alloc_for_overwrite::<T>(dev.stream(), n).map_err(gpu)
}

/// A contiguous tensor of `shape` around a fresh device buffer.
pub(crate) fn wrap<T: GpuElem>(dev: &Arc<GpuDevice>, s: CudaSlice<T>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_cuda(CudaStorage { dev: dev.clone(), buf: T::wrap(s) }, shape)
}

/// The GPU storage of a tensor the CUDA side was handed (it lives on a GPU by construction).
pub(crate) fn storage<'a>(op: &'static str, t: &'a Tensor) -> Result<&'a CudaStorage> {
    t.cuda_storage().ok_or_else(|| Error::invalid(op, format!("expected a tensor on a GPU, found {:?}", t.device())))
}

/// The GPU storage of operand `t`, which must live on the same GPU as `lhs`.
pub(crate) fn same_gpu<'a>(op: &'static str, lhs: &Tensor, t: &'a Tensor) -> Result<&'a CudaStorage> {
    match t.cuda_storage() {
        Some(s) if t.device() == lhs.device() => Ok(s),
        _ => Err(Error::DeviceMismatch { op, lhs: lhs.device(), rhs: t.device() }),
    }
}

/// Checks that `t` matches `x` in dtype and shape (the operands of a backward rule).
fn check_like(op: &'static str, x: &Tensor, t: &Tensor) -> Result<()> {
    if t.dtype() != x.dtype() {
        return Err(Error::DTypeMismatch { op, lhs: x.dtype(), rhs: t.dtype() });
    }
    if t.shape() != x.shape() {
        return Err(Error::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: t.shape().to_vec() });
    }
    Ok(())
}

/// `y = op(x)` elementwise (f32/f64).
pub fn unary(x: &Tensor, st: &CudaStorage, op: UnaryOp) -> Result<Tensor> {
    let (dev, n, lx) = (&st.dev, x.elem_count(), strided(x.layout())?);
    float_dispatch!(x.dtype(), op.name(), T => {
        let mut y = out_buf::<T>(dev, n)?;
        k::unary(dev, op, typed::<T>(op.name(), st)?, &lx, &mut y, n).map_err(gpu)?;
        wrap(dev, y, x.shape())
    })
}

/// `dx = dy · f'(x)` (the autograd rule; `y` is the forward output). `x`, `y` and `dy` share one
/// GPU, one dtype (f32/f64) and one shape; any layouts.
pub fn unary_backward(op: UnaryOp, x: &Tensor, st: &CudaStorage, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let name = op.name();
    let (sy, sdy) = (same_gpu(name, x, y)?, same_gpu(name, x, dy)?);
    check_like(name, x, y)?;
    check_like(name, x, dy)?;
    let (dev, n) = (&st.dev, x.elem_count());
    let (lx, ly, ldy) = (strided(x.layout())?, strided(y.layout())?, strided(dy.layout())?);
    float_dispatch!(x.dtype(), name, T => {
        let mut dx = out_buf::<T>(dev, n)?;
        let (xs, ys, gs) = (typed::<T>(name, st)?, typed::<T>(name, sy)?, typed::<T>(name, sdy)?);
        k::unary_backward(dev, op, (xs, &lx), (ys, &ly), (gs, &ldy), &mut dx, n).map_err(gpu)?;
        wrap(dev, dx, x.shape())
    })
}

/// `op(a, b)` with NumPy broadcasting (same dtype, f32/f64, same GPU).
pub fn binary(a: &Tensor, st: &CudaStorage, op: BinaryOp, b: &Tensor) -> Result<Tensor> {
    let name = op.name();
    let sb = same_gpu(name, a, b)?;
    float_dispatch!(a.dtype(), name, T => {
        let shape = broadcast_shapes(name, a.shape(), b.shape())?;
        let la = strided(&a.layout().broadcast_to(&shape)?)?;
        let lb = strided(&b.layout().broadcast_to(&shape)?)?;
        let (dev, n) = (&st.dev, shape.iter().product::<usize>());
        let mut out = out_buf::<T>(dev, n)?;
        k::binary(dev, op, (typed::<T>(name, st)?, &la), (typed::<T>(name, sb)?, &lb), &mut out, n).map_err(gpu)?;
        wrap(dev, out, &shape)
    })
}

/// Gradients of `y = op(a, b)` given `dy` (shaped like the broadcast output `y`): the partials at
/// every output element, each then summed back to its input's shape on the GPU.
pub fn binary_backward(
    op: BinaryOp,
    a: &Tensor,
    st: &CudaStorage,
    b: &Tensor,
    y: &Tensor,
    dy: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let name = op.name();
    let (sb, sy, sdy) = (same_gpu(name, a, b)?, same_gpu(name, a, y)?, same_gpu(name, a, dy)?);
    for t in [b, y, dy] {
        if t.dtype() != a.dtype() {
            return Err(Error::DTypeMismatch { op: name, lhs: a.dtype(), rhs: t.dtype() });
        }
    }
    let shape = y.shape().to_vec();
    let la = strided(&a.layout().broadcast_to(&shape)?)?;
    let lb = strided(&b.layout().broadcast_to(&shape)?)?;
    let ly = strided(y.layout())?;
    let ldy = strided(&dy.layout().broadcast_to(&shape)?)?;
    let (dev, n) = (&st.dev, y.elem_count());
    float_dispatch!(a.dtype(), name, T => {
        let (mut ga, mut gb) = (out_buf::<T>(dev, n)?, out_buf::<T>(dev, n)?);
        k::binary_backward(
            dev,
            op,
            (typed::<T>(name, st)?, &la),
            (typed::<T>(name, sb)?, &lb),
            (typed::<T>(name, sy)?, &ly),
            (typed::<T>(name, sdy)?, &ldy),
            (&mut ga, &mut gb),
            n,
        )
        .map_err(gpu)?;
        Ok((wrap(dev, ga, &shape)?.sum_to_shape(a.shape())?, wrap(dev, gb, &shape)?.sum_to_shape(b.shape())?))
    })
}

/// Elementwise comparison with broadcasting into a `U8` mask; `a` and `b` share a compute dtype
/// (f32, f64, i64 or u8: the op converts half precision first).
pub fn cmp(a: &Tensor, st: &CudaStorage, op: CmpOp, b: &Tensor) -> Result<Tensor> {
    fn run<T: GpuElem>(a: &Tensor, st: &CudaStorage, op: CmpOp, b: &Tensor) -> Result<Tensor> {
        let sb = same_gpu("cmp", a, b)?;
        let shape = broadcast_shapes("cmp", a.shape(), b.shape())?;
        let la = strided(&a.layout().broadcast_to(&shape)?)?;
        let lb = strided(&b.layout().broadcast_to(&shape)?)?;
        let (dev, n) = (&st.dev, shape.iter().product::<usize>());
        let mut out = out_buf::<u8>(dev, n)?;
        k::cmp(dev, op, (typed::<T>("cmp", st)?, &la), (typed::<T>("cmp", sb)?, &lb), &mut out, n).map_err(gpu)?;
        wrap(dev, out, &shape)
    }
    match a.dtype() {
        DType::F32 => run::<f32>(a, st, op, b),
        DType::F64 => run::<f64>(a, st, op, b),
        DType::I64 => run::<i64>(a, st, op, b),
        DType::U8 => run::<u8>(a, st, op, b),
        d => Err(Error::UnsupportedDType { op: "cmp", dtype: d }),
    }
}

/// `mask ? on_true : on_false` over the broadcast `shape` of all three (any dtype: bits are
/// moved, not interpreted). The op has checked the dtypes; here all three must share a GPU.
pub fn where_cond(
    mask: &Tensor,
    on_true: &Tensor,
    st: &CudaStorage,
    on_false: &Tensor,
    shape: &[usize],
) -> Result<Tensor> {
    const OP: &str = "where_cond";
    fn run<T: Bits + AnyBits>(
        dev: &Arc<GpuDevice>,
        m: (&CudaSlice<u8>, &kernels::cuda::StridedLayout),
        a: (&CudaSlice<T>, &kernels::cuda::StridedLayout),
        b: (&CudaSlice<T>, &kernels::cuda::StridedLayout),
        n: usize,
    ) -> Result<CudaSlice<T>> {
        let mut out = out_buf::<T>(dev, n)?;
        k::where_cond(dev, m, a, b, &mut out, n).map_err(gpu)?;
        Ok(out)
    }
    let (sm, sf) = (same_gpu(OP, on_true, mask)?, same_gpu(OP, on_true, on_false)?);
    let m = typed::<u8>(OP, sm)?;
    let lm = strided(&mask.layout().broadcast_to(shape)?)?;
    let lt = strided(&on_true.layout().broadcast_to(shape)?)?;
    let lf = strided(&on_false.layout().broadcast_to(shape)?)?;
    let (dev, n) = (&st.dev, shape.iter().product::<usize>());
    let buf = match (&st.buf, &sf.buf) {
        (GpuBuf::U8(a), GpuBuf::U8(b)) => GpuBuf::U8(run(dev, (m, &lm), (a, &lt), (b, &lf), n)?),
        (GpuBuf::I64(a), GpuBuf::I64(b)) => GpuBuf::I64(run(dev, (m, &lm), (a, &lt), (b, &lf), n)?),
        (GpuBuf::F16(a), GpuBuf::F16(b)) => GpuBuf::F16(run(dev, (m, &lm), (a, &lt), (b, &lf), n)?),
        (GpuBuf::BF16(a), GpuBuf::BF16(b)) => GpuBuf::BF16(run(dev, (m, &lm), (a, &lt), (b, &lf), n)?),
        (GpuBuf::F32(a), GpuBuf::F32(b)) => GpuBuf::F32(run(dev, (m, &lm), (a, &lt), (b, &lf), n)?),
        (GpuBuf::F64(a), GpuBuf::F64(b)) => GpuBuf::F64(run(dev, (m, &lm), (a, &lt), (b, &lf), n)?),
        _ => return Err(Error::DTypeMismatch { op: OP, lhs: on_true.dtype(), rhs: on_false.dtype() }),
    };
    Tensor::from_cuda(CudaStorage { dev: dev.clone(), buf }, shape)
}

/// `x` with `value` where the (broadcast) `mask` is set, over the broadcast shape of both. f32
/// and f64 in one kernel; other dtypes through `where_cond` with `value` in `x`'s dtype, as on
/// the CPU.
pub fn masked_fill(x: &Tensor, st: &CudaStorage, mask: &Tensor, value: f64) -> Result<Tensor> {
    const OP: &str = "masked_fill";
    if !matches!(x.dtype(), DType::F32 | DType::F64) {
        let v = Tensor::full_on(&[], value, x.dtype(), x.device())?;
        return Tensor::where_cond(mask, &v, x);
    }
    let sm = same_gpu(OP, x, mask)?;
    let shape = broadcast_shapes(OP, x.shape(), mask.shape())?;
    let lx = strided(&x.layout().broadcast_to(&shape)?)?;
    let lm = strided(&mask.layout().broadcast_to(&shape)?)?;
    let (dev, n) = (&st.dev, shape.iter().product::<usize>());
    float_dispatch!(x.dtype(), OP, T => {
        let mut out = out_buf::<T>(dev, n)?;
        let m = typed::<u8>(OP, sm)?;
        k::masked_fill(dev, (typed::<T>(OP, st)?, &lx), (m, &lm), T::of(value), &mut out, n).map_err(gpu)?;
        wrap(dev, out, &shape)
    })
}
