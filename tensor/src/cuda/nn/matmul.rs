//! Matrix products on a GPU: `Tensor::matmul` (plain tiled kernel, f32/f64 fused multiply-adds,
//! the default) and [`matmul_with`], the opt-in tensor-core path (TF32, bf16, f16 operands with
//! f32 accumulation).
use super::{alloc, out_buf, same_gpu, typed, NnFloat};
use crate::cuda::{gpu, CudaStorage, GpuBuf};
use crate::layout::{broadcast_shapes, contiguous_strides};
use crate::{float_dispatch, DType, Error, Layout, Result, Tensor};
use kernels::cuda::cudarc::driver::CudaSlice;
pub use kernels::cuda::gemm::Precision;
use kernels::cuda::gemm::{self, GemmSpec, MatLayout};
use kernels::cuda::{copy, StridedLayout, MAX_DIMS};

/// The batched product behind `Tensor::matmul` on a GPU. `la: [batch.., m, k]` and
/// `lb: [batch.., k, n]` are the operands' layouts already broadcast to the common batch dims
/// (`nb` of them, stride 0 where broadcast); the result is contiguous `[batch.., m, n]`.
pub fn matmul(a: &Tensor, st: &CudaStorage, b: &Tensor, la: &Layout, lb: &Layout, nb: usize) -> Result<Tensor> {
    same_gpu("matmul", a, st, b)?;
    let spec = spec(la, lb, nb).map_err(Error::Cuda)?;
    let out_shape = out_shape(la, lb, nb);
    float_dispatch!(a.dtype(), "matmul", T => product::<T>(a, st, b, &spec, &out_shape))
}

/// The sizes and operand layouts of `la @ lb` (see [`matmul`]); C is contiguous.
fn spec(la: &Layout, lb: &Layout, nb: usize) -> kernels::cuda::Result<GemmSpec> {
    let batch = &la.shape()[..nb];
    let (m, k, n) = (la.shape()[nb], la.shape()[nb + 1], lb.shape()[nb + 1]);
    let (sa, sb) = (la.strides(), lb.strides());
    let c_strides: Vec<usize> = contiguous_strides(batch).into_iter().map(|s| s * m * n).collect();
    Ok(GemmSpec {
        batch: batch.iter().product(),
        m,
        n,
        k,
        a: MatLayout::batched(batch, &sa[..nb], la.offset(), sa[nb], sa[nb + 1])?,
        b: MatLayout::batched(batch, &sb[..nb], lb.offset(), sb[nb], sb[nb + 1])?,
        c: MatLayout::batched(batch, &c_strides, 0, n, 1)?,
        accumulate: false,
    })
}

fn out_shape(la: &Layout, lb: &Layout, nb: usize) -> Vec<usize> {
    let mut shape = la.shape()[..nb].to_vec();
    shape.extend([la.shape()[nb], lb.shape()[nb + 1]]);
    shape
}

/// `C = A·B` with the plain kernel into a fresh `T` tensor.
fn product<T: NnFloat>(a: &Tensor, st: &CudaStorage, b: &Tensor, spec: &GemmSpec, shape: &[usize]) -> Result<Tensor> {
    let (ba, bb) = (typed::<T>("matmul", a)?, typed::<T>("matmul", b)?);
    let mut out = alloc::<T>(st, spec.batch * spec.m * spec.n)?;
    gemm_split(st, spec, ba, bb, out_buf::<T>(&mut out))?;
    Tensor::from_cuda(out, shape)
}

/// Depth slices shorter than this are not worth a separate partial sum.
const MIN_SPLIT_DEPTH: usize = 256;
/// Blocks a product aims for (about two waves on a large GPU). A constant, so the split, and
/// with it the summation order, depends only on the shapes.
const TARGET_BLOCKS: usize = 264;

/// Depth slices for a product of `batch` items with few 64×64 output tiles and a long depth.
fn split_count(spec: &GemmSpec) -> usize {
    let tiles = spec.m.div_ceil(64) * spec.n.div_ceil(64) * spec.batch;
    TARGET_BLOCKS.div_ceil(tiles.max(1)).min(spec.k / MIN_SPLIT_DEPTH).max(1)
}

/// `layout` with a leading dim of `n` items `stride` apart (`None` when it has no room).
fn prepend(layout: &StridedLayout, n: usize, stride: usize) -> Option<StridedLayout> {
    let d = layout.ndim as usize;
    if d >= MAX_DIMS || n > u32::MAX as usize {
        return None;
    }
    let mut l = *layout;
    l.dims.copy_within(0..d, 1);
    l.strides.copy_within(0..d, 1);
    (l.dims[0], l.strides[0], l.ndim) = (n as u32, stride as i64, layout.ndim + 1);
    Some(l)
}

