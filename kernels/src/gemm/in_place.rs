//! Products with a small row-major B read where it is, not packed: attention's 64×64 blocks, and
//! any B that a single sliver of rows reads only once. Packing such a B would cost as much as
//! the product.
//!
//! A batch of them (attention over batch × heads) runs one product after another on a thread,
//! each a few microseconds long and each on operands that are not yet in cache: the next
//! product's A, B and C are fetched from L3 while the current one computes ([`Ahead`]). At one
//! thread this took 64×64×64 × 256 from 120-125 to 173-176 GFLOP/s (`bench gemm`; numpy
//! 147-155 in the same runs), above what the same products reach with every operand already in
//! L1 (C's lines, written and so first read for ownership, were the larger part).
//!
//! The sums are those of [`super::gemm`] with the same blocking (depth slices of
//! `k.div_ceil(k.div_ceil(KC))`, each a fresh sum over increasing `p` by an AVX-512 kernel,
//! stored or added to C), so the result is the same bits as the packed path on the same CPU.
use super::simd::{self, Prefetch};
use super::{MatRef, TileOut, KC};
use std::mem::MaybeUninit;

/// Most elements (`k·n`) of a row-major B that [`gemm_b_in_place`] reads where it is: small
/// enough to stay in L1/L2 across the A slivers (attention's 64×64 blocks), where packing it
/// would cost as much as the product. Larger panels are packed (their rows are far apart).
pub const B_IN_PLACE_MAX: usize = 64 * 64;

/// Memory the next product of a batch will read or write, to be fetched into L2 while this one
/// computes: up to three byte ranges (its A, B and C). Only addresses: nothing is ever read
/// through them (a prefetch of any address is harmless), so they need not be valid.
#[derive(Clone, Copy, Default)]
pub struct Ahead {
    spans: [(usize, usize); 3],
}

impl Ahead {
    /// Nothing to fetch.
    pub const NONE: Ahead = Ahead { spans: [(0, 0); 3] };

    /// The ranges `[start, start + bytes)` given as (address, length in bytes).
    pub fn new(spans: [(*const u8, usize); 3]) -> Self {
        Ahead { spans: spans.map(|(p, len)| (p as usize, len)) }
    }

    /// The bytes a strided matrix of `rows × cols` elements of `T` spans, from its first element
    /// (empty when it has none or its extent does not fit in `usize`).
    pub fn matrix<T>(m: MatRef<T>, rows: usize, cols: usize) -> (*const u8, usize) {
        let last = rows
            .checked_sub(1)
            .and_then(|r| r.checked_mul(m.row_stride))
            .zip(cols.checked_sub(1).and_then(|c| c.checked_mul(m.col_stride)))
            .and_then(|(r, c)| r.checked_add(c)?.checked_add(m.offset));
        match last {
            Some(last) if last < m.data.len() => {
                (m.data[m.offset..].as_ptr().cast::<u8>(), (last + 1 - m.offset) * std::mem::size_of::<T>())
            }
            _ => (std::ptr::null(), 0),
        }
    }

    /// The 64-byte lines of all spans, one after another, handed out in pieces of at most
    /// `quota` contiguous lines (a piece ends where its span does).
    fn pieces(self, quota: usize) -> impl FnMut() -> Prefetch {
        let mut spans = self.spans.into_iter().map(|(start, len)| (start, len.div_ceil(64)));
        let mut current = (0usize, 0usize);
        move || {
            while current.1 == 0 {
                match spans.next() {
                    Some(span) => current = span,
                    None => return Prefetch::NONE,
                }
            }
            let take = quota.min(current.1);
            let piece = Prefetch::lines(current.0 as *const u8, take);
            current = (current.0.wrapping_add(64 * take), current.1 - take);
            piece
        }
    }

    fn lines(&self) -> usize {
        self.spans.iter().map(|&(_, len)| len.div_ceil(64)).sum()
    }
}

