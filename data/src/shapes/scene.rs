//! Scenes: up to four objects on the background, and the layout search that places them.
//!
//! Coordinates are fractions of the image side, x to the right and y down, so one scene renders
//! at any resolution. Every object keeps a margin of 1/32 of the side to the image border and a
//! gap of 1/16 of the side (2 px at 32×32) to every other object's box, so no two objects ever
//! touch or overlap and each one is its own connected component in the render.

use super::palette::{Colour, Shape, Size};
use super::relation::{Placed, Relation};
use super::rng::ShapesRng;
use serde::{Deserialize, Serialize};

/// The most objects a scene holds.
pub const MAX_OBJECTS: usize = 4;
/// Minimum distance from an object's box to the image border, as a fraction of the side.
pub const BORDER_MARGIN: f64 = 1.0 / 32.0;
/// Minimum gap between two objects' boxes, as a fraction of the side (2 px at 32×32).
pub const OBJECT_GAP: f64 = 2.0 / 32.0;

/// One object: what it is and where its box is centred (fractions of the image side).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub shape: Shape,
    pub colour: Colour,
    pub size: Size,
    /// Box centre, x to the right, in [0, 1].
    pub x: f64,
    /// Box centre, y down, in [0, 1].
    pub y: f64,
}

impl Object {
    /// Side of the object's square box, as a fraction of the image side.
    pub fn side(&self) -> f64 {
        self.size.fraction()
    }

    /// The box `[x0, y0, x1, y1]` in image fractions.
    pub fn bbox(&self) -> [f64; 4] {
        let h = self.side() / 2.0;
        [self.x - h, self.y - h, self.x + h, self.y + h]
    }

    /// Whether the point (px, py), in image fractions, is inside the shape.
    pub fn contains(&self, px: f64, py: f64) -> bool {
        let [x0, y0, _, _] = self.bbox();
        let s = self.side();
        // Local coordinates in the unit box: (0, 0) top-left, (1, 1) bottom-right.
        let (u, v) = ((px - x0) / s, (py - y0) / s);
        if !(0.0..=1.0).contains(&u) || !(0.0..=1.0).contains(&v) {
            return false;
        }
        match self.shape {
            Shape::Square => true,
            Shape::Circle => (u - 0.5).powi(2) + (v - 0.5).powi(2) <= 0.25,
            // Apex (0.5, 0), base from (0, 1) to (1, 1): half-width v/2 at height v.
            Shape::Triangle => (u - 0.5).abs() <= v / 2.0,
            Shape::Cross => (u - 0.5).abs() <= 1.0 / 6.0 || (v - 0.5).abs() <= 1.0 / 6.0,
        }
    }

    /// Centroid and box size for the relation rule, in image fractions. The triangle's centroid
    /// lies at 2/3 of its height below the apex; the other shapes are symmetric.
    pub fn placed(&self) -> Placed {
        let s = self.side();
        let cy = match self.shape {
            Shape::Triangle => self.y - s / 2.0 + 2.0 * s / 3.0,
            _ => self.y,
        };
        Placed { cx: self.x, cy, w: s, h: s }
    }

    /// Whether two objects' boxes keep at least [`OBJECT_GAP`] apart along x or along y.
    pub fn apart_from(&self, other: &Object) -> bool {
        let (a, b) = (self.bbox(), other.bbox());
        let gap_x = (b[0] - a[2]).max(a[0] - b[2]);
        let gap_y = (b[1] - a[3]).max(a[1] - b[3]);
        gap_x >= OBJECT_GAP || gap_y >= OBJECT_GAP
    }

    /// Whether the box lies inside the image with the border margin.
    pub fn inside_image(&self) -> bool {
        let [x0, y0, x1, y1] = self.bbox();
        let lo = BORDER_MARGIN - 1e-12;
        let hi = 1.0 - BORDER_MARGIN + 1e-12;
        x0 >= lo && y0 >= lo && x1 <= hi && y1 <= hi
    }
}

/// A scene: objects drawn in order on the background.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub objects: Vec<Object>,
}

impl Scene {
    /// Whether every object is inside the image and every pair keeps the gap.
    pub fn is_valid(&self) -> bool {
        self.objects.len() <= MAX_OBJECTS
            && self.objects.iter().all(Object::inside_image)
            && self.objects.iter().enumerate().all(|(i, a)| self.objects[i + 1..].iter().all(|b| a.apart_from(b)))
    }
}

/// What to place: an object's shape, colour and wanted size, before it has a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    pub shape: Shape,
    pub colour: Colour,
    pub size: Size,
}

/// A relation the layout must satisfy: item `a` stands in `relation` to item `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub a: usize,
    pub relation: Relation,
    pub b: usize,
}

/// The strengths (see [`Relation::strength`]) the layout asks of each constrained pair, tried in
/// turn: well above the rule's 0.5, so that pixelisation cannot flip the decision. The weaker ones
/// are needed when one object must relate to two others ("a circle left of two squares").
pub const SAMPLER_STRENGTHS: [f64; 3] = [0.85, 0.7, 0.6];

/// Fresh layouts tried per size assignment before shrinking a large object.
const RESTARTS: usize = 300;
/// Positions tried for one object within one layout attempt.
const TRIES_PER_OBJECT: usize = 40;

