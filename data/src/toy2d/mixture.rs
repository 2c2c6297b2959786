//! Isotropic Gaussian mixtures in 2-D: the exact density behind the ring, the grid and the moons.
//!
//! p(x) = Σ_k w_k · N(x; μ_k, σ²I), with one shared standard deviation σ. Everything a metric or
//! an oracle denoiser needs is closed form: log p (by log-sum-exp, stable far from every mode),
//! the score ∇ log p, and the density after adding Gaussian noise of standard deviation s, which
//! is the same mixture with σ replaced by √(σ² + s²).
use crate::error::{Error, Result};
use tensor::rng::{normal_at, uniform_at};

/// A 2-D mixture of isotropic Gaussians sharing one standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    means: Vec<[f64; 2]>,
    /// Normalised weights (they sum to 1).
    weights: Vec<f64>,
    std: f64,
    /// Running sums of the weights, for inverse-CDF choice of a component.
    cumulative: Vec<f64>,
}

impl GaussianMixture {
    /// A mixture with the given centres, weights (normalised here; they must be finite, ≥ 0 and
    /// not all zero) and common standard deviation `std` (> 0).
    pub fn new(means: Vec<[f64; 2]>, weights: Vec<f64>, std: f64) -> Result<Self> {
        let op = "GaussianMixture::new";
        if means.is_empty() || means.len() != weights.len() {
            return Err(Error::invalid(
                op,
                format!(
                    "need as many weights as means (at least one), got {} means and {} weights",
                    means.len(),
                    weights.len()
                ),
            ));
        }
        if !(std.is_finite() && std > 0.0) {
            return Err(Error::invalid(op, format!("std must be finite and positive, got {std}")));
        }
        if means.iter().any(|m| !(m[0].is_finite() && m[1].is_finite())) {
            return Err(Error::invalid(op, "every mean must be finite"));
        }
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(Error::invalid(op, format!("weights must be finite and non-negative, got {weights:?}")));
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(Error::invalid(op, "weights sum to zero"));
        }
        let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Ok(GaussianMixture { means, weights, std, cumulative })
    }

    /// The component centres μ_k.
    pub fn means(&self) -> &[[f64; 2]] {
        &self.means
    }
    /// The normalised weights w_k.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// The common standard deviation σ of every component.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// The log-weighted component log-densities log w_k + log N(x; μ_k, σ²I), and their maximum.
    fn component_logs(&self, x: [f64; 2]) -> (Vec<f64>, f64) {
        let var = self.std * self.std;
        let log_norm = -(2.0 * std::f64::consts::PI * var).ln();
        let mut max = f64::NEG_INFINITY;
        let logs: Vec<f64> = self
            .means
            .iter()
            .zip(&self.weights)
            .map(|(m, w)| {
                let (dx, dy) = (x[0] - m[0], x[1] - m[1]);
                let l = w.ln() + log_norm - (dx * dx + dy * dy) / (2.0 * var);
                max = max.max(l);
                l
            })
            .collect();
        (logs, max)
    }

    /// Exact log p(x), by log-sum-exp over the components. −∞ only for non-finite `x`.
    pub fn log_density(&self, x: [f64; 2]) -> f64 {
        let (logs, max) = self.component_logs(x);
        if !max.is_finite() {
            return max;
        }
        max + logs.iter().map(|l| (l - max).exp()).sum::<f64>().ln()
    }

    /// The posterior probability of each component given `x` (they sum to 1).
    pub fn responsibilities(&self, x: [f64; 2]) -> Vec<f64> {
        let (logs, max) = self.component_logs(x);
        let e: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    /// The score ∇ₓ log p(x) = Σ_k r_k(x) (μ_k − x) / σ², with r_k the responsibilities.
    pub fn score(&self, x: [f64; 2]) -> [f64; 2] {
        let var = self.std * self.std;
        let r = self.responsibilities(x);
        let mut g = [0.0; 2];
        for (m, rk) in self.means.iter().zip(&r) {
            g[0] += rk * (m[0] - x[0]) / var;
            g[1] += rk * (m[1] - x[1]) / var;
        }
        g
    }

    /// The law of x + s·n, n ~ N(0, I): the same mixture with σ → √(σ² + s²). This is the exact
    /// noisy marginal p_s that diffusion models learn.
    pub fn convolved(&self, s: f64) -> Result<Self> {
        if !(s.is_finite() && s >= 0.0) {
            return Err(Error::invalid("GaussianMixture::convolved", format!("noise std must be ≥ 0, got {s}")));
        }
        GaussianMixture::new(self.means.clone(), self.weights.clone(), (self.std * self.std + s * s).sqrt())
    }

    /// The component whose cumulative-weight interval holds `u` ∈ [0, 1).
    pub fn component_for(&self, u: f64) -> usize {
        let k = self.cumulative.partition_point(|&c| c <= u);
        k.min(self.means.len() - 1)
    }

    /// `n` exact samples with their component labels. Sample `i` takes its component from
    /// uniform number `i` of stream 0 and its noise from normals `2i`, `2i + 1` of stream 1 of
    /// `seed` (Philox), so any prefix of a larger draw is the smaller draw.
    pub fn sample_labeled(&self, n: usize, seed: u64) -> (Vec<[f64; 2]>, Vec<usize>) {
        let mut points = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let k = self.component_for(uniform_at(seed, 0, i));
            let m = self.means[k];
            points.push([m[0] + self.std * normal_at(seed, 1, 2 * i), m[1] + self.std * normal_at(seed, 1, 2 * i + 1)]);
            labels.push(k);
        }
        (points, labels)
    }
}

