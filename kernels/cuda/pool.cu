// 2-D max / average pooling and their backward passes (NCHW, contiguous), matching
// kernels::pool on the CPU element for element.
//
// Geometry: one `PoolDims` by value, mirrored by `kernels::cuda::pool::PoolDims` (repr(C)).
// Output (oh, ow) sees input rows [oh·sh − ph, oh·sh − ph + kh) ∩ [0, H) (columns likewise).
// - max: the first maximum in row-major window order wins, a NaN wins for good; `arg` gets the
//   flat index into x (plane·H·W + ih·W + iw), or −1 (usize::MAX on the CPU) for an empty window.
// - avg: count_include_pad, i.e. window sum · inv with inv = 1/(kh·kw) computed by the caller.
// Backward passes gather (no atomics): input (ih, iw) visits the outputs whose windows contain it,
// oh in [ceil((ih + ph − kh + 1)/sh), floor((ih + ph)/sh)] ∩ [0, Ho), in row-major output order,
// the order in which the CPU adds them.
//
// Launch: 1-D grid-stride over the elements written (any grid; kernels::cuda::launch_1d).
#include "common.cuh"

struct PoolDims {
    int n, c, h, w;
    int kh, kw, sh, sw, ph, pw;
    int ho, wo;
};
static_assert(sizeof(PoolDims) == 48, "PoolDims layout");

// −∞ of each element type (no math header defines INFINITY under NVRTC).
template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return __int_as_float((int)0xff800000u); }
template <> __device__ __forceinline__ double neg_inf<double>() {
    return __longlong_as_double((long long)0xfff0000000000000ull);
}

// x · y rounded once (never fused into a following add), as the CPU computes `d * inv`.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

__device__ __forceinline__ bool is_nan(float v) { return isnan(v); }
__device__ __forceinline__ bool is_nan(double v) { return isnan(v); }

// The clipped window [lo, hi) of output index o along one axis.
__device__ __forceinline__ void window(int o, int s, int p, int k, int len, int &lo, int &hi) {
    const int start = o * s - p;
    lo = min(max(start, 0), len);
    hi = min(max(start + k, 0), len);
}

// The outputs [lo, hi] whose windows contain input index i along one axis (hi < lo: none).
__device__ __forceinline__ void covering(int i, int s, int p, int k, int out, int &lo, int &hi) {
    const int first = i + p - k + 1; // o·s ≥ first
    lo = first <= 0 ? 0 : (first + s - 1) / s;
    hi = min((i + p) / s, out - 1);
}

template <typename T> __device__ __forceinline__ void max_fwd(const T *x, T *y, long long *arg, const PoolDims &g) {
    const unsigned long long hw = (unsigned long long)g.h * g.w, plane_out = (unsigned long long)g.ho * g.wo;
    const unsigned long long total = (unsigned long long)g.n * g.c * plane_out;
    GRID_STRIDE_LOOP(i, total) {
        const unsigned long long plane = i / plane_out, o = i % plane_out;
        const int oh = (int)(o / g.wo), ow = (int)(o % g.wo);
        int r0, r1, c0, c1;
        window(oh, g.sh, g.ph, g.kh, g.h, r0, r1);
        window(ow, g.sw, g.pw, g.kw, g.w, c0, c1);
        const T *xp = x + plane * hw;
        T best = neg_inf<T>();
        long long best_i = -1;
        for (int ih = r0; ih < r1; ++ih) {
            for (int iw = c0; iw < c1; ++iw) {
                const T v = xp[ih * g.w + iw];
                if (best_i < 0 || v > best || (is_nan(v) && !is_nan(best))) {
                    best = v;
                    best_i = ih * g.w + iw;
                }
            }
        }
        y[i] = best;
        arg[i] = best_i < 0 ? -1 : (long long)(plane * hw) + best_i;
    }
}

