//! Matrix products. `C = A · B` (+ C when accumulating) with A and B given by arbitrary strides.
//!
//! # Blocking (BLIS-style)
//!
//! The fast path follows the five-loop GEMM of Goto / BLIS. With `A: m×k`, `B: k×n`,
//! `C: m×n` (row-major, contiguous):
//!
//! ```text
//! for jc in 0..n step NC                      // column panel of B and C        (nc ≤ NC)
//!   for pc in 0..k step KC                    // depth slice                    (kc ≤ KC)
//!     pack B[pc.., jc..] (kc×nc) -> Bp        // NR-wide slivers, Bp[sliver][p][0..NR]; stays in L2
//!     for ic in 0..m step mc  (rayon tasks)   // row block of A and C           (mc ≤ MC)
//!       for ir in 0..mc step MR               // one A sliver (kc×MR): packed just in time, or
//!                                             //   read in place (row- or column-major A); in L1
//!         for jr in 0..nc step NR             // one B sliver (kc×NR), streamed from L2
//!           micro-kernel: MR×NR tile (+)= A sliver · Bp sliver, straight into C
//! ```
//!
//! The thin operand (MR rows of A, broadcast one element at a time) is the one kept in L1, and
//! the wide one (NR columns of B, whole vector loads) streams from L2, as in BLIS; the micro-kernel
//! adds its register tile into C itself (masked stores at the edges), so no tile is copied.
//! When A has to be packed, each sliver is packed again for every panel, so those products use
//! panels of 2·NC columns: fewer repacks of A, traded for a panel (2 MiB of f32) that no longer
//! stays whole in a 1 MiB L2 (measured faster all the same, see `gemm_blocked`).
//! Packing reads B (and A when it is neither row- nor column-major) through their strides, so any
//! layout (row-major, transposed, padded, broadcast with stride 0, nonzero offset) feeds the same
//! micro-kernel. Packed B slivers are zero-padded to a full NR; the kernel reads only the valid
//! rows of A and writes only the valid `rows×cols` corner of C.
//!
//! # Determinism
//!
//! Element `C[i][j]` is computed by exactly one task. Its value is built as: for each depth slice
//! `pc` in increasing order, a fresh accumulator sums `A[i][p]·B[p][j]` for `p` in that slice in
//! increasing order, and the slice sum is then stored into (first slice, not accumulating) or added
//! to C. That order depends only on `KC` (a constant), never on `mc`, `nc` or the thread count, so
//! results are bit-identical for any rayon pool size. (The row-block height `mc` is adapted to the
//! thread count for load balance; that changes only which task owns a row, not the arithmetic.)
use crate::memory::as_uninit;
use crate::Real;
use rayon::prelude::*;
use std::mem::MaybeUninit;

mod column_split;
pub mod gather;
pub mod in_place;
mod pack;
mod simd;
mod tile;
use column_split::column_split;
use pack::{pack_a, pack_b};
pub use simd::{has_avx2_fma, has_avx512};
pub use tile::TileOut;
use tile::{kernel, Kernel, Start};

/// A read-only strided matrix inside a slice: element (i, j) sits at
/// `data[offset + i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// A row-major matrix that writes pieces of its rows on demand instead of being stored: how a
/// convolution hands its im2col matrix to the GEMM without building it (`conv::Im2colRows`).
pub trait RowSource<T>: Sync {
    /// With `rows = (r0, count)` and `cols = (j0, len)`, writes the block `M[r0..r0 + count,
    /// j0..j0 + len]` into `out` with leading dimension `ld`:
    /// `out[p·ld + i] = M[r0 + p][j0 + i]` for `p < count`, `i < len` (nothing else is written).
    fn rows(&self, rows: (usize, usize), cols: (usize, usize), out: &mut [T], ld: usize);
}

/// The rows of a [`RowSource`] from row `first` on.
struct RowsFrom<'a, T> {
    src: &'a dyn RowSource<T>,
    first: usize,
}