/// The plain-kernel product `C (+)= A·B` of [`gemm::gemm`], with a deterministic split-K for
/// products that have few output tiles but a long depth (weight gradients): the depth is cut
/// into `s` slices (from the shapes alone) whose products go to `partials: [s, batch, m, n]`
/// (the remainder added onto slice 0), and `C (+)= ones[1, s] · partials` adds them in slice
/// order. Needs C contiguous `[batch, m, n]` from its offset; otherwise one plain GEMM.
pub(crate) fn gemm_split<T: NnFloat>(
    st: &CudaStorage,
    spec: &GemmSpec,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    c: &mut CudaSlice<T>,
) -> Result<()> {
    let (dev, s, mn) = (&st.dev, split_count(spec), spec.m * spec.n);
    let cb = &spec.c.batch;
    let c_dense = spec.c.row_stride == spec.n && (cb.ndim == 0 || (cb.ndim == 1 && cb.strides[0] as usize == mn));
    let sliced = (
        prepend(&spec.a.batch, s, spec.k / s * spec.a.col_stride),
        prepend(&spec.b.batch, s, spec.k / s * spec.b.row_stride),
    );
    let (Some(a_sl), Some(b_sl), true, true) = (sliced.0, sliced.1, c_dense, s > 1 && mn * spec.batch > 0) else {
        return gemm::gemm(dev, spec, a, b, c).map_err(gpu);
    };
    let (len, total) = (spec.k / s, spec.batch * mn);
    let mut partials = alloc::<T>(st, s * total)?;
    let mut ones = alloc::<T>(st, s)?;
    copy::fill(dev, out_buf::<T>(&mut ones), T::recip_of(1), s).map_err(gpu)?;
    // partials[si][z] = A[z][:, si·len..(si+1)·len] · B[z][si·len..(si+1)·len, :]
    let slices = GemmSpec {
        batch: s * spec.batch,
        k: len,
        a: MatLayout { batch: a_sl, ..spec.a },
        b: MatLayout { batch: b_sl, ..spec.b },
        c: MatLayout::batched(&[s * spec.batch], &[mn], 0, spec.n, 1).map_err(gpu)?,
        accumulate: false,
        ..*spec
    };
    gemm::gemm(dev, &slices, a, b, out_buf::<T>(&mut partials)).map_err(gpu)?;
    let rest = s * len;
    if rest < spec.k {
        let (mut ta, mut tb) = (spec.a, spec.b);
        ta.batch.offset += (rest * spec.a.col_stride) as i64;
        tb.batch.offset += (rest * spec.b.row_stride) as i64;
        let tail = GemmSpec {
            k: spec.k - rest,
            a: ta,
            b: tb,
            c: MatLayout::batched(&[spec.batch], &[mn], 0, spec.n, 1).map_err(gpu)?,
            accumulate: true,
            ..*spec
        };
        gemm::gemm(dev, &tail, a, b, out_buf::<T>(&mut partials)).map_err(gpu)?;
    }
    let sum = GemmSpec {
        batch: 1,
        m: 1,
        n: total,
        k: s,
        a: MatLayout::single(0, s, 1).map_err(gpu)?,
        b: MatLayout::single(0, total, 1).map_err(gpu)?,
        c: MatLayout::single(cb.offset as usize, total, 1).map_err(gpu)?,
        accumulate: spec.accumulate,
    };
    gemm::gemm(dev, &sum, out_buf::<T>(&mut ones), out_buf::<T>(&mut partials), c).map_err(gpu)
}

