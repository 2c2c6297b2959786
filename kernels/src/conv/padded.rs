//! The im2col matrix read from a zero-padded copy of the image. With the padding written out
//! once per image, every tap's run of output positions reads a plain run of the padded image
//! (stride 1) or every `stride`-th element of one: no clipping, no zero fills, and the common
//! run lengths copied as fixed-size arrays instead of `memcpy` calls. For small images (the 8×8
//! level of a U-Net: runs of 8) the clipping and calls cost more than the copying itself.
use super::Conv2dGeom;
use crate::gemm::RowSource;
use crate::Real;

/// The zero-padded image's height and width.
pub(super) fn padded_size(g: &Conv2dGeom) -> (usize, usize) {
    (g.h + 2 * g.padding.0, g.w + 2 * g.padding.1)
}

/// Writes every element of `xp[..C_in·Hp·Wp]` once: per plane, rows of zeros above and below,
/// and each image row between its zeros to the left and right.
// x_img: [C_in, H, W], xp: [C_in, Hp, Wp]
pub(super) fn pad_image<T: Copy + Default>(g: &Conv2dGeom, x_img: &[T], xp: &mut [T]) {
    let ((hp, wp), (ph, pw), (h, w)) = (padded_size(g), g.padding, (g.h, g.w));
    let xp = &mut xp[..g.c_in * hp * wp];
    if h * w == 0 {
        xp.fill(T::default());
        return;
    }
    for (plane, xp_plane) in x_img.chunks_exact(h * w).zip(xp.chunks_exact_mut(hp * wp)) {
        let (top, rest) = xp_plane.split_at_mut(ph * wp);
        let (body, bottom) = rest.split_at_mut(h * wp);
        top.fill(T::default());
        bottom.fill(T::default());
        for (row, out) in plane.chunks_exact(w).zip(body.chunks_exact_mut(wp)) {
            out[..pw].fill(T::default());
            out[pw..pw + w].copy_from_slice(row);
            out[pw + w..].fill(T::default());
        }
    }
}

/// The rows of `cols_g [K, nb·Wo]` (see `Im2colRows`, the same values) for the group whose first
/// input channel is `c0`, from output row `oh0` on, read from the padded image `xp` (made by
/// [`pad_image`], or the image itself when there is no padding).
pub(super) struct PaddedRows<'a, T> {
    pub g: &'a Conv2dGeom,
    pub xp: &'a [T],
    pub c0: usize,
    pub oh0: usize,
}

impl<T: Real> RowSource<T> for PaddedRows<'_, T> {
    fn rows(&self, (r0, count): (usize, usize), (j0, len): (usize, usize), out: &mut [T], ld: usize) {
        let g = self.g;
        let ((hp, wp), (sh, sw), (dh, dw), wo) = (padded_size(g), g.stride, g.dilation, g.out_w());
        // Each row's tap (c, ki, kj) is stepped along instead of divided out.
        let (mut c, mut ki, mut kj) = g.tap(self.c0, r0);
        let (oh_first, ow_first) = (self.oh0 + j0 / wo, j0 % wo);
        for line in out.chunks_mut(ld).take(count) {
            let plane = &self.xp[c * hp * wp..(c + 1) * hp * wp];
            // Output (oh, ow) of tap (ki, kj) reads padded pixel (oh·sh + ki·dh, ow·sw + kj·dw),
            // always inside the padded image (the output size formula keeps windows there).
            let (mut oh, mut ow0, mut done) = (oh_first, ow_first, 0);
            while done < len {
                let n = (wo - ow0).min(len - done);
                let seg = &mut line[done..done + n];
                let start = (oh * sh + ki * dh) * wp + ow0 * sw + kj * dw;
                if sw == 1 {
                    copy_run(seg, &plane[start..start + n]);
                } else {
                    for (o, s) in seg.iter_mut().zip(plane[start..].iter().step_by(sw)) {
                        *o = *s;
                    }
                }
                (oh, ow0, done) = (oh + 1, 0, done + n);
            }
            (c, ki, kj) = g.next_tap((c, ki, kj));
        }
    }
}

/// `dst.copy_from_slice(src)`, with the run lengths of small images as fixed-size array copies
/// (a few vector moves in place of a `memcpy` call).
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        let (d, s): (&mut [T; N], &[T; N]) = (dst.try_into().expect("N elements"), src.try_into().expect("N elements"));
        *d = *s;
    }
    match dst.len() {
        4 => fixed::<T, 4>(dst, src),
        8 => fixed::<T, 8>(dst, src),
        16 => fixed::<T, 16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}
