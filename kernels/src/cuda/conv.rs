//! Launch wrappers for `kernels/cuda/conv.cu`: im2col into a column buffer and its adjoint
//! col2im (a gather, deterministic). The products themselves run on [`super::gemm`].
use super::gemm::Float;
use super::{launch_1d, CudaSlice, DeviceRepr, GpuDevice, PushKernelArg, Result};
use crate::conv::Conv2dGeom;
use crate::ptx::CONV;
use cudarc::driver::{CudaView, CudaViewMut};

/// The geometry parameter of the conv kernels; mirrors `ConvDims` in `kernels/cuda/conv.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvDims {
    pub n: i32,
    pub c_in: i32,
    pub h: i32,
    pub w: i32,
    pub c_out: i32,
    pub kh: i32,
    pub kw: i32,
    pub sh: i32,
    pub sw: i32,
    pub ph: i32,
    pub pw: i32,
    pub dh: i32,
    pub dw: i32,
    pub ho: i32,
    pub wo: i32,
    pub groups: i32,
}

// SAFETY: repr(C), sixteen i32 like the C struct (size checked below and by static_assert).
unsafe impl DeviceRepr for ConvDims {}
const _: () = assert!(std::mem::size_of::<ConvDims>() == 64);

impl ConvDims {
    /// The kernel geometry of a (validated) convolution; `None` when a size, or an index the
    /// kernels compute from it (`oh·sh + ki·dh`, …), does not fit in an `i32`.
    pub fn new(g: &Conv2dGeom) -> Option<ConvDims> {
        let i = |v: usize| i32::try_from(v).ok();
        let (ho, wo) = (g.out_h(), g.out_w());
        // Largest intermediate index of the kernels: ho·sh + kh·dh + padding (and the same across).
        let reach_h = ho.checked_mul(g.stride.0)?.checked_add(g.kh.checked_mul(g.dilation.0)?)? + g.h + 2 * g.padding.0;
        let reach_w = wo.checked_mul(g.stride.1)?.checked_add(g.kw.checked_mul(g.dilation.1)?)? + g.w + 2 * g.padding.1;
        i(reach_h)?;
        i(reach_w)?;
        Some(ConvDims {
            n: i(g.n)?,
            c_in: i(g.c_in)?,
            h: i(g.h)?,
            w: i(g.w)?,
            c_out: i(g.c_out)?,
            kh: i(g.kh)?,
            kw: i(g.kw)?,
            sh: i(g.stride.0)?,
            sw: i(g.stride.1)?,
            ph: i(g.padding.0)?,
            pw: i(g.padding.1)?,
            dh: i(g.dilation.0)?,
            dw: i(g.dilation.1)?,
            ho: i(ho)?,
            wo: i(wo)?,
            groups: i(g.groups)?,
        })
    }
    /// Elements of one input image: `C_in·H·W`.
    pub fn image_len(&self) -> usize {
        self.c_in as usize * self.h as usize * self.w as usize
    }
    /// Rows of the column buffer: `C_in·kh·kw`.
    pub fn col_rows(&self) -> usize {
        self.c_in as usize * self.kh as usize * self.kw as usize
    }
    /// Output positions per image: `Ho·Wo`.
    pub fn col_cols(&self) -> usize {
        self.ho as usize * self.wo as usize
    }
}

/// Where a column buffer keeps element `(img, r, p)`: at `img·img_stride + r·row_stride + p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColLayout {
    pub images: usize,
    pub img_stride: usize,
    pub row_stride: usize,
}

