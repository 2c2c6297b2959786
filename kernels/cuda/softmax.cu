// Softmax and log-softmax over contiguous rows, forward and backward (kernels::softmax on the
// CPU): x, y, dy, dx: [rows, d] row-major.
//
// Forward, with m = max(x) (NaN-ignoring, like the CPU's fold with max):
//   softmax = exp(x − m) / Σ exp(x − m),  log_softmax = (x − m) − log Σ exp(x − m).
// Backward, given the forward output y:
//   softmax: dx = y · (dy − Σ dy·y),  log_softmax: dx = dy − exp(y) · Σ dy.
//
// Launch: one block per row (grid-stride over rows, any grid), blockDim.x a power of two in
// [32, 256] chosen from d alone. Each thread reduces its elements i ≡ tid (mod blockDim) in order,
// then a fixed shared-memory tree combines the threads: the result depends only on the shapes.
#include "common.cuh"

#define SM_MAX_THREADS 256

// −∞ of each element type (no math header defines INFINITY under NVRTC).
template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return __int_as_float((int)0xff800000u); }
template <> __device__ __forceinline__ double neg_inf<double>() {
    return __longlong_as_double((long long)0xfff0000000000000ull);
}

__device__ __forceinline__ float ex(float v) { return expf(v); }
__device__ __forceinline__ double ex(double v) { return exp(v); }
__device__ __forceinline__ float ln(float v) { return logf(v); }
__device__ __forceinline__ double ln(double v) { return log(v); }
__device__ __forceinline__ float maxnum(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double maxnum(double a, double b) { return fmax(a, b); }

struct SumOp {
    template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
    template <typename T> __device__ T operator()(T a, T b) const { return maxnum(a, b); }
};

// Combines one value per thread with a fixed tree; every thread gets the result. `sh` holds
// blockDim.x values; the trailing barrier lets the caller reuse it.
template <typename T, typename Op> __device__ __forceinline__ T block_reduce(T v, T *sh, Op op) {
    const unsigned int t = threadIdx.x;
    sh[t] = v;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) {
            sh[t] = op(sh[t], sh[t + s]);
        }
        __syncthreads();
    }
    const T r = sh[0];
    __syncthreads();
    return r;
}

template <typename T>
__device__ __forceinline__ void softmax_fwd(const T *x, T *y, unsigned long long rows, unsigned int d, int log,
                                            T *sh) {
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * d;
        T *yr = y + r * d;
        T m = neg_inf<T>();
        for (unsigned int i = threadIdx.x; i < d; i += blockDim.x) {
            m = maxnum(m, xr[i]);
        }
        m = block_reduce(m, sh, MaxOp());
        T s = T(0);
        for (unsigned int i = threadIdx.x; i < d; i += blockDim.x) {
            s += ex(xr[i] - m);
        }
        s = block_reduce(s, sh, SumOp());
        if (log) {
            const T ls = ln(s);
            for (unsigned int i = threadIdx.x; i < d; i += blockDim.x) {
                yr[i] = (xr[i] - m) - ls;
            }
        } else {
            for (unsigned int i = threadIdx.x; i < d; i += blockDim.x) {
                yr[i] = ex(xr[i] - m) / s;
            }
        }
    }
}

template <typename T>
__device__ __forceinline__ void softmax_bwd(const T *y, const T *dy, T *dx, unsigned long long rows, unsigned int d,
                                            int log, T *sh) {
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *yr = y + r * d;
        const T *gr = dy + r * d;
        T *dr = dx + r * d;
        T s = T(0);
        for (unsigned int i = threadIdx.x; i < d; i += blockDim.x) {
            s += log ? gr[i] : yr[i] * gr[i];
        }
        s = block_reduce(s, sh, SumOp());
        for (unsigned int i = threadIdx.x; i < d; i += blockDim.x) {
            dr[i] = log ? gr[i] - ex(yr[i]) * s : yr[i] * (gr[i] - s);
        }
    }
}

#define SOFTMAX_KERNELS(T, S)                                                                                   \
    extern "C" __global__ void __launch_bounds__(SM_MAX_THREADS)                                                \
        softmax_##S(const T *x, T *y, unsigned long long rows, unsigned int d, int log) {                       \
        __shared__ T sh[SM_MAX_THREADS];                                                                        \
        softmax_fwd<T>(x, y, rows, d, log, sh);                                                                 \
    }                                                                                                           \
    extern "C" __global__ void __launch_bounds__(SM_MAX_THREADS) softmax_backward_##S(                          \
        const T *y, const T *dy, T *dx, unsigned long long rows, unsigned int d, int log) {                     \
        __shared__ T sh[SM_MAX_THREADS];                                                                        \
        softmax_bwd<T>(y, dy, dx, rows, d, log, sh);                                                            \
    }

SOFTMAX_KERNELS(float, f32)
SOFTMAX_KERNELS(double, f64)
