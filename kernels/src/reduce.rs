//! Row reductions: the tensor layer moves the reduced axes to the end and makes them contiguous,
//! so every reduction here works on `rows × len` blocks. Sums run in a fixed order, so results do
//! not depend on the thread count.
use crate::elementwise::{nan_max, nan_min};
use crate::Real;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    /// `log Σ exp(x)`, stabilised by the row max.
    LogSumExp,
    /// Euclidean norm `sqrt(Σ x²)`.
    Norm2,
}

/// Blocks of at least this many input elements are reduced in parallel (split by whole rows or
/// whole column ranges, so every output is computed by one task in the serial order).
const PAR_MIN_ELEMS: usize = 1 << 15;
/// Columns per task in the parallel [`sum_columns`] (a constant: the split never changes sums).
const COL_BLOCK: usize = 256;

/// `out[r] = op(x[r*len .. (r+1)*len])`. Large inputs are split across threads by rows; each
/// row is reduced by one task, so the result does not depend on the thread count.
pub fn reduce_rows<T: Real>(op: ReduceOp, x: &[T], rows: usize, len: usize, out: &mut [T]) {
    use rayon::prelude::*;
    let out = &mut out[..rows];
    if rows > 1 && rows.saturating_mul(len) >= PAR_MIN_ELEMS {
        let min_rows = (PAR_MIN_ELEMS / 4).div_ceil(len.max(1)).max(1);
        let _warm = crate::parallel::keep_warm();
        out.par_iter_mut()
            .enumerate()
            .with_min_len(min_rows)
            .for_each(|(r, o)| *o = reduce_row(op, &x[r * len..(r + 1) * len]));
    } else {
        for (r, o) in out.iter_mut().enumerate() {
            *o = reduce_row(op, &x[r * len..(r + 1) * len]);
        }
    }
}

/// One row of [`reduce_rows`].
fn reduce_row<T: Real>(op: ReduceOp, row: &[T]) -> T {
    let len = row.len();
    match op {
        ReduceOp::Sum => sum(row),
        ReduceOp::Mean => sum(row) / <T as Real>::from_f64(len as f64),
        ReduceOp::Max => row.iter().copied().fold(T::neg_infinity(), nan_max),
        ReduceOp::Min => row.iter().copied().fold(T::infinity(), nan_min),
        ReduceOp::LogSumExp => {
            let m = row.iter().copied().fold(T::neg_infinity(), nan_max);
            // ±inf (and NaN) maxima decide the result alone: log Σ exp = m.
            if m.is_infinite() || m.is_nan() {
                m
            } else {
                m + sum_exp(row, m).ln()
            }
        }
        ReduceOp::Norm2 => row.iter().map(|&v| v * v).sum::<T>().sqrt(),
    }
}

simd_fn! {
    /// `Σ exp(v − m)` over the row in order, compiled for the CPU's vector unit (the fast exp's
    /// fused multiply-adds are one instruction there).
    fn sum_exp<T>(row: &[T], m: T) -> T {
        row.iter().map(|&v| (v - m).fast_exp()).sum::<T>()
    }
}

/// `out[j] = Σ_i x[i·cols + j]` (column sums of a row-major `rows × cols` block), rows added in
/// order so the result does not depend on threads; the inner loop over `j` vectorises. Large
/// blocks are split across threads by fixed ranges of [`COL_BLOCK`] columns.
pub fn sum_columns<T: Real>(x: &[T], rows: usize, cols: usize, out: &mut [T]) {
    use rayon::prelude::*;
    let x = &x[..rows * cols];
    let out = &mut out[..cols];
    let run = |c0: usize, o: &mut [T]| {
        o.fill(T::zero());
        for row in x.chunks_exact(cols.max(1)) {
            for (o, &v) in o.iter_mut().zip(&row[c0..]) {
                *o += v;
            }
        }
    };
    if cols > COL_BLOCK && rows * cols >= PAR_MIN_ELEMS {
        let _warm = crate::parallel::keep_warm();
        out.par_chunks_mut(COL_BLOCK).enumerate().for_each(|(b, o)| run(b * COL_BLOCK, o));
    } else {
        run(0, out);
    }
}

