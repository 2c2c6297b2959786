// Fused optimiser updates and the gradient sum of squares.
//
// adam_<T>, sgd_<T>, sgd_momentum_<T>: one step per element with exactly the operations of
// kernels/src/optim/mod.rs (`adam_step`, `sgd_step`) in the same order, each an explicit
// round-to-nearest intrinsic (__fadd_rn, __dmul_rn, …, never fused into a multiply-add), and the
// per-step scalars computed on the host by the same Rust code as on the CPU (`AdamConfig::scalars`),
// so f32 and f64 results are the CPU's bits. Inputs are views (StridedLayout); outputs are [n]
// contiguous fresh buffers.
// Launch: 1-D grid-stride, any grid (kernels::cuda::launch_1d).
//
// sumsq_partial_<T> + sumsq_final: Σ x² in f64 with a fixed order. Stage 1 runs a grid that
// depends only on n (kernels::cuda::optim::sumsq_grid), 256 threads per block: each thread adds
// its grid-stride elements in order, then a fixed shared-memory tree; one partial per block.
// Stage 2 is one block of 256 threads over the partials, the same way. No atomics.
#include "common.cuh"

__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// Weight decay in adam_<T>: none, AdamW's decoupled p·(1 − lr·wd), or Adam's L2 g + wd·p.
#define WD_NONE 0
#define WD_DECOUPLED 1
#define WD_L2 2

// Flags of sgd_<T> / sgd_momentum_<T>.
#define SGD_WEIGHT_DECAY 1
#define SGD_FIRST 2
#define SGD_NESTEROV 4

template <typename T>
__device__ void adam_body(const T *p, StridedLayout lp, const T *g, StridedLayout lg, const T *m,
                          StridedLayout lm, const T *v, StridedLayout lv, T *p_out, T *m_out, T *v_out,
                          unsigned long long n, T b1, T b2, T bc2_sqrt, T step_size, T wd, T decay,
                          T eps, int wd_mode) {
    const T one = (T)1;
    GRID_STRIDE_LOOP(i, n) {
        T pi = p[strided_offset(lp, i)], gi = g[strided_offset(lg, i)], mi = m[strided_offset(lm, i)], vi = v[strided_offset(lv, i)];
        if (wd_mode == WD_DECOUPLED) {
            pi = mul(pi, decay);
        } else if (wd_mode == WD_L2) {
            gi = add(gi, mul(wd, pi));
        }
        mi = add(mi, mul(sub(one, b1), sub(gi, mi)));
        vi = add(mul(vi, b2), mul(mul(sub(one, b2), gi), gi));
        T denom = add(div(sqrt_rn(vi), bc2_sqrt), eps);
        pi = sub(pi, mul(step_size, div(mi, denom)));
        p_out[i] = pi;
        m_out[i] = mi;
        v_out[i] = vi;
    }
}

template <typename T>
__device__ void sgd_body(const T *p, StridedLayout lp, const T *g, StridedLayout lg, T *p_out,
                         unsigned long long n, T lr, T wd, int flags) {
    GRID_STRIDE_LOOP(i, n) {
        T pi = p[strided_offset(lp, i)], d = g[strided_offset(lg, i)];
        if (flags & SGD_WEIGHT_DECAY) d = add(d, mul(wd, pi));
        p_out[i] = sub(pi, mul(lr, d));
    }
}

template <typename T>
__device__ void sgd_momentum_body(const T *p, StridedLayout lp, const T *g, StridedLayout lg,
                                  const T *buf, StridedLayout lb, T *p_out, T *buf_out,
                                  unsigned long long n, T lr, T mu, T damp, T wd, int flags) {
    GRID_STRIDE_LOOP(i, n) {
        T pi = p[strided_offset(lp, i)], d = g[strided_offset(lg, i)];
        if (flags & SGD_WEIGHT_DECAY) d = add(d, mul(wd, pi));
        T b = (flags & SGD_FIRST) ? d : add(mul(buf[strided_offset(lb, i)], mu), mul(damp, d));
        d = (flags & SGD_NESTEROV) ? add(d, mul(mu, b)) : b;
        p_out[i] = sub(pi, mul(lr, d));
        buf_out[i] = b;
    }
}

#define SUMSQ_THREADS 256

// The fixed tree over a block's 256 per-thread sums; thread 0 gets the total.
__device__ __forceinline__ double block_sum(double acc) {
    __shared__ double sh[SUMSQ_THREADS];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned int s = SUMSQ_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = __dadd_rn(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    return sh[0];
}

// partial[blockIdx.x] = Σ x² over this block's elements (blockDim.x must be SUMSQ_THREADS).
template <typename T>
__device__ void sumsq_partial_body(const T *x, StridedLayout l, unsigned long long n, double *partial) {
    double acc = 0.0;
    GRID_STRIDE_LOOP(i, n) {
        double xi = (double)x[strided_offset(l, i)];
        acc = __dadd_rn(acc, __dmul_rn(xi, xi));
    }
    double total = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// out[0] = Σ partial[0..count) (one block of SUMSQ_THREADS threads).
extern "C" __global__ void sumsq_final(const double *partial, unsigned int count, double *out) {
    double acc = 0.0;
    for (unsigned int i = threadIdx.x; i < count; i += SUMSQ_THREADS) acc = __dadd_rn(acc, partial[i]);
    double total = block_sum(acc);
    if (threadIdx.x == 0) out[0] = total;
}

#define OPTIM_KERNELS(T, SUFFIX)                                                                      \
    extern "C" __global__ void adam_##SUFFIX(                                                        \
        const T *p, StridedLayout lp, const T *g, StridedLayout lg, const T *m, StridedLayout lm,    \
        const T *v, StridedLayout lv, T *p_out, T *m_out, T *v_out, unsigned long long n, T b1,      \
        T b2, T bc2_sqrt, T step_size, T wd, T decay, T eps, int wd_mode) {                          \
        adam_body<T>(p, lp, g, lg, m, lm, v, lv, p_out, m_out, v_out, n, b1, b2, bc2_sqrt, step_size, \
                     wd, decay, eps, wd_mode);                                                       \
    }                                                                                                 \
    extern "C" __global__ void sgd_##SUFFIX(const T *p, StridedLayout lp, const T *g, StridedLayout lg, \
                                            T *p_out, unsigned long long n, T lr, T wd, int flags) {  \
        sgd_body<T>(p, lp, g, lg, p_out, n, lr, wd, flags);                                          \
    }                                                                                                 \
    extern "C" __global__ void sgd_momentum_##SUFFIX(                                                \
        const T *p, StridedLayout lp, const T *g, StridedLayout lg, const T *buf, StridedLayout lb,  \
        T *p_out, T *buf_out, unsigned long long n, T lr, T mu, T damp, T wd, int flags) {           \
        sgd_momentum_body<T>(p, lp, g, lg, buf, lb, p_out, buf_out, n, lr, mu, damp, wd, flags);     \
    }                                                                                                 \
    extern "C" __global__ void sumsq_partial_##SUFFIX(const T *x, StridedLayout l, unsigned long long n, \
                                                      double *partial) {                             \
        sumsq_partial_body<T>(x, l, n, partial);                                                     \
    }

OPTIM_KERNELS(float, f32)
OPTIM_KERNELS(double, f64)
