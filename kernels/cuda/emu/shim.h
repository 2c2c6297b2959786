// Host emulation of the CUDA features the kernels in kernels/cuda/ use, so that their sources can
// be compiled with g++ (C++20) and run on the CPU by kernels/tests/cuda_emulated/.
//
// Model: a launch runs its blocks one after another; a block runs each of its threads as a
// cooperative fiber (ucontext). A fiber runs until it reaches __syncthreads() or returns; once
// every thread of the block has reached the barrier, all are resumed in threadIdx order. So:
// - __shared__ is `static` storage: one copy, reused by consecutive blocks (fine since blocks never
//   overlap), zero-filled at program start rather than left undefined;
// - scheduling is deterministic (thread 0, 1, ... between barriers), so a missing barrier that only
//   shows under a different interleaving may go unnoticed; a block whose threads leave the kernel
//   while others wait at a barrier is reported (divergent __syncthreads);
// - plain float arithmetic is IEEE with no contraction (-ffp-contract=off), while NVRTC may fuse
//   a*b+c into an FMA: the tests compare such kernels with a tolerance. The __f*_rn / __d*_rn
//   intrinsics are exactly the rounded IEEE operations on both sides;
// - libm (expf, tanhf, erf...) is glibc's, not CUDA's: ulp-level differences are expected;
// - not emulated: warp shuffles/votes, atomics, tensor-core builtins (gemm_tc.cu), dynamic
//   shared memory, streams. No kernel besides gemm_tc.cu uses them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ucontext.h>
#include <vector>

using std::isinf;
using std::isnan;
template <typename A, typename B> inline auto min(A a, B b) { return a < b ? a : b; }
template <typename A, typename B> inline auto max(A a, B b) { return a > b ? a : b; }

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
inline dim3 threadIdx, blockIdx, blockDim, gridDim;
struct uint4 {
    unsigned int x, y, z, w;
};
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return {x, y, z, w}; }
struct float4 {
    float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline unsigned int __umulhi(unsigned int a, unsigned int b) { return (unsigned int)(((unsigned long long)a * b) >> 32); }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))

// Bit casts and correctly rounded arithmetic (host IEEE ops round to nearest even).
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline float __double2float_rn(double a) { return (float)a; }
inline double __ll2double_rn(long long a) { return (double)a; }

namespace emu {
constexpr size_t STACK = 64 * 1024;
struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack = std::vector<char>(STACK);
    bool done = false;
};
inline ucontext_t scheduler;
inline std::vector<Fiber> fibers;
inline unsigned current = 0;
inline const std::function<void()> *body = nullptr;

inline void entry() {
    (*body)();
    fibers[current].done = true; // uc_link returns to the scheduler
}

inline dim3 index_of(unsigned t, dim3 b) { return {t % b.x, (t / b.x) % b.y, t / (b.x * b.y)}; }

// Runs `kernel` (a call of the kernel with its arguments bound) over the grid.
inline void launch(dim3 grid, dim3 block, const std::function<void()> &kernel) {
    gridDim = grid;
    blockDim = block;
    body = &kernel;
    const unsigned nt = block.x * block.y * block.z;
    fibers.resize(nt);
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                blockIdx = {bx, by, bz};
                for (auto &f : fibers) {
                    f.done = false;
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack.data();
                    f.ctx.uc_stack.ss_size = STACK;
                    f.ctx.uc_link = &scheduler;
                    makecontext(&f.ctx, entry, 0);
                }
                for (;;) { // one round = every live thread runs to its next barrier or its end
                    unsigned finished = 0;
                    for (unsigned t = 0; t < nt; ++t) {
                        if (fibers[t].done) { ++finished; continue; }
                        current = t;
                        threadIdx = index_of(t, block);
                        swapcontext(&scheduler, &fibers[t].ctx);
                        finished += fibers[t].done;
                    }
                    if (finished == nt) break;
                    if (finished > 0) {
                        fprintf(stderr, "divergent __syncthreads: %u of %u threads of block (%u,%u,%u) returned while "
                                        "the others wait at a barrier\n", finished, nt, bx, by, bz);
                        exit(3);
                    }
                }
            }
}
} // namespace emu

inline void __syncthreads() { swapcontext(&emu::fibers[emu::current].ctx, &emu::scheduler); }
