//! Elementwise maps over strided (broadcast, permuted, sliced) inputs.
//!
//! A logical shape plus per-input strides (stride 0 = broadcast) describe where each element
//! lives. Before looping, adjacent dimensions that are contiguous for *every* input are merged
//! (`[N, C, H, W] + [1, C, 1, 1]` becomes `[N, C, H·W]` with the bias stride 0 along `H·W`), so
//! the inner loop is long and its stride pattern — (1, 1), (1, 0), (0, 1) or general — is picked
//! once per row. Rows are split across rayon threads for large outputs; each output element is
//! written once, so the result does not depend on the thread count.
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Outputs at or above this many elements are computed in parallel.
pub const PAR_MIN_ELEMS: usize = 1 << 15;

/// One strided input: `(data, strides, offset)`; element `idx` is at `offset + Σ idx[d]·strides[d]`.
pub type Strided<'a, T> = (&'a [T], &'a [usize], usize);

/// Merges dimensions that are contiguous for both stride sets; drops size-1 dimensions.
/// Returns (shape, strides_a, strides_b), each of rank ≥ 1.
pub fn coalesce(shape: &[usize], sa: &[usize], sb: &[usize]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut sh, mut a, mut b): (Vec<usize>, Vec<usize>, Vec<usize>) = (vec![], vec![], vec![]);
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let (Some(&ls), Some(&la), Some(&lb)) = (sh.last(), a.last(), b.last()) {
            // The previous (outer) dim continues this one if its stride is this stride × size.
            if la == sa[d] * shape[d] && lb == sb[d] * shape[d] {
                let n = sh.len();
                sh[n - 1] = ls * shape[d];
                a[n - 1] = sa[d];
                b[n - 1] = sb[d];
                continue;
            }
        }
        sh.push(shape[d]);
        a.push(sa[d]);
        b.push(sb[d]);
    }
    if sh.is_empty() {
        return (vec![1], vec![0], vec![0]);
    }
    (sh, a, b)
}

/// `out[i] = f(a[i], b[i])` over the logical shape (row-major `out`).
pub fn zip_map<A, B, O, F>(shape: &[usize], a: Strided<A>, b: Strided<B>, out: &mut [O], f: F)
where
    A: Copy + Sync,
    B: Copy + Sync,
    O: Copy + Send,
    F: Fn(A, B) -> O + Sync,
{
    // SAFETY: `MaybeUninit<O>` has the layout of `O`, and `zip_map_into` only ever writes
    // initialised values, so `out` stays initialised.
    let out = unsafe { &mut *(out as *mut [O] as *mut [MaybeUninit<O>]) };
    zip_map_into(shape, a, b, out, f);
}

/// [`zip_map`] into a new vector of the shape's element count: no zero-fill before the writes.
pub fn zip_map_vec<A, B, O, F>(shape: &[usize], a: Strided<A>, b: Strided<B>, f: F) -> Vec<O>
where
    A: Copy + Sync,
    B: Copy + Sync,
    O: Copy + Send,
    F: Fn(A, B) -> O + Sync,
{
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    zip_map_into(shape, a, b, &mut out.spare_capacity_mut()[..n], f);
    // SAFETY: the capacity is at least n, and `zip_map_into` wrote every one of the first n
    // elements (its rows of `inner` elements tile out[..n] exactly).
    unsafe { out.set_len(n) };
    out
}

