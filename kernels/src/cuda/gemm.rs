//! Launch wrappers for `kernels/cuda/gemm.cu` (the plain tiled f32/f64 kernel, the default) and
//! `kernels/cuda/gemm_tc.cu` (tensor cores, opt-in through [`Precision`]).
//!
//! One call is a batched product `C[z] = A[z] · B[z]` (or `C[z] += ..`) for `z < batch`, every
//! operand given by a [`MatLayout`]: a batch layout (any number of dims, stride 0 broadcasts) plus
//! row and column strides, so transposed and broadcast views need no copy. `C` has unit column
//! stride. Bounds are checked here against the buffers (a violation is a caller bug: panic).
use super::{CudaSlice, DeviceRepr, GpuDevice, LaunchConfig, PushKernelArg, Result, StridedLayout, ValidAsZeroBits};
use crate::ptx::{GEMM, GEMM_TC};

/// The float element types with kernels (f32, f64); `NAME` is the kernel-name suffix.
pub trait Float: DeviceRepr + ValidAsZeroBits + Copy + Default + 'static {
    const NAME: &'static str;
    /// `1 / n` computed in this type (as the CPU kernels compute `T::one() / T::from_f64(n)`).
    fn recip_of(n: usize) -> Self;
}
impl Float for f32 {
    const NAME: &'static str = "f32";
    fn recip_of(n: usize) -> f32 {
        1.0 / n as f32
    }
}
impl Float for f64 {
    const NAME: &'static str = "f64";
    fn recip_of(n: usize) -> f64 {
        1.0 / n as f64
    }
}

/// One operand of a batched product: batch item `z`'s matrix starts at `batch`'s offset of
/// element `z` (row-major over the batch dims), and its element `(i, j)` lies `i·row_stride +
/// j·col_stride` further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatLayout {
    pub batch: StridedLayout,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl MatLayout {
    /// A single matrix (no batch dims) starting at `offset`.
    pub fn single(offset: usize, row_stride: usize, col_stride: usize) -> Result<MatLayout> {
        Ok(MatLayout { batch: StridedLayout::new(&[], &[], offset)?, row_stride, col_stride })
    }
    /// Batch items over `dims` with `strides` from `offset`.
    pub fn batched(
        dims: &[usize],
        strides: &[usize],
        offset: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<MatLayout> {
        Ok(MatLayout { batch: StridedLayout::new(dims, strides, offset)?, row_stride, col_stride })
    }
    /// One past the last element a `rows × cols` matrix of every batch item addresses.
    fn extent(&self, rows: usize, cols: usize) -> usize {
        let b = &self.batch;
        let last_batch: usize = (0..b.ndim as usize).map(|d| (b.dims[d] as usize - 1) * b.strides[d] as usize).sum();
        b.offset as usize + last_batch + (rows - 1) * self.row_stride + (cols - 1) * self.col_stride + 1
    }
    /// Number of batch items the layout describes.
    fn items(&self) -> usize {
        self.batch.dims[..self.batch.ndim as usize].iter().map(|&d| d as usize).product()
    }
}

/// A batched product: sizes, the three operand layouts and whether `C` accumulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmSpec {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// `A[z]: [m, k]`
    pub a: MatLayout,
    /// `B[z]: [k, n]`
    pub b: MatLayout,
    /// `C[z]: [m, n]`, `col_stride` must be 1
    pub c: MatLayout,
    /// `C += A·B` instead of `C = A·B`
    pub accumulate: bool,
}

/// The kernels' parameter block; mirrors `GemmDims` in `kernels/cuda/gemm.cuh` field for field.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GemmDims {
    a_batch: StridedLayout,
    b_batch: StridedLayout,
    c_batch: StridedLayout,
    a_rs: i64,
    a_cs: i64,
    b_rs: i64,
    b_cs: i64,
    c_rs: i64,
    m: i32,
    n: i32,
    k: i32,
    batch: u32,
    accumulate: i32,
}

// SAFETY: repr(C) plain data with the C struct's field order and types (sizes checked below and by
// static_assert in gemm.cuh).
unsafe impl DeviceRepr for GemmDims {}

