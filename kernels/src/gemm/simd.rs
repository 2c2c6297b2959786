//! Hand-written micro-kernels for f32 on x86-64 (AVX2 + FMA), chosen at run time.
//!
//! The tile is `MR × NR = 6 × 16`: twelve 8-lane accumulators (6 rows × two 8-wide halves),
//! two registers for the current B row and one for the broadcast A element — 15 of the 16 ymm
//! registers. Each step of `p` does 12 fused multiply-adds on 6 + 16 packed values.
//!
//! Summation order per element is the same as the portable kernel (p in increasing order from
//! zero), but FMA rounds once where `a*b + c` rounds twice, so results differ in the last bits
//! from the portable kernel; on one machine they never depend on the thread count.
use super::{MR, NR};
use std::sync::OnceLock;

/// Whether this CPU runs the AVX2+FMA kernel (detected once).
pub fn has_avx2_fma() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// `Σ_p a[p*MR + i] · b[p*NR + j]` for the 6×16 tile, with AVX2 + FMA.
/// Returns `None` when the CPU lacks the instructions (the caller falls back).
pub fn micro_kernel_f32(kc: usize, a: &[f32], b: &[f32]) -> Option<[[f32; NR]; MR]> {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            assert!(a.len() >= kc * MR && b.len() >= kc * NR, "packed slivers too short");
            // SAFETY: the CPU supports AVX2 and FMA (checked above), and the assert guarantees
            // that every load below (a[p*MR + 0..6], b[p*NR + 0..16] for p < kc) is in bounds.
            return Some(unsafe { x86::kernel_6x16(kc, a.as_ptr(), b.as_ptr()) });
        }
    }
    let _ = (kc, a, b);
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    const _: () = assert!(MR == 6 && NR == 16, "the AVX2 kernel is written for a 6×16 tile");

    /// # Safety
    /// The CPU must support AVX2 and FMA; `a` must be valid for `kc*6` reads and `b` for `kc*16`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel_6x16(kc: usize, a: *const f32, b: *const f32) -> [[f32; NR]; MR] {
        let mut c = [_mm256_setzero_ps(); 12];
        for p in 0..kc {
            // SAFETY (whole block): p < kc, so b[p*16 .. p*16+16] and a[p*6 .. p*6+6] are in bounds
            // per this function's contract; unaligned loads/broadcasts need no alignment.
            unsafe {
                let bp = b.add(p * NR);
                let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
                let ap = a.add(p * MR);
                for i in 0..MR {
                    let ai = _mm256_broadcast_ss(&*ap.add(i));
                    c[2 * i] = _mm256_fmadd_ps(ai, b0, c[2 * i]);
                    c[2 * i + 1] = _mm256_fmadd_ps(ai, b1, c[2 * i + 1]);
                }
            }
        }
        let mut out = [[0f32; NR]; MR];
        for (i, row) in out.iter_mut().enumerate() {
            // SAFETY: `row` is 16 contiguous f32; each store writes 8 of them.
            unsafe {
                _mm256_storeu_ps(row.as_mut_ptr(), c[2 * i]);
                _mm256_storeu_ps(row.as_mut_ptr().add(8), c[2 * i + 1]);
            }
        }
        out
    }
}
