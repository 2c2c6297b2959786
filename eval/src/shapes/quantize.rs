//! Step 1 of the parser: palette quantisation robust to anti-aliasing.
//!
//! An anti-aliased edge pixel is a blend `B + α·(C − B)` of one palette colour C with the
//! background B, and its nearest palette entry may be a *different* colour (half-covered yellow
//! lies nearer to red than to yellow). So each pixel p is fitted on every segment from B to a
//! palette colour C:
//!
//! ```text
//! α_C = clamp(⟨p − B, C − B⟩ / ‖C − B‖², 0, 1)     residual_C = ‖p − B − α_C·(C − B)‖
//! ```
//!
//! The colour with the smallest residual wins. A pixel is that colour when α ≥ 0.5 (more than half
//! covered) and background otherwise; a residual above τ_pal makes it off-palette (no component,
//! counted as a reward-hacking monitor). Values are taken in [0, 1] RGB, i.e. (v + 1)/2.

use data::shapes::{background_value, Colour};

/// Label of a background pixel.
pub const BACKGROUND: u8 = 0;
/// Label of an off-palette pixel. Colour `c` has label `c.index() + 1`.
pub const OFF_PALETTE: u8 = u8::MAX;

/// Per-pixel labels of one image, row-major [H, W].
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub height: usize,
    pub width: usize,
    /// [`BACKGROUND`], `colour.index() + 1`, or [`OFF_PALETTE`].
    pub labels: Vec<u8>,
    /// Best-fitting colour of every pixel, `colour.index() + 1`, also where the pixel is
    /// background (α < coverage); [`OFF_PALETTE`] where no segment fits.
    pub best: Vec<u8>,
    /// Fitted coverage α ∈ [0, 1] of the best colour (0 where off-palette).
    pub alpha: Vec<f32>,
    /// Fraction of pixels farther than τ_pal from every background–colour segment.
    pub off_palette_fraction: f64,
}

/// Quantises a CHW image with values in [−1, 1] (`image.len() == 3·height·width`, checked by
/// the caller). `tau` is the off-palette residual threshold in [0, 1] RGB units; `coverage` the
/// α above which a pixel belongs to its colour.
pub fn quantize(image: &[f32], height: usize, width: usize, tau: f64, coverage: f64) -> Quantized {
    let plane = height * width;
    let unit = |v: f32| (v as f64 + 1.0) / 2.0;
    let bg = background_value().map(unit);
    // Segment directions e_C = C − B and their squared norms.
    let dirs: Vec<([f64; 3], f64)> = Colour::ALL
        .iter()
        .map(|c| {
            let v = c.value().map(unit);
            let e = [v[0] - bg[0], v[1] - bg[1], v[2] - bg[2]];
            (e, e.iter().map(|x| x * x).sum())
        })
        .collect();
    let mut labels = vec![BACKGROUND; plane];
    let mut best_colour = vec![OFF_PALETTE; plane];
    let mut coverage_of = vec![0f32; plane];
    let mut off = 0usize;
    for (i, label) in labels.iter_mut().enumerate() {
        let d = [unit(image[i]) - bg[0], unit(image[plane + i]) - bg[1], unit(image[2 * plane + i]) - bg[2]];
        let mut best = (f64::INFINITY, 0.0, 0usize); // (residual², α, colour index)
        for (k, (e, ee)) in dirs.iter().enumerate() {
            let alpha = ((d[0] * e[0] + d[1] * e[1] + d[2] * e[2]) / ee).clamp(0.0, 1.0);
            let r2: f64 = (0..3).map(|j| (d[j] - alpha * e[j]).powi(2)).sum();
            if r2 < best.0 {
                best = (r2, alpha, k);
            }
        }
        let (r2, alpha, k) = best;
        if r2.is_nan() || r2 > tau * tau {
            off += 1;
            *label = OFF_PALETTE;
            continue;
        }
        best_colour[i] = k as u8 + 1;
        coverage_of[i] = alpha as f32;
        *label = if alpha >= coverage { k as u8 + 1 } else { BACKGROUND };
    }
    Quantized {
        height,
        width,
        labels,
        best: best_colour,
        alpha: coverage_of,
        off_palette_fraction: off as f64 / plane.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blends_with_the_background_keep_their_colour() {
        let bg = background_value();
        for c in Colour::ALL {
            let v = c.value();
            for (alpha, want) in [(0.3f32, BACKGROUND), (0.6, c.index() as u8 + 1), (1.0, c.index() as u8 + 1)] {
                let px: Vec<f32> = (0..3).map(|j| bg[j] + alpha * (v[j] - bg[j])).collect();
                let q = quantize(&px, 1, 1, 0.25, 0.5);
                assert_eq!(q.labels[0], want, "{c:?} at α = {alpha}");
            }
        }
        // Saturated magenta is on no segment.
        let q = quantize(&[0.9, -0.9, 0.9], 1, 1, 0.25, 0.5);
        assert_eq!((q.labels[0], q.off_palette_fraction), (OFF_PALETTE, 1.0));
        let q = quantize(&[f32::NAN, 0.0, 0.0], 1, 1, 0.25, 0.5);
        assert_eq!(q.labels[0], OFF_PALETTE);
    }
}
