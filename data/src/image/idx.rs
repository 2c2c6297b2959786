//! The idx format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed.
//!
//! An idx file is: two zero bytes, a type code (0x08 = unsigned byte, the only type these datasets
//! use and the only one read here), the number of dimensions d, then d big-endian u32 sizes, then
//! the elements in row-major order. Images are `[n, 28, 28]`, labels `[n]`. Gzip is recognised by
//! its magic bytes (1f 8b), not by the file name.
use super::{read_bytes, LabeledImages, Split};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Decompressed files larger than this (1 GiB) are rejected rather than read into memory.
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// An n-dimensional array of bytes read from an idx file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes, row-major.
    pub data: Vec<u8>,
}

/// Decodes idx bytes (gzip-compressed or not). `name` only labels errors. The element count the
/// header promises must match the bytes that follow exactly: a short file is "truncated", a long
/// one has "trailing bytes".
pub fn decode_idx(bytes: &[u8], name: &str) -> Result<IdxArray> {
    let bad = |msg: String| Error::BadFile { path: name.to_string(), msg };
    let inflated;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("gzip stream is corrupt: {e}")))?;
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(bad(format!("decompresses to more than {MAX_DECOMPRESSED} bytes")));
        }
        inflated = out;
        &inflated[..]
    } else {
        bytes
    };
    if bytes.len() < 4 {
        return Err(bad(format!("truncated: {} bytes, an idx header needs at least 4", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(format!("bad magic number {:02x} {:02x} (an idx file starts with 00 00)", bytes[0], bytes[1])));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!("element type 0x{:02x} is not supported (only 0x08, unsigned byte)", bytes[2])));
    }
    let nd = bytes[3] as usize;
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(bad(format!(
            "truncated header: {nd} dimensions need {header} bytes, the file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let have = bytes.len() - header;
    if have < count {
        return Err(bad(format!("truncated: dimensions {dims:?} need {count} data bytes, the file has {have}")));
    }
    if have > count {
        return Err(bad(format!("{} trailing bytes after the {count} data bytes of {dims:?}", have - count)));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Reads an idx file (plain or gzip).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    decode_idx(&read_bytes(path)?, &path.display().to_string())
}

/// The first existing file among `stem` + each suffix in `dir`.
fn find(dir: &Path, stems: &[String]) -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = stems.iter().flat_map(|s| [dir.join(s), dir.join(format!("{s}.gz"))]).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| Error::Io {
        path: candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" | "),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "none of these files exists"),
    })
}

/// Loads MNIST or Fashion-MNIST (same file names) from `dir`: `train-images-idx3-ubyte` and
/// `train-labels-idx1-ubyte` for [`Split::Train`], `t10k-*` for [`Split::Test`], each plain or
/// `.gz` (a `.` instead of the `-` before `idx` is accepted too). The images must be `[n, h, w]`,
/// the labels `[n]` with values 0–9.
pub fn load_mnist(dir: impl AsRef<Path>, split: Split) -> Result<LabeledImages> {
    let dir = dir.as_ref();
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let img_path = find(dir, &[format!("{prefix}-images-idx3-ubyte"), format!("{prefix}-images.idx3-ubyte")])?;
    let lab_path = find(dir, &[format!("{prefix}-labels-idx1-ubyte"), format!("{prefix}-labels.idx1-ubyte")])?;
    let images = read_idx(&img_path)?;
    let labels = read_idx(&lab_path)?;
    if images.dims.len() != 3 {
        return Err(Error::bad_file(&img_path, format!("images must be [n, h, w], got dimensions {:?}", images.dims)));
    }
    if labels.dims.len() != 1 {
        return Err(Error::bad_file(&lab_path, format!("labels must be [n], got dimensions {:?}", labels.dims)));
    }
    if labels.dims[0] != images.dims[0] {
        return Err(Error::bad_file(
            &lab_path,
            format!("{} labels for {} images in {}", labels.dims[0], images.dims[0], img_path.display()),
        ));
    }
    if let Some((i, l)) = labels.data.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(Error::bad_file(&lab_path, format!("label {l} at index {i} is not a digit class 0-9")));
    }
    Ok(LabeledImages {
        n: images.dims[0],
        channels: 1,
        height: images.dims[1],
        width: images.dims[2],
        pixels: images.data,
        labels: labels.data,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// The bytes of an idx file of unsigned bytes.
    pub(crate) fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn tmp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("data-idx-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn plain_and_gzip_decode_the_same() {
        let raw = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let a = decode_idx(&raw, "plain").unwrap();
        assert_eq!(a, IdxArray { dims: vec![2, 3], data: vec![1, 2, 3, 4, 5, 6] });
        assert_eq!(decode_idx(&gzip(&raw), "gz").unwrap(), a);
    }

    #[test]
    fn corrupt_headers_and_sizes_are_named_errors() {
        let raw = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let msg = |b: &[u8]| decode_idx(b, "f.idx").unwrap_err().to_string();
        assert!(msg(&raw[..5]).contains("truncated header"));
        assert!(msg(&raw[..raw.len() - 1]).contains("truncated"));
        assert!(msg(&[&raw[..], &[0]].concat()).contains("trailing"));
        assert!(msg(&[1, 0, 8, 1, 0, 0, 0, 0]).contains("magic"));
        assert!(msg(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("0x0d"));
        assert!(msg(&idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[])).contains("f.idx"));
        let gz = gzip(&raw);
        assert!(msg(&gz[..gz.len() / 2]).contains("gzip"));
        assert!(msg(&[]).contains("f.idx"));
    }

    #[test]
    fn mnist_folder_loads_plain_and_gz_and_checks_labels() {
        let d = tmp_dir("mnist");
        let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
        std::fs::write(d.join("train-images-idx3-ubyte"), idx_bytes(&[3, 4, 5], &pixels)).unwrap();
        std::fs::write(d.join("train-labels-idx1-ubyte.gz"), gzip(&idx_bytes(&[3], &[7, 0, 9]))).unwrap();
        let m = load_mnist(&d, Split::Train).unwrap();
        assert_eq!((m.n, m.channels, m.height, m.width), (3, 1, 4, 5));
        assert_eq!(m.pixels, pixels);
        assert_eq!(m.labels, vec![7, 0, 9]);
        assert_eq!(m.images_tensor(&[2]).unwrap().shape(), &[1, 1, 4, 5]);

        assert!(matches!(load_mnist(&d, Split::Test), Err(Error::Io { .. })));
        std::fs::write(d.join("t10k-images-idx3-ubyte"), idx_bytes(&[2, 1, 1], &[0, 1])).unwrap();
        std::fs::write(d.join("t10k-labels-idx1-ubyte"), idx_bytes(&[3], &[0, 1, 2])).unwrap();
        assert!(load_mnist(&d, Split::Test).unwrap_err().to_string().contains("3 labels for 2 images"));
        std::fs::write(d.join("t10k-labels-idx1-ubyte"), idx_bytes(&[2], &[0, 12])).unwrap();
        assert!(load_mnist(&d, Split::Test).unwrap_err().to_string().contains("label 12"));
        std::fs::write(d.join("t10k-images-idx3-ubyte"), idx_bytes(&[2, 1], &[0, 1])).unwrap();
        assert!(load_mnist(&d, Split::Test).unwrap_err().to_string().contains("[n, h, w]"));
    }
}
