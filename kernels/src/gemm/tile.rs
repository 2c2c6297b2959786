//! Where a micro-kernel's tile goes ([`TileOut`]: stored, added, or stored plus a bias row, as
//! [`Start`] says for a whole product), which kernel a product runs ([`kernel`]), and the portable
//! kernel (any `Real`).
use super::{simd, MatRef};
use crate::Real;
use std::mem::MaybeUninit;

/// What C holds when a product starts, and so what its first depth slice does (later slices
/// always add).
#[derive(Clone, Copy)]
pub(super) enum Start<'a, T> {
    /// Anything (possibly uninitialised): the first slice stores its sums.
    Overwrite,
    /// Initialised values the product is added to (`C += A·B`).
    Accumulate,
    /// Anything: the first slice stores its sums plus `bias[j]` (one per column of C).
    Bias(&'a [T]),
}

impl<'a, T> Start<'a, T> {
    pub(super) fn from_accumulate(accumulate: bool) -> Self {
        if accumulate {
            Start::Accumulate
        } else {
            Start::Overwrite
        }
    }

    /// The bias row for columns `j0..` (none unless [`Start::Bias`]).
    pub(super) fn bias_from(self, j0: usize) -> Option<&'a [T]> {
        match self {
            Start::Bias(b) => Some(&b[j0..]),
            _ => None,
        }
    }
}

/// Where a micro-kernel puts its results: the top-left `rows×cols` block goes to
/// `c[i * ldc + j]` (`c` starts at the block's first element of C), stored when `overwrite`
/// (as `acc + bias[j]` when a bias row is given, `bias` starting at the block's first column),
/// otherwise added to what is there. Writing straight into C (instead of through a tile buffer)
/// saves a copy of every tile per depth slice.
///
/// C may be uninitialised memory (a new output the first depth slice overwrites). Invariant,
/// kept by the GEMM's code that builds a `TileOut` (its fields are private to `gemm`): when
/// `overwrite` is false, every element of the block is initialised.
pub struct TileOut<'a, T> {
    pub(super) c: &'a mut [MaybeUninit<T>],
    pub(super) ldc: usize,
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) overwrite: bool,
    pub(super) bias: Option<&'a [T]>,
}

impl<T: Real> TileOut<'_, T> {
    /// Checks the contract every kernel relies on: a non-empty block of at most `mr` rows and
    /// `max_cols` columns, all of it inside `c`.
    pub(super) fn check(&self, mr: usize, max_cols: usize) {
        assert!(
            (1..=mr).contains(&self.rows) && (1..=max_cols).contains(&self.cols),
            "tile block {}x{} outside {mr}x{max_cols}",
            self.rows,
            self.cols
        );
        let end = (self.rows - 1).checked_mul(self.ldc).and_then(|e| e.checked_add(self.cols));
        assert!(self.ldc >= self.cols && end.is_some_and(|e| self.c.len() >= e), "tile outside C");
        assert!(
            self.bias.is_none_or(|b| self.overwrite && b.len() >= self.cols),
            "bias row: stored tiles, every column"
        );
    }

    /// Where the bias row's column `j` is, for kernels: null without a bias row.
    pub(super) fn bias_at(&self, j: usize) -> *const T {
        self.bias.map_or(std::ptr::null(), |b| b[j..].as_ptr())
    }

    /// Stores or adds the `rows×cols` corner of a row-major `nr`-wide tile (the portable path).
    pub(super) fn write_tile(self, tile: &[T], nr: usize) {
        for (r, tile_row) in tile.chunks_exact(nr).enumerate().take(self.rows) {
            let dst = &mut self.c[r * self.ldc..][..self.cols];
            if let (true, Some(bias)) = (self.overwrite, self.bias) {
                dst.iter_mut().zip(tile_row).zip(bias).for_each(|((d, &t), &b)| {
                    d.write(b + t);
                });
            } else if self.overwrite {
                dst.iter_mut().zip(tile_row).for_each(|(d, &t)| {
                    d.write(t);
                });
            } else {
                // SAFETY: not overwriting, so the block is initialised (the type's invariant).
                dst.iter_mut().zip(tile_row).for_each(|(d, &t)| unsafe { *d.assume_init_mut() += t });
            }
        }
    }
}

/// A micro-kernel run over one A sliver and a whole packed B panel: for each nr-wide B sliver,
/// `acc[i][j] = Σ_p A(i, p) · B(p, j)` over `p < kc` in increasing order from zero, then `acc`'s
/// corner is stored into or added to C as [`TileOut`] says (one rounding for the add, as
/// `c + acc`; `out.cols` is the panel's width). A is a strided view starting at the sliver's
/// first row: packed (row stride 1, column stride mr) or the operand in place; only its first
/// `out.rows` rows are read. The panel holds `ceil(cols / nr)` packed kc×nr slivers. Bounds are
/// checked once per call, not per tile.
#[derive(Clone, Copy)]
pub(super) struct Kernel<T> {
    pub(super) mr: usize,
    pub(super) nr: usize,
    pub(super) run: fn(usize, MatRef<T>, &[T], TileOut<T>),
}

/// The best kernel for `T` on this CPU for products of `m` rows. Each element of C is the same
/// sum in the same order whatever the kernel's tile, so the choice never changes a result
/// (a thread's share of the rows may get another tile height than the whole product).
pub(super) fn kernel<T: Real>(m: usize) -> Kernel<T> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        if let Some((mr, nr, run)) = simd::best_f32_kernel(m) {
            // SAFETY: T is f32 (same TypeId), so the kernel's type with f32 and with T is the same.
            let run = unsafe {
                std::mem::transmute::<
                    fn(usize, MatRef<f32>, &[f32], TileOut<f32>),
                    fn(usize, MatRef<T>, &[T], TileOut<T>),
                >(run)
            };
            return Kernel { mr, nr, run };
        }
    }
    Kernel { mr: 6, nr: 16, run: micro_kernel::<T, 6, 16> }
}

/// The portable register-tiled kernel (any `Real`): plain arrays so LLVM keeps `acc` in vector
/// registers, then the corner of each tile into C. Reads A(i, p) for `i < out.rows` only
/// (bounds-checked indexing).
pub(super) fn micro_kernel<T: Real, const MR: usize, const NR: usize>(
    kc: usize,
    a: MatRef<T>,
    bp: &[T],
    out: TileOut<T>,
) {
    out.check(MR, usize::MAX);
    let rows = out.rows;
    for j0 in (0..out.cols).step_by(NR) {
        let b = &bp[j0 * kc..][..kc * NR];
        let mut acc = [[T::zero(); NR]; MR];
        let mut a_col = [T::zero(); MR];
        for (p, b_row) in b.chunks_exact(NR).enumerate() {
            for (i, x) in a_col.iter_mut().enumerate().take(rows) {
                *x = a.data[a.offset + i * a.row_stride + p * a.col_stride];
            }
            for (acc_row, &ai) in acc.iter_mut().zip(&a_col) {
                for (acc_ij, &bj) in acc_row.iter_mut().zip(b_row) {
                    *acc_ij += ai * bj;
                }
            }
        }
        let cols = NR.min(out.cols - j0);
        let bias = out.bias.map(|b| &b[j0..]);
        let tile = TileOut { c: &mut out.c[j0..], ldc: out.ldc, rows, cols, overwrite: out.overwrite, bias };
        tile.write_tile(acc.as_flattened(), NR);
    }
}
