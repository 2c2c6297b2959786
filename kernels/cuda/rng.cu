// Random tensors: Philox4x32-10 and the exact Box–Muller of tensor/src/rng.rs and
// tensor/src/rng/math.rs, so element i of (seed, stream) is the same bits as on the CPU.
//
// Layout: `out` is [n] contiguous; element i comes from Philox block i / 2 (two numbers per block:
// uniforms u0, u1 or normals r·cos θ, r·sin θ).
// Launch: 1-D grid-stride over the ceil(n / 2) blocks (kernels::cuda::launch_1d); each thread
// writes elements 2b and 2b + 1 (the second only when 2b + 1 < n).
//
// Exactness: every floating-point step is an explicit round-to-nearest intrinsic (__dadd_rn,
// __dmul_rn, …), which the compiler never fuses into a multiply-add (NVRTC contracts plain a*b + c
// by default, and one fused rounding would change the bits). The f64 value is converted to the
// output dtype the way the CPU's `WithDType::from_f64` does (see the `store` overloads).
#include "common.cuh"
#include "from_f64.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define ADD(a, b) __dadd_rn((a), (b))
#define SUB(a, b) __dsub_rn((a), (b))
#define MUL(a, b) __dmul_rn((a), (b))
#define DIV(a, b) __ddiv_rn((a), (b))

// ---------------------------------------------------------------- Philox4x32-10 (rng.rs `philox4x32`)

