//! The rule-based shapes evaluator: GenEval's task rules on an exact parser of the image, in
//! place of GenEval's detector and CLIP colour classifier. It is never trained and never used
//! as a reward; it only scores.
//!
//! The parser, step by step (design: `evaluation.md` §4.2):
//! 1. [`quantize`]: each pixel is fitted as a blend of the background with one palette colour;
//!    more than half covered makes it that colour, a poor fit makes it off-palette;
//! 2. [`components`]: 4-connected components per colour, dropping those under a minimum area
//!    (16 px at 32×32, scaled with the image area);
//! 3. [`classify`]: a shape from box-relative features (fill, centroid offset, corner fill);
//! 4. [`rules`]: GenEval's rules per family (counts, colours of the largest matched components,
//!    relative position with a margin).
//!
//! ```
//! use data::shapes::{render, Prompt, SceneSampler, ShapesRng};
//! let prompt = Prompt::parse("two blue squares")?;
//! let scene = SceneSampler::default().scene_for(&prompt, &mut ShapesRng::new(3))?;
//! let image = render(&scene, 32, 32)?;
//! assert!(eval::shapes::score_image(&image, 32, 32, &prompt)?);
//! # Ok::<(), eval::Error>(())
//! ```

pub mod classify;
pub mod components;
pub mod quantize;
pub mod report;
pub mod rules;

pub use classify::Features;
pub use components::Component;
pub use report::{Miss, Report};
pub use rules::Verdict;

use crate::error::{Error, Result};
use data::shapes::{Prompt, Shape};
use tensor::Tensor;

/// One component of an analysed image, with its measurements and its shape (`None`: no shape
/// of the world fits it).
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub component: Component,
    pub features: Features,
    pub shape: Option<Shape>,
}

/// The parse of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub height: usize,
    pub width: usize,
    /// Components of at least the minimum area, in scan order of their first pixel.
    pub detections: Vec<Detection>,
    /// Fraction of off-palette pixels.
    pub off_palette_fraction: f64,
}

/// The evaluator's settings. The defaults are the calibrated ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluator {
    /// τ_pal: a pixel farther than this (in [0, 1] RGB units) from every background–colour
    /// segment is off-palette.
    pub off_palette_threshold: f64,
    /// Coverage α from which a pixel belongs to its colour rather than to the background.
    pub coverage: f64,
    /// Minimum component area at 32×32, in pixels; scaled with the image area (4 px at 16×16).
    pub min_area_at_32: f64,
}

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator { off_palette_threshold: 0.25, coverage: 0.5, min_area_at_32: 16.0 }
    }
}

impl Evaluator {
    /// Minimum component area in pixels for an image of `height`×`width` (at least 1).
    pub fn min_area(&self, height: usize, width: usize) -> usize {
        ((self.min_area_at_32 * (height * width) as f64 / 1024.0).round() as usize).max(1)
    }

    /// Parses one CHW image (shape [3, H, W] flattened, values in [−1, 1]).
    pub fn analyse(&self, image: &[f32], height: usize, width: usize) -> Result<Analysis> {
        if height == 0 || width == 0 || image.len() != 3 * height * width {
            return Err(Error::ImageSize { len: image.len(), height, width });
        }
        let q = quantize::quantize(image, height, width, self.off_palette_threshold, self.coverage);
        let detections = components::components(&q, self.min_area(height, width))
            .into_iter()
            .map(|component| {
                let features = classify::features(&component, height, width);
                Detection { shape: classify::classify(&features), component, features }
            })
            .collect();
        Ok(Analysis { height, width, detections, off_palette_fraction: q.off_palette_fraction })
    }

    /// Whether one image satisfies its prompt, and why not.
    pub fn verdict(&self, image: &[f32], height: usize, width: usize, prompt: &Prompt) -> Result<Verdict> {
        Ok(rules::check(&self.analyse(image, height, width)?, &prompt.meaning))
    }

    /// Whether one image satisfies its prompt.
    pub fn score_image(&self, image: &[f32], height: usize, width: usize, prompt: &Prompt) -> Result<bool> {
        Ok(self.verdict(image, height, width, prompt)?.correct)
    }

    /// Scores images (each CHW [3, H, W] flattened) against one prompt each.
    pub fn evaluate<I: AsRef<[f32]>>(
        &self,
        images: &[I],
        height: usize,
        width: usize,
        prompts: &[Prompt],
    ) -> Result<Report> {
        if images.len() != prompts.len() {
            return Err(Error::CountMismatch { images: images.len(), prompts: prompts.len() });
        }
        if images.is_empty() {
            return Err(Error::Empty);
        }
        let mut results = Vec::with_capacity(images.len());
        for (image, prompt) in images.iter().zip(prompts) {
            let a = self.analyse(image.as_ref(), height, width)?;
            let v = rules::check(&a, &prompt.meaning);
            results.push((prompt.text.clone(), prompt.family(), v.correct, v.reason, a.off_palette_fraction));
        }
        Ok(Report::from_results(&results))
    }

    /// Scores a batch tensor [N, 3, H, W] (any float dtype) against one prompt per image.
    pub fn evaluate_batch(&self, images: &Tensor, prompts: &[Prompt]) -> Result<Report> {
        let &[n, 3, h, w] = images.shape() else { return Err(Error::BatchShape(images.shape().to_vec())) };
        let data = images.to_vec_f64()?.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
        let per = 3 * h * w;
        let views: Vec<&[f32]> = (0..n).map(|i| &data[i * per..(i + 1) * per]).collect();
        self.evaluate(&views, h, w, prompts)
    }
}

/// [`Evaluator::score_image`] with the default settings.
pub fn score_image(image: &[f32], height: usize, width: usize, prompt: &Prompt) -> Result<bool> {
    Evaluator::default().score_image(image, height, width, prompt)
}

/// [`Evaluator::evaluate`] with the default settings.
pub fn evaluate<I: AsRef<[f32]>>(images: &[I], height: usize, width: usize, prompts: &[Prompt]) -> Result<Report> {
    Evaluator::default().evaluate(images, height, width, prompts)
}
