//! Step 4 of the parser: a shape class from a component's geometry.
//!
//! Shapes are axis-aligned in a square box, so two scale-free measurements separate them:
//! - **fill** = area / (width × height) — ideal circle π/4 ≈ 0.785, square 1.0, triangle 0.5,
//!   cross 5/9 ≈ 0.556;
//! - **vertical skewness** of the mass — 0 for the symmetric circle, square and cross; about
//!   −0.57 for the apex-up triangle (its mass sits low, with a tail towards the apex). This is the
//!   robust form of "the triangle's centroid lies below its box centre", and it is what tells
//!   the triangle from the cross, whose fills are close.
//!
//! Both are measured *softly*, from the fitted coverage α of the component and its anti-aliased
//! fringe (see [`super::components::SoftProfile`]): width and height are the largest row and
//! column sums of α. Thresholding at α = 0.5 first would lose the sub-pixel information; with it,
//! a small circle at 24×24 (7 px across) still measures 0.77–0.83 rather than looking square.
//!
//! Measured on ~7,400 objects of ground-truth renders per resolution (small and large sizes):
//!
//! | side | circle fill | square fill | triangle fill | cross fill | triangle skew_y | others' \|skew\| |
//! |---|---|---|---|---|---|---|
//! | 24 | 0.76–0.83 | 1.00 | 0.55–0.71 | 0.52–0.59 | −0.62…−0.51 | ≤ 0.13 |
//! | 32 | 0.76–0.81 | 1.00 | 0.54–0.64 | 0.53–0.57 | −0.60…−0.52 | ≤ 0.09 |
//! | 64 | 0.78–0.80 | 1.00 | 0.52–0.56 | 0.54–0.57 | −0.57…−0.55 | ≤ 0.04 |
//!
//! The thresholds below sit in the middle of these gaps. A component that fits no shape (an
//! elongated or lopsided blob, as generated images may hold) is left unclassified rather than
//! forced into a class.

use super::components::Component;
use data::shapes::Shape;

/// The measurements of a component that the classifier uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features {
    /// Soft fill: Σα / (widest row × tallest column).
    pub fill: f64,
    /// Soft aspect: widest row / tallest column, in image-side units (1 for every shape).
    pub aspect: f64,
    /// Skewness of the α mass along x (≈ 0 for every shape of the world).
    pub skew_x: f64,
    /// Skewness of the α mass along y, y down (≈ −0.57 for the triangle, 0 for the others).
    pub skew_y: f64,
    /// The larger of width / image width and height / image height: 0.30 or 0.42 for the
    /// world's two sizes.
    pub extent: f64,
}

/// Measures a component of an image of `height`×`width` pixels. Sizes are taken relative to
/// the image, so a stretched (non-square) render still measures an aspect of 1.
pub fn features(c: &Component, height: usize, width: usize) -> Features {
    let s = &c.soft;
    let (w, h) = (s.max_row / width.max(1) as f64, s.max_col / height.max(1) as f64);
    Features {
        fill: s.area / (s.max_row * s.max_col).max(1e-9),
        aspect: w / h.max(1e-9),
        skew_x: s.skew_x,
        skew_y: s.skew_y,
        extent: w.max(h),
    }
}

/// Widest aspect (either way) a shape may have; every shape of the world has aspect 1.
pub const MAX_ASPECT: f64 = 1.5;
/// Largest extent (see [`Features::extent`]) of a shape; the world's objects span at most 0.42
/// of the image, so a region covering most of it (a flood of one colour) is no object.
pub const MAX_EXTENT: f64 = 0.6;
/// Largest |skewness| of a shape meant to be symmetric on that axis (renders: ≤ 0.13).
pub const MAX_SKEW: f64 = 0.3;
/// Vertical skewness below which a component is bottom-heavy like the triangle (renders: ≤ −0.51).
pub const TRIANGLE_SKEW: f64 = -0.35;
/// Fill above which a symmetric component is a square (renders: squares 1.0, circles ≤ 0.83).
pub const SQUARE_FILL: f64 = 0.91;
/// Fill above which a symmetric component is a circle rather than a cross (renders: circles
/// ≥ 0.76, crosses ≤ 0.59).
pub const CIRCLE_FILL: f64 = 0.675;

/// The shape of a component with these features, or `None` when it matches no shape.
pub fn classify(f: &Features) -> Option<Shape> {
    let plausible =
        (1.0 / MAX_ASPECT..=MAX_ASPECT).contains(&f.aspect) && f.skew_x.abs() <= MAX_SKEW && f.extent <= MAX_EXTENT;
    if !plausible || !(0.38..=1.05).contains(&f.fill) {
        return None;
    }
    if f.skew_y < TRIANGLE_SKEW {
        // A triangle fills half its box; far more is a lopsided blob.
        return (f.skew_y > -1.0 && f.fill <= 0.8).then_some(Shape::Triangle);
    }
    if f.skew_y.abs() > MAX_SKEW {
        return None;
    }
    Some(if f.fill > SQUARE_FILL {
        Shape::Square
    } else if f.fill > CIRCLE_FILL {
        Shape::Circle
    } else {
        Shape::Cross
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fill: f64, skew_y: f64) -> Features {
        Features { fill, aspect: 1.0, skew_x: 0.0, skew_y, extent: 0.3 }
    }

    #[test]
    fn ideal_values_classify_and_blobs_do_not() {
        assert_eq!(classify(&f(0.785, 0.0)), Some(Shape::Circle));
        assert_eq!(classify(&f(1.0, 0.0)), Some(Shape::Square));
        assert_eq!(classify(&f(0.5, -0.57)), Some(Shape::Triangle));
        assert_eq!(classify(&f(0.556, 0.0)), Some(Shape::Cross));
        assert_eq!(classify(&f(0.3, 0.0)), None, "too sparse");
        assert_eq!(classify(&f(0.8, 0.2)), Some(Shape::Circle));
        assert_eq!(classify(&f(0.8, 0.5)), None, "top-heavy: no shape of the world");
        assert_eq!(classify(&Features { aspect: 2.5, ..f(1.0, 0.0) }), None, "a bar is not a square");
        assert_eq!(classify(&Features { extent: 0.9, ..f(1.0, 0.0) }), None, "a flood is not a square");
    }
}