/// `c [m × n] = a · b` (+ `bias[j]` on every row when given; written in full, may start
/// uninitialised) with a row-major `b` of `n` a multiple of 32 read in place by an AVX-512
/// kernel, A read in place too (any strides): the blocked GEMM's depth slices, so the same bits
/// as [`super::gemm`]. While it computes, the kernels fetch `ahead`'s lines into L2, spread
/// over its tiles. Runs on the calling thread. Returns false, writing nothing, when the CPU
/// lacks the kernels or the shapes do not fit (`b` not row-major, `n` not a multiple of 32).
pub fn gemm_b_in_place(
    m: usize,
    n: usize,
    k: usize,
    (a, b): (MatRef<f32>, MatRef<f32>),
    c: &mut [MaybeUninit<f32>],
    bias: Option<&[f32]>,
    ahead: Ahead,
) -> bool {
    if b.col_stride != 1 || !n.is_multiple_of(32) || n == 0 || k == 0 {
        return false;
    }
    let c = &mut c[..m * n];
    let kc_max = k.div_ceil(k.div_ceil(KC));
    // Products of more rows than the 32-column kernel's tile take 64-column tiles where n allows:
    // 24 accumulators per B row of four registers, against 16 per two. One sliver of rows keeps
    // the 32-column kernel, whose taller tile reads B once.
    if let Some((mr, run)) = simd::b_in_place_64_f32_kernel(m).filter(|_| n.is_multiple_of(64)) {
        let calls = m.div_ceil(mr) * k.div_ceil(kc_max);
        // One line per depth step of each 64-column tile at most; spread evenly, with one call's
        // share to spare for each span boundary.
        let capacity = kc_max.min(k) * (n / 64);
        let quota = ahead.lines().div_ceil(calls.saturating_sub(3).max(1)).min(capacity);
        let mut next_piece = ahead.pieces(quota);
        each_sliver((m, n, k, kc_max, mr), (a, b), c, bias, |kc, a, b, out| run(kc, a, b, out, next_piece()));
        return true;
    }
    let Some((mr, run)) = simd::b_in_place_f32_kernel() else { return false };
    each_sliver((m, n, k, kc_max, mr), (a, b), c, bias, run);
    true
}

/// Runs `run(kc, A sliver, B slice, tile)` over each depth slice (at most `kc_max` deep) and each
/// `mr`-row sliver of C's `m × n` rows, in that order: the first slice stores (plus the bias), the
/// later ones add, so every element is initialised before a slice adds to it.
fn each_sliver(
    (m, n, k, kc_max, mr): (usize, usize, usize, usize, usize),
    (a, b): (MatRef<f32>, MatRef<f32>),
    c: &mut [MaybeUninit<f32>],
    bias: Option<&[f32]>,
    mut run: impl FnMut(usize, MatRef<f32>, MatRef<f32>, TileOut<f32>),
) {
    for pc in (0..k).step_by(kc_max) {
        let kc = kc_max.min(k - pc);
        for ir in (0..m).step_by(mr) {
            let rows = mr.min(m - ir);
            let (overwrite, bias) = (pc == 0, bias.filter(|_| pc == 0));
            let out = TileOut { c: &mut c[ir * n..], ldc: n, rows, cols: n, overwrite, bias };
            run(kc, a.at(ir, pc), b.at(pc, 0), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces cover every line of every span once, in order, none longer than the quota or
    /// crossing a span's end; then nothing.
    #[test]
    fn ahead_pieces_cover_each_line_once() {
        let base = 1usize << 20;
        let spans = [(base, 64 * 10), (base + 4096, 64 * 3 + 1), (base + 8192, 0)];
        let ahead = Ahead::new(spans.map(|(p, len)| (p as *const u8, len)));
        assert_eq!(ahead.lines(), 14);
        let mut next = ahead.pieces(4);
        let mut got = Vec::new();
        loop {
            let piece = next();
            if piece.is_empty() {
                break;
            }
            assert!(piece.len() <= 4);
            got.extend((0..piece.len()).map(|i| piece.start() + 64 * i));
        }
        let want: Vec<usize> = (0..10).map(|i| base + 64 * i).chain((0..4).map(|i| base + 4096 + 64 * i)).collect();
        assert_eq!(got, want);
        assert!(next().is_empty());
    }

    /// A matrix's span runs from its first to its last element; one that does not fit in its
    /// slice, or has no elements, spans nothing.
    #[test]
    fn matrix_spans() {
        let data = [0f32; 100];
        let m = MatRef { data: &data, offset: 10, row_stride: 20, col_stride: 1 };
        assert_eq!(Ahead::matrix(m, 3, 5).1, (2 * 20 + 4 + 1) * 4);
        assert_eq!(Ahead::matrix(m, 5, 5).1, (4 * 20 + 4 + 1) * 4);
        assert_eq!(Ahead::matrix(m, 6, 1).1, 0);
        assert_eq!(Ahead::matrix(m, 0, 5).1, 0);
        assert_eq!(Ahead::matrix(MatRef { row_stride: usize::MAX, ..m }, 2, 1).1, 0);
    }
}
