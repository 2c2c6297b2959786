// Joining, indexing and padding: strided scatter (cat / pad / slice_scatter), index_select,
// gather, one_hot (any dtype, by element width) and scatter_add / index_add (f32, f64).
//
// Layouts: inputs are read through a `StridedLayout` at their logical row-major index (merged
// layouts from `StridedLayout::new`), except where a kernel replaces one coordinate by an index:
// there the layout is "raw" (one entry per tensor dim, unmerged, so `dims[dim]` is that dim).
// Outputs are contiguous, except `scatter_strided`'s destination view. Indices are i64 and have
// been range-checked on the host before any launch.
//
// Launch: 1-D grid-stride, any grid (kernels::cuda::launch_1d). Every output element is written
// by one thread, which adds its contributions in the CPU's order: no atomics, the same bits for
// any grid.
#include "common.cuh"

#define INDEX_KERNELS(T, S)                                                                           \
    /* dst[ld(i)] = src[ls(i)] for i < n: both views have the same logical shape; the dst view */     \
    /* addresses distinct elements (a slice of a contiguous buffer). */                               \
    extern "C" __global__ void scatter_strided_##S(const T *src, StridedLayout ls, T *dst, StridedLayout ld, \
                                                   unsigned long long n) {                           \
        GRID_STRIDE_LOOP(i, n) { dst[strided_offset(ld, i)] = src[strided_offset(ls, i)]; }                                   \
    }                                                                                                 \
    /* x: [outer, size, inner] (logical); idx: [nidx]; out: [outer, nidx, inner]. */                  \
    extern "C" __global__ void index_select_##S(const T *x, StridedLayout lx, const long long *idx,  \
                                                StridedLayout li, T *out, unsigned long long nidx,    \
                                                unsigned long long size, unsigned long long inner,    \
                                                unsigned long long n) {                               \
        GRID_STRIDE_LOOP(e, n) {                                                                      \
            const unsigned long long k = e % inner, j = (e / inner) % nidx, o = e / (inner * nidx);   \
            const unsigned long long src = (o * size + (unsigned long long)idx[strided_offset(li, j)]) * inner + k; \
            out[e] = x[strided_offset(lx, src)];                                                                  \
        }                                                                                             \
    }                                                                                                 \
    /* out[j] = x[coords of j over idx's shape, with coordinate `dim` replaced by idx[j]]. */          \
    /* lxr: raw, dims = idx's shape, strides/offset = x's; li: idx's view. out: idx's shape. */        \
    extern "C" __global__ void gather_##S(const T *x, StridedLayout lxr, const long long *idx,        \
                                          StridedLayout li, T *out, unsigned int dim,                 \
                                          unsigned long long n) {                                     \
        GRID_STRIDE_LOOP(j, n) {                                                                      \
            long long off = lxr.offset;                                                               \
            unsigned long long rem = j;                                                               \
            /* unrolled: constant indices keep the layouts out of local memory (common.cuh) */         \
            _Pragma("unroll") for (int d = MAX_DIMS - 1; d >= 0; --d) {                               \
                if (d < (int)lxr.ndim) {                                                              \
                    const unsigned long long sz = lxr.dims[d];                                        \
                    long long c = (long long)(rem % sz);                                              \
                    rem /= sz;                                                                        \
                    if ((unsigned int)d == dim) {                                                     \
                        c = idx[strided_offset(li, j)];                                               \
                    }                                                                                 \
                    off += c * lxr.strides[d];                                                        \
                }                                                                                     \
            }                                                                                         \
            out[j] = x[off];                                                                          \
        }                                                                                             \
    }                                                                                                 \
    /* out: [rows, classes], zero-filled before; out[r][idx[r]] = one. */                             \
    extern "C" __global__ void one_hot_##S(const long long *idx, StridedLayout li, T *out, T one,    \
                                           unsigned long long rows, unsigned long long classes) {    \
        GRID_STRIDE_LOOP(r, rows) { out[r * classes + (unsigned long long)idx[strided_offset(li, r)]] = one; }    \
    }

