//! Stride-1 convolutions as an implicit GEMM: the weights times the im2col matrix, with the
//! matrix's rows read straight out of a zero-padded copy of the image by the GEMM kernel
//! ([`crate::gemm::gather`]) instead of being packed from it. Tap `(c, ki, kj)` of output pixel
//! `(oh, ow)` reads padded pixel `(c, oh + ki·dh, ow + kj·dw)`: a fixed offset per tap plus one per
//! pixel, so 16 consecutive output pixels of a row read 16 consecutive padded pixels.
//!
//! The sums are the blocked GEMM's (see `gemm::gather`), so the output is the same bits as the
//! im2col path's. Used where the kernel exists (AVX-512) for f32, one group, stride 1 and output
//! rows of 16 pixels (an even number of them) or a multiple of 32; other convolutions keep im2col.
use super::Conv2dGeom;
use crate::gemm::gather::{gathered_available, gemm_gathered, gemm_row_table, row_table_available, Gathered};
use crate::gemm::{MatRef, Operand};
use crate::memory::{same_type, same_type_mut};
use crate::scratch::with_scratch;
use std::any::TypeId;
use std::mem::MaybeUninit;

/// What a convolution's implicit GEMM needs: the padded image size, each tap's offset, each
/// 32-pixel sliver's start, and where a sliver's second half starts.
pub(super) struct Implicit {
    hp: usize,
    wp: usize,
    offs: Vec<usize>,
    starts: Vec<usize>,
    d1: usize,
}

impl Implicit {
    /// The plan for `g` with element type `T`, or `None` where the implicit path does not apply.
    pub(super) fn plan<T: 'static>(g: &Conv2dGeom) -> Option<Implicit> {
        let applies = TypeId::of::<T>() == TypeId::of::<f32>()
            && gathered_available()
            && g.groups == 1
            && g.stride == (1, 1)
            && g.c_in > 0;
        if !applies {
            return None;
        }
        let (hp, wp) = (g.h + 2 * g.padding.0, g.w + 2 * g.padding.1);
        let (ho, wo) = (g.out_h(), g.out_w());
        let (starts, d1): (Vec<usize>, usize) = if wo % 32 == 0 {
            ((0..ho).flat_map(|oh| (0..wo).step_by(32).map(move |ow| oh * wp + ow)).collect(), 16)
        } else if wo == 16 && ho % 2 == 0 {
            ((0..ho).step_by(2).map(|oh| oh * wp).collect(), wp)
        } else {
            return None;
        };
        let ((dh, dw), (kh, kw)) = (g.dilation, (g.kh, g.kw));
        let offs = (0..g.c_in)
            .flat_map(|c| (0..kh).flat_map(move |ki| (0..kw).map(move |kj| c * hp * wp + ki * dh * wp + kj * dw)))
            .collect();
        Some(Implicit { hp, wp, offs, starts, d1 })
    }

    /// One image: `y_img [C_out, Ho·Wo] = W [C_out, K] · cols(x_img)`, every element written;
    /// `parallel` splits the output channels between threads (the same bits). `T` must be the type
    /// the plan was made for (f32).
    pub(super) fn forward_image<T: 'static>(
        &self,
        g: &Conv2dGeom,
        (x_img, w): (&[T], &[T]),
        y_img: &mut [MaybeUninit<T>],
        parallel: bool,
    ) {
        let (x_img, w, y_img) = (as_f32(x_img), as_f32(w), as_f32_mut(y_img));
        with_scratch(g.c_in * self.hp * self.wp, |xp: &mut [f32]| {
            super::padded::pad_image(g, x_img, xp);
            let k = self.offs.len();
            let a = MatRef { data: w, offset: 0, row_stride: k, col_stride: 1 };
            let b = Gathered { data: xp, offs: &self.offs, starts: &self.starts, d1: self.d1 };
            let done = gemm_gathered(g.c_out, k, a, b, y_img, parallel);
            assert!(done, "the implicit GEMM's kernel was available when the plan was made");
        });
    }
}

