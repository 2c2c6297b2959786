//! 2-D convolution (cross-correlation, as in PyTorch) by im2col + GEMM, or an implicit GEMM.
//!
//! For one image, `im2col` unrolls every receptive field into a column: the matrix
//! `cols: [C_in·kh·kw, Ho·Wo]` has row `(c, ki, kj)` and column `(oh, ow)` holding
//! `x[c, oh·sh − ph + ki·dh, ow·sw − pw + kj·dw]` (zero where that falls in the padding).
//! Rows are ordered exactly like a flattened weight `w: [C_out, C_in/groups, kh, kw]`, so with
//! `K = C_in/groups·kh·kw` and `P = Ho·Wo` each group `g` is one matrix product:
//!
//! * forward:          `y_g  [C_out/g, P] = W_g [C_out/g, K] · cols_g [K, P]`
//! * backward (input): `dcols_g [K, P]    = W_gᵀ · dy_g`, then `col2im` scatters-adds `dcols`
//!   back onto the input positions it was read from (the adjoint of `im2col`; stride 1 instead
//!   runs as a forward convolution, see below);
//! * backward (weight): `dW_g [C_out/g, K] = Σ_n dy_{n,g} · cols_{n,g}ᵀ`.
//!
//! Images are independent in the forward and backward-input passes, so those run in parallel
//! over the batch (each output element is written by exactly one task: deterministic). The
//! weight gradient is a sum over the batch; it is accumulated over fixed chunks of images whose
//! boundaries depend only on the shapes, and the chunk partials are added in chunk order, so the
//! result is bit-identical for any number of threads.
//!
//! To bound scratch memory, `cols` is built for a band of output rows at a time (at most
//! `COLS_BUDGET` elements, 16 MiB of f32, per task); band boundaries depend only on the shapes.
//! A 1×1 kernel with stride 1 and no padding needs no unrolling: `cols` is the image itself.
//!
//! Where the forward makes `cols`, its rows are read from a zero-padded copy of the image
//! (`padded.rs`: no clipping or zero fills per run; the same values). Stride-1 convolutions in f32 on CPUs
//! with AVX-512 mostly skip the unrolling altogether (`implicit.rs`): the GEMM kernel reads the
//! rows of `cols` straight out of the padded image (forward: the same bits as im2col; weight
//! gradient: `cols` as an A operand read through a table of row starts). The input gradient of
//! a stride-1 convolution (one group) is the forward convolution of `dy` with flipped,
//! transposed weights (`flipped.rs`: no `dcols` scattered back by `col2im`; implicit where that
//! applies). Strided convolutions with small outputs sum their weight gradient over a whole chunk
//! of images in one product (`small.rs`).
use crate::gemm::{gemm_op_threads, gemm_op_uninit, MatRef, Operand};
use crate::scratch::with_scratch;
use crate::Real;
pub use im2col::{col2im, im2col};
use im2col::{col2im_band_add, Im2colRows};
use implicit::Implicit;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Shape and hyper-parameters of a 2-D convolution. `stride`, `padding` and `dilation` are
/// `(vertical, horizontal)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeom {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Conv2dGeom {
    /// Output height, PyTorch formula `(h + 2p − d·(k−1) − 1) / s + 1` (the caller has checked it is ≥ 1).
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.padding.0 - self.dilation.0 * (self.kh - 1) - 1) / self.stride.0 + 1
    }

    /// Output width, same formula as [`Conv2dGeom::out_h`] along the horizontal axis.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.padding.1 - self.dilation.1 * (self.kw - 1) - 1) / self.stride.1 + 1
    }

    /// Rows of the im2col matrix of one image: `C_in · kh · kw`.
    pub fn col_rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of the im2col matrix: `Ho · Wo`.
    pub fn col_cols(&self) -> usize {
        self.out_h() * self.out_w()
    }

    /// Number of elements of the weight: `C_out · C_in/groups · kh · kw`.
    pub fn weight_len(&self) -> usize {
        self.c_out * (self.c_in / self.groups) * self.kh * self.kw
    }

    /// 1×1 kernel, stride 1, no padding: the im2col matrix is the image itself.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == (1, 1) && self.padding == (0, 0)
    }

    fn check(&self, x_len: usize, w_len: usize, y_len: usize) {
        let (g, s, d) = (self.groups, self.stride, self.dilation);
        // groups ≥ 1 and divides both channel counts.
        let divides = |c: usize| g >= 1 && c / g * g == c;
        assert!(divides(self.c_in) && divides(self.c_out), "conv2d: bad groups {g}");
        assert!(s.0 >= 1 && s.1 >= 1 && d.0 >= 1 && d.1 >= 1, "conv2d: stride/dilation < 1");
        assert_eq!(x_len, self.n * self.c_in * self.h * self.w, "conv2d: input length");
        assert_eq!(w_len, self.weight_len(), "conv2d: weight length");
        assert_eq!(y_len, self.n * self.c_out * self.col_cols(), "conv2d: output length");
    }
}

