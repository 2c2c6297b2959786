// Layer, RMS and group normalisation (forward, input gradient, gamma/beta gradients) and
// cross-entropy (forward per row, mean, gradient), f32 and f64, as `kernels/src/norm` and
// `kernels/src/softmax.rs` compute them on the CPU.
//
// Layouts:
// - inputs are read through a `StridedLayout` (any view) at their logical row-major index;
//   outputs are contiguous;
// - a norm sees `rows` rows of `d` elements: x: [rows, d]; mean, rstd: [rows]. Element i of row r
//   uses the affine channel `(r % groups) * (d / s) + i / s` (layer/RMS norm: groups = s = 1;
//   group norm on [n, c, s]: rows = n * groups, d = (c / groups) * s);
// - cross-entropy: logits: [rows, classes]; targets: [rows] i64; losses: [rows].
// Absent gamma/beta/mean are null pointers (read as 1 / 0 / 0).
//
// Launch shapes (kernels::cuda::norm):
// - row kernels (`*_rows_*`, `ce_*`, `gn_param_partials_*`): blocks of exactly NORM_THREADS
//   threads, any grid (blocks loop over rows); each row is reduced by a fixed shared-memory tree,
//   so results depend only on the shapes;
// - `norm_param_partials_*` and `colsum_*`: 1-D grid-stride, any grid.
// dgamma/dbeta: partial column sums over fixed chunks of NORM_CHUNK rows (or per (n, channel)
// for group norm), then `colsum` adds the partials in chunk order. No atomics anywhere.
#include "common.cuh"

#define NORM_THREADS 256 // kernels::cuda::norm::THREADS
#define NORM_CHUNK 64    // kernels::cuda::norm::CHUNK_ROWS

__device__ __forceinline__ float f_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double f_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float f_exp(float v) { return expf(v); }
__device__ __forceinline__ double f_exp(double v) { return exp(v); }
__device__ __forceinline__ float f_log(float v) { return logf(v); }
__device__ __forceinline__ double f_log(double v) { return log(v); }
__device__ __forceinline__ float f_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double f_max(double a, double b) { return fmax(a, b); }
__device__ __forceinline__ float f_nan(float) { return __int_as_float(0x7fc00000); }
__device__ __forceinline__ double f_nan(double) { return __longlong_as_double(0x7ff8000000000000LL); }
__device__ __forceinline__ float f_neg_inf(float) { return __int_as_float(0xff800000); }
__device__ __forceinline__ double f_neg_inf(double) { return __longlong_as_double(0xfff0000000000000LL); }

// Sum of `v` over the block (blockDim.x == NORM_THREADS) by a fixed tree; every thread gets it.
template <typename T> __device__ T block_sum(T v, T *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned int k = NORM_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) {
            sh[threadIdx.x] += sh[threadIdx.x + k];
        }
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

// Max of `v` over the block (NaN-ignoring like Rust's `max`); every thread gets it.
template <typename T> __device__ T block_max(T v, T *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned int k = NORM_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) {
            sh[threadIdx.x] = f_max(sh[threadIdx.x], sh[threadIdx.x + k]);
        }
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

// Forward: mean (if center), var, rstd = 1/sqrt(var + eps), y = (x - mean) * rstd * gamma + beta.
// mean may be null (RMS norm: center = 0).
template <typename T>
__device__ void norm_forward(const T *x, StridedLayout lx, const T *gamma, StridedLayout lg, const T *beta,
                             StridedLayout lb, T *y, T *mean, T *rstd, unsigned long long rows,
                             unsigned long long d, unsigned long long groups, unsigned long long s, int center, T eps) {
    __shared__ T sh[NORM_THREADS];
    const T inv_d = d ? (T)1 / (T)d : (T)0;
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const unsigned long long base = r * d;
        T mu = 0;
        if (center) {
            T acc = 0;
            for (unsigned long long i = threadIdx.x; i < d; i += NORM_THREADS) {
                acc += x[strided_offset(lx, base + i)];
            }
            mu = block_sum(acc, sh) * inv_d;
        }
        T acc = 0;
        for (unsigned long long i = threadIdx.x; i < d; i += NORM_THREADS) {
            T v = x[strided_offset(lx, base + i)] - mu;
            acc += v * v;
        }
        const T var = block_sum(acc, sh) * inv_d;
        const T inv = (T)1 / f_sqrt(var + eps);
        if (threadIdx.x == 0) {
            if (mean) {
                mean[r] = mu;
            }
            rstd[r] = inv;
        }
        const unsigned long long c0 = (r % groups) * (d / s);
        for (unsigned long long i = threadIdx.x; i < d; i += NORM_THREADS) {
            const unsigned long long ch = c0 + i / s;
            const T g = gamma ? gamma[strided_offset(lg, ch)] : (T)1;
            const T b = beta ? beta[strided_offset(lb, ch)] : (T)0;
            y[base + i] = (x[strided_offset(lx, base + i)] - mu) * inv * g + b;
        }
    }
}