impl<T> RowSource<T> for RowsFrom<'_, T> {
    fn rows(&self, (r0, count): (usize, usize), cols: (usize, usize), out: &mut [T], ld: usize) {
        self.src.rows((self.first + r0, count), cols, out, ld);
    }
}

/// An operand of [`gemm_op`]: a strided matrix in memory, or rows made on demand.
#[derive(Clone, Copy)]
pub enum Operand<'a, T> {
    Strided(MatRef<'a, T>),
    Rows(&'a dyn RowSource<T>),
}

/// Widest micro-kernel tile (columns) any kernel uses; the packer's fast path takes this many lines.
const MAX_NR: usize = 32;
/// Depth of one slice (`kc`). Fixes the summation order, so it must never depend on threads.
const KC: usize = 512;
/// Maximum height of the row block one task owns (`mc`); a multiple of every kernel's `mr` (6,
/// 8 and 12). A is packed one sliver at a time, so this only sets the size of the parallel tasks.
const MC: usize = 240;
/// Maximum width of a packed B panel (`nc`); a multiple of every kernel's `nr` (16 and 32).
/// The panel, `KC×NC` elements (1 MiB of f32), should stay in L2 while the A slivers stream
/// past it. Products that pack A use panels twice as wide (see the module docs).
const NC: usize = 512;
/// Parallel products with at least this many rows per thread split the rows between threads
/// up front (each thread packs its own B); shorter ones share each packed B panel.
const SPLIT_MIN_ROWS: usize = 64;
/// Products with `m·n·k` below this run on the calling thread only: waking another thread and
/// joining it costs more than it saves below about a million multiply-adds (a 96×96×96 product
/// ran at 106 GFLOP/s split over 2 threads, 149 on one; 128×128×128 at 260 split, 203 on one).
const PAR_MIN_WORK: usize = 1 << 20;
/// Products writing at least this many elements split too, however shallow.
const PAR_MIN_OUTPUT: usize = 1 << 16;

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
    gemm_op(m, n, k, Operand::Strided(a), Operand::Strided(b), c, accumulate);
}

/// [`gemm`] with operands that may be made on demand ([`RowSource`]). The packed blocks hold the
/// same values either way, so the result is the same bits as `gemm` of the stored matrices.
pub fn gemm_op<T: Real>(m: usize, n: usize, k: usize, a: Operand<T>, b: Operand<T>, c: &mut [T], accumulate: bool) {
    gemm_op_threads(true, m, n, k, (a, b), c, accumulate);
}

/// `c [m×n] = a · b + bias` (`bias: [n]` added to every row) into a new vector: the first
/// depth slice stores `bias + acc` (the kernels add the bias row as they store each tile), so
/// the output is written once, not filled with the bias rows first nor written twice (a
/// product, then a bias added into a new tensor). With `k ≤ KC` (one depth slice) each element
/// is the same bits as the product plus the bias (`round(acc + bias)` either way); deeper
/// products add the bias before the later slices.
pub fn gemm_bias_vec<T: Real>(m: usize, n: usize, k: usize, a: MatRef<T>, b: MatRef<T>, bias: &[T]) -> Vec<T> {
    assert_eq!(bias.len(), n, "gemm_bias_vec: one bias per column");
    let (a, b) = (Operand::Strided(a), Operand::Strided(b));
    // SAFETY: `gemm_blocked` writes every element of c[..m·n] (the first depth slice stores
    // `acc + bias`, or the bias rows alone for k = 0).
    unsafe {
        crate::memory::written_vec(m * n, |c| {
            gemm_blocked(m, n, k, a, b, c, Start::Bias(bias), BLOCKING, splits(m, n, k))
        })
    }
}

/// [`gemm_op`] where the caller says whether the product may split across threads (the same
/// bits either way). `may_split: false` is for callers that already run one product per rayon
/// task, such as a convolution over a batch of images, where splitting each product again would
/// only repeat its packing on another thread that has work of its own.
pub fn gemm_op_threads<T: Real>(
    may_split: bool,
    m: usize,
    n: usize,
    k: usize,
    (a, b): (Operand<T>, Operand<T>),
    c: &mut [T],
    accumulate: bool,
) {
    let parallel = may_split && splits(m, n, k);
    // SAFETY: `c` comes initialised from `&mut [T]`, and the driver writes only values into it.
    unsafe { gemm_blocked(m, n, k, a, b, as_uninit(c), Start::from_accumulate(accumulate), BLOCKING, parallel) };
}