/// The strided matrix whose element (i, j) is `data[offset + i·row_stride + j·col_stride]`.
fn mat<T>(data: &[T], offset: usize, row_stride: usize, col_stride: usize) -> MatRef<'_, T> {
    MatRef { data, offset, row_stride, col_stride }
}

impl Conv2dGeom {
    /// The tap `(c, ki, kj)` of row `r` of the im2col matrix whose first channel is `c0` (rows
    /// ordered `(c·kh + ki)·kw + kj`, as a flattened weight).
    fn tap(&self, c0: usize, r: usize) -> (usize, usize, usize) {
        (c0 + r / (self.kh * self.kw), (r / self.kw) % self.kh, r % self.kw)
    }

    /// The tap of the next im2col row after `(c, ki, kj)`: stepped along, not divided out.
    fn next_tap(&self, (c, ki, kj): (usize, usize, usize)) -> (usize, usize, usize) {
        match (kj + 1 == self.kw, ki + 1 == self.kh) {
            (false, _) => (c, ki, kj + 1),
            (true, false) => (c, ki + 1, 0),
            (true, true) => (c + 1, 0, 0),
        }
    }
}

/// Whether the GEMMs inside `tasks` parallel rayon tasks (a batch's images) should also split
/// across threads: only when there are too few tasks to keep every thread busy. Either way the
/// result is the same bits.
fn inner_parallel(tasks: usize) -> bool {
    tasks < 2 * rayon::current_num_threads()
}

/// Elements an im2col band may hold (16 MiB of f32): bounds the scratch memory per task.
const COLS_BUDGET: usize = 1 << 22;

/// Output rows per im2col band under [`COLS_BUDGET`] (at least 1, at most `Ho`). Depends only on
/// the shapes, so banding never changes results between runs.
fn band_rows(g: &Conv2dGeom) -> usize {
    (COLS_BUDGET / (g.col_rows() * g.out_w()).max(1)).clamp(1, g.out_h())
}

/// The bands `(oh0, nb)` covering the output rows `0..Ho`.
fn bands(g: &Conv2dGeom, band: usize) -> impl Iterator<Item = (usize, usize)> {
    let ho = g.out_h();
    (0..ho).step_by(band).map(move |oh0| (oh0, band.min(ho - oh0)))
}

/// Forward convolution (no bias).
// x: [N, C_in, H, W], w: [C_out, C_in/groups, kh, kw], y: [N, C_out, Ho, Wo] (overwritten)
pub fn conv2d_forward<T: Real>(g: &Conv2dGeom, x: &[T], w: &[T], y: &mut [T]) {
    // SAFETY: `forward_into` writes only values (GEMM results, copies, zeros) into `y`.
    forward_into(g, x, w, unsafe { crate::memory::as_uninit(y) }, None);
}

/// [`conv2d_forward`] into a new vector (`[N, C_out, Ho, Wo]`), written without being filled first.
pub fn conv2d_forward_vec<T: Real>(g: &Conv2dGeom, x: &[T], w: &[T]) -> Vec<T> {
    let len = g.n * g.c_out * g.col_cols();
    // SAFETY: `forward_into` writes every element of y (see there) or panics.
    unsafe { crate::memory::written_vec(len, |y| forward_into(g, x, w, y, None)) }
}

