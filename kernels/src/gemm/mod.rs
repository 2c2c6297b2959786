//! Matrix products. `C = A · B` (+ C when accumulating) with A and B given by arbitrary strides.
//!
//! # Blocking (BLIS-style)
//!
//! The fast path follows the classic five-loop GEMM of Goto / BLIS. With `A: m×k`, `B: k×n`,
//! `C: m×n` (row-major, contiguous):
//!
//! ```text
//! for jc in 0..n step NC                      // column panel of B and C        (nc ≤ NC)
//!   for pc in 0..k step KC                    // depth slice                    (kc ≤ KC)
//!     pack B[pc.., jc..] (kc×nc) -> Bp        // NR-wide slivers, Bp[sliver][p][0..NR]
//!     for ic in 0..m step mc  (rayon tasks)   // row block of A and C           (mc ≤ MC)
//!       pack A[ic.., pc..] (mc×kc) -> Ap      // MR-tall slivers, Ap[sliver][p][0..MR]
//!       for jr in 0..nc step NR               // one B sliver (kc×NR, stays in L1)
//!         for ir in 0..mc step MR             // one A sliver (kc×MR; all of Ap stays in L2)
//!           micro-kernel: MR×NR tile += Ap sliver · Bp sliver   (register accumulators)
//! ```
//!
//! Packing reads A and B through their strides once per block, so any layout (row-major,
//! transposed, padded, broadcast with stride 0, nonzero offset) feeds the same contiguous
//! micro-kernel. Edge slivers are zero-padded to a full MR / NR, so the micro-kernel always
//! computes a full tile and only the valid `rows×cols` corner is written back to C.
//!
//! # Determinism
//!
//! Element `C[i][j]` is computed by exactly one task. Its value is built as: for each depth slice
//! `pc` in increasing order, a fresh accumulator sums `A[i][p]·B[p][j]` for `p` in that slice in
//! increasing order, and the slice sum is then stored into (first slice, not accumulating) or added
//! to C. That order depends only on `KC` (a constant), never on `mc`, `nc` or the thread count, so
//! results are bit-identical for any rayon pool size. (The row-block height `mc` is adapted to the
//! thread count for load balance; that changes only which task owns a row, not the arithmetic.)
use crate::Real;
use rayon::prelude::*;

mod simd;
pub use simd::has_avx2_fma;

/// A read-only strided matrix inside a slice: element (i, j) sits at
/// `data[offset + i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// Rows of the micro-kernel tile (height of a packed A sliver).
const MR: usize = 6;
/// Columns of the micro-kernel tile (width of a packed B sliver).
const NR: usize = 16;
/// Depth of one slice (`kc`). Fixes the summation order, so it must never depend on threads.
const KC: usize = 256;
/// Maximum height of a packed A block (`mc`); a multiple of `MR`. `MC×KC` should fit in L2.
const MC: usize = 144;
/// Maximum width of a packed B panel (`nc`); a multiple of `NR`. `KC×NC` should fit in L3.
const NC: usize = 2048;
/// Products with `m·n·k` below this run on the calling thread only.
const PAR_MIN_WORK: usize = 1 << 15;

/// The block sizes of one run. Only tests use anything other than [`BLOCKING`], to drive every
/// loop of the blocked algorithm with small matrices.
#[derive(Clone, Copy, Debug)]
struct Blocking {
    mc: usize,
    kc: usize,
    nc: usize,
}

const BLOCKING: Blocking = Blocking { mc: MC, kc: KC, nc: NC };

/// `c[m×n] (row-major, contiguous) = a[m×k] · b[k×n]`, or `c += a · b` when `accumulate`.
/// Packed and cache-blocked (see the module docs); rows are split across rayon threads when
/// `m·n·k ≥ 32768`, with results bit-identical for every thread count.
pub fn gemm<T: Real>(m: usize, n: usize, k: usize, a: MatRef<T>, b: MatRef<T>, c: &mut [T], accumulate: bool) {
    let work = m.saturating_mul(n).saturating_mul(k);
    let parallel = work >= PAR_MIN_WORK && rayon::current_num_threads() > 1;
    gemm_blocked(m, n, k, a, b, c, accumulate, BLOCKING, parallel);
}