__device__ __forceinline__ uint4 philox4x32(uint4 c, unsigned int k0, unsigned int k1) {
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        unsigned int hi0 = __umulhi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

// Block b of (seed, stream): counter (b, stream), key seed, each as (low word, high word).
__device__ __forceinline__ uint4 rng_block(unsigned long long seed, unsigned long long stream,
                                           unsigned long long b) {
    uint4 c = make_uint4((unsigned int)b, (unsigned int)(b >> 32), (unsigned int)stream,
                         (unsigned int)(stream >> 32));
    return philox4x32(c, (unsigned int)seed, (unsigned int)(seed >> 32));
}

// 53 random bits as a double in [0, 1): exact (the integer has 53 bits, the scale is 2^-53).
__device__ __forceinline__ double uniform53(unsigned int hi, unsigned int lo) {
    unsigned long long bits = (((unsigned long long)hi << 32) | lo) >> 11;
    return MUL((double)bits, 1.1102230246251565e-16);
}

// ---------------------------------------------------------------- exact ln / sincos (rng/math.rs)

#define LN2_HI 0.6931471805592082
#define LN2_LO 7.371002565167799e-13
#define PIO2_1 1.5707963267341256
#define PIO2_2 6.077100506303966e-11
#define PIO2_3 2.0222662487959506e-21
#define TWO_OVER_PI 0.6366197723675814
#define SQRT2 1.4142135623730951
#define SPLIT 134217729.0
#define SIN3_HI -0.16666666666666666
#define SIN3_LO -9.25185853854297e-18
#define TWO_PI 6.283185307179586

// 2/(2k+1), k = 1..12
__device__ const double ATANH_C[12] = {
    0.6666666666666666,  0.4,  0.2857142857142857,  0.2222222222222222,
    0.18181818181818182, 0.15384615384615385, 0.13333333333333333, 0.11764705882352941,
    0.10526315789473684, 0.09523809523809523, 0.08695652173913043, 0.08};
// (-1)^k/(2k+1)!, k = 2..9
__device__ const double SIN_C[8] = {
    0.008333333333333333,   -0.0001984126984126984, 2.7557319223985893e-06, -2.505210838544172e-08,
    1.6059043836821613e-10, -7.647163731819816e-13, 2.8114572543455206e-15, -8.22063524662433e-18};
// (-1)^k/(2k)!, k = 2..10
__device__ const double COS_C[9] = {
    0.041666666666666664,  -0.001388888888888889,   2.48015873015873e-05,
    -2.755731922398589e-07, 2.08767569878681e-09,   -1.1470745597729725e-11,
    4.779477332387385e-14,  -1.5619206968586225e-16, 4.110317623312165e-19};

// (s, e) with s + e == a + b exactly (Knuth).
__device__ __forceinline__ void two_sum(double a, double b, double &s, double &e) {
    s = ADD(a, b);
    double bb = SUB(s, a);
    e = ADD(SUB(a, SUB(s, bb)), SUB(b, bb));
}
// The same given |a| >= |b| (Dekker).
__device__ __forceinline__ void fast_two_sum(double a, double b, double &s, double &e) {
    s = ADD(a, b);
    e = SUB(b, SUB(s, a));
}
__device__ __forceinline__ void split(double a, double &hi, double &lo) {
    double c = MUL(SPLIT, a);
    hi = SUB(c, SUB(c, a));
    lo = SUB(a, hi);
}
// (p, e) with p + e == a * b exactly (Dekker, no fma).
__device__ __forceinline__ void two_prod(double a, double b, double &p, double &e) {
    p = MUL(a, b);
    double ah, al, bh, bl;
    split(a, ah, al);
    split(b, bh, bl);
    e = ADD(ADD(ADD(SUB(MUL(ah, bh), p), MUL(ah, bl)), MUL(al, bh)), MUL(al, bl));
}
// c[0] + z*(c[1] + z*(...)), evaluated from the last coefficient with acc starting at 0.
template <int N> __device__ __forceinline__ double horner(double z, const double (&c)[N]) {
    double acc = 0.0;
#pragma unroll
    for (int k = N - 1; k >= 0; --k) acc = ADD(MUL(acc, z), c[k]);
    return acc;
}

__device__ double exact_ln(double x) {
    unsigned long long bits = (unsigned long long)__double_as_longlong(x);
    long long k = (long long)((bits >> 52) & 0x7ff) - 1023;
    double m = __longlong_as_double((long long)((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL));
    if (m > SQRT2) {
        m = MUL(m, 0.5);
        k += 1;
    }
    double f = SUB(m, 1.0);
    double d_hi, d_lo;
    fast_two_sum(2.0, f, d_hi, d_lo);
    double s = DIV(f, d_hi);
    double p_hi, p_lo;
    two_prod(s, d_hi, p_hi, p_lo);
    double s_lo = DIV(SUB(SUB(SUB(f, p_hi), p_lo), MUL(s, d_lo)), d_hi);
    double z = MUL(s, s);
    double tail = ADD(MUL(2.0, s_lo), MUL(MUL(s, z), horner(z, ATANH_C)));
    double kf = (double)k;
    double h, e;
    two_sum(MUL(kf, LN2_HI), MUL(2.0, s), h, e);
    return ADD(h, ADD(e, ADD(MUL(kf, LN2_LO), tail)));
}

__device__ __forceinline__ double sin_reduced(double y, double y_lo) {
    double z, z_lo, c, c_lo, a, a_lo, h, e;
    two_prod(y, y, z, z_lo);
    two_prod(y, z, c, c_lo);
    c_lo = ADD(c_lo, MUL(y, z_lo));
    two_prod(c, SIN3_HI, a, a_lo);
    a_lo = ADD(a_lo, ADD(MUL(c, SIN3_LO), MUL(c_lo, SIN3_HI)));
    two_sum(y, a, h, e);
    double rest = ADD(MUL(MUL(c, z), horner(z, SIN_C)), MUL(y_lo, SUB(1.0, MUL(0.5, z))));
    return ADD(h, ADD(e, ADD(a_lo, rest)));
}

__device__ __forceinline__ double cos_reduced(double y, double y_lo) {
    double z, z_lo, w, e;
    two_prod(y, y, z, z_lo);
    double hz = MUL(0.5, z), hz_lo = MUL(0.5, z_lo);
    fast_two_sum(1.0, -hz, w, e);
    double rest = SUB(MUL(MUL(z, z), horner(z, COS_C)), MUL(y, y_lo));
    return ADD(w, ADD(e, SUB(rest, hz_lo)));
}

__device__ void exact_sincos(double t, double &sn, double &cs) {
    double n = floor(ADD(MUL(t, TWO_OVER_PI), 0.5));
    double r1 = SUB(t, MUL(n, PIO2_1));
    double a, b, y, y_lo;
    two_sum(r1, -MUL(n, PIO2_2), a, b);
    two_sum(a, SUB(b, MUL(n, PIO2_3)), y, y_lo);
    double s = sin_reduced(y, y_lo), c = cos_reduced(y, y_lo);
    switch ((long long)n & 3) {
    case 0: sn = s; cs = c; break;
    case 1: sn = c; cs = -s; break;
    case 2: sn = -s; cs = -c; break;
    default: sn = -c; cs = s; break;
    }
}

// ---------------------------------------------------------------- kernels

// Each takes (out, n, seed, stream, a, b): uniform lo + (hi - lo)·u with (a, b) = (lo, hi);
// normal mean + std·z with (a, b) = (mean, std); bernoulli u < p with a = p (b unused).
#define RNG_KERNELS(OUT, PARAM, SUFFIX)                                                               \
    extern "C" __global__ void rand_uniform_##SUFFIX(PARAM, unsigned long long n,                     \
                                                      unsigned long long seed,                        \
                                                      unsigned long long stream, double lo, double hi) { \
        OUT;                                                                                          \
        double span = SUB(hi, lo);                                                                    \
        GRID_STRIDE_LOOP(b, (n + 1) / 2) {                                                            \
            uint4 w = rng_block(seed, stream, b);                                                     \
            store(out, 2 * b, ADD(lo, MUL(span, uniform53(w.x, w.y))));                               \
            if (2 * b + 1 < n) store(out, 2 * b + 1, ADD(lo, MUL(span, uniform53(w.z, w.w))));        \
        }                                                                                             \
    }                                                                                                 \
    extern "C" __global__ void rand_normal_##SUFFIX(PARAM, unsigned long long n,                      \
                                                     unsigned long long seed,                         \
                                                     unsigned long long stream, double mean, double sd) { \
        OUT;                                                                                          \
        GRID_STRIDE_LOOP(b, (n + 1) / 2) {                                                            \
            uint4 w = rng_block(seed, stream, b);                                                     \
            double u1 = uniform53(w.x, w.y), u2 = uniform53(w.z, w.w);                                \
            double r = __dsqrt_rn(MUL(-2.0, exact_ln(SUB(1.0, u1))));                                 \
            double sn, cs;                                                                            \
            exact_sincos(MUL(TWO_PI, u2), sn, cs);                                                    \
            store(out, 2 * b, ADD(mean, MUL(sd, MUL(r, cs))));                                        \
            if (2 * b + 1 < n) store(out, 2 * b + 1, ADD(mean, MUL(sd, MUL(r, sn))));                 \
        }                                                                                             \
    }                                                                                                 \
    extern "C" __global__ void rand_bernoulli_##SUFFIX(PARAM, unsigned long long n,                   \
                                                        unsigned long long seed,                      \
                                                        unsigned long long stream, double p,          \
                                                        double unused) {                              \
        OUT;                                                                                          \
        GRID_STRIDE_LOOP(b, (n + 1) / 2) {                                                            \
            uint4 w = rng_block(seed, stream, b);                                                     \
            store(out, 2 * b, uniform53(w.x, w.y) < p ? 1.0 : 0.0);                                   \
            if (2 * b + 1 < n) store(out, 2 * b + 1, uniform53(w.z, w.w) < p ? 1.0 : 0.0);            \
        }                                                                                             \
    }

RNG_KERNELS(float *out = out_, float *out_, f32)
RNG_KERNELS(double *out = out_, double *out_, f64)
RNG_KERNELS(F16Out out = {out_}, unsigned short *out_, f16)
RNG_KERNELS(BF16Out out = {out_}, unsigned short *out_, bf16)
RNG_KERNELS(long long *out = out_, long long *out_, i64)
RNG_KERNELS(unsigned char *out = out_, unsigned char *out_, u8)
