//! Fixed evaluation prompt sets, generated deterministically like GenEval's 553 prompts.
//!
//! Per family we enumerate every meaning of the evaluation convention, shuffle the meanings
//! with a fixed seed, and write each out in all its distinct phrasings (also shuffled). Prompts
//! are then taken round-robin — every meaning once before any meaning twice — until the family's
//! quota is met or the texts run out; texts are de-duplicated.
//!
//! The evaluation convention follows GenEval's templates: `counting` names no colour ("three
//! triangles"), `position` names a colour per object ("a red circle left of a blue square"),
//! `color_attr` and `position` use two different colours, two-object families two different
//! shapes. Meanings with a held-out combination go to the separate `geneval_heldout` set.
//!
//! | set | per family | families × prompts |
//! |---|---|---|
//! | `geneval` | ≤ 90 | single 32, two 90, counting 48, colors 90, position 90, color_attr 90 (440) |
//! | `geneval_small` | ≤ 16 | the first 16 of each `geneval` family (96) |
//! | `geneval_heldout` | ≤ 30 | colors, position and color_attr prompts using held-out combinations |

use super::grammar::{Clause, Family, Meaning, Phrasing, Prompt};
use super::palette::{Colour, Shape};
use super::relation::Relation;
use super::rng::ShapesRng;
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashSet};

/// The seed all prompt sets are generated from.
pub const PROMPT_SEED: u64 = 2025;

/// The names [`prompt_set`] knows.
pub const PROMPT_SET_NAMES: [&str; 3] = ["geneval", "geneval_small", "geneval_heldout"];

/// A named, fixed list of evaluation prompts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptSet {
    pub name: String,
    /// Whether every prompt uses a held-out combination (the labelled held-out subset).
    pub heldout: bool,
    /// The prompts, grouped by family in [`Family::ALL`] order.
    pub prompts: Vec<Prompt>,
}

impl PromptSet {
    /// Number of prompts per family (families without prompts are left out).
    pub fn family_counts(&self) -> BTreeMap<Family, usize> {
        let mut out = BTreeMap::new();
        for p in &self.prompts {
            *out.entry(p.family()).or_insert(0) += 1;
        }
        out
    }
}

/// The prompt set with this name (see [`PROMPT_SET_NAMES`]).
pub fn prompt_set(name: &str) -> Result<PromptSet> {
    let (per_family, heldout) = match name {
        "geneval" => (90, false),
        "geneval_small" => (16, false),
        "geneval_heldout" => (30, true),
        _ => {
            return Err(Error::UnknownName {
                kind: "prompt set",
                name: name.to_string(),
                known: PROMPT_SET_NAMES.iter().map(|s| s.to_string()).collect(),
            })
        }
    };
    let mut prompts = Vec::new();
    for family in Family::ALL {
        prompts.extend(family_prompts(family, heldout, per_family, PROMPT_SEED));
    }
    Ok(PromptSet { name: name.to_string(), heldout, prompts })
}

/// Every meaning of `family` under the evaluation convention, in a fixed order.
pub fn family_meanings(family: Family) -> Vec<Meaning> {
    let one = |shape, colour| Clause { shape, colour, count: 1 };
    let shape_pairs: Vec<(Shape, Shape)> =
        Shape::ALL.iter().flat_map(|&a| Shape::ALL.iter().filter(move |&&b| b != a).map(move |&b| (a, b))).collect();
    let colour_pairs: Vec<(Colour, Colour)> =
        Colour::ALL.iter().flat_map(|&a| Colour::ALL.iter().filter(move |&&b| b != a).map(move |&b| (a, b))).collect();
    let mut out = Vec::new();
    match family {
        Family::SingleObject => out.extend(Shape::ALL.map(|s| Meaning::single(s, None, 1))),
        Family::Counting => {
            for s in Shape::ALL {
                out.extend((2..=4).map(|n| Meaning::single(s, None, n)));
            }
        }
        Family::Colors => {
            for s in Shape::ALL {
                out.extend(Colour::ALL.map(|c| Meaning::single(s, Some(c), 1)));
            }
        }
        Family::TwoObject => {
            out.extend(shape_pairs.iter().map(|&(a, b)| Meaning::pair(one(a, None), one(b, None), None)))
        }
        Family::ColorAttr | Family::Position => {
            let relations: &[Option<Relation>] = if family == Family::Position {
                &[Some(Relation::LeftOf), Some(Relation::RightOf), Some(Relation::Above), Some(Relation::Below)]
            } else {
                &[None]
            };
            for &(a, b) in &shape_pairs {
                for &(ca, cb) in &colour_pairs {
                    for &r in relations {
                        out.push(Meaning::pair(one(a, Some(ca)), one(b, Some(cb)), r));
                    }
                }
            }
        }
    }
    out
}

/// Up to `quota` prompts of `family`, held-out ones or in-distribution ones.
fn family_prompts(family: Family, heldout: bool, quota: usize, seed: u64) -> Vec<Prompt> {
    let mut rng = ShapesRng::for_item(seed, family as u64);
    let mut meanings: Vec<Meaning> =
        family_meanings(family).into_iter().filter(|m| m.heldout().is_some() == heldout).collect();
    rng.shuffle(&mut meanings);
    // Every distinct text of each meaning, shuffled.
    let texts: Vec<Vec<String>> = meanings
        .iter()
        .map(|m| {
            let mut seen = HashSet::new();
            let mut t: Vec<String> =
                Phrasing::all().iter().map(|p| m.caption(p)).filter(|t| seen.insert(t.clone())).collect();
            rng.shuffle(&mut t);
            t
        })
        .collect();
    let rounds = texts.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    'fill: for r in 0..rounds {
        for (m, t) in meanings.iter().zip(&texts) {
            if out.len() >= quota {
                break 'fill;
            }
            if let Some(text) = t.get(r).filter(|text| seen.insert((*text).clone())) {
                out.push(Prompt { text: text.clone(), meaning: m.clone() });
            }
        }
    }
    out
}
