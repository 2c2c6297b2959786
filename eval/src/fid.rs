//! Fréchet distance and KID between two sets of features (`evaluation.md` §1–2), in f64.
//!
//! **Fréchet distance** between the Gaussians fitted to the two sets:
//! FD = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁Σ₂)^{½}), with unbiased covariances (N − 1). The trace of
//! the square root goes through symmetric eigendecompositions, as in k-diffusion, so it never
//! needs a complex `sqrtm` of a non-symmetric matrix:
//! 1. add ε·I to both covariances (ε = [`FD_EPS`] = 1e-8 by default);
//! 2. Σ₁ = U Λ Uᵀ, S = U·√max(Λ, 0)·Uᵀ (cyclic Jacobi, [`crate::linalg::sym_eigen`]);
//! 3. M = S Σ₂ S is symmetric PSD with the eigenvalues of Σ₁Σ₂, so
//!    tr((Σ₁Σ₂)^{½}) = Σᵢ √max(eigᵢ(M), 0).
//!
//! FD is biased (roughly ∝ 1/N): compare numbers only at one N, next to the real-vs-real floor
//! ([`fd_floor`]).
//!
//! **KID**: the unbiased (U-statistic) MMD² with the polynomial kernel k(x, y) = (xᵀy/d + 1)³,
//! averaged over random subsets of at most 1000 points per side; mean and standard deviation over
//! the subsets. It is unbiased in N and may be slightly negative.
use crate::error::{Error, Result};
use crate::linalg::{map_rows, mean_and_cov, sqrt_psd, sym_eigen, Matrix};
use tensor::rng::uniform_at;

/// The default ε added to both covariances' diagonals (k-diffusion's value).
pub const FD_EPS: f64 = 1e-8;

/// The Gaussian fitted to a feature set: sample count, mean and unbiased covariance.
#[derive(Clone, Debug)]
pub struct GaussianStats {
    pub n: usize,
    pub mean: Vec<f64>,
    pub cov: Matrix,
}

impl GaussianStats {
    /// Fits the rows of `features` (N ≥ 2 samples, finite values).
    pub fn from_features(features: &Matrix) -> Result<Self> {
        let (mean, cov) = mean_and_cov(features)?;
        Ok(GaussianStats { n: features.rows(), mean, cov })
    }
}

/// Fréchet distance between two fitted Gaussians with ε = [`FD_EPS`].
pub fn frechet_distance(a: &GaussianStats, b: &GaussianStats) -> Result<f64> {
    frechet_distance_eps(a, b, FD_EPS)
}

/// Fréchet distance with `eps`·I added to both covariances (`eps` ≥ 0).
pub fn frechet_distance_eps(a: &GaussianStats, b: &GaussianStats, eps: f64) -> Result<f64> {
    let d = a.mean.len();
    if b.mean.len() != d || a.cov.rows() != d || b.cov.rows() != d {
        return Err(Error::invalid("frechet_distance", format!("feature dimensions differ: {d} vs {}", b.mean.len())));
    }
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::invalid("frechet_distance", format!("eps must be ≥ 0, got {eps}")));
    }
    let mean_term: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y) * (x - y)).sum();
    let (mut s1, mut s2) = (a.cov.clone(), b.cov.clone());
    for i in 0..d {
        s1.set(i, i, s1.get(i, i) + eps);
        s2.set(i, i, s2.get(i, i) + eps);
    }
    let s = sqrt_psd(&s1)?;
    let m = s.matmul(&s2)?.matmul(&s)?;
    let tr_sqrt: f64 = sym_eigen(&m)?.values.iter().map(|l| l.max(0.0).sqrt()).sum();
    Ok(mean_term + s1.trace() + s2.trace() - 2.0 * tr_sqrt)
}

/// Fréchet distance between two feature sets `[N₁, D]` and `[N₂, D]`.
pub fn fd_features(x: &Matrix, y: &Matrix) -> Result<f64> {
    frechet_distance(&GaussianStats::from_features(x)?, &GaussianStats::from_features(y)?)
}

