// Batched matrix products on the tensor cores (sm_80+): the opt-in fast path of
// `kernels::cuda::gemm::Precision`. Same parameter block and layouts as gemm.cu (see gemm.cuh);
// the output is always f32, accumulated in f32.
//
//   gemm_tc_tf32          f32 in, operands rounded to TF32 (round to nearest, ties away), m16n16k8
//   gemm_tc_bf16_of_f32   f32 in, operands rounded to bf16 (nearest even), m16n16k16
//   gemm_tc_bf16          bf16 in, m16n16k16
//   gemm_tc_f16_of_f32    f32 in, operands rounded to f16 (nearest even), m16n16k16
//   gemm_tc_f16           f16 in, m16n16k16
//
// These are the warp-level matrix ops behind CUDA's `nvcuda::wmma` (`<mma.h>`), called through
// the compiler builtins that header wraps: the pinned NVRTC 13.0 wheels ship `mma.h` but not the
// `crt/mma.h` it includes, so the header itself cannot be used. Fragments are plain register
// arrays of the sizes wmma uses (A/B: 4 ints for tf32 and bf16, 8 ints for f16; accumulator: 8
// floats); layout code 0 = row-major A and B.
//
// Block tile 64×64, 128 threads = 4 warps, each owning a 32×32 quarter (2×2 fragments of 16×16).
// Operands are converted to the compute type while being staged in shared memory (padded so every
// fragment pointer is 32-byte aligned); the 64×64 result goes through shared memory to C. Within a
// tile the k order is fixed, so results are deterministic (not bit-equal to the plain kernel).
//
// Launch: block 128 threads; grid (min(ceil(n/64), 65535), min(ceil(m/64), 65535),
// min(batch, 65535)); the kernel loops over the remaining tiles and batch items.
// This file is its own PTX module so that a problem here can never keep gemm.cu from loading.
#include "common.cuh"
#include "gemm.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define W_THREADS 128
#define W_LDC (TILE + 4)

#if __CUDA_ARCH__ >= 800

// f32 → TF32 (10 mantissa bits), round to nearest with ties away from zero like cvt.rna.tf32.f32:
// add half of the dropped 13 bits to the magnitude, then clear them. Inf and NaN pass unchanged.
__device__ __forceinline__ float round_tf32(float v) {
    unsigned int b = __float_as_uint(v);
    if ((b & 0x7f800000u) != 0x7f800000u) {
        b = (b + 0x1000u) & 0xffffe000u;
    }
    return __uint_as_float(b);
}

// How operands are staged and multiplied: input type, shared-memory type, fragment depth (KSTEP),
// depth per shared tile (BK), padded leading dimensions (LDA, LDB), fragment sizes in ints, and the
// three warp-level ops.
struct ModeTf32 {
    typedef float In;
    typedef float Stage;
    enum { KSTEP = 8, BK = 16, LDA = BK + 4, LDB = TILE + 4, FRAG = 4 };
    __device__ static Stage stage(In v) { return round_tf32(v); }
    __device__ static Stage zero() { return 0.0f; }
    __device__ static void load_a(int *f, const Stage *p, unsigned ld) {
        __mma_tf32_m16n16k8_ld_a(f, (const int *)p, ld, 0);
    }
    __device__ static void load_b(int *f, const Stage *p, unsigned ld) {
        __mma_tf32_m16n16k8_ld_b(f, (const int *)p, ld, 0);
    }
    __device__ static void mma(float *acc, const int *a, const int *b) {
        __mma_tf32_m16n16k8_mma_f32(acc, a, b, acc, 0, 0);
    }
    __device__ static void store(float *p, const float *acc, unsigned ld) { __mma_m16n16k8_st_c_f32(p, acc, ld, 0); }
};

template <typename TIn> struct ModeBf16Base {
    typedef TIn In;
    typedef __nv_bfloat16 Stage;
    enum { KSTEP = 16, BK = 32, LDA = BK + 8, LDB = TILE + 8, FRAG = 4 };
    __device__ static Stage stage(float v) { return __float2bfloat16_rn(v); }
    __device__ static Stage stage(__nv_bfloat16 v) { return v; }
    __device__ static Stage zero() { return __float2bfloat16_rn(0.0f); }
    __device__ static void load_a(int *f, const Stage *p, unsigned ld) {
        __mma_bf16_m16n16k16_ld_a(f, (const int *)p, ld, 0);
    }
    __device__ static void load_b(int *f, const Stage *p, unsigned ld) {
        __mma_bf16_m16n16k16_ld_b(f, (const int *)p, ld, 0);
    }
    __device__ static void mma(float *acc, const int *a, const int *b) {
        __mma_bf16_m16n16k16_mma_f32(acc, a, b, acc, 0, 0);
    }
    __device__ static void store(float *p, const float *acc, unsigned ld) {
        __hmma_m16n16k16_st_c_f32(p, (float *)acc, ld, 0);
    }
};

template <typename TIn> struct ModeF16Base {
    typedef TIn In;
    typedef __half Stage;
    enum { KSTEP = 16, BK = 32, LDA = BK + 8, LDB = TILE + 8, FRAG = 8 };
    __device__ static Stage stage(float v) { return __float2half_rn(v); }
    __device__ static Stage stage(__half v) { return v; }
    __device__ static Stage zero() { return __float2half_rn(0.0f); }
    __device__ static void load_a(int *f, const Stage *p, unsigned ld) {
        __hmma_m16n16k16_ld_a(f, (const int *)p, ld, 0);
    }
    __device__ static void load_b(int *f, const Stage *p, unsigned ld) {
        __hmma_m16n16k16_ld_b(f, (const int *)p, ld, 0);
    }
    __device__ static void mma(float *acc, const int *a, const int *b) {
        __hmma_m16n16k16_mma_f32f32(acc, a, b, acc, 0, 0);
    }
    __device__ static void store(float *p, const float *acc, unsigned ld) {
        __hmma_m16n16k16_st_c_f32(p, (float *)acc, ld, 0);
    }
};