impl ColLayout {
    /// `[images][rows][P]`: the forward and input-gradient layout.
    pub fn image_major(g: &ConvDims, images: usize) -> ColLayout {
        ColLayout { images, img_stride: g.col_rows() * g.col_cols(), row_stride: g.col_cols() }
    }
    /// `[rows][images][P]`: the weight-gradient layout (images summed by one GEMM depth).
    pub fn row_major(g: &ConvDims, images: usize) -> ColLayout {
        ColLayout { images, img_stride: g.col_cols(), row_stride: images * g.col_cols() }
    }
    /// One past the last element addressed (0 when empty).
    fn extent(&self, g: &ConvDims) -> usize {
        let (rows, p) = (g.col_rows(), g.col_cols());
        if self.images == 0 || rows == 0 || p == 0 {
            return 0;
        }
        (self.images - 1) * self.img_stride + (rows - 1) * self.row_stride + p
    }
    fn check(&self, g: &ConvDims, cols_len: usize, images_len: usize) -> u32 {
        assert!(self.images <= u32::MAX as usize, "conv: {} images in one launch", self.images);
        assert!(self.extent(g) <= cols_len, "conv: column layout {self:?} exceeds its buffer of {cols_len}");
        assert!(
            self.images * g.image_len() <= images_len,
            "conv: {} images exceed a buffer of {images_len}",
            self.images
        );
        self.images as u32
    }
}

/// Unrolls `l.images` images `x: [images, C_in, H, W]` (contiguous) into `cols`.
pub fn im2col<T: Float>(
    dev: &GpuDevice,
    g: &ConvDims,
    x: &CudaView<T>,
    cols: &mut CudaSlice<T>,
    l: &ColLayout,
) -> Result<()> {
    let nimg = l.check(g, cols.len(), x.len());
    let n = l.images * g.col_rows() * g.col_cols();
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&CONV, &format!("im2col_{}", T::NAME))?;
    let (img_stride, row_stride) = (l.img_stride as u64, l.row_stride as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(cols).arg(g).arg(&nimg).arg(&img_stride).arg(&row_stride);
    // SAFETY: `im2col_<T>(const T *x, T *cols, ConvDims g, unsigned int nimg, u64 img_stride,
    // u64 row_stride)`; `check` bounded both buffers.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

/// The adjoint of [`im2col`]: `dx: [images, C_in, H, W]` (overwritten), each element the sum of
/// the column entries read from it, in tap order.
pub fn col2im<T: Float>(
    dev: &GpuDevice,
    g: &ConvDims,
    cols: &CudaSlice<T>,
    dx: &mut CudaViewMut<T>,
    l: &ColLayout,
) -> Result<()> {
    let nimg = l.check(g, cols.len(), dx.len());
    let n = l.images * g.image_len();
    if n == 0 {
        return Ok(());
    }
    let f = dev.function(&CONV, &format!("col2im_{}", T::NAME))?;
    let (img_stride, row_stride) = (l.img_stride as u64, l.row_stride as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(cols).arg(dx).arg(g).arg(&nimg).arg(&img_stride).arg(&row_stride);
    // SAFETY: `col2im_<T>(const T *cols, T *dx, ConvDims g, unsigned int nimg, u64 img_stride,
    // u64 row_stride)`; `check` bounded both buffers.
    unsafe { b.launch(launch_1d(n)) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_and_layouts() {
        let geom = Conv2dGeom {
            n: 2,
            c_in: 3,
            h: 5,
            w: 6,
            c_out: 4,
            kh: 3,
            kw: 2,
            stride: (2, 1),
            padding: (1, 0),
            dilation: (1, 2),
            groups: 1,
        };
        let g = ConvDims::new(&geom).unwrap();
        assert_eq!((g.ho, g.wo), (geom.out_h() as i32, geom.out_w() as i32));
        assert_eq!((g.col_rows(), g.col_cols()), (18, 3 * 4));
        let im = ColLayout::image_major(&g, 2);
        assert_eq!((im.img_stride, im.row_stride, im.extent(&g)), (18 * 12, 12, 2 * 18 * 12));
        let rm = ColLayout::row_major(&g, 2);
        assert_eq!((rm.img_stride, rm.row_stride, rm.extent(&g)), (12, 24, 2 * 18 * 12));
        let huge = Conv2dGeom { h: 1 << 31, ..geom };
        assert!(ConvDims::new(&huge).is_none());
    }
}