/// [`gemm_op_threads`] without accumulation into uninitialised memory (a new output): writes
/// every element of `c[..m·n]`.
pub(crate) fn gemm_op_uninit<T: Real>(
    may_split: bool,
    m: usize,
    n: usize,
    k: usize,
    (a, b): (Operand<T>, Operand<T>),
    c: &mut [MaybeUninit<T>],
) {
    debug_assert_eq!(c.len(), m * n, "gemm_op_uninit writes exactly m·n elements");
    let parallel = may_split && splits(m, n, k);
    // SAFETY: no accumulation, so nothing in `c` is read before it is written.
    unsafe { gemm_blocked(m, n, k, a, b, c, Start::Overwrite, BLOCKING, parallel) };
}

/// Whether an `m×k · k×n` product is big enough to split across the pool's threads: by the
/// work the kernels do (whole 8×32 tiles: a product two columns wide runs 32), or by the size of
/// the output it writes (a depth of 2 is all writing).
fn splits(m: usize, n: usize, k: usize) -> bool {
    let tiled = m.next_multiple_of(8).saturating_mul(n.next_multiple_of(32)).saturating_mul(k);
    (tiled >= PAR_MIN_WORK || m.saturating_mul(n) >= PAR_MIN_OUTPUT) && rayon::current_num_threads() > 1
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
    // SAFETY: `c` comes initialised from `&mut [T]`.
    unsafe { batched(m, n, k, (a, a_offsets), (b, b_offsets), as_uninit(c), accumulate) }
}

/// [`gemm_batched`] without accumulation into a new vector of `batch·m·n` elements, which the
/// product writes without zero-filling it first (an op's output is otherwise written twice).
pub fn gemm_batched_vec<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    (a, a_offsets): (MatRef<T>, &[usize]),
    (b, b_offsets): (MatRef<T>, &[usize]),
) -> Vec<T> {
    let len = a_offsets.len() * m * n;
    // SAFETY: without accumulation `batched` reads nothing of `c` before writing it, and it
    // writes every element of c[..len] (each item's m×n block, through gemm_blocked, which writes
    // all of its block).
    unsafe { crate::memory::written_vec(len, |c| batched(m, n, k, (a, a_offsets), (b, b_offsets), c, false)) }
}

/// The loop behind [`gemm_batched`] and [`gemm_batched_vec`].
///
/// # Safety
/// With `accumulate`, `c[..batch·m·n]` must be initialised.
unsafe fn batched<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    (a, a_offsets): (MatRef<T>, &[usize]),
    (b, b_offsets): (MatRef<T>, &[usize]),
    c: &mut [MaybeUninit<T>],
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
    let _warm = (by_item || rows_parallel).then(crate::parallel::keep_warm);
    c.par_chunks_mut(mn)
        .enumerate()
        .zip(a_offsets.par_iter().zip(b_offsets))
        .with_min_len(if by_item { 1 } else { usize::MAX })
        .for_each(|((t, c_t), (&ao, &bo))| {
            let (at, bt) = (MatRef { offset: ao, ..a }, MatRef { offset: bo, ..b });
            let (at, bt) = (Operand::Strided(at), Operand::Strided(bt));
            // A small product whose B is read in place fetches the next one's operands meanwhile
            // (the next item: on this thread too when items run in turn, mostly when they are
            // the parallel tasks, as rayon hands each thread a run of neighbours).
            let ahead = match (a_offsets.get(t + 1), b_offsets.get(t + 1)) {
                (Some(&an), Some(&bn)) => in_place::Ahead::new([
                    in_place::Ahead::matrix(MatRef { offset: an, ..a }, m, k),
                    in_place::Ahead::matrix(MatRef { offset: bn, ..b }, k, n),
                    (c_t.as_ptr().wrapping_add(mn).cast::<u8>(), mn * std::mem::size_of::<T>()),
                ]),
                _ => in_place::Ahead::NONE,
            };
            let start = Start::from_accumulate(accumulate);
            if b_in_place(m, n, k, (at, bt), c_t, (start, rows_parallel), BLOCKING, ahead) {
                return;
            }
            // SAFETY: c_t is part of c, initialised when accumulating (this function's contract).
            unsafe { gemm_blocked(m, n, k, at, bt, c_t, start, BLOCKING, rows_parallel) };
        });
}