/// Index of the first maximum (or minimum) of each row.
pub fn arg_reduce_rows<T: Real>(x: &[T], rows: usize, len: usize, max: bool, out: &mut [i64]) {
    for r in 0..rows {
        let row = &x[r * len..(r + 1) * len];
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            let better = if max { v > row[best] } else { v < row[best] };
            // The first NaN wins and stays (PyTorch's argmax/argmin treat NaN as the extreme).
            if !row[best].is_nan() && (v.is_nan() || better) {
                best = i;
            }
        }
        out[r] = best as i64;
    }
}

/// Pairwise (blocked) summation: error grows like log(n) instead of n.
pub fn sum<T: Real>(x: &[T]) -> T {
    const BLOCK: usize = 128;
    if x.len() <= BLOCK {
        let mut acc = [T::zero(); 8];
        let chunks = x.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                acc[i] += c[i];
            }
        }
        let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for &v in rest {
            s += v;
        }
        return s;
    }
    let half = (x.len() / 2).div_ceil(BLOCK) * BLOCK;
    sum(&x[..half]) + sum(&x[half..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parallel_row_and_column_sums_are_bit_identical_across_thread_counts() {
        let (rows, len) = (300usize, 1000usize); // above the parallel threshold both ways
        let x: Vec<f32> = (0..rows * len).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        let serial_rows: Vec<f32> = (0..rows).map(|r| sum(&x[r * len..(r + 1) * len])).collect();
        let mut serial_cols = vec![0.0f32; len];
        for row in x.chunks_exact(len) {
            serial_cols.iter_mut().zip(row).for_each(|(o, &v)| *o += v);
        }
        let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (mut r, mut c) = (vec![0.0f32; rows], vec![0.0f32; len]);
            pool.install(|| {
                reduce_rows(ReduceOp::Sum, &x, rows, len, &mut r);
                sum_columns(&x, rows, len, &mut c);
            });
            assert_eq!(bits(&r), bits(&serial_rows), "rows, {threads} threads");
            assert_eq!(bits(&c), bits(&serial_cols), "columns, {threads} threads");
        }
    }

    proptest! {
        #[test]
        fn pairwise_sum_matches_naive(v in proptest::collection::vec(-10.0f64..10.0, 0..1000)) {
            let naive: f64 = v.iter().sum();
            prop_assert!((sum(&v) - naive).abs() < 1e-9);
        }

        #[test]
        fn reductions_match_naive(rows in 1usize..5, len in 1usize..40, seed in 0u64..1000) {
            let x: Vec<f64> = (0..rows * len).map(|i| (((i as u64 * 7919 + seed * 104729) % 1000) as f64) / 100.0 - 5.0).collect();
            let mut out = vec![0.0; rows];
            for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::LogSumExp, ReduceOp::Norm2] {
                reduce_rows(op, &x, rows, len, &mut out);
                for r in 0..rows {
                    let row = &x[r * len..(r + 1) * len];
                    let want = match op {
                        ReduceOp::Sum => row.iter().sum::<f64>(),
                        ReduceOp::Mean => row.iter().sum::<f64>() / len as f64,
                        ReduceOp::Max => row.iter().cloned().fold(f64::MIN, f64::max),
                        ReduceOp::Min => row.iter().cloned().fold(f64::MAX, f64::min),
                        ReduceOp::LogSumExp => row.iter().map(|v| v.exp()).sum::<f64>().ln(),
                        ReduceOp::Norm2 => row.iter().map(|v| v * v).sum::<f64>().sqrt(),
                    };
                    prop_assert!((out[r] - want).abs() < 1e-9 * (1.0 + want.abs()), "{:?}", op);
                }
            }
        }
    }
}