/// Places `items` at random positions that keep the border margin and the gaps and satisfy every
/// constraint with a strength from [`SAMPLER_STRENGTHS`], while no perpendicular relation holds
/// between a constrained pair (so "left of" never also reads as "above").
///
/// Objects are placed one by one by rejection; an attempt that gets stuck restarts. When 300
/// attempts fail at the strong margin, weaker ones are tried; when they fail too, one large
/// object becomes small and the search goes on. Returns `None` when even all-small layouts fail
/// (which happens for relations over four objects, such as "two circles left of two squares").
///
/// Every other attempt draws constrained objects from the matching half of the image (for
/// "a left of b": a in the left half, b in the right half), which helps tight cases such as
/// "a circle left of two squares", while the uniform attempts (the first one included) keep the
/// layouts of easy cases spread over the whole image.
pub fn layout(items: &[Item], constraints: &[Constraint], rng: &mut ShapesRng) -> Option<Scene> {
    if items.len() > MAX_OBJECTS || constraints.iter().any(|c| c.a >= items.len() || c.b >= items.len() || c.a == c.b) {
        return None;
    }
    let mut items = items.to_vec();
    loop {
        for strength in SAMPLER_STRENGTHS {
            for attempt in 0..RESTARTS {
                if let Some(scene) = try_layout(&items, constraints, strength, attempt % 2 == 1, rng) {
                    return Some(scene);
                }
            }
        }
        let large: Vec<usize> = (0..items.len()).filter(|&i| items[i].size == Size::Large).collect();
        let &i = rng.choose(&large)?;
        items[i].size = Size::Small;
    }
}

/// The range of box centres along one axis for an object of half-side `half`: the whole
/// image, or with `side` only its low (`Some(true)`) or high (`Some(false)`) half.
fn centre_range(half: f64, side: Option<bool>) -> (f64, f64) {
    let (lo, hi) = (BORDER_MARGIN + half, 1.0 - BORDER_MARGIN - half);
    match side {
        None => (lo, hi),
        Some(true) => (lo, lo.max(0.5)),
        Some(false) => (hi.min(0.5), hi),
    }
}

fn try_layout(
    items: &[Item],
    constraints: &[Constraint],
    strength: f64,
    use_halves: bool,
    rng: &mut ShapesRng,
) -> Option<Scene> {
    // Per item, the half of the image its constraints point to: (x side, y side), low = true.
    let mut sides: Vec<(Option<bool>, Option<bool>)> = vec![(None, None); items.len()];
    if use_halves {
        for c in constraints {
            let (a_low_x, a_low_y) = match c.relation {
                Relation::LeftOf => (Some(true), None),
                Relation::RightOf => (Some(false), None),
                Relation::Above => (None, Some(true)),
                Relation::Below => (None, Some(false)),
            };
            sides[c.a] = (a_low_x.or(sides[c.a].0), a_low_y.or(sides[c.a].1));
            sides[c.b] = (a_low_x.map(|l| !l).or(sides[c.b].0), a_low_y.map(|l| !l).or(sides[c.b].1));
        }
    }
    let mut placed: Vec<Object> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let half = item.size.fraction() / 2.0;
        let ((x_lo, x_hi), (y_lo, y_hi)) = (centre_range(half, sides[i].0), centre_range(half, sides[i].1));
        let ok = (0..TRIES_PER_OBJECT).find_map(|_| {
            let obj = Object {
                shape: item.shape,
                colour: item.colour,
                size: item.size,
                x: rng.range(x_lo, x_hi),
                y: rng.range(y_lo, y_hi),
            };
            let fits = placed.iter().all(|p| p.apart_from(&obj))
                && constraints.iter().filter(|c| c.a.max(c.b) == i).all(|c| {
                    let get = |k: usize| if k == i { obj } else { placed[k] };
                    satisfied(&get(c.a), c.relation, &get(c.b), strength)
                });
            fits.then_some(obj)
        })?;
        placed.push(ok);
    }
    Some(Scene { objects: placed })
}

/// The sampler's test for one constrained pair.
fn satisfied(a: &Object, relation: Relation, b: &Object, strength: f64) -> bool {
    let (pa, pb) = (a.placed(), b.placed());
    let perpendicular = match relation {
        Relation::LeftOf | Relation::RightOf => [Relation::Above, Relation::Below],
        Relation::Above | Relation::Below => [Relation::LeftOf, Relation::RightOf],
    };
    relation.strength(&pa, &pb) >= strength && perpendicular.iter().all(|p| !p.holds(&pa, &pb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_large_objects_and_relations_are_placed() {
        let mut rng = ShapesRng::new(11);
        for _ in 0..50 {
            let items: Vec<Item> =
                Shape::ALL.iter().map(|&shape| Item { shape, colour: Colour::Red, size: Size::Large }).collect();
            let cons = [Constraint { a: 0, relation: Relation::Above, b: 1 }];
            let scene = layout(&items, &cons, &mut rng).expect("four objects fit");
            assert!(scene.is_valid());
            assert!(Relation::Above.holds(&scene.objects[0].placed(), &scene.objects[1].placed()));
        }
    }

    #[test]
    fn contains_matches_the_ideal_fill_ratios() {
        for (shape, fill) in
            [(Shape::Circle, 0.785), (Shape::Square, 1.0), (Shape::Triangle, 0.5), (Shape::Cross, 0.556)]
        {
            let o = Object { shape, colour: Colour::Blue, size: Size::Large, x: 0.5, y: 0.5 };
            let [x0, y0, _, _] = o.bbox();
            let n = 400;
            let mut inside = 0;
            for i in 0..n {
                for j in 0..n {
                    let s = o.side();
                    inside +=
                        o.contains(x0 + s * (i as f64 + 0.5) / n as f64, y0 + s * (j as f64 + 0.5) / n as f64) as usize;
                }
            }
            let got = inside as f64 / (n * n) as f64;
            assert!((got - fill).abs() < 0.01, "{shape:?}: {got}");
        }
    }
}