fn round_up(a: usize, b: usize) -> usize {
    a.div_ceil(b) * b
}

/// The in-place path of [`gemm_blocked`] (`in_place::gemm_b_in_place`): a small row-major B
/// (attention's blocks) is read where it is instead of packed, and so is any B that one sliver
/// of rows reads only once (it has no rows to split, and a row-major B read in place costs
/// nothing to prepare; f32 with AVX-512, otherwise B is packed, by all threads when `parallel`).
/// `ahead` is what the next product of a batch will touch. Returns whether it ran (and wrote
/// `c[..m·n]`).
#[allow(clippy::too_many_arguments)]
fn b_in_place<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    (a, b): (Operand<T>, Operand<T>),
    c: &mut [MaybeUninit<T>],
    (start, parallel): (Start<T>, bool),
    blk: Blocking,
    ahead: in_place::Ahead,
) -> bool {
    let b_once = m <= kernel::<T>(m).mr;
    let accumulate = matches!(start, Start::Accumulate);
    if (parallel && !b_once)
        || accumulate
        || (k.saturating_mul(n) > in_place::B_IN_PLACE_MAX && !b_once)
        || blk.kc != KC
    {
        return false;
    }
    let (Operand::Strided(a), Operand::Strided(b)) = (a, b) else { return false };
    let bias = match start {
        Start::Bias(bias) => match crate::memory::same_type(bias) {
            Some(bias) => Some(bias),
            None => return false,
        },
        _ => None,
    };
    match (as_f32_mat(a), as_f32_mat(b), crate::memory::same_type_mut(&mut c[..m * n])) {
        (Some(a), Some(b), Some(c)) => in_place::gemm_b_in_place(m, n, k, (a, b), c, bias, ahead),
        _ => false,
    }
}