template <typename T>
__device__ __forceinline__ void max_bwd(const T *dy, const long long *arg, T *dx, const PoolDims &g) {
    const unsigned long long hw = (unsigned long long)g.h * g.w, plane_out = (unsigned long long)g.ho * g.wo;
    const unsigned long long total = (unsigned long long)g.n * g.c * hw;
    GRID_STRIDE_LOOP(i, total) {
        const unsigned long long plane = i / hw, q = i % hw;
        const int ih = (int)(q / g.w), iw = (int)(q % g.w);
        int oh0, oh1, ow0, ow1;
        covering(ih, g.sh, g.ph, g.kh, g.ho, oh0, oh1);
        covering(iw, g.sw, g.pw, g.kw, g.wo, ow0, ow1);
        const unsigned long long base = plane * plane_out;
        T acc = T(0);
        for (int oh = oh0; oh <= oh1; ++oh) {
            for (int ow = ow0; ow <= ow1; ++ow) {
                const unsigned long long o = base + (unsigned long long)oh * g.wo + ow;
                if (arg[o] == (long long)i) {
                    acc += dy[o];
                }
            }
        }
        dx[i] = acc;
    }
}

template <typename T> __device__ __forceinline__ void avg_fwd(const T *x, T *y, const PoolDims &g, T inv) {
    const unsigned long long hw = (unsigned long long)g.h * g.w, plane_out = (unsigned long long)g.ho * g.wo;
    const unsigned long long total = (unsigned long long)g.n * g.c * plane_out;
    GRID_STRIDE_LOOP(i, total) {
        const unsigned long long plane = i / plane_out, o = i % plane_out;
        const int oh = (int)(o / g.wo), ow = (int)(o % g.wo);
        int r0, r1, c0, c1;
        window(oh, g.sh, g.ph, g.kh, g.h, r0, r1);
        window(ow, g.sw, g.pw, g.kw, g.w, c0, c1);
        const T *xp = x + plane * hw;
        T acc = T(0);
        for (int ih = r0; ih < r1; ++ih) {
            for (int iw = c0; iw < c1; ++iw) {
                acc += xp[ih * g.w + iw];
            }
        }
        y[i] = mul_rn(acc, inv);
    }
}

template <typename T> __device__ __forceinline__ void avg_bwd(const T *dy, T *dx, const PoolDims &g, T inv) {
    const unsigned long long hw = (unsigned long long)g.h * g.w, plane_out = (unsigned long long)g.ho * g.wo;
    const unsigned long long total = (unsigned long long)g.n * g.c * hw;
    GRID_STRIDE_LOOP(i, total) {
        const unsigned long long plane = i / hw, q = i % hw;
        const int ih = (int)(q / g.w), iw = (int)(q % g.w);
        int oh0, oh1, ow0, ow1;
        covering(ih, g.sh, g.ph, g.kh, g.ho, oh0, oh1);
        covering(iw, g.sw, g.pw, g.kw, g.wo, ow0, ow1);
        const T *dyp = dy + plane * plane_out;
        T acc = T(0);
        for (int oh = oh0; oh <= oh1; ++oh) {
            for (int ow = ow0; ow <= ow1; ++ow) {
                acc += mul_rn(dyp[oh * g.wo + ow], inv);
            }
        }
        dx[i] = acc;
    }
}

#define POOL_KERNELS(T, S)                                                                                      \
    extern "C" __global__ void max_pool2d_##S(const T *x, T *y, long long *arg, PoolDims g) {                   \
        max_fwd<T>(x, y, arg, g);                                                                               \
    }                                                                                                           \
    extern "C" __global__ void max_pool2d_backward_##S(const T *dy, const long long *arg, T *dx, PoolDims g) {  \
        max_bwd<T>(dy, arg, dx, g);                                                                             \
    }                                                                                                           \
    extern "C" __global__ void avg_pool2d_##S(const T *x, T *y, PoolDims g, T inv) { avg_fwd<T>(x, y, g, inv); } \
    extern "C" __global__ void avg_pool2d_backward_##S(const T *dy, T *dx, PoolDims g, T inv) {                 \
        avg_bwd<T>(dy, dx, g, inv);                                                                             \
    }

POOL_KERNELS(float, f32)
POOL_KERNELS(double, f64)
