//! The evaluation report: per-family accuracy, the overall mean of family accuracies (GenEval's
//! headline number), the share of prompts with at least one correct image, the off-palette
//! monitor, and the list of misses.

use data::shapes::Family;
use std::collections::BTreeMap;

/// One incorrect image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    /// Index of the image in the evaluated batch.
    pub index: usize,
    pub prompt: String,
    /// The first failed rule, in words.
    pub reason: String,
}

/// The result of scoring a batch of images against their prompts.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Accuracy per family tag ("single_object", ...), over the families present.
    pub per_family: BTreeMap<String, f64>,
    /// Number of images per family tag.
    pub family_n: BTreeMap<String, usize>,
    /// Unweighted mean of the family accuracies (GenEval's overall score).
    pub overall: f64,
    /// Number of images scored.
    pub n: usize,
    /// Fraction of distinct prompts with at least one correct image (GenEval's "% correct
    /// prompts" when each prompt has several samples).
    pub prompt_accuracy: f64,
    /// Mean fraction of off-palette pixels per image (a reward-hacking monitor; 0 on renders).
    pub off_palette_fraction: f64,
    /// Every incorrect image, in batch order.
    pub misses: Vec<Miss>,
}

impl Report {
    /// Builds a report from per-image results `(prompt text, family, correct, reason,
    /// off-palette fraction)`. `results` must not be empty.
    pub(crate) fn from_results(results: &[(String, Family, bool, String, f64)]) -> Report {
        let mut hits: BTreeMap<Family, (usize, usize)> = BTreeMap::new();
        let mut prompts: BTreeMap<&str, bool> = BTreeMap::new();
        let mut misses = Vec::new();
        for (index, (prompt, family, correct, reason, _)) in results.iter().enumerate() {
            let e = hits.entry(*family).or_insert((0, 0));
            e.0 += *correct as usize;
            e.1 += 1;
            *prompts.entry(prompt.as_str()).or_insert(false) |= *correct;
            if !correct {
                misses.push(Miss { index, prompt: prompt.clone(), reason: reason.clone() });
            }
        }
        let per_family: BTreeMap<String, f64> =
            hits.iter().map(|(f, &(c, n))| (f.name().to_string(), c as f64 / n as f64)).collect();
        let family_n = hits.iter().map(|(f, &(_, n))| (f.name().to_string(), n)).collect();
        let n = results.len();
        Report {
            overall: per_family.values().sum::<f64>() / per_family.len().max(1) as f64,
            per_family,
            family_n,
            n,
            prompt_accuracy: prompts.values().filter(|&&c| c).count() as f64 / prompts.len().max(1) as f64,
            off_palette_fraction: results.iter().map(|r| r.4).sum::<f64>() / n.max(1) as f64,
            misses,
        }
    }

    /// `{"families": {"single_object": 0.99, ...}, "overall": 0.98, "n": 1760, "family_n": {...},
    /// "prompt_accuracy": ..., "off_palette_fraction": ..., "misses": <count>}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "families": self.per_family,
            "overall": self.overall,
            "n": self.n,
            "family_n": self.family_n,
            "prompt_accuracy": self.prompt_accuracy,
            "off_palette_fraction": self.off_palette_fraction,
            "misses": self.misses.len(),
        })
        .to_string()
    }
}

/// A table with one row per family present, in GenEval's order, then the overall score.
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:<14} {:>8} {:>6}", "family", "accuracy", "n")?;
        for fam in Family::ALL {
            if let (Some(acc), Some(n)) = (self.per_family.get(fam.name()), self.family_n.get(fam.name())) {
                writeln!(f, "{:<14} {:>8.3} {:>6}", fam.name(), acc, n)?;
            }
        }
        writeln!(f, "{:<14} {:>8.3} {:>6}", "overall", self.overall, self.n)?;
        write!(
            f,
            "prompts with a correct image: {:.3}; off-palette pixels: {:.4}",
            self.prompt_accuracy, self.off_palette_fraction
        )
    }
}
