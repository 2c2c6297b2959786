//! Scatter plots of 2-D points as PNG: a white square, light grey axes through the origin when it
//! is in view, and each point as a small translucent disc, so dense regions look darker.
use super::RgbImage;
use crate::error::{Error, Result};
use std::path::Path;

/// How [`scatter_image`] draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScatterOptions {
    /// Width and height of the square image in pixels.
    pub size: usize,
    /// The visible box `[x_min, x_max, y_min, y_max]`; `None` fits the finite points with a 5%
    /// border, keeping both axes at the same scale.
    pub bounds: Option<[f64; 4]>,
    /// Disc radius in pixels (0 draws single pixels).
    pub radius: usize,
    /// Dot colour.
    pub color: [u8; 3],
    /// Opacity of one dot in (0, 1].
    pub alpha: f64,
}

impl Default for ScatterOptions {
    fn default() -> Self {
        ScatterOptions { size: 512, bounds: None, radius: 1, color: [31, 119, 180], alpha: 0.5 }
    }
}

/// The square box (equal scales) around the finite points, with a 5% border; [−1, 1]² if none.
pub fn auto_bounds(points: &[[f64; 2]]) -> [f64; 4] {
    let finite = points.iter().filter(|p| p[0].is_finite() && p[1].is_finite());
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in finite {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    if !lo[0].is_finite() {
        return [-1.0, 1.0, -1.0, 1.0];
    }
    let c = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let half = ((hi[0] - lo[0]).max(hi[1] - lo[1]) / 2.0 * 1.05).max(1e-9 * (1.0 + c[0].abs().max(c[1].abs())));
    [c[0] - half, c[0] + half, c[1] - half, c[1] + half]
}

/// Draws the points (non-finite ones and those outside the box are skipped).
pub fn scatter_image(points: &[[f64; 2]], opts: &ScatterOptions) -> Result<RgbImage> {
    let op = "scatter_image";
    if !(8..=4096).contains(&opts.size) || opts.radius > 64 || !(opts.alpha > 0.0 && opts.alpha <= 1.0) {
        return Err(Error::invalid(
            op,
            format!(
                "need 8 ≤ size ≤ 4096, radius ≤ 64, 0 < alpha ≤ 1; got {}, {}, {}",
                opts.size, opts.radius, opts.alpha
            ),
        ));
    }
    let [x0, x1, y0, y1] = opts.bounds.unwrap_or_else(|| auto_bounds(points));
    if !([x0, x1, y0, y1].iter().all(|v| v.is_finite()) && x1 > x0 && y1 > y0) {
        return Err(Error::invalid(op, format!("bounds [{x0}, {x1}, {y0}, {y1}] must be finite with min < max")));
    }
    let s = opts.size;
    let mut img = RgbImage::filled(s, s, [255, 255, 255]);
    // Pixel column of x and row of y (row 0 at the top, so y grows upwards on screen).
    let col = |x: f64| ((x - x0) / (x1 - x0) * s as f64).floor();
    let row = |y: f64| ((y1 - y) / (y1 - y0) * s as f64).floor();
    let axis = [220u8, 220, 220];
    let (c0, r0) = (col(0.0), row(0.0));
    for i in 0..s {
        if (0.0..s as f64).contains(&c0) {
            img.data[(i * s + c0 as usize) * 3..][..3].copy_from_slice(&axis);
        }
        if (0.0..s as f64).contains(&r0) {
            img.data[(r0 as usize * s + i) * 3..][..3].copy_from_slice(&axis);
        }
    }
    let r = opts.radius as i64;
    for p in points {
        let (c, rw) = (col(p[0]), row(p[1]));
        if !(c.is_finite() && rw.is_finite())
            || c < -(r as f64)
            || rw < -(r as f64)
            || c >= (s as i64 + r) as f64
            || rw >= (s as i64 + r) as f64
        {
            continue;
        }
        let (c, rw) = (c as i64, rw as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                let (x, y) = (c + dx, rw + dy);
                if dx * dx + dy * dy > r * r || x < 0 || y < 0 || x >= s as i64 || y >= s as i64 {
                    continue;
                }
                let px = &mut img.data[(y as usize * s + x as usize) * 3..][..3];
                for (v, c) in px.iter_mut().zip(opts.color) {
                    *v = (*v as f64 * (1.0 - opts.alpha) + c as f64 * opts.alpha).round() as u8;
                }
            }
        }
    }
    Ok(img)
}

/// Writes a scatter plot of `points` as a PNG file.
pub fn write_scatter_png(path: impl AsRef<Path>, points: &[[f64; 2]], opts: &ScatterOptions) -> Result<()> {
    scatter_image(points, opts)?.save_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_land_where_expected_and_background_is_white() {
        let opts = ScatterOptions {
            size: 10,
            bounds: Some([0.0, 10.0, 0.0, 10.0]),
            radius: 0,
            alpha: 1.0,
            ..Default::default()
        };
        let img = scatter_image(&[[2.5, 7.5], [f64::NAN, 1.0], [50.0, 50.0]], &opts).unwrap();
        let px = |x: usize, y: usize| img.data[(y * 10 + x) * 3..][..3].to_vec();
        assert_eq!(px(2, 2), opts.color.to_vec()); // x = 2.5 → column 2; y = 7.5 → row 2 from the top
        assert_eq!(px(5, 5), vec![255, 255, 255]);
        assert_eq!(img.data.chunks(3).filter(|p| p == &opts.color).count(), 1);
        assert_eq!(px(0, 5), vec![220, 220, 220]); // the y axis runs along column 0
    }

    #[test]
    fn auto_bounds_are_square_and_cover_the_points() {
        let b = auto_bounds(&[[0.0, 0.0], [4.0, 1.0], [f64::INFINITY, 0.0]]);
        assert!((b[1] - b[0] - (b[3] - b[2])).abs() < 1e-12);
        assert!(b[0] < 0.0 && b[1] > 4.0 && b[2] < 0.0 && b[3] > 1.0);
        assert_eq!(auto_bounds(&[]), [-1.0, 1.0, -1.0, 1.0]);
        let one = auto_bounds(&[[3.0, 3.0]]);
        assert!(one[1] > one[0]);
        let img = scatter_image(&[[1.0, 1.0]], &ScatterOptions::default()).unwrap();
        assert_eq!((img.width, img.height), (512, 512));
        assert!(img.data.chunks(3).any(|p| p != [255, 255, 255]));
    }

    #[test]
    fn bad_options_are_errors() {
        let o = ScatterOptions { bounds: Some([1.0, 0.0, 0.0, 1.0]), ..Default::default() };
        assert!(scatter_image(&[], &o).is_err());
        assert!(scatter_image(&[], &ScatterOptions { size: 0, ..Default::default() }).is_err());
        assert!(scatter_image(&[], &ScatterOptions { alpha: 0.0, ..Default::default() }).is_err());
    }
}
