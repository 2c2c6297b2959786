// Strided copies, fills and dtype casts: the kernels behind `contiguous()`, `to_dtype()`,
// `zeros`/`full` on a GPU.
// Launch: 1-D grid-stride, any grid (kernels::cuda::launch_1d).
// Copies move raw bits, so one kernel per element width serves every dtype of that width.
#include "common.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define COPY_KERNELS(T, SUFFIX)                                                                       \
    extern "C" __global__ void copy_strided_##SUFFIX(const T *src, StridedLayout l, T *dst,          \
                                                     unsigned long long n) {                         \
        GRID_STRIDE_LOOP(i, n) { dst[i] = src[strided_offset(l, i)]; }                                \
    }                                                                                                 \
    extern "C" __global__ void fill_##SUFFIX(T *dst, T v, unsigned long long n) {                    \
        GRID_STRIDE_LOOP(i, n) { dst[i] = v; }                                                        \
    }

COPY_KERNELS(unsigned char, b8)
COPY_KERNELS(unsigned short, b16)
COPY_KERNELS(unsigned int, b32)
COPY_KERNELS(unsigned long long, b64)

// Casts between the float dtypes (and i64/u8), read through a strided layout, written contiguous.
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(double v) { return (float)v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

#define CAST_KERNEL(TI, SI, TO, SO, EXPR)                                                             \
    extern "C" __global__ void cast_##SI##_##SO(const TI *src, StridedLayout l, TO *dst,             \
                                                unsigned long long n) {                              \
        GRID_STRIDE_LOOP(i, n) {                                                                      \
            TI x = src[strided_offset(l, i)];                                                         \
            dst[i] = EXPR;                                                                            \
        }                                                                                             \
    }

CAST_KERNEL(float, f32, double, f64, (double)x)
CAST_KERNEL(double, f64, float, f32, (float)x)
CAST_KERNEL(float, f32, __half, f16, __float2half_rn(x))
CAST_KERNEL(__half, f16, float, f32, __half2float(x))
CAST_KERNEL(float, f32, __nv_bfloat16, bf16, __float2bfloat16_rn(x))
CAST_KERNEL(__nv_bfloat16, bf16, float, f32, __bfloat162float(x))
CAST_KERNEL(double, f64, __half, f16, __double2half(x))
CAST_KERNEL(__half, f16, double, f64, (double)__half2float(x))
CAST_KERNEL(double, f64, __nv_bfloat16, bf16, __double2bfloat16(x))
CAST_KERNEL(__nv_bfloat16, bf16, double, f64, (double)__bfloat162float(x))
CAST_KERNEL(__half, f16, __nv_bfloat16, bf16, __float2bfloat16_rn(__half2float(x)))
CAST_KERNEL(__nv_bfloat16, bf16, __half, f16, __float2half_rn(__bfloat162float(x)))
CAST_KERNEL(long long, i64, float, f32, (float)x)
CAST_KERNEL(long long, i64, double, f64, (double)x)
CAST_KERNEL(unsigned char, u8, float, f32, (float)x)
CAST_KERNEL(unsigned char, u8, double, f64, (double)x)
CAST_KERNEL(float, f32, long long, i64, (long long)x)
CAST_KERNEL(double, f64, long long, i64, (long long)x)
CAST_KERNEL(float, f32, unsigned char, u8, (unsigned char)x)
CAST_KERNEL(double, f64, unsigned char, u8, (unsigned char)x)
CAST_KERNEL(long long, i64, unsigned char, u8, (unsigned char)x)
CAST_KERNEL(unsigned char, u8, long long, i64, (long long)x)