/// Naive triple loop: the reference the fast kernel is tested against.
pub fn gemm_reference<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    c: &mut [T],
    accumulate: bool,
) {
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
/// `a_t` / `b_t` are the strided matrices at `a_offsets[t]` / `b_offsets[t]` (this is how the
/// tensor layer expresses broadcasting over leading dimensions without copies).
///
/// With many items (at least 4 per thread) or items too small to split, the items themselves are
/// the parallel tasks and each runs serially; otherwise items run one after another and each
/// product splits its rows. Either way each item's result is the same bits.
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
    let batch = a_offsets.len();
    let mn = m * n;
    if batch == 0 || mn == 0 {
        return;
    }
    let c = &mut c[..batch * mn];
    let threads = rayon::current_num_threads();
    let work = mn.saturating_mul(k);
    // Items are the parallel tasks when there are many of them (or each is too small to split);
    // otherwise they run in turn and each product splits its own rows when big enough.
    let by_item = threads > 1
        && batch > 1
        && work.saturating_mul(batch) >= PAR_MIN_WORK
        && (batch >= 4 * threads || work < PAR_MIN_WORK);
    let rows_parallel = !by_item && threads > 1 && work >= PAR_MIN_WORK;
    c.par_chunks_mut(mn)
        .zip(a_offsets.par_iter().zip(b_offsets))
        .with_min_len(if by_item { 1 } else { usize::MAX })
        .for_each(|(c_t, (&ao, &bo))| {
            let (at, bt) = (MatRef { offset: ao, ..a }, MatRef { offset: bo, ..b });
            gemm_blocked(m, n, k, at, bt, c_t, accumulate, BLOCKING, rows_parallel);
        });
}

fn round_up(a: usize, b: usize) -> usize {
    a.div_ceil(b) * b
}

/// The blocked product with explicit block sizes; `parallel` splits row blocks across rayon.
#[allow(clippy::too_many_arguments)]
fn gemm_blocked<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    c: &mut [T],
    accumulate: bool,
    blk: Blocking,
    parallel: bool,
) {
    debug_assert!(round_up(blk.mc, MR) == blk.mc && round_up(blk.nc, NR) == blk.nc && blk.kc > 0);
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: C = 0, or C unchanged when accumulating.
        if !accumulate {
            c.fill(T::zero());
        }
        return;
    }
    // Row-block height: a multiple of MR, at most blk.mc. In parallel mode make it small enough
    // that every thread gets at least one block (this never changes the arithmetic, see above).
    let threads = if parallel { rayon::current_num_threads() } else { 1 };
    // Rayon's minimum piece length for the loops below: `usize::MAX` forbids splitting, so the
    // same iterator then runs as a plain serial loop on the calling thread.
    let min_len = if parallel { 1 } else { usize::MAX };
    let mc = round_up(m.div_ceil(threads), MR).min(blk.mc);
    // Packed B panel: up to nc/NR slivers of kc×NR, reused by every row block.
    let mut b_pack = vec![T::zero(); round_up(blk.nc.min(n), NR) * blk.kc.min(k)];

    for jc in (0..n).step_by(blk.nc) {
        let nc = blk.nc.min(n - jc);
        for pc in (0..k).step_by(blk.kc) {
            let kc = blk.kc.min(k - pc);
            // The first depth slice overwrites C unless the caller asked to accumulate.
            let overwrite = pc == 0 && !accumulate;
            let bp = &mut b_pack[..round_up(nc, NR) * kc];
            pack_b(bp, b, (pc, kc), (jc, nc), min_len);
            let bp = &*bp;
            // Task `ib` owns the full rows ib*mc.. of C (row length n), `rows` of them, and
            // computes C[rows, jc..jc+nc] (+)= A[rows, pc..pc+kc] · Bp with its own packed A.
            c.par_chunks_mut(mc * n).with_min_len(min_len).enumerate().for_each_init(
                || vec![T::zero(); mc * kc],
                |ap, (ib, c_rows)| {
                    let rows = c_rows.len() / n;
                    let ap = &mut ap[..round_up(rows, MR) * kc];
                    pack_a(ap, a, (ib * mc, rows), (pc, kc));
                    macro_kernel(ap, bp, (rows, nc, kc), &mut c_rows[jc..], n, overwrite);
                },
            );
        }
    }
}

/// Packs the block A[i0..i0+rows, p0..p0+kc] into `dst` as MR-tall slivers:
/// `dst[s*kc*MR + p*MR + i]` = A[i0 + s*MR + i, p0 + p]. Rows past `rows` are zero.
fn pack_a<T: Real>(dst: &mut [T], a: MatRef<T>, (i0, rows): (usize, usize), (p0, kc): (usize, usize)) {
    let (rs, cs) = (a.row_stride, a.col_stride);
    for (s, sliver) in dst.chunks_exact_mut(kc * MR).enumerate() {
        let r = MR.min(rows - s * MR);
        let base = a.offset + (i0 + s * MR) * rs + p0 * cs;
        for (p, out) in sliver.chunks_exact_mut(MR).enumerate() {
            out.fill(T::zero());
            for (i, x) in out[..r].iter_mut().enumerate() {
                *x = a.data[base + p * cs + i * rs];
            }
        }
    }
}

