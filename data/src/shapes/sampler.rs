//! Sampling training data: a caption meaning per family, a scene that satisfies it, and
//! unconditional scenes. Training pairs are correct by construction: a scene holds exactly the
//! objects its caption names (plus, optionally, distractors of shapes the caption does not name),
//! laid out so that every relation holds with a margin.
//!
//! Held-out combinations ([`HELDOUT_COLOUR_SHAPES`], [`HELDOUT_RELATIONS`]) are kept for
//! evaluating compositional generalisation. With `exclude_heldout`, a held-out colour–shape pair
//! never appears, neither in a caption nor as an object in any image; a held-out relation triple
//! never appears in a caption (images may still show, say, a circle above a triangle under the
//! caption "a circle and a triangle": the test is whether the *words* compose).

use super::grammar::{Clause, Family, Meaning, Phrasing, Prompt};
use super::palette::{Colour, Shape, Size};
use super::relation::Relation;
use super::rng::ShapesRng;
use super::scene::{layout, Constraint, Item, Scene, MAX_OBJECTS};
use crate::error::{Error, Result};

/// Colour–shape pairs held out of training: each shape once, four different colours.
pub const HELDOUT_COLOUR_SHAPES: [(Colour, Shape); 4] = [
    (Colour::Red, Shape::Cross),
    (Colour::Yellow, Shape::Circle),
    (Colour::Blue, Shape::Triangle),
    (Colour::Purple, Shape::Square),
];

/// Relation triples "X relation Y" held out of training captions; the converse wording
/// ("Y converse X") is held out with each.
pub const HELDOUT_RELATIONS: [(Shape, Relation, Shape); 4] = [
    (Shape::Circle, Relation::Above, Shape::Triangle),
    (Shape::Square, Relation::LeftOf, Shape::Cross),
    (Shape::Cross, Relation::Below, Shape::Circle),
    (Shape::Triangle, Relation::RightOf, Shape::Square),
];

/// Whether a colour–shape pair is held out.
pub fn is_heldout_pair(colour: Colour, shape: Shape) -> bool {
    HELDOUT_COLOUR_SHAPES.contains(&(colour, shape))
}

/// Whether "a `relation` b" (or its converse wording) is held out.
pub fn is_heldout_relation(a: Shape, relation: Relation, b: Shape) -> bool {
    HELDOUT_RELATIONS.iter().any(|&(x, r, y)| (x, r, y) == (a, relation, b) || (y, r.converse(), x) == (a, relation, b))
}

impl Meaning {
    /// The held-out combination this meaning uses, described in words, if any.
    pub fn heldout(&self) -> Option<String> {
        for c in &self.clauses {
            if let Some(colour) = c.colour.filter(|&col| is_heldout_pair(col, c.shape)) {
                return Some(format!("{} {}", colour.name(), c.shape.name()));
            }
        }
        match (self.clauses.as_slice(), self.relation) {
            ([a, b], Some(r)) if is_heldout_relation(a.shape, r, b.shape) => {
                Some(format!("{} {} {}", a.shape.name(), r.phrase(), b.shape.name()))
            }
            _ => None,
        }
    }
}

/// The training sampler.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneSampler {
    /// Leave out the held-out combinations (see the module docs).
    pub exclude_heldout: bool,
    /// Up to this many extra objects, of shapes the caption does not name, are added to a
    /// scene (never beyond four objects in all). 0 keeps scenes to exactly what is said.
    pub max_distractors: usize,
    /// Probability that a `counting` caption also names a colour ("three green triangles").
    pub counting_colour_prob: f64,
    /// Probability that a `position` caption names colours ("a red circle left of a blue square").
    pub position_colour_prob: f64,
}

impl Default for SceneSampler {
    fn default() -> Self {
        SceneSampler { exclude_heldout: true, max_distractors: 0, counting_colour_prob: 0.3, position_colour_prob: 0.5 }
    }
}

/// Two different elements of `all`.
fn two_distinct<T: Copy>(all: &[T], rng: &mut ShapesRng) -> (T, T) {
    let i = rng.below(all.len());
    let j = (i + 1 + rng.below(all.len() - 1)) % all.len();
    (all[i], all[j])
}

impl SceneSampler {
    /// A random caption meaning of `family` (avoiding held-out combinations when excluding).
    pub fn sample_meaning(&self, family: Family, rng: &mut ShapesRng) -> Meaning {
        loop {
            let m = self.draw_meaning(family, rng);
            if !(self.exclude_heldout && m.heldout().is_some()) {
                return m;
            }
        }
    }

