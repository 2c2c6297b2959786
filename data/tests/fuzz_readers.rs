//! Fuzz-style tests of the file readers: random bytes, and valid files with random truncations and
//! byte flips, must give a value or an error, never a panic. Proptest shrinks any panicking input
//! to a small reproducer.
use data::image::{decode_cifar10, decode_idx, decode_png, RgbImage};
use proptest::prelude::*;
use std::io::Write;

/// A small valid PNG to mutate.
fn valid_png() -> Vec<u8> {
    let mut img = RgbImage::filled(5, 4, [10, 200, 30]);
    img.data[7] = 99;
    img.encode_png().expect("encoding a 5×4 image")
}

/// A small valid idx file of shape [3, 2, 2].
fn valid_idx() -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    v.extend(0..12u8);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("writing to a Vec");
    e.finish().expect("finishing a Vec")
}

/// Applies `flips` (position, xor mask) and then truncates to `keep` bytes.
fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], keep: usize) -> Vec<u8> {
    let n = bytes.len();
    for &(pos, mask) in flips {
        bytes[pos % n] ^= mask;
    }
    bytes.truncate(keep.min(n));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn png_reader_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_png(&bytes, "random.png");
        // The same bytes behind a valid signature reach the chunk parser.
        let mut sig = b"\x89PNG\r\n\x1a\n".to_vec();
        sig.extend_from_slice(&bytes);
        let _ = decode_png(&sig, "random.png");
    }

    #[test]
    fn png_reader_never_panics_on_mutated_files(
        flips in proptest::collection::vec((any::<usize>(), 1..=255u8), 0..6),
        keep in 0usize..200,
    ) {
        let bytes = mutate(valid_png(), &flips, keep);
        if let Ok(img) = decode_png(&bytes, "mutated.png") {
            prop_assert_eq!(img.data.len(), img.width * img.height * 3);
        }
    }

    #[test]
    fn idx_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_idx(&bytes, "random.idx");
        let mut gz = vec![0x1f, 0x8b];
        gz.extend_from_slice(&bytes);
        let _ = decode_idx(&gz, "random.idx.gz");
    }

    #[test]
    fn idx_reader_accepts_only_consistent_mutations(
        flips in proptest::collection::vec((any::<usize>(), 1..=255u8), 0..4),
        keep in 0usize..40,
        compress in any::<bool>(),
    ) {
        let raw = mutate(valid_idx(), &flips, keep);
        let bytes = if compress { gzip(&raw) } else { raw };
        if let Ok(a) = decode_idx(&bytes, "mutated.idx") {
            prop_assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        }
        let gz = gzip(&valid_idx());
        let _ = decode_idx(&mutate(gz, &flips, keep), "mutated.idx.gz");
    }

    #[test]
    fn cifar_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..8000)) {
        if let Ok(d) = decode_cifar10(&bytes, "random.bin") {
            prop_assert_eq!(d.pixels.len(), d.n * 3072);
            prop_assert!(d.labels.iter().all(|&l| l < 10));
        }
    }
}

#[test]
fn a_valid_cifar_record_of_random_bytes_decodes() {
    let mut rec = vec![4u8];
    rec.extend((0..3072).map(|i| (i * 7 % 256) as u8));
    let d = decode_cifar10(&rec, "one.bin").expect("one valid record");
    assert_eq!((d.n, d.labels[0]), (1, 4));
}
