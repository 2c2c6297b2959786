// Elementwise maps (unary, binary, their backward rules), comparisons and selection: the kernels
// behind `Tensor::unary`, `binary`, `cmp`, `where_cond`, `masked_fill` on a GPU.
//
// Layouts: every input is read through a `StridedLayout` (a view, possibly broadcast to the
// output shape with stride-0 dims); every output is a fresh contiguous buffer of `n` elements,
// element i in row-major order of the output shape.
// Launch: 1-D grid-stride over `n`, any grid (kernels::cuda::launch_1d).
// Arithmetic in the element type (f32 for f32, f64 for f64), no fast-math intrinsics.
//
// The `op` codes are listed once, in kernels/src/cuda/elementwise.rs (`unary_code`,
// `binary_code`, `cmp_code`), next to the CPU enums they mirror:
//   unary:  0 neg  1 abs  2 exp  3 log  4 log1p  5 sqrt  6 rsqrt  7 square  8 recip  9 sin
//          10 cos 11 tanh 12 sigmoid 13 relu 14 silu 15 gelu_tanh 16 gelu_erf 17 softplus
//          18 powf(p0 = p, p1 = p - 1, p2 = 1 if p == 0)  19 clamp(p0 = lo, p1 = hi)
//          20 affine(p0 = a, p1 = b)
//   binary: 0 add 1 sub 2 mul 3 div 4 pow 5 maximum 6 minimum
//   cmp:    0 eq 1 lt 2 le 3 gt 4 ge
#include "common.cuh"

// The math functions, named once per precision (f32 gets the `f` variants).
__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double m_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_sin(float x) { return sinf(x); }
__device__ __forceinline__ double m_sin(double x) { return sin(x); }
__device__ __forceinline__ float m_cos(float x) { return cosf(x); }
__device__ __forceinline__ double m_cos(double x) { return cos(x); }
__device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_erf(float x) { return erff(x); }
__device__ __forceinline__ double m_erf(double x) { return erf(x); }
__device__ __forceinline__ float m_pow(float x, float p) { return powf(x, p); }
__device__ __forceinline__ double m_pow(double x, double p) { return pow(x, p); }
__device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return fabs(x); }
// Like Rust's `max`: a NaN operand yields the other one.
__device__ __forceinline__ float m_fmax(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double m_fmax(double a, double b) { return fmax(a, b); }
__device__ __forceinline__ float m_copysign(float a, float b) { return copysignf(a, b); }
__device__ __forceinline__ double m_copysign(double a, double b) { return copysign(a, b); }

// `max`/`min` that propagate NaN (kernels::elementwise::nan_max / nan_min).
template <typename T> __device__ __forceinline__ T nan_max(T a, T b) { return (isnan(a) || a >= b) ? a : b; }
template <typename T> __device__ __forceinline__ T nan_min(T a, T b) { return (isnan(a) || a <= b) ? a : b; }

// sqrt(2/pi), the cubic coefficient of the tanh GELU, 1/sqrt(2), 1/sqrt(2 pi).
#define GELU_C 0.7978845608028654
#define GELU_A 0.044715
#define FRAC_1_SQRT_2 0.7071067811865476
#define INV_SQRT_2PI 0.3989422804014327

// σ(x) from exp(−|x|), which never overflows.
template <typename T> __device__ __forceinline__ T sigmoid(T x) {
    T e = m_exp(-m_abs(x));
    T r = (T)1 / ((T)1 + e);
    return x >= (T)0 ? r : e * r;
}

template <typename T> __device__ __forceinline__ T unary_fwd(int op, T x, T p0, T p1) {
    const T one = (T)1, zero = (T)0;
    switch (op) {
    case 0: return -x;
    case 1: return m_abs(x);
    case 2: return m_exp(x);
    case 3: return m_log(x);
    case 4: return m_log1p(x);
    case 5: return m_sqrt(x);
    case 6: return one / m_sqrt(x);
    case 7: return x * x;
    case 8: return one / x;
    case 9: return m_sin(x);
    case 10: return m_cos(x);
    case 11: return m_tanh(x);
    case 12: return sigmoid(x);
    case 13: return nan_max(x, zero);
    case 14: return x * sigmoid(x);
    case 15: return (T)0.5 * x * (one + m_tanh((T)GELU_C * (x + (T)GELU_A * x * x * x)));
    case 16: return (T)0.5 * x * (one + m_erf(x * (T)FRAC_1_SQRT_2));
    case 17: return m_fmax(x, zero) + m_log1p(m_exp(-m_abs(x)));
    case 18: return m_pow(x, p0);
    case 19: return nan_min(nan_max(x, p0), p1);
    case 20: return p0 * x + p1;
    default: return x;
    }
}

// f'(x) given x and y = f(x); the formulas of the CPU's backward table (`with_derivative`).
template <typename T> __device__ __forceinline__ T unary_grad(int op, T x, T y, T p0, T p1, T p2) {
    const T one = (T)1, zero = (T)0, half = (T)0.5;
    switch (op) {
    case 0: return -one;
    case 1: {
        T sign = isnan(x) ? x : m_copysign(one, x);
        return sign * (x == zero ? zero : one);
    }
    case 2: return y;
    case 3: return one / x;
    case 4: return one / (one + x);
    case 5: return half / y;
    case 6: return (T)(-0.5) * y * y * y;
    case 7: return (T)2 * x;
    case 8: return -y * y;
    case 9: return m_cos(x);
    case 10: return -m_sin(x);
    case 11: return one - y * y;
    case 12: return y * (one - y);
    case 13: return x > zero ? one : zero;
    case 14: {
        T s = sigmoid(x);
        return s * (one + x * (one - s));
    }
    case 15: {
        T t = m_tanh((T)GELU_C * (x + (T)GELU_A * x * x * x));
        return half * (one + t) + half * x * (one - t * t) * (T)GELU_C * (one + (T)(3.0 * GELU_A) * x * x);
    }
    case 16: {
        T cdf = half * (one + m_erf(x * (T)FRAC_1_SQRT_2));
        T pdf = m_exp((T)(-0.5) * x * x) * (T)INV_SQRT_2PI;
        return cdf + x * pdf;
    }
    case 17: return sigmoid(x);
    case 18: return p2 != zero ? zero : p0 * m_pow(x, p1);
    case 19: return (x >= p0 && x <= p1) ? one : zero;
    case 20: return p0;
    default: return zero;
    }
}

template <typename T> __device__ __forceinline__ T binary_fwd(int op, T a, T b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return m_pow(a, b);
    case 5: return nan_max(a, b);
    case 6: return nan_min(a, b);
    default: return a;
    }
}

