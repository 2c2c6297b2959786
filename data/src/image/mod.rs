//! Image files: PNG in and out (single images, grids, folders, scatter plots of 2-D points),
//! MNIST / Fashion-MNIST idx files and CIFAR-10 binary batches.
//!
//! Conventions: model-side images are float tensors `[C, H, W]` (one image) or `[N, C, H, W]`
//! (a batch) with values in [−1, 1]; a byte v maps to v/127.5 − 1 and a value x back to
//! round((clamp(x, −1, 1) + 1)·127.5) (NaN becomes 0). File-side, [`RgbImage`] holds 8-bit RGB
//! pixels row-major (HWC), and datasets keep their bytes ([`LabeledImages`]) until a batch is
//! converted, so CIFAR-10's 50 000 images stay at 150 MB instead of 600 MB.
//!
//! Every reader checks sizes before it trusts them: a truncated, padded or corrupt file is an
//! [`Error::BadFile`](crate::Error::BadFile) naming the path and what is wrong, never a panic.
mod cifar;
mod idx;
mod png_io;
mod scatter;

pub use cifar::{decode_cifar10, load_cifar10, read_cifar10_batch, CIFAR10_CLASSES};
pub use idx::{decode_idx, load_mnist, read_idx, IdxArray};
pub use png_io::{
    decode_png, grid_image, read_png, read_png_folder, write_png, write_png_grid, GridOptions, PngFolder, MAX_PIXELS,
};
pub use scatter::{auto_bounds, scatter_image, write_scatter_png, ScatterOptions};

use crate::error::{Error, Result};
use tensor::{DType, Tensor};

/// Which half of a dataset to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Byte → model value: 0 ↦ −1, 255 ↦ 1.
pub fn byte_to_unit(v: u8) -> f32 {
    v as f32 / 127.5 - 1.0
}

/// Model value → byte: clamps to [−1, 1], rounds to the nearest of 256 levels; NaN ↦ 0.
pub fn unit_to_byte(x: f32) -> u8 {
    if x.is_nan() {
        return 0;
    }
    ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// An 8-bit RGB image, pixels row-major, 3 bytes each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `height · width · 3` bytes: R, G, B of pixel (0, 0), then (0, 1), ...
    pub data: Vec<u8>,
}

impl RgbImage {
    /// A `width`×`height` image filled with `color`.
    pub fn filled(width: usize, height: usize, color: [u8; 3]) -> Self {
        RgbImage { width, height, data: color.repeat(width * height) }
    }

    /// From a float image `[C, H, W]` with C = 3 (RGB) or C = 1 (grey, copied to all three
    /// channels), values in [−1, 1] (any float dtype).
    pub fn from_chw(t: &Tensor) -> Result<Self> {
        if t.rank() != 3 || !(t.shape()[0] == 1 || t.shape()[0] == 3) {
            return Err(Error::invalid("RgbImage::from_chw", format!("expected [3|1, H, W], got {:?}", t.shape())));
        }
        let (c, h, w) = (t.shape()[0], t.shape()[1], t.shape()[2]);
        let v = t.to_dtype(DType::F32)?.to_vec::<f32>()?;
        let plane = h * w;
        let mut data = vec![0u8; plane * 3];
        for p in 0..plane {
            for ch in 0..3 {
                data[3 * p + ch] = unit_to_byte(v[if c == 3 { ch * plane + p } else { p }]);
            }
        }
        Ok(RgbImage { width: w, height: h, data })
    }

    /// The image as `[3, H, W]` f32 values in [−1, 1].
    pub fn to_chw(&self) -> Result<Tensor> {
        self.check()?;
        let plane = self.width * self.height;
        let mut v = vec![0f32; 3 * plane];
        for p in 0..plane {
            for ch in 0..3 {
                v[ch * plane + p] = byte_to_unit(self.data[3 * p + ch]);
            }
        }
        Ok(Tensor::from_vec(v, &[3, self.height, self.width])?)
    }

    /// An error unless `data` holds exactly `width · height · 3` bytes (the fields are public, so
    /// a hand-built image may be inconsistent).
    pub fn check(&self) -> Result<()> {
        if self.width.checked_mul(self.height).and_then(|p| p.checked_mul(3)) != Some(self.data.len()) {
            return Err(Error::invalid(
                "RgbImage",
                format!("{} bytes do not make a {}×{} RGB image", self.data.len(), self.width, self.height),
            ));
        }
        Ok(())
    }

    /// Copies `src` with its top-left corner at (`x`, `y`), clipped to this image.
    pub fn blit(&mut self, src: &RgbImage, x: usize, y: usize) -> Result<()> {
        self.check()?;
        src.check()?;
        for sy in 0..src.height.min(self.height.saturating_sub(y)) {
            let n = src.width.min(self.width.saturating_sub(x)) * 3;
            let d = ((y + sy) * self.width + x) * 3;
            let s = sy * src.width * 3;
            self.data[d..d + n].copy_from_slice(&src.data[s..s + n]);
        }
        Ok(())
    }
}

