//! Launch wrappers for `kernels/cuda/reduce.cu`: row reductions over a contiguous `rows × len`
//! block (the tensor layer moves the reduced axes last first), one block per row.
//!
//! The block width depends on `len` only ([`row_threads`]) and every thread folds a fixed set of
//! elements in a fixed order before a fixed shared-memory tree, so a result depends on nothing
//! but the shape: reruns give the same bits.
use super::elementwise::Float;
use super::{CudaSlice, GpuDevice, LaunchConfig, PushKernelArg, Result};
pub use crate::cuda_params::{reduce_code, row_threads, REDUCE_THREADS};
use crate::ptx::REDUCE;
use crate::reduce::ReduceOp;

/// Most blocks launched; more rows than this are visited by a grid-stride loop.
const MAX_BLOCKS: usize = 1 << 20;

/// One block per row, capped (the kernels loop over the rest).
fn row_launch(rows: usize, len: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (rows.clamp(1, MAX_BLOCKS) as u32, 1, 1),
        block_dim: (row_threads(len), 1, 1),
        shared_mem_bytes: 0,
    }
}

/// `out[r] = op(x[off + r·len .. off + (r+1)·len])` for `r < rows`.
// x: [off + rows·len] contiguous; out: [rows]
pub fn reduce_rows<T: Float>(
    dev: &GpuDevice,
    op: ReduceOp,
    (x, off): (&CudaSlice<T>, usize),
    out: &mut CudaSlice<T>,
    rows: usize,
    len: usize,
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    let f = dev.function(&REDUCE, &format!("reduce_rows_{}", T::NAME))?;
    let (off64, rows64, len64, code) = (off as u64, rows as u64, len as u64, reduce_code(op));
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(&off64).arg(out).arg(&rows64).arg(&len64).arg(&code);
    // SAFETY: matches `reduce_rows_<T>(const T*, u64, T*, u64, u64, int)`; the caller's `x` holds
    // `off + rows·len` elements and `out` at least `rows`; the block width is a power of two
    // ≤ REDUCE_THREADS, as the kernel's shared arrays and tree require.
    unsafe { b.launch(row_launch(rows, len)) }?;
    Ok(())
}

/// `out[r]` = index of the first maximum (`max`) or minimum of row `r`; the first NaN wins.
// x: [off + rows·len] contiguous; out: [rows] i64
pub fn arg_reduce_rows<T: Float>(
    dev: &GpuDevice,
    (x, off): (&CudaSlice<T>, usize),
    out: &mut CudaSlice<i64>,
    rows: usize,
    len: usize,
    max: bool,
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    let f = dev.function(&REDUCE, &format!("arg_reduce_rows_{}", T::NAME))?;
    let (off64, rows64, len64, max32) = (off as u64, rows as u64, len as u64, max as i32);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(&off64).arg(out).arg(&rows64).arg(&len64).arg(&max32);
    // SAFETY: matches `arg_reduce_rows_<T>(const T*, u64, i64*, u64, u64, int)`; `x` holds
    // `off + rows·len` elements, `out` at least `rows`; power-of-two block ≤ REDUCE_THREADS.
    unsafe { b.launch(row_launch(rows, len)) }?;
    Ok(())
}

/// `mask[r·len + idx[r]] = 1` for `r < rows`; the rest of `mask` is left as it is (zeros).
// idx: [rows] i64, each < len; mask: [rows·len]
pub fn arg_mask<T: Float>(
    dev: &GpuDevice,
    idx: &CudaSlice<i64>,
    mask: &mut CudaSlice<T>,
    rows: usize,
    len: usize,
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    let f = dev.function(&REDUCE, &format!("arg_mask_{}", T::NAME))?;
    let (rows64, len64) = (rows as u64, len as u64);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(idx).arg(mask).arg(&rows64).arg(&len64);
    // SAFETY: matches `arg_mask_<T>(const i64*, T*, u64, u64)`; `idx` holds `rows` indices below
    // `len` (from `arg_reduce_rows`) and `mask` holds `rows·len` elements.
    unsafe { b.launch(super::launch_1d(rows)) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_threads_are_powers_of_two_within_the_shared_arrays() {
        for len in [0, 1, 3, 31, 32, 33, 100, 255, 256, 257, 1025, 1 << 20] {
            let t = row_threads(len);
            assert!(t.is_power_of_two() && (32..=REDUCE_THREADS).contains(&t), "{len}: {t}");
            assert!(t as usize >= len.min(REDUCE_THREADS as usize), "{len}: {t}");
        }
        let ops = [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::LogSumExp, ReduceOp::Norm2];
        assert_eq!(ops.map(reduce_code), [0, 1, 2, 3, 4, 5]);
    }
}
