//! CIFAR-10 binary batches (the "binary version" of Krizhevsky's dataset).
//!
//! Each file is a run of 3073-byte records: one label byte (0–9), then a 32×32 colour image as
//! 1024 red, 1024 green and 1024 blue bytes, each plane row-major — already CHW. The official
//! batches hold 10 000 records; any positive whole number of records is accepted here.
use super::{read_bytes, LabeledImages, Split};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const SIDE: usize = 32;
const IMAGE: usize = 3 * SIDE * SIDE;
const RECORD: usize = 1 + IMAGE;

/// The class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Decodes the bytes of one batch file; `name` only labels errors.
pub fn decode_cifar10(bytes: &[u8], name: &str) -> Result<LabeledImages> {
    let bad = |msg: String| Error::BadFile { path: name.to_string(), msg };
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(bad(format!(
            "{} bytes is not a positive whole number of {RECORD}-byte records (truncated or not a CIFAR-10 batch; \
             the last record has {} bytes)",
            bytes.len(),
            bytes.len() % RECORD
        )));
    }
    let n = bytes.len() / RECORD;
    let mut pixels = Vec::with_capacity(n * IMAGE);
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(bad(format!("record {i} has label {}, not a class 0-9", rec[0])));
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(LabeledImages { n, channels: 3, height: SIDE, width: SIDE, pixels, labels })
}

/// Reads one batch file such as `data_batch_1.bin`.
pub fn read_cifar10_batch(path: impl AsRef<Path>) -> Result<LabeledImages> {
    let path = path.as_ref();
    decode_cifar10(&read_bytes(path)?, &path.display().to_string())
}

/// Loads a split from `dir` (or from `dir/cifar-10-batches-bin`, where the official archive
/// unpacks): `data_batch_1.bin` … `data_batch_5.bin` for [`Split::Train`], `test_batch.bin` for
/// [`Split::Test`]. Every file must be present.
pub fn load_cifar10(dir: impl AsRef<Path>, split: Split) -> Result<LabeledImages> {
    let mut dir: PathBuf = dir.as_ref().to_path_buf();
    let nested = dir.join("cifar-10-batches-bin");
    if nested.is_dir() {
        dir = nested;
    }
    let files: Vec<PathBuf> = match split {
        Split::Train => (1..=5).map(|i| dir.join(format!("data_batch_{i}.bin"))).collect(),
        Split::Test => vec![dir.join("test_batch.bin")],
    };
    let mut all = LabeledImages { n: 0, channels: 3, height: SIDE, width: SIDE, pixels: vec![], labels: vec![] };
    for f in &files {
        let b = read_cifar10_batch(f)?;
        all.n += b.n;
        all.pixels.extend_from_slice(&b.pixels);
        all.labels.extend_from_slice(&b.labels);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` records with label i % 10 and pixel bytes (i + j) % 256.
    pub(crate) fn records(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n * RECORD);
        for i in 0..n {
            v.push((i % 10) as u8);
            v.extend((0..IMAGE).map(|j| ((i + j) % 256) as u8));
        }
        v
    }

    #[test]
    fn records_decode_to_chw_images() {
        let d = decode_cifar10(&records(3), "x").unwrap();
        assert_eq!((d.n, d.channels, d.height, d.width), (3, 3, 32, 32));
        assert_eq!(d.labels, vec![0, 1, 2]);
        assert_eq!(d.pixels[IMAGE + 1024], ((1 + 1024) % 256) as u8); // image 1, first green byte
        let t = d.images_tensor(&[0]).unwrap();
        assert_eq!(t.shape(), &[1, 3, 32, 32]);
    }

    #[test]
    fn truncated_and_corrupt_batches_are_errors() {
        let r = records(2);
        for cut in [0, 1, RECORD - 1, RECORD + 5] {
            let msg = decode_cifar10(&r[..cut], "b.bin").unwrap_err().to_string();
            assert!(msg.contains("b.bin") && msg.contains("3073"), "{msg}");
        }
        let mut bad = r.clone();
        bad[RECORD] = 10;
        assert!(decode_cifar10(&bad, "b.bin").unwrap_err().to_string().contains("record 1 has label 10"));
    }

    #[test]
    fn folder_loading_finds_nested_batches_and_reports_missing_ones() {
        let d = std::env::temp_dir().join(format!("data-cifar-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let inner = d.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&inner).unwrap();
        for i in 1..=5 {
            std::fs::write(inner.join(format!("data_batch_{i}.bin")), records(i)).unwrap();
        }
        let train = load_cifar10(&d, Split::Train).unwrap();
        assert_eq!(train.n, 15);
        assert_eq!(train.labels.len(), 15);
        assert_eq!(train.pixels.len(), 15 * IMAGE);
        let err = load_cifar10(&d, Split::Test).unwrap_err();
        assert!(matches!(&err, Error::Io { path, .. } if path.contains("test_batch.bin")), "{err}");
    }
}
