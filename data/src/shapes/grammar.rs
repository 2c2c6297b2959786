//! The caption grammar: what a prompt means ([`Meaning`]), which GenEval family it belongs to
//! ([`Family`]), and how a meaning is written out in one of several phrasings ([`Phrasing`]).
//!
//! ```text
//! caption  := [prefix] clause [link clause]
//! prefix   := ("a" | "an") ("photo" | "image" | "picture") "of"
//! clause   := number [colour] noun          -- "a red circle", "three triangles"
//! number   := "a" | "an" | "one"            -- count 1, singular noun
//!           | "two" | "three" | "four"      -- count 2..4, plural noun
//! link     := "and"
//!           | ["to" | "on"] "the" ("left" | "right") "of" | ("left" | "right") "of"
//!           | "above" | "over" | "below" | "under" | "beneath"
//! ```
//!
//! A count of 1 means "at least one"; a count of 2–4 means "exactly that many" (GenEval's
//! counting rule). The parser lives in `parse.rs`, the vocabulary in `tokenizer.rs`.

use super::palette::{Colour, Shape};
use super::relation::Relation;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The six GenEval task families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// "a circle": at least one X.
    SingleObject,
    /// "a circle and a square": at least one X and one Y, X ≠ Y.
    TwoObject,
    /// "three triangles": exactly N of X, N ∈ {2, 3, 4} (a colour is optional).
    Counting,
    /// "a red circle": the largest X has the colour.
    Colors,
    /// "a red circle left of a blue square": X at the relation to Y (colours optional).
    Position,
    /// "a red circle and a blue square": each object with its own colour.
    ColorAttr,
}

impl Family {
    /// Every family, in GenEval's order.
    pub const ALL: [Family; 6] = [
        Family::SingleObject,
        Family::TwoObject,
        Family::Counting,
        Family::Colors,
        Family::Position,
        Family::ColorAttr,
    ];

    /// GenEval's tag ("single_object", ...).
    pub fn name(self) -> &'static str {
        match self {
            Family::SingleObject => "single_object",
            Family::TwoObject => "two_object",
            Family::Counting => "counting",
            Family::Colors => "colors",
            Family::Position => "position",
            Family::ColorAttr => "color_attr",
        }
    }

    /// The family with this tag.
    pub fn from_name(name: &str) -> Result<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| Error::UnknownName {
            kind: "family",
            name: name.to_string(),
            known: Family::ALL.iter().map(|f| f.name().to_string()).collect(),
        })
    }
}

/// One noun phrase: `count` objects of `shape`, all of `colour` when one is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Clause {
    pub shape: Shape,
    pub colour: Option<Colour>,
    /// 1 ("a", "one": at least one) or 2..=4 (exactly that many).
    pub count: usize,
}

/// The meaning of a caption: one or two clauses, and for two clauses an optional relation of the
/// first to the second ("first left of second"). Two clauses always name different shapes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Meaning {
    pub clauses: Vec<Clause>,
    pub relation: Option<Relation>,
}

/// Largest count a number word expresses.
pub const MAX_COUNT: usize = 4;

impl Meaning {
    /// One clause with no relation.
    pub fn single(shape: Shape, colour: Option<Colour>, count: usize) -> Meaning {
        Meaning { clauses: vec![Clause { shape, colour, count }], relation: None }
    }

    /// Two clauses, optionally related ("first `relation` second").
    pub fn pair(first: Clause, second: Clause, relation: Option<Relation>) -> Meaning {
        Meaning { clauses: vec![first, second], relation }
    }

    /// The family a meaning belongs to: a relation makes it `position`; two clauses are
    /// `color_attr` when any has a colour, else `two_object`; one clause is `counting` for a
    /// count of 2–4, else `colors` with a colour and `single_object` without.
    pub fn family(&self) -> Family {
        let coloured = self.clauses.iter().any(|c| c.colour.is_some());
        match (self.clauses.len(), self.relation) {
            (_, Some(_)) => Family::Position,
            (2, None) if coloured => Family::ColorAttr,
            (2, None) => Family::TwoObject,
            _ if self.clauses.first().is_some_and(|c| c.count >= 2) => Family::Counting,
            _ if coloured => Family::Colors,
            _ => Family::SingleObject,
        }
    }

    /// Total number of objects the caption asks for.
    pub fn object_count(&self) -> usize {
        self.clauses.iter().map(|c| c.count).sum()
    }

