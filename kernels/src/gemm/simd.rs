//! Hand-written f32 micro-kernels for x86-64, chosen at run time:
//!
//! - **AVX-512F, 8 × 32 tile:** sixteen 16-lane accumulators (8 rows × two halves), two registers
//!   for the B row, one broadcast; on CPUs with two 512-bit FMA units this doubles the AVX2 rate.
//! - **AVX2 + FMA, 6 × 16 tile:** twelve 8-lane accumulators, two for B, one broadcast (15 of
//!   the 16 ymm registers).
//!
//! Both sum each element over `p` in increasing order from zero, like the portable kernel, but
//! fused multiply-add rounds once where `a*b + c` rounds twice, so the last bits differ between
//! kernels. The kernel depends only on the CPU, so on one machine results never depend on the
//! thread count.
use std::sync::OnceLock;

/// A kernel as the GEMM driver calls it: `(kc, a sliver, b sliver, tile)`.
pub type KernelFn = fn(usize, &[f32], &[f32], &mut [f32]);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Avx512,
    Avx2Fma,
    Portable,
}

fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Isa::Avx2Fma;
            }
        }
        Isa::Portable
    })
}

/// Whether this CPU runs the AVX2+FMA (or better) kernel.
pub fn has_avx2_fma() -> bool {
    isa() != Isa::Portable
}

/// Whether this CPU runs the AVX-512 kernel.
pub fn has_avx512() -> bool {
    isa() == Isa::Avx512
}

/// `(mr, nr, kernel)` of the fastest f32 kernel this CPU supports, `None` for the portable one.
pub fn best_f32_kernel() -> Option<(usize, usize, KernelFn)> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some((8, 32, x86::run_8x32)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => Some((6, 16, x86::run_6x16)),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The 6×16 AVX2 kernel behind a safe signature. Only [`super::best_f32_kernel`] hands it
    /// out, and only after detecting AVX2 and FMA.
    pub fn run_6x16(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32]) {
        assert!(a.len() >= kc * 6 && b.len() >= kc * 16 && tile.len() >= 96, "packed slivers too short");
        // SAFETY: the CPU supports AVX2+FMA (this function is only reachable after detection),
        // and the assert guarantees every access of the kernel is in bounds.
        unsafe { kernel_6x16(kc, a.as_ptr(), b.as_ptr(), tile.as_mut_ptr()) }
    }

    /// The 8×32 AVX-512 kernel behind a safe signature (handed out only after detecting AVX-512F).
    pub fn run_8x32(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32]) {
        assert!(a.len() >= kc * 8 && b.len() >= kc * 32 && tile.len() >= 256, "packed slivers too short");
        // SAFETY: the CPU supports AVX-512F (only reachable after detection), and the assert
        // guarantees every access of the kernel is in bounds.
        unsafe { kernel_8x32(kc, a.as_ptr(), b.as_ptr(), tile.as_mut_ptr()) }
    }

    /// # Safety
    /// AVX2 and FMA must be available; `a` valid for `kc*6` reads, `b` for `kc*16`, `tile` for 96 writes.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel_6x16(kc: usize, a: *const f32, b: *const f32, tile: *mut f32) {
        let mut c = [_mm256_setzero_ps(); 12];
        for p in 0..kc {
            // SAFETY: p < kc, so b[p*16..p*16+16] and a[p*6..p*6+6] are in bounds (contract).
            unsafe {
                let bp = b.add(p * 16);
                let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
                let ap = a.add(p * 6);
                for i in 0..6 {
                    let ai = _mm256_broadcast_ss(&*ap.add(i));
                    c[2 * i] = _mm256_fmadd_ps(ai, b0, c[2 * i]);
                    c[2 * i + 1] = _mm256_fmadd_ps(ai, b1, c[2 * i + 1]);
                }
            }
        }
        for i in 0..6 {
            // SAFETY: tile has 96 elements; row i occupies 16 of them.
            unsafe {
                _mm256_storeu_ps(tile.add(i * 16), c[2 * i]);
                _mm256_storeu_ps(tile.add(i * 16 + 8), c[2 * i + 1]);
            }
        }
    }

    /// # Safety
    /// AVX-512F must be available; `a` valid for `kc*8` reads, `b` for `kc*32`, `tile` for 256 writes.
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel_8x32(kc: usize, a: *const f32, b: *const f32, tile: *mut f32) {
        let mut c = [_mm512_setzero_ps(); 16];
        for p in 0..kc {
            // SAFETY: p < kc, so b[p*32..p*32+32] and a[p*8..p*8+8] are in bounds (contract).
            unsafe {
                let bp = b.add(p * 32);
                let (b0, b1) = (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)));
                let ap = a.add(p * 8);
                for i in 0..8 {
                    let ai = _mm512_set1_ps(*ap.add(i));
                    c[2 * i] = _mm512_fmadd_ps(ai, b0, c[2 * i]);
                    c[2 * i + 1] = _mm512_fmadd_ps(ai, b1, c[2 * i + 1]);
                }
            }
        }
        for i in 0..8 {
            // SAFETY: tile has 256 elements; row i occupies 32 of them.
            unsafe {
                _mm512_storeu_ps(tile.add(i * 32), c[2 * i]);
                _mm512_storeu_ps(tile.add(i * 32 + 16), c[2 * i + 1]);
            }
        }
    }
}
