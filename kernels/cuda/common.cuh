// Shared by every kernel source: the strided-layout parameter and the launch conventions.
//
// Conventions (see ../shared/design/cuda.md §7):
// - kernels are `extern "C" __global__` and named `<op>_<dtype>`;
// - 1-D kernels use grid-stride loops over `n` elements, so any grid size is correct;
// - f16/bf16 are storage types only: values are widened to f32 for arithmetic;
// - reductions run in a fixed order (one block per row, fixed tree), no float atomics, so a rerun
//   gives the same bits.
#pragma once

#define MAX_DIMS 8

// A tensor view: element i (row-major over dims) lives at offset + sum_d idx_d * strides[d].
// Passed by value as a kernel parameter; mirrors `kernels::cuda::StridedLayout` (repr(C)).
struct StridedLayout {
    unsigned int ndim;
    unsigned int dims[MAX_DIMS];
    long long strides[MAX_DIMS];
    long long offset;
};

// Element offset of logical index i, for i below the view's element count (so the outermost dim
// needs no division). A contiguous run skips the arithmetic; indices below 2^32 divide in 32 bits
// (several times cheaper than 64-bit division). The loops are unrolled over MAX_DIMS so every
// field is read at a constant index: a run-time index into a by-value parameter makes the
// compiler copy the whole layout to local memory in every thread (ptxas's "stack frame"), which
// cost more than the memory traffic of a plain copy.
__device__ __forceinline__ long long strided_offset(const StridedLayout &l, unsigned long long i) {
    if (l.ndim == 1 && l.strides[0] == 1) {
        return l.offset + (long long)i;
    }
    long long off = l.offset;
    if (i <= 0xffffffffull) {
        unsigned int j = (unsigned int)i;
#pragma unroll
        for (int d = MAX_DIMS - 1; d > 0; --d) {
            if (d < (int)l.ndim) {
                const unsigned int n = l.dims[d];
                off += (long long)(j % n) * l.strides[d];
                j /= n;
            }
        }
        return off + (long long)j * l.strides[0];
    }
#pragma unroll
    for (int d = MAX_DIMS - 1; d > 0; --d) {
        if (d < (int)l.ndim) {
            const unsigned long long n = l.dims[d];
            off += (long long)(i % n) * l.strides[d];
            i /= n;
        }
    }
    return off + (long long)i * l.strides[0];
}

#define GRID_STRIDE_LOOP(i, n) \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (unsigned long long)blockDim.x * gridDim.x)
