//! The packers (`pack_a`, `pack_b`: operand blocks into the micro-kernels' slivers) and the
//! interleaving transpose behind both, with an AVX2 path for f32.
//!
//! [`pack_interleaved`] writes up to `width` contiguous source lines of length `kc` interleaved
//! into a sliver (`sliver[p*width + i] = line_i[p]`, missing lines zero). [`pack_interleaved_ref`]
//! is the plain scalar loop and the reference; for f32 on CPUs with AVX2 and widths 4 to 32
//! the fast path transposes 8×8 blocks in registers (eight consecutive `p` of eight lines
//! in, eight sliver rows of eight out) and leaves only the last `kc % 8` rows to the scalar loop.
//! Loads, shuffles, blends and stores move bits without arithmetic and missing lines read as
//! `+0.0` (what `T::zero()` is), so both paths write the same bits (NaN payloads, signed zeros
//! and subnormals included).
use super::Operand;
use crate::Real;
use rayon::prelude::*;

/// Most lines the fast path takes (the widest tile, `MAX_NR`).
const MAX_LINES: usize = super::MAX_NR;

/// Writes up to `width` contiguous source lines of length `kc` interleaved into `sliver`
/// (`sliver[p*width + i] = line_i[p]`), zero-filling missing lines: the transpose both packers
/// need when the packed direction is the contiguous one in memory. Bit-identical to
/// [`pack_interleaved_ref`]; f32 runs an 8×8 AVX2 transpose where the CPU has it.
pub(super) fn pack_interleaved<'a, T: Real + 'a>(
    sliver: &mut [T],
    width: usize,
    kc: usize,
    lines: impl Iterator<Item = &'a [T]>,
) {
    #[cfg(target_arch = "x86_64")]
    if sliver.len() == kc * width && x86::supports(width) {
        if let Some(out) = crate::memory::same_type_mut::<T, f32>(sliver) {
            let mut buf: [&[f32]; MAX_LINES] = [&[]; MAX_LINES];
            let mut n = 0;
            for line in lines {
                assert!(n < width, "more than {width} lines for a sliver of width {width}");
                buf[n] = crate::memory::same_type(line).expect("lines of the sliver's type");
                n += 1;
            }
            x86::pack_f32(out, width, kc, &buf[..n]);
            return;
        }
    }
    pack_interleaved_ref(sliver, width, kc, lines);
}

/// The scalar interleave, one element at a time: the reference for [`pack_interleaved`] and the
/// path for other types, other widths, CPUs without AVX2 and the `kc % 8` tail rows.
pub(super) fn pack_interleaved_ref<'a, T: Real + 'a>(
    sliver: &mut [T],
    width: usize,
    kc: usize,
    lines: impl Iterator<Item = &'a [T]>,
) {
    let mut filled = 0;
    for (i, line) in lines.enumerate() {
        for (out, &v) in sliver.chunks_exact_mut(width).zip(&line[..kc]) {
            out[i] = v;
        }
        filled = i + 1;
    }
    if filled < width {
        for out in sliver.chunks_exact_mut(width) {
            out[filled..].fill(T::zero());
        }
    }
}

