//! PNG in and out with the `png` crate: single images, grids of images with a margin, and folders
//! of PNG files read into one batch.
use super::{read_bytes, write_bytes, RgbImage};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tensor::Tensor;

/// The largest image (width × height) the reader accepts: 16 Mi pixels (4096×4096). Larger
/// headers are rejected before any buffer is allocated.
pub const MAX_PIXELS: usize = 1 << 24;

impl RgbImage {
    /// The image as the bytes of an 8-bit RGB PNG file.
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        let op = "RgbImage::encode_png";
        if self.width == 0 || self.height == 0 || self.data.len() != self.width * self.height * 3 {
            return Err(Error::invalid(
                op,
                format!("{}×{} image with {} bytes cannot be encoded", self.width, self.height, self.data.len()),
            ));
        }
        let (w, h) = (
            u32::try_from(self.width).map_err(|_| Error::invalid(op, "width too large"))?,
            u32::try_from(self.height).map_err(|_| Error::invalid(op, "height too large"))?,
        );
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| Error::invalid(op, e.to_string()))?;
        writer.write_image_data(&self.data).map_err(|e| Error::invalid(op, e.to_string()))?;
        writer.finish().map_err(|e| Error::invalid(op, e.to_string()))?;
        Ok(out)
    }

    /// Writes the image as a PNG file.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        write_bytes(path.as_ref(), &self.encode_png()?)
    }
}

/// Decodes PNG bytes to RGB, whatever the file's colour type and depth: palettes are expanded,
/// 16-bit samples keep their high byte, grey is copied to the three channels, and alpha is
/// dropped (as PIL's `convert("RGB")` does). `name` only labels errors.
pub fn decode_png(bytes: &[u8], name: &str) -> Result<RgbImage> {
    let bad = |msg: String| Error::BadFile { path: name.to_string(), msg };
    let mut dec =
        png::Decoder::new_with_limits(std::io::Cursor::new(bytes), png::Limits { bytes: 4 * MAX_PIXELS + (1 << 20) });
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(|e| bad(format!("not a readable PNG: {e}")))?;
    let (w, h) = reader.info().size();
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 || w.saturating_mul(h) > MAX_PIXELS {
        return Err(bad(format!("image size {w}×{h} is empty or larger than {MAX_PIXELS} pixels")));
    }
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| bad(format!("corrupt PNG data: {e}")))?;
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(bad("palette was not expanded".into())),
    };
    if info.bit_depth != png::BitDepth::Eight || info.line_size < w * channels || buf.len() < info.line_size * h {
        return Err(bad(format!("unexpected decoded layout ({:?}, line size {})", info.bit_depth, info.line_size)));
    }
    let mut data = Vec::with_capacity(w * h * 3);
    for row in buf.chunks_exact(info.line_size).take(h) {
        for px in row[..w * channels].chunks_exact(channels) {
            match channels {
                1 | 2 => data.extend_from_slice(&[px[0]; 3]),
                _ => data.extend_from_slice(&px[..3]),
            }
        }
    }
    Ok(RgbImage { width: w, height: h, data })
}

/// Reads a PNG file as a `[3, H, W]` f32 tensor in [−1, 1].
pub fn read_png(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    decode_png(&read_bytes(path)?, &path.display().to_string())?.to_chw()
}

/// Writes a `[3, H, W]` (or grey `[1, H, W]`) float image in [−1, 1] as an RGB PNG.
pub fn write_png(path: impl AsRef<Path>, image: &Tensor) -> Result<()> {
    RgbImage::from_chw(image)?.save_png(path)
}

/// How [`write_png_grid`] lays images out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridOptions {
    /// Images per row; `None` picks ⌈√N⌉.
    pub cols: Option<usize>,
    /// Pixels of background around and between images.
    pub margin: usize,
    /// Background colour.
    pub background: [u8; 3],
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions { cols: None, margin: 2, background: [255, 255, 255] }
    }
}