/// One Gamma(α, 1) draw by Marsaglia & Tsang (2000), from streams `3k`, `3k + 1`, `3k + 2` of
/// `seed`. For α < 1 it uses Gamma(α) = Gamma(α + 1) · U^{1/α}.
pub(crate) fn gamma_draw(alpha: f64, seed: u64, k: u64) -> f64 {
    let (s_norm, s_unif, s_boost) = (3 * k, 3 * k + 1, 3 * k + 2);
    let a = if alpha < 1.0 { alpha + 1.0 } else { alpha };
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    // Each try is accepted with probability > 0.95, so a thousand rejections in a row never
    // happen; the cap only keeps the loop provably finite (it then returns the mode d).
    let mut g = d;
    for i in 0..1000u64 {
        let x = normal_at(seed, s_norm, i);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = uniform_at(seed, s_unif, i);
        if (1.0 - u).ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            g = d * v;
            break;
        }
    }
    if alpha < 1.0 {
        g * (1.0 - uniform_at(seed, s_boost, 0)).powf(1.0 / alpha)
    } else {
        g
    }
}

/// `k` weights drawn from a symmetric Dirichlet(α) with `seed`: normalised Gamma(α) draws.
pub fn dirichlet_weights(k: usize, alpha: f64, seed: u64) -> Result<Vec<f64>> {
    if k == 0 || !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::invalid("dirichlet_weights", format!("need k ≥ 1 and α > 0, got k = {k}, α = {alpha}")));
    }
    let g: Vec<f64> = (0..k as u64).map(|j| gamma_draw(alpha, seed, j).max(f64::MIN_POSITIVE)).collect();
    let s: f64 = g.iter().sum();
    Ok(g.iter().map(|v| v / s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_component_matches_gaussian_formula() {
        let m = GaussianMixture::new(vec![[1.0, -2.0]], vec![3.0], 0.5).unwrap();
        let x = [1.3, -1.6];
        let want = -(2.0 * std::f64::consts::PI * 0.25).ln() - (0.09 + 0.16) / 0.5;
        assert!((m.log_density(x) - want).abs() < 1e-12);
        let s = m.score(x);
        assert!((s[0] + 0.3 / 0.25).abs() < 1e-12 && (s[1] + 0.4 / 0.25).abs() < 1e-12);
    }

    #[test]
    fn log_density_is_stable_far_away_and_score_matches_finite_differences() {
        let m = GaussianMixture::new(vec![[0.0, 0.0], [1.0, 0.0]], vec![0.3, 0.7], 0.05).unwrap();
        assert!(m.log_density([100.0, 100.0]).is_finite());
        let x = [0.4, 0.03];
        let h = 1e-6;
        let fd0 = (m.log_density([x[0] + h, x[1]]) - m.log_density([x[0] - h, x[1]])) / (2.0 * h);
        let fd1 = (m.log_density([x[0], x[1] + h]) - m.log_density([x[0], x[1] - h])) / (2.0 * h);
        let s = m.score(x);
        assert!((s[0] - fd0).abs() < 1e-4 * fd0.abs().max(1.0), "{s:?} vs {fd0}");
        assert!((s[1] - fd1).abs() < 1e-4 * fd1.abs().max(1.0), "{s:?} vs {fd1}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(GaussianMixture::new(vec![], vec![], 1.0).is_err());
        assert!(GaussianMixture::new(vec![[0.0, 0.0]], vec![1.0, 2.0], 1.0).is_err());
        assert!(GaussianMixture::new(vec![[0.0, 0.0]], vec![1.0], 0.0).is_err());
        assert!(GaussianMixture::new(vec![[0.0, 0.0]], vec![-1.0], 1.0).is_err());
        assert!(GaussianMixture::new(vec![[0.0, 0.0]], vec![0.0], 1.0).is_err());
        assert!(dirichlet_weights(0, 1.0, 0).is_err());
        assert!(dirichlet_weights(3, 0.0, 0).is_err());
    }

    #[test]
    fn gamma_draws_have_the_right_mean_and_variance() {
        for alpha in [0.5, 1.0, 2.0, 5.0] {
            let n = 20_000u64;
            let g: Vec<f64> = (0..n).map(|k| gamma_draw(alpha, 11, k)).collect();
            let mean = g.iter().sum::<f64>() / n as f64;
            let var = g.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
            assert!((mean - alpha).abs() < 0.05 * alpha.max(1.0), "α {alpha}: mean {mean}");
            assert!((var - alpha).abs() < 0.1 * alpha.max(1.0), "α {alpha}: var {var}");
        }
    }

    #[test]
    fn sample_labels_follow_weights() {
        let m = GaussianMixture::new(vec![[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]], vec![0.2, 0.5, 0.3], 0.1).unwrap();
        let (x, l) = m.sample_labeled(30_000, 4);
        for k in 0..3 {
            let frac = l.iter().filter(|&&v| v == k).count() as f64 / l.len() as f64;
            assert!((frac - m.weights()[k]).abs() < 0.01, "component {k}: {frac}");
        }
        let d2: f64 = x.iter().zip(&l).map(|(p, &k)| (p[0] - m.means()[k][0]).powi(2)).sum::<f64>() / x.len() as f64;
        assert!((d2 - 0.01).abs() < 0.0005, "per-axis variance {d2}");
        // A prefix of a larger draw is the smaller draw.
        assert_eq!(m.sample_labeled(100, 4).0, x[..100].to_vec());
    }
}
