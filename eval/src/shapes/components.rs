//! Steps 2–3 of the parser: connected components per palette colour (4-connectivity), and the
//! measurements of each component that the shape classifier and the rules use.

use super::quantize::{Quantized, BACKGROUND, OFF_PALETTE};
use data::shapes::{Colour, Placed};

/// One connected region of a single palette colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub colour: Colour,
    /// Number of pixels.
    pub area: usize,
    /// Bounding box in pixels, inclusive: columns x0..=x1, rows y0..=y1.
    pub bbox: [usize; 4],
    /// Mean pixel-centre coordinates (x to the right, y down; pixel (0, 0) has centre (0.5, 0.5)).
    pub centroid: (f64, f64),
    /// Row-major occupancy of the bounding box, [bh, bw]: `true` where the component has a pixel.
    pub mask: Vec<bool>,
    /// Sub-pixel measurements from the fitted coverage α.
    pub soft: SoftProfile,
}

/// Measurements weighted by the fitted coverage α of the component's pixels and of the
/// anti-aliased fringe around them (background-labelled pixels next to the component whose best
/// fit is the same colour). They keep the sub-pixel information that thresholding at α = 0.5
/// throws away, which matters for objects only 7–10 px across.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftProfile {
    /// Σ α: the object's area in pixels.
    pub area: f64,
    /// Largest row sum of α: the object's widest extent in pixels.
    pub max_row: f64,
    /// Largest column sum of α: the object's tallest extent in pixels.
    pub max_col: f64,
    /// Skewness μ₃/μ₂^{3/2} of the α mass along x (0 for a left–right symmetric shape).
    pub skew_x: f64,
    /// Skewness along y, y down: 0 for a symmetric shape, ≈ −0.57 for an apex-up triangle
    /// (mass low, tail towards the apex).
    pub skew_y: f64,
}

impl Component {
    /// Box width in pixels.
    pub fn box_width(&self) -> usize {
        self.bbox[2] - self.bbox[0] + 1
    }

    /// Box height in pixels.
    pub fn box_height(&self) -> usize {
        self.bbox[3] - self.bbox[1] + 1
    }

    /// Centroid and box size for the relation rule, in pixels.
    pub fn placed(&self) -> Placed {
        Placed { cx: self.centroid.0, cy: self.centroid.1, w: self.box_width() as f64, h: self.box_height() as f64 }
    }
}

/// All components of at least `min_area` pixels, in scan order of their first pixel.
pub fn components(q: &Quantized, min_area: usize) -> Vec<Component> {
    let (h, w) = (q.height, q.width);
    let mut seen = vec![false; h * w];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    let mut pixels = Vec::new();
    for start in 0..h * w {
        let label = q.labels[start];
        if seen[start] || label == BACKGROUND || label == OFF_PALETTE {
            continue;
        }
        // Flood fill over 4-neighbours with the same label.
        seen[start] = true;
        stack.push(start);
        pixels.clear();
        while let Some(i) = stack.pop() {
            pixels.push(i);
            let (y, x) = (i / w, i % w);
            let mut visit = |j: usize| {
                if !seen[j] && q.labels[j] == label {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if pixels.len() < min_area {
            continue;
        }
        let Some(&colour) = Colour::ALL.get(label as usize - 1) else { continue };
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        let (mut sx, mut sy) = (0.0, 0.0);
        for &i in &pixels {
            let (y, x) = (i / w, i % w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            sx += x as f64 + 0.5;
            sy += y as f64 + 0.5;
        }
        let bw = x1 - x0 + 1;
        let mut mask = vec![false; bw * (y1 - y0 + 1)];
        for &i in &pixels {
            mask[(i / w - y0) * bw + (i % w - x0)] = true;
        }
        let n = pixels.len() as f64;
        let soft = soft_profile(q, label, [x0, y0, x1, y1], &mask);
        out.push(Component {
            colour,
            area: pixels.len(),
            bbox: [x0, y0, x1, y1],
            centroid: (sx / n, sy / n),
            mask,
            soft,
        });
    }
    out
}

/// The α-weighted profile of the component with box `bbox` and occupancy `mask` (see
/// [`SoftProfile`]); the fringe is searched one pixel around the box.
fn soft_profile(q: &Quantized, label: u8, bbox: [usize; 4], mask: &[bool]) -> SoftProfile {
    let [x0, y0, x1, y1] = bbox;
    let bw = x1 - x0 + 1;
    let inside = |x: isize, y: isize| {
        x >= x0 as isize
            && x <= x1 as isize
            && y >= y0 as isize
            && y <= y1 as isize
            && mask[(y as usize - y0) * bw + (x as usize - x0)]
    };
    // Expanded box [ex0, ex1] × [ey0, ey1], clamped to the image.
    let (ex0, ey0) = (x0.saturating_sub(1), y0.saturating_sub(1));
    let (ex1, ey1) = ((x1 + 1).min(q.width - 1), (y1 + 1).min(q.height - 1));
    let (ew, eh) = (ex1 - ex0 + 1, ey1 - ey0 + 1);
    let mut weight = vec![0f64; ew * eh];
    for y in ey0..=ey1 {
        for x in ex0..=ex1 {
            let i = y * q.width + x;
            let (xi, yi) = (x as isize, y as isize);
            let member = inside(xi, yi)
                || (q.labels[i] == BACKGROUND
                    && q.best[i] == label
                    && (-1..=1).any(|dy| (-1..=1).any(|dx| inside(xi + dx, yi + dy))));
            if member {
                weight[(y - ey0) * ew + (x - ex0)] = q.alpha[i] as f64;
            }
        }
    }
    let area: f64 = weight.iter().sum();
    let rows: Vec<f64> = weight.chunks(ew).map(|r| r.iter().sum()).collect();
    let cols: Vec<f64> = (0..ew).map(|x| (0..eh).map(|y| weight[y * ew + x]).sum()).collect();
    SoftProfile {
        area,
        max_row: rows.iter().copied().fold(0.0, f64::max),
        max_col: cols.iter().copied().fold(0.0, f64::max),
        skew_x: skewness(&cols, area),
        skew_y: skewness(&rows, area),
    }
}

/// Skewness of a 1-D mass distribution `m` (unit spacing) with total `total`; 0 when degenerate.
fn skewness(m: &[f64], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    let mean = m.iter().enumerate().map(|(i, w)| i as f64 * w).sum::<f64>() / total;
    let moment = |p: i32| m.iter().enumerate().map(|(i, w)| (i as f64 - mean).powi(p) * w).sum::<f64>() / total;
    let var = moment(2);
    if var <= 1e-12 {
        0.0
    } else {
        moment(3) / var.powf(1.5)
    }
}
