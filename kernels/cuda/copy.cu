// Strided copies, fills and dtype casts: the kernels behind `contiguous()`, `to_dtype()`,
// `zeros`/`full` on a GPU.
// Launch: 1-D grid-stride, any grid (kernels::cuda::launch_1d).
// Copies move raw bits, so one kernel per element width serves every dtype of that width.
#include "common.cuh"
#include "from_f64.cuh"

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

// Casts between any two dtypes, read through a strided layout, written contiguous. The CPU's
// `to_dtype` goes through f64 (`WithDType::to_f64`, then `from_f64`); so do these, exactly: every
// source value is exact in f64 except i64 beyond 2^53, which rounds to nearest as Rust's `as f64`.
__device__ __forceinline__ double load_f64(const float *p, long long o) { return (double)p[o]; }
__device__ __forceinline__ double load_f64(const double *p, long long o) { return p[o]; }
__device__ __forceinline__ double load_f64(const long long *p, long long o) { return __ll2double_rn(p[o]); }
__device__ __forceinline__ double load_f64(const unsigned char *p, long long o) { return (double)p[o]; }
struct F16In { const unsigned short *p; };
__device__ __forceinline__ double load_f64(F16In in, long long o) { return (double)__half2float(__ushort_as_half(in.p[o])); }
struct BF16In { const unsigned short *p; };
__device__ __forceinline__ double load_f64(BF16In in, long long o) {
    return (double)__bfloat162float(__ushort_as_bfloat16(in.p[o]));
}

#define CAST_KERNEL(IN_T, IN_DECL, SI, OUT_T, OUT_DECL, SO)                                          \
    extern "C" __global__ void cast_##SI##_##SO(IN_T src_, StridedLayout l, OUT_T dst_,               \
                                                unsigned long long n) {                              \
        IN_DECL;                                                                                      \
        OUT_DECL;                                                                                     \
        GRID_STRIDE_LOOP(i, n) { store(dst, i, load_f64(src, strided_offset(l, i))); }                \
    }

// One source dtype to the five others.
#define CASTS_FROM(IN_T, IN_DECL, SI)                                                                  \
    CAST_KERNEL(IN_T, IN_DECL, SI, float *, float *dst = dst_, f32)                                   \
    CAST_KERNEL(IN_T, IN_DECL, SI, double *, double *dst = dst_, f64)                                 \
    CAST_KERNEL(IN_T, IN_DECL, SI, unsigned short *, F16Out dst = {dst_}, f16)                        \
    CAST_KERNEL(IN_T, IN_DECL, SI, unsigned short *, BF16Out dst = {dst_}, bf16)                      \
    CAST_KERNEL(IN_T, IN_DECL, SI, long long *, long long *dst = dst_, i64)                           \
    CAST_KERNEL(IN_T, IN_DECL, SI, unsigned char *, unsigned char *dst = dst_, u8)

CASTS_FROM(const float *, const float *src = src_, f32)
CASTS_FROM(const double *, const double *src = src_, f64)
CASTS_FROM(const unsigned short *, F16In src = {src_}, f16)
CASTS_FROM(const unsigned short *, BF16In src = {src_}, bf16)
CASTS_FROM(const long long *, const long long *src = src_, i64)
CASTS_FROM(const unsigned char *, const unsigned char *src = src_, u8)
