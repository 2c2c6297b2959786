//! Hand-written f32 micro-kernels for x86-64, chosen at run time:
//!
//! - **AVX-512F, 8 × 32 tile** (12 × 32 from 96 rows on): sixteen 16-lane accumulators (8 rows ×
//!   two halves), two registers for the B row, one broadcast; on CPUs with two 512-bit FMA units
//!   this doubles the AVX2 rate. The same loop reads B packed, gathered from an image
//!   (`gemm::gather`) or in place (`gemm::in_place`), and A in place or from a table of rows.
//! - **AVX-512F, 6 × 64 tile** for a small row-major B read in place (attention's blocks):
//!   24 accumulators per B row of four registers, and a stream of the next product's lines to
//!   fetch on the way (`gemm::in_place::Ahead`).
//! - **AVX2 + FMA, 6 × 16 tile:** twelve 8-lane accumulators, two for B, one broadcast (15 of
//!   the 16 ymm registers).
//!
//! All sum each element over `p` in increasing order from zero, like the portable kernel, but
//! fused multiply-add rounds once where `a*b + c` rounds twice, so the last bits differ between
//! the portable and the hand-written kernels (the AVX-512 tiles agree with each other bit for
//! bit). The kernel depends only on the CPU, so on one machine results never depend on the
//! thread count.
use super::{MatRef, TileOut};
use std::sync::OnceLock;

/// A kernel as the GEMM driver calls it: `(kc, A sliver, packed B panel, where the tiles go)`.
pub type KernelFn = fn(usize, MatRef<f32>, &[f32], TileOut<f32>);

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

/// Rows of the AVX-512 kernel's tile.
const AVX512_MR: usize = 8;
/// Most rows any hand-written kernel's tile has.
const MAX_MR: usize = 14;
/// How many `p` steps ahead the AVX-512 kernel asks for B's cache lines.
const B_PREFETCH: usize = 16;
/// How many `p` steps ahead the kernels ask for the lines of an A read in place.
const A_PREFETCH: usize = 8;

/// Rows of the AVX-512 blocked GEMM's tile for products of at least [`TALL_MIN_ROWS`] rows: 24
/// accumulators reuse each B row loaded 12 times, not 8 (sq1024 at 1 thread 150-161 → 155-165
/// GFLOP/s, conv 16384×64×288 124-141 → 145-149). Every element is the same sum in the same
/// order whatever the tile's height, so the choice never changes a result.
const AVX512_TALL_MR: usize = 12;
/// Fewest rows for [`AVX512_TALL_MR`]; shorter products (attention's 64-row blocks) keep 8-row
/// tiles, which they fill exactly.
const TALL_MIN_ROWS: usize = 96;

/// `(mr, nr, kernel)` of the fastest f32 kernel this CPU supports for products of `m` rows,
/// `None` for the portable one.
pub fn best_f32_kernel(m: usize) -> Option<(usize, usize, KernelFn)> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if m >= TALL_MIN_ROWS => Some((AVX512_TALL_MR, 32, x86::run_avx512::<AVX512_TALL_MR>)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some((AVX512_MR, 32, x86::run_avx512::<AVX512_MR>)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => Some((6, 16, x86::run_6x16)),
        _ => None,
    }
}

/// The row offsets of a gathered B with their largest value, found once when made (the fields
/// are private to this module, so the kernel can rely on `max` in its bounds check instead of
/// scanning the offsets on every tile).
pub struct GatherOffsets<'a> {
    offs: &'a [usize],
    max: usize,
}

impl<'a> GatherOffsets<'a> {
    pub fn new(offs: &'a [usize]) -> Self {
        GatherOffsets { offs, max: offs.iter().copied().max().unwrap_or(0) }
    }
}

