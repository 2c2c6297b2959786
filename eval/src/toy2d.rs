//! Sample-quality metrics for the 2-D toys, where the true density is known exactly
//! (`evaluation.md` §5).
//!
//! - [`mean_log_density`]: (1/N) Σ log p_data(x̂ᵢ) = −H(q, p). On true samples it estimates −H(p);
//!   the gap measures mass off the data manifold but is blind to dropped modes.
//! - [`mode_stats`]: the in-mode rate (within k·σ of a mode centre, k = 3), the mass each mode
//!   receives against its true weight (KL over modes) and the number of covered modes.
//! - [`mmd_report`]: unbiased MMD² with RBF kernels at the median distance × {¼, ½, 1, 2, 4}.
//! - [`sliced_wasserstein`]: SW₂ over M equally spaced directions (deterministic in 2-D).
//! - [`evaluate`]: all of the above against fresh true samples, with the data-vs-data floors.
use crate::error::{Error, Result};
use crate::fid::sample_without_replacement;
use crate::linalg::map_rows;
use data::toy2d::Toy2d;

/// Radius of a mode, in standard deviations, for the in-mode rate.
pub const IN_MODE_K: f64 = 3.0;
/// Bandwidths of the MMD kernels, as multiples of the median pairwise distance.
pub const MMD_SCALES: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];
/// Directions of the sliced Wasserstein distance.
pub const SW_DIRECTIONS: usize = 128;

fn check_points(metric: &'static str, xs: &[[f64; 2]], min: usize) -> Result<()> {
    if xs.len() < min {
        return Err(Error::invalid(metric, format!("need at least {min} points, got {}", xs.len())));
    }
    if xs.iter().any(|p| !(p[0].is_finite() && p[1].is_finite())) {
        return Err(Error::invalid(metric, "points contain NaN or infinity"));
    }
    Ok(())
}

/// The mean true log-density of a sample set.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LogDensity {
    /// (1/N) Σ log p(xᵢ); −∞ as soon as one point has zero density (off the checkerboard).
    pub mean: f64,
    /// The same mean over the points with positive density only.
    pub mean_on_support: f64,
    /// The fraction of points with positive density.
    pub support_rate: f64,
}

/// The mean of log p_data over `xs` (non-finite points count as zero density).
pub fn mean_log_density(dist: &Toy2d, xs: &[[f64; 2]]) -> Result<LogDensity> {
    if xs.is_empty() {
        return Err(Error::invalid("mean_log_density", "no points"));
    }
    let lp: Vec<f64> = xs.iter().map(|&x| dist.log_density(x)).collect();
    let on: Vec<f64> = lp.iter().copied().filter(|v| v.is_finite()).collect();
    let n = xs.len() as f64;
    Ok(LogDensity {
        mean: if on.len() == lp.len() { on.iter().sum::<f64>() / n } else { f64::NEG_INFINITY },
        mean_on_support: if on.is_empty() { f64::NEG_INFINITY } else { on.iter().sum::<f64>() / on.len() as f64 },
        support_rate: on.len() as f64 / n,
    })
}

/// How samples spread over the modes of a mixture with separated modes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ModeStats {
    /// The fraction of samples within k·σ of their nearest mode centre.
    pub in_mode_rate: f64,
    /// What exact samples give for well-separated isotropic modes: 1 − exp(−k²/2) (0.9889 at k = 3).
    pub expected_in_mode_rate: f64,
    /// Per mode, the fraction of all samples in its k·σ ball.
    pub mass: Vec<f64>,
    /// The true mode weights.
    pub weights: Vec<f64>,
    /// KL(q ‖ w) = Σ qₖ log(qₖ/wₖ), with q the in-mode samples' distribution over modes
    /// (0·log 0 = 0, so it stays finite when modes are dropped; `covered` catches those).
    /// +∞ when no sample is in a mode.
    pub kl: f64,
    /// Modes holding at least half their expected mass: massₖ ≥ ½·wₖ·expected_in_mode_rate.
    pub covered: usize,
    pub n_modes: usize,
}