/// Packs the block A[i0..i0+rows, p0..p0+kc] into `dst` as mr-tall slivers:
/// `dst[s*kc*mr + p*mr + i]` = A[i0 + s*mr + i, p0 + p]. Rows past `rows` are zero.
pub(super) fn pack_a<T: Real>(
    dst: &mut [T],
    a: Operand<T>,
    (i0, rows): (usize, usize),
    (p0, kc): (usize, usize),
    mr: usize,
) {
    let a = match a {
        Operand::Strided(a) => a,
        Operand::Rows(src) => {
            // Each sliver's rows are made into a small buffer, then interleaved like stored rows.
            crate::scratch::with_scratch(mr * kc, |lines: &mut [T]| {
                for (s, sliver) in dst.chunks_exact_mut(kc * mr).enumerate() {
                    let r = mr.min(rows - s * mr);
                    src.rows((i0 + s * mr, r), (p0, kc), lines, kc);
                    pack_interleaved(sliver, mr, kc, lines.chunks_exact(kc).take(r));
                }
            });
            return;
        }
    };
    let (rs, cs) = (a.row_stride, a.col_stride);
    for (s, sliver) in dst.chunks_exact_mut(kc * mr).enumerate() {
        let r = mr.min(rows - s * mr);
        let base = a.offset + (i0 + s * mr) * rs + p0 * cs;
        if cs == 1 {
            // Row-major A: read each of the sliver's rows contiguously (one bounds check per
            // row), writing them interleaved.
            pack_interleaved(sliver, mr, kc, (0..r).map(|i| &a.data[base + i * rs..base + i * rs + kc]));
            continue;
        }
        if rs == 1 && r == mr && copy_lines(sliver, a.data, base, cs, mr) {
            continue;
        }
        for (p, out) in sliver.chunks_exact_mut(mr).enumerate() {
            let (head, tail) = out.split_at_mut(r);
            tail.fill(T::zero());
            let col = base + p * cs;
            if rs == 1 {
                // Column-major A: the sliver row is a contiguous piece of column p.
                head.copy_from_slice(&a.data[col..col + r]);
            } else {
                for (i, x) in head.iter_mut().enumerate() {
                    *x = a.data[col + i * rs];
                }
            }
        }
    }
}

