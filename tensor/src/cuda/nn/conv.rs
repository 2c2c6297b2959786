//! 2-D convolution on a GPU (NCHW, f32/f64), the three kernels behind `conv2d`,
//! `conv_transpose2d` and their gradients, each as im2col + the batched GEMM:
//!
//! * forward: `y[n, g] [C_out/g, P] = W_g [C_out/g, K] · cols[n, g] [K, P]`, one GEMM over
//!   (image, group) per chunk of images;
//! * input gradient: `dcols[n, g] = W_gᵀ · dy[n, g]`, then col2im gathers `dx` (no atomics);
//! * weight gradient: `dW_g [C_out/g, K] = dyᵀ_g [C_out/g, nb·P] · cols_gᵀ [nb·P, K]` with the
//!   columns laid out `[rows][image][P]` and `dy` permuted to `[C_out][image][P]`, so a chunk of
//!   images is one GEMM depth; chunks are added in order (`accumulate`), so the sum order
//!   depends only on the shapes.
//!
//! `K = C_in/groups·kh·kw`, `P = Ho·Wo`. Chunks bound the column buffer to `COLS_BUDGET`
//! elements; a 1×1 stride-1 unpadded kernel reads the input directly (no im2col). The products
//! go through `matmul::gemm_split`, which cuts a long depth with few output tiles (the weight
//! gradient) into slices fixed by the shapes.
use super::matmul::gemm_split;
use super::{alloc, out_buf, same_gpu, typed, NnFloat};
use crate::cuda::{gpu, CudaStorage};
use crate::ops_nn::ConvKernel;
use crate::{float_dispatch, Error, Result, Tensor};
use kernels::conv::Conv2dGeom;
use kernels::cuda::conv::{col2im, im2col, ColLayout, ConvDims};
use kernels::cuda::gemm::{GemmSpec, MatLayout};
use kernels::cuda::{copy, StridedLayout};

/// Most elements the column buffers of one chunk of images may hold (128 MiB of f32).
const COLS_BUDGET: usize = 1 << 25;

/// Runs one of the conv kernels on `a` (on the GPU, storage `st`) and `b`, producing `out_shape`.
/// Both operands have the same float dtype (f32 or f64; the caller converts half precision).
pub(crate) fn conv(
    a: &Tensor,
    st: &CudaStorage,
    b: &Tensor,
    op: &'static str,
    out_shape: &[usize],
    k: ConvKernel,
) -> Result<Tensor> {
    same_gpu(op, a, st, b)?;
    let (a, b) = (a.contiguous()?, b.contiguous()?);
    float_dispatch!(a.dtype(), op, T => match k {
        ConvKernel::Forward(g) => forward::<T>(op, &g, &a, &b, st, out_shape),
        ConvKernel::BackwardInput(g) => backward_input::<T>(op, &g, &a, &b, st, out_shape),
        ConvKernel::BackwardWeight(g) => backward_weight::<T>(op, &g, &a, &b, st, out_shape),
    })
}

/// The kernel geometry, with every size the kernels index by `int` checked.
fn dims(op: &'static str, g: &Conv2dGeom) -> Result<ConvDims> {
    ConvDims::new(g)
        .filter(|d| d.col_rows() <= i32::MAX as usize && d.col_cols() <= i32::MAX as usize)
        .ok_or_else(|| Error::invalid(op, format!("{g:?} is too large for the CUDA kernels")))
}

/// Checks that a tensor holds `want` elements (the geometry's view of it).
fn expect_len(op: &'static str, t: &Tensor, want: usize, shape: &[usize]) -> Result<()> {
    if t.elem_count() != want {
        return Err(Error::ShapeMismatch { op, lhs: t.shape().to_vec(), rhs: shape.to_vec() });
    }
    Ok(())
}

/// Images per chunk so that `per_image` scratch elements per image stay under the budget (and a
/// GEMM depth of `chunk·P` fits in an `int`): at least 1, at most `n`.
fn chunk_images(per_image: usize, p: usize, n: usize) -> usize {
    (COLS_BUDGET / per_image.max(1)).min(i32::MAX as usize / p.max(1)).clamp(1, n.max(1))
}

fn is_pointwise(g: &Conv2dGeom) -> bool {
    g.kh == 1 && g.kw == 1 && g.stride == (1, 1) && g.padding == (0, 0)
}

