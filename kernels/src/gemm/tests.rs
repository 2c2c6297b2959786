//! Tests: the fast kernels against the naive references.
use super::*;
use pack::pack_interleaved;
use proptest::prelude::*;

/// How a test matrix sits in its buffer: row-major / column-major with padded leading
/// stride, or every row the same (row stride 0, as produced by broadcasting).
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor(usize),
    ColMajor(usize),
    BroadcastRows,
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        (0..4usize).prop_map(Layout::RowMajor),
        (0..4usize).prop_map(Layout::ColMajor),
        Just(Layout::BroadcastRows)
    ]
}

pub(super) fn mat<T>(data: &[T], offset: usize, row_stride: usize, col_stride: usize) -> MatRef<'_, T> {
    MatRef { data, offset, row_stride, col_stride }
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift).
pub(super) fn fill<T: Real>(len: usize, seed: u64) -> Vec<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        <T as Real>::from_f64((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
    };
    (0..len).map(|_| next()).collect()
}

/// A random r×c matrix with the given layout and offset: (buffer, row stride, col stride).
fn matrix<T: Real>(r: usize, c: usize, lay: Layout, offset: usize, seed: u64) -> (Vec<T>, usize, usize) {
    let (rs, cs) = match lay {
        Layout::RowMajor(pad) => (c + pad, 1),
        Layout::ColMajor(pad) => (1, r + pad),
        Layout::BroadcastRows => (0, 1),
    };
    let len = if r == 0 || c == 0 { offset } else { offset + (r - 1) * rs + (c - 1) * cs + 1 };
    (fill(len, seed), rs, cs)
}

/// Compares `run` (a fast product of A: m×k and B: k×n built from the given layouts and
/// offsets) with `gemm_reference` on the same random C, to `tol_per_k · (k + 2)`.
#[allow(clippy::type_complexity)]
fn check<T: Real>(
    (m, n, k): (usize, usize, usize),
    (la, oa, lb, ob): (Layout, usize, Layout, usize),
    (accumulate, seed, tol_per_k): (bool, u64, f64),
    run: impl Fn(MatRef<T>, MatRef<T>, &mut [T]),
) {
    let (ad, ars, acs) = matrix::<T>(m, k, la, oa, seed);
    let (bd, brs, bcs) = matrix::<T>(k, n, lb, ob, seed ^ 0xABCD);
    let (a, b) = (mat(&ad, oa, ars, acs), mat(&bd, ob, brs, bcs));
    let mut want = fill::<T>(m * n, seed ^ 0x5555);
    let mut got = want.clone();
    gemm_reference(m, n, k, a, b, &mut want, accumulate);
    run(a, b, &mut got);
    let tol = tol_per_k * (k as f64 + 2.0);
    for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
        let err = (Real::to_f64(*g) - Real::to_f64(*w)).abs();
        assert!(err <= tol, "({m}x{n}x{k}) elem {idx}: got {g}, want {w}, err {err}");
    }
}

/// [`gemm_blocked`] on an initialised C, as the public entry points call it.
#[allow(clippy::too_many_arguments)]
fn blocked<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: Operand<T>,
    b: Operand<T>,
    c: &mut [T],
    acc: bool,
    blk: Blocking,
    par: bool,
) {
    // SAFETY: `c` is initialised (it comes from `&mut [T]`).
    unsafe { gemm_blocked(m, n, k, a, b, as_uninit(c), Start::from_accumulate(acc), blk, par) }
}

/// Tiny block sizes so 0..70 matrices cross every mc / kc / nc boundary.
// mc and nc are multiples of every kernel's tile (6, 8 and 12 rows, 16 and 32 columns).
pub(super) const SMALL: Blocking = Blocking { mc: 24, kc: 7, nc: 64 };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gemm_matches_reference(
        m in 0..70usize, n in 0..70usize, k in 0..70usize,
        lay in (layout(), 0..5usize, layout(), 0..5usize), accumulate: bool, seed: u64,
    ) {
        let (s, acc) = ((m, n, k), accumulate);
        let (f, d) = ((acc, seed, 1e-6), (acc, seed, 1e-14)); // f32 / f64 tolerance per k
        check::<f32>(s, lay, f, |a, b, c| gemm(m, n, k, a, b, c, acc));
        check::<f64>(s, lay, d, |a, b, c| gemm(m, n, k, a, b, c, acc));
        for par in [false, true] {
            check::<f32>(s, lay, f, |a, b, c| blocked(m, n, k, Operand::Strided(a), Operand::Strided(b), c, acc, SMALL, par));
            check::<f64>(s, lay, d, |a, b, c| blocked(m, n, k, Operand::Strided(a), Operand::Strided(b), c, acc, SMALL, par));
        }
    }
}