/// The blocked product with explicit block sizes; `parallel` splits row blocks across rayon.
/// Writes every element of `c[..m·n]`.
///
/// # Safety
/// With [`Start::Accumulate`], `c[..m·n]` must be initialised (it is read); otherwise it may be
/// uninitialised (the first depth slice overwrites every element before anything reads it).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_blocked<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: Operand<T>,
    b: Operand<T>,
    c: &mut [MaybeUninit<T>],
    start: Start<T>,
    blk: Blocking,
    parallel: bool,
) {
    let kern = kernel::<T>(m);
    let (mr, nr) = (kern.mr, kern.nr);
    debug_assert!(blk.mc.is_multiple_of(mr) && blk.nc.is_multiple_of(nr) && blk.kc > 0);
    let c = &mut c[..m * n];
    if let Start::Bias(bias) = start {
        assert_eq!(bias.len(), n, "one bias per column of C");
    }
    if b_in_place(m, n, k, (a, b), c, (start, parallel), blk, in_place::Ahead::NONE) {
        return;
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: C = 0 (the bias rows), or C unchanged when accumulating.
        match start {
            Start::Overwrite => c.fill(MaybeUninit::new(T::zero())),
            Start::Bias(bias) => c.chunks_exact_mut(n).for_each(|row| {
                row.iter_mut().zip(bias).for_each(|(c, &b)| _ = c.write(b));
            }),
            Start::Accumulate => {}
        }
        return;
    }
    // Row-block height: a multiple of MR, at most blk.mc. In parallel mode make it small enough
    // that every thread gets at least one block (this never changes the arithmetic, see above).
    let threads = if parallel { rayon::current_num_threads() } else { 1 };
    let _warm = (threads > 1).then(crate::parallel::keep_warm);
    if let (true, Operand::Strided(b)) = (threads > 1 && n >= m && k >= 4 * m && n >= 2 * threads * nr, b) {
        // Deep products at least as wide as tall (weight gradients, k = the batch's rows): a
        // share of the columns per thread, so each packs only its share of B, where splitting
        // the rows would have every thread pack all of it (2 threads, Aᵀ·B: 128×512×2048
        // 273-282 → 345-352 GFLOP/s, 128×128×2048 301-317 → 352; 256×256×512, only twice as deep
        // as tall, was 4 % slower split by columns).
        column_split(m, n, k, (a, b), c, start, blk, threads);
        return;
    }
    if threads > 1 && m >= threads * SPLIT_MIN_ROWS {
        // Tall products: one contiguous share of the rows per thread, each run serially with its
        // own packed B panels (kept in that core's L2, no waiting on the other threads between
        // panels). Packing B once per thread costs less than sharing it.
        let part = round_up(m.div_ceil(threads), kern.mr);
        c.par_chunks_mut(part * n).with_min_len(1).enumerate().for_each(|(t, c_part)| {
            let a_part = match a {
                Operand::Strided(a) => Operand::Strided(a.at(t * part, 0)),
                Operand::Rows(src) => Operand::Rows(&RowsFrom { src, first: t * part } as &dyn RowSource<T>),
            };
            // SAFETY: c_part is part of c, initialised when accumulating (this function's contract).
            unsafe { gemm_blocked(c_part.len() / n, n, k, a_part, b, c_part, start, blk, false) };
        });
        return;
    }
    // Rayon's minimum piece length for the loops below: `usize::MAX` forbids splitting, so the
    // same iterator then runs as a plain serial loop on the calling thread.
    let min_len = if parallel { 1 } else { usize::MAX };
    // As many row blocks as blk.mc needs, rounded up to a multiple of the thread count, then
    // equal heights: m = 1024 on 2 threads with mc ≤ 240 runs as 6 blocks of 176 (5 × 176 + 144),
    // three per thread, not 4 × 240 + 64.
    let blocks = m.div_ceil(blk.mc).next_multiple_of(threads);
    let mc = round_up(m.div_ceil(blocks), mr);
    // Depth slices of (nearly) equal size, at most kc: k = 288 runs as 144 + 144, not 256 + 32
    // (fewer passes over C). This depends only on k, never on threads.
    let kc_max = k.div_ceil(k.div_ceil(blk.kc));
    // A row-major A (or one row repeated, row stride 0) is read in place by the micro-kernels:
    // each sliver is mr short rows that stay in L1, so packing would only copy it; unless its
    // rows are a multiple of 4 KiB apart, when all mr of them fall in one L1 set and evict each
    // other. So is a column-major A whose columns lie within a page of each other (each column's
    // mr values are contiguous; the kernels prefetch the columns ahead). Columns a page or more
    // apart put each of a sliver's kc columns on its own page (a TLB miss each, and no
    // hardware prefetch across pages): packed, as are other layouts and rows made on demand
    // (sq1000 with A transposed at 1 thread: 162-182 → 194-195 GFLOP/s; sq2048, columns 8 KiB
    // apart: 93-107 → 157-164).
    let bytes = |stride: usize| stride.saturating_mul(std::mem::size_of::<T>());
    let direct_a = matches!(a, Operand::Strided(a)
        if (a.col_stride == 1 && (m == 1 || a.row_stride == 0 || !bytes(a.row_stride).is_multiple_of(4096)))
            || (a.row_stride == 1 && bytes(a.col_stride) < 4096));
    // Packed B panel: up to nc/nr slivers of kc×nr, reused by every row block. Packing writes
    // every element of the part it uses (padding included), so the buffer is per-thread scratch.
    // A packed A sliver is packed again for every B panel: with A packed, panels twice as wide
    // halve that work (1 thread on a Zen 4 EPYC, whose L2 holds only 1 MiB: sq1024, sq2048 and
    // 4096×1024×1024 with A transposed +2-5 %; A read in place gains nothing from it).
    let panel = if direct_a { blk.nc } else { 2 * blk.nc };
    crate::scratch::with_scratch(round_up(panel.min(n), nr) * kc_max, |b_pack: &mut [T]| {
        for jc in (0..n).step_by(panel) {
            let nc = panel.min(n - jc);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                // The first depth slice overwrites C (plus the bias) unless the caller asked to
                // accumulate.
                let overwrite = pc == 0 && !matches!(start, Start::Accumulate);
                let bias = if overwrite { start.bias_from(jc) } else { None };
                let bp = &mut b_pack[..round_up(nc, nr) * kc];
                pack_b(bp, b, (pc, kc), (jc, nc), nr, min_len);
                let bp = &*bp;
                // Task `ib` owns the full rows ib*mc.. of C (row length n), `rows` of them, and
                // computes C[rows, jc..jc+nc] (+)= A[rows, pc..pc+kc] · B[pc..pc+kc, jc..jc+nc].
                c.par_chunks_mut(mc * n).with_min_len(min_len).enumerate().for_each(|(ib, c_rows)| {
                    let rows = c_rows.len() / n;
                    let block = Block { i0: ib * mc, rows, p0: pc, kc, nc };
                    macro_kernel(kern, a, direct_a, block, bp, &mut c_rows[jc..], n, (overwrite, bias));
                });
            }
        }
    });
}

