//! The column split of a product between threads: each thread computes a share of C's columns
//! and so packs only its share of B (see [`column_split`]; `gemm_blocked` chooses it).
use super::{gemm_blocked, kernel, round_up, Blocking, MatRef, Operand, Start};
use crate::memory::as_uninit;
use crate::Real;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// C shared by [`column_split`]'s tasks, each of which touches only its own columns.
#[derive(Clone, Copy)]
struct SharedC<T>(*mut MaybeUninit<T>);
// SAFETY: the tasks holding a copy write disjoint column ranges of C (see `column_split`).
unsafe impl<T: Send> Send for SharedC<T> {}
// SAFETY: as above; no two tasks touch the same element.
unsafe impl<T: Send> Sync for SharedC<T> {}

impl<T> SharedC<T> {
    /// Element `i` of C (a method, so closures capture the whole `Send` wrapper).
    fn at(self, i: usize) -> *mut MaybeUninit<T> {
        self.0.wrapping_add(i)
    }
}

/// [`gemm_blocked`] split by columns: task `t` computes `C[:, j0..j0 + w]` (`w` a multiple of the
/// kernel's tile width, except for the last task) into a scratch block, as a serial product of A
/// and that slice of B, and copies it into its columns of C (from them first when accumulating).
/// Each element is the same sum as in the whole product (the depth slices and the kernel depend
/// on `k` and `m` only), so the same bits.
///
/// # Safety
/// As [`gemm_blocked`]: with [`Start::Accumulate`], `c[..m·n]` is initialised.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn column_split<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    (a, b): (Operand<T>, MatRef<T>),
    c: &mut [MaybeUninit<T>],
    start: Start<T>,
    blk: Blocking,
    threads: usize,
) {
    let part = round_up(n.div_ceil(threads), kernel::<T>(m).nr);
    let c = &mut c[..m * n];
    let shared = SharedC(c.as_mut_ptr());
    (0..n.div_ceil(part)).into_par_iter().with_min_len(1).for_each(|t| {
        let (j0, w) = (t * part, part.min(n - t * part));
        // SAFETY: row i's columns j0..j0 + w lie inside c[..m·n]; task t alone touches them (the
        // tasks' column ranges are disjoint), and `c` stays borrowed for the whole loop.
        let row = |i: usize| unsafe { std::slice::from_raw_parts_mut(shared.at(i * n + j0), w) };
        crate::scratch::with_scratch(m * w, |ct: &mut [T]| {
            if let Start::Accumulate = start {
                for (i, dst) in ct.chunks_exact_mut(w).enumerate() {
                    // SAFETY: accumulating, so C is initialised (this function's contract).
                    dst.iter_mut().zip(row(i).iter()).for_each(|(d, s)| *d = unsafe { s.assume_init() });
                }
            }
            let start = match start {
                Start::Bias(bias) => Start::Bias(&bias[j0..j0 + w]),
                other => other,
            };
            // SAFETY: `ct` is initialised (scratch holds values), and holds C's block when
            // accumulating.
            unsafe { gemm_blocked(m, w, k, a, Operand::Strided(b.at(0, j0)), as_uninit(ct), start, blk, false) };
            for (i, src) in ct.chunks_exact(w).enumerate() {
                row(i).iter_mut().zip(src).for_each(|(d, &s)| _ = d.write(s));
            }
        });
    });
}
