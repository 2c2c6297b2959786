// Batched matrix products C[z] = A[z] · B[z] (+ C[z] when accumulating) with every operand read
// through strides, so transposed and broadcast views need no copy. Layouts: see gemm.cuh.
//
// gemm_f32 / gemm_f64: the plain tiled kernel, the default behind `Tensor::matmul` and the
// convolutions. 64×64 block tile, depth slices of 16 staged in shared memory, 256 threads, each
// owning a 4×4 micro-tile spread with stride 16 (rows ty + 16·ii, cols tx + 16·jj) so shared reads
// are conflict-free and C writes coalesced. Tile loads pick the thread order along whichever index
// has unit stride. Every C element is one thread's running sum over p = 0, 1, .., k−1 in order
// (fused multiply-adds): deterministic, no atomics.
//
// Launch: block 256 threads; grid (min(ceil(n/64), 65535), min(ceil(m/64), 65535),
// min(batch, 65535)); the kernel loops over the remaining tiles and batch items.
// The tensor-core kernels live in gemm_tc.cu (their own module, opt-in).
#include "common.cuh"
#include "gemm.cuh"

// ------------------------------------------------------------------ plain tiled kernel

#define P_BK 16
#define P_THREADS 256

template <typename T> __device__ __forceinline__ void gemm_plain(const T *A, const T *B, T *C, const GemmDims &d) {
    __shared__ T As[P_BK][TILE + 1]; // As[p][i] = A(row0 + i, p0 + p)
    __shared__ T Bs[P_BK][TILE + 1]; // Bs[p][j] = B(p0 + p, col0 + j)
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const int tiles_m = (d.m + TILE - 1) / TILE, tiles_n = (d.n + TILE - 1) / TILE;
    // Which index runs along memory, so that neighbouring threads load neighbouring elements.
    const bool a_k_fast = d.a_cs == 1, b_n_fast = d.b_cs == 1;
    for (unsigned int z = blockIdx.z; z < d.batch; z += gridDim.z) {
        const long long a0 = strided_offset(d.a_batch, z);
        const long long b0 = strided_offset(d.b_batch, z);
        const long long c0 = strided_offset(d.c_batch, z);
        for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
            for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
                const int row0 = tm * TILE, col0 = tn * TILE;
                T acc[4][4];
#pragma unroll
                for (int ii = 0; ii < 4; ++ii)
#pragma unroll
                    for (int jj = 0; jj < 4; ++jj)
                        acc[ii][jj] = T(0);
                for (int p0 = 0; p0 < d.k; p0 += P_BK) {
#pragma unroll
                    for (int r = 0; r < TILE * P_BK / P_THREADS; ++r) {
                        const int e = tid + r * P_THREADS;
                        const int i = a_k_fast ? e / P_BK : e % TILE;
                        const int p = a_k_fast ? e % P_BK : e / TILE;
                        const int gi = row0 + i, gp = p0 + p;
                        As[p][i] = (gi < d.m && gp < d.k) ? A[a0 + gi * d.a_rs + gp * d.a_cs] : T(0);
                    }
#pragma unroll
                    for (int r = 0; r < TILE * P_BK / P_THREADS; ++r) {
                        const int e = tid + r * P_THREADS;
                        const int j = b_n_fast ? e % TILE : e / P_BK;
                        const int p = b_n_fast ? e / TILE : e % P_BK;
                        const int gj = col0 + j, gp = p0 + p;
                        Bs[p][j] = (gj < d.n && gp < d.k) ? B[b0 + gp * d.b_rs + gj * d.b_cs] : T(0);
                    }
                    __syncthreads();
#pragma unroll
                    for (int p = 0; p < P_BK; ++p) {
                        T a[4], b[4];
#pragma unroll
                        for (int ii = 0; ii < 4; ++ii)
                            a[ii] = As[p][ty + 16 * ii];
#pragma unroll
                        for (int jj = 0; jj < 4; ++jj)
                            b[jj] = Bs[p][tx + 16 * jj];
#pragma unroll
                        for (int ii = 0; ii < 4; ++ii)
#pragma unroll
                            for (int jj = 0; jj < 4; ++jj)
                                acc[ii][jj] += a[ii] * b[jj];
                    }
                    __syncthreads();
                }
#pragma unroll
                for (int ii = 0; ii < 4; ++ii) {
                    const int gi = row0 + ty + 16 * ii;
#pragma unroll
                    for (int jj = 0; jj < 4; ++jj) {
                        const int gj = col0 + tx + 16 * jj;
                        if (gi < d.m && gj < d.n) {
                            const long long o = c0 + gi * d.c_rs + gj;
                            C[o] = d.accumulate ? C[o] + acc[ii][jj] : acc[ii][jj];
                        }
                    }
                }
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(P_THREADS) gemm_f32(const float *A, const float *B, float *C, GemmDims d) {
    gemm_plain<float>(A, B, C, d);
}
extern "C" __global__ void __launch_bounds__(P_THREADS)
    gemm_f64(const double *A, const double *B, double *C, GemmDims d) {
    gemm_plain<double>(A, B, C, d);
}