const _: () = {
    assert!(std::mem::size_of::<StridedLayout>() == 112);
    assert!(std::mem::size_of::<GemmDims>() == 400);
    assert!(std::mem::offset_of!(GemmDims, a_rs) == 336);
    assert!(std::mem::offset_of!(GemmDims, m) == 376);
    assert!(std::mem::offset_of!(GemmDims, accumulate) == 392);
};

/// Which arithmetic a product of f32 (or half) operands uses. `F32` is the plain kernel (exact
/// f32 fused multiply-adds, the default everywhere); the others run on the tensor cores with the
/// operands rounded to TF32, bf16 or f16 and f32 accumulation: faster, less exact, opt-in only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    Tf32,
    Bf16,
    F16,
}

/// Threads per block of the plain and the tensor-core kernels.
const PLAIN_THREADS: u32 = 256;
const TC_THREADS: u32 = 128;
/// Rows and columns of one block tile.
const TILE: usize = 64;

impl GemmSpec {
    /// Checks the sizes and layouts against the buffer lengths and packs the parameter block.
    /// `None` when there is nothing to launch (an empty product).
    fn dims(&self, a_len: usize, b_len: usize, c_len: usize) -> Option<GemmDims> {
        let s = self;
        assert!(
            s.m <= i32::MAX as usize && s.n <= i32::MAX as usize && s.k <= i32::MAX as usize,
            "gemm: {s:?} too large"
        );
        assert!(s.batch <= u32::MAX as usize, "gemm: batch {} too large", s.batch);
        assert_eq!(s.c.col_stride, 1, "gemm: C needs unit column stride");
        if s.batch == 0 || s.m == 0 || s.n == 0 {
            return None;
        }
        for (name, l) in [("A", &s.a), ("B", &s.b), ("C", &s.c)] {
            assert_eq!(l.items(), s.batch, "gemm: {name} batch layout {l:?} does not hold {} items", s.batch);
        }
        if s.k > 0 {
            assert!(s.a.extent(s.m, s.k) <= a_len, "gemm: A layout {:?} exceeds its buffer of {a_len}", s.a);
            assert!(s.b.extent(s.k, s.n) <= b_len, "gemm: B layout {:?} exceeds its buffer of {b_len}", s.b);
        }
        assert!(s.c.extent(s.m, s.n) <= c_len, "gemm: C layout {:?} exceeds its buffer of {c_len}", s.c);
        Some(GemmDims {
            a_batch: s.a.batch,
            b_batch: s.b.batch,
            c_batch: s.c.batch,
            a_rs: s.a.row_stride as i64,
            a_cs: s.a.col_stride as i64,
            b_rs: s.b.row_stride as i64,
            b_cs: s.b.col_stride as i64,
            c_rs: s.c.row_stride as i64,
            m: s.m as i32,
            n: s.n as i32,
            k: s.k as i32,
            batch: s.batch as u32,
            accumulate: s.accumulate as i32,
        })
    }

    /// One block per 64×64 tile and batch item (capped; the kernels loop over the rest).
    fn launch(&self, threads: u32) -> LaunchConfig {
        let cap = |v: usize| v.clamp(1, 65_535) as u32;
        LaunchConfig {
            grid_dim: (cap(self.n.div_ceil(TILE)), cap(self.m.div_ceil(TILE)), cap(self.batch)),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: 0,
        }
    }
}

/// `C = A·B` (or `C += A·B`) with the plain kernel, for f32 or f64 buffers.
pub fn gemm<T: Float>(
    dev: &GpuDevice,
    spec: &GemmSpec,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    c: &mut CudaSlice<T>,
) -> Result<()> {
    let Some(d) = spec.dims(a.len(), b.len(), c.len()) else { return Ok(()) };
    let f = dev.function(&GEMM, &format!("gemm_{}", T::NAME))?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(a).arg(b).arg(c).arg(&d);
    // SAFETY: `gemm_<T>(const T *A, const T *B, T *C, GemmDims d)`; `dims` checked every address
    // the layouts reach against the buffer lengths.
    unsafe { l.launch(spec.launch(PLAIN_THREADS)) }?;
    Ok(())
}