/// [`conv2d_forward_vec`] plus `bias[co]` on every element of output channel `co` (`bias:
/// [C_out]`), added to each image's output right after its product, while it is still in cache,
/// instead of by a pass over the whole tensor: the same bits as the convolution, then the add.
pub fn conv2d_forward_bias_vec<T: Real>(g: &Conv2dGeom, x: &[T], w: &[T], bias: &[T]) -> Vec<T> {
    assert_eq!(bias.len(), g.c_out, "conv2d bias: one per output channel");
    let len = g.n * g.c_out * g.col_cols();
    // SAFETY: `forward_into` writes every element of y (see there) or panics.
    unsafe { crate::memory::written_vec(len, |y| forward_into(g, x, w, y, Some(bias))) }
}

/// Adds `bias[co]` to every element of channel `co` of one image's output (`y_img: [C_out, P]`,
/// every element written before this runs).
fn add_bias<T: Real>(y_img: &mut [MaybeUninit<T>], bias: Option<&[T]>) {
    let Some(bias) = bias else { return };
    let p = y_img.len() / bias.len().max(1);
    for (row, &b) in y_img.chunks_exact_mut(p.max(1)).zip(bias) {
        for v in row {
            // SAFETY: the convolution has written every element of the image (contract).
            let v = unsafe { v.assume_init_mut() };
            *v += b;
        }
    }
}

/// The forward pass into `y` (every element written, plus `bias` on each output channel when
/// given): the implicit GEMM where it applies, im2col otherwise (the same bits either way).
fn forward_into<T: Real>(g: &Conv2dGeom, x: &[T], w: &[T], y: &mut [MaybeUninit<T>], bias: Option<&[T]>) {
    let x_img_len = g.c_in * g.h * g.w;
    let plan = if g.is_pointwise() { None } else { Implicit::plan::<T>(g) };
    match plan {
        Some(plan) if !y.is_empty() && x_img_len > 0 => {
            g.check(x.len(), w.len(), y.len());
            // Few images: each one's product also splits between threads.
            let inner = inner_parallel(g.n);
            let _warm = crate::parallel::keep_warm();
            let chunks = y.par_chunks_mut(g.c_out * g.col_cols()).zip(x.par_chunks(x_img_len));
            chunks.for_each(|(y_img, x_img)| {
                plan.forward_image(g, (x_img, w), y_img, inner);
                add_bias(y_img, bias);
            });
        }
        _ => forward_banded(g, x, w, y, band_rows(g), bias),
    }
}

/// Writes every element of `y` (plus `bias` on each output channel when given): zeros for an
/// empty input, otherwise each image's groups in full (whole images through the GEMM, or band by
/// band through `tmp` and copies that tile the image).
fn forward_banded<T: Real>(
    g: &Conv2dGeom,
    x: &[T],
    w: &[T],
    y: &mut [MaybeUninit<T>],
    band: usize,
    bias: Option<&[T]>,
) {
    g.check(x.len(), w.len(), y.len());
    let x_img_len = g.c_in * g.h * g.w;
    if y.is_empty() || x_img_len == 0 {
        y.fill(MaybeUninit::new(T::zero()));
        if !y.is_empty() {
            y.chunks_mut(g.c_out * g.col_cols()).for_each(|y_img| add_bias(y_img, bias));
        }
        return;
    }
    let (p, wo, ho) = (g.col_cols(), g.out_w(), g.out_h());
    let (k, cog) = (g.col_rows() / g.groups, g.c_out / g.groups);
    // W_g: [cog, K], row-major
    let wg = |gi: usize| Operand::Strided(mat(w, gi * cog * k, k, 1));
    let _warm = crate::parallel::keep_warm();
    let chunks = y.par_chunks_mut(g.c_out * p).zip(x.par_chunks(x_img_len));
    if g.is_pointwise() {
        chunks.for_each(|(y_img, x_img)| {
            for gi in 0..g.groups {
                let c = &mut y_img[gi * cog * p..(gi + 1) * cog * p];
                let b = Operand::Strided(mat(x_img, gi * k * p, p, 1));
                gemm_op_uninit(inner_parallel(g.n), cog, p, k, (wg(gi), b), c);
            }
            add_bias(y_img, bias);
        });
        return;
    }
    let tmp_len = if band < ho { cog * band * wo } else { 0 };
    let (hp, wp) = padded::padded_size(g);
    let padded_len = if g.padding == (0, 0) { 0 } else { g.c_in * hp * wp };
    chunks.for_each(|(y_img, x_img)| {
        // The scratch buffers are fully written (the padded image by pad_image, tmp by a GEMM
        // without accumulation) before use.
        with_scratch(padded_len + tmp_len, |scratch: &mut [T]| {
            let (xp, tmp) = scratch.split_at_mut(padded_len);
            // cols is read from the zero-padded image (the image itself when there is no padding).
            let xp: &[T] = if padded_len == 0 {
                x_img
            } else {
                padded::pad_image(g, x_img, xp);
                xp
            };
            for (oh0, nb) in bands(g, band) {
                let bp = nb * wo;
                for gi in 0..g.groups {
                    // y_g band [cog, bp] = W_g · cols_g [K, bp], cols_g packed from the image
                    let rows = padded::PaddedRows { g, xp, c0: gi * (g.c_in / g.groups), oh0 };
                    let b = Operand::Rows(&rows);
                    if nb == ho {
                        let c = &mut y_img[gi * cog * p..(gi + 1) * cog * p];
                        gemm_op_uninit(inner_parallel(g.n), cog, p, k, (wg(gi), b), c);
                        continue;
                    }
                    // A band of output rows is strided in y: compute it contiguously, then copy.
                    let t = &mut tmp[..cog * bp];
                    gemm_op_threads(inner_parallel(g.n), cog, bp, k, (wg(gi), b), t, false);
                    for (co, trow) in t.chunks_exact(bp).enumerate() {
                        let off = (gi * cog + co) * p + oh0 * wo;
                        for (d, &v) in y_img[off..off + bp].iter_mut().zip(trow) {
                            d.write(v);
                        }
                    }
                }
            }
        });
        add_bias(y_img, bias);
    });
}