/// Lays out a batch `[N, C, H, W]` (C = 3 or 1, values in [−1, 1]) row by row: `cols` images per
/// row, `margin` pixels of background around each, so the result is
/// (cols·W + (cols+1)·margin) × (rows·H + (rows+1)·margin).
pub fn grid_image(images: &Tensor, opts: &GridOptions) -> Result<RgbImage> {
    let op = "grid_image";
    if images.rank() != 4 || images.shape()[0] == 0 {
        return Err(Error::invalid(op, format!("expected a non-empty batch [N, C, H, W], got {:?}", images.shape())));
    }
    let (n, h, w) = (images.shape()[0], images.shape()[2], images.shape()[3]);
    let cols = opts.cols.unwrap_or_else(|| (n as f64).sqrt().ceil() as usize).clamp(1, n);
    let rows = n.div_ceil(cols);
    let m = opts.margin;
    // Saturating, so absurd margins or sizes fail the size check below instead of overflowing.
    let span = |k: usize, len: usize| k.saturating_mul(len).saturating_add((k + 1).saturating_mul(m));
    let (gw, gh) = (span(cols, w), span(rows, h));
    if gw.saturating_mul(gh) > MAX_PIXELS {
        return Err(Error::invalid(op, format!("a {gw}×{gh} grid is larger than {MAX_PIXELS} pixels")));
    }
    let mut grid = RgbImage::filled(gw, gh, opts.background);
    for i in 0..n {
        let tile = RgbImage::from_chw(&images.narrow(0, i, 1)?.squeeze(0)?)?;
        grid.blit(&tile, m + (i % cols) * (w + m), m + (i / cols) * (h + m))?;
    }
    Ok(grid)
}

/// Writes a batch `[N, C, H, W]` as one PNG grid (see [`grid_image`]).
pub fn write_png_grid(path: impl AsRef<Path>, images: &Tensor, opts: &GridOptions) -> Result<()> {
    grid_image(images, opts)?.save_png(path)
}

/// The PNG files of a folder, read into one batch.
#[derive(Clone, Debug)]
pub struct PngFolder {
    /// The files, sorted by name; `images` row i comes from `paths[i]`.
    pub paths: Vec<PathBuf>,
    /// `[N, 3, H, W]` f32 in [−1, 1].
    pub images: Tensor,
}