#[test]
fn gemm_degenerate_sizes() {
    let a = mat(&[] as &[f32], 0, 0, 1);
    // k = 0: C = 0, or unchanged when accumulating.
    let mut c = vec![3.0f32; 6];
    gemm(2, 3, 0, a, a, &mut c, true);
    assert_eq!(c, vec![3.0; 6]);
    gemm(2, 3, 0, a, a, &mut c, false);
    assert_eq!(c, vec![0.0; 6]);
    // m = 0 or n = 0: nothing to do, nothing read.
    gemm(0, 3, 5, a, a, &mut [], false);
    gemm(3, 0, 5, a, a, &mut [], false);
}

#[test]
fn gemm_large_exceeds_blocks() {
    // 300×200×257 crosses MC (128) and KC (256); transposed operands test strided packing.
    let (row, col) = (Layout::RowMajor(0), Layout::ColMajor(3));
    let (m, n, k) = (300, 200, 257);
    for acc in [false, true] {
        let (l1, l2) = ((row, 1, col, 2), (col, 0, row, 5));
        check::<f32>((m, n, k), l1, (acc, 7, 1e-6), |a, b, c| gemm(m, n, k, a, b, c, acc));
        check::<f64>((m, n, k), l2, (acc, 8, 1e-14), |a, b, c| gemm(m, n, k, a, b, c, acc));
    }
    // Wider than NC to cross the column-panel loop.
    let (m, n, k) = (9, 2 * NC + 5, 300);
    check::<f32>((m, n, k), (row, 0, row, 1), (false, 9, 1e-6), |a, b, c| gemm(m, n, k, a, b, c, false));
}

pub(super) fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn gemm_batched_broadcast_b() {
    // Four items with distinct A matrices and one shared B (same offset 3 for every item).
    let (m, n, k, batch) = (37, 29, 41, 4);
    let (ad, bd) = (fill::<f64>(batch * m * k, 1), fill::<f64>(3 + k * n, 2));
    let (a, b) = (mat(&ad, 0, k, 1), mat(&bd, 0, n, 1));
    let a_offsets: Vec<usize> = (0..batch).map(|t| t * m * k).collect();
    for accumulate in [false, true] {
        let c0 = fill::<f64>(batch * m * n, 3);
        let mut got = c0.clone();
        gemm_batched(m, n, k, a, &a_offsets, b, &[3; 4], &mut got, accumulate);
        for (t, (c_t, c0_t)) in got.chunks(m * n).zip(c0.chunks(m * n)).enumerate() {
            let mut want = c0_t.to_vec();
            let at = MatRef { offset: a_offsets[t], ..a };
            gemm_reference(m, n, k, at, MatRef { offset: 3, ..b }, &mut want, accumulate);
            for (g, w) in c_t.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "item {t}: got {g}, want {w}");
            }
        }
    }
    // Many small items (shared A this time) take the batch-parallel path; each must match
    // a lone `gemm` bit for bit.
    let (m, n, k, batch) = (8, 8, 600, 64);
    let (ad, bd) = (fill::<f32>(m * k, 4), fill::<f32>(batch * k * n, 5));
    let (a, b) = (mat(&ad, 0, k, 1), mat(&bd, 0, 1, k));
    let b_offsets: Vec<usize> = (0..batch).map(|t| t * k * n).collect();
    let mut got = vec![0.0f32; batch * m * n];
    gemm_batched(m, n, k, a, &vec![0; batch], b, &b_offsets, &mut got, false);
    for (c_t, &bo) in got.chunks(m * n).zip(&b_offsets) {
        let mut want = vec![0.0f32; m * n];
        gemm(m, n, k, a, MatRef { offset: bo, ..b }, &mut want, false);
        assert_eq!(bits(c_t), bits(&want), "item at B offset {bo}");
    }
}

