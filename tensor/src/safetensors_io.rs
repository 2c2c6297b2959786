//! Reading and writing `.safetensors` files. Reading memory-maps the file and validates it (the
//! header, every tensor's dtype, shape and byte range) before any data is touched: a truncated or
//! corrupt file is an `Error::BadFile`, never a panic.
use crate::{CpuStorage, DType, Error, Result, Tensor};
use half::{bf16, f16};
use std::collections::BTreeMap;
use std::path::Path;

fn to_st_dtype(d: DType) -> safetensors::Dtype {
    match d {
        DType::U8 => safetensors::Dtype::U8,
        DType::I64 => safetensors::Dtype::I64,
        DType::F16 => safetensors::Dtype::F16,
        DType::BF16 => safetensors::Dtype::BF16,
        DType::F32 => safetensors::Dtype::F32,
        DType::F64 => safetensors::Dtype::F64,
    }
}

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::BadFile { path: path.display().to_string(), msg: msg.into() }
}

/// Decodes little-endian bytes (any alignment) of a known dtype.
fn decode(dtype: DType, bytes: &[u8]) -> CpuStorage {
    match dtype {
        DType::U8 => CpuStorage::U8(bytes.to_vec()),
        DType::I64 => CpuStorage::I64(bytemuck::pod_collect_to_vec(bytes)),
        DType::F16 => {
            CpuStorage::F16(bytemuck::pod_collect_to_vec::<u8, u16>(bytes).into_iter().map(f16::from_bits).collect())
        }
        DType::BF16 => {
            CpuStorage::BF16(bytemuck::pod_collect_to_vec::<u8, u16>(bytes).into_iter().map(bf16::from_bits).collect())
        }
        DType::F32 => CpuStorage::F32(bytemuck::pod_collect_to_vec(bytes)),
        DType::F64 => CpuStorage::F64(bytemuck::pod_collect_to_vec(bytes)),
    }
}

fn encode(t: &Tensor) -> Result<Vec<u8>> {
    let t = t.to_device(crate::Device::Cpu)?.contiguous()?;
    Ok(match t.dtype() {
        DType::U8 => t.to_vec::<u8>()?,
        DType::I64 => bytemuck::cast_slice(&t.to_vec::<i64>()?).to_vec(),
        DType::F16 => t.to_vec::<f16>()?.iter().flat_map(|v| v.to_bits().to_le_bytes()).collect(),
        DType::BF16 => t.to_vec::<bf16>()?.iter().flat_map(|v| v.to_bits().to_le_bytes()).collect(),
        DType::F32 => bytemuck::cast_slice(&t.to_vec::<f32>()?).to_vec(),
        DType::F64 => bytemuck::cast_slice(&t.to_vec::<f64>()?).to_vec(),
    })
}

/// Parses safetensors bytes into named tensors (names sorted).
pub fn load_from_bytes(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, Tensor>> {
    Ok(load_with_metadata_from_bytes(bytes, path)?.0)
}

/// The file's `__metadata__` string map (empty when absent).
pub type Metadata = BTreeMap<String, String>;

/// Parses safetensors bytes into named tensors and the header's metadata map.
pub fn load_with_metadata_from_bytes(bytes: &[u8], path: &Path) -> Result<(BTreeMap<String, Tensor>, Metadata)> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(path, e.to_string()))?;
    let meta: Metadata = header.metadata().clone().map(|m| m.into_iter().collect()).unwrap_or_default();
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(path, e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            safetensors::Dtype::U8 => DType::U8,
            safetensors::Dtype::I64 => DType::I64,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F64 => DType::F64,
            other => return Err(bad(path, format!("tensor {name:?} has unsupported dtype {other:?}"))),
        };
        let n: usize = view.shape().iter().product();
        if view.data().len() != n * dtype.size_in_bytes() {
            return Err(bad(
                path,
                format!("tensor {name:?}: {} bytes for shape {:?} {dtype:?}", view.data().len(), view.shape()),
            ));
        }
        out.insert(name.clone(), Tensor::from_cpu(decode(dtype, view.data()), view.shape())?);
    }
    Ok((out, meta))
}

/// Loads every tensor of a `.safetensors` file (memory-mapped, then copied into owned buffers).
pub fn load(path: impl AsRef<Path>) -> Result<BTreeMap<String, Tensor>> {
    Ok(load_with_metadata(path)?.0)
}

/// Loads every tensor and the metadata map of a `.safetensors` file.
pub fn load_with_metadata(path: impl AsRef<Path>) -> Result<(BTreeMap<String, Tensor>, Metadata)> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    // SAFETY: the map is read-only and lives only inside this function; we copy every tensor out
    // before returning. A file truncated by another process while mapped could still fault, which
    // is the documented limit of memory-mapped I/O.
    let mmap = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    load_with_metadata_from_bytes(&mmap, path)
}

/// Checks that `t` (named `name`) has the expected dtype and shape.
pub fn expect(name: &str, t: &Tensor, dtype: DType, shape: &[usize], path: &Path) -> Result<()> {
    if t.dtype() != dtype || t.shape() != shape {
        return Err(bad(
            path,
            format!("tensor {name:?} is {:?} {:?}, expected {dtype:?} {shape:?}", t.dtype(), t.shape()),
        ));
    }
    Ok(())
}

/// Serialises named tensors to safetensors bytes (names in sorted order).
pub fn save_to_bytes(tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>> {
    save_with_metadata_to_bytes(tensors, &Metadata::new())
}

/// Serialises named tensors plus a `__metadata__` string map.
pub fn save_with_metadata_to_bytes(tensors: &BTreeMap<String, Tensor>, meta: &Metadata) -> Result<Vec<u8>> {
    let encoded: Vec<(String, DType, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.dtype(), t.shape().to_vec(), encode(t)?)))
        .collect::<Result<_>>()?;
    let views: Vec<(String, safetensors::tensor::TensorView)> = encoded
        .iter()
        .map(|(n, d, s, b)| {
            safetensors::tensor::TensorView::new(to_st_dtype(*d), s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::invalid("safetensors save", e.to_string()))
        })
        .collect::<Result<_>>()?;
    let meta: Option<std::collections::HashMap<String, String>> =
        if meta.is_empty() { None } else { Some(meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect()) };
    safetensors::serialize(views, &meta).map_err(|e| Error::invalid("safetensors save", e.to_string()))
}

/// Writes named tensors to `path` (a plain write; `nn` adds the atomic temp-file + rename).
pub fn save(tensors: &BTreeMap<String, Tensor>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = save_to_bytes(tensors)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io { path: path.display().to_string(), source })
}