/// Gradient of the convolution with respect to its input: a forward convolution of `dy` with
/// flipped weights for stride 1 (`flipped.rs`), `dx = col2im(Wᵀ · dy)` otherwise.
// dy: [N, C_out, Ho, Wo], w: [C_out, C_in/groups, kh, kw], dx: [N, C_in, H, W] (overwritten)
pub fn conv2d_backward_input<T: Real>(g: &Conv2dGeom, dy: &[T], w: &[T], dx: &mut [T]) {
    match flipped::geometry(g) {
        // SAFETY: the forward convolution writes only values into dx.
        Some(gt) => flipped::backward_input(g, &gt, dy, w, unsafe { crate::memory::as_uninit(dx) }),
        None => backward_input_banded(g, dy, w, dx, band_rows(g), false),
    }
}

/// [`conv2d_backward_input`] into a new `dx` (`[N, C_in, H, W]`): written without being filled
/// first by the flipped forward convolution, a zero buffer for `col2im` to add into otherwise.
pub fn conv2d_backward_input_vec<T: Real>(g: &Conv2dGeom, dy: &[T], w: &[T]) -> Vec<T> {
    let len = g.n * g.c_in * g.h * g.w;
    if let Some(gt) = flipped::geometry(g) {
        // SAFETY: the forward convolution writes every element of dx (or panics).
        return unsafe { crate::memory::written_vec(len, |dx| flipped::backward_input(g, &gt, dy, w, dx)) };
    }
    let mut dx = crate::memory::zeros(len);
    backward_input_banded(g, dy, w, &mut dx, band_rows(g), true);
    dx
}

