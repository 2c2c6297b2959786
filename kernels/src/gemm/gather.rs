//! Products whose B operand is gathered from memory in place instead of packed: an implicit
//! GEMM, how a stride-1 convolution reads its image without building the im2col matrix.
//!
//! `B` is `k × 32·starts.len()`: its 32-column sliver `s` has row `p` at
//! `data[starts[s] + offs[p]..][..16]` followed by `data[starts[s] + offs[p] + d1..][..16]`.
//! For a convolution over a zero-padded image, `offs[p]` is where tap `p = (c, ki, kj)` sits
//! relative to an output pixel and `starts[s]` where the sliver's first output pixel reads
//! from; `d1` is 16 when a sliver's 32 pixels lie in one output row, the padded row length
//! when they are two rows of 16.
//!
//! [`gemm_row_table`] is the other way round: B is packed as usual and A is read in place from a
//! table of row starts (`A(i, p) = data[rows[i] + p]`), how a convolution's weight gradient reads
//! the im2col matrix's rows (one per tap) straight out of the padded image.
//!
//! The sums are those of [`super::gemm`] with the same blocking: depth slices of
//! `k.div_ceil(k.div_ceil(KC))`, each a fresh sum over increasing `p` by the same AVX-512
//! kernel, stored (first slice) or added to C. So the result is the same bits as `gemm` of A and
//! the stored B (the im2col matrix) on the same CPU.
use super::{round_up, MatRef, Operand, TileOut, KC, NC};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// B of [`gemm_gathered`], see the module docs.
#[derive(Clone, Copy)]
pub struct Gathered<'a> {
    pub data: &'a [f32],
    /// One offset per row of B (`k` of them).
    pub offs: &'a [usize],
    /// Where each 32-column sliver starts.
    pub starts: &'a [usize],
    pub d1: usize,
}

/// Whether [`gemm_gathered`] runs on this CPU (it needs the AVX-512 kernel).
pub fn gathered_available() -> bool {
    super::simd::gathered_f32_kernel(1).is_some()
}

/// `c [m × n] = a [m × k] · B` with `n = 32·b.starts.len()`, `c` row-major with row length `n`
/// (written in full, may start uninitialised), B gathered as the module docs say. With
/// `parallel`, blocks of rows go to rayon tasks (each element is still computed by one kernel
/// call per depth slice: the same bits). Returns false, writing nothing, when the CPU lacks the
/// kernel.
///
/// # Panics
/// If `b.offs.len() != k`, `c` is shorter than `m·n`, or any read of A or B falls outside its
/// slice.
pub fn gemm_gathered(
    m: usize,
    k: usize,
    a: MatRef<f32>,
    b: Gathered,
    c: &mut [MaybeUninit<f32>],
    parallel: bool,
) -> bool {
    let Some((mr, run)) = super::simd::gathered_f32_kernel(m) else { return false };
    let n = 32 * b.starts.len();
    assert_eq!(b.offs.len(), k, "gemm_gathered: one offset per row of B");
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        c.fill(MaybeUninit::new(0.0));
        return true;
    }
    let _warm = parallel.then(crate::parallel::keep_warm);
    // The same depth slices as the blocked GEMM (see there).
    let kc_max = k.div_ceil(k.div_ceil(KC));
    for pc in (0..k).step_by(kc_max) {
        let kc = kc_max.min(k - pc);
        let offs = super::simd::GatherOffsets::new(&b.offs[pc..pc + kc]);
        let min_len = if parallel { 1 } else { usize::MAX };
        c.par_chunks_mut(mr * n).with_min_len(min_len).enumerate().for_each(|(blk, c_rows)| {
            let (ir, rows) = (blk * mr, c_rows.len() / n);
            let a_sliver = a.at(ir, pc);
            for (s, &start) in b.starts.iter().enumerate() {
                // The first slice overwrites, so every element is initialised when later slices add.
                let out = TileOut { c: &mut c_rows[32 * s..], ldc: n, rows, cols: 32, overwrite: pc == 0, bias: None };
                run(kc, a_sliver, (b.data, &offs, start, b.d1), out);
            }
        });
    }
    true
}