INDEX_KERNELS(unsigned char, b8)
INDEX_KERNELS(unsigned short, b16)
INDEX_KERNELS(unsigned int, b32)
INDEX_KERNELS(unsigned long long, b64)

#define ADD_KERNELS(T, S)                                                                             \
    /* out = self with out[c with c[dim] := idx[p]] += src[p] for every position p of idx. */          \
    /* Gather form: output element c starts from self[c] and adds src[p] for p = c with */            \
    /* p[dim] = 0, 1, ... (the CPU's row-major order) wherever idx[p] == c[dim]. */                   \
    /* lsr: raw self view; lir, lsrr: raw idx / src views (dims = idx's shape). out: self's shape. */ \
    extern "C" __global__ void scatter_add_##S(const T *self, StridedLayout lsr, const long long *idx, \
                                               StridedLayout lir, const T *src, StridedLayout lsrr,   \
                                               T *out, unsigned int dim, unsigned long long n) {      \
        GRID_STRIDE_LOOP(e, n) {                                                                      \
            unsigned long long rem = e;                                                               \
            long long off_self = lsr.offset, off_i = lir.offset, off_s = lsrr.offset;                 \
            long long target = 0;                                                                     \
            bool inside = true;                                                                       \
            /* idx's and src's extent and strides along `dim`, read in the unrolled loop */            \
            unsigned long long kmax = 0;                                                              \
            long long step_i = 0, step_s = 0;                                                         \
            _Pragma("unroll") for (int d = MAX_DIMS - 1; d >= 0; --d) {                               \
                if (d < (int)lsr.ndim) {                                                              \
                    const unsigned long long sz = lsr.dims[d];                                        \
                    const unsigned long long c = rem % sz;                                            \
                    rem /= sz;                                                                        \
                    off_self += (long long)c * lsr.strides[d];                                        \
                    if ((unsigned int)d == dim) {                                                     \
                        target = (long long)c;                                                        \
                        kmax = lir.dims[d];                                                           \
                        step_i = lir.strides[d];                                                      \
                        step_s = lsrr.strides[d];                                                     \
                    } else {                                                                          \
                        inside = inside && c < lir.dims[d];                                           \
                        off_i += (long long)c * lir.strides[d];                                       \
                        off_s += (long long)c * lsrr.strides[d];                                      \
                    }                                                                                 \
                }                                                                                     \
            }                                                                                         \
            T acc = self[off_self];                                                                   \
            if (inside) {                                                                             \
                for (unsigned long long k = 0; k < kmax; ++k) {                                       \
                    if (idx[off_i + (long long)k * step_i] == target) {                               \
                        acc += src[off_s + (long long)k * step_s];                                    \
                    }                                                                                 \
                }                                                                                     \
            }                                                                                         \
            out[e] = acc;                                                                             \
        }                                                                                             \
    }                                                                                                 \
    /* self, out: [outer, size, inner]; src: [outer, nidx, inner]. rows[i] .. rows[i + 1] in `js` */  \
    /* lists, ascending, the j with idx[j] == i (a CSR built on the host from the checked indices). */ \
    extern "C" __global__ void index_add_##S(const T *self, StridedLayout ls, const T *src,          \
                                             StridedLayout lsrc, const unsigned long long *starts,   \
                                             const unsigned long long *js, T *out,                   \
                                             unsigned long long size, unsigned long long nidx,        \
                                             unsigned long long inner, unsigned long long n) {        \
        GRID_STRIDE_LOOP(e, n) {                                                                      \
            const unsigned long long k = e % inner, i = (e / inner) % size, o = e / (inner * size);   \
            T acc = self[strided_offset(ls, e)];                                                                  \
            for (unsigned long long p = starts[i]; p < starts[i + 1]; ++p) {                          \
                acc += src[strided_offset(lsrc, (o * nidx + js[p]) * inner + k)];                                 \
            }                                                                                         \
            out[e] = acc;                                                                             \
        }                                                                                             \
    }

ADD_KERNELS(float, f32)
ADD_KERNELS(double, f64)
