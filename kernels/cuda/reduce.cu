// Row reductions: the kernels behind `Tensor::reduce` (sum, mean, max, min, logsumexp, norm),
// `arg_reduce` and `arg_mask` on a GPU.
//
// Layout: the tensor layer moves the reduced axes last and makes the input contiguous, so the
// input is `rows × len` row-major starting at element `x_off`; outputs are contiguous `[rows]`.
// Launch: one block per row (grid-stride over rows when rows exceed the grid), blockDim.x a
// power of two ≤ REDUCE_THREADS chosen from `len` alone (kernels::cuda::reduce::row_threads).
// Order (fixed, so a rerun gives the same bits and the result depends only on the shape):
// thread t folds elements t, t + B, t + 2B, … of its row in that order, then the B partials are
// combined by a shared-memory tree, s[t] = s[t] ⊕ s[t + h] for h = B/2, B/4, …, 1.
//
// `op` codes (kernels/src/cuda/reduce.rs `reduce_code`, mirroring `ReduceOp`):
//   0 sum  1 mean  2 max  3 min  4 logsumexp  5 norm2
#include "common.cuh"

#define REDUCE_THREADS 256

__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }

template <typename T> __device__ __forceinline__ T nan_max(T a, T b) { return (isnan(a) || a >= b) ? a : b; }
template <typename T> __device__ __forceinline__ T nan_min(T a, T b) { return (isnan(a) || a <= b) ? a : b; }

// +∞ (NVRTC defines no INFINITY macro); exact in both precisions.
__device__ __forceinline__ double pos_inf() { return __longlong_as_double(0x7ff0000000000000LL); }

// Partial folds: 0 = sum of x, 1 = max, 2 = min, 3 = sum of x², 4 = sum of exp(x − m).
template <typename T> __device__ __forceinline__ T fold_identity(int kind) {
    if (kind == 1) return -(T)pos_inf();
    if (kind == 2) return (T)pos_inf();
    return (T)0;
}
template <typename T> __device__ __forceinline__ T fold_step(int kind, T acc, T v, T m) {
    switch (kind) {
    case 1: return nan_max(acc, v);
    case 2: return nan_min(acc, v);
    case 3: return acc + v * v;
    case 4: return acc + m_exp(v - m);
    default: return acc + v;
    }
}
template <typename T> __device__ __forceinline__ T fold_combine(int kind, T a, T b) {
    switch (kind) {
    case 1: return nan_max(a, b);
    case 2: return nan_min(a, b);
    default: return a + b;
    }
}

// Folds one row across the block; every thread returns the row's result. Called by all threads
// of the block (it synchronises); `sh` holds REDUCE_THREADS partials.
template <typename T>
__device__ T block_fold(int kind, const T *row, unsigned long long len, T m, T *sh) {
    const unsigned int t = threadIdx.x, B = blockDim.x;
    T acc = fold_identity<T>(kind);
    for (unsigned long long j = t; j < len; j += B) {
        acc = fold_step<T>(kind, acc, row[j], m);
    }
    sh[t] = acc;
    __syncthreads();
    for (unsigned int h = B / 2; h > 0; h >>= 1) {
        if (t < h) {
            sh[t] = fold_combine<T>(kind, sh[t], sh[t + h]);
        }
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads(); // everyone has read sh[0] before the next fold overwrites it
    return r;
}

template <typename T>
__device__ void reduce_rows(const T *x, unsigned long long x_off, T *out, unsigned long long rows,
                            unsigned long long len, int op, T *sh) {
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *row = x + x_off + r * len;
        T res;
        switch (op) {
        case 1: res = block_fold<T>(0, row, len, (T)0, sh) / (T)len; break;
        case 2: res = block_fold<T>(1, row, len, (T)0, sh); break;
        case 3: res = block_fold<T>(2, row, len, (T)0, sh); break;
        case 4: {
            // ±inf (and NaN) maxima decide the result alone: log Σ exp = m.
            T m = block_fold<T>(1, row, len, (T)0, sh);
            if (isinf(m) || isnan(m)) {
                res = m;
            } else {
                res = m + m_log(block_fold<T>(4, row, len, m, sh));
            }
            break;
        }
        case 5: res = m_sqrt(block_fold<T>(3, row, len, (T)0, sh)); break;
        default: res = block_fold<T>(0, row, len, (T)0, sh); break;
        }
        if (threadIdx.x == 0) {
            out[r] = res;
        }
    }
}

