//! Shared by the `cuda_*` test files: run an op on the GPU and on the CPU and compare.
//! Without a GPU each test prints `skipped: <reason>` and passes (`REQUIRE_GPU=1` makes it fail).
#![allow(dead_code)]
use tensor::{DType, Device, Rng, Tensor};

/// Skips the test (returning early) when GPU 0 cannot be opened; evaluates to `Device::Cuda(0)`.
#[macro_export]
macro_rules! gpu_or_skip {
    () => {{
        let _dev = kernels::cuda_or_skip!();
        tensor::Device::Cuda(0)
    }};
}

/// A reproducible random tensor on the CPU.
pub fn rnd(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    Rng::new(seed).normal(shape, 0.0, 1.0, dtype).unwrap()
}

/// `t` on the GPU.
pub fn gpu(t: &Tensor) -> Tensor {
    t.to_device(Device::Cuda(0)).unwrap()
}

/// Views worth testing an op on: the tensor itself, a transposed copy viewed back (non-contiguous
/// with the same values), and a stepped slice. Each is returned with its CPU twin.
pub fn layouts(t: &Tensor) -> Vec<(String, Tensor, Tensor)> {
    let mut out = vec![("contiguous".to_string(), t.clone(), gpu(t))];
    if t.rank() >= 2 {
        let r = t.rank() as isize;
        let tt = t.transpose(r - 2, r - 1).unwrap().contiguous().unwrap().transpose(r - 2, r - 1).unwrap();
        let g = gpu(&t.transpose(r - 2, r - 1).unwrap()).transpose(r - 2, r - 1).unwrap();
        out.push(("transposed".to_string(), tt, g));
    }
    out
}

/// Asserts that a GPU result matches the CPU one: same shape and dtype, device Cuda, and every
/// element within `atol + rtol·|cpu|`.
pub fn assert_close(what: &str, gpu_result: &Tensor, cpu_result: &Tensor, atol: f64, rtol: f64) {
    assert_eq!(gpu_result.device(), Device::Cuda(0), "{what}: result is not on the GPU");
    assert_eq!(gpu_result.shape(), cpu_result.shape(), "{what}: shape");
    assert_eq!(gpu_result.dtype(), cpu_result.dtype(), "{what}: dtype");
    let (g, c) = (gpu_result.to_vec_f64().unwrap(), cpu_result.to_vec_f64().unwrap());
    for (i, (a, b)) in g.iter().zip(&c).enumerate() {
        let ok = (a - b).abs() <= atol + rtol * b.abs() || (a.is_nan() && b.is_nan()) || a == b;
        assert!(ok, "{what}: element {i}: gpu {a} vs cpu {b}");
    }
}

/// Tolerances per dtype for float kernels whose summation order differs from the CPU's.
pub fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-12, 1e-10),
        DType::F32 => (1e-5, 1e-4),
        _ => (1e-2, 1e-2),
    }
}
