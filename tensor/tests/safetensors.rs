//! safetensors save → load round trips for every dtype (views and 0-d scalars included), files
//! written by the reference `safetensors` crate, and broken files (always `Error::BadFile`).
mod common;

use common::{temp_path, Gen};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use tensor::safetensors_io::{self as st, expect};
use tensor::{DType, Error, Tensor};

/// Removes the file when dropped, so failing tests do not leave files behind.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn sample_tensors() -> BTreeMap<String, Tensor> {
    let mut g = Gen::new(77);
    let mut m = BTreeMap::new();
    let bytes: Vec<u8> = (0..=255).collect();
    m.insert("u8".to_string(), Tensor::from_vec(bytes, &[16, 16]).unwrap());
    let ints = vec![0i64, -1, i64::MAX, i64::MIN, 42, -7];
    m.insert("i64".to_string(), Tensor::from_vec(ints, &[2, 3]).unwrap());
    let vals = Tensor::from_vec(g.vals(60, -100.0, 100.0), &[3, 4, 5]).unwrap();
    for dtype in [DType::F16, DType::BF16, DType::F32, DType::F64] {
        m.insert(format!("{dtype:?}").to_lowercase(), vals.to_dtype(dtype).unwrap());
    }
    let view = vals.to_dtype(DType::F32).unwrap().permute(&[2, 0, 1]).unwrap().slice(0, 1, 5, 2).unwrap();
    assert!(!view.is_contiguous());
    m.insert("view".to_string(), view);
    m.insert("scalar".to_string(), Tensor::scalar(-3.25, DType::F64));
    m.insert("empty".to_string(), Tensor::zeros(&[0, 3], DType::F32));
    m
}

fn assert_same(a: &BTreeMap<String, Tensor>, b: &BTreeMap<String, Tensor>) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, t) in a {
        let u = &b[name];
        assert_eq!((t.dtype(), t.shape()), (u.dtype(), u.shape()), "{name}");
        assert_eq!(t.to_vec_f64().unwrap(), u.to_vec_f64().unwrap(), "{name}");
        assert!(u.is_contiguous(), "{name}");
    }
}

#[test]
fn save_load_round_trip_all_dtypes() {
    let tensors = sample_tensors();
    let path = TempFile(temp_path("roundtrip"));
    st::save(&tensors, &path.0).unwrap();
    let loaded = st::load(&path.0).unwrap();
    assert_same(&tensors, &loaded);
    assert_eq!(loaded["scalar"].rank(), 0);
    // Bit-exact for the half formats and the integers.
    assert_eq!(loaded["f16"].to_vec::<half::f16>().unwrap(), tensors["f16"].to_vec::<half::f16>().unwrap());
    assert_eq!(loaded["bf16"].to_vec::<half::bf16>().unwrap(), tensors["bf16"].to_vec::<half::bf16>().unwrap());
    assert_eq!(loaded["i64"].to_vec::<i64>().unwrap(), vec![0, -1, i64::MAX, i64::MIN, 42, -7]);
    // In-memory round trip gives the same thing.
    let bytes = st::save_to_bytes(&tensors).unwrap();
    assert_same(&tensors, &st::load_from_bytes(&bytes, Path::new("mem")).unwrap());
}

/// What we write is standard safetensors: the reference crate reads the same dtypes, shapes and
/// little-endian bytes (the non-contiguous view in logical order).
#[test]
fn written_files_parse_with_the_reference_crate() {
    let tensors = sample_tensors();
    let bytes = st::save_to_bytes(&tensors).unwrap();
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = parsed.tensor("view").unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::F32);
    assert_eq!(view.shape(), &[2, 3, 4]);
    let want: Vec<u8> = tensors["view"].to_vec_f64().unwrap().iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
    assert_eq!(view.data(), want.as_slice());
    let s = parsed.tensor("scalar").unwrap();
    assert_eq!((s.dtype(), s.shape()), (safetensors::Dtype::F64, &[][..]));
    assert_eq!(s.data(), (-3.25f64).to_le_bytes());
    assert_eq!(parsed.tensor("bf16").unwrap().dtype(), safetensors::Dtype::BF16);
    assert_eq!(parsed.tensor("u8").unwrap().data(), (0..=255).collect::<Vec<u8>>().as_slice());
}