/// Whether [`gemm_row_table`] runs on this CPU (it needs the AVX-512 kernel).
pub fn row_table_available() -> bool {
    super::simd::row_table_f32_kernel(1).is_some()
}

/// `c [m × n] (+)= A · b` with `A(i, p) = a_data[a_rows[i] + p]` (`m = a_rows.len()`, `p < k`),
/// `c` row-major and initialised, added to when `accumulate`. B is packed panel by panel as in
/// the blocked GEMM, whose depth slices and kernel this uses (so the same bits as `gemm` of the
/// stored A). With `parallel`, blocks of rows go to rayon tasks (the same bits). Returns false,
/// touching nothing, when the CPU lacks the kernel.
///
/// # Panics
/// If `c` is shorter than `m·n` or a read of A or B falls outside its slice.
pub fn gemm_row_table(
    n: usize,
    k: usize,
    (a_data, a_rows): (&[f32], &[usize]),
    b: Operand<f32>,
    c: &mut [f32],
    (accumulate, parallel): (bool, bool),
) -> bool {
    let m = a_rows.len();
    let Some((mr, nr, run)) = super::simd::row_table_f32_kernel(m) else { return false };
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return true;
    }
    let _warm = parallel.then(crate::parallel::keep_warm);
    // SAFETY: `c` is initialised (it comes as `&mut [f32]`) and the kernel writes only values.
    let c = unsafe { crate::memory::as_uninit(c) };
    let kc_max = k.div_ceil(k.div_ceil(KC));
    crate::scratch::with_scratch(round_up(NC.min(n), nr) * kc_max, |b_pack: &mut [f32]| {
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let min_len = if parallel { 1 } else { usize::MAX };
                let bp = &mut b_pack[..round_up(nc, nr) * kc];
                super::pack::pack_b(bp, b, (pc, kc), (jc, nc), nr, min_len);
                let bp = &*bp;
                c.par_chunks_mut(mr * n).with_min_len(min_len).enumerate().for_each(|(blk, c_rows)| {
                    let (ir, rows) = (blk * mr, c_rows.len() / n);
                    let mut starts = [0usize; 16];
                    for (s, &r) in starts.iter_mut().zip(&a_rows[ir..ir + rows]) {
                        *s = r + pc;
                    }
                    let overwrite = pc == 0 && !accumulate;
                    let out = TileOut { c: &mut c_rows[jc..], ldc: n, rows, cols: nc, overwrite, bias: None };
                    run(kc, (a_data, &starts[..rows]), bp, out);
                });
            }
        }
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against `gemm` of the same B written out: the same bits, with A row-major (read in place,
    /// as the convolution's weights are), several depth slices, rows not a multiple of the tile.
    #[test]
    fn gathered_equals_gemm_of_the_stored_matrix() {
        if !gathered_available() {
            return; // nothing to compare on this CPU: the caller falls back to im2col
        }
        for (m, k, slivers, d1) in
            [(13usize, 700usize, 3usize, 16usize), (8, 9, 1, 40), (3, 1100, 2, 16), (64, 576, 4, 18)]
        {
            let data: Vec<f32> =
                (0..k * 3 + slivers * 50 + d1 + 64).map(|i| ((i * 7919) % 1013) as f32 * 1e-2 - 5.0).collect();
            let offs: Vec<usize> = (0..k).map(|p| (p * 37) % (k + 11)).collect();
            let starts: Vec<usize> = (0..slivers).map(|s| s * 50).collect();
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 104_729) % 997) as f32 * 1e-2 - 4.9).collect();
            let n = 32 * slivers;
            // B written out: column 32s + j of row p.
            let mut b = vec![0f32; k * n];
            for p in 0..k {
                for (s, &st) in starts.iter().enumerate() {
                    for j in 0..32 {
                        let at = st + offs[p] + if j < 16 { j } else { d1 + j - 16 };
                        b[p * n + 32 * s + j] = data[at];
                    }
                }
            }
            let am = MatRef { data: &a, offset: 0, row_stride: k, col_stride: 1 };
            let mut want = vec![0f32; m * n];
            super::super::gemm(
                m,
                n,
                k,
                am,
                MatRef { data: &b, offset: 0, row_stride: n, col_stride: 1 },
                &mut want,
                false,
            );
            let mut got = vec![MaybeUninit::new(f32::NAN); m * n];
            assert!(gemm_gathered(
                m,
                k,
                am,
                Gathered { data: &data, offs: &offs, starts: &starts, d1 },
                &mut got,
                false
            ));
            // Split over threads by row blocks: the same bits.
            let mut split = vec![MaybeUninit::new(f32::NAN); m * n];
            assert!(gemm_gathered(
                m,
                k,
                am,
                Gathered { data: &data, offs: &offs, starts: &starts, d1 },
                &mut split,
                true
            ));
            // SAFETY: written in full (returned true).
            let split: Vec<u32> = split.iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect();
            // SAFETY: gemm_gathered wrote every element (it returned true).
            let got: Vec<u32> = got.iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "m {m} k {k} slivers {slivers} d1 {d1}");
            assert_eq!(split, want, "m {m} k {k} slivers {slivers} d1 {d1}, split");
        }
    }

    /// Against `gemm` of the same A written out: the same bits, over several depth slices and
    /// panels, B transposed (packed by interleaving), stored and accumulated.
    #[test]
    fn row_table_equals_gemm_of_the_stored_matrix() {
        if !row_table_available() {
            return; // nothing to compare on this CPU: the caller falls back
        }
        for (m, n, k) in [(13usize, 40usize, 700usize), (8, 600, 9), (27, 24, 1100), (3, 1, 5)] {
            let data: Vec<f32> = (0..3 * k + 40 * m + 64).map(|i| ((i * 7919) % 1013) as f32 * 1e-2 - 5.0).collect();
            let rows: Vec<usize> = (0..m).map(|i| (i * 37) % (2 * k + 7)).collect();
            let a: Vec<f32> = rows.iter().flat_map(|&r| data[r..r + k].to_vec()).collect();
            let bt: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 997) as f32 * 1e-2 - 4.9).collect();
            // B [k × n] read transposed from a row-major [n × k] buffer.
            let b = MatRef { data: &bt, offset: 0, row_stride: 1, col_stride: k };
            for accumulate in [false, true] {
                let mut want: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.5).collect();
                let mut got = want.clone();
                let am = MatRef { data: &a, offset: 0, row_stride: k, col_stride: 1 };
                super::super::gemm(m, n, k, am, b, &mut want, accumulate);
                let mut split = got.clone();
                assert!(gemm_row_table(n, k, (&data, &rows), Operand::Strided(b), &mut got, (accumulate, false)));
                assert!(gemm_row_table(n, k, (&data, &rows), Operand::Strided(b), &mut split, (accumulate, true)));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
                assert_eq!(bits(&got), bits(&want), "m {m} n {n} k {k} accumulate {accumulate}");
                assert_eq!(bits(&split), bits(&want), "m {m} n {n} k {k} accumulate {accumulate}, split");
            }
        }
    }

    #[test]
    #[should_panic(expected = "A outside its slice")]
    fn row_table_reads_are_bounds_checked() {
        if !row_table_available() {
            panic!("A outside its slice"); // the same outcome on CPUs without the kernel
        }
        let (data, b) = (vec![0f32; 100], vec![0f32; 10 * 32]);
        let bm = MatRef { data: &b, offset: 0, row_stride: 32, col_stride: 1 };
        // Row start 95 + k 10 > 100.
        gemm_row_table(32, 10, (&data, &[0, 95]), Operand::Strided(bm), &mut vec![0f32; 64], (false, false));
    }

    #[test]
    #[should_panic(expected = "gathered B outside its slice")]
    fn gathered_reads_are_bounds_checked() {
        if !gathered_available() {
            panic!("gathered B outside its slice"); // the same outcome on CPUs without the kernel
        }
        let data = vec![0f32; 100];
        let a = vec![1f32; 8 * 2];
        let mut c = vec![MaybeUninit::new(0f32); 8 * 32];
        let am = MatRef { data: &a, offset: 0, row_stride: 2, col_stride: 1 };
        // offset 60 + start 10 + d1 16 + 16 = 102 > 100
        gemm_gathered(8, 2, am, Gathered { data: &data, offs: &[0, 60], starts: &[10], d1: 16 }, &mut c, false);
    }
}