/// `x: [N, C_in, H, W]`, `w: [C_out, C_in/groups, kh, kw]` → `y: [N, C_out, Ho, Wo]`.
fn forward<T: NnFloat>(
    op: &'static str,
    g: &Conv2dGeom,
    x: &Tensor,
    w: &Tensor,
    st: &CudaStorage,
    out_shape: &[usize],
) -> Result<Tensor> {
    let d = dims(op, g)?;
    let (img, p, kt) = (d.image_len(), d.col_cols(), d.col_rows());
    expect_len(op, x, g.n * img, &[g.n, g.c_in, g.h, g.w])?;
    expect_len(op, w, g.weight_len(), &[g.c_out, g.c_in / g.groups, g.kh, g.kw])?;
    let mut y = alloc::<T>(st, g.n * g.c_out * p)?;
    if y.is_empty() || img == 0 {
        return Tensor::from_cuda(y, out_shape);
    }
    let (k, cog, groups) = (kt / g.groups, g.c_out / g.groups, g.groups);
    let (xb, wb) = (typed::<T>(op, x)?, typed::<T>(op, w)?);
    let (x_off, w_off) = (x.layout().offset(), w.layout().offset());
    let dev = &st.dev;
    let pointwise = is_pointwise(g);
    let chunk = if pointwise { g.n } else { chunk_images(kt * p, p, g.n) };
    // (No zero-length scratch: the driver may refuse empty allocations.)
    let mut cols = if pointwise { None } else { Some(alloc::<T>(st, chunk * kt * p)?) };
    let yb = out_buf::<T>(&mut y);
    for n0 in (0..g.n).step_by(chunk) {
        let nb = chunk.min(g.n - n0);
        // cols[img][g·K + kk][p] (or x itself for a pointwise kernel)
        let (src, src_off) = match cols.as_mut() {
            None => (xb, x_off + n0 * img),
            Some(c) => {
                let (cb, xv) = (out_buf::<T>(c), xb.slice(x_off + n0 * img..x_off + (n0 + nb) * img));
                im2col(dev, &d, &xv, cb, &ColLayout::image_major(&d, nb)).map_err(gpu)?;
                (&*cb, 0)
            }
        };
        // y[n0 + img, g] [cog, P] = W_g [cog, K] · cols[img, g] [K, P]
        let spec = GemmSpec {
            batch: nb * groups,
            m: cog,
            n: p,
            k,
            a: MatLayout::batched(&[nb, groups], &[0, cog * k], w_off, k, 1).map_err(gpu)?,
            b: MatLayout::batched(&[nb, groups], &[kt * p, k * p], src_off, p, 1).map_err(gpu)?,
            c: MatLayout::batched(&[nb, groups], &[g.c_out * p, cog * p], n0 * g.c_out * p, p, 1).map_err(gpu)?,
            accumulate: false,
        };
        gemm_split(st, &spec, wb, src, yb)?;
    }
    Tensor::from_cuda(y, out_shape)
}

/// `dy: [N, C_out, Ho, Wo]`, `w: [C_out, C_in/groups, kh, kw]` → `dx: [N, C_in, H, W]`.
fn backward_input<T: NnFloat>(
    op: &'static str,
    g: &Conv2dGeom,
    dy: &Tensor,
    w: &Tensor,
    st: &CudaStorage,
    out_shape: &[usize],
) -> Result<Tensor> {
    let d = dims(op, g)?;
    let (img, p, kt) = (d.image_len(), d.col_cols(), d.col_rows());
    expect_len(op, dy, g.n * g.c_out * p, &[g.n, g.c_out, g.out_h(), g.out_w()])?;
    expect_len(op, w, g.weight_len(), &[g.c_out, g.c_in / g.groups, g.kh, g.kw])?;
    let mut dx = alloc::<T>(st, g.n * img)?;
    if dx.is_empty() || g.c_out == 0 {
        return Tensor::from_cuda(dx, out_shape);
    }
    let (k, cog, groups) = (kt / g.groups, g.c_out / g.groups, g.groups);
    let (dyb, wb) = (typed::<T>(op, dy)?, typed::<T>(op, w)?);
    let (dy_off, w_off) = (dy.layout().offset(), w.layout().offset());
    let dev = &st.dev;
    // dcols[img, g] [K, P] = W_gᵀ [K, cog] · dy[n0 + img, g] [cog, P], for `nb` images from `n0`
    // into a buffer laid out [img][rows][P] from `c_off`.
    let spec = |n0: usize, nb: usize, c_off: usize| -> Result<GemmSpec> {
        Ok(GemmSpec {
            batch: nb * groups,
            m: k,
            n: p,
            k: cog,
            a: MatLayout::batched(&[nb, groups], &[0, cog * k], w_off, 1, k).map_err(gpu)?,
            b: MatLayout::batched(&[nb, groups], &[g.c_out * p, cog * p], dy_off + n0 * g.c_out * p, p, 1)
                .map_err(gpu)?,
            c: MatLayout::batched(&[nb, groups], &[kt * p, k * p], c_off, p, 1).map_err(gpu)?,
            accumulate: false,
        })
    };
    if is_pointwise(g) {
        // The column gradient is the input gradient itself.
        gemm_split(st, &spec(0, g.n, 0)?, wb, dyb, out_buf::<T>(&mut dx))?;
        return Tensor::from_cuda(dx, out_shape);
    }
    let chunk = chunk_images(kt * p, p, g.n);
    let mut dcols = alloc::<T>(st, chunk * kt * p)?;
    for n0 in (0..g.n).step_by(chunk) {
        let nb = chunk.min(g.n - n0);
        gemm_split(st, &spec(n0, nb, 0)?, wb, dyb, out_buf::<T>(&mut dcols))?;
        let mut dxv = out_buf::<T>(&mut dx).slice_mut(n0 * img..(n0 + nb) * img);
        col2im(dev, &d, out_buf::<T>(&mut dcols), &mut dxv, &ColLayout::image_major(&d, nb)).map_err(gpu)?;
    }
    Tensor::from_cuda(dx, out_shape)
}