/// `a.matmul(b)` on a GPU with the arithmetic `prec` picks. `Precision::F32` is exactly
/// `a.matmul(b)`. The tensor-core precisions take f32 operands (rounded to TF32, bf16 or f16 on
/// the way in) or, for `Bf16` / `F16`, tensors of that dtype directly; other half-precision
/// inputs go through f32. Products accumulate in f32; the result has the operands' dtype. f64
/// has no tensor-core path (`UnsupportedDType`).
pub fn matmul_with(a: &Tensor, b: &Tensor, prec: Precision) -> Result<Tensor> {
    const OP: &str = "matmul_with";
    if prec == Precision::F32 {
        return a.matmul(b);
    }
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch { op: OP, lhs: a.dtype(), rhs: b.dtype() });
    }
    let st = a
        .cuda_storage()
        .ok_or_else(|| Error::invalid(OP, format!("operands must be on a GPU, not {:?}", a.device())))?;
    same_gpu(OP, a, st, b)?;
    let (ra, rb) = (a.rank(), b.rank());
    if ra < 2 || rb < 2 {
        return Err(Error::invalid(
            OP,
            format!("operands must be at least 2-D, got {:?} and {:?}", a.shape(), b.shape()),
        ));
    }
    let (m, k, k2, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 2], b.shape()[rb - 1]);
    if k != k2 {
        return Err(Error::ShapeMismatch { op: OP, lhs: a.shape().to_vec(), rhs: b.shape().to_vec() });
    }
    let half = match (a.dtype(), prec) {
        (DType::F32, _) => None,
        (DType::BF16, Precision::Bf16) | (DType::F16, Precision::F16) => Some(prec),
        (DType::BF16 | DType::F16, _) => {
            let (a32, b32) = (a.to_dtype(DType::F32)?, b.to_dtype(DType::F32)?);
            return matmul_with(&a32, &b32, prec)?.to_dtype(a.dtype());
        }
        (dtype, _) => return Err(Error::UnsupportedDType { op: OP, dtype }),
    };
    let batch = broadcast_shapes(OP, &a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
    let nb = batch.len();
    let (mut full_a, mut full_b) = (batch.clone(), batch);
    full_a.extend([m, k]);
    full_b.extend([k, n]);
    let (la, lb) = (a.layout().broadcast_to(&full_a)?, b.layout().broadcast_to(&full_b)?);
    let spec = spec(&la, &lb, nb).map_err(Error::Cuda)?;
    let mut out = CudaStorage::zeros(&st.dev, DType::F32, spec.batch * m * n)?;
    let c = out_buf::<f32>(&mut out);
    let sb = b.cuda_storage().ok_or(Error::DeviceMismatch { op: OP, lhs: a.device(), rhs: b.device() })?;
    match (&st.buf, &sb.buf, half) {
        (GpuBuf::F32(x), GpuBuf::F32(y), None) => gemm::gemm_f32(&st.dev, prec, &spec, x, y, c),
        (GpuBuf::BF16(x), GpuBuf::BF16(y), Some(p)) | (GpuBuf::F16(x), GpuBuf::F16(y), Some(p)) => {
            gemm::gemm_half(&st.dev, p, &spec, x, y, c)
        }
        _ => return Err(Error::UnsupportedDType { op: OP, dtype: a.dtype() }),
    }
    .map_err(gpu)?;
    Tensor::from_cuda(out, &out_shape(&la, &lb, nb))?.to_dtype(a.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Storage offset of batch item `z`, as the kernels compute it.
    fn offset(l: &StridedLayout, mut z: usize) -> i64 {
        let mut off = l.offset;
        for d in (0..l.ndim as usize).rev() {
            off += (z % l.dims[d] as usize) as i64 * l.strides[d];
            z /= l.dims[d] as usize;
        }
        off
    }

    #[test]
    fn prepended_dim_is_the_outer_index() {
        // batch [2, 3] with a broadcast inner dim, then 4 slices 10 apart in front
        let l = StridedLayout::new(&[2, 3], &[100, 0], 7).unwrap();
        let p = prepend(&l, 4, 10).unwrap();
        for si in 0..4 {
            for z in 0..6 {
                assert_eq!(offset(&p, si * 6 + z), offset(&l, z) + 10 * si as i64, "slice {si} item {z}");
            }
        }
        let full = StridedLayout::new(&[2; 8], &[1, 2, 4, 8, 16, 32, 64, 128].map(|s| s * 3), 0).unwrap();
        assert!(prepend(&full, 2, 1).is_none());
    }

    #[test]
    fn splits_depend_on_tiles_and_depth_only() {
        let spec = |batch: usize, m: usize, n: usize, k: usize| GemmSpec {
            batch,
            m,
            n,
            k,
            a: MatLayout::single(0, k, 1).unwrap(),
            b: MatLayout::single(0, n, 1).unwrap(),
            c: MatLayout::single(0, n, 1).unwrap(),
            accumulate: false,
        };
        assert_eq!(split_count(&spec(1, 64, 576, 131_072)), 264usize.div_ceil(9));
        assert_eq!(split_count(&spec(1, 64, 64, 1000)), 3);
        assert_eq!(split_count(&spec(1, 64, 64, 255)), 1);
        assert_eq!(split_count(&spec(64, 512, 512, 100_000)), 1);
        assert_eq!(split_count(&spec(0, 0, 0, 100_000)), 264);
    }
}