// Input gradient: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; without
// centring (RMS norm, center = 0, mean null) the mean(g) term is dropped.
template <typename T>
__device__ void norm_backward_dx(const T *x, StridedLayout lx, const T *dy, StridedLayout ldy, const T *gamma,
                                 StridedLayout lg, const T *mean, StridedLayout lm, const T *rstd, StridedLayout lr,
                                 T *dx, unsigned long long rows, unsigned long long d, unsigned long long groups,
                                 unsigned long long s, int center) {
    __shared__ T sh[NORM_THREADS];
    const T inv_d = d ? (T)1 / (T)d : (T)0;
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const unsigned long long base = r * d;
        const unsigned long long c0 = (r % groups) * (d / s);
        const T mu = center ? mean[strided_offset(lm, r)] : (T)0;
        const T rs = rstd[strided_offset(lr, r)];
        T sg = 0, sgx = 0;
        for (unsigned long long i = threadIdx.x; i < d; i += NORM_THREADS) {
            const T g = gamma ? gamma[strided_offset(lg, c0 + i / s)] : (T)1;
            const T gi = dy[strided_offset(ldy, base + i)] * g;
            sg += gi;
            sgx += gi * ((x[strided_offset(lx, base + i)] - mu) * rs);
        }
        const T mg = center ? block_sum(sg, sh) * inv_d : (T)0;
        const T mgx = block_sum(sgx, sh) * inv_d;
        for (unsigned long long i = threadIdx.x; i < d; i += NORM_THREADS) {
            const T g = gamma ? gamma[strided_offset(lg, c0 + i / s)] : (T)1;
            dx[base + i] = rs * (dy[strided_offset(ldy, base + i)] * g - mg - (x[strided_offset(lx, base + i)] - mu) * rs * mgx);
        }
    }
}

// Layer/RMS dgamma/dbeta, pass 1: pg[k][col] = sum over rows of chunk k (NORM_CHUNK rows, in
// order) of dy * xhat, pb[k][col] the same of dy. pg, pb: [chunks, d].
template <typename T>
__device__ void norm_param_partials(const T *x, StridedLayout lx, const T *dy, StridedLayout ldy, const T *mean,
                                    StridedLayout lm, const T *rstd, StridedLayout lr, T *pg, T *pb,
                                    unsigned long long rows, unsigned long long d, int center) {
    const unsigned long long chunks = (rows + NORM_CHUNK - 1) / NORM_CHUNK;
    GRID_STRIDE_LOOP(i, chunks * d) {
        const unsigned long long k = i / d, col = i % d;
        const unsigned long long end = min(rows, (k + 1) * NORM_CHUNK);
        T ag = 0, ab = 0;
        for (unsigned long long r = k * NORM_CHUNK; r < end; ++r) {
            const T mu = center ? mean[strided_offset(lm, r)] : (T)0;
            const T rs = rstd[strided_offset(lr, r)];
            const T dyv = dy[strided_offset(ldy, r * d + col)];
            ag += dyv * ((x[strided_offset(lx, r * d + col)] - mu) * rs);
            ab += dyv;
        }
        pg[i] = ag;
        pb[i] = ab;
    }
}