/// Reads every `*.png` file (extension in any case) directly inside `dir`, sorted by file name.
/// Other files are ignored. All images must have the same size (the first file's); a different
/// one is an error naming that file, and so is a folder without PNG files.
pub fn read_png_folder(dir: impl AsRef<Path>) -> Result<PngFolder> {
    let dir = dir.as_ref();
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        if p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
            paths.push(p);
        }
    }
    paths.sort();
    let Some(first) = paths.first() else {
        return Err(Error::bad_file(dir, "the folder holds no .png files"));
    };
    let first = first.clone();
    let mut size = (0, 0);
    let mut data = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let img = decode_png(&read_bytes(p)?, &p.display().to_string())?;
        if i == 0 {
            size = (img.width, img.height);
        } else if (img.width, img.height) != size {
            return Err(Error::bad_file(
                p,
                format!("is {}×{} but {} is {}×{}", img.width, img.height, first.display(), size.0, size.1),
            ));
        }
        data.extend(img.to_chw()?.to_vec::<f32>()?);
    }
    let images = Tensor::from_vec(data, &[paths.len(), 3, size.1, size.0])?;
    Ok(PngFolder { paths, images })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensor::DType;

    fn tmp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("data-png-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn raw_png(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(data).unwrap();
        wr.finish().unwrap();
        out
    }

    #[test]
    fn write_then_read_round_trips() {
        let d = tmp_dir("rt");
        let t = Tensor::rand_uniform(&[3, 5, 7], -1.0, 1.0, 3, DType::F32).unwrap();
        write_png(d.join("a.png"), &t).unwrap();
        let back = read_png(d.join("a.png")).unwrap();
        assert_eq!(back.shape(), &[3, 5, 7]);
        let err = back
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .zip(t.to_vec::<f32>().unwrap())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err <= 1.0 / 127.5, "max error {err}");
    }

    #[test]
    fn grey_rgba_and_sixteen_bit_files_become_rgb() {
        let g = decode_png(&raw_png(2, 1, png::ColorType::Grayscale, png::BitDepth::Eight, &[0, 200]), "g").unwrap();
        assert_eq!(g.data, vec![0, 0, 0, 200, 200, 200]);
        let rgba = [1, 2, 3, 4, 5, 6, 7, 8];
        let a = decode_png(&raw_png(2, 1, png::ColorType::Rgba, png::BitDepth::Eight, &rgba), "a").unwrap();
        assert_eq!(a.data, vec![1, 2, 3, 5, 6, 7]);
        let ga =
            decode_png(&raw_png(1, 1, png::ColorType::GrayscaleAlpha, png::BitDepth::Eight, &[9, 0]), "ga").unwrap();
        assert_eq!(ga.data, vec![9, 9, 9]);
        let deep =
            decode_png(&raw_png(1, 1, png::ColorType::Rgb, png::BitDepth::Sixteen, &[1, 0, 2, 0, 3, 0]), "d").unwrap();
        assert_eq!(deep.data, vec![1, 2, 3]);
        let low =
            decode_png(&raw_png(4, 1, png::ColorType::Grayscale, png::BitDepth::Two, &[0b00_01_10_11]), "l").unwrap();
        assert_eq!(low.data.iter().step_by(3).copied().collect::<Vec<u8>>(), vec![0, 85, 170, 255]);
    }

    #[test]
    fn grid_layout_has_margins_and_columns() {
        let imgs = Tensor::full(&[5, 3, 4, 6], -1.0, DType::F32); // black tiles
        let opts = GridOptions { cols: Some(2), margin: 1, background: [255, 0, 0] };
        let g = grid_image(&imgs, &opts).unwrap();
        assert_eq!((g.width, g.height), (2 * 6 + 3, 3 * 4 + 4));
        let px = |x: usize, y: usize| &g.data[(y * g.width + x) * 3..(y * g.width + x) * 3 + 3];
        assert_eq!(px(0, 0), &[255, 0, 0]);
        assert_eq!(px(1, 1), &[0, 0, 0]);
        assert_eq!(px(7, 1), &[255, 0, 0]); // the margin between columns
        assert_eq!(px(8, 11), &[255, 0, 0]); // the 6th slot is empty
        let d = tmp_dir("grid");
        write_png_grid(d.join("g.png"), &imgs, &GridOptions::default()).unwrap();
        assert_eq!(read_png(d.join("g.png")).unwrap().shape(), &[3, 2 * 4 + 3 * 2, 3 * 6 + 4 * 2]);
        assert!(grid_image(&Tensor::zeros(&[0, 3, 2, 2], DType::F32), &opts).is_err());
        assert!(grid_image(&imgs, &GridOptions { margin: usize::MAX, ..opts }).is_err());
    }

    #[test]
    fn folders_are_sorted_and_checked() {
        let d = tmp_dir("folder");
        for (i, name) in ["b.png", "a.PNG", "c.png"].iter().enumerate() {
            write_png(d.join(name), &Tensor::full(&[3, 2, 3], i as f64 / 2.0 - 0.5, DType::F32)).unwrap();
        }
        std::fs::write(d.join("notes.txt"), "ignored").unwrap();
        let f = read_png_folder(&d).unwrap();
        let names: Vec<String> = f.paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
        assert_eq!(names, ["a.PNG", "b.png", "c.png"]);
        assert_eq!(f.images.shape(), &[3, 3, 2, 3]);
        let first = f.images.to_vec::<f32>().unwrap()[0];
        assert!((first - 0.0).abs() < 0.01, "a.PNG was written with value 0, got {first}");

        write_png(d.join("d.png"), &Tensor::zeros(&[3, 4, 4], DType::F32)).unwrap();
        let msg = read_png_folder(&d).unwrap_err().to_string();
        assert!(msg.contains("d.png") && msg.contains("4×4") && msg.contains("3×2"), "{msg}");

        std::fs::write(d.join("d.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let msg = read_png_folder(&d).unwrap_err().to_string();
        assert!(msg.contains("d.png"), "{msg}");

        let empty = tmp_dir("empty");
        assert!(read_png_folder(&empty).unwrap_err().to_string().contains("no .png"));
        assert!(matches!(read_png_folder(d.join("missing")), Err(Error::Io { .. })));
    }

    #[test]
    fn truncated_png_is_an_error() {
        let bytes = RgbImage::filled(8, 8, [10, 20, 30]).encode_png().unwrap();
        for cut in [0, 8, 20, bytes.len() / 2, bytes.len() - 13] {
            assert!(matches!(decode_png(&bytes[..cut], "cut"), Err(Error::BadFile { .. })), "cut at {cut}");
        }
        assert!(RgbImage::filled(0, 3, [0; 3]).encode_png().is_err());
    }
}
