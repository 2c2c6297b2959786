//! The x86-64 kernels: AVX2 + FMA and AVX-512F tiles, each behind a safe function that checks
//! every bound its loops rely on (handed out by the parent module only after detecting the CPU
//! features it needs).
use super::{GatherOffsets, MatRef, Prefetch, TileOut, A_PREFETCH, B_PREFETCH, MAX_MR};
use std::arch::x86_64::*;

/// The 6×16 AVX2 kernel behind a safe signature. Only [`super::best_f32_kernel`] hands it
/// out, and only after detecting AVX2 and FMA.
pub fn run_6x16(kc: usize, a: MatRef<f32>, bp: &[f32], out: TileOut<f32>) {
    let a_rows = check_operands(kc, &a, bp, &out, 6, 16);
    for (j0, cols, b) in slivers(kc, bp, out.cols, 16) {
        if out.rows == 6 && cols == 16 {
            // SAFETY: the CPU supports AVX2+FMA (this function is only reachable after
            // detection); `check_operands` bounds every read of A at a_rows[i] + p·cs and of
            // the packed B sliver, and the 6 full rows of 16 floats at c + j0 + i·ldc.
            unsafe {
                kernel_6x16(
                    kc,
                    (a.data.as_ptr(), a_rows, a.col_stride),
                    b,
                    out.c[j0..].as_mut_ptr().cast::<f32>(),
                    out.ldc,
                    (out.overwrite, out.bias_at(j0)),
                )
            }
        } else {
            // Edge tiles: through a tile buffer, then only the valid corner into C.
            let mut tile = [0.0f32; 96];
            // SAFETY: as above for the operands; the tile buffer is 6 rows of 16 floats.
            unsafe {
                kernel_6x16(
                    kc,
                    (a.data.as_ptr(), a_rows, a.col_stride),
                    b,
                    tile.as_mut_ptr(),
                    16,
                    (true, std::ptr::null()),
                )
            };
            let bias = out.bias.map(|b| &b[j0..]);
            TileOut { c: &mut out.c[j0..], ldc: out.ldc, rows: out.rows, cols, overwrite: out.overwrite, bias }
                .write_tile(&tile, 16);
        }
    }
}

/// The MR×32 AVX-512 kernel behind a safe signature (handed out only after detecting AVX-512F).
pub fn run_avx512<const MR: usize>(kc: usize, a: MatRef<f32>, bp: &[f32], out: TileOut<f32>) {
    let a_rows = check_operands(kc, &a, bp, &out, MR, 32);
    let mut rows = [0usize; MR];
    rows.copy_from_slice(&a_rows[..MR]);
    let packed_a = a.offset == 0 && a.row_stride == 1 && a.col_stride == MR && out.rows == MR;
    let a = (a.data.as_ptr(), rows, a.col_stride);
    let c = out.c.as_mut_ptr().cast::<f32>();
    for (j0, cols, b) in slivers(kc, bp, out.cols, 32) {
        let tile = (c.wrapping_add(j0), out.ldc, out.rows, cols, (out.overwrite, out.bias_at(j0)));
        // SAFETY: the CPU supports AVX-512F (only reachable after detection);
        // `check_operands` bounds every read of A at rows[i] + p·cs, the packed B sliver, and
        // the tile's rows 0..rows of `cols` floats at c + j0 + i·ldc, which is all the kernel
        // touches (masked stores at the edge).
        unsafe {
            let b = Packed(b);
            match (cols == 32, packed_a) {
                (true, true) => kernel_avx512::<MR, true, true, _>(kc, a, b, tile),
                (true, false) => kernel_avx512::<MR, true, false, _>(kc, a, b, tile),
                (false, true) => kernel_avx512::<MR, false, true, _>(kc, a, b, tile),
                (false, false) => kernel_avx512::<MR, false, false, _>(kc, a, b, tile),
            }
        }
    }
}

/// Where the AVX-512 kernel finds row `p` of its 32-wide B sliver: two halves of 16 floats.
pub(crate) trait BRows: Copy {
    /// The two halves of row `p`.
    /// # Safety
    /// `p` below the kernel's `kc`; the pointers are then valid for 16 reads each (what
    /// whoever built the value checked).
    unsafe fn row(self, p: usize) -> (*const f32, *const f32);
    /// Addresses worth prefetching a few rows ahead of `p` (never dereferenced).
    fn ahead(self, p: usize) -> (*const f32, *const f32);
}

