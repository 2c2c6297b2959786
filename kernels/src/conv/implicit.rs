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
use crate::gemm::gather::{gathered_available, gemm_gathered, Gathered};
use crate::gemm::MatRef;
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

    /// One image: `y_img [C_out, Ho·Wo] = W [C_out, K] · cols(x_img)`, every element written.
    /// `T` must be the type the plan was made for (f32).
    pub(super) fn forward_image<T: 'static>(&self, g: &Conv2dGeom, x_img: &[T], w: &[T], y_img: &mut [MaybeUninit<T>]) {
        let (x_img, w, y_img) = (as_f32(x_img), as_f32(w), as_f32_uninit(y_img));
        let (h, wd, (ph, pw)) = (g.h, g.w, g.padding);
        with_scratch(g.c_in * self.hp * self.wp, |xp: &mut [f32]| {
            // The zero-padded image: borders zero, rows copied in.
            xp.fill(0.0);
            for (c, plane) in x_img.chunks_exact(h * wd).enumerate() {
                for (r, row) in plane.chunks_exact(wd).enumerate() {
                    let at = (c * self.hp + r + ph) * self.wp + pw;
                    xp[at..at + wd].copy_from_slice(row);
                }
            }
            let k = self.offs.len();
            let a = MatRef { data: w, offset: 0, row_stride: k, col_stride: 1 };
            let b = Gathered { data: xp, offs: &self.offs, starts: &self.starts, d1: self.d1 };
            let done = gemm_gathered(g.c_out, k, a, b, y_img);
            assert!(done, "the implicit GEMM's kernel was available when the plan was made");
        });
    }
}

/// `s` as `&[f32]` (`T` must be f32).
fn as_f32<T: 'static>(s: &[T]) -> &[f32] {
    assert!(TypeId::of::<T>() == TypeId::of::<f32>(), "implicit convolution: f32 only");
    // SAFETY: T is f32 (same TypeId), so the memory, length and lifetime are those of an [f32].
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) }
}

/// `s` as `&mut [MaybeUninit<f32>]` (`T` must be f32).
fn as_f32_uninit<T: 'static>(s: &mut [MaybeUninit<T>]) -> &mut [MaybeUninit<f32>] {
    assert!(TypeId::of::<T>() == TypeId::of::<f32>(), "implicit convolution: f32 only");
    // SAFETY: T is f32 (same TypeId); this reborrows the same exclusive slice with its length.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<MaybeUninit<f32>>(), s.len()) }
}