#[test]
fn gemm_bit_identical_across_thread_counts() {
    let (m, n, k) = (301, 203, 517);
    let (ad, bd) = (fill::<f32>(m * k, 11), fill::<f32>(k * n, 12));
    let (a, b) = (mat(&ad, 0, k, 1), mat(&bd, 0, 1, k));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut c = fill::<f32>(m * n, 13);
            gemm(m, n, k, a, b, &mut c, true);
            bits(&c)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

/// Random f32 bit patterns (NaNs with payloads, infinities, subnormals, -0.0 included) from a
/// seed, so a bit-for-bit comparison sees any value the transpose could mangle.
fn raw_f32(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            f32::from_bits((s >> 32) as u32)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The dispatching `pack_interleaved` (AVX2 8×8 transposes for f32 where the CPU has them)
    /// against the scalar reference, bit for bit: any kc, the tile widths of both kernels, any
    /// number of lines (missing ones are zero), lines at odd offsets and with a stride longer
    /// than kc (as pack_a / pack_b slice them), and a sliver full of garbage beforehand.
    #[test]
    fn pack_interleaved_matches_reference(
        kc in 1..600usize, width in prop::sample::select(vec![4usize, 6, 8, 12, 14, 16, 21, 32]), lines_frac in 0.0..=1.0f64,
        stride_pad in 0..9usize, offset in 0..8usize, seed: u64,
    ) {
        let lines = ((width as f64 * lines_frac).round() as usize).min(width);
        let stride = kc + stride_pad;
        let src = raw_f32(offset + lines * stride, seed);
        let line = |i: usize| &src[offset + i * stride..][..kc];
        let garbage = raw_f32(kc * width, !seed);
        let (mut want, mut got) = (garbage.clone(), garbage);
        pack::pack_interleaved_ref(&mut want, width, kc, (0..lines).map(line));
        pack_interleaved(&mut got, width, kc, (0..lines).map(line));
        prop_assert_eq!(bits(&got), bits(&want));
        // The SIMD routine itself, wherever this CPU can run it (the dispatcher may be skipping it).
        #[cfg(target_arch = "x86_64")]
        if pack::x86::supports(width) {
            let mut direct = vec![f32::NAN; kc * width];
            let refs: Vec<&[f32]> = (0..lines).map(line).collect();
            pack::x86::pack_f32(&mut direct, width, kc, &refs);
            prop_assert_eq!(bits(&direct), bits(&want));
        }
        // Other types keep the scalar path.
        let src64: Vec<f64> = src.iter().map(|&x| f64::from(x)).collect();
        let line64 = |i: usize| &src64[offset + i * stride..][..kc];
        let (mut want64, mut got64) = (vec![1.5f64; kc * width], vec![-2.5f64; kc * width]);
        pack::pack_interleaved_ref(&mut want64, width, kc, (0..lines).map(line64));
        pack_interleaved(&mut got64, width, kc, (0..lines).map(line64));
        let b64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(b64(&got64), b64(&want64));
    }
}

/// Every kc remainder (0..8 and beyond one block) and every line count at each width (so the
/// last group of 8 columns is 1 to 8 wide), exhaustively for small kc, so the block / tail /
/// zero-group boundaries and every partial row store are hit regardless of sampling.
#[test]
fn pack_interleaved_edges_exhaustive() {
    for width in [4usize, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 32] {
        for kc in 0..=17usize {
            for lines in 0..=width {
                let src = raw_f32(lines * kc, (width * 1000 + kc * 40 + lines) as u64);
                let line = |i: usize| &src[i * kc..][..kc];
                // Past the sliver: canaries that no store may touch.
                let mut want = vec![f32::from_bits(0x7FC0_1234); kc * width + 16];
                let mut got = want.clone();
                pack::pack_interleaved_ref(&mut want[..kc * width], width, kc, (0..lines).map(line));
                pack_interleaved(&mut got[..kc * width], width, kc, (0..lines).map(line));
                assert_eq!(bits(&got), bits(&want), "width {width}, kc {kc}, lines {lines}");
            }
        }
    }
}

/// `pack_a` for f32 and f64 on every layout (row-major A takes the interleaved path, full
/// column-major slivers the fixed-size copies): the sliver must hold exactly `A[i][p]`,
/// zero-padded. (`pack_b`: [`pack_b_panels_serial_and_parallel`].)
#[test]
fn pack_a_layouts() {
    fn run<T: Real>() {
        let (rows, kc, p0, i0) = (19usize, 37usize, 3usize, 2usize); // full and partial slivers for every mr and nr
        for lay in [Layout::RowMajor(0), Layout::RowMajor(3), Layout::ColMajor(0), Layout::ColMajor(2)] {
            let (d, rs, cs) = matrix::<T>(i0 + rows, p0 + kc, lay, 1, 31);
            let a = mat(&d, 1, rs, cs);
            let at = |i: usize, p: usize| d[1 + i * rs + p * cs];
            for mr in [6usize, 8] {
                let mut ap = vec![T::one(); round_up(rows, mr) * kc];
                pack_a(&mut ap, Operand::Strided(a), (i0, rows), (p0, kc), mr);
                for (s, sliver) in ap.chunks_exact(kc * mr).enumerate() {
                    for p in 0..kc {
                        for i in 0..mr {
                            let r = s * mr + i;
                            let want = if r < rows { at(i0 + r, p0 + p) } else { T::zero() };
                            assert_eq!(sliver[p * mr + i], want, "{lay:?} mr {mr}: A row {r}, p {p}");
                        }
                    }
                }
            }
        }
    }
    run::<f32>();
    run::<f64>();
}

/// `pack_b` over panels of several widths (row-major B is copied in runs of slivers: the whole
/// panel at once when serial, [`pack::PACK_B_GROUP`] slivers per task in parallel), on every
/// layout (rows repeated with stride 0 included): each sliver holds exactly `B[p][j]`,
/// zero-padded past the panel.
#[test]
fn pack_b_panels_serial_and_parallel() {
    fn run<T: Real>() {
        let (kc, p0, j0) = (23usize, 2usize, 5usize);
        // 300 columns: several groups of 4 slivers for nr 32 too, and a partial last sliver.
        for nc in [37usize, 150, 300] {
            let layouts = [
                Layout::RowMajor(0),
                Layout::RowMajor(3),
                Layout::ColMajor(0),
                Layout::ColMajor(2),
                Layout::BroadcastRows,
            ];
            for lay in layouts {
                let (d, rs, cs) = matrix::<T>(p0 + kc, j0 + nc, lay, 1, 47);
                let b = mat(&d, 1, rs, cs);
                let at = |p: usize, j: usize| d[1 + p * rs + j * cs];
                for (nr, min_len) in [(16usize, usize::MAX), (32, usize::MAX), (16, 1), (32, 1)] {
                    let mut bp = vec![T::one(); round_up(nc, nr) * kc];
                    pack_b(&mut bp, Operand::Strided(b), (p0, kc), (j0, nc), nr, min_len);
                    for (s, sliver) in bp.chunks_exact(kc * nr).enumerate() {
                        for p in 0..kc {
                            for j in 0..nr {
                                let c = s * nr + j;
                                let want = if c < nc { at(p0 + p, j0 + c) } else { T::zero() };
                                assert_eq!(sliver[p * nr + j], want, "{lay:?} nc {nc} nr {nr}: col {c}, p {p}");
                            }
                        }
                    }
                }
            }
        }
    }
    run::<f32>();
    run::<f64>();
}

/// A stored row-major matrix handed over as rows made on demand.
struct StoredRows<'a> {
    data: &'a [f32],
    cols: usize,
}

