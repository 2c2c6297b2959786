//! The renderer: a scene to an RGB image in [−1, 1], anti-aliased by supersampling.
//!
//! Each pixel is covered by S×S sample points (S = 4 by default) on a regular grid; an object's
//! coverage α of the pixel is the fraction of points inside it, and the pixel becomes
//! `background + α · (colour − background)`. Objects never overlap (the layout keeps gaps), so a
//! pixel blends at most one colour with the background; the evaluator relies on that.
//!
//! Images are channel-major (CHW): value `c·H·W + y·W + x`. Scene coordinates are fractions of
//! each image side, so a non-square image stretches the shapes.

use super::palette::background_value;
use super::scene::Scene;
use crate::error::{Error, Result};
use tensor::Tensor;

/// Default image side in pixels.
pub const DEFAULT_SIZE: usize = 32;
/// Default supersampling: 4×4 sample points per pixel.
pub const DEFAULT_SUPERSAMPLE: usize = 4;
/// Largest image side accepted (a guard against absurd requests, 16 Mpx per image).
pub const MAX_SIDE: usize = 4096;

fn check_size(height: usize, width: usize, supersample: usize) -> Result<()> {
    let bad = |msg: String| Err(Error::InvalidArgument { what: "render", msg });
    if height == 0 || width == 0 || height > MAX_SIDE || width > MAX_SIDE {
        return bad(format!("image size {height}×{width} must be between 1 and {MAX_SIDE} on each side"));
    }
    if supersample == 0 || supersample > 16 {
        return bad(format!("supersampling {supersample} must be between 1 and 16"));
    }
    Ok(())
}

/// Renders `scene` at `height`×`width` with 4×4 supersampling. Returns CHW values, shape
/// [3, H, W] flattened, in [−1, 1].
pub fn render(scene: &Scene, height: usize, width: usize) -> Result<Vec<f32>> {
    render_with(scene, height, width, DEFAULT_SUPERSAMPLE)
}

/// Renders `scene` with `supersample`×`supersample` sample points per pixel (1 = no
/// anti-aliasing). Returns CHW values, shape [3, H, W] flattened, in [−1, 1].
pub fn render_with(scene: &Scene, height: usize, width: usize, supersample: usize) -> Result<Vec<f32>> {
    check_size(height, width, supersample)?;
    let plane = height * width;
    let bg = background_value();
    let mut out = vec![0f32; 3 * plane];
    for (c, &b) in bg.iter().enumerate() {
        out[c * plane..(c + 1) * plane].fill(b);
    }
    let s = supersample;
    let samples = (s * s) as f32;
    for obj in &scene.objects {
        let colour = obj.colour.value();
        let [x0, y0, x1, y1] = obj.bbox();
        // Pixels that the box touches, clamped to the image: [px0, px1) × [py0, py1).
        let span = |lo: f64, hi: f64, n: usize| {
            let a = (lo * n as f64).floor().max(0.0) as usize;
            let b = ((hi * n as f64).ceil().max(0.0) as usize).min(n);
            (a.min(n), b)
        };
        let (px0, px1) = span(x0, x1, width);
        let (py0, py1) = span(y0, y1, height);
        for py in py0..py1 {
            for px in px0..px1 {
                let mut hits = 0usize;
                for sy in 0..s {
                    let v = (py as f64 + (sy as f64 + 0.5) / s as f64) / height as f64;
                    for sx in 0..s {
                        let u = (px as f64 + (sx as f64 + 0.5) / s as f64) / width as f64;
                        hits += obj.contains(u, v) as usize;
                    }
                }
                if hits > 0 {
                    let alpha = hits as f32 / samples;
                    let i = py * width + px;
                    for (ch, &col) in colour.iter().enumerate() {
                        let p = &mut out[ch * plane + i];
                        *p += alpha * (col - *p);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Renders a batch of scenes into one f32 tensor of shape [N, 3, H, W].
pub fn render_batch(scenes: &[Scene], height: usize, width: usize) -> Result<Tensor> {
    check_size(height, width, DEFAULT_SUPERSAMPLE)?;
    let mut data = Vec::with_capacity(scenes.len() * 3 * height * width);
    for scene in scenes {
        data.extend(render(scene, height, width)?);
    }
    Ok(Tensor::from_vec(data, &[scenes.len(), 3, height, width])?)
}
