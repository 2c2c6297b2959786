//! The im2col matrix of one image (`cols: [C_in·kh·kw, Ho·Wo]`): stored ([`im2col`]), made on
//! demand band by band for the GEMM ([`Im2colRows`]), and the adjoint that adds columns back
//! onto an image ([`col2im`], [`col2im_band_add`]).
use super::Conv2dGeom;
use crate::gemm::RowSource;
use crate::Real;

/// Output indices `o` in `[lo, hi)` for which the input index `o·stride + koff − pad` lies in
/// `[0, len)`; outside that range the tap reads padding.
#[inline]
pub(super) fn valid_range(out: usize, len: usize, stride: usize, koff: usize, pad: usize) -> (usize, usize) {
    // o·stride + koff ≥ pad  and  o·stride + koff < len + pad
    let lo = pad.saturating_sub(koff).div_ceil(stride);
    let hi = (len + pad).saturating_sub(koff).div_ceil(stride).min(out);
    (lo.min(hi), hi)
}

/// Unrolls one image. `x_img: [C_in, H, W]` → `cols: [C_in·kh·kw, Ho·Wo]` (overwritten), row
/// `(c·kh + ki)·kw + kj`, column `oh·Wo + ow`; zero where the tap falls in the padding.
pub fn im2col<T: Real>(g: &Conv2dGeom, x_img: &[T], cols: &mut [T]) {
    assert_eq!(x_img.len(), g.c_in * g.h * g.w, "im2col: image length");
    assert_eq!(cols.len(), g.col_rows() * g.col_cols(), "im2col: cols length");
    let (rows, p) = (g.col_rows(), g.col_cols());
    if !cols.is_empty() {
        Im2colRows { g, x_img, c0: 0, oh0: 0 }.rows((0, rows), (0, p), cols, p);
    }
}

/// Adjoint of [`im2col`]: `cols: [C_in·kh·kw, Ho·Wo]` → `dx_img: [C_in, H, W]` (overwritten), each
/// column entry added onto the input position it was read from; padding taps are dropped.
pub fn col2im<T: Real>(g: &Conv2dGeom, cols: &[T], dx_img: &mut [T]) {
    assert_eq!(dx_img.len(), g.c_in * g.h * g.w, "col2im: image length");
    assert_eq!(cols.len(), g.col_rows() * g.col_cols(), "col2im: cols length");
    dx_img.fill(T::zero());
    if !cols.is_empty() {
        col2im_band_add(g, cols, 0, dx_img);
    }
}

/// The im2col matrix of one image from output row `oh0` on, made on demand: row `r` of
/// `cols_g [K, nb·Wo]` for the group whose first input channel is `c0` (row `(c·kh + ki)·kw + kj`,
/// column `(oh − oh0)·Wo + ow`, zero where the tap falls in the padding). The GEMM packs its
/// blocks straight from the image, so a band is never written out and read back; [`im2col`]
/// writes the whole matrix with it.
pub(super) struct Im2colRows<'a, T> {
    pub(super) g: &'a Conv2dGeom,
    pub(super) x_img: &'a [T],
    pub(super) c0: usize,
    pub(super) oh0: usize,
}

impl<T: Real> RowSource<T> for Im2colRows<'_, T> {
    fn rows(&self, (r0, count): (usize, usize), (j0, len): (usize, usize), out: &mut [T], ld: usize) {
        let g = self.g;
        let ((sh, sw), (ph, pw), (dh, dw)) = (g.stride, g.padding, g.dilation);
        let (h, w, wo) = (g.h, g.w, g.out_w());
        // Each row's tap (c, ki, kj) is stepped along instead of divided out; the valid output
        // columns of each kj are worked out once.
        let (mut c, mut ki, mut kj) = g.tap(self.c0, r0);
        let mut valid = [(0, 0); 16];
        let kw_cached = g.kw.min(valid.len());
        for (q, v) in valid.iter_mut().enumerate().take(kw_cached) {
            *v = valid_range(wo, w, sw, q * dw, pw);
        }
        let (oh_first, ow_first) = (self.oh0 + j0 / wo, j0 % wo);
        for line in out.chunks_mut(ld).take(count) {
            let plane = &self.x_img[c * h * w..(c + 1) * h * w];
            let (lo, hi) = if kj < kw_cached { valid[kj] } else { valid_range(wo, w, sw, kj * dw, pw) };
            // Walk the output positions j0..j0 + len one output row (`oh`) at a time.
            let (mut oh, mut ow0, mut done) = (oh_first, ow_first, 0);
            while done < len {
                let n = (wo - ow0).min(len - done);
                let seg = &mut line[done..done + n];
                let ih = (oh * sh + ki * dh).wrapping_sub(ph);
                // The part of ow0..ow0 + n that reads the image: ow in [a, b).
                let (a, b) = (lo.clamp(ow0, ow0 + n), hi.clamp(ow0, ow0 + n));
                if ih >= h || a >= b {
                    seg.fill(T::zero());
                } else {
                    seg[..a - ow0].fill(T::zero());
                    seg[b - ow0..].fill(T::zero());
                    // iw = ow·sw + kj·dw − pw, which is ≥ 0 from ow = lo on.
                    let src = &plane[ih * w + a * sw + kj * dw - pw..];
                    let dst = &mut seg[a - ow0..b - ow0];
                    if sw == 1 {
                        dst.copy_from_slice(&src[..b - a]);
                    } else {
                        for (o, s) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                            *o = *s;
                        }
                    }
                }
                (oh, ow0, done) = (oh + 1, 0, done + n);
            }
            (c, ki, kj) = g.next_tap((c, ki, kj));
        }
    }
}

simd_fn! {
    /// Adjoint of the band `Im2colRows { oh0, .. }` describes: adds the band's columns
    /// `[C_in·kh·kw, nb·Wo]` onto `dx_img: [C_in, H, W]`.
    pub(super) fn col2im_band_add<T>(g: &Conv2dGeom, cols: &[T], oh0: usize, dx_img: &mut [T]) -> () {
        col2im_band_add_body(g, cols, oh0, dx_img)
    }
}

/// The loop of [`col2im_band_add`], inlined into its SIMD copies.
#[inline(always)]
fn col2im_band_add_body<T: Real>(g: &Conv2dGeom, cols: &[T], oh0: usize, dx_img: &mut [T]) {
    let ((sh, sw), (ph, pw), (dh, dw)) = (g.stride, g.padding, g.dilation);
    let (h, w, wo) = (g.h, g.w, g.out_w());
    for (r, row) in cols.chunks_exact(cols.len() / g.col_rows()).enumerate() {
        let (c, ki, kj) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
        let plane = &mut dx_img[c * h * w..(c + 1) * h * w];
        let (lo, hi) = valid_range(wo, w, sw, kj * dw, pw);
        for (i, src) in row.chunks_exact(wo).enumerate() {
            let ih = ((oh0 + i) * sh + ki * dh).wrapping_sub(ph);
            if ih >= h || lo >= hi {
                continue;
            }
            let dst = &mut plane[ih * w + lo * sw + kj * dw - pw..(ih + 1) * w];
            if sw == 1 {
                // Unit stride: a plain zipped loop, which vectorises (step_by does not).
                for (d, s) in dst[..hi - lo].iter_mut().zip(&src[lo..hi]) {
                    *d += *s;
                }
            } else {
                for (d, s) in dst.iter_mut().step_by(sw).zip(&src[lo..hi]) {
                    *d += *s;
                }
            }
        }
    }
}