/// A packed sliver: row `p` at `p·32`.
#[derive(Clone, Copy)]
struct Packed(*const f32);

impl BRows for Packed {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> (*const f32, *const f32) {
        // SAFETY: p < kc, and a packed sliver holds kc rows of 32 floats.
        let lo = unsafe { self.0.add(p * 32) };
        (lo, lo.wrapping_add(16))
    }
    #[inline(always)]
    fn ahead(self, p: usize) -> (*const f32, *const f32) {
        let pf = self.0.wrapping_add((p + B_PREFETCH) * 32);
        (pf, pf.wrapping_add(16))
    }
}

/// A sliver gathered from an image in place (see `gemm::gather`): row `p` at
/// `base + offs[p]` and `base + offs[p] + d1`.
#[derive(Clone, Copy)]
struct Gathered {
    base: *const f32,
    offs: *const usize,
    kc: usize,
    d1: usize,
}

impl BRows for Gathered {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> (*const f32, *const f32) {
        // SAFETY: p < kc = offs.len(), and the builder checked every row's 16 + 16 reads.
        unsafe {
            let lo = self.base.add(*self.offs.add(p));
            (lo, lo.add(self.d1))
        }
    }
    #[inline(always)]
    fn ahead(self, p: usize) -> (*const f32, *const f32) {
        // SAFETY: the index is clamped below kc, inside the offsets table (a `Gathered` is
        // only built by `run_avx512_gathered`, with kc > 0 and kc offsets).
        let off = unsafe { *self.offs.add((p + 8).min(self.kc - 1)) };
        let lo = self.base.wrapping_add(off);
        (lo, lo.wrapping_add(self.d1))
    }
}

/// A row-major B read in place: row `p` at `base + p·ld`.
#[derive(Clone, Copy)]
struct InPlace {
    base: *const f32,
    ld: usize,
}

impl BRows for InPlace {
    #[inline(always)]
    unsafe fn row(self, p: usize) -> (*const f32, *const f32) {
        // SAFETY: p < kc, and the builder checked rows 0..kc of 32 floats.
        let lo = unsafe { self.base.add(p * self.ld) };
        (lo, lo.wrapping_add(16))
    }
    #[inline(always)]
    fn ahead(self, p: usize) -> (*const f32, *const f32) {
        let pf = self.base.wrapping_add((p + B_PREFETCH).wrapping_mul(self.ld));
        (pf, pf.wrapping_add(16))
    }
}

/// The AVX-512 kernel with a row-major B read where it is (`gemm::in_place::gemm_b_in_place`):
/// B's sliver row `p` is `b.data[b.offset + p·b.row_stride..][..32]`, for `out.cols / 32`
/// slivers side by side (`out.cols` a multiple of 32). Checks A and C as [`run_avx512`] does
/// and B's last row.
pub fn run_avx512_b_in_place<const MR: usize>(kc: usize, a: MatRef<f32>, b: MatRef<f32>, out: TileOut<f32>) {
    let rows = check_in_place::<MR>(kc, &a, &b, &out, 32);
    let packed_a = a.offset == 0 && a.row_stride == 1 && a.col_stride == MR && out.rows == MR;
    let a = (a.data.as_ptr(), rows, a.col_stride);
    let c = out.c.as_mut_ptr().cast::<f32>();
    for j0 in (0..out.cols).step_by(32) {
        let bq = InPlace { base: b.data.as_ptr().wrapping_add(b.offset + j0), ld: b.row_stride };
        let tile = (c.wrapping_add(j0), out.ldc, out.rows, 32, (out.overwrite, out.bias_at(j0)));
        // SAFETY: AVX-512F was detected (asserted); A's reads and the tile's rows of 32
        // floats at c + j0 are bounded by check_a and TileOut::check; B's row p < kc of this
        // sliver lies in data[offset + p·ld + j0..][..32], below `end` ≤ len.
        unsafe {
            if packed_a {
                kernel_avx512::<MR, true, true, _>(kc, a, bq, tile)
            } else {
                kernel_avx512::<MR, true, false, _>(kc, a, bq, tile)
            }
        }
    }
}

