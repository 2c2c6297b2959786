// The parameter block of the batched matrix-product kernels (gemm.cu, gemm_tc.cu), passed by
// value; mirrored field for field by `kernels::cuda::gemm::GemmDims` (repr(C)).
//
// Batch item z in [0, batch): its matrices start at strided_offset(x_batch, z), so any number of
// broadcast batch dims (stride 0) fit in one StridedLayout.
// - A: [m, k], element (i, p) at a0 + i·a_rs + p·a_cs;
// - B: [k, n], element (p, j) at b0 + p·b_rs + j·b_cs;
// - C: [m, n], element (i, j) at c0 + i·c_rs + j (unit column stride), written as
//   C = A·B, or C += A·B when `accumulate` is non-zero.
// Strides are element counts; m, n, k fit in int. Tiles are 64×64 (TILE).
#pragma once
#include "common.cuh"

struct GemmDims {
    StridedLayout a_batch;
    StridedLayout b_batch;
    StridedLayout c_batch;
    long long a_rs, a_cs;
    long long b_rs, b_cs;
    long long c_rs;
    int m, n, k;
    unsigned int batch;
    int accumulate;
};

// The Rust mirror (repr(C), same alignment rules) asserts the same size and field offsets.
static_assert(sizeof(StridedLayout) == 112, "StridedLayout layout");
static_assert(sizeof(GemmDims) == 400, "GemmDims layout");

#define TILE 64