/// The gathered-B AVX-512 tile kernel (`gemm::gather`) for products of `m` rows (tile heights
/// as [`best_f32_kernel`]), `None` on CPUs without AVX-512F.
#[allow(clippy::type_complexity)]
pub fn gathered_f32_kernel(
    m: usize,
) -> Option<(usize, fn(usize, MatRef<f32>, (&[f32], &GatherOffsets, usize, usize), TileOut<f32>))> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if m >= TALL_MIN_ROWS => Some((AVX512_TALL_MR, x86::run_avx512_gathered::<AVX512_TALL_MR>)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some((AVX512_MR, x86::run_avx512_gathered::<AVX512_MR>)),
        _ => None,
    }
}

/// The in-place-B AVX-512 kernel (`gemm::in_place::gemm_b_in_place`): `(mr, kernel)`, `None` on
/// CPUs without AVX-512F.
#[allow(clippy::type_complexity)]
pub fn b_in_place_f32_kernel() -> Option<(usize, fn(usize, MatRef<f32>, MatRef<f32>, TileOut<f32>))> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some((AVX512_MR, x86::run_avx512_b_in_place::<AVX512_MR>)),
        _ => None,
    }
}

/// Rows of the 64-column in-place-B kernel's tile (24 accumulators).
const WIDE_MR: usize = 6;

/// Cache lines for a kernel to fetch into L2 while it computes (`gemm::in_place::Ahead`):
/// `count` lines of 64 bytes from `start`. Only an address, never read through, so any value
/// is safe.
#[derive(Clone, Copy, Debug)]
pub struct Prefetch {
    start: usize,
    count: usize,
}

impl Prefetch {
    pub const NONE: Prefetch = Prefetch { start: 0, count: 0 };

    pub fn lines(start: *const u8, count: usize) -> Self {
        Prefetch { start: start as usize, count }
    }

    /// The first `count` lines of this stream, and the rest.
    fn split(self, count: usize) -> (Prefetch, Prefetch) {
        let count = count.min(self.count);
        let rest = Prefetch { start: self.start.wrapping_add(64 * count), count: self.count - count };
        (Prefetch { count, ..self }, rest)
    }
}

#[cfg(test)]
impl Prefetch {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The first line's address.
    pub fn start(&self) -> usize {
        self.start
    }
}

/// The 64-column in-place-B AVX-512 kernel (`gemm::in_place`) for products of `m` rows:
/// `(mr, kernel)`; `None` on CPUs without AVX-512F and for `m` up to the 32-column kernel's
/// tile height (one sliver of that kernel reads B once).
#[allow(clippy::type_complexity)]
pub fn b_in_place_64_f32_kernel(
    m: usize,
) -> Option<(usize, fn(usize, MatRef<f32>, MatRef<f32>, TileOut<f32>, Prefetch))> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if m > AVX512_MR => Some((WIDE_MR, x86::run_avx512_b_in_place_64::<WIDE_MR>)),
        _ => None,
    }
}

/// The row-table AVX-512 kernel (`gemm::gather::gemm_row_table`) for products of `m` rows:
/// `(mr, nr, kernel)` (tile heights as [`best_f32_kernel`]), `None` on CPUs without AVX-512F.
#[allow(clippy::type_complexity)]
pub fn row_table_f32_kernel(m: usize) -> Option<(usize, usize, fn(usize, (&[f32], &[usize]), &[f32], TileOut<f32>))> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if m >= TALL_MIN_ROWS => Some((AVX512_TALL_MR, 32, x86::run_avx512_row_table::<AVX512_TALL_MR>)),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some((AVX512_MR, 32, x86::run_avx512_row_table::<AVX512_MR>)),
        _ => None,
    }
}

/// Every hand-written kernel this CPU can run, `(mr, nr, kernel)`: what the tests check each of
/// (the driver only ever uses the best one).
#[cfg(test)]
pub fn supported_f32_kernels() -> Vec<(usize, usize, KernelFn)> {
    let mut all: Vec<(usize, usize, KernelFn)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if isa() == Isa::Avx512 {
            all.push((8, 32, x86::run_avx512::<8>));
            all.push((12, 32, x86::run_avx512::<12>));
            all.push((14, 32, x86::run_avx512::<14>));
        }
        if isa() != Isa::Portable {
            all.push((6, 16, x86::run_6x16));
        }
    }
    all
}

#[cfg(target_arch = "x86_64")]
mod x86;