/// The checks of the in-place-B kernels: AVX-512F, a row-major B of whole `width`-column tiles
/// whose last row lies in its slice, and A and C as [`run_avx512`] checks them. Returns A's
/// row offsets for the `MR` tile rows.
fn check_in_place<const MR: usize>(
    kc: usize,
    a: &MatRef<f32>,
    b: &MatRef<f32>,
    out: &TileOut<f32>,
    width: usize,
) -> [usize; MR] {
    assert!(super::has_avx512(), "the in-place-B kernel needs AVX-512F");
    assert!(out.cols.is_multiple_of(width) && b.col_stride == 1 && kc > 0, "in-place B: row-major, whole tiles");
    out.check(MR, usize::MAX);
    let a_rows = check_a(kc, a, out.rows, MR);
    let end =
        (kc - 1).checked_mul(b.row_stride).and_then(|o| o.checked_add(b.offset)).and_then(|o| o.checked_add(out.cols));
    assert!(end.is_some_and(|e| e <= b.data.len()), "in-place B outside its slice");
    let mut rows = [0usize; MR];
    rows.copy_from_slice(&a_rows[..MR]);
    rows
}

/// The 64-column AVX-512 kernel with a row-major B read where it is
/// (`gemm::in_place::gemm_b_in_place`): B's row `p` is `b.data[b.offset + p·b.row_stride..]`,
/// `out.cols / 64` tiles side by side (`out.cols` a multiple of 64). Checks A and C as
/// [`run_avx512`] does and B's last row. Fetches `ahead`'s lines into L2 on the way, at most
/// one per depth step of each tile.
pub fn run_avx512_b_in_place_64<const MR: usize>(
    kc: usize,
    a: MatRef<f32>,
    b: MatRef<f32>,
    out: TileOut<f32>,
    ahead: Prefetch,
) {
    let rows = check_in_place::<MR>(kc, &a, &b, &out, 64);
    let a = (a.data.as_ptr(), rows, a.col_stride);
    let c = out.c.as_mut_ptr().cast::<f32>();
    let mut ahead = ahead;
    for j0 in (0..out.cols).step_by(64) {
        let (now, rest) = ahead.split(kc);
        ahead = rest;
        let b = (b.data.as_ptr().wrapping_add(b.offset + j0), b.row_stride);
        let tile = (c.wrapping_add(j0), out.ldc, out.rows, (out.overwrite, out.bias_at(j0)));
        // SAFETY: AVX-512F was detected (asserted); A's reads and the tile's rows of 64 floats at
        // c + j0 are bounded by check_a and TileOut::check; B's row p < kc of this tile lies in
        // data[offset + p·ld + j0..][..64], below `end` ≤ len. Prefetches are never dereferenced.
        unsafe { kernel_avx512_64::<MR>(kc, a, b, tile, now) }
    }
}