// Is candidate (vb, ib) better than (va, ia)? The first NaN wins, else the larger (smaller for
// min) value, ties to the lower index: the CPU's first-occurrence rule. ia/ib < 0 = no candidate.
template <typename T> __device__ __forceinline__ bool arg_better(bool max, T va, long long ia, T vb, long long ib) {
    if (ib < 0) return false;
    if (ia < 0) return true;
    bool na = isnan(va), nb = isnan(vb);
    if (na || nb) {
        return na && nb ? ib < ia : nb;
    }
    if (max ? vb > va : vb < va) return true;
    if (max ? va > vb : va < vb) return false;
    return ib < ia;
}

template <typename T>
__device__ void arg_reduce_rows(const T *x, unsigned long long x_off, long long *out, unsigned long long rows,
                                unsigned long long len, int max, T *sv, long long *si) {
    const unsigned int t = threadIdx.x, B = blockDim.x;
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *row = x + x_off + r * len;
        T bv = (T)0;
        long long bi = -1;
        for (unsigned long long j = t; j < len; j += B) {
            T v = row[j];
            if (arg_better<T>(max != 0, bv, bi, v, (long long)j)) {
                bv = v;
                bi = (long long)j;
            }
        }
        sv[t] = bv;
        si[t] = bi;
        __syncthreads();
        for (unsigned int h = B / 2; h > 0; h >>= 1) {
            if (t < h && arg_better<T>(max != 0, sv[t], si[t], sv[t + h], si[t + h])) {
                sv[t] = sv[t + h];
                si[t] = si[t + h];
            }
            __syncthreads();
        }
        if (t == 0) {
            out[r] = si[0] < 0 ? 0 : si[0];
        }
        __syncthreads();
    }
}

#define REDUCE_KERNELS(T, S)                                                                          \
    /* out[r] = op(x[x_off + r·len .. x_off + (r+1)·len]) */                                          \
    extern "C" __global__ void reduce_rows_##S(const T *x, unsigned long long x_off, T *out,         \
                                               unsigned long long rows, unsigned long long len,      \
                                               int op) {                                              \
        __shared__ T sh[REDUCE_THREADS];                                                              \
        reduce_rows<T>(x, x_off, out, rows, len, op, sh);                                             \
    }                                                                                                 \
    /* out[r] = index of the first max (max != 0) or min of row r */                                  \
    extern "C" __global__ void arg_reduce_rows_##S(const T *x, unsigned long long x_off,             \
                                                   long long *out, unsigned long long rows,          \
                                                   unsigned long long len, int max) {                \
        __shared__ T sv[REDUCE_THREADS];                                                              \
        __shared__ long long si[REDUCE_THREADS];                                                      \
        arg_reduce_rows<T>(x, x_off, out, rows, len, max, sv, si);                                    \
    }                                                                                                 \
    /* mask[r·len + idx[r]] = 1 for r < rows (mask zero-filled by the caller); 1-D grid-stride */     \
    extern "C" __global__ void arg_mask_##S(const long long *idx, T *mask, unsigned long long rows,  \
                                            unsigned long long len) {                                 \
        GRID_STRIDE_LOOP(r, rows) { mask[r * len + (unsigned long long)idx[r]] = (T)1; }              \
    }

REDUCE_KERNELS(float, f32)
REDUCE_KERNELS(double, f64)