/// `C = A·B` (or `+=`) of f32 buffers with the arithmetic `prec` picks (see [`Precision`]).
pub fn gemm_f32(
    dev: &GpuDevice,
    prec: Precision,
    spec: &GemmSpec,
    a: &CudaSlice<f32>,
    b: &CudaSlice<f32>,
    c: &mut CudaSlice<f32>,
) -> Result<()> {
    let kernel = match prec {
        Precision::F32 => return gemm(dev, spec, a, b, c),
        Precision::Tf32 => "gemm_tc_tf32",
        Precision::Bf16 => "gemm_tc_bf16_of_f32",
        Precision::F16 => "gemm_tc_f16_of_f32",
    };
    let Some(d) = spec.dims(a.len(), b.len(), c.len()) else { return Ok(()) };
    let f = dev.function(&GEMM_TC, kernel)?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(a).arg(b).arg(c).arg(&d);
    // SAFETY: `gemm_tc_*(const float *A, const float *B, float *C, GemmDims d)`; addresses checked
    // by `dims`.
    unsafe { l.launch(spec.launch(TC_THREADS)) }?;
    Ok(())
}

/// `C = A·B` (or `+=`) on the tensor cores for half-precision operands stored as bits (`u16`):
/// `prec` says which type they hold, `Bf16` or `F16` (anything else panics). `C` is f32.
pub fn gemm_half(
    dev: &GpuDevice,
    prec: Precision,
    spec: &GemmSpec,
    a: &CudaSlice<u16>,
    b: &CudaSlice<u16>,
    c: &mut CudaSlice<f32>,
) -> Result<()> {
    let kernel = match prec {
        Precision::Bf16 => "gemm_tc_bf16",
        Precision::F16 => "gemm_tc_f16",
        p => panic!("gemm_half: operands are bf16 or f16 bits, not {p:?}"),
    };
    let Some(d) = spec.dims(a.len(), b.len(), c.len()) else { return Ok(()) };
    let f = dev.function(&GEMM_TC, kernel)?;
    let mut l = dev.stream().launch_builder(&f);
    l.arg(a).arg(b).arg(c).arg(&d);
    // SAFETY: `gemm_tc_bf16/f16(const <half> *A, const <half> *B, float *C, GemmDims d)`: u16
    // buffers carry the half bits; addresses checked by `dims`.
    unsafe { l.launch(spec.launch(TC_THREADS)) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(m: usize, n: usize, k: usize) -> GemmSpec {
        GemmSpec {
            batch: 2,
            m,
            n,
            k,
            a: MatLayout::batched(&[2], &[m * k], 0, k, 1).unwrap(),
            b: MatLayout::batched(&[2], &[0], 3, 1, k).unwrap(),
            c: MatLayout::batched(&[2], &[m * n], 0, n, 1).unwrap(),
            accumulate: false,
        }
    }

    #[test]
    fn layouts_pack_into_the_parameter_block() {
        let s = spec(3, 4, 5);
        // A: 2 items of 3×5; B: one 5×4 transposed matrix at offset 3 broadcast; C: 2 × 3×4.
        let d = s.dims(30, 23, 24).unwrap();
        assert_eq!((d.m, d.n, d.k, d.batch, d.accumulate), (3, 4, 5, 2, 0));
        assert_eq!((d.a_rs, d.a_cs, d.b_rs, d.b_cs, d.c_rs), (5, 1, 1, 5, 4));
        assert_eq!(d.b_batch.offset, 3);
        let cfg = s.launch(PLAIN_THREADS);
        assert_eq!((cfg.grid_dim, cfg.block_dim), ((1, 1, 2), (256, 1, 1)));
        assert!(spec(0, 4, 5).dims(0, 23, 0).is_none());
    }

    #[test]
    #[should_panic(expected = "exceeds its buffer")]
    fn a_layout_past_its_buffer_panics() {
        spec(3, 4, 5).dims(29, 23, 24);
    }

    #[test]
    #[should_panic(expected = "does not hold")]
    fn batch_layout_must_match_the_batch() {
        let mut s = spec(3, 4, 5);
        s.batch = 3;
        s.dims(100, 100, 100);
    }
}
