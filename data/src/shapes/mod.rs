//! The shapes world: a tiny, compositional image domain that a CPU can learn and that can be
//! scored exactly.
//!
//! - [`palette`]: 4 shapes (circle, square, triangle, cross) × 6 colours on a dark background,
//!   2 sizes;
//! - [`scene`]: scenes of 1–4 objects, always apart (2 px gap at 32×32), and the layout search;
//! - [`render()`]: a scene to an anti-aliased RGB image in [−1, 1], CHW, any size (32×32 default);
//! - [`grammar`], [`parse`], [`tokenizer`]: captions in the six GenEval families, several
//!   phrasings per meaning, the parser back to the meaning, the word-level tokenizer;
//! - [`sampler`]: training pairs correct by construction, held-out combinations, unconditional
//!   scenes; [`classes`]: the 24-class (+ null) variant for DDO/VAR;
//! - [`prompts`]: the fixed evaluation prompt sets.
//!
//! ```
//! use data::shapes::{render, Prompt, SceneSampler, ShapesRng};
//! let prompt = Prompt::parse("a red circle to the left of a blue square")?;
//! let scene = SceneSampler::default().scene_for(&prompt, &mut ShapesRng::new(0))?;
//! let image = render(&scene, 32, 32)?; // [3, 32, 32] flattened, values in [-1, 1]
//! assert_eq!(image.len(), 3 * 32 * 32);
//! # Ok::<(), data::Error>(())
//! ```

pub mod classes;
pub mod grammar;
pub mod palette;
pub mod parse;
pub mod prompts;
pub mod relation;
pub mod render;
pub mod rng;
pub mod sampler;
pub mod scene;
pub mod tokenizer;

pub use classes::{
    class_from_name, class_name, class_of, class_parts, class_prompt, sample_class_pair_at, sample_class_scene,
    NULL_CLASS, NUM_CLASSES,
};
pub use grammar::{Clause, Family, Meaning, Phrasing, Prompt};
pub use palette::{background_value, Colour, Shape, Size, BACKGROUND_RGB};
pub use prompts::{prompt_set, PromptSet, PROMPT_SET_NAMES};
pub use relation::{Placed, Relation};
pub use render::{render, render_batch, render_with, DEFAULT_SIZE};
pub use rng::ShapesRng;
pub use sampler::{SceneSampler, HELDOUT_COLOUR_SHAPES, HELDOUT_RELATIONS};
pub use scene::{Object, Scene, MAX_OBJECTS};
pub use tokenizer::{Encoded, Tokenizer};
