//! 2-D max / average pooling on a GPU (NCHW, f32/f64), forward and backward. The backward
//! kernels gather over the windows that contain each input element (no atomics) in the order
//! the CPU adds, so results match the CPU bit for bit.
use super::{alloc, dense_view, out_buf, same_gpu};
use crate::cuda::{gpu, CudaStorage, GpuBuf};
use crate::{float_dispatch, DType, Error, Result, Tensor};
use kernels::cuda::pool::{self, PoolDims};
use kernels::pool::Pool2dGeom;

fn dims(op: &'static str, g: &Pool2dGeom) -> Result<PoolDims> {
    PoolDims::new(g).ok_or_else(|| Error::invalid(op, format!("{g:?} is too large for the CUDA kernels")))
}

fn out_shape(g: &Pool2dGeom) -> [usize; 4] {
    [g.n, g.c, g.out_h(), g.out_w()]
}

/// Checks that `t` holds the elements of `shape`.
fn expect(op: &'static str, t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.elem_count() != shape.iter().product::<usize>() {
        return Err(Error::ShapeMismatch { op, lhs: t.shape().to_vec(), rhs: shape.to_vec() });
    }
    Ok(())
}

/// Max pooling of `x` (f32/f64, the CPU's compute dtype): the output cast to `out_dtype` and the
/// flat input index of each maximum (`I64`, −1 for a window entirely in the padding).
pub fn max_pool2d(x: &Tensor, st: &CudaStorage, g: &Pool2dGeom, out_dtype: DType) -> Result<(Tensor, Tensor)> {
    const OP: &str = "max_pool2d";
    let d = dims(OP, g)?;
    let x = x.contiguous()?;
    let mut arg = CudaStorage::zeros(&st.dev, DType::I64, d.output_len())?;
    let y = float_dispatch!(x.dtype(), OP, T => {
        let mut y = alloc::<T>(st, d.output_len())?;
        let GpuBuf::I64(ab) = &mut arg.buf else { unreachable!("zeros(I64) makes an i64 buffer") };
        pool::max_pool2d(&st.dev, &d, &dense_view::<T>(OP, &x)?, out_buf::<T>(&mut y), ab).map_err(gpu)?;
        Tensor::from_cuda(y, &out_shape(g))
    })?;
    Ok((y.to_dtype(out_dtype)?, Tensor::from_cuda(arg, &out_shape(g))?))
}

/// Backward of max pooling: `dx[i] = Σ dy[o]` over the outputs `o` with `argmax[o] == i`.
pub fn max_pool2d_backward(
    dy: &Tensor,
    st: &CudaStorage,
    argmax: &Tensor,
    x_shape: &[usize],
    g: &Pool2dGeom,
) -> Result<Tensor> {
    const OP: &str = "max_pool2d_backward";
    let d = dims(OP, g)?;
    same_gpu(OP, dy, st, argmax)?;
    if argmax.dtype() != DType::I64 {
        return Err(Error::DTypeMismatch { op: OP, lhs: argmax.dtype(), rhs: DType::I64 });
    }
    expect(OP, dy, &out_shape(g))?;
    expect(OP, argmax, &out_shape(g))?;
    let (dy, argmax) = (dy.contiguous()?, argmax.contiguous()?);
    let ast = argmax.cuda_storage().ok_or(Error::DeviceMismatch { op: OP, lhs: dy.device(), rhs: argmax.device() })?;
    let GpuBuf::I64(ab) = &ast.buf else { unreachable!("dtype checked above") };
    let off = argmax.layout().offset();
    let av = ab.slice(off..off + argmax.elem_count());
    float_dispatch!(dy.dtype(), OP, T => {
        let mut dx = alloc::<T>(st, d.input_len())?;
        pool::max_pool2d_backward(&st.dev, &d, &dense_view::<T>(OP, &dy)?, &av, out_buf::<T>(&mut dx)).map_err(gpu)?;
        Tensor::from_cuda(dx, x_shape)
    })
}

/// Average pooling (padding counts as zeros) of an f32/f64 tensor.
pub fn avg_pool2d(x: &Tensor, st: &CudaStorage, g: &Pool2dGeom) -> Result<Tensor> {
    const OP: &str = "avg_pool2d";
    let d = dims(OP, g)?;
    let x = x.contiguous()?;
    float_dispatch!(x.dtype(), OP, T => {
        let mut y = alloc::<T>(st, d.output_len())?;
        pool::avg_pool2d(&st.dev, &d, &dense_view::<T>(OP, &x)?, out_buf::<T>(&mut y)).map_err(gpu)?;
        Tensor::from_cuda(y, &out_shape(g))
    })
}

/// Backward of average pooling: each input element gathers `dy / (kh·kw)` of its windows.
pub fn avg_pool2d_backward(dy: &Tensor, st: &CudaStorage, x_shape: &[usize], g: &Pool2dGeom) -> Result<Tensor> {
    const OP: &str = "avg_pool2d_backward";
    let d = dims(OP, g)?;
    expect(OP, dy, &out_shape(g))?;
    let dy = dy.contiguous()?;
    float_dispatch!(dy.dtype(), OP, T => {
        let mut dx = alloc::<T>(st, d.input_len())?;
        pool::avg_pool2d_backward(&st.dev, &d, &dense_view::<T>(OP, &dy)?, out_buf::<T>(&mut dx)).map_err(gpu)?;
        Tensor::from_cuda(dx, x_shape)
    })
}
