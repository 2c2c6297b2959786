//! GenEval's rules on the parsed image (`djghosh13/geneval: evaluation/evaluate_images.py`).
//!
//! For each clause "count × (colour) shape" of the prompt, in order:
//! 1. the candidates are the components classified as that shape, of any colour, largest area
//!    first (GenEval takes the most confident detections; area is our proxy);
//! 2. include: at least `count` candidates; for a count of 2–4 also exclude: no more than
//!    `count` (GenEval's counting rule);
//! 3. the first `count` candidates are the clause's *matched* objects; with a colour, every
//!    matched object must have it;
//! 4. with a relation, every matched object of the first clause must stand in it to every matched
//!    object of the second ([`Relation::holds`], GenEval's `relative_position`).
//!
//! An image is correct iff every rule holds; the verdict names the first one that does not.

use super::Analysis;
use data::shapes::{Meaning, Relation};

/// Whether an image satisfies its prompt, and if not, why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub correct: bool,
    /// "ok", or the first failed rule in words ("want exactly 3 triangles, found 4").
    pub reason: String,
}

impl Verdict {
    fn fail(reason: String) -> Verdict {
        Verdict { correct: false, reason }
    }
}

/// Applies the rules of `meaning` to an analysed image.
pub fn check(analysis: &Analysis, meaning: &Meaning) -> Verdict {
    let mut matched: Vec<Vec<usize>> = Vec::with_capacity(meaning.clauses.len());
    for clause in &meaning.clauses {
        let noun = |n: usize| if n == 1 { clause.shape.name() } else { clause.shape.plural() };
        let mut found: Vec<usize> =
            (0..analysis.detections.len()).filter(|&i| analysis.detections[i].shape == Some(clause.shape)).collect();
        // Stable: equal areas keep scan order, so the choice is deterministic.
        found.sort_by_key(|&i| std::cmp::Reverse(analysis.detections[i].component.area));
        let n = clause.count;
        if found.len() < n {
            return Verdict::fail(format!("want {} {}, found {}", at_least(n), noun(n), found.len()));
        }
        if n >= 2 && found.len() > n {
            return Verdict::fail(format!("want exactly {n} {}, found {}", noun(n), found.len()));
        }
        found.truncate(n);
        if let Some(colour) = clause.colour {
            if let Some(&bad) = found.iter().find(|&&i| analysis.detections[i].component.colour != colour) {
                let got = analysis.detections[bad].component.colour.name();
                let which = if n == 1 { "the largest" } else { "a matched" };
                return Verdict::fail(format!("{which} {} is {got}, want {}", clause.shape.name(), colour.name()));
            }
        }
        matched.push(found);
    }
    if let (Some(relation), [xs, ys]) = (meaning.relation, matched.as_slice()) {
        for &x in xs {
            for &y in ys {
                let (a, b) = (&analysis.detections[x].component, &analysis.detections[y].component);
                if !relation.holds(&a.placed(), &b.placed()) {
                    return Verdict::fail(format!(
                        "the {} at ({:.1}, {:.1}) is not {} the {} at ({:.1}, {:.1}) (strength {:.2} ≤ 0.5)",
                        meaning.clauses[0].shape.name(),
                        a.centroid.0,
                        a.centroid.1,
                        relation.phrase(),
                        meaning.clauses[1].shape.name(),
                        b.centroid.0,
                        b.centroid.1,
                        Relation::strength(relation, &a.placed(), &b.placed()),
                    ));
                }
            }
        }
    }
    Verdict { correct: true, reason: "ok".to_string() }
}

fn at_least(n: usize) -> String {
    if n == 1 {
        "at least 1".to_string()
    } else {
        format!("exactly {n}")
    }
}
