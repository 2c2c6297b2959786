// 2-D convolution helpers (NCHW, cross-correlation as in PyTorch): im2col unrolls receptive
// fields into a column buffer that the GEMM kernels (gemm.cu) multiply with the weight; col2im is
// its adjoint, used for the input gradient.
//
// Geometry: one `ConvDims` by value, mirrored by `kernels::cuda::conv::ConvDims` (repr(C)). The
// tap (ki, kj) of output (oh, ow) reads input row ih = oh·sh − ph + ki·dh, column
// iw = ow·sw − pw + kj·dw (zero outside the image). Column-buffer row r = (c·kh + ki)·kw + kj
// (c over all input channels; a group g owns rows g·K .. (g+1)·K with K = C_in/groups·kh·kw), so
// the rows line up with a flattened weight [C_out, C_in/groups·kh·kw].
//
// Column buffers hold `nimg` images: element (img, r, p) with p = oh·Wo + ow lives at
// img·img_stride + r·row_stride + p. The forward pass uses [img][r][p] (img_stride = rows·P,
// row_stride = P); the weight gradient uses [r][img][p] (img_stride = P, row_stride = nimg·P) so
// that the sum over images is one GEMM depth.
// Images: x / dx point at image 0 of the chunk, [nimg, C_in, H, W] contiguous.
//
// Launch: 1-D grid-stride over the elements written (any grid; kernels::cuda::launch_1d).
// col2im gathers: each input element sums its taps in (ki, kj) order, no atomics.
#include "common.cuh"

struct ConvDims {
    int n, c_in, h, w;
    int c_out, kh, kw;
    int sh, sw, ph, pw, dh, dw;
    int ho, wo, groups;
};
static_assert(sizeof(ConvDims) == 64, "ConvDims layout");

template <typename T>
__device__ __forceinline__ void im2col(const T *x, T *cols, const ConvDims &g, unsigned int nimg,
                                       unsigned long long img_stride, unsigned long long row_stride) {
    const unsigned long long P = (unsigned long long)g.ho * g.wo;
    const unsigned long long rows = (unsigned long long)g.c_in * g.kh * g.kw;
    const unsigned long long total = (unsigned long long)nimg * rows * P;
    GRID_STRIDE_LOOP(i, total) {
        const unsigned long long p = i % P, t = i / P;
        const unsigned long long r = t % rows, img = t / rows;
        const int ow = (int)(p % g.wo), oh = (int)(p / g.wo);
        const int kj = (int)(r % g.kw), ki = (int)((r / g.kw) % g.kh), c = (int)(r / ((unsigned long long)g.kw * g.kh));
        const int ih = oh * g.sh - g.ph + ki * g.dh, iw = ow * g.sw - g.pw + kj * g.dw;
        T v = T(0);
        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) {
            v = x[((img * g.c_in + c) * g.h + ih) * g.w + iw];
        }
        cols[img * img_stride + r * row_stride + p] = v;
    }
}

template <typename T>
__device__ __forceinline__ void col2im(const T *cols, T *dx, const ConvDims &g, unsigned int nimg,
                                       unsigned long long img_stride, unsigned long long row_stride) {
    const unsigned long long total = (unsigned long long)nimg * g.c_in * g.h * g.w;
    GRID_STRIDE_LOOP(i, total) {
        const int iw = (int)(i % g.w);
        unsigned long long t = i / g.w;
        const int ih = (int)(t % g.h);
        t /= g.h;
        const int c = (int)(t % g.c_in);
        const unsigned long long img = t / g.c_in;
        const T *base = cols + img * img_stride;
        T acc = T(0);
        for (int ki = 0; ki < g.kh; ++ki) {
            // oh·sh = ih + ph − ki·dh must be a non-negative multiple of sh below Ho·sh.
            const int ohs = ih + g.ph - ki * g.dh;
            if (ohs < 0) {
                break; // only decreases with ki
            }
            if (ohs % g.sh != 0 || ohs / g.sh >= g.ho) {
                continue;
            }
            const int oh = ohs / g.sh;
            for (int kj = 0; kj < g.kw; ++kj) {
                const int ows = iw + g.pw - kj * g.dw;
                if (ows < 0) {
                    break;
                }
                if (ows % g.sw != 0 || ows / g.sw >= g.wo) {
                    continue;
                }
                const int ow = ows / g.sw;
                const unsigned long long r = ((unsigned long long)c * g.kh + ki) * g.kw + kj;
                acc += base[r * row_stride + (unsigned long long)oh * g.wo + ow];
            }
        }
        dx[i] = acc;
    }
}

#define CONV_KERNELS(T, S)                                                                                      \
    extern "C" __global__ void im2col_##S(const T *x, T *cols, ConvDims g, unsigned int nimg,                    \
                                          unsigned long long img_stride, unsigned long long row_stride) {        \
        im2col<T>(x, cols, g, nimg, img_stride, row_stride);                                                     \
    }                                                                                                           \
    extern "C" __global__ void col2im_##S(const T *cols, T *dx, ConvDims g, unsigned int nimg,                   \
                                          unsigned long long img_stride, unsigned long long row_stride) {        \
        col2im<T>(cols, dx, g, nimg, img_stride, row_stride);                                                    \
    }

CONV_KERNELS(float, f32)
CONV_KERNELS(double, f64)