template <typename Mode>
__device__ __forceinline__ void gemm_tc(const typename Mode::In *A, const typename Mode::In *B, float *C,
                                        const GemmDims &d) {
    typedef typename Mode::Stage S;
    const int BK = Mode::BK, KSTEP = Mode::KSTEP, LDA = Mode::LDA, LDB = Mode::LDB;
    __shared__ __align__(32) S As[TILE * Mode::LDA];     // As[i·LDA + p] = A(row0 + i, p0 + p)
    __shared__ __align__(32) S Bs[Mode::BK * Mode::LDB]; // Bs[p·LDB + j] = B(p0 + p, col0 + j)
    __shared__ __align__(32) float Cs[TILE * W_LDC];     // the block's 64×64 result
    const int tid = threadIdx.x, warp = tid / 32, wm = warp / 2, wn = warp % 2;
    const int tiles_m = (d.m + TILE - 1) / TILE, tiles_n = (d.n + TILE - 1) / TILE;
    const bool a_k_fast = d.a_cs == 1, b_n_fast = d.b_cs == 1;
    for (unsigned int z = blockIdx.z; z < d.batch; z += gridDim.z) {
        const long long a0 = strided_offset(d.a_batch, z);
        const long long b0 = strided_offset(d.b_batch, z);
        const long long c0 = strided_offset(d.c_batch, z);
        for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
            for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
                const int row0 = tm * TILE, col0 = tn * TILE;
                float acc[2][2][8];
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int j = 0; j < 2; ++j)
#pragma unroll
                        for (int e = 0; e < 8; ++e)
                            acc[i][j][e] = 0.0f;
                for (int p0 = 0; p0 < d.k; p0 += BK) {
                    for (int e = tid; e < TILE * BK; e += W_THREADS) {
                        const int i = a_k_fast ? e / BK : e % TILE;
                        const int p = a_k_fast ? e % BK : e / TILE;
                        const int gi = row0 + i, gp = p0 + p;
                        As[i * LDA + p] =
                            (gi < d.m && gp < d.k) ? Mode::stage(A[a0 + gi * d.a_rs + gp * d.a_cs]) : Mode::zero();
                    }
                    for (int e = tid; e < TILE * BK; e += W_THREADS) {
                        const int j = b_n_fast ? e % TILE : e / BK;
                        const int p = b_n_fast ? e / TILE : e % BK;
                        const int gj = col0 + j, gp = p0 + p;
                        Bs[p * LDB + j] =
                            (gj < d.n && gp < d.k) ? Mode::stage(B[b0 + gp * d.b_rs + gj * d.b_cs]) : Mode::zero();
                    }
                    __syncthreads();
#pragma unroll
                    for (int kk = 0; kk < BK; kk += KSTEP) {
                        int fa[2][Mode::FRAG], fb[2][Mode::FRAG];
#pragma unroll
                        for (int i = 0; i < 2; ++i)
                            Mode::load_a(fa[i], As + (wm * 32 + i * 16) * LDA + kk, LDA);
#pragma unroll
                        for (int j = 0; j < 2; ++j)
                            Mode::load_b(fb[j], Bs + kk * LDB + wn * 32 + j * 16, LDB);
#pragma unroll
                        for (int i = 0; i < 2; ++i)
#pragma unroll
                            for (int j = 0; j < 2; ++j)
                                Mode::mma(acc[i][j], fa[i], fb[j]);
                    }
                    __syncthreads();
                }
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int j = 0; j < 2; ++j)
                        Mode::store(Cs + (wm * 32 + i * 16) * W_LDC + wn * 32 + j * 16, acc[i][j], W_LDC);
                __syncthreads();
                for (int e = tid; e < TILE * TILE; e += W_THREADS) {
                    const int i = e / TILE, j = e % TILE;
                    const int gi = row0 + i, gj = col0 + j;
                    if (gi < d.m && gj < d.n) {
                        const long long o = c0 + gi * d.c_rs + gj;
                        const float v = Cs[i * W_LDC + j];
                        C[o] = d.accumulate ? C[o] + v : v;
                    }
                }
                __syncthreads(); // Cs is reused by the next tile
            }
        }
    }
}
#define TC_BODY(MODE) gemm_tc<MODE>(A, B, C, d)
#else
#define TC_BODY(MODE) __trap()
#endif

extern "C" __global__ void __launch_bounds__(W_THREADS)
    gemm_tc_tf32(const float *A, const float *B, float *C, GemmDims d) {
    TC_BODY(ModeTf32);
}
extern "C" __global__ void __launch_bounds__(W_THREADS)
    gemm_tc_bf16_of_f32(const float *A, const float *B, float *C, GemmDims d) {
    TC_BODY(ModeBf16Base<float>);
}
extern "C" __global__ void __launch_bounds__(W_THREADS)
    gemm_tc_bf16(const __nv_bfloat16 *A, const __nv_bfloat16 *B, float *C, GemmDims d) {
    TC_BODY(ModeBf16Base<__nv_bfloat16>);
}
extern "C" __global__ void __launch_bounds__(W_THREADS)
    gemm_tc_f16_of_f32(const float *A, const float *B, float *C, GemmDims d) {
    TC_BODY(ModeF16Base<float>);
}
extern "C" __global__ void __launch_bounds__(W_THREADS)
    gemm_tc_f16(const __half *A, const __half *B, float *C, GemmDims d) {
    TC_BODY(ModeF16Base<__half>);
}