// Group-norm dgamma/dbeta, pass 1: one block per (sample ni, channel ch) sums dy * xhat and dy
// over the channel's s elements. x, dy: [n, c, s]; mean, rstd: [n * groups]; pg, pb: [n, c].
template <typename T>
__device__ void gn_param_partials(const T *x, StridedLayout lx, const T *dy, StridedLayout ldy, const T *mean,
                                  StridedLayout lm, const T *rstd, StridedLayout lr, T *pg, T *pb,
                                  unsigned long long n, unsigned long long c, unsigned long long s,
                                  unsigned long long groups) {
    __shared__ T sh[NORM_THREADS];
    const unsigned long long cg = c / groups;
    for (unsigned long long b = blockIdx.x; b < n * c; b += gridDim.x) {
        const unsigned long long ni = b / c, ch = b % c, blk = ni * groups + ch / cg;
        const T mu = mean[strided_offset(lm, blk)], rs = rstd[strided_offset(lr, blk)];
        T ag = 0, ab = 0;
        for (unsigned long long j = threadIdx.x; j < s; j += NORM_THREADS) {
            const T dyv = dy[strided_offset(ldy, b * s + j)];
            ag += dyv * ((x[strided_offset(lx, b * s + j)] - mu) * rs);
            ab += dyv;
        }
        ag = block_sum(ag, sh);
        ab = block_sum(ab, sh);
        if (threadIdx.x == 0) {
            pg[b] = ag;
            pb[b] = ab;
        }
    }
}

// Pass 2: out[j] = sum over k < chunks (in order) of part[k * width + j]. part: [chunks, width].
template <typename T>
__device__ void colsum(const T *part, T *out, unsigned long long chunks, unsigned long long width) {
    GRID_STRIDE_LOOP(j, width) {
        T acc = 0;
        for (unsigned long long k = 0; k < chunks; ++k) {
            acc += part[k * width + j];
        }
        out[j] = acc;
    }
}

// Cross-entropy per row with label smoothing eps (PyTorch): loss = -(1-eps) logp[t] - eps/C sum logp;
// 0 for a row whose target is the ignore index (has_ignore != 0). Targets are validated on the host.
template <typename T>
__device__ void ce_rows(const T *logits, StridedLayout ll, const long long *targets, StridedLayout lt, T *losses,
                        unsigned long long rows, unsigned long long classes, int has_ignore, long long ignore,
                        T eps) {
    __shared__ T sh[NORM_THREADS];
    const T c = (T)classes;
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const long long t = targets[strided_offset(lt, r)];
        if (has_ignore && t == ignore) { // uniform over the block
            if (threadIdx.x == 0) {
                losses[r] = 0;
            }
            continue;
        }
        const unsigned long long base = r * classes;
        T m = f_neg_inf((T)0);
        for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
            m = f_max(m, logits[strided_offset(ll, base + i)]);
        }
        m = block_max(m, sh);
        T se = 0;
        for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
            se += f_exp(logits[strided_offset(ll, base + i)] - m);
        }
        const T lse = f_log(block_sum(se, sh));
        const T nll = -((logits[strided_offset(ll, base + (unsigned long long)t)] - m) - lse);
        T loss = nll;
        if (eps != (T)0) { // uniform over the block
            T sx = 0;
            for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
                sx += logits[strided_offset(ll, base + i)] - m;
            }
            const T sum_logp = block_sum(sx, sh) - c * lse;
            loss = ((T)1 - eps) * nll - eps / c * sum_logp;
        }
        if (threadIdx.x == 0) {
            losses[r] = loss;
        }
    }
}

// One block: out[0] = sum(losses) / count, NaN when count == 0 (every row ignored).
template <typename T> __device__ void ce_mean(const T *losses, T *out, unsigned long long rows, unsigned long long count) {
    __shared__ T sh[NORM_THREADS];
    T acc = 0;
    for (unsigned long long i = threadIdx.x; i < rows; i += NORM_THREADS) {
        acc += losses[i];
    }
    const T total = block_sum(acc, sh);
    if (threadIdx.x == 0) {
        out[0] = count ? total / (T)count : f_nan((T)0);
    }
}

// dlogits = g * (softmax - smooth), minus g * (1 - eps) at the target; 0 for ignored rows, where
// g = (T)(dloss / max(count, 1)) computed in double (dloss: one f64 element).
template <typename T>
__device__ void ce_backward(const T *logits, StridedLayout ll, const long long *targets, StridedLayout lt,
                            const double *dloss, StridedLayout ldl, unsigned long long count, T *dl,
                            unsigned long long rows, unsigned long long classes, int has_ignore, long long ignore,
                            T eps) {
    __shared__ T sh[NORM_THREADS];
    const T g = (T)(dloss[strided_offset(ldl, 0)] / (double)(count > 1 ? count : 1));
    const T smooth = eps / (T)classes;
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const long long t = targets[strided_offset(lt, r)];
        const unsigned long long base = r * classes;
        if (has_ignore && t == ignore) {
            for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
                dl[base + i] = 0;
            }
            continue;
        }
        T m = f_neg_inf((T)0);
        for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
            m = f_max(m, logits[strided_offset(ll, base + i)]);
        }
        m = block_max(m, sh);
        T se = 0;
        for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
            se += f_exp(logits[strided_offset(ll, base + i)] - m);
        }
        const T sum = block_sum(se, sh);
        for (unsigned long long i = threadIdx.x; i < classes; i += NORM_THREADS) {
            const T p = f_exp(logits[strided_offset(ll, base + i)] - m) / sum;
            T v = g * (p - smooth);
            if (i == (unsigned long long)t) {
                v -= g * ((T)1 - eps);
            }
            dl[base + i] = v;
        }
    }
}