/// # Safety
/// AVX-512F must be available; for `p < kc`: `a.0 + a.1[i] + p·a.2` readable for `i < MR`
/// and `b.0 + p·b.1 + j` for `j < 64`; with `tile = (c, ldc, rows, (overwrite, bias))`,
/// `1 ≤ rows ≤ MR` and rows `i < rows` hold 64 floats at `c + i*ldc` (initialised unless
/// `overwrite`); `bias` null, or (with `overwrite`) 64 readable floats added to every row.
/// MR is at most 6 (4·MR accumulators, four B registers and a broadcast in 32 registers).
#[target_feature(enable = "avx512f")]
unsafe fn kernel_avx512_64<const MR: usize>(
    kc: usize,
    (a, a_rows, a_cs): (*const f32, [usize; MR], usize),
    (b, ld): (*const f32, usize),
    (c, ldc, rows, (overwrite, bias)): (*mut f32, usize, usize, (bool, *const f32)),
    ahead: Prefetch,
) {
    // The C rows are needed after the loop: ask for them now so they arrive meanwhile.
    for i in 0..rows {
        let row = c.wrapping_add(i * ldc);
        for q in 0..4 {
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(16 * q).cast::<i8>());
        }
    }
    let mut acc = [[_mm512_setzero_ps(); 4]; MR];
    let ahead_at = |line: usize| (ahead.start as *const i8).wrapping_add(64 * line);
    for p in 0..kc {
        // One line of the next product per step while any are left (never dereferenced). Two
        // per step crowd out the current product's own misses (150-157 → 123-128 GFLOP/s).
        if p < ahead.count {
            _mm_prefetch::<_MM_HINT_T1>(ahead_at(p));
        }
        // SAFETY: p < kc, so B's row p and A's column p in the rows a_rows are in bounds (contract).
        unsafe {
            let row = b.add(p * ld);
            let bq = [0, 16, 32, 48].map(|j| _mm512_loadu_ps(row.add(j)));
            let pf = row.wrapping_add(B_PREFETCH.wrapping_mul(ld));
            for q in 0..4 {
                _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(16 * q).cast::<i8>());
            }
            let ap = a.add(p * a_cs);
            for (acc, &r) in acc.iter_mut().zip(&a_rows) {
                let ai = _mm512_set1_ps(*ap.add(r));
                for (acc, &bq) in acc.iter_mut().zip(&bq) {
                    *acc = _mm512_fmadd_ps(ai, bq, *acc);
                }
            }
        }
    }
    // The bias row, stored as `bias + acc` (what `c += acc` over C = bias rows would give).
    // SAFETY: when given, it holds 64 floats (contract).
    let bias_row =
        (overwrite && !bias.is_null()).then(|| [0, 16, 32, 48].map(|j| unsafe { _mm512_loadu_ps(bias.add(j)) }));
    for (i, acc) in acc.iter().enumerate().take(rows) {
        // SAFETY: row i < rows holds 64 floats at c + i*ldc (contract), initialised unless
        // `overwrite`.
        unsafe {
            let row = c.add(i * ldc);
            for (q, &v) in acc.iter().enumerate() {
                let at = row.add(16 * q);
                let v = match (overwrite, bias_row) {
                    (false, _) => _mm512_add_ps(_mm512_loadu_ps(at), v),
                    (true, Some(b)) => _mm512_add_ps(b[q], v),
                    (true, None) => v,
                };
                _mm512_storeu_ps(at, v);
            }
        }
    }
}

/// One 32-column tile with B gathered in place (`gemm::gather`'s kernel): the tile's row
/// `p` of B is `data[start + offs[p]..][..16]` then `data[start + offs[p] + d1..][..16]`.
/// `out.cols` must be 32. Checks A and C as [`run_avx512`] does and B's reads from the
/// largest offset.
pub fn run_avx512_gathered<const MR: usize>(
    kc: usize,
    a: MatRef<f32>,
    (data, offs, start, d1): (&[f32], &GatherOffsets, usize, usize),
    out: TileOut<f32>,
) {
    let (max_off, offs) = (offs.max, offs.offs);
    assert!(super::has_avx512(), "the gathered kernel needs AVX-512F");
    assert!(out.cols == 32 && offs.len() == kc && kc > 0, "gathered tile: 32 columns, kc offsets");
    out.check(MR, 32);
    let a_rows = check_a(kc, &a, out.rows, MR);
    let end = max_off.checked_add(start).and_then(|o| o.checked_add(d1)).and_then(|o| o.checked_add(16));
    assert!(end.is_some_and(|e| e <= data.len()), "gathered B outside its slice");
    let mut rows = [0usize; MR];
    rows.copy_from_slice(&a_rows[..MR]);
    let b = Gathered { base: data.as_ptr().wrapping_add(start), offs: offs.as_ptr(), kc, d1 };
    let tile = (out.c.as_mut_ptr().cast::<f32>(), out.ldc, out.rows, 32, (out.overwrite, out.bias_at(0)));
    // SAFETY: AVX-512F was detected (asserted above); A's reads at rows[i] + p·cs and the
    // tile's rows of 32 floats by TileOut::check; every B read lies in
    // data[start + offs[p] .. start + offs[p] + d1 + 16], below `end` ≤ len.
    unsafe { kernel_avx512::<MR, true, false, _>(kc, (a.data.as_ptr(), rows, a.col_stride), b, tile) }
}

