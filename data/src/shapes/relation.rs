//! Spatial relations and GenEval's rule for deciding them.
//!
//! GenEval (`djghosh13/geneval: evaluation/evaluate_images.py`, `relative_position`) compares two
//! objects per axis, in pixel units, after shrinking the offset by a margin proportional to the
//! objects' sizes. We use the same rule with the objects' centroids (mean pixel coordinates, x to
//! the right, y down) in place of box centres; the scene sampler asks for a stronger margin than
//! the rule so that ground-truth renders pass it with room to spare.

use serde::{Deserialize, Serialize};

/// A relation "X `relation` Y", e.g. "a circle left of a square".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    LeftOf,
    RightOf,
    Above,
    Below,
}

/// GenEval's margin factor: the offset is shrunk by 0.1 × the sum of both objects' box sizes.
pub const POSITION_THRESHOLD: f64 = 0.1;

/// Where an object is, for the relation rule: its centroid and the size of its bounding box, in
/// any one unit (pixels for the evaluator, image fractions for the sampler).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub cx: f64,
    pub cy: f64,
    pub w: f64,
    pub h: f64,
}

impl Relation {
    /// Every relation.
    pub const ALL: [Relation; 4] = [Relation::LeftOf, Relation::RightOf, Relation::Above, Relation::Below];

    /// The short phrase ("left of", "above").
    pub fn phrase(self) -> &'static str {
        match self {
            Relation::LeftOf => "left of",
            Relation::RightOf => "right of",
            Relation::Above => "above",
            Relation::Below => "below",
        }
    }

    /// The relation seen from the other object: X left of Y ⇔ Y right of X.
    pub fn converse(self) -> Relation {
        match self {
            Relation::LeftOf => Relation::RightOf,
            Relation::RightOf => Relation::LeftOf,
            Relation::Above => Relation::Below,
            Relation::Below => Relation::Above,
        }
    }

    /// How strongly `a` stands in this relation to `b`: GenEval's normalised revised offset
    /// along the relation's direction, in [−1, 1]. The relation holds when it exceeds 0.5.
    ///
    /// With o = c_a − c_b and s = box sizes, per axis:
    /// revised = max(|o| − 0.1·(s_a + s_b), 0)·sign(o), and (dx, dy) = revised / ‖o‖.
    /// If every |revised| < 1e-3 there is no relation at all and the strength is 0.
    pub fn strength(self, a: &Placed, b: &Placed) -> f64 {
        let (ox, oy) = (a.cx - b.cx, a.cy - b.cy);
        let revise = |o: f64, sa: f64, sb: f64| (o.abs() - POSITION_THRESHOLD * (sa + sb)).max(0.0) * o.signum();
        let (rx, ry) = (revise(ox, a.w, b.w), revise(oy, a.h, b.h));
        if rx.abs() < 1e-3 && ry.abs() < 1e-3 {
            return 0.0;
        }
        let norm = (ox * ox + oy * oy).sqrt();
        let (dx, dy) = (rx / norm, ry / norm);
        match self {
            Relation::LeftOf => -dx,
            Relation::RightOf => dx,
            Relation::Above => -dy,
            Relation::Below => dy,
        }
    }

    /// GenEval's decision: does `a` stand in this relation to `b`?
    pub fn holds(self, a: &Placed, b: &Placed) -> bool {
        self.strength(a, b) > 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cx: f64, cy: f64) -> Placed {
        Placed { cx, cy, w: 4.0, h: 4.0 }
    }

    #[test]
    fn geneval_rule_on_hand_cases() {
        let (a, b) = (at(2.0, 10.0), at(20.0, 10.0));
        assert!(Relation::LeftOf.holds(&a, &b));
        assert!(Relation::RightOf.holds(&b, &a));
        assert!(!Relation::Above.holds(&a, &b) && !Relation::Below.holds(&a, &b));
        // Diagonal at 45°: revised offsets 18 − 0.8 each over ‖o‖ = 25.46 give 0.675 on both axes.
        let c = at(20.0, 28.0);
        assert!(Relation::LeftOf.holds(&a, &c) && Relation::Above.holds(&a, &c));
        // Offsets inside the margin: no relation.
        assert_eq!(Relation::LeftOf.strength(&at(10.0, 10.0), &at(10.5, 10.2)), 0.0);
        for r in Relation::ALL {
            assert_eq!(r.converse().converse(), r);
            assert!((r.strength(&a, &c) - r.converse().strength(&c, &a)).abs() < 1e-12);
        }
    }
}
