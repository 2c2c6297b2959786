//! Reductions in independent lanes: term `i` goes to lane `i % N` and the lanes are combined as a
//! balanced tree of adjacent pairs at the end, so the order depends only on the length, never on
//! the threads or the CPU; independent lanes let the operations overlap (and vectorise) where one
//! chain of dependent adds is bound by the add latency. The norm rows use [`LANES`] = 8 lanes, the
//! softmax rows 16 (one AVX-512 register of f32).
use crate::Real;

/// The norms' lane count (one AVX2 register of f32).
pub(crate) const LANES: usize = 8;

/// The lanes combined as a balanced tree of adjacent pairs (`N` a power of two): for 8 lanes
/// `((a0 ∘ a1) ∘ (a2 ∘ a3)) ∘ ((a4 ∘ a5) ∘ (a6 ∘ a7))`.
#[inline(always)]
pub(crate) fn combine_with<T: Copy, const N: usize>(mut a: [T; N], op: impl Fn(T, T) -> T) -> T {
    debug_assert!(N.is_power_of_two());
    let mut n = N;
    while n > 1 {
        for i in 0..n / 2 {
            a[i] = op(a[2 * i], a[2 * i + 1]);
        }
        n /= 2;
    }
    a[0]
}

/// The lane sums combined: [`combine_with`] for `+`.
#[inline(always)]
pub(crate) fn combine<T: Real, const N: usize>(a: [T; N]) -> T {
    combine_with(a, |x, y| x + y)
}

/// `Σ_{i<n} f(i)` in the order of [`LANES`] lanes (the indexed form the tests check
/// [`lane_fold`]'s sums against).
#[cfg(test)]
pub(crate) fn lane_sum<T: Real>(n: usize, mut f: impl FnMut(usize) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let full = n / LANES * LANES;
    for base in (0..full).step_by(LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += f(base + l);
        }
    }
    for (a, i) in acc.iter_mut().zip(full..n) {
        *a += f(i);
    }
    combine(acc)
}

/// `f(x0) ∘ f(x1) ∘ …` over a slice in `N` lanes (`init` starts every lane), written over chunks
/// so the loop has no index checks and vectorises.
#[inline(always)]
pub(crate) fn lane_fold<T: Copy, const N: usize>(xs: &[T], init: T, f: impl Fn(T) -> T, op: impl Fn(T, T) -> T) -> T {
    let mut acc = [init; N];
    let chunks = xs.chunks_exact(N);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = op(*a, f(v));
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a = op(*a, f(v));
    }
    combine_with(acc, op)
}

/// `Σ a[i]·b[i]` over two slices of the same length, in `N` lanes.
#[inline(always)]
pub(crate) fn lane_dot<T: Real, const N: usize>(a: &[T], b: &[T]) -> T {
    let b = &b[..a.len()];
    let mut acc = [T::zero(); N];
    let (ca, cb) = (a.chunks_exact(N), b.chunks_exact(N));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(ta).zip(tb) {
        *s += x * y;
    }
    combine(acc)
}