/// The AVX-512 kernel over a packed B panel with A given by a table of row starts
/// (`gemm::gather::gemm_row_table`): `A(i, p) = data[rows[i] + p]` for `i < out.rows`
/// (`rows.len() == out.rows`), `p < kc`. Checks every read of A and the panel and C as
/// [`run_avx512`] does.
pub fn run_avx512_row_table<const MR: usize>(
    kc: usize,
    (data, rows): (&[f32], &[usize]),
    bp: &[f32],
    out: TileOut<f32>,
) {
    assert!(super::has_avx512(), "the row-table kernel needs AVX-512F");
    assert!(rows.len() == out.rows, "one row start per tile row");
    let whole = MatRef { data, offset: 0, row_stride: 0, col_stride: 1 };
    // Bounds: the panel and C as usual, and A through its largest row start (with row
    // stride 0, check_a checks the row at `offset` over kc columns).
    check_operands(kc, &MatRef { offset: rows.iter().copied().max().unwrap_or(0), ..whole }, bp, &out, MR, 32);
    let mut a_rows = [0usize; MR];
    for (i, r) in a_rows.iter_mut().enumerate() {
        *r = rows[i.min(rows.len() - 1)];
    }
    let a = (data.as_ptr(), a_rows, 1);
    let c = out.c.as_mut_ptr().cast::<f32>();
    for (j0, cols, b) in slivers(kc, bp, out.cols, 32) {
        let tile = (c.wrapping_add(j0), out.ldc, out.rows, cols, (out.overwrite, out.bias_at(j0)));
        // SAFETY: AVX-512F was detected (asserted); every A read is data[rows[i] + p] with
        // rows[i] ≤ the largest start, whose kc columns check_operands bounded; the packed
        // sliver and the tile's rows of `cols` floats are bounded as in `run_avx512`.
        unsafe {
            if cols == 32 {
                kernel_avx512::<MR, true, false, _>(kc, a, Packed(b), tile)
            } else {
                kernel_avx512::<MR, false, false, _>(kc, a, Packed(b), tile)
            }
        }
    }
}

/// The panel's slivers `(first column, valid columns, pointer to the kc×nr sliver)`.
fn slivers(kc: usize, bp: &[f32], cols: usize, nr: usize) -> impl Iterator<Item = (usize, usize, *const f32)> + '_ {
    (0..cols).step_by(nr).map(move |j0| (j0, nr.min(cols - j0), bp[j0 * kc..][..kc * nr].as_ptr()))
}

/// Checks, once per A sliver, that everything the kernel loops read and write is in bounds:
/// `A(i, p)` for `i < out.rows`, `p < kc`, the packed panel (`ceil(cols / nr)` slivers of
/// kc×nr), and [`TileOut::check`] for `out.rows × out.cols`. Returns the offsets of A's
/// rows for all `mr` tile rows (rows past `out.rows` repeat the last valid one, so the
/// kernel never reads outside A).
#[inline(always)]
fn check_operands(kc: usize, a: &MatRef<f32>, bp: &[f32], out: &TileOut<f32>, mr: usize, nr: usize) -> [usize; MAX_MR] {
    out.check(mr, usize::MAX);
    let b_len = out.cols.div_ceil(nr).checked_mul(nr * kc);
    assert!(b_len.is_some_and(|len| bp.len() >= len), "packed B panel too short");
    check_a(kc, a, out.rows, mr)
}

/// The A part of [`check_operands`]: every `A(i, p)`, `i < rows`, `p < kc`, inside `a.data`;
/// returns the row offsets for all `mr` tile rows (past `rows`, the last valid one repeated).
#[inline(always)]
fn check_a(kc: usize, a: &MatRef<f32>, out_rows: usize, mr: usize) -> [usize; MAX_MR] {
    assert!(mr <= MAX_MR && out_rows >= 1);
    // The last element read, computed without wrapping: every other offset read is smaller
    // (offsets grow with the row and the column), so this one bound covers them all.
    let last_row = (out_rows - 1).checked_mul(a.row_stride).and_then(|r| r.checked_add(a.offset));
    let a_last = last_row.and_then(|r| r.checked_add(kc.saturating_sub(1).checked_mul(a.col_stride)?));
    assert!(a_last.is_some_and(|l| kc == 0 || l < a.data.len()), "A outside its slice");
    let mut rows = [0usize; MAX_MR];
    for (i, r) in rows.iter_mut().enumerate().take(mr) {
        *r = a.offset + i.min(out_rows - 1) * a.row_stride;
    }
    rows
}