/// `zeroed`: `dx` is known to hold zeros on entry.
fn backward_input_banded<T: Real>(g: &Conv2dGeom, dy: &[T], w: &[T], dx: &mut [T], band: usize, zeroed: bool) {
    g.check(dx.len(), w.len(), dy.len());
    if dx.is_empty() || g.c_out == 0 {
        dx.fill(T::zero());
        return;
    }
    let (p, wo) = (g.col_cols(), g.out_w());
    let (k, cog) = (g.col_rows() / g.groups, g.c_out / g.groups);
    // W_gᵀ: [K, cog], read transposed from W_g [cog, K]
    let wt = |gi: usize| mat(w, gi * cog * k, 1, k);
    let _warm = crate::parallel::keep_warm();
    let chunks = dx.par_chunks_mut(g.c_in * g.h * g.w).zip(dy.par_chunks(g.c_out * p));
    if g.is_pointwise() {
        // The gradient of the "cols" is the input gradient itself.
        chunks.for_each(|(dx_img, dy_img)| {
            for gi in 0..g.groups {
                let c = &mut dx_img[gi * k * p..(gi + 1) * k * p];
                let b = Operand::Strided(mat(dy_img, gi * cog * p, p, 1));
                gemm_op_threads(inner_parallel(g.n), k, p, cog, (Operand::Strided(wt(gi)), b), c, false);
            }
        });
        return;
    }
    let cols_len = g.col_rows() * band * wo;
    chunks.for_each(|(dx_img, dy_img)| {
        if !zeroed {
            dx_img.fill(T::zero());
        }
        // Every band of `dcols` is fully written by the GEMMs (no accumulation) before col2im.
        with_scratch(cols_len, |buf: &mut [T]| {
            for (oh0, nb) in bands(g, band) {
                let bp = nb * wo;
                let dcols = &mut buf[..g.col_rows() * bp];
                for gi in 0..g.groups {
                    // dcols_g [K, bp] = W_gᵀ · dy_g band [cog, bp]
                    let b = mat(dy_img, gi * cog * p + oh0 * wo, p, 1);
                    let c = &mut dcols[gi * k * bp..(gi + 1) * k * bp];
                    gemm_op_threads(
                        inner_parallel(g.n),
                        k,
                        bp,
                        cog,
                        (Operand::Strided(wt(gi)), Operand::Strided(b)),
                        c,
                        false,
                    );
                }
                col2im_band_add(g, dcols, oh0, dx_img);
            }
        })
    });
}

/// Weight-gradient elements per task when the chunk partials are added up.
const SUM_CHUNK: usize = 1 << 14;

/// Gradient of the convolution with respect to its weight: `dW = Σ_n dy_n · cols_nᵀ`.
/// Bit-identical for any thread count (fixed chunking, partials reduced in chunk order).
// x: [N, C_in, H, W], dy: [N, C_out, Ho, Wo], dw: [C_out, C_in/groups, kh, kw] (overwritten)
pub fn conv2d_backward_weight<T: Real>(g: &Conv2dGeom, x: &[T], dy: &[T], dw: &mut [T]) {
    backward_weight_banded(g, x, dy, dw, band_rows(g));
}

fn backward_weight_banded<T: Real>(g: &Conv2dGeom, x: &[T], dy: &[T], dw: &mut [T], band: usize) {
    g.check(x.len(), dw.len(), dy.len());
    if dw.is_empty() || g.n == 0 {
        dw.fill(T::zero());
        return;
    }
    let dw_len = dw.len();
    // The number of chunks depends only on the shapes: at most 8 (never more than images, so
    // every chunk has at least one image and overwrites its target), and the partial buffers
    // stay under ~8M elements in total.
    let nchunks = g.n.min(8).min((1usize << 23) / dw_len).max(1);
    with_scratch((nchunks - 1) * dw_len, |partials: &mut [T]| {
        let targets: Vec<&mut [T]> = std::iter::once(&mut *dw).chain(partials.chunks_exact_mut(dw_len)).collect();
        let _warm = crate::parallel::keep_warm();
        targets.into_par_iter().enumerate().for_each(|(ci, target)| {
            let images = ci * g.n / nchunks..(ci + 1) * g.n / nchunks;
            accumulate_weight_grad(g, x, dy, (images, nchunks), target, band);
        });
        // Each element adds the partials in chunk order; ranges of elements run in parallel.
        let add_partials = |(b, d): (usize, &mut [T])| {
            for part in partials.chunks_exact(dw_len) {
                for (d, p) in d.iter_mut().zip(&part[b * SUM_CHUNK..]) {
                    *d += *p;
                }
            }
        };
        if nchunks > 1 && dw_len > SUM_CHUNK {
            dw.par_chunks_mut(SUM_CHUNK).enumerate().for_each(add_partials);
        } else {
            dw.chunks_mut(SUM_CHUNK).enumerate().for_each(add_partials);
        }
    });
}