/// Mode metrics of `xs` against the modes of `dist` (ring or grid), with balls of radius
/// `k_std`·σ ([`IN_MODE_K`] in reports). A distribution without separated modes is an error.
pub fn mode_stats(dist: &Toy2d, xs: &[[f64; 2]], k_std: f64) -> Result<ModeStats> {
    let modes = dist.modes().ok_or_else(|| {
        Error::invalid(
            "mode_stats",
            format!("the {} distribution has no separated modes (use ring or grid)", dist.name()),
        )
    })?;
    if xs.is_empty() || !(k_std.is_finite() && k_std > 0.0) {
        return Err(Error::invalid(
            "mode_stats",
            format!("need points and k > 0, got {} points, k = {k_std}", xs.len()),
        ));
    }
    let r2 = (k_std * modes.std).powi(2);
    let mut counts = vec![0usize; modes.centres.len()];
    for x in xs {
        let nearest = modes
            .centres
            .iter()
            .map(|c| (x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((k, d2)) = nearest {
            if d2 <= r2 {
                counts[k] += 1;
            }
        }
    }
    let n = xs.len() as f64;
    let inside: usize = counts.iter().sum();
    let expected = 1.0 - (-k_std * k_std / 2.0).exp();
    let mass: Vec<f64> = counts.iter().map(|&c| c as f64 / n).collect();
    let kl = if inside == 0 {
        f64::INFINITY
    } else {
        counts
            .iter()
            .zip(modes.weights)
            .filter(|(&c, _)| c > 0)
            .map(|(&c, &w)| {
                let q = c as f64 / inside as f64;
                q * (q / w).ln()
            })
            .sum()
    };
    let covered = mass.iter().zip(modes.weights).filter(|(m, w)| **m >= 0.5 * **w * expected).count();
    Ok(ModeStats {
        in_mode_rate: inside as f64 / n,
        expected_in_mode_rate: expected,
        mass,
        weights: modes.weights.to_vec(),
        kl,
        covered,
        n_modes: modes.centres.len(),
    })
}

fn sq(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Unbiased MMD² (Gretton et al. 2012) between `x` and `y` for each RBF bandwidth h in
/// `bandwidths`, k(a, b) = exp(−‖a − b‖²/(2h²)):
/// Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(n(n−1)) − 2·Σ_{i,j} k(xᵢ,yⱼ)/(mn).
/// Small negative values are normal. O((m + n)²) per bandwidth: subsample large sets
/// ([`mmd_report`] does).
pub fn mmd2_rbf(x: &[[f64; 2]], y: &[[f64; 2]], bandwidths: &[f64]) -> Result<Vec<f64>> {
    check_points("mmd2_rbf", x, 2)?;
    check_points("mmd2_rbf", y, 2)?;
    if bandwidths.iter().any(|h| !(h.is_finite() && *h > 0.0)) {
        return Err(Error::invalid("mmd2_rbf", format!("bandwidths must be positive, got {bandwidths:?}")));
    }
    let gammas: Vec<f64> = bandwidths.iter().map(|h| -0.5 / (h * h)).collect();
    // Per row i, the kernel sums over the other set (or the same set without j = i), for every
    // bandwidth at once.
    let sums = |a: &[[f64; 2]], b: &[[f64; 2]], same: bool| -> Vec<f64> {
        let rows = map_rows(a.len(), |i| {
            let mut s = vec![0.0; gammas.len()];
            for (j, &bj) in b.iter().enumerate() {
                if same && j == i {
                    continue;
                }
                let d2 = sq(a[i], bj);
                for (sk, g) in s.iter_mut().zip(&gammas) {
                    *sk += (g * d2).exp();
                }
            }
            s
        });
        (0..gammas.len()).map(|k| rows.iter().map(|r| r[k]).sum()).collect()
    };
    let (m, n) = (x.len() as f64, y.len() as f64);
    let (kxx, kyy, kxy) = (sums(x, x, true), sums(y, y, true), sums(x, y, false));
    Ok((0..gammas.len())
        .map(|k| kxx[k] / (m * (m - 1.0)) + kyy[k] / (n * (n - 1.0)) - 2.0 * kxy[k] / (m * n))
        .collect())
}

/// The median of the pairwise distances among `points` (the upper median for an even count).
pub fn median_pairwise_distance(points: &[[f64; 2]]) -> Result<f64> {
    check_points("median_pairwise_distance", points, 2)?;
    let mut d: Vec<f64> = (0..points.len())
        .flat_map(|i| (i + 1..points.len()).map(move |j| (i, j)))
        .map(|(i, j)| sq(points[i], points[j]).sqrt())
        .collect();
    let mid = d.len() / 2;
    let (_, m, _) = d.select_nth_unstable_by(mid, f64::total_cmp);
    Ok(*m)
}

/// How [`mmd_report`] subsamples and which bandwidths it uses.
#[derive(Clone, Debug, PartialEq)]
pub struct MmdOptions {
    /// Bandwidths as multiples of the median pairwise distance.
    pub scales: Vec<f64>,
    /// At most this many points per side (a seeded subset without replacement).
    pub max_points: usize,
    pub seed: u64,
}

impl Default for MmdOptions {
    fn default() -> Self {
        MmdOptions { scales: MMD_SCALES.to_vec(), max_points: 2000, seed: 0 }
    }
}

/// MMD² at several bandwidths.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MmdReport {
    /// Median pairwise distance of the pooled subsets (at most 500 points of each side).
    pub median_distance: f64,
    pub bandwidths: Vec<f64>,
    /// Unbiased MMD² per bandwidth.
    pub mmd2: Vec<f64>,
    pub sum: f64,
    pub max: f64,
    /// Points used per side.
    pub n_x: usize,
    pub n_y: usize,
}

/// MMD² between `x` and `y` at bandwidths h = median distance × each scale, on seeded subsets
/// of at most `max_points` per side (streams 0 and 1 of `seed`).
pub fn mmd_report(x: &[[f64; 2]], y: &[[f64; 2]], opts: &MmdOptions) -> Result<MmdReport> {
    let pick = |p: &[[f64; 2]], stream| -> Vec<[f64; 2]> {
        sample_without_replacement(p.len(), opts.max_points, opts.seed, stream).iter().map(|&i| p[i]).collect()
    };
    let (xs, ys) = (pick(x, 0), pick(y, 1));
    check_points("mmd_report", &xs, 2)?;
    check_points("mmd_report", &ys, 2)?;
    let pooled: Vec<[f64; 2]> = xs.iter().take(500).chain(ys.iter().take(500)).copied().collect();
    let median = median_pairwise_distance(&pooled)?;
    if median <= 0.0 {
        return Err(Error::invalid("mmd_report", "the median pairwise distance is 0 (too many identical points)"));
    }
    let bandwidths: Vec<f64> = opts.scales.iter().map(|s| s * median).collect();
    let mmd2 = mmd2_rbf(&xs, &ys, &bandwidths)?;
    Ok(MmdReport {
        median_distance: median,
        sum: mmd2.iter().sum(),
        max: mmd2.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        bandwidths,
        mmd2,
        n_x: xs.len(),
        n_y: ys.len(),
    })
}

/// W₂² between the empirical distributions of two 1-D samples (any sizes), by integrating the
/// squared difference of their quantile functions: both are step functions, with steps at i/m
/// and j/n, so the integral is an exact sum over the merged steps. Sorts the inputs.
pub fn wasserstein2_1d_sq(a: &mut [f64], b: &mut [f64]) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return 0.0;
    }
    // Positions in units of 1/(m·n): a's step i ends at (i+1)·n, b's step j at (j+1)·m.
    let (mut i, mut j, mut t, mut acc) = (0usize, 0usize, 0usize, 0.0);
    while i < m && j < n {
        let (ea, eb) = ((i + 1) * n, (j + 1) * m);
        let end = ea.min(eb);
        acc += (a[i] - b[j]).powi(2) * (end - t) as f64;
        t = end;
        if ea == end {
            i += 1;
        }
        if eb == end {
            j += 1;
        }
    }
    acc / (m * n) as f64
}

