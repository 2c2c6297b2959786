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
//! The sums are those of [`super::gemm`] with the same blocking: depth slices of
//! `k.div_ceil(k.div_ceil(KC))`, each a fresh sum over increasing `p` by the same AVX-512
//! kernel, stored (first slice) or added to C. So the result is the same bits as `gemm` of A and
//! the stored B (the im2col matrix) on the same CPU.
use super::{MatRef, TileOut, KC};
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
    super::simd::gathered_f32_kernel().is_some()
}

/// `c [m × n] = a [m × k] · B` with `n = 32·b.starts.len()`, `c` row-major with row length `n`
/// (written in full, may start uninitialised), B gathered as the module docs say. Runs on the
/// calling thread. Returns false, writing nothing, when the CPU lacks the kernel.
///
/// # Panics
/// If `b.offs.len() != k`, `c` is shorter than `m·n`, or any read of A or B falls outside its
/// slice.
pub fn gemm_gathered(m: usize, k: usize, a: MatRef<f32>, b: Gathered, c: &mut [MaybeUninit<f32>]) -> bool {
    let Some((mr, run)) = super::simd::gathered_f32_kernel() else { return false };
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
    // The same depth slices as the blocked GEMM (see there).
    let kc_max = k.div_ceil(k.div_ceil(KC));
    for pc in (0..k).step_by(kc_max) {
        let kc = kc_max.min(k - pc);
        let offs = &b.offs[pc..pc + kc];
        for ir in (0..m).step_by(mr) {
            let rows = mr.min(m - ir);
            let a_sliver = a.at(ir, pc);
            for (s, &start) in b.starts.iter().enumerate() {
                // The first slice overwrites, so every element is initialised when later slices add.
                let out = TileOut { c: &mut c[ir * n + 32 * s..], ldc: n, rows, cols: 32, overwrite: pc == 0 };
                run(kc, a_sliver, (b.data, offs, start, b.d1), out);
            }
        }
    }
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
            assert!(gemm_gathered(m, k, am, Gathered { data: &data, offs: &offs, starts: &starts, d1 }, &mut got));
            // SAFETY: gemm_gathered wrote every element (it returned true).
            let got: Vec<u32> = got.iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect();
            let want: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "m {m} k {k} slivers {slivers} d1 {d1}");
        }
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
        gemm_gathered(8, 2, am, Gathered { data: &data, offs: &[0, 60], starts: &[10], d1: 16 }, &mut c);
    }
}