    fn draw_meaning(&self, family: Family, rng: &mut ShapesRng) -> Meaning {
        let shape = |rng: &mut ShapesRng| Shape::ALL[rng.below(4)];
        let colour = |rng: &mut ShapesRng| Colour::ALL[rng.below(6)];
        let clause = |shape, colour| Clause { shape, colour, count: 1 };
        match family {
            Family::SingleObject => Meaning::single(shape(rng), None, 1),
            Family::Colors => Meaning::single(shape(rng), Some(colour(rng)), 1),
            Family::Counting => {
                let (s, n) = (shape(rng), 2 + rng.below(3));
                let c = rng.bernoulli(self.counting_colour_prob).then(|| colour(rng));
                Meaning::single(s, c, n)
            }
            Family::TwoObject | Family::ColorAttr | Family::Position => {
                let (a, b) = two_distinct(&Shape::ALL, rng);
                let coloured = match family {
                    Family::TwoObject => false,
                    Family::ColorAttr => true,
                    _ => rng.bernoulli(self.position_colour_prob),
                };
                let (ca, cb) = if coloured {
                    let (x, y) = two_distinct(&Colour::ALL, rng);
                    (Some(x), Some(y))
                } else {
                    (None, None)
                };
                let relation = (family == Family::Position).then(|| Relation::ALL[rng.below(4)]);
                Meaning::pair(clause(a, ca), clause(b, cb), relation)
            }
        }
    }

    /// A scene that satisfies `meaning`: exactly `count` objects per clause (each of the clause's
    /// colour, or of a random colour), random sizes, every object of the first clause in the
    /// relation to every object of the second, and up to `max_distractors` other objects.
    ///
    /// More than four objects is [`Error::TooManyObjects`]. A relation over four objects ("two
    /// circles left of two squares") rarely leaves room for a layout, and then it is
    /// [`Error::PlacementFailed`]; up to three objects always fit.
    pub fn scene_for(&self, prompt: &Prompt, rng: &mut ShapesRng) -> Result<Scene> {
        let meaning = &prompt.meaning;
        meaning.validate()?;
        if self.exclude_heldout {
            if let Some(what) = meaning.heldout() {
                return Err(Error::HeldOut { prompt: prompt.text.clone(), what });
            }
        }
        let n = meaning.object_count();
        if n > MAX_OBJECTS {
            return Err(Error::TooManyObjects { prompt: prompt.text.clone(), objects: n, max: MAX_OBJECTS });
        }
        let mut items = Vec::with_capacity(MAX_OBJECTS);
        let mut groups = Vec::with_capacity(2);
        for c in &meaning.clauses {
            let start = items.len();
            for _ in 0..c.count {
                let colour = c.colour.unwrap_or_else(|| self.free_colour(c.shape, rng));
                items.push(Item { shape: c.shape, colour, size: Size::ALL[rng.below(2)] });
            }
            groups.push(start..items.len());
        }
        let others: Vec<Shape> =
            Shape::ALL.into_iter().filter(|s| meaning.clauses.iter().all(|c| c.shape != *s)).collect();
        let room = (MAX_OBJECTS - n).min(self.max_distractors);
        for _ in 0..rng.below(room + 1) {
            if let Some(&shape) = rng.choose(&others) {
                items.push(Item { shape, colour: self.free_colour(shape, rng), size: Size::ALL[rng.below(2)] });
            }
        }
        let mut constraints = Vec::new();
        if let (Some(relation), [g0, g1]) = (meaning.relation, groups.as_slice()) {
            for a in g0.clone() {
                for b in g1.clone() {
                    constraints.push(Constraint { a, relation, b });
                }
            }
        }
        layout(&items, &constraints, rng).ok_or_else(|| Error::PlacementFailed { prompt: prompt.text.clone() })
    }

    /// A random colour for `shape` (never a held-out pair when excluding).
    fn free_colour(&self, shape: Shape, rng: &mut ShapesRng) -> Colour {
        loop {
            let c = Colour::ALL[rng.below(Colour::ALL.len())];
            if !(self.exclude_heldout && is_heldout_pair(c, shape)) {
                return c;
            }
        }
    }

    /// A training pair: a family chosen uniformly, a meaning, a random phrasing and a scene.
    pub fn sample_pair(&self, rng: &mut ShapesRng) -> Result<(Prompt, Scene)> {
        let family = Family::ALL[rng.below(Family::ALL.len())];
        let meaning = self.sample_meaning(family, rng);
        let prompt = Prompt::from_meaning(meaning, &Phrasing::random(rng))?;
        let scene = self.scene_for(&prompt, rng)?;
        Ok((prompt, scene))
    }

    /// Training pair number `index` of the stream `seed`, independent of every other index.
    pub fn sample_pair_at(&self, seed: u64, index: u64) -> Result<(Prompt, Scene)> {
        self.sample_pair(&mut ShapesRng::for_item(seed, index))
    }

    /// Unconditional scene number `index` of the stream `seed`.
    pub fn sample_unconditional_at(&self, seed: u64, index: u64) -> Scene {
        self.sample_unconditional(&mut ShapesRng::for_item(seed, index))
    }

    /// An unconditional scene: 1–4 objects of random shapes, colours and sizes.
    pub fn sample_unconditional(&self, rng: &mut ShapesRng) -> Scene {
        loop {
            let n = 1 + rng.below(MAX_OBJECTS);
            let items: Vec<Item> = (0..n)
                .map(|_| {
                    let shape = Shape::ALL[rng.below(4)];
                    Item { shape, colour: self.free_colour(shape, rng), size: Size::ALL[rng.below(2)] }
                })
                .collect();
            // Without constraints, `layout` only fails if four small objects cannot be placed,
            // which does not happen; the loop is a guard, not a retry strategy.
            if let Some(scene) = layout(&items, &[], rng) {
                return scene;
            }
        }
    }
}
