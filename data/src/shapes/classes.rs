//! The class-conditional variant for DDO and VAR: 24 classes, one per shape × colour of a single
//! object, and a 25th "null" class index for classifier-free guidance (the label a model sees
//! when its condition is dropped).
//!
//! Class `k` is shape `k / 6` and colour `k % 6` in the order of [`Shape::ALL`] and
//! [`Colour::ALL`]: 0 = "red circle", 1 = "yellow circle", ..., 23 = "white cross".

use super::grammar::{Meaning, Phrasing, Prompt};
use super::palette::{Colour, Shape, Size};
use super::rng::ShapesRng;
use super::scene::{layout, Item, Scene};
use crate::error::{Error, Result};

/// Number of real classes.
pub const NUM_CLASSES: usize = Shape::ALL.len() * Colour::ALL.len();
/// The "null" class index (no condition), one past the real classes.
pub const NULL_CLASS: usize = NUM_CLASSES;

/// The class of a shape and colour.
pub fn class_of(shape: Shape, colour: Colour) -> usize {
    shape.index() * Colour::ALL.len() + colour.index()
}

/// The shape and colour of a real class.
pub fn class_parts(class: usize) -> Result<(Shape, Colour)> {
    if class >= NUM_CLASSES {
        return Err(Error::UnknownClass(format!(
            "index {class} (real classes are 0..{NUM_CLASSES}, null is {NULL_CLASS})"
        )));
    }
    Ok((Shape::ALL[class / Colour::ALL.len()], Colour::ALL[class % Colour::ALL.len()]))
}

/// The class's name: "red circle", or "null" for [`NULL_CLASS`].
pub fn class_name(class: usize) -> Result<String> {
    if class == NULL_CLASS {
        return Ok("null".to_string());
    }
    let (shape, colour) = class_parts(class)?;
    Ok(format!("{} {}", colour.name(), shape.name()))
}

/// The class with this name ("red circle" or "null"; case and extra spaces do not matter).
pub fn class_from_name(name: &str) -> Result<usize> {
    let norm = name.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ");
    (0..=NULL_CLASS)
        .find(|&k| class_name(k).is_ok_and(|n| n == norm))
        .ok_or_else(|| Error::UnknownClass(format!("\"{name}\" (classes are named like \"red circle\", or \"null\")")))
}

/// The evaluation prompt of a real class ("a red circle", family `colors`), so the shapes
/// evaluator can score class-conditional samples.
pub fn class_prompt(class: usize) -> Result<Prompt> {
    let (shape, colour) = class_parts(class)?;
    Prompt::from_meaning(Meaning::single(shape, Some(colour), 1), &Phrasing::default())
}

/// A scene of one object of `class` (random size and position). For [`NULL_CLASS`] the object's
/// class is drawn uniformly, which is the unconditional distribution of this dataset.
pub fn sample_class_scene(class: usize, rng: &mut ShapesRng) -> Result<Scene> {
    let class = if class == NULL_CLASS { rng.below(NUM_CLASSES) } else { class };
    let (shape, colour) = class_parts(class)?;
    let item = Item { shape, colour, size: Size::ALL[rng.below(2)] };
    // One object always fits; `layout` can only fail for impossible requests.
    layout(&[item], &[], rng).ok_or_else(|| Error::PlacementFailed { prompt: class_name(class).unwrap_or_default() })
}

/// Training pair `index` of the stream `seed`: a uniformly drawn real class and its scene.
pub fn sample_class_pair_at(seed: u64, index: u64) -> Result<(usize, Scene)> {
    let mut rng = ShapesRng::for_item(seed, index);
    let class = rng.below(NUM_CLASSES);
    Ok((class, sample_class_scene(class, &mut rng)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_indices_are_errors() {
        for k in 0..=NULL_CLASS {
            assert_eq!(class_from_name(&class_name(k).unwrap()).unwrap(), k);
        }
        assert_eq!(class_name(0).unwrap(), "red circle");
        assert_eq!(class_name(23).unwrap(), "white cross");
        assert_eq!(class_from_name("  Red   CIRCLE ").unwrap(), 0);
        assert!(class_parts(NULL_CLASS).is_err());
        assert!(class_name(99).is_err());
        assert!(class_from_name("green star").is_err());
        assert_eq!(class_prompt(0).unwrap().text, "a red circle");
    }
}