// (∂y/∂a, ∂y/∂b) at (a, b) with y = op(a, b) (BinaryOp::partials; ties in max/min go to a).
template <typename T> __device__ __forceinline__ void binary_partials(int op, T a, T b, T y, T &pa, T &pb) {
    const T one = (T)1, zero = (T)0;
    switch (op) {
    case 0: pa = one; pb = one; break;
    case 1: pa = one; pb = -one; break;
    case 2: pa = b; pb = a; break;
    case 3: pa = one / b; pb = -a / (b * b); break;
    case 4:
        pb = a == zero ? zero : y * m_log(a);
        pa = b == zero ? zero : b * m_pow(a, b - one);
        break;
    case 5: if (a >= b) { pa = one; pb = zero; } else { pa = zero; pb = one; } break;
    case 6: if (a <= b) { pa = one; pb = zero; } else { pa = zero; pb = one; } break;
    default: pa = zero; pb = zero; break;
    }
}

template <typename T> __device__ __forceinline__ bool cmp_apply(int op, T a, T b) {
    switch (op) {
    case 0: return a == b;
    case 1: return a < b;
    case 2: return a <= b;
    case 3: return a > b;
    case 4: return a >= b;
    default: return false;
    }
}

#define FLOAT_KERNELS(T, S)                                                                           \
    /* y[i] = op(x[lx(i)]) */                                                                         \
    extern "C" __global__ void unary_##S(const T *x, StridedLayout lx, T *y, unsigned long long n,   \
                                         int op, T p0, T p1, T p2) {                                  \
        GRID_STRIDE_LOOP(i, n) { y[i] = unary_fwd<T>(op, x[strided_offset(lx, i)], p0, p1); }            \
    }                                                                                                 \
    /* dx[i] = dy[ldy(i)] * f'(x[lx(i)], y[ly(i)]) */                                                 \
    extern "C" __global__ void unary_backward_##S(const T *x, StridedLayout lx, const T *y,          \
                                                  StridedLayout ly, const T *dy, StridedLayout ldy,  \
                                                  T *dx, unsigned long long n, int op, T p0, T p1,   \
                                                  T p2) {                                            \
        GRID_STRIDE_LOOP(i, n) {                                                                      \
            T xv = x[strided_offset(lx, i)], yv = y[strided_offset(ly, i)];                                 \
            dx[i] = dy[strided_offset(ldy, i)] * unary_grad<T>(op, xv, yv, p0, p1, p2);                  \
        }                                                                                             \
    }                                                                                                 \
    /* out[i] = op(a[la(i)], b[lb(i)]) */                                                             \
    extern "C" __global__ void binary_##S(const T *a, StridedLayout la, const T *b, StridedLayout lb, \
                                          T *out, unsigned long long n, int op) {                     \
        GRID_STRIDE_LOOP(i, n) { out[i] = binary_fwd<T>(op, a[strided_offset(la, i)], b[strided_offset(lb, i)]); } \
    }                                                                                                 \
    /* ga[i] = dy·∂y/∂a, gb[i] = dy·∂y/∂b over the broadcast output shape */                          \
    extern "C" __global__ void binary_backward_##S(const T *a, StridedLayout la, const T *b,         \
                                                   StridedLayout lb, const T *y, StridedLayout ly,   \
                                                   const T *dy, StridedLayout ldy, T *ga, T *gb,     \
                                                   unsigned long long n, int op) {                   \
        GRID_STRIDE_LOOP(i, n) {                                                                      \
            T pa, pb;                                                                                 \
            binary_partials<T>(op, a[strided_offset(la, i)], b[strided_offset(lb, i)], y[strided_offset(ly, i)], pa, pb); \
            T g = dy[strided_offset(ldy, i)];                                                            \
            ga[i] = g * pa;                                                                           \
            gb[i] = g * pb;                                                                           \
        }                                                                                             \
    }                                                                                                 \
    /* out[i] = m[lm(i)] ? v : x[lx(i)] */                                                            \
    extern "C" __global__ void masked_fill_##S(const T *x, StridedLayout lx, const unsigned char *m,  \
                                               StridedLayout lm, T v, T *out, unsigned long long n) { \
        GRID_STRIDE_LOOP(i, n) { out[i] = m[strided_offset(lm, i)] != 0 ? v : x[strided_offset(lx, i)]; }   \
    }