/// The real-vs-real floor: FD between two disjoint halves of `real`, split by a permutation fixed
/// by `seed`. Pass 2N real samples to get the floor for comparisons at N per side.
pub fn fd_floor(real: &Matrix, seed: u64) -> Result<f64> {
    let n = real.rows();
    if n < 4 {
        return Err(Error::invalid("fd_floor", format!("need at least 4 real samples to split, got {n}")));
    }
    let perm = sample_without_replacement(n, n, seed, 0);
    let half = n / 2;
    fd_features(&real.select_rows(&perm[..half]), &real.select_rows(&perm[half..2 * half]))
}

/// The first `m` entries of a uniformly random permutation of `0..n` (partial Fisher–Yates on
/// Philox stream `stream` of `seed`).
pub(crate) fn sample_without_replacement(n: usize, m: usize, seed: u64, stream: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in 0..m.min(n) {
        let j = i + ((uniform_at(seed, stream, i as u64) * (n - i) as f64) as usize).min(n - i - 1);
        v.swap(i, j);
    }
    v.truncate(m.min(n));
    v
}

/// The KID polynomial kernel (xᵀy/d + 1)³.
fn poly_kernel(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    (dot / a.len() as f64 + 1.0).powi(3)
}

/// Unbiased MMD² (diagonal terms excluded) of the two whole sets with the KID kernel:
/// Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(n(n−1)) − 2·Σ_{i,j} k(xᵢ,yⱼ)/(mn).
pub fn mmd2_poly_unbiased(x: &Matrix, y: &Matrix) -> Result<f64> {
    let (m, n) = (x.rows(), y.rows());
    if m < 2 || n < 2 || x.cols() != y.cols() || x.cols() == 0 {
        return Err(Error::invalid(
            "mmd2_poly_unbiased",
            format!("need ≥ 2 samples per side of one dimension ≥ 1, got {m}×{} and {n}×{}", x.cols(), y.cols()),
        ));
    }
    if !x.is_finite() || !y.is_finite() {
        return Err(Error::invalid("mmd2_poly_unbiased", "features contain NaN or infinity"));
    }
    let within = |s: &Matrix| -> f64 {
        let k = s.rows();
        map_rows(k, |i| (0..k).filter(|&j| j != i).map(|j| poly_kernel(s.row(i), s.row(j))).sum::<f64>())
            .iter()
            .sum::<f64>()
            / (k * (k - 1)) as f64
    };
    let cross: f64 = map_rows(m, |i| (0..n).map(|j| poly_kernel(x.row(i), y.row(j))).sum::<f64>()).iter().sum();
    Ok(within(x) + within(y) - 2.0 * cross / (m * n) as f64)
}

/// How [`kid`] draws its subsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KidOptions {
    /// Number of random subsets (10–100).
    pub subsets: usize,
    /// Points per side in each subset (capped by the smaller set).
    pub subset_size: usize,
    /// Seed of the subset draws.
    pub seed: u64,
}

impl Default for KidOptions {
    fn default() -> Self {
        KidOptions { subsets: 100, subset_size: 1000, seed: 0 }
    }
}

/// KID: mean and (population) standard deviation of the unbiased MMD² over the subsets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kid {
    pub mean: f64,
    pub std: f64,
    pub subsets: usize,
    /// The subset size actually used: min(subset_size, N₁, N₂).
    pub subset_size: usize,
}