/// Packs the panel B[p0..p0+kc, j0..j0+nc] into `dst` as nr-wide slivers:
/// `dst[s*kc*nr + p*nr + j]` = B[p0 + p, j0 + s*nr + j]. Columns past `nc` are zero. Slivers
/// are independent copies, so packing them in parallel cannot change any result.
pub(super) fn pack_b<T: Real>(
    dst: &mut [T],
    b: Operand<T>,
    (p0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    nr: usize,
    min_len: usize,
) {
    let b = match b {
        Operand::Strided(b) => b,
        Operand::Rows(src) => {
            dst.par_chunks_exact_mut(kc * nr).with_min_len(min_len).enumerate().for_each(|(s, sliver)| {
                let w = nr.min(nc - s * nr);
                src.rows((p0, kc), (j0 + s * nr, w), sliver, nr);
                if w < nr {
                    sliver.chunks_exact_mut(nr).for_each(|out| out[w..].fill(T::zero()));
                }
            });
            return;
        }
    };
    let (rs, cs) = (b.row_stride, b.col_stride);
    // Row-major B (or rows repeated, stride 0): the whole slivers are copied a run of several
    // slivers' columns per row (read in order, a row at a time), rather than one sliver's `nr`
    // columns from every row in turn. The partial last sliver takes the loop below.
    let runs = if cs == 1 && (nr == 16 || nr == 32) { nc / nr } else { 0 };
    if runs > 0 {
        // Serial: the whole panel at once; parallel: a few slivers per task.
        let group = if min_len == usize::MAX { runs } else { PACK_B_GROUP };
        dst[..runs * kc * nr].par_chunks_mut(group * kc * nr).with_min_len(min_len).enumerate().for_each(
            |(g, part)| {
                let base = b.offset + p0 * rs + j0 + g * group * nr;
                match nr {
                    16 => copy_row_runs::<T, 16>(part, b.data, base, rs, kc),
                    _ => copy_row_runs::<T, 32>(part, b.data, base, rs, kc),
                }
            },
        );
    }
    dst[runs * kc * nr..].par_chunks_exact_mut(kc * nr).with_min_len(min_len).enumerate().for_each(|(s, sliver)| {
        let s = runs + s;
        let w = nr.min(nc - s * nr);
        let base = b.offset + p0 * rs + (j0 + s * nr) * cs;
        if rs == 1 && cs != 1 {
            // Column-major (transposed) B: each column of the sliver is contiguous.
            pack_interleaved(sliver, nr, kc, (0..w).map(|j| &b.data[base + j * cs..base + j * cs + kc]));
            return;
        }
        for (p, out) in sliver.chunks_exact_mut(nr).enumerate() {
            let row = base + p * rs;
            let (head, tail) = out.split_at_mut(w);
            tail.fill(T::zero());
            if cs == 1 {
                head.copy_from_slice(&b.data[row..row + w]);
            } else {
                for (j, x) in head.iter_mut().enumerate() {
                    *x = b.data[row + j * cs];
                }
            }
        }
    });
}

/// Slivers per parallel task when [`pack_b`] copies a row-major B in row runs.
pub(super) const PACK_B_GROUP: usize = 4;

/// `part` holds whole `W`-wide slivers of depth `kc`: `part[s·kc·W + p·W + j] = data[base +
/// p·stride + s·W + j]`. Row by row, each row's run of `slivers·W` elements in order, copied as
/// fixed-size arrays (one or two vector moves each). [`copy_lines`] is its one-sliver case.
fn copy_row_runs<T: Copy, const W: usize>(part: &mut [T], data: &[T], base: usize, stride: usize, kc: usize) {
    let slivers = part.len().checked_div(kc * W).unwrap_or(0);
    for p in 0..kc {
        let row = &data[base + p * stride..][..slivers * W];
        for (s, src) in row.chunks_exact(W).enumerate() {
            let src: &[T; W] = src.try_into().expect("a chunk of W elements");
            let out: &mut [T; W] = (&mut part[(s * kc + p) * W..][..W]).try_into().expect("W elements");
            *out = *src;
        }
    }
}

/// A full sliver whose lines are contiguous in the source: `sliver[p·width + i] = data[base +
/// p·stride + i]` for every `p` and `i < width`, by [`copy_row_runs`] (fixed-size copies; a
/// `copy_from_slice` of a run-time length is a `memcpy` call per line, which cost more than the
/// copy for these 24–128-byte lines). Returns false, writing nothing, for a width without a
/// fixed-size path.
fn copy_lines<T: Real>(sliver: &mut [T], data: &[T], base: usize, stride: usize, width: usize) -> bool {
    let kc = sliver.len() / width.max(1);
    match width {
        6 => copy_row_runs::<T, 6>(sliver, data, base, stride, kc),
        8 => copy_row_runs::<T, 8>(sliver, data, base, stride, kc),
        16 => copy_row_runs::<T, 16>(sliver, data, base, stride, kc),
        32 => copy_row_runs::<T, 32>(sliver, data, base, stride, kc),
        _ => return false,
    }
    true
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::MAX_LINES;
    use std::arch::x86_64::*;

    /// Whether [`pack_f32`] takes `width` on this CPU: AVX2 present and `width` from 4 to
    /// [`MAX_LINES`] (every kernel's `mr` and `nr`).
    pub fn supports(width: usize) -> bool {
        (4..=MAX_LINES).contains(&width) && std::is_x86_feature_detected!("avx2")
    }

    /// The fast interleave: `sliver[p*width + i] = lines[i][p]` for `p < kc`, `i < width`, zero
    /// where `i >= lines.len()`; the same bits as [`super::pack_interleaved_ref`].
    ///
    /// # Panics
    /// If `width` is not supported here (see [`supports`], which also checks for AVX2),
    /// `sliver.len() != kc * width`, there are more than `width` lines, or a line is shorter
    /// than `kc`.
    pub fn pack_f32(sliver: &mut [f32], width: usize, kc: usize, lines: &[&[f32]]) {
        assert!(supports(width), "width {width} or the CPU not supported by the AVX2 packer");
        assert_eq!(sliver.len(), kc * width, "sliver length");
        assert!(lines.len() <= width, "more than {width} lines");
        let mut buf: [&[f32]; MAX_LINES] = [&[]; MAX_LINES];
        for (b, line) in buf.iter_mut().zip(lines) {
            *b = &line[..kc]; // panics if a line is short, as the reference does
        }
        let lines = &buf[..lines.len()];
        let full = kc / 8 * 8;
        // SAFETY: AVX2 was detected (`supports`); `width` is 4..=MAX_LINES, `sliver` holds
        // exactly kc*width elements, and there are at most `width` lines of at least kc each.
        unsafe { pack_blocks(sliver, width, full, lines) };
        // The last kc % 8 rows, element by element.
        super::pack_interleaved_ref(&mut sliver[full * width..], width, kc - full, lines.iter().map(|l| &l[full..]));
    }

    /// Eight zeros: the source of every missing line (read at offset 0 or 4 whatever `p`).
    static ZEROS: [f32; 8] = [0.0; 8];

    /// Rows `0..full` of the sliver, in 8×8 register transposes: for each block of eight `p` and
    /// each group of eight columns, load eight consecutive values of each of the group's lines
    /// (zero for missing lines), transpose, store eight rows.
    ///
    /// # Safety
    /// AVX2 must be available; `width` must be in 4..=[`MAX_LINES`];
    /// `full` a multiple of 8 with `sliver.len() >= full * width`; `lines.len() <= width`, every
    /// line at least `full` long.
    #[target_feature(enable = "avx2")]
    unsafe fn pack_blocks(sliver: &mut [f32], width: usize, full: usize, lines: &[&[f32]]) {
        debug_assert!(full.is_multiple_of(8) && sliver.len() >= full * width);
        debug_assert!(lines.len() <= width && width <= MAX_LINES);
        let out = sliver.as_mut_ptr();
        let n = lines.len();
        // Per line: where it starts, and a mask for `p` (all ones; zero for a missing line,
        // which then always reads ZEROS[0..8]).
        let mut src = [ZEROS.as_ptr(); MAX_LINES];
        let mut mask = [0usize; MAX_LINES];
        for ((s, m), line) in src.iter_mut().zip(&mut mask).zip(lines) {
            (*s, *m) = (line.as_ptr(), usize::MAX);
        }
        for p0 in (0..full).step_by(8) {
            // SAFETY: p0 + 8 <= full, so row p0+q (q < 8) lies inside sliver[..full*width].
            let rows = unsafe { out.add(p0 * width) };
            for g in (0..width).step_by(8) {
                let (src, mask) = (&src[g..g + 8], &mask[g..g + 8]);
                let cols = width - g;
                // SAFETY: present lines (index < n) are read at p0..p0+8, within their first
                // `full` elements; missing ones (mask 0) at ZEROS[0..8]. The stores write columns
                // g..g+min(8, cols) of rows p0..p0+8, inside the sliver (see `rows`).
                unsafe {
                    if g + 8 <= n {
                        block::<true>(rows.add(g), width, cols, src, mask, p0);
                    } else if g < n {
                        block::<false>(rows.add(g), width, cols, src, mask, p0);
                    } else {
                        // No line left in this group (nor in any later one).
                        for q in 0..8 {
                            store_row(rows.add(q * width + g), _mm256_setzero_ps(), cols);
                        }
                    }
                }
            }
        }
    }

    /// One 8×8 block: `dst[q*width + i] = line_i[p0 + q]` for `q < 8`, `i < min(8, cols)`.
    /// Each register holds 4 values of line i (low half) and 4 of line i+4 (high half), so one
    /// in-lane 4×4 transpose per half finishes the job (unpacks, then a shuffle and two blends
    /// per pair of outputs; no cross-lane permutes, which the split loads made unnecessary).
    /// Everything is a lane move, so bits are kept.
    ///
    /// # Safety
    /// AVX2 must be available; `src`/`mask` hold 8 entries; for each line `i`,
    /// `src[i] + (p0 & mask[i])` must be valid for 8 reads; `dst` valid for writes of
    /// `min(8, cols)` floats at each of `dst + q*width`, `q < 8`; `cols` at least 1.
    /// With `FULL`, every mask must be all ones.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn block<const FULL: bool>(
        dst: *mut f32,
        width: usize,
        cols: usize,
        src: &[*const f32],
        mask: &[usize],
        p0: usize,
    ) {
        let at = |i: usize| -> *const f32 {
            let off = if FULL { p0 } else { p0 & mask[i] };
            // SAFETY: the caller guarantees src[i] + off is valid for 8 reads.
            unsafe { src[i].add(off) }
        };
        let mut r = [_mm256_setzero_ps(); 8];
        for i in 0..4 {
            let (lo, hi) = (at(i), at(i + 4));
            // SAFETY: 8 floats are readable at lo and at hi (caller), i.e. at +0 and +4.
            unsafe {
                r[i] = _mm256_loadu2_m128(hi, lo);
                r[i + 4] = _mm256_loadu2_m128(hi.add(4), lo.add(4));
            }
        }
        for (half, r) in r.chunks_exact(4).enumerate() {
            // Low lane: lines 0..4 at p0 + 4*half + 0..4; high lane: lines 4..8.
            let t0 = _mm256_unpacklo_ps(r[0], r[1]); // l0[0] l1[0] l0[1] l1[1]
            let t1 = _mm256_unpackhi_ps(r[0], r[1]); // l0[2] l1[2] l0[3] l1[3]
            let t2 = _mm256_unpacklo_ps(r[2], r[3]); // l2[0] l3[0] l2[1] l3[1]
            let t3 = _mm256_unpackhi_ps(r[2], r[3]); // l2[2] l3[2] l2[3] l3[3]
            let v0 = _mm256_shuffle_ps::<0x4E>(t0, t2); // l0[1] l1[1] l2[0] l3[0]
            let v1 = _mm256_shuffle_ps::<0x4E>(t1, t3); // l0[3] l1[3] l2[2] l3[2]
            let o = [
                _mm256_blend_ps::<0xCC>(t0, v0), // l0..3 [0]
                _mm256_blend_ps::<0x33>(t2, v0), // l0..3 [1]
                _mm256_blend_ps::<0xCC>(t1, v1), // l0..3 [2]
                _mm256_blend_ps::<0x33>(t3, v1), // l0..3 [3]
            ];
            for (q, &row) in o.iter().enumerate() {
                // SAFETY: row 4*half + q < 8 is writable for min(8, cols) floats (caller).
                unsafe { store_row(dst.add((4 * half + q) * width), row, cols) };
            }
        }
    }

    /// Stores the first `min(8, cols)` floats of `v` at `dst` (`cols` at least 1), with plain
    /// stores of 4, 2 and 1 floats for a partial row. AVX2's masked store (`vmaskmovps`) is
    /// microcoded on AMD Zen: the 12-row A slivers' second group (4 columns) stored that way cost
    /// sq1024 and sq2048 about 3 % at 1 thread on a Zen 4 EPYC.
    ///
    /// # Safety
    /// AVX2 must be available and `dst` valid for `min(8, cols)` float writes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store_row(dst: *mut f32, v: __m256, cols: usize) {
        if cols >= 8 {
            // SAFETY: the caller guarantees 8 writable floats at dst.
            unsafe { _mm256_storeu_ps(dst, v) };
            return;
        }
        let (mut part, mut at) = (_mm256_castps256_ps128(v), 0);
        if cols >= 4 {
            // SAFETY: floats 0..4 are writable (cols ≥ 4).
            unsafe { _mm_storeu_ps(dst, part) };
            (part, at) = (_mm256_extractf128_ps::<1>(v), 4);
        }
        if cols - at >= 2 {
            // SAFETY: floats at..at + 2 are writable (at + 2 ≤ cols).
            unsafe { _mm_storel_epi64(dst.add(at).cast::<__m128i>(), _mm_castps_si128(part)) };
            (part, at) = (_mm_movehl_ps(part, part), at + 2);
        }
        if cols > at {
            // SAFETY: float `at` is writable (at < cols).
            unsafe { _mm_store_ss(dst.add(at), part) };
        }
    }
}
