//! A word-level tokenizer over the caption grammar's vocabulary.
//!
//! Text is normalised first: lower-cased and split on whitespace and the punctuation
//! `. , ; : ! ?` (which is dropped). Each word maps to its index in [`VOCAB`]; the sequence starts
//! with `<cls>` (the text encoder pools it) and is padded with `<pad>` to `max_len`:
//!
//! ```text
//! "a red circle"  →  [<cls>, a, red, circle, <pad>, <pad>, ...]   length max_len
//! ```
//!
//! An unknown word is an error naming the word and the three closest known words by edit
//! distance; an empty prompt and one longer than `max_len − 1` words are errors too.

use crate::error::{Error, Result};
use tensor::Tensor;

/// The vocabulary. Index 0 is padding, index 1 the `<cls>` token that starts every sequence.
pub const VOCAB: [&str; 37] = [
    "<pad>",
    "<cls>", // specials
    "a",
    "an",
    "one",
    "two",
    "three",
    "four", // numbers
    "photo",
    "image",
    "picture",
    "of", // prefixes
    "and",
    "to",
    "on",
    "the",
    "left",
    "right",
    "above",
    "over",
    "below",
    "under",
    "beneath", // links
    "red",
    "yellow",
    "green",
    "blue",
    "purple",
    "white", // colours
    "circle",
    "circles",
    "square",
    "squares",
    "triangle",
    "triangles",
    "cross",
    "crosses", // shapes
];

/// Token id of padding.
pub const PAD: u32 = 0;
/// Token id of `<cls>`, the first token of every sequence.
pub const CLS: u32 = 1;
/// Default sequence length (including `<cls>`): the longest caption has 13 words.
pub const DEFAULT_MAX_LEN: usize = 16;

/// Lower-cases `text` and splits it into words on whitespace and `. , ; : ! ?`.
pub fn normalise(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || ".,;:!?".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The id of a known word.
pub fn word_id(word: &str) -> Option<u32> {
    VOCAB.iter().skip(2).position(|&w| w == word).map(|i| i as u32 + 2)
}

/// The unknown-word error for `word`: the three closest words of the vocabulary (specials
/// excluded), nearest first, ties in vocabulary order.
pub fn unknown_word(word: &str) -> Error {
    let mut ranked: Vec<(usize, &str)> = VOCAB.iter().skip(2).map(|&w| (edit_distance(word, w), w)).collect();
    ranked.sort_by_key(|&(d, _)| d); // stable: ties keep vocabulary order
    Error::UnknownWord {
        word: word.to_string(),
        suggestions: ranked.iter().take(3).map(|(_, w)| w.to_string()).collect(),
    }
}

/// Word-level tokenizer with a fixed sequence length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokenizer {
    max_len: usize,
}

/// One encoded prompt: `ids` has length `max_len`; `len` counts `<cls>` and the words (the rest
/// is padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub len: usize,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer { max_len: DEFAULT_MAX_LEN }
    }
}

impl Tokenizer {
    /// A tokenizer producing sequences of `max_len` ids (at least 2: `<cls>` and one word).
    pub fn new(max_len: usize) -> Result<Tokenizer> {
        if max_len < 2 {
            return Err(Error::InvalidArgument {
                what: "tokenizer",
                msg: format!("max_len {max_len} must be at least 2"),
            });
        }
        Ok(Tokenizer { max_len })
    }

    /// Sequence length, `<cls>` and padding included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Number of distinct ids (the embedding table's rows).
    pub fn vocab_size(&self) -> usize {
        VOCAB.len()
    }

    /// The word ids of `text`, without `<cls>` or padding.
    pub fn words(&self, text: &str) -> Result<Vec<u32>> {
        let words = normalise(text);
        if words.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let max = self.max_len - 1;
        if words.len() > max {
            return Err(Error::PromptTooLong { words: words.len(), max, max_len: self.max_len });
        }
        words.iter().map(|w| word_id(w).ok_or_else(|| unknown_word(w))).collect()
    }

    /// `[<cls>, words..., <pad>...]` of length `max_len`.
    pub fn encode(&self, text: &str) -> Result<Encoded> {
        let words = self.words(text)?;
        let mut ids = Vec::with_capacity(self.max_len);
        ids.push(CLS);
        ids.extend(&words);
        let len = ids.len();
        ids.resize(self.max_len, PAD);
        Ok(Encoded { ids, len })
    }

    /// Encodes a batch into an i64 id tensor [N, max_len] and a u8 mask [N, max_len]
    /// (1 on `<cls>` and words, 0 on padding).
    pub fn encode_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<(Tensor, Tensor)> {
        let n = texts.len();
        let mut ids = Vec::with_capacity(n * self.max_len);
        let mut mask = Vec::with_capacity(n * self.max_len);
        for t in texts {
            let e = self.encode(t.as_ref())?;
            ids.extend(e.ids.iter().map(|&i| i as i64));
            mask.extend((0..self.max_len).map(|k| (k < e.len) as u8));
        }
        Ok((Tensor::from_vec(ids, &[n, self.max_len])?, Tensor::from_vec(mask, &[n, self.max_len])?))
    }

    /// The words of a sequence, specials dropped; an out-of-range id reads as `<?>`.
    pub fn decode(&self, ids: &[u32]) -> String {
        let words: Vec<&str> = ids
            .iter()
            .filter(|&&i| i != PAD && i != CLS)
            .map(|&i| VOCAB.get(i as usize).copied().unwrap_or("<?>"))
            .collect();
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_hand_cases() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("blu", "blue"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn vocabulary_has_no_duplicates() {
        let mut v = VOCAB.to_vec();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), VOCAB.len());
    }
}