/// Sliced W₂ = (mean over directions θⱼ = π·j/M of W₂²(θⱼ·x, θⱼ·y))^{½}, with
/// M = `directions` ([`SW_DIRECTIONS`] in reports). Equally spaced angles make it deterministic;
/// for equal-size sets each W₂² is mean((sort a − sort b)²).
pub fn sliced_wasserstein(x: &[[f64; 2]], y: &[[f64; 2]], directions: usize) -> Result<f64> {
    check_points("sliced_wasserstein", x, 1)?;
    check_points("sliced_wasserstein", y, 1)?;
    if directions == 0 {
        return Err(Error::invalid("sliced_wasserstein", "need at least one direction"));
    }
    let per_dir = map_rows(directions, |j| {
        let th = std::f64::consts::PI * j as f64 / directions as f64;
        let (c, s) = (th.cos(), th.sin());
        let mut a: Vec<f64> = x.iter().map(|p| c * p[0] + s * p[1]).collect();
        let mut b: Vec<f64> = y.iter().map(|p| c * p[0] + s * p[1]).collect();
        wasserstein2_1d_sq(&mut a, &mut b)
    });
    Ok((per_dir.iter().sum::<f64>() / directions as f64).sqrt())
}

/// Every 2-D metric of a sample set, with the same metrics for exact samples as the floor.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Toy2dReport {
    pub distribution: String,
    pub n: usize,
    pub seed: u64,
    pub log_density: LogDensity,
    /// The same on exact samples: an estimate of −H(p).
    pub log_density_true: LogDensity,
    /// `None` for distributions without separated modes (moons, checkerboard).
    pub modes: Option<ModeStats>,
    pub mmd: MmdReport,
    /// MMD between two independent exact sample sets of the same size (the floor).
    pub mmd_floor: MmdReport,
    pub sliced_wasserstein: f64,
    pub sliced_wasserstein_floor: f64,
}