/// # Safety
/// AVX2 and FMA must be available; for `p < kc`: `a.0 + a.1[i] + p·a.2` readable for `i < 6`
/// and `b + p·16 + j` for `j < 16` (a packed sliver); `c + i*ldc` valid for 16 writes for each
/// `i < 6`, and for 16 reads of initialised values unless `overwrite`; `bias` null, or (with
/// `overwrite`) 16 readable floats added to every stored row.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_6x16(
    kc: usize,
    (a, a_rows, a_cs): (*const f32, [usize; MAX_MR], usize),
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    (overwrite, bias): (bool, *const f32),
) {
    let mut acc = [_mm256_setzero_ps(); 12];
    // A column-major A read in place (not the packed sliver, column stride 6, nor a
    // row-major A): prefetched ahead, see the AVX-512 kernel.
    let prefetch_a = a_cs != 1 && a_cs != 6;
    for p in 0..kc {
        // SAFETY: p < kc, so the A reads (rows a_rows[i], column p) and the sliver's row p
        // are in bounds (contract).
        unsafe {
            let bp = b.add(p * 16);
            let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
            let ap = a.add(p * a_cs);
            if prefetch_a {
                // A's lines A_PREFETCH columns ahead, as in the AVX-512 kernel.
                let pa = ap.wrapping_add(A_PREFETCH.wrapping_mul(a_cs));
                _mm_prefetch::<_MM_HINT_T0>(pa.wrapping_add(a_rows[0]).cast::<i8>());
                _mm_prefetch::<_MM_HINT_T0>(pa.wrapping_add(a_rows[5]).cast::<i8>());
            }
            for i in 0..6 {
                let ai = _mm256_broadcast_ss(&*ap.add(a_rows[i]));
                acc[2 * i] = _mm256_fmadd_ps(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(ai, b1, acc[2 * i + 1]);
            }
        }
    }
    // The bias row, stored as `bias + acc` (what `c += acc` over C = bias rows would give).
    // SAFETY: when given, it holds 16 floats (contract).
    let bias_row =
        (overwrite && !bias.is_null()).then(|| unsafe { (_mm256_loadu_ps(bias), _mm256_loadu_ps(bias.add(8))) });
    for i in 0..6 {
        // SAFETY: row i of C holds 16 floats at c + i*ldc (contract).
        unsafe {
            let row = c.add(i * ldc);
            let (mut lo, mut hi) = (acc[2 * i], acc[2 * i + 1]);
            if !overwrite {
                lo = _mm256_add_ps(_mm256_loadu_ps(row), lo);
                hi = _mm256_add_ps(_mm256_loadu_ps(row.add(8)), hi);
            } else if let Some((b_lo, b_hi)) = bias_row {
                lo = _mm256_add_ps(b_lo, lo);
                hi = _mm256_add_ps(b_hi, hi);
            }
            _mm256_storeu_ps(row, lo);
            _mm256_storeu_ps(row.add(8), hi);
        }
    }
}

/// The lanes of a 16-float half that hold columns `first..first + 16` of `cols`.
#[inline]
fn half_mask(cols: usize, first: usize) -> __mmask16 {
    let n = cols.saturating_sub(first).min(16);
    ((1u32 << n) - 1) as __mmask16
}

/// # Safety
/// AVX-512F must be available; for `p < kc`: `a.0 + a.1[i] + p·a.2` readable for `i < MR`
/// and `b + p·32 + j` for `j < 32` (a packed sliver); with `tile = (c, ldc, rows, cols,
/// (overwrite, bias))`, `1 ≤ rows ≤ MR`, `1 ≤ cols ≤ 32` (32 when `FULL_B`), and rows `i < rows`
/// hold `cols` floats at `c + i*ldc` (initialised unless `overwrite`: they are read and added
/// to); `bias` null, or (with `overwrite`) `cols` readable floats added to every stored row.
/// MR is at most 14 (2·MR accumulators, two B registers and a
/// broadcast in 32 registers). `PACKED_A`: `a.1[i] == i` and `a.2 == MR`.
#[target_feature(enable = "avx512f")]
unsafe fn kernel_avx512<const MR: usize, const FULL_B: bool, const PACKED_A: bool, B: BRows>(
    kc: usize,
    (a, a_rows, a_cs): (*const f32, [usize; MR], usize),
    b: B,
    (c, ldc, rows, cols, (overwrite, bias)): (*mut f32, usize, usize, usize, (bool, *const f32)),
) {
    // The C rows are needed after the loop: ask for them now so they arrive meanwhile.
    for i in 0..rows {
        let row = c.wrapping_add(i * ldc);
        _mm_prefetch::<_MM_HINT_T0>(row.cast::<i8>());
        _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(cols - 1).cast::<i8>());
    }
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    // An A read in place with its columns a stride apart (column-major): the hardware
    // prefetcher does not follow that stride across pages, so the kernel asks for the first
    // and last row's line A_PREFETCH columns ahead. (A row-major A streams along its rows.)
    let prefetch_a = !PACKED_A && a_cs != 1;
    for p in 0..kc {
        // SAFETY: p < kc, so row p of the B sliver and A's column p in the rows a_rows are in
        // bounds (contract).
        unsafe {
            let (lo, hi) = b.row(p);
            let (b0, b1) = (_mm512_loadu_ps(lo), _mm512_loadu_ps(hi));
            let (pf_lo, pf_hi) = b.ahead(p);
            _mm_prefetch::<_MM_HINT_T0>(pf_lo.cast::<i8>());
            _mm_prefetch::<_MM_HINT_T0>(pf_hi.cast::<i8>());
            let ap = a.add(p * a_cs);
            if prefetch_a {
                let pa = ap.wrapping_add(A_PREFETCH.wrapping_mul(a_cs));
                _mm_prefetch::<_MM_HINT_T0>(pa.wrapping_add(a_rows[0]).cast::<i8>());
                _mm_prefetch::<_MM_HINT_T0>(pa.wrapping_add(a_rows[MR - 1]).cast::<i8>());
            }
            for (i, (acc, &row)) in acc.iter_mut().zip(&a_rows).enumerate() {
                let ai = _mm512_set1_ps(*ap.add(if PACKED_A { i } else { row }));
                acc[0] = _mm512_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(ai, b1, acc[1]);
            }
        }
    }
    let (m0, m1) = if FULL_B { (!0, !0) } else { (half_mask(cols, 0), half_mask(cols, 16)) };
    // The bias row, stored as `bias + acc` (what `c += acc` over C = bias rows would give).
    // SAFETY: when given, it holds `cols` floats (contract): what the masks read (the second
    // half only when it has columns).
    let bias_row = (overwrite && !bias.is_null()).then(|| unsafe {
        let hi = if m1 != 0 { _mm512_maskz_loadu_ps(m1, bias.add(16)) } else { _mm512_setzero_ps() };
        (_mm512_maskz_loadu_ps(m0, bias), hi)
    });
    for (i, &[lo, hi]) in acc.iter().enumerate().take(rows) {
        // SAFETY: row i < rows holds `cols` floats at c + i*ldc (contract); the masks cover
        // exactly those columns, and masked-off lanes are neither read nor written. The
        // second half is touched only when it has columns, so c + i*ldc + 16 is in bounds.
        unsafe {
            let row = c.add(i * ldc);
            let (mut lo, mut hi) = (lo, hi);
            if !overwrite {
                lo = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), lo);
            } else if let Some((b_lo, _)) = bias_row {
                lo = _mm512_add_ps(b_lo, lo);
            }
            _mm512_mask_storeu_ps(row, m0, lo);
            if m1 != 0 {
                let row = row.add(16);
                if !overwrite {
                    hi = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row), hi);
                } else if let Some((_, b_hi)) = bias_row {
                    hi = _mm512_add_ps(b_hi, hi);
                }
                _mm512_mask_storeu_ps(row, m1, hi);
            }
        }
    }
}