/// KID between feature sets `x` and `y`. Subset s takes m = min(subset_size, N₁, N₂) distinct
/// rows of each side, drawn without replacement from Philox streams 2s (x) and 2s + 1 (y).
pub fn kid(x: &Matrix, y: &Matrix, opts: &KidOptions) -> Result<Kid> {
    let m = opts.subset_size.min(x.rows()).min(y.rows());
    if opts.subsets == 0 || m < 2 {
        return Err(Error::invalid(
            "kid",
            format!(
                "need ≥ 1 subset of ≥ 2 points, got {} subsets of {m} (sets of {} and {})",
                opts.subsets,
                x.rows(),
                y.rows()
            ),
        ));
    }
    let mut vals = Vec::with_capacity(opts.subsets);
    for s in 0..opts.subsets as u64 {
        let xi = sample_without_replacement(x.rows(), m, opts.seed, 2 * s);
        let yi = sample_without_replacement(y.rows(), m, opts.seed, 2 * s + 1);
        vals.push(mmd2_poly_unbiased(&x.select_rows(&xi), &y.select_rows(&yi))?);
    }
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64;
    Ok(Kid { mean, std: var.sqrt(), subsets: opts.subsets, subset_size: m })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tensor::rng::normal_at;

    /// `n` samples of N(mean, diag(var)), from `seed`.
    fn gaussian(n: usize, mean: &[f64], var: &[f64], seed: u64) -> Matrix {
        let d = mean.len();
        let data = (0..n * d).map(|i| mean[i % d] + var[i % d].sqrt() * normal_at(seed, 0, i as u64)).collect();
        Matrix::new(n, d, data).unwrap()
    }

    /// The sets of the golden test; `eval/tests/fd_golden.py` builds the same ones in numpy.
    pub(crate) fn golden_sets() -> (Matrix, Matrix) {
        let a =
            |i: f64, j: f64| (0.37 * (i + 1.0) * (j + 1.0) + 0.5 * j).sin() + 0.3 * (1.1 * i + 2.0 * j).cos().powi(2);
        let b = |i: f64, j: f64| {
            0.8 * (0.23 * (i + 1.0) * (j + 2.0) + 0.1 * j).sin() + 0.5 * (0.7 * i * j + 1.0).cos() + 0.2 * j
        };
        let x = (0..20 * 5).map(|k| a((k / 5) as f64, (k % 5) as f64)).collect();
        let y = (0..25 * 5).map(|k| b((k / 5) as f64, (k % 5) as f64)).collect();
        (Matrix::new(20, 5, x).unwrap(), Matrix::new(25, 5, y).unwrap())
    }

    #[test]
    fn fd_of_a_set_with_itself_is_zero() {
        let x = gaussian(500, &[1.0, -2.0, 0.5, 3.0], &[1.0, 0.5, 2.0, 0.1], 1);
        let s = GaussianStats::from_features(&x).unwrap();
        assert!(frechet_distance(&s, &s).unwrap().abs() < 1e-9);
    }

    #[test]
    fn fd_of_diagonal_gaussians_matches_the_closed_form() {
        // With exact diagonal covariances a, b: FD = ‖μ₁−μ₂‖² + Σ(√aᵢ − √bᵢ)².
        let mk = |mean: Vec<f64>, var: &[f64]| {
            let d = var.len();
            let mut cov = Matrix::zeros(d, d);
            for (i, v) in var.iter().enumerate() {
                cov.set(i, i, *v);
            }
            GaussianStats { n: 0, mean, cov }
        };
        let (a, b) = ([1.0, 4.0, 0.25, 9.0], [2.0, 1.0, 0.25, 0.5]);
        let want = 1.0
            + 4.0
            + 0.0
            + 1.0
            + a.iter().zip(&b).map(|(x, y): (&f64, &f64)| (x.sqrt() - y.sqrt()).powi(2)).sum::<f64>();
        let got =
            frechet_distance_eps(&mk(vec![0.0, 0.0, 1.0, 1.0], &a), &mk(vec![1.0, 2.0, 1.0, 0.0], &b), 0.0).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // And from samples, within sampling error.
        let x = gaussian(20_000, &[0.0, 0.0], &[1.0, 4.0], 2);
        let y = gaussian(20_000, &[1.0, 0.0], &[4.0, 1.0], 3);
        let fd = fd_features(&x, &y).unwrap();
        assert!((fd - 3.0).abs() < 0.1, "{fd}"); // 1 + (1−2)² + (2−1)²
    }

    #[test]
    fn fd_matches_scipy_golden_value() {
        // Golden value from `eval/tests/fd_golden.py` (numpy 2 + scipy 1.17): np.cov (unbiased)
        // and scipy.linalg.sqrtm(Σ₁Σ₂), the pytorch-fid formula, with no ε.
        const SCIPY_FD: f64 = 0.9376035574791732;
        let (x, y) = golden_sets();
        let (a, b) = (GaussianStats::from_features(&x).unwrap(), GaussianStats::from_features(&y).unwrap());
        let got = frechet_distance_eps(&a, &b, 0.0).unwrap();
        assert!((got - SCIPY_FD).abs() < 1e-10, "{got} vs {SCIPY_FD}");
        // ε = 1e-8 moves it by about ε·d at most.
        assert!((frechet_distance(&a, &b).unwrap() - SCIPY_FD).abs() < 1e-7);
    }

    #[test]
    fn fd_is_invariant_to_permuting_samples_and_symmetric() {
        let (x, y) = golden_sets();
        let perm: Vec<usize> = (0..20).map(|i| (i * 7 + 3) % 20).collect();
        let xp = x.select_rows(&perm);
        let (f, fp) = (fd_features(&x, &y).unwrap(), fd_features(&xp, &y).unwrap());
        assert!((f - fp).abs() < 1e-12, "{f} vs {fp}");
        assert!((f - fd_features(&y, &x).unwrap()).abs() < 1e-10);
    }

    #[test]
    fn fd_errors_and_floor() {
        let x = gaussian(10, &[0.0, 0.0], &[1.0, 1.0], 4);
        let y = gaussian(10, &[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0], 5);
        assert!(fd_features(&x, &y).is_err());
        assert!(fd_features(&Matrix::zeros(1, 2), &x).is_err());
        let mut bad = x.clone();
        bad.set(0, 0, f64::NAN);
        assert!(fd_features(&bad, &x).is_err());
        let real = gaussian(4000, &[0.0; 3], &[1.0; 3], 6);
        let floor = fd_floor(&real, 0).unwrap();
        assert!(floor > 0.0 && floor < 0.02, "{floor}");
        assert_eq!(floor, fd_floor(&real, 0).unwrap());
        assert!(fd_floor(&Matrix::zeros(3, 2), 0).is_err());
    }

    #[test]
    fn mmd2_poly_matches_numpy_golden_value() {
        // From `eval/tests/fd_golden.py` on the same sets.
        const NUMPY_MMD2: f64 = 0.5502835674928548;
        let (x, y) = golden_sets();
        let got = mmd2_poly_unbiased(&x, &y).unwrap();
        assert!((got - NUMPY_MMD2).abs() < 1e-12, "{got}");
    }

    #[test]
    fn kid_is_near_zero_for_one_distribution_and_positive_for_two() {
        let x = gaussian(600, &[0.0; 4], &[1.0; 4], 7);
        let y = gaussian(600, &[0.0; 4], &[1.0; 4], 8);
        let z = gaussian(600, &[0.5; 4], &[1.0; 4], 9);
        let opts = KidOptions { subsets: 10, subset_size: 200, seed: 1 };
        let same = kid(&x, &y, &opts).unwrap();
        let diff = kid(&x, &z, &opts).unwrap();
        assert_eq!(same.subset_size, 200);
        assert!(same.mean.abs() < 3.0 * same.std.max(1e-3), "{same:?}");
        assert!(diff.mean > 10.0 * same.mean.abs().max(same.std), "{diff:?} vs {same:?}");
        assert_eq!(kid(&x, &z, &opts).unwrap(), diff);
        assert!(kid(&x, &Matrix::zeros(1, 4), &opts).is_err());
    }

    #[test]
    fn subsets_are_distinct_indices() {
        let s = sample_without_replacement(50, 20, 3, 1);
        let mut t = s.clone();
        t.sort();
        t.dedup();
        assert_eq!(t.len(), 20);
        assert!(s.iter().all(|&i| i < 50));
    }
}