/// Scores `samples` against `dist`: draws two exact reference sets of the same size (seeds
/// `seed` and `seed + 1`), compares the samples with the first and the two references with each
/// other for the floors.
pub fn evaluate(dist: &Toy2d, samples: &[[f64; 2]], seed: u64) -> Result<Toy2dReport> {
    check_points("evaluate", samples, 2)?;
    let n = samples.len();
    let (r1, r2) = (dist.sample(n, seed), dist.sample(n, seed.wrapping_add(1)));
    let mopts = MmdOptions { seed, ..MmdOptions::default() };
    Ok(Toy2dReport {
        distribution: dist.name().to_string(),
        n,
        seed,
        log_density: mean_log_density(dist, samples)?,
        log_density_true: mean_log_density(dist, &r1)?,
        modes: if dist.modes().is_some() { Some(mode_stats(dist, samples, IN_MODE_K)?) } else { None },
        mmd: mmd_report(samples, &r1, &mopts)?,
        mmd_floor: mmd_report(&r2, &r1, &mopts)?,
        sliced_wasserstein: sliced_wasserstein(samples, &r1, SW_DIRECTIONS)?,
        sliced_wasserstein_floor: sliced_wasserstein(&r2, &r1, SW_DIRECTIONS)?,
    })
}

#[cfg(test)]
#[path = "toy2d_tests.rs"]
mod tests;
