//! Matrix products. `C = A · B` (+ C when accumulating) with A and B given by arbitrary strides.
//! (Placeholder body: naive loop; the packed kernel replaces it.)
use crate::Real;

/// A read-only strided matrix inside a slice: element (i, j) sits at
/// `data[offset + i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// `c[m×n] (row-major, contiguous) = a[m×k] · b[k×n]`, or `c += a · b` when `accumulate`.
pub fn gemm<T: Real>(m: usize, n: usize, k: usize, a: MatRef<T>, b: MatRef<T>, c: &mut [T], accumulate: bool) {
    gemm_reference(m, n, k, a, b, c, accumulate)
}

/// Naive triple loop: the reference the fast kernel is tested against.
pub fn gemm_reference<T: Real>(m: usize, n: usize, k: usize, a: MatRef<T>, b: MatRef<T>, c: &mut [T], accumulate: bool) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::zero();
            for p in 0..k {
                acc += a.data[a.offset + i * a.row_stride + p * a.col_stride]
                    * b.data[b.offset + p * b.row_stride + j * b.col_stride];
            }
            let dst = &mut c[i * n + j];
            *dst = if accumulate { *dst + acc } else { acc };
        }
    }
}

/// Batched product: for each `t`, `c[t] (contiguous m×n block at t*m*n) = a_t · b_t`, where
/// `a_t` / `b_t` are the strided matrices at `a_offsets[t]` / `b_offsets[t]` (this is how the tensor
/// layer expresses broadcasting over leading dimensions without copies).
#[allow(clippy::too_many_arguments)]
pub fn gemm_batched<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: MatRef<T>,
    a_offsets: &[usize],
    b: MatRef<T>,
    b_offsets: &[usize],
    c: &mut [T],
    accumulate: bool,
) {
    assert_eq!(a_offsets.len(), b_offsets.len());
    for (t, (&ao, &bo)) in a_offsets.iter().zip(b_offsets).enumerate() {
        let at = MatRef { offset: ao, ..a };
        let bt = MatRef { offset: bo, ..b };
        gemm(m, n, k, at, bt, &mut c[t * m * n..(t + 1) * m * n], accumulate);
    }
}
