//! Weight gradients of strided convolutions with small outputs (a U-Net's stride-2 convolution
//! down to the 8×8 level: 64 pixels per image): one product over the pixels of several images
//! (as many of a chunk's as the im2col budget holds), not one per image. Per image
//! the product `targetᵀ [K, C_out] += cols [K, P] · dyᵀ [P, C_out]` is only `P` deep, so every C
//! tile is loaded and stored after a few dozen steps; here the chunk's `cols` are the columns of
//! one matrix `[K, n·P]` (rows read from each image's zero-padded copy, `PaddedRows`) against
//! `dyᵀ` gathered to `[n·P, C_out]`, one product `n·P` deep. The sums run over the chunk's pixels
//! in order, one fixed order for the shapes (not the thread count): different last bits from
//! the per-image path, as that one's differ from im2col's.
use super::padded::{pad_image, padded_size, PaddedRows};
use super::Conv2dGeom;
use crate::gemm::{gemm_op_threads, MatRef, Operand, RowSource};
use crate::scratch::with_scratch;
use crate::Real;

/// Outputs of at most this many pixels per image take the multi-image product.
const MAX_PIXELS: usize = 64;

/// Whether [`weight_grad`] applies: one group, not 1×1, small outputs, and a stride other than 1
/// (in f32 with AVX-512 stride-1 convolutions read `cols` straight from the padded image,
/// `implicit.rs`, which costs less than making it as here: 3.8 against 4.1 ms for the 8×8
/// 128→128 one at 2 threads; elsewhere they keep the per-image path).
pub(super) fn applies(g: &Conv2dGeom) -> bool {
    g.groups == 1 && !g.is_pointwise() && g.stride != (1, 1) && g.col_cols() <= MAX_PIXELS && g.c_in > 0 && g.c_out > 0
}

/// The rows of `cols [K, n·P]` for a chunk of `n` padded images laid out one after another in
/// `xps` (`padded` elements each): column `i·P + q` is pixel `q` of image `i`.
struct ChunkRows<'a, T> {
    g: &'a Conv2dGeom,
    xps: &'a [T],
    padded: usize,
}

impl<T: Real> RowSource<T> for ChunkRows<'_, T> {
    fn rows(&self, rows: (usize, usize), (j0, len): (usize, usize), out: &mut [T], ld: usize) {
        let p = self.g.col_cols();
        // Each image's run of columns comes from that image's padded copy.
        let (mut j, mut col) = (j0, 0);
        while col < len {
            let (img, q) = (j / p, j % p);
            let n = (p - q).min(len - col);
            let xp = &self.xps[img * self.padded..(img + 1) * self.padded];
            PaddedRows { g: self.g, xp, c0: 0, oh0: 0 }.rows(rows, (q, n), &mut out[col..], ld);
            (j, col) = (j + n, col + n);
        }
    }
}

/// `target [C_out, K] = Σ_{n in images} dy_n · cols_nᵀ` (overwritten) as products over as many
/// of the chunk's images at a time as the im2col budget holds; `split`: a product may split
/// between threads (few parallel chunks).
// x: [N, C_in, H, W], dy: [N, C_out, Ho, Wo], target: [C_out, C_in·kh·kw]
pub(super) fn weight_grad<T: Real>(
    g: &Conv2dGeom,
    (x, dy): (&[T], &[T]),
    images: std::ops::Range<usize>,
    split: bool,
    target: &mut [T],
) {
    weight_grad_within(g, (x, dy), images, split, target, super::COLS_BUDGET);
}

/// [`weight_grad`] with the scratch budget (elements) as a parameter, for the tests.
pub(super) fn weight_grad_within<T: Real>(
    g: &Conv2dGeom,
    (x, dy): (&[T], &[T]),
    images: std::ops::Range<usize>,
    split: bool,
    target: &mut [T],
    budget: usize,
) {
    let (p, k, c_out) = (g.col_cols(), g.col_rows(), g.c_out);
    let (hp, wp) = padded_size(g);
    let (padded, x_img_len) = (g.c_in * hp * wp, g.c_in * g.h * g.w);
    // Images per product: as many as the scratch budget holds (at least one); a fixed number for
    // the shapes, so the sums' grouping never depends on the threads.
    let per = (budget / (padded + p * c_out).max(1)).clamp(1, images.len().max(1));
    // Scratch: the padded images, dyᵀ [per·P, C_out], targetᵀ [K, C_out]; each fully written
    // before it is read (the first product does not accumulate).
    with_scratch(per * padded + per * p * c_out + k * c_out, |scratch: &mut [T]| {
        let (xps, rest) = scratch.split_at_mut(per * padded);
        let (dyt, tt) = rest.split_at_mut(per * p * c_out);
        for (part, first) in images.clone().step_by(per).map(|i0| (i0..(i0 + per).min(images.end), i0 == images.start))
        {
            let n = part.len();
            for (i, img) in part.enumerate() {
                pad_image(g, &x[img * x_img_len..(img + 1) * x_img_len], &mut xps[i * padded..(i + 1) * padded]);
                // dyt[i·P + q][co] = dy[img][co][q]
                let dy_img = &dy[img * c_out * p..(img + 1) * c_out * p];
                crate::strided::transpose(dy_img, (c_out, p), &mut dyt[i * p * c_out..]);
            }
            let a = ChunkRows { g, xps: &xps[..n * padded], padded };
            let b = MatRef { data: &dyt[..n * p * c_out], offset: 0, row_stride: c_out, col_stride: 1 };
            gemm_op_threads(split, k, c_out, n * p, (Operand::Rows(&a), Operand::Strided(b)), tt, !first);
        }
        crate::strided::transpose(tt, (k, c_out), target);
    });
}