/// `x: [N, C_in, H, W]`, `dy: [N, C_out, Ho, Wo]` → `dw: [C_out, C_in/groups, kh, kw]`.
fn backward_weight<T: NnFloat>(
    op: &'static str,
    g: &Conv2dGeom,
    x: &Tensor,
    dy: &Tensor,
    st: &CudaStorage,
    out_shape: &[usize],
) -> Result<Tensor> {
    let d = dims(op, g)?;
    let (img, p, kt) = (d.image_len(), d.col_cols(), d.col_rows());
    expect_len(op, x, g.n * img, &[g.n, g.c_in, g.h, g.w])?;
    expect_len(op, dy, g.n * g.c_out * p, &[g.n, g.c_out, g.out_h(), g.out_w()])?;
    let mut dw = alloc::<T>(st, g.weight_len())?;
    if dw.is_empty() || g.n == 0 {
        return Tensor::from_cuda(dw, out_shape);
    }
    let (k, cog, groups) = (kt / g.groups, g.c_out / g.groups, g.groups);
    let (xb, dyb) = (typed::<T>(op, x)?, typed::<T>(op, dy)?);
    let (x_off, dy_off) = (x.layout().offset(), dy.layout().offset());
    let dev = &st.dev;
    let chunk = chunk_images(kt * p + g.c_out * p, p, g.n);
    let mut cols = alloc::<T>(st, chunk * kt * p)?;
    let mut dyt = alloc::<T>(st, g.c_out * chunk * p)?;
    for n0 in (0..g.n).step_by(chunk) {
        let nb = chunk.min(g.n - n0);
        // cols[r][img][p] for the chunk's images
        let xv = xb.slice(x_off + n0 * img..x_off + (n0 + nb) * img);
        im2col(dev, &d, &xv, out_buf::<T>(&mut cols), &ColLayout::row_major(&d, nb)).map_err(gpu)?;
        // dyᵀ[co][img][p] = dy[n0 + img][co][p]
        let perm =
            StridedLayout::new(&[g.c_out, nb, p], &[p, g.c_out * p, 1], dy_off + n0 * g.c_out * p).map_err(gpu)?;
        copy::copy_strided(dev, dyb, &perm, out_buf::<T>(&mut dyt), g.c_out * nb * p).map_err(gpu)?;
        // dW_g [cog, K] (+)= dyᵀ_g [cog, nb·P] · cols_gᵀ [nb·P, K]
        let spec = GemmSpec {
            batch: groups,
            m: cog,
            n: k,
            k: nb * p,
            a: MatLayout::batched(&[groups], &[cog * nb * p], 0, nb * p, 1).map_err(gpu)?,
            b: MatLayout::batched(&[groups], &[k * nb * p], 0, 1, nb * p).map_err(gpu)?,
            c: MatLayout::batched(&[groups], &[cog * k], 0, k, 1).map_err(gpu)?,
            accumulate: n0 > 0,
        };
        gemm_split(st, &spec, out_buf::<T>(&mut dyt), out_buf::<T>(&mut cols), out_buf::<T>(&mut dw))?;
    }
    Tensor::from_cuda(dw, out_shape)
}
