//! The world's vocabulary of things: four shapes, six colours on a fixed dark background, two
//! sizes. Colours are chosen far apart in hue and brightness so that both a person and the
//! rule-based evaluator (which fits each pixel as a blend of one colour with the background)
//! tell them apart, even on anti-aliased edges.

use serde::{Deserialize, Serialize};

/// A shape. All shapes are axis-aligned and drawn inside a square box of side `size`:
/// - `Circle`: the inscribed disc (fills π/4 ≈ 0.785 of its box);
/// - `Square`: the whole box (fill 1.0);
/// - `Triangle`: apex at the top centre, base along the bottom edge (fill 0.5, centroid at 2/3 of
///   the height from the apex, i.e. below the box centre);
/// - `Cross`: a plus sign with arms one third of the box wide (fill 5/9 ≈ 0.556, empty corners).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Cross,
}

impl Shape {
    /// Every shape, in class-index order.
    pub const ALL: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Cross];

    /// The singular noun ("circle").
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Cross => "cross",
        }
    }

    /// The plural noun ("crosses").
    pub fn plural(self) -> &'static str {
        match self {
            Shape::Circle => "circles",
            Shape::Square => "squares",
            Shape::Triangle => "triangles",
            Shape::Cross => "crosses",
        }
    }

    /// Position in [`Shape::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A palette colour. RGB values are in 0..=255; the renderer maps them to [−1, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Red,
    Yellow,
    Green,
    Blue,
    Purple,
    White,
}

impl Colour {
    /// Every colour, in class-index order.
    pub const ALL: [Colour; 6] =
        [Colour::Red, Colour::Yellow, Colour::Green, Colour::Blue, Colour::Purple, Colour::White];

    /// The adjective ("red").
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Yellow => "yellow",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Purple => "purple",
            Colour::White => "white",
        }
    }

    /// The colour as 8-bit RGB.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [228, 48, 48],
            Colour::Yellow => [240, 212, 40],
            Colour::Green => [48, 184, 72],
            Colour::Blue => [48, 104, 240],
            Colour::Purple => [168, 72, 220],
            Colour::White => [240, 240, 240],
        }
    }

    /// The colour in the renderer's value range: `v / 127.5 − 1` per channel, in [−1, 1].
    pub fn value(self) -> [f32; 3] {
        to_unit(self.rgb())
    }

    /// Position in [`Colour::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The fixed dark background, 8-bit RGB.
pub const BACKGROUND_RGB: [u8; 3] = [20, 20, 28];

/// The background in the renderer's value range [−1, 1].
pub fn background_value() -> [f32; 3] {
    to_unit(BACKGROUND_RGB)
}

fn to_unit(rgb: [u8; 3]) -> [f32; 3] {
    rgb.map(|v| v as f32 / 127.5 - 1.0)
}

/// An object's size class. The side of its box, as a fraction of the image side, is
/// [`Size::fraction`]: 0.30 (≈ 9.6 px at 32×32) or 0.42 (≈ 13.4 px).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    Small,
    Large,
}

impl Size {
    /// Both sizes.
    pub const ALL: [Size; 2] = [Size::Small, Size::Large];

    /// Box side as a fraction of the image side.
    pub fn fraction(self) -> f64 {
        match self {
            Size::Small => 0.30,
            Size::Large => 0.42,
        }
    }
}