/// `target [C_out, K] = Σ_{n in images} dy_n · cols_nᵀ` (overwritten) for a stride-1
/// convolution, with the im2col rows read straight out of each zero-padded image: the sum runs
/// over output pixels laid out on the padded width (`Ho × Wp`, `dy` taken as 0 in the columns
/// `Wo..Wp`), where tap `(c, ki, kj)`'s row of the im2col matrix is one run of the padded image
/// from the tap's offset. Computed transposed (`targetᵀ = cols · dyᵀ`, cols the A operand read
/// in place through a table of row starts) and transposed into `target` at the end. The sums
/// differ from im2col's in grouping (and include the zero columns: an infinite input there
/// gives NaN rather than ±∞), one fixed order either way. Returns false, touching nothing,
/// where this does not apply (f32 with AVX-512, one group, stride 1, not 1×1 unpadded): chosen by
/// the shapes alone, never by the thread count, as the bits differ from im2col's.
pub(super) fn weight_grad<T: 'static>(
    g: &Conv2dGeom,
    (x, dy): (&[T], &[T]),
    (images, tasks): (std::ops::Range<usize>, usize),
    target: &mut [T],
) -> bool {
    let applies = TypeId::of::<T>() == TypeId::of::<f32>()
        && row_table_available()
        && g.groups == 1
        && g.stride == (1, 1)
        && !g.is_pointwise()
        && g.c_in > 0
        && g.c_out > 0
        && !images.is_empty();
    if !applies {
        return false;
    }
    let (x, dy, target) = (as_f32(x), as_f32(dy), as_f32_mut(target));
    let (hp, wp) = (g.h + 2 * g.padding.0, g.w + 2 * g.padding.1);
    let (ho, wo, (ph, pw)) = (g.out_h(), g.out_w(), g.padding);
    let p_ext = ho * wp;
    let ((dh, dw), (kh, kw)) = (g.dilation, (g.kh, g.kw));
    let offs: Vec<usize> = (0..g.c_in)
        .flat_map(|c| (0..kh).flat_map(move |ki| (0..kw).map(move |kj| c * hp * wp + ki * dh * wp + kj * dw)))
        .collect();
    let k = offs.len();
    // The padded image, plus zeros where the last taps' runs reach past it (into the zero columns).
    let x_len = (offs.iter().copied().max().unwrap_or(0) + p_ext).max(g.c_in * hp * wp);
    let (x_img_len, dy_img_len) = (g.c_in * g.h * g.w, g.c_out * ho * wo);
    with_scratch(x_len, |xp: &mut [f32]| {
        with_scratch(g.c_out * p_ext, |dye: &mut [f32]| {
            with_scratch(k * g.c_out, |tt: &mut [f32]| {
                xp.fill(0.0);
                for (i, n) in images.enumerate() {
                    let x_img = &x[n * x_img_len..(n + 1) * x_img_len];
                    for (c, plane) in x_img.chunks_exact(g.h * g.w).enumerate() {
                        for (r, row) in plane.chunks_exact(g.w).enumerate() {
                            let at = (c * hp + r + ph) * wp + pw;
                            xp[at..at + g.w].copy_from_slice(row);
                        }
                    }
                    // dy on the padded width: each output row, then zeros to Wp.
                    let dy_img = &dy[n * dy_img_len..(n + 1) * dy_img_len];
                    for (ext, row) in dye.chunks_exact_mut(wp).zip(dy_img.chunks_exact(wo)) {
                        ext[..wo].copy_from_slice(row);
                        ext[wo..].fill(0.0);
                    }
                    // tt [K, C_out] (+)= cols [K, p_ext] · dyeᵀ [p_ext, C_out]
                    let b = Operand::Strided(MatRef { data: dye, offset: 0, row_stride: 1, col_stride: p_ext });
                    // Few parallel chunks: each product also splits between threads (same bits).
                    let split = super::inner_parallel(tasks);
                    let done = gemm_row_table(g.c_out, p_ext, (xp, &offs), b, tt, (i > 0, split));
                    assert!(done, "the row-table kernel was available a moment ago");
                }
                crate::strided::transpose(tt, (k, g.c_out), target);
            })
        })
    });
    true
}

/// `s` as `&[f32]` (`T` must be f32: the plans are only made for f32).
fn as_f32<T: 'static>(s: &[T]) -> &[f32] {
    same_type(s).expect("implicit convolution: f32 only")
}

/// `s` as `&mut [U]` for the f32 forms `U` of `T` (`f32`, `MaybeUninit<f32>`).
fn as_f32_mut<T: 'static, U: 'static>(s: &mut [T]) -> &mut [U] {
    same_type_mut(s).expect("implicit convolution: f32 only")
}