/// The loop behind [`zip_map`] and [`zip_map_vec`]: writes every element of `out[..n]`.
fn zip_map_into<A, B, O, F>(shape: &[usize], a: Strided<A>, b: Strided<B>, out: &mut [MaybeUninit<O>], f: F)
where
    A: Copy + Sync,
    B: Copy + Sync,
    O: Copy + Send,
    F: Fn(A, B) -> O + Sync,
{
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let (sh, sa, sb) = coalesce(shape, a.1, b.1);
    let rank = sh.len();
    let inner = sh[rank - 1];
    let (ia, ib) = (sa[rank - 1], sb[rank - 1]);
    let (da, db) = (a.0, b.0);
    // Storage offsets of the first element of row `r` (rows = all but the last merged dim).
    let row_base = |r: usize| {
        let (mut oa, mut ob, mut rem) = (a.2, b.2, r);
        for d in (0..rank - 1).rev() {
            let i = rem % sh[d];
            rem /= sh[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        (oa, ob)
    };
    let do_row = |r: usize, row: &mut [MaybeUninit<O>]| {
        let (oa, ob) = row_base(r);
        match (ia, ib) {
            (1, 1) => row
                .iter_mut()
                .zip(&da[oa..oa + inner])
                .zip(&db[ob..ob + inner])
                .for_each(|((o, &x), &y)| _ = o.write(f(x, y))),
            (1, 0) => {
                let y = db[ob];
                row.iter_mut().zip(&da[oa..oa + inner]).for_each(|(o, &x)| _ = o.write(f(x, y)))
            }
            (0, 1) => {
                let x = da[oa];
                row.iter_mut().zip(&db[ob..ob + inner]).for_each(|(o, &y)| _ = o.write(f(x, y)))
            }
            _ => row.iter_mut().enumerate().for_each(|(i, o)| _ = o.write(f(da[oa + i * ia], db[ob + i * ib]))),
        }
    };
    let out = &mut out[..n];
    if n >= PAR_MIN_ELEMS {
        // Enough rows per task to amortise the task cost when rows are short.
        let rows_per_task = (PAR_MIN_ELEMS / 4).div_ceil(inner).max(1);
        let _warm = crate::parallel::keep_warm();
        out.par_chunks_mut(inner * rows_per_task).enumerate().for_each(|(t, chunk)| {
            for (k, row) in chunk.chunks_mut(inner).enumerate() {
                do_row(t * rows_per_task + k, row);
            }
        });
    } else {
        for (r, row) in out.chunks_mut(inner).enumerate() {
            do_row(r, row);
        }
    }
}

/// `acc[i] = f(acc[i], x[i])` in place over two slices of the same length; large inputs are split
/// across threads (each element is still computed once, so the result does not depend on them).
pub fn zip_assign<T: Copy + Send + Sync>(acc: &mut [T], x: &[T], f: impl Fn(T, T) -> T + Sync) {
    assert_eq!(acc.len(), x.len(), "zip_assign: lengths differ");
    let run = |(a, x): (&mut [T], &[T])| a.iter_mut().zip(x).for_each(|(a, &x)| *a = f(*a, x));
    if acc.len() >= PAR_MIN_ELEMS {
        let _warm = crate::parallel::keep_warm();
        acc.par_chunks_mut(PAR_MIN_ELEMS / 4).zip(x.par_chunks(PAR_MIN_ELEMS / 4)).for_each(run);
    } else {
        run((acc, x));
    }
}

/// Row-major copy of a strided view: `out[i] = src[offset(i)]`. Contiguous inner runs are
/// copied whole; large outputs are split across threads by rows.
pub fn gather<T: Copy + Send + Sync>(shape: &[usize], src: Strided<T>, out: &mut [T]) {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`, and `gather_into` only ever writes
    // initialised values, so `out` stays initialised.
    let out = unsafe { &mut *(out as *mut [T] as *mut [MaybeUninit<T>]) };
    gather_into(shape, src, out);
}

/// [`gather`] into a new vector of the shape's element count: no fill before the copy.
pub fn gather_vec<T: Copy + Send + Sync>(shape: &[usize], src: Strided<T>) -> Vec<T> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    gather_into(shape, src, &mut out.spare_capacity_mut()[..n]);
    // SAFETY: the capacity is at least n, and `gather_into` wrote every one of the first n
    // elements (its rows of `inner` elements tile out[..n] exactly).
    unsafe { out.set_len(n) };
    out
}

/// The copy behind [`gather`] and [`gather_vec`]: writes every element of `out[..n]`.
fn gather_into<T: Copy + Send + Sync>(shape: &[usize], src: Strided<T>, out: &mut [MaybeUninit<T>]) {
    let zeros = vec![0usize; shape.len()];
    // Reuse zip_map's dimension merging with a dummy second operand of stride 0.
    let (sh, sa, _) = coalesce(shape, src.1, &zeros);
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let rank = sh.len();
    let (inner, step) = (sh[rank - 1], sa[rank - 1]);
    let data = src.0;
    let row = |r: usize, o: &mut [MaybeUninit<T>]| {
        let (mut off, mut rem) = (src.2, r);
        for d in (0..rank - 1).rev() {
            off += (rem % sh[d]) * sa[d];
            rem /= sh[d];
        }
        if step == 1 {
            // A plain element loop over equal lengths: compiled to a memcpy.
            o.iter_mut().zip(&data[off..off + inner]).for_each(|(v, &x)| _ = v.write(x));
        } else {
            o.iter_mut().enumerate().for_each(|(i, v)| _ = v.write(data[off + i * step]));
        }
    };
    let out = &mut out[..n];
    if n >= PAR_MIN_ELEMS {
        let rows_per_task = (PAR_MIN_ELEMS / 4).div_ceil(inner).max(1);
        let _warm = crate::parallel::keep_warm();
        out.par_chunks_mut(inner * rows_per_task).enumerate().for_each(|(t, chunk)| {
            for (k, o) in chunk.chunks_mut(inner).enumerate() {
                row(t * rows_per_task + k, o);
            }
        });
    } else {
        for (r, o) in out.chunks_mut(inner).enumerate() {
            row(r, o);
        }
    }
}

/// `dst[c·rows + r] = src[r·cols + c]`: the transpose of a row-major `rows × cols` block, in
/// square tiles so that both sides move whole cache lines (element by element, one side would
/// jump a full row per element).
pub fn transpose<T: Copy>(src: &[T], (rows, cols): (usize, usize), dst: &mut [T]) {
    const TILE: usize = 16;
    let (src, dst) = (&src[..rows * cols], &mut dst[..rows * cols]);
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            for c in c0..(c0 + TILE).min(cols) {
                let out = &mut dst[c * rows + r0..c * rows + r1];
                for (o, r) in out.iter_mut().zip(r0..r1) {
                    *o = src[r * cols + c];
                }
            }
        }
    }
}

/// Concatenation of `parts` (`(data, block)`, each holding `outer` blocks of `block` elements):
/// `out` is, for each `o` in `0..outer`, block `o` of every part in turn. Large outputs are split
/// across threads by whole output rows (each element is copied once, by one task).
pub fn concat<T: Copy + Send + Sync>(parts: &[(&[T], usize)], outer: usize, out: &mut [T]) {
    let row: usize = parts.iter().map(|p| p.1).sum();
    let out = &mut out[..outer * row];
    if row == 0 {
        return;
    }
    let copy_row = |o: usize, dst: &mut [T]| {
        let mut at = 0;
        for &(data, block) in parts {
            dst[at..at + block].copy_from_slice(&data[o * block..(o + 1) * block]);
            at += block;
        }
    };
    if out.len() >= PAR_MIN_ELEMS && outer > 1 {
        let min_rows = (PAR_MIN_ELEMS / 4).div_ceil(row).max(1);
        let _warm = crate::parallel::keep_warm();
        out.par_chunks_mut(row).enumerate().with_min_len(min_rows).for_each(|(o, dst)| copy_row(o, dst));
    } else {
        out.chunks_mut(row).enumerate().for_each(|(o, dst)| copy_row(o, dst));
    }
}

/// The inverse of [`gather`]: writes row-major `src` into the strided positions of `dst`
/// (which must not overlap, i.e. no stride-0 dimensions of size > 1).
pub fn scatter<T: Copy>(shape: &[usize], src: &[T], dst: (&mut [T], &[usize], usize)) {
    scatter_with(shape, src, dst, |d, v| *d = v);
}

/// [`scatter`] that adds `src` into the strided positions (`dst[pos] = dst[pos] + src[i]`):
/// the adjoint of a slice accumulated into an existing gradient.
pub fn scatter_add<T: Copy + std::ops::Add<Output = T>>(shape: &[usize], src: &[T], dst: (&mut [T], &[usize], usize)) {
    scatter_with(shape, src, dst, |d, v| *d = *d + v);
}

/// The walk behind [`scatter`] and [`scatter_add`]: `f(&mut dst[pos], src[i])` for every
/// element, in row-major order of `shape`.
#[inline(always)]
fn scatter_with<T: Copy>(shape: &[usize], src: &[T], dst: (&mut [T], &[usize], usize), f: impl Fn(&mut T, T)) {
    let zeros = vec![0usize; shape.len()];
    let (sh, sd, _) = coalesce(shape, dst.1, &zeros);
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let rank = sh.len();
    let (inner, step) = (sh[rank - 1], sd[rank - 1]);
    let data = dst.0;
    for (r, s) in src[..n].chunks(inner).enumerate() {
        let (mut off, mut rem) = (dst.2, r);
        for d in (0..rank - 1).rev() {
            off += (rem % sh[d]) * sd[d];
            rem /= sh[d];
        }
        if step == 1 {
            data[off..off + inner].iter_mut().zip(s).for_each(|(d, &v)| f(d, v));
        } else {
            s.iter().enumerate().for_each(|(i, &v)| f(&mut data[off + i * step], v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The naive reference: walk every multi-index.
    fn naive(shape: &[usize], a: Strided<f64>, b: Strided<f64>) -> Vec<f64> {
        let n: usize = shape.iter().product();
        (0..n)
            .map(|flat| {
                let (mut rem, mut oa, mut ob) = (flat, a.2, b.2);
                for d in (0..shape.len()).rev() {
                    let i = rem % shape[d];
                    rem /= shape[d];
                    oa += i * a.1[d];
                    ob += i * b.1[d];
                }
                a.0[oa] * 10.0 + b.0[ob]
            })
            .collect()
    }

    proptest! {
        #[test]
        fn zip_map_matches_naive(dims in proptest::collection::vec(1usize..6, 1..5), pick in 0u32..1024, off in 0usize..3, big in any::<bool>()) {
            let mut shape = dims.clone();
            if big {
                shape.push(2100); // crosses the parallel threshold
            }
            // Per dim: contiguous, broadcast (stride 0) or padded strides, chosen by bits of `pick`.
            let strides = |seed: u32| -> Vec<usize> {
                let mut s = vec![0; shape.len()];
                let mut acc = 1;
                for d in (0..shape.len()).rev() {
                    s[d] = if (seed >> d) & 1 == 1 { 0 } else { acc };
                    acc *= shape[d] + ((seed >> (d + 4)) & 1) as usize;
                }
                s
            };
            let (sa, sb) = (strides(pick), strides(pick.rotate_left(7)));
            let len = |s: &[usize]| off + shape.iter().zip(s).map(|(&n, &st)| (n - 1) * st).sum::<usize>() + 1;
            let da: Vec<f64> = (0..len(&sa)).map(|i| i as f64).collect();
            let db: Vec<f64> = (0..len(&sb)).map(|i| (i % 10) as f64).collect();
            let n: usize = shape.iter().product();
            let mut out = vec![0.0; n];
            zip_map(&shape, (&da, &sa, off), (&db, &sb, off), &mut out, |x, y| x * 10.0 + y);
            let want = naive(&shape, (&da, &sa, off), (&db, &sb, off));
            prop_assert_eq!(&out, &want);
            // The allocating variant writes every element of its uninitialised vector.
            let fresh = zip_map_vec(&shape, (&da, &sa, off), (&db, &sb, off), |x, y| x * 10.0 + y);
            prop_assert_eq!(&fresh, &want);
            // gather_vec copies the first operand's view (for `gather`, see below).
            let copied = gather_vec(&shape, (&da, &sa, off));
            let want_a = naive(&shape, (&da, &sa, off), (&db, &vec![0; shape.len()], 0));
            prop_assert_eq!(copied.iter().map(|x| x * 10.0).collect::<Vec<_>>(), want_a);
        }
    }

    #[test]
    fn gather_and_scatter_are_inverse_on_a_permuted_slice() {
        // A [4, 6] buffer viewed as the transpose of its columns 1..5 step 2: shape [2, 4].
        let src: Vec<f64> = (0..24).map(|i| i as f64).collect();
        let (shape, strides, off) = ([2usize, 4], [2usize, 6], 1usize);
        let mut out = vec![0.0; 8];
        gather(&shape, (&src, &strides, off), &mut out);
        assert_eq!(out, vec![1.0, 7.0, 13.0, 19.0, 3.0, 9.0, 15.0, 21.0]);
        assert_eq!(gather_vec(&shape, (&src, &strides, off)), out);
        let mut back = vec![0.0; 24];
        scatter(&shape, &out, (&mut back, &strides, off));
        for (i, v) in back.iter().enumerate() {
            let hit = i % 6 == 1 || i % 6 == 3;
            assert_eq!(*v, if hit { i as f64 } else { 0.0 });
        }
        // scatter_add adds into the same positions and leaves the others alone.
        let mut acc: Vec<f64> = (0..24).map(|i| 100.0 * i as f64).collect();
        scatter_add(&shape, &out, (&mut acc, &strides, off));
        for (i, v) in acc.iter().enumerate() {
            let hit = i % 6 == 1 || i % 6 == 3;
            assert_eq!(*v, if hit { 101.0 * i as f64 } else { 100.0 * i as f64 });
        }
    }

    #[test]
    fn concat_matches_naive_for_any_thread_count() {
        // Three parts of [outer, c_i, 700] joined along dim 1; big enough to run in parallel.
        let (outer, widths) = (9usize, [2usize, 5, 1]);
        let parts: Vec<Vec<u32>> = widths
            .iter()
            .enumerate()
            .map(|(p, &c)| (0..outer * c * 700).map(|i| (p * 1_000_000 + i) as u32).collect())
            .collect();
        let mut want = Vec::new();
        for o in 0..outer {
            for (p, &c) in parts.iter().zip(&widths) {
                want.extend_from_slice(&p[o * c * 700..(o + 1) * c * 700]);
            }
        }
        let blocks: Vec<(&[u32], usize)> = parts.iter().zip(&widths).map(|(p, &c)| (&p[..], c * 700)).collect();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out = vec![0u32; want.len()];
            pool.install(|| concat(&blocks, outer, &mut out));
            assert_eq!(out, want);
        }
    }

    #[test]
    fn transpose_matches_the_element_loop() {
        for (rows, cols) in [(1usize, 1usize), (3, 5), (16, 16), (17, 33), (1152, 128), (40, 1)] {
            let src: Vec<u32> = (0..(rows * cols) as u32).collect();
            let mut got = vec![u32::MAX; rows * cols];
            transpose(&src, (rows, cols), &mut got);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(got[c * rows + r], src[r * cols + c], "{rows}x{cols} at ({r}, {c})");
                }
            }
        }
    }

    #[test]
    fn coalesce_merges_bias_broadcast() {
        // [N, C, H, W] + [1, C, 1, 1]
        let (sh, a, b) = coalesce(&[2, 3, 4, 5], &[60, 20, 5, 1], &[0, 1, 0, 0]);
        assert_eq!((sh, a, b), (vec![2, 3, 20], vec![60, 20, 1], vec![0, 1, 0]));
    }
}