/// `m` as a matrix of f32 when `T` is f32.
fn as_f32_mat<T: 'static>(m: MatRef<T>) -> Option<MatRef<f32>> {
    let data = crate::memory::same_type(m.data)?;
    Some(MatRef { data, offset: m.offset, row_stride: m.row_stride, col_stride: m.col_stride })
}

impl<T> MatRef<'_, T> {
    /// The same matrix starting at element (i, j).
    fn at(self, i: usize, j: usize) -> Self {
        MatRef { offset: self.offset + i * self.row_stride + j * self.col_stride, ..self }
    }
}

/// The part of the product one task computes in one depth slice: rows `i0..i0+rows` of C,
/// depths `p0..p0+kc`, the panel's `nc` columns.
#[derive(Clone, Copy)]
struct Block {
    i0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    nc: usize,
}

/// Multiplies the block A[i0..i0+rows, p0..p0+kc] by a packed B panel (kc×`nc`, nr slivers) into
/// `c`, whose element (i, j) is `c[i * ldc + j]` (already offset to row i0 and the panel's column jc).
/// Each mr-tall A sliver is packed just before use into a buffer that stays in L1 (or read in
/// place with `direct_a`) and meets every B sliver in turn (they stream from L2, where the panel
/// sits); each micro-kernel call stores (`overwrite`) or adds its tile's valid corner straight
/// into C.
#[allow(clippy::too_many_arguments)]
fn macro_kernel<T: Real>(
    kern: Kernel<T>,
    a: Operand<T>,
    direct_a: bool,
    Block { i0, rows, p0, kc, nc }: Block,
    bp: &[T],
    c: &mut [MaybeUninit<T>],
    ldc: usize,
    (overwrite, bias): (bool, Option<&[T]>),
) {
    let mr = kern.mr;
    // pack_a writes the whole sliver (rows past the block's end as zeros).
    crate::scratch::with_scratch(if direct_a { 0 } else { mr * kc }, |a_pack: &mut [T]| {
        for ir in (0..rows).step_by(mr) {
            let tile_rows = mr.min(rows - ir);
            let a_sliver = match a {
                Operand::Strided(a) if direct_a => a.at(i0 + ir, p0),
                _ => {
                    pack_a(a_pack, a, (i0 + ir, tile_rows), (p0, kc), mr);
                    MatRef { data: &*a_pack, offset: 0, row_stride: 1, col_stride: mr }
                }
            };
            let out = TileOut { c: &mut c[ir * ldc..], ldc, rows: tile_rows, cols: nc, overwrite, bias };
            (kern.run)(kc, a_sliver, bp, out);
        }
    });
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_paths;
