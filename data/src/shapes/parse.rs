//! The parser from caption text back to its [`Meaning`], for the grammar in `grammar.rs`.
//! A recursive-descent reader over the normalised words; every failure is an [`Error`] that says
//! which word was wrong and what was expected.

use super::grammar::{Clause, Meaning};
use super::palette::{Colour, Shape};
use super::relation::Relation;
use super::tokenizer::{normalise, unknown_word, word_id};
use crate::error::{Error, Result};

/// Parses `text` into its meaning.
pub fn parse_meaning(text: &str) -> Result<Meaning> {
    let words = normalise(text);
    if words.is_empty() {
        return Err(Error::EmptyPrompt);
    }
    if let Some(w) = words.iter().find(|w| word_id(w).is_none()) {
        return Err(unknown_word(w));
    }
    let mut p = Parser { words: &words, pos: 0, text: words.join(" ") };
    p.prefix();
    let first = p.clause()?;
    let meaning = if p.at_end() {
        Meaning { clauses: vec![first], relation: None }
    } else {
        let relation = p.link()?;
        let second = p.clause()?;
        if !p.at_end() {
            return Err(p.error(&format!("unexpected \"{}\" after the second object", p.words[p.pos])));
        }
        if first.shape == second.shape {
            return Err(p.error(&format!(
                "the two objects must be different shapes (both are {}s); say \"two {}s\" to count them",
                first.shape.name(),
                first.shape.name()
            )));
        }
        Meaning { clauses: vec![first, second], relation }
    };
    Ok(meaning)
}

struct Parser<'a> {
    words: &'a [String],
    pos: usize,
    text: String,
}

impl Parser<'_> {
    fn error(&self, msg: &str) -> Error {
        Error::Parse { prompt: self.text.clone(), msg: msg.to_string() }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.words.len()
    }

    fn peek(&self, k: usize) -> Option<&str> {
        self.words.get(self.pos + k).map(String::as_str)
    }

    /// What the next word is, for error messages.
    fn found(&self) -> String {
        self.peek(0).map_or("the end of the prompt".to_string(), |w| format!("\"{w}\""))
    }

    /// Skips "a photo of" / "an image of" / "a picture of".
    fn prefix(&mut self) {
        if matches!(self.peek(0), Some("a" | "an"))
            && matches!(self.peek(1), Some("photo" | "image" | "picture"))
            && self.peek(2) == Some("of")
        {
            self.pos += 3;
        }
    }

    /// number [colour] noun.
    fn clause(&mut self) -> Result<Clause> {
        let count = match self.peek(0) {
            Some("a" | "an" | "one") => 1,
            Some("two") => 2,
            Some("three") => 3,
            Some("four") => 4,
            _ => {
                return Err(self.error(&format!(
                    "expected a number word (a, an, one, two, three, four) to start an object, found {}",
                    self.found()
                )))
            }
        };
        let number = self.words[self.pos].clone();
        self.pos += 1;
        let colour = self.peek(0).and_then(|w| Colour::ALL.into_iter().find(|c| c.name() == w));
        if colour.is_some() {
            self.pos += 1;
        }
        let noun = self.peek(0).unwrap_or("");
        let singular = Shape::ALL.into_iter().find(|s| s.name() == noun);
        let plural = Shape::ALL.into_iter().find(|s| s.plural() == noun);
        let shape = match (singular, plural, count) {
            (Some(s), _, 1) | (_, Some(s), 2..) => s,
            (Some(s), _, _) => {
                return Err(self.error(&format!("\"{number}\" needs the plural \"{}\", not \"{noun}\"", s.plural())))
            }
            (_, Some(s), _) => {
                return Err(self.error(&format!("\"{number}\" needs the singular \"{}\", not \"{noun}\"", s.name())))
            }
            _ => {
                let what = if colour.is_some() { "a shape" } else { "a colour or a shape" };
                return Err(self.error(&format!("expected {what} after \"{number}\", found {}", self.found())));
            }
        };
        self.pos += 1;
        Ok(Clause { shape, colour, count })
    }

    /// "and" (no relation) or a relation phrase.
    fn link(&mut self) -> Result<Option<Relation>> {
        let expected = "expected \"and\" or a relation (left of, to the left of, right of, above, over, below, under, \
                        beneath) after the first object";
        let start = self.pos;
        // Optional "to the" / "on the" before left/right.
        if matches!(self.peek(0), Some("to" | "on")) && self.peek(1) == Some("the") {
            self.pos += 2;
        }
        let took_article = self.pos > start;
        let relation = match self.peek(0) {
            Some("left") if self.peek(1) == Some("of") => Some(Relation::LeftOf),
            Some("right") if self.peek(1) == Some("of") => Some(Relation::RightOf),
            Some("and") if !took_article => None,
            Some("above" | "over") if !took_article => Some(Relation::Above),
            Some("below" | "under" | "beneath") if !took_article => Some(Relation::Below),
            _ => return Err(self.error(&format!("{expected}, found {}", self.found()))),
        };
        self.pos += if matches!(relation, Some(Relation::LeftOf | Relation::RightOf)) { 2 } else { 1 };
        Ok(relation)
    }
}
