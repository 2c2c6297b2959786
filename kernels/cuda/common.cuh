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

__device__ __forceinline__ long long strided_offset(const StridedLayout &l, unsigned long long i) {
    long long off = l.offset;
    for (int d = (int)l.ndim - 1; d >= 0; --d) {
        unsigned long long n = l.dims[d];
        off += (long long)(i % n) * l.strides[d];
        i /= n;
    }
    return off;
}

#define GRID_STRIDE_LOOP(i, n) \
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (unsigned long long)blockDim.x * gridDim.x)
