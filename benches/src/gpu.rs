//! `bench gpu` (feature `cuda`): what a lent GPU machine reports for the CUDA issue's targets —
//! elementwise bandwidth as a share of the device's peak (copy and add over 2²⁸ f32), and GEMM
//! throughput at 4096³: the plain f32 kernel (`Tensor::matmul`) and the tensor-core kernels (TF32,
//! bf16). cuBLAS is not linked, so there is no cuBLAS column. Every timing waits for the stream.
use crate::{json_line, round3, BoxResult};
use kernels::cuda::gemm::Precision;
use serde_json::json;
use std::time::Instant;
use tensor::cuda::nn::matmul::matmul_with;
use tensor::cuda::{device, synchronize};
use tensor::{DType, Device, Rng, Tensor};

/// The device's peak DRAM bandwidth in bytes/s: 2 transfers per memory clock × bus width, from the
/// driver's attributes.
fn peak_bandwidth(ordinal: usize) -> BoxResult<f64> {
    use kernels::cuda::cudarc::driver::sys::CUdevice_attribute as A;
    let ctx = device(ordinal)?.context().clone();
    let clock_khz = ctx.attribute(A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)? as f64;
    let bus_bits = ctx.attribute(A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)? as f64;
    Ok(2.0 * clock_khz * 1e3 * bus_bits / 8.0)
}

/// Median seconds of `f` over `reps` runs after two warm-up runs, each run synchronised.
fn time(dev: Device, reps: usize, mut f: impl FnMut() -> tensor::Result<Tensor>) -> BoxResult<f64> {
    for _ in 0..2 {
        f()?;
    }
    synchronize(dev)?;
    let mut ts = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        let out = f()?;
        synchronize(dev)?;
        ts.push(t0.elapsed().as_secs_f64());
        drop(out);
    }
    Ok(crate::step::median(&ts))
}

pub fn run(as_json: bool) -> BoxResult<()> {
    let dev = Device::Cuda(0);
    let gpu = device(0)?;
    let peak = peak_bandwidth(0)?;
    let mut rows = Vec::new();
    let n = 1usize << 28;
    let a = Tensor::full_on(&[n], 1.5, DType::F32, dev)?;
    let b = Tensor::full_on(&[n], 0.5, DType::F32, dev)?;
    // `copy()` always runs the copy kernel: reads n, writes n.
    let s = time(dev, 10, || a.copy())?;
    rows.push(("copy f32 2^28", 8.0 * n as f64 / s, s));
    let s = time(dev, 10, || a.add(&b))?;
    rows.push(("add f32 2^28", 12.0 * n as f64 / s, s));
    for (what, bytes_per_s, s) in &rows {
        let o = json_line(&[
            ("bench", json!("gpu-bandwidth")),
            ("op", json!(what)),
            ("device", json!(gpu.name())),
            ("median_ms", json!(round3(s * 1e3))),
            ("gb_per_s", json!(round3(bytes_per_s / 1e9))),
            ("peak_gb_per_s", json!(round3(peak / 1e9))),
            ("percent_of_peak", json!(round3(100.0 * bytes_per_s / peak))),
        ]);
        if as_json {
            println!("{o}");
        } else {
            println!(
                "{what}: {:.0} GB/s = {:.1} % of {:.0} GB/s",
                bytes_per_s / 1e9,
                100.0 * bytes_per_s / peak,
                peak / 1e9
            );
        }
    }
    let m = 4096;
    let mut rng = Rng::new(0);
    let x = rng.normal(&[m, m], 0.0, 1.0, DType::F32)?.to_device(dev)?;
    let y = rng.normal(&[m, m], 0.0, 1.0, DType::F32)?.to_device(dev)?;
    // bf16 operands stored as bf16 (what a bf16 model would hand the GEMM).
    let (xb, yb) = (x.to_dtype(DType::BF16)?, y.to_dtype(DType::BF16)?);
    let cases: [(&str, Precision, &Tensor, &Tensor); 3] =
        [("f32", Precision::F32, &x, &y), ("tf32", Precision::Tf32, &x, &y), ("bf16", Precision::Bf16, &xb, &yb)];
    for (name, prec, a, b) in cases {
        let s = time(dev, 5, || matmul_with(a, b, prec))?;
        let tflops = 2.0 * (m as f64).powi(3) / s / 1e12;
        let o = json_line(&[
            ("bench", json!("gpu-gemm")),
            ("shape", json!("sq4096")),
            ("precision", json!(name)),
            ("median_ms", json!(round3(s * 1e3))),
            ("tflops", json!(round3(tflops))),
            ("cublas", json!("not linked")),
        ]);
        if as_json {
            println!("{o}");
        } else {
            println!("GEMM 4096^3 {name}: {:.2} ms, {tflops:.1} TFLOP/s", s * 1e3);
        }
    }
    Ok(())
}