/// A labelled image dataset kept as bytes: `n` images of `[channels, height, width]`, CHW order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabeledImages {
    pub n: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `n · channels · height · width` bytes, image after image, each CHW.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl LabeledImages {
    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }
    /// The images at `indices` as an f32 tensor `[len, C, H, W]` in [−1, 1]; an index out of
    /// range is an error.
    pub fn images_tensor(&self, indices: &[usize]) -> Result<Tensor> {
        let len = self.image_len();
        if self.n.checked_mul(len) != Some(self.pixels.len()) {
            return Err(Error::invalid(
                "LabeledImages::images_tensor",
                format!("{} pixel bytes do not make {} images of {len} bytes", self.pixels.len(), self.n),
            ));
        }
        let mut v = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            if i >= self.n {
                return Err(Error::invalid("LabeledImages::images_tensor", format!("index {i} ≥ {} images", self.n)));
            }
            v.extend(self.pixels[i * len..(i + 1) * len].iter().map(|&b| byte_to_unit(b)));
        }
        Ok(Tensor::from_vec(v, &[indices.len(), self.channels, self.height, self.width])?)
    }
    /// The labels at `indices` as an i64 tensor `[len]`.
    pub fn labels_tensor(&self, indices: &[usize]) -> Result<Tensor> {
        let mut v = Vec::with_capacity(indices.len());
        for &i in indices {
            let l = self.labels.get(i).ok_or_else(|| {
                Error::invalid("LabeledImages::labels_tensor", format!("index {i} ≥ {} labels", self.labels.len()))
            })?;
            v.push(*l as i64);
        }
        Ok(Tensor::from_vec(v, &[indices.len()])?)
    }
}

/// Reads a whole file, naming the path on failure.
pub(crate) fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Writes a whole file, naming the path on failure.
pub(crate) fn write_bytes(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_mapping_round_trips_and_clamps() {
        for b in 0..=255u8 {
            assert_eq!(unit_to_byte(byte_to_unit(b)), b);
        }
        assert_eq!(unit_to_byte(-7.0), 0);
        assert_eq!(unit_to_byte(3.0), 255);
        assert_eq!(unit_to_byte(f32::NAN), 0);
    }

    #[test]
    fn chw_round_trip_and_grey_expansion() {
        let t = Tensor::from_vec((0..12).map(|i| i as f32 / 6.0 - 1.0).collect::<Vec<f32>>(), &[3, 2, 2]).unwrap();
        let img = RgbImage::from_chw(&t).unwrap();
        assert_eq!((img.width, img.height), (2, 2));
        let back = img.to_chw().unwrap().to_vec::<f32>().unwrap();
        for (a, b) in back.iter().zip(t.to_vec::<f32>().unwrap()) {
            assert!((a - b).abs() <= 0.5 / 127.5 + 1e-6);
        }
        let grey = RgbImage::from_chw(&Tensor::full(&[1, 1, 1], 1.0, DType::F64)).unwrap();
        assert_eq!(grey.data, vec![255, 255, 255]);
        assert!(RgbImage::from_chw(&Tensor::zeros(&[2, 4, 4], DType::F32)).is_err());
        let broken = RgbImage { width: 3, height: 3, data: vec![0; 5] };
        assert!(broken.to_chw().is_err() && img.clone().blit(&broken, 0, 0).is_err());
        let mut big = RgbImage::filled(3, 2, [0; 3]);
        big.blit(&RgbImage::filled(2, 2, [9; 3]), 2, 1).unwrap(); // clipped to one pixel
        assert_eq!(big.data.iter().filter(|&&b| b == 9).count(), 3);
    }

    #[test]
    fn labeled_images_batches_and_bad_indices() {
        let ds =
            LabeledImages { n: 2, channels: 1, height: 1, width: 2, pixels: vec![0, 255, 51, 204], labels: vec![3, 7] };
        let t = ds.images_tensor(&[1, 0]).unwrap();
        assert_eq!(t.shape(), &[2, 1, 1, 2]);
        let want = [-0.6f32, 0.6, -1.0, 1.0];
        assert!(t.to_vec::<f32>().unwrap().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6));
        assert_eq!(ds.labels_tensor(&[1, 0]).unwrap().to_vec::<i64>().unwrap(), vec![7, 3]);
        assert!(ds.images_tensor(&[2]).is_err() && ds.labels_tensor(&[5]).is_err());
        let short = LabeledImages { pixels: vec![0; 3], ..ds };
        assert!(short.images_tensor(&[0]).is_err());
    }
}
