// f64 -> every dtype exactly as the CPU's `WithDType::from_f64` does it, so that GPU casts and GPU
// random numbers give the CPU's bits: `store(out, i, v)` writes element i of the output.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

__device__ __forceinline__ void store(float *out, unsigned long long i, double v) { out[i] = __double2float_rn(v); }
__device__ __forceinline__ void store(double *out, unsigned long long i, double v) { out[i] = v; }
// f16: the `half` crate rounds f64 -> f32 -> f16 on x86 with F16C (every x86-64 CPU since 2012).
struct F16Out { unsigned short *p; };
__device__ __forceinline__ void store(F16Out out, unsigned long long i, double v) {
    out.p[i] = __half_as_ushort(__float2half_rn(__double2float_rn(v)));
}
// bf16: the `half` crate drops the low 32 bits of the f64 and rounds the rest to nearest even.
struct BF16Out { unsigned short *p; };
__device__ __forceinline__ void store(BF16Out out, unsigned long long i, double v) {
    double t = __longlong_as_double(__double_as_longlong(v) & (long long)0xFFFFFFFF00000000ULL);
    out.p[i] = __bfloat16_as_ushort(__double2bfloat16(t));
}
// i64 and u8: Rust's `as`: toward zero, saturating, NaN -> 0.
__device__ __forceinline__ void store(long long *out, unsigned long long i, double v) {
    out[i] = v != v ? 0 : v >= 9.2233720368547758e18 ? 0x7fffffffffffffffLL
           : v <= -9.2233720368547758e18 ? (long long)0x8000000000000000ULL : (long long)v;
}
__device__ __forceinline__ void store(unsigned char *out, unsigned long long i, double v) {
    out[i] = v != v || v <= 0.0 ? 0 : v >= 255.0 ? 255 : (unsigned char)(unsigned int)v;
}