FLOAT_KERNELS(float, f32)
FLOAT_KERNELS(double, f64)

// The contiguous f32 fast path, chosen on the host when every operand is a contiguous run that
// starts 16-byte aligned (the pointers passed already include the views' offsets): four elements
// per thread through 128-bit loads and stores, then the n % 4 tail, one element each for the
// first threads. Per element the same arithmetic as unary_f32 / binary_f32, so the same bits.
extern "C" __global__ void unary_vec4_f32(const float4 *x, float4 *y, unsigned long long n, int op, float p0,
                                          float p1) {
    GRID_STRIDE_LOOP(i, n / 4) {
        const float4 v = x[i];
        y[i] = make_float4(unary_fwd<float>(op, v.x, p0, p1), unary_fwd<float>(op, v.y, p0, p1),
                           unary_fwd<float>(op, v.z, p0, p1), unary_fwd<float>(op, v.w, p0, p1));
    }
    const unsigned long long t = n / 4 * 4 + (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n) {
        ((float *)y)[t] = unary_fwd<float>(op, ((const float *)x)[t], p0, p1);
    }
}
extern "C" __global__ void binary_vec4_f32(const float4 *a, const float4 *b, float4 *out, unsigned long long n,
                                           int op) {
    GRID_STRIDE_LOOP(i, n / 4) {
        const float4 u = a[i], v = b[i];
        out[i] = make_float4(binary_fwd<float>(op, u.x, v.x), binary_fwd<float>(op, u.y, v.y),
                             binary_fwd<float>(op, u.z, v.z), binary_fwd<float>(op, u.w, v.w));
    }
    const unsigned long long t = n / 4 * 4 + (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n) {
        ((float *)out)[t] = binary_fwd<float>(op, ((const float *)a)[t], ((const float *)b)[t]);
    }
}

// out[i] = op(a[la(i)], b[lb(i)]) as 0/1 bytes.
#define CMP_KERNEL(T, S)                                                                              \
    extern "C" __global__ void cmp_##S(const T *a, StridedLayout la, const T *b, StridedLayout lb,    \
                                       unsigned char *out, unsigned long long n, int op) {            \
        GRID_STRIDE_LOOP(i, n) {                                                                      \
            out[i] = cmp_apply<T>(op, a[strided_offset(la, i)], b[strided_offset(lb, i)]) ? 1 : 0;          \
        }                                                                                             \
    }

CMP_KERNEL(float, f32)
CMP_KERNEL(double, f64)
CMP_KERNEL(long long, i64)
CMP_KERNEL(unsigned char, u8)

// out[i] = m[lm(i)] ? a[la(i)] : b[lb(i)]; moves raw bits, so one kernel per element width.
#define WHERE_KERNEL(T, S)                                                                            \
    extern "C" __global__ void where_##S(const unsigned char *m, StridedLayout lm, const T *a,        \
                                         StridedLayout la, const T *b, StridedLayout lb, T *out,      \
                                         unsigned long long n) {                                      \
        GRID_STRIDE_LOOP(i, n) {                                                                      \
            out[i] = m[strided_offset(lm, i)] != 0 ? a[strided_offset(la, i)] : b[strided_offset(lb, i)];      \
        }                                                                                             \
    }

WHERE_KERNEL(unsigned char, b8)
WHERE_KERNEL(unsigned short, b16)
WHERE_KERNEL(unsigned int, b32)
WHERE_KERNEL(unsigned long long, b64)