/// `target = Σ_{n in images} dy_n · cols_nᵀ` (overwritten), images (and bands) taken
/// sequentially in order; `images` must not be empty; `tasks` such sums run in parallel.
fn accumulate_weight_grad<T: Real>(
    g: &Conv2dGeom,
    x: &[T],
    dy: &[T],
    (images, tasks): (std::ops::Range<usize>, usize),
    target: &mut [T],
    band: usize,
) {
    debug_assert!(!images.is_empty());
    if small::applies(g) {
        small::weight_grad(g, (x, dy), images, inner_parallel(tasks), target);
        return;
    }
    if implicit::weight_grad(g, (x, dy), (images.clone(), tasks), target) {
        return;
    }
    let (p, wo) = (g.col_cols(), g.out_w());
    let (k, cog) = (g.col_rows() / g.groups, g.c_out / g.groups);
    let pointwise = g.is_pointwise();
    let x_img_len = g.c_in * g.h * g.w;
    let band = if pointwise { g.out_h() } else { band };
    // The product is computed transposed, `targetᵀ [K, cog] = Σ cols_g [K, bp] · dy_gᵀ [bp, cog]`:
    // then the big operand (cols, packed straight from the image) is made row by row and only the
    // small one (dy) is gathered with a stride. Transposed into `target` at the end. The scratch
    // buffer is fully written before it is read (the first GEMM does not accumulate).
    with_scratch(g.groups * k * cog, |tt: &mut [T]| {
        let mut accumulate = false;
        for n in images {
            let x_img = &x[n * x_img_len..(n + 1) * x_img_len];
            for (oh0, nb) in bands(g, band) {
                let bp = nb * wo;
                for gi in 0..g.groups {
                    // cols_g band: [K, bp]; dy_gᵀ: [bp, cog] read transposed from dy_g [cog, bp]
                    let rows = Im2colRows { g, x_img, c0: gi * (g.c_in / g.groups), oh0 };
                    let a =
                        if pointwise { Operand::Strided(mat(x_img, gi * k * bp, bp, 1)) } else { Operand::Rows(&rows) };
                    let b = mat(dy, n * g.c_out * p + gi * cog * p + oh0 * wo, 1, p);
                    let c = &mut tt[gi * k * cog..(gi + 1) * k * cog];
                    gemm_op_threads(inner_parallel(tasks), k, cog, bp, (a, Operand::Strided(b)), c, accumulate);
                }
                accumulate = true;
            }
        }
        for gi in 0..g.groups {
            let (src, dst) = (&tt[gi * k * cog..(gi + 1) * k * cog], &mut target[gi * cog * k..(gi + 1) * cog * k]);
            crate::strided::transpose(src, (k, cog), dst);
        }
    });
}

/// Naive direct convolution (seven nested loops), the reference the im2col path is tested against.
// x: [N, C_in, H, W], w: [C_out, C_in/groups, kh, kw], y: [N, C_out, Ho, Wo] (overwritten)
pub fn conv2d_reference<T: Real>(g: &Conv2dGeom, x: &[T], w: &[T], y: &mut [T]) {
    g.check(x.len(), w.len(), y.len());
    let (ho, wo) = (g.out_h(), g.out_w());
    let (cig, cog) = (g.c_in / g.groups, g.c_out / g.groups);
    for n in 0..g.n {
        for co in 0..g.c_out {
            let grp = co / cog;
            for oh in 0..ho {
                for ow in 0..wo {
                    let mut acc = T::zero();
                    for ci in 0..cig {
                        let c = grp * cig + ci;
                        for ki in 0..g.kh {
                            for kj in 0..g.kw {
                                let ih = (oh * g.stride.0 + ki * g.dilation.0) as isize - g.padding.0 as isize;
                                let iw = (ow * g.stride.1 + kj * g.dilation.1) as isize - g.padding.1 as isize;
                                if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize {
                                    continue;
                                }
                                let xv = x[((n * g.c_in + c) * g.h + ih as usize) * g.w + iw as usize];
                                let wv = w[((co * cig + ci) * g.kh + ki) * g.kw + kj];
                                acc += xv * wv;
                            }
                        }
                    }
                    y[((n * g.c_out + co) * ho + oh) * wo + ow] = acc;
                }
            }
        }
    }
}

mod flipped;
mod im2col;
mod implicit;
mod padded;
mod small;
#[cfg(test)]
mod tests;