/// Packs the panel B[p0..p0+kc, j0..j0+nc] into `dst` as NR-wide slivers:
/// `dst[s*kc*NR + p*NR + j]` = B[p0 + p, j0 + s*NR + j]. Columns past `nc` are zero. Slivers
/// are independent copies, so packing them in parallel cannot change any result.
fn pack_b<T: Real>(dst: &mut [T], b: MatRef<T>, (p0, kc): (usize, usize), (j0, nc): (usize, usize), min_len: usize) {
    let (rs, cs) = (b.row_stride, b.col_stride);
    dst.par_chunks_exact_mut(kc * NR).with_min_len(min_len).enumerate().for_each(|(s, sliver)| {
        let w = NR.min(nc - s * NR);
        let base = b.offset + p0 * rs + (j0 + s * NR) * cs;
        for (p, out) in sliver.chunks_exact_mut(NR).enumerate() {
            let row = base + p * rs;
            if cs == 1 && w == NR {
                out.copy_from_slice(&b.data[row..row + NR]);
            } else {
                out.fill(T::zero());
                for (j, x) in out[..w].iter_mut().enumerate() {
                    *x = b.data[row + j * cs];
                }
            }
        }
    });
}

/// Multiplies a packed A block (`rows`×kc, MR slivers) by a packed B panel (kc×`nc`, NR slivers)
/// into `c`, whose element (i, j) is `c[i * ldc + j]` (already offset to the panel's column jc):
/// one micro-kernel call per MR×NR tile, then the valid corner of the tile is stored into C
/// (`overwrite`) or added to it.
fn macro_kernel<T: Real>(
    ap: &[T],
    bp: &[T],
    (rows, nc, kc): (usize, usize, usize),
    c: &mut [T],
    ldc: usize,
    overwrite: bool,
) {
    for (jr, b_sliver) in bp.chunks_exact(kc * NR).enumerate() {
        let (j0, cols) = (jr * NR, NR.min(nc - jr * NR));
        for (ir, a_sliver) in ap.chunks_exact(kc * MR).enumerate() {
            let (i0, tile_rows) = (ir * MR, MR.min(rows - ir * MR));
            let tile = micro_kernel_dispatch(kc, a_sliver, b_sliver);
            for (r, tile_row) in tile.iter().enumerate().take(tile_rows) {
                let dst = &mut c[(i0 + r) * ldc + j0..][..cols];
                if overwrite {
                    dst.copy_from_slice(&tile_row[..cols]);
                } else {
                    dst.iter_mut().zip(tile_row).for_each(|(d, &t)| *d += t);
                }
            }
        }
    }
}

/// Uses the AVX2+FMA kernel for f32 when the CPU has it, else the portable one.
#[inline(always)]
fn micro_kernel_dispatch<T: Real>(kc: usize, a: &[T], b: &[T]) -> [[T; NR]; MR] {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // SAFETY: T is f32 (same TypeId), so these are the same slices viewed at their own type.
        let (af, bf) = unsafe {
            (
                std::slice::from_raw_parts(a.as_ptr() as *const f32, a.len()),
                std::slice::from_raw_parts(b.as_ptr() as *const f32, b.len()),
            )
        };
        if let Some(tile) = simd::micro_kernel_f32(kc, af, bf) {
            // SAFETY: T is f32, so [[f32; NR]; MR] and [[T; NR]; MR] are the same type.
            return unsafe { std::mem::transmute_copy::<[[f32; NR]; MR], [[T; NR]; MR]>(&tile) };
        }
    }
    micro_kernel(kc, a, b)
}

/// The register-tiled inner kernel: returns the MR×NR tile `Σ_p a[p*MR + i] · b[p*NR + j]`,
/// summed over `p` in increasing order from zero (`a`: kc×MR packed sliver, `b`: kc×NR packed
/// sliver). Plain arrays so LLVM keeps `acc` in vector registers; a SIMD-intrinsics version with
/// the same contract (and the same per-element summation order) can replace it per type.
#[inline(always)]
fn micro_kernel<T: Real>(kc: usize, a: &[T], b: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::zero(); NR]; MR];
    let (a, b) = (&a[..kc * MR], &b[..kc * NR]);
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        let ap: &[T; MR] = ap.try_into().unwrap();
        let bp: &[T; NR] = bp.try_into().unwrap();
        for (acc_row, &ai) in acc.iter_mut().zip(ap) {
            for (acc_ij, &bj) in acc_row.iter_mut().zip(bp) {
                *acc_ij += ai * bj;
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests;