impl RowSource<f32> for StoredRows<'_> {
    fn rows(&self, (r0, count): (usize, usize), (j0, len): (usize, usize), out: &mut [f32], ld: usize) {
        for p in 0..count {
            out[p * ld..p * ld + len].copy_from_slice(&self.data[(r0 + p) * self.cols + j0..][..len]);
        }
    }
}

/// Operands made on demand pack the same values as stored ones: the same bits, as A or as B,
/// through every loop of the blocked algorithm, serial and parallel.
#[test]
fn operands_made_on_demand_give_the_same_bits() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (m, n, k) in [(1, 1, 1), (7, 33, 5), (50, 70, 300), (145, 2050, 20)] {
        let (a, b) = (fill::<f32>(m * k, 1), fill::<f32>(k * n, 2));
        let (ra, rb) = (StoredRows { data: &a, cols: k }, StoredRows { data: &b, cols: n });
        for (blk, par) in [(SMALL, false), (SMALL, true), (BLOCKING, true)] {
            for rows_a in [false, true] {
                let oa = if rows_a { Operand::Rows(&ra) } else { Operand::Strided(mat(&a, 0, k, 1)) };
                let ob = if rows_a { Operand::Strided(mat(&b, 0, n, 1)) } else { Operand::Rows(&rb) };
                let mut c = vec![f32::NAN; m * n];
                pool.install(|| blocked(m, n, k, oa, ob, &mut c, false, blk, par));
                let mut c_ref = vec![f32::NAN; m * n];
                let (sa, sb) = (Operand::Strided(mat(&a, 0, k, 1)), Operand::Strided(mat(&b, 0, n, 1)));
                pool.install(|| blocked(m, n, k, sa, sb, &mut c_ref, false, blk, par));
                assert!(c_ref.iter().all(|v| v.is_finite()));
                assert_eq!(c, c_ref, "{m}x{n}x{k} rows as {}", if rows_a { "A" } else { "B" });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Each hand-written f32 kernel this CPU runs, against a scalar loop with the same order of
    /// fused multiply-adds (so bit for bit): any kc, any number of rows, a packed B panel of one
    /// to three slivers with any width of the last, stored or added, A packed or in place
    /// (row-major, column-major, rows repeated), stored tiles with or without a bias row
    /// (`bias[j] + acc`); C elements outside the written block are left alone.
    #[test]
    fn simd_kernels_match_fused_reference(
        kc in 0..40usize, rows_frac in 0.0..1.0f64, cols_frac in 0.0..1.0f64, pad in 0..5usize,
        a_lay in 0..4usize, off in 0..3usize, overwrite: bool, with_bias: bool, seed: u64,
    ) {
        for (mr, nr, run) in simd::supported_f32_kernels() {
            let rows = 1 + (rows_frac * mr as f64) as usize % mr;
            let cols = 1 + (cols_frac * (3 * nr) as f64) as usize % (3 * nr);
            let ldc = cols + pad;
            // A: packed sliver, row-major (padded), column-major (padded), or one row repeated;
            // only the tile's `rows` rows exist.
            let (a_rs, a_cs, a_rows) = match a_lay {
                0 => (1, mr, mr),
                1 => (kc + pad, 1, rows),
                2 => (1, rows + pad, rows),
                _ => (0, 1, 1),
            };
            let a_len = off + if kc == 0 { 0 } else { (a_rows - 1) * a_rs + (kc - 1) * a_cs + 1 };
            let a = fill::<f32>(a_len, seed);
            // B: ceil(cols / nr) packed kc×nr slivers; element (p, j) at (j / nr)·kc·nr + p·nr + j % nr.
            let bp = fill::<f32>(cols.div_ceil(nr) * nr * kc, seed ^ 1);
            let b_at = |p: usize, j: usize| bp[(j / nr) * kc * nr + p * nr + j % nr];
            let mut got = fill::<f32>(rows * ldc, seed ^ 2);
            let mut want = got.clone();
            let bias_row = fill::<f32>(cols, seed ^ 3);
            let bias = (overwrite && with_bias).then_some(&bias_row[..]);
            for i in 0..rows {
                for j in 0..cols {
                    let acc = (0..kc).fold(0.0f32, |acc, p| a[off + i * a_rs + p * a_cs].mul_add(b_at(p, j), acc));
                    let w = &mut want[i * ldc + j];
                    *w = match (overwrite, bias) {
                        (true, Some(b)) => b[j] + acc,
                        (true, None) => acc,
                        (false, _) => *w + acc,
                    };
                }
            }
            // SAFETY: the kernels write only values into C; `got` is initialised (so adding is fine).
            let c = unsafe { as_uninit(&mut got) };
            run(kc, mat(&a, off, a_rs, a_cs), &bp, TileOut { c, ldc, rows, cols, overwrite, bias });
            let (got, want): (Vec<u32>, Vec<u32>) = (got.iter().map(|x| x.to_bits()).collect(), want.iter().map(|x| x.to_bits()).collect());
            prop_assert_eq!(got, want, "{}x{} kernel, {}x{} block, ldc {}, A layout {}", mr, nr, rows, cols, ldc, a_lay);
        }
    }
}

/// The entry point into a new (uninitialised) vector writes every element, with the same bits
/// as the one into an initialised buffer (NaN garbage beforehand).
#[test]
fn gemm_batched_vec_matches_gemm_batched() {
    for (m, n, k, batch) in
        [(1, 1, 1, 1), (7, 33, 5, 3), (64, 64, 64, 4), (9, 70, 0, 2), (130, 17, 300, 2), (3, 0, 4, 2)]
    {
        let a = fill::<f32>(batch * m * k, 1);
        let b = fill::<f32>(batch * k * n, 2);
        let (ao, bo): (Vec<usize>, Vec<usize>) = (0..batch).map(|t| (t * m * k, t * k * n)).unzip();
        let (am, bm) = (mat(&a, 0, k, 1), mat(&b, 0, n, 1));
        let mut want = vec![f32::NAN; batch * m * n];
        gemm_batched(m, n, k, am, &ao, bm, &bo, &mut want, false);
        let got = gemm_batched_vec(m, n, k, (am, &ao), (bm, &bo));
        assert_eq!(bits(&got), bits(&want), "{m}x{n}x{k} x{batch}");
    }
}

/// Strides whose offsets wrap around `usize` are refused (a panic), never read through: the
/// in-place A path checks its bounds without wrapping arithmetic.
#[test]
#[should_panic]
fn gemm_rejects_wrapping_strides() {
    let a = mat(&[0.0f32; 6], 5, usize::MAX, 1); // rows at 5, 4, 3 after wrapping
    let b = mat(&[1.0f32; 3], 0, 1, 1);
    let mut c = [0.0f32; 3];
    gemm(3, 1, 3, a, b, &mut c, false);
}