#define NORM_KERNELS(T, S)                                                                            \
    extern "C" __global__ void norm_rows_forward_##S(                                                 \
        const T *x, StridedLayout lx, const T *gamma, StridedLayout lg, const T *beta, StridedLayout lb, \
        T *y, T *mean, T *rstd, unsigned long long rows, unsigned long long d, unsigned long long groups,   \
        unsigned long long s, int center, T eps) {                                                    \
        norm_forward(x, lx, gamma, lg, beta, lb, y, mean, rstd, rows, d, groups, s, center, eps);     \
    }                                                                                                 \
    extern "C" __global__ void norm_rows_backward_dx_##S(                                             \
        const T *x, StridedLayout lx, const T *dy, StridedLayout ldy, const T *gamma, StridedLayout lg, \
        const T *mean, StridedLayout lm, const T *rstd, StridedLayout lr, T *dx, unsigned long long rows, \
        unsigned long long d, unsigned long long groups, unsigned long long s, int center) {               \
        norm_backward_dx(x, lx, dy, ldy, gamma, lg, mean, lm, rstd, lr, dx, rows, d, groups, s, center); \
    }                                                                                                 \
    extern "C" __global__ void norm_param_partials_##S(                                               \
        const T *x, StridedLayout lx, const T *dy, StridedLayout ldy, const T *mean, StridedLayout lm, \
        const T *rstd, StridedLayout lr, T *pg, T *pb, unsigned long long rows, unsigned long long d, \
        int center) {                                                                                 \
        norm_param_partials(x, lx, dy, ldy, mean, lm, rstd, lr, pg, pb, rows, d, center);             \
    }                                                                                                 \
    extern "C" __global__ void gn_param_partials_##S(                                                 \
        const T *x, StridedLayout lx, const T *dy, StridedLayout ldy, const T *mean, StridedLayout lm, \
        const T *rstd, StridedLayout lr, T *pg, T *pb, unsigned long long n, unsigned long long c,    \
        unsigned long long s, unsigned long long groups) {                                                  \
        gn_param_partials(x, lx, dy, ldy, mean, lm, rstd, lr, pg, pb, n, c, s, groups);               \
    }                                                                                                 \
    extern "C" __global__ void colsum_##S(const T *part, T *out, unsigned long long chunks,          \
                                          unsigned long long width) {                                 \
        colsum(part, out, chunks, width);                                                             \
    }                                                                                                 \
    extern "C" __global__ void ce_rows_##S(const T *logits, StridedLayout ll, const long long *targets, \
                                           StridedLayout lt, T *losses, unsigned long long rows,      \
                                           unsigned long long classes, int has_ignore, long long ignore, \
                                           T eps) {                                                   \
        ce_rows(logits, ll, targets, lt, losses, rows, classes, has_ignore, ignore, eps);             \
    }                                                                                                 \
    extern "C" __global__ void ce_mean_##S(const T *losses, T *out, unsigned long long rows,         \
                                           unsigned long long count) {                                \
        ce_mean(losses, out, rows, count);                                                            \
    }                                                                                                 \
    extern "C" __global__ void ce_backward_##S(                                                       \
        const T *logits, StridedLayout ll, const long long *targets, StridedLayout lt, const double *dloss, \
        StridedLayout ldl, unsigned long long count, T *dl, unsigned long long rows,                  \
        unsigned long long classes, int has_ignore, long long ignore, T eps) {                        \
        ce_backward(logits, ll, targets, lt, dloss, ldl, count, dl, rows, classes, has_ignore, ignore, eps); \
    }

NORM_KERNELS(float, f32)
NORM_KERNELS(double, f64)