/// Files written by the reference crate load with the right values.
#[test]
fn loads_files_written_by_the_reference_crate() {
    let f: Vec<u8> = [1.5f32, -2.0, 3.25, 0.0, 8.0, -0.5].iter().flat_map(|v| v.to_le_bytes()).collect();
    let i: Vec<u8> = [7i64, -9].iter().flat_map(|v| v.to_le_bytes()).collect();
    let h: Vec<u8> =
        [0.5f64, 1.0, 65504.0].iter().flat_map(|&v| half::f16::from_f64(v).to_bits().to_le_bytes()).collect();
    let views = vec![
        ("f".to_string(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &f).unwrap()),
        ("i".to_string(), safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![2], &i).unwrap()),
        ("h".to_string(), safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![3, 1], &h).unwrap()),
    ];
    let path = TempFile(temp_path("reference"));
    safetensors::serialize_to_file(views, &None, &path.0).unwrap();
    let m = st::load(&path.0).unwrap();
    assert_eq!((m["f"].dtype(), m["f"].shape()), (DType::F32, &[2, 3][..]));
    assert_eq!(m["f"].to_vec::<f32>().unwrap(), vec![1.5, -2.0, 3.25, 0.0, 8.0, -0.5]);
    assert_eq!(m["i"].to_vec::<i64>().unwrap(), vec![7, -9]);
    assert_eq!((m["h"].dtype(), m["h"].to_vec_f64().unwrap()), (DType::F16, vec![0.5, 1.0, 65504.0]));
}

/// Writes `bytes` to a temp file and loads it; must be `BadFile`, and never panic.
fn load_bad(tag: &str, bytes: &[u8]) -> String {
    let path = TempFile(temp_path(tag));
    std::fs::write(&path.0, bytes).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| st::load(&path.0))).unwrap_or_else(|_| panic!("{tag}: load panicked"));
    match r {
        Err(e @ Error::BadFile { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.0.display().to_string()), "{tag}: message {msg:?} does not name the file");
            msg
        }
        Err(e) => panic!("{tag}: expected BadFile, got {e:?}"),
        Ok(m) => panic!("{tag}: expected BadFile, loaded {:?}", m.keys().collect::<Vec<_>>()),
    }
}

/// A hand-made file: 8-byte little-endian header length, the JSON header, then `data`.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn broken_files_are_bad_file_errors() {
    let good = st::save_to_bytes(&sample_tensors()).unwrap();
    load_bad("empty", &[]);
    load_bad("short-length", &good[..5]);
    load_bad("truncated-header", &good[..20]);
    load_bad("truncated-data", &good[..good.len() - 3]);
    load_bad("garbage-header", &raw_file("this is not json at all!", &[0; 16]));
    load_bad("huge-header-length", &[0xff; 16]);
    // The header promises 4 f32 (16 bytes) but only 8 bytes of data follow.
    load_bad("short-data", &raw_file(r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, &[0; 8]));
    // Shape [5] of f32 is 20 bytes, the offsets cover 16.
    load_bad(
        "shape-larger-than-data",
        &raw_file(r#"{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}"#, &[0; 16]),
    );
    load_bad("offsets-past-end", &raw_file(r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#, &[0; 4]));
    load_bad("unknown-dtype", &raw_file(r#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, &[0]));
    load_bad(
        "overflowing-shape",
        &raw_file(r#"{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, &[]),
    );
    load_bad("unsupported-dtype", &raw_file(r#"{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 4]));
    let mut zeros_len = good.clone();
    zeros_len[..8].copy_from_slice(&0u64.to_le_bytes());
    load_bad("zero-header-length", &zeros_len);
}

#[test]
fn missing_file_is_an_io_error() {
    let path = temp_path("missing");
    assert!(matches!(st::load(&path), Err(Error::Io { .. })));
}

#[test]
fn expect_checks_dtype_and_shape() {
    let t = Tensor::zeros(&[2, 3], DType::F32);
    let p = Path::new("model.safetensors");
    assert!(expect("w", &t, DType::F32, &[2, 3], p).is_ok());
    for (dtype, shape) in [(DType::F16, &[2, 3][..]), (DType::F32, &[3, 2][..]), (DType::F32, &[6][..])] {
        match expect("w", &t, dtype, shape, p) {
            Err(e @ Error::BadFile { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("model.safetensors") && msg.contains("\"w\""), "{msg}");
            }
            other => panic!("expected BadFile for {dtype:?} {shape:?}, got {other:?}"),
        }
    }
}