    /// Checks the invariants the parser guarantees: 1 or 2 clauses, counts in 1..=4, two
    /// clauses with different shapes, a relation only between two clauses.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::InvalidArgument { what: "caption meaning", msg: msg.to_string() });
        match self.clauses.as_slice() {
            [] => bad("a caption names at least one object"),
            [_] if self.relation.is_some() => bad("a relation needs two objects"),
            [a, b] if a.shape == b.shape => bad("the two objects must be different shapes"),
            c if c.len() > 2 => bad("a caption names at most two kinds of object"),
            c if c.iter().any(|c| c.count == 0 || c.count > MAX_COUNT) => bad("counts go from 1 to 4"),
            _ => Ok(()),
        }
    }

    /// Writes the meaning out in the given phrasing.
    pub fn caption(&self, phrasing: &Phrasing) -> String {
        let mut words: Vec<&str> = Vec::new();
        if let Some(prefix) = PREFIXES.get(phrasing.prefix).copied().flatten() {
            words.extend(prefix.split(' '));
        }
        for (k, clause) in self.clauses.iter().enumerate() {
            if k == 1 {
                let rel = match self.relation {
                    None => "and",
                    Some(r) => {
                        let forms = relation_forms(r);
                        forms[phrasing.relation % forms.len()]
                    }
                };
                words.extend(rel.split(' '));
            }
            words.push(number_word(clause.count, phrasing.one));
            if let Some(c) = clause.colour {
                words.push(c.name());
            }
            words.push(if clause.count == 1 { clause.shape.name() } else { clause.shape.plural() });
        }
        words.join(" ")
    }
}

/// Optional openings of a caption (index 0: none).
pub const PREFIXES: [Option<&str>; 4] = [None, Some("a photo of"), Some("an image of"), Some("a picture of")];

/// The ways of writing each relation; the first is the canonical short form.
pub fn relation_forms(r: Relation) -> &'static [&'static str] {
    match r {
        Relation::LeftOf => &["left of", "to the left of", "on the left of"],
        Relation::RightOf => &["right of", "to the right of", "on the right of"],
        Relation::Above => &["above", "over"],
        Relation::Below => &["below", "under", "beneath"],
    }
}

/// The number word for a count; count 1 is "a" or, with `one`, "one".
fn number_word(count: usize, one: bool) -> &'static str {
    match count {
        1 if one => "one",
        1 => "a",
        2 => "two",
        3 => "three",
        _ => "four",
    }
}

/// How a meaning is worded. Every field is an index into a list of equivalent forms, so all
/// phrasings of a meaning parse back to the same meaning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phrasing {
    /// Index into [`PREFIXES`] (0: no prefix).
    pub prefix: usize,
    /// Write a count of 1 as "one" instead of "a".
    pub one: bool,
    /// Index into [`relation_forms`] (taken modulo the number of forms).
    pub relation: usize,
}

impl Phrasing {
    /// Every distinct phrasing: 4 prefixes × 2 articles × 3 relation forms.
    pub fn all() -> Vec<Phrasing> {
        let mut out = Vec::new();
        for prefix in 0..PREFIXES.len() {
            for one in [false, true] {
                for relation in 0..3 {
                    out.push(Phrasing { prefix, one, relation });
                }
            }
        }
        out
    }

    /// A random phrasing: no prefix half of the time, "a" three times in four, relation forms
    /// uniform (an index below 6 is uniform modulo both 2 and 3 forms).
    pub fn random(rng: &mut super::rng::ShapesRng) -> Phrasing {
        let prefix = if rng.bernoulli(0.5) { 0 } else { 1 + rng.below(PREFIXES.len() - 1) };
        Phrasing { prefix, one: rng.bernoulli(0.25), relation: rng.below(6) }
    }
}

/// A caption and its meaning.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prompt {
    /// The caption as written (normalised: lower case, single spaces).
    pub text: String,
    pub meaning: Meaning,
}

impl Prompt {
    /// Parses a caption (see the module docs for the grammar).
    pub fn parse(text: &str) -> Result<Prompt> {
        let meaning = super::parse::parse_meaning(text)?;
        Ok(Prompt { text: super::tokenizer::normalise(text).join(" "), meaning })
    }

    /// The prompt for a meaning in a given phrasing.
    pub fn from_meaning(meaning: Meaning, phrasing: &Phrasing) -> Result<Prompt> {
        meaning.validate()?;
        Ok(Prompt { text: meaning.caption(phrasing), meaning })
    }

    /// The prompt's GenEval family.
    pub fn family(&self) -> Family {
        self.meaning.family()
    }
}

impl std::fmt::Display for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
