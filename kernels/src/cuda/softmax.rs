//! Launch wrappers for `kernels/cuda/softmax.cu`: softmax / log-softmax over contiguous rows and
//! their backward passes, one block per row with a fixed reduction tree.
use super::gemm::Float;
use super::{CudaSlice, GpuDevice, LaunchConfig, PushKernelArg, Result};
use crate::ptx::SOFTMAX;
use cudarc::driver::CudaView;

/// Threads per row: a power of two in `[32, 256]` from the row length alone, so the reduction
/// order depends only on the shape.
fn row_launch(rows: usize, d: usize) -> LaunchConfig {
    let threads = d.next_power_of_two().clamp(32, 256) as u32;
    LaunchConfig { grid_dim: (rows.clamp(1, 1 << 20) as u32, 1, 1), block_dim: (threads, 1, 1), shared_mem_bytes: 0 }
}

fn check(what: &str, len: usize, rows: usize, d: usize) {
    assert!(d <= u32::MAX as usize, "softmax: rows of {d} elements");
    assert!(len >= rows * d, "softmax: {what} holds {len} elements, needs {rows}×{d}");
}

/// `y = softmax(x)` per row, or `log_softmax` when `log`.
// x, y: [rows, d]
pub fn softmax_rows<T: Float>(
    dev: &GpuDevice,
    x: &CudaView<T>,
    y: &mut CudaSlice<T>,
    rows: usize,
    d: usize,
    log: bool,
) -> Result<()> {
    check("x", x.len(), rows, d);
    check("y", y.len(), rows, d);
    if rows == 0 || d == 0 {
        return Ok(());
    }
    let f = dev.function(&SOFTMAX, &format!("softmax_{}", T::NAME))?;
    let (rows64, d32, log32) = (rows as u64, d as u32, log as i32);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(x).arg(y).arg(&rows64).arg(&d32).arg(&log32);
    // SAFETY: `softmax_<T>(const T *x, T *y, u64 rows, unsigned int d, int log)`; lengths checked.
    unsafe { b.launch(row_launch(rows, d)) }?;
    Ok(())
}

/// Backward given the forward output `y`: softmax `dx = y·(dy − Σ dy·y)`, log-softmax
/// `dx = dy − exp(y)·Σ dy`.
// y, dy, dx: [rows, d]
pub fn softmax_rows_backward<T: Float>(
    dev: &GpuDevice,
    y: &CudaView<T>,
    dy: &CudaView<T>,
    dx: &mut CudaSlice<T>,
    rows: usize,
    d: usize,
    log: bool,
) -> Result<()> {
    check("y", y.len(), rows, d);
    check("dy", dy.len(), rows, d);
    check("dx", dx.len(), rows, d);
    if rows == 0 || d == 0 {
        return Ok(());
    }
    let f = dev.function(&SOFTMAX, &format!("softmax_backward_{}", T::NAME))?;
    let (rows64, d32, log32) = (rows as u64, d as u32, log as i32);
    let mut b = dev.stream().launch_builder(&f);
    b.arg(y).arg(dy).arg(dx).arg(&rows64).arg(&d32).arg(&log32);
    // SAFETY: `softmax_backward_<T>(const T *y, const T *dy, T *dx, u64 rows, unsigned int d,
    // int log)`; lengths checked.
    unsafe { b.launch(row_launch(rows, d)) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_depends_on_the_row_length_only() {
        let t = |d| row_launch(7, d).block_dim.0;
        assert_eq!((t(1), t(33), t(200), t(257), t(100_000)), (32, 64, 256, 256, 256));
        assert_eq!(row_launch(5_000_000, 3).grid_dim.0, 1 << 20);
    }
}
