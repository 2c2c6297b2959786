//! 2-D toy distributions with exact log-densities and exact samplers: the main testbed of DDO
//! (`ddo.md` §7.1) and the ground truth of the 2-D metrics (`evaluation.md` §5).
//!
//! | name | what | exact density |
//! |---|---|---|
//! | `ring` | 8 Gaussians on a circle of radius 2, σ = 0.05, equal weights | 8-component mixture |
//! | `grid` | 5×5 Gaussians on [−2, 2]², σ = 0.05, Dirichlet(2) weights from seed 0 (0.011 to 0.095) | 25-component mixture |
//! | `moons` | two interleaved half circles (sklearn's geometry), centred | 128 Gaussians along the arcs, σ = 0.1 |
//! | `checkerboard` | 4×4 board on [−2, 2)², black cells | uniform: 1/8 on black cells, 0 elsewhere |
//!
//! The moons are *defined* as a mixture, so that sampling and density agree exactly: 64 equally
//! weighted centres per moon at t_j = π·j/63, j = 0..63, on the outer arc (cos t, sin t) and the
//! inner arc (1 − cos t, 0.5 − sin t), all shifted by (−0.5, −0.25) so the set is centred, each
//! with standard deviation 0.1. Neighbouring centres are 0.05 apart (half a σ), so the density is a
//! smooth ridge along each arc, like sklearn's "uniform on the arc plus noise" but in closed form.
//!
//! Every sampler is a pure function of `(n, seed)` built on the counter-based Philox RNG, and a
//! prefix of a larger draw equals the smaller draw.
mod checkerboard;
mod mixture;

pub use checkerboard::Checkerboard;
pub use mixture::{dirichlet_weights, GaussianMixture};

use crate::error::{Error, Result};
use tensor::{DType, Tensor};

/// The names [`Toy2d::from_name`] accepts.
pub const TOY2D_NAMES: [&str; 4] = ["ring", "grid", "moons", "checkerboard"];

/// Default standard deviation of the ring and grid modes (`ddo.md` §7.1).
pub const MODE_STD: f64 = 0.05;
/// Default Dirichlet concentration and seed of the grid's mode weights.
pub const GRID_CONCENTRATION: f64 = 2.0;
pub const GRID_WEIGHT_SEED: u64 = 0;

/// One of the 2-D toy distributions.
#[derive(Clone, Debug, PartialEq)]
pub enum Toy2d {
    /// Equal-weight Gaussians equally spaced on a circle (first mode on the positive x axis).
    Ring(GaussianMixture),
    /// Gaussians on a square lattice with unequal weights.
    Grid(GaussianMixture),
    /// Two moons as a mixture of Gaussians along the arcs (see the module docs).
    Moons(GaussianMixture),
    /// Uniform on the black cells of a board.
    Checkerboard(Checkerboard),
}

/// The separated modes of a distribution: centres, normalised weights and per-mode standard
/// deviation. The mode metrics of `eval::toy2d` use them.
#[derive(Clone, Copy, Debug)]
pub struct Modes<'a> {
    pub centres: &'a [[f64; 2]],
    pub weights: &'a [f64],
    pub std: f64,
}

impl Toy2d {
    /// `n_modes` Gaussians of standard deviation `std` on a circle of `radius`, mode k at angle
    /// 2πk/n_modes.
    pub fn ring(radius: f64, n_modes: usize, std: f64) -> Result<Self> {
        if !(radius.is_finite() && radius >= 0.0) || n_modes == 0 {
            return Err(Error::invalid(
                "Toy2d::ring",
                format!("need radius ≥ 0 and ≥ 1 mode, got {radius}, {n_modes}"),
            ));
        }
        let means = (0..n_modes)
            .map(|k| {
                let t = 2.0 * std::f64::consts::PI * k as f64 / n_modes as f64;
                [radius * t.cos(), radius * t.sin()]
            })
            .collect();
        Ok(Toy2d::Ring(GaussianMixture::new(means, vec![1.0; n_modes], std)?))
    }

    /// An `n_side`×`n_side` lattice of Gaussians on [−`half_width`, `half_width`]², mode index
    /// `row·n_side + col` with row 0 at y = −half_width, weights from Dirichlet(`concentration`)
    /// drawn with `seed` (see [`dirichlet_weights`]).
    pub fn grid(n_side: usize, half_width: f64, std: f64, concentration: f64, seed: u64) -> Result<Self> {
        if !((1..=64).contains(&n_side) && half_width.is_finite() && half_width >= 0.0) {
            return Err(Error::invalid(
                "Toy2d::grid",
                format!("need 1 ≤ n_side ≤ 64 and half width ≥ 0, got {n_side}, {half_width}"),
            ));
        }
        let coord =
            |i: usize| if n_side == 1 { 0.0 } else { -half_width + 2.0 * half_width * i as f64 / (n_side - 1) as f64 };
        let means = (0..n_side * n_side).map(|k| [coord(k % n_side), coord(k / n_side)]).collect();
        let weights = dirichlet_weights(n_side * n_side, concentration, seed)?;
        Ok(Toy2d::Grid(GaussianMixture::new(means, weights, std)?))
    }

    /// Two moons with `per_moon` equally weighted Gaussian centres of standard deviation `std`
    /// along each arc (see the module docs for the exact geometry).
    pub fn moons(per_moon: usize, std: f64) -> Result<Self> {
        if per_moon < 2 {
            return Err(Error::invalid("Toy2d::moons", format!("need at least 2 centres per moon, got {per_moon}")));
        }
        let mut means = Vec::with_capacity(2 * per_moon);
        for j in 0..per_moon {
            let t = std::f64::consts::PI * j as f64 / (per_moon - 1) as f64;
            means.push([t.cos() - 0.5, t.sin() - 0.25]);
        }
        for j in 0..per_moon {
            let t = std::f64::consts::PI * j as f64 / (per_moon - 1) as f64;
            means.push([1.0 - t.cos() - 0.5, 0.5 - t.sin() - 0.25]);
        }
        Ok(Toy2d::Moons(GaussianMixture::new(means, vec![1.0; 2 * per_moon], std)?))
    }

    /// Uniform on the black cells of an `n_side`×`n_side` board on [−`half_width`, `half_width`)².
    pub fn checkerboard(n_side: usize, half_width: f64) -> Result<Self> {
        Ok(Toy2d::Checkerboard(Checkerboard::new(n_side, half_width)?))
    }

    /// The default distribution of each name in [`TOY2D_NAMES`] (case and surrounding spaces are
    /// ignored). An unknown name is an [`Error::UnknownName`] listing the valid ones.
    pub fn from_name(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ring" => Toy2d::ring(2.0, 8, MODE_STD),
            "grid" => Toy2d::grid(5, 2.0, MODE_STD, GRID_CONCENTRATION, GRID_WEIGHT_SEED),
            "moons" => Toy2d::moons(64, 0.1),
            "checkerboard" => Toy2d::checkerboard(4, 2.0),
            _ => Err(Error::UnknownName {
                kind: "2-D toy distribution",
                name: name.to_string(),
                known: TOY2D_NAMES.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }

    /// The distribution's family name (one of [`TOY2D_NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Toy2d::Ring(_) => "ring",
            Toy2d::Grid(_) => "grid",
            Toy2d::Moons(_) => "moons",
            Toy2d::Checkerboard(_) => "checkerboard",
        }
    }

    /// The underlying Gaussian mixture (all but the checkerboard).
    pub fn mixture(&self) -> Option<&GaussianMixture> {
        match self {
            Toy2d::Ring(m) | Toy2d::Grid(m) | Toy2d::Moons(m) => Some(m),
            Toy2d::Checkerboard(_) => None,
        }
    }

    /// The well-separated modes, for the ring and the grid. The moons' centres overlap and the
    /// checkerboard has no modes, so both give `None`.
    pub fn modes(&self) -> Option<Modes<'_>> {
        match self {
            Toy2d::Ring(m) | Toy2d::Grid(m) => Some(Modes { centres: m.means(), weights: m.weights(), std: m.std() }),
            Toy2d::Moons(_) | Toy2d::Checkerboard(_) => None,
        }
    }

    /// Exact log p(x) (−∞ where the density is zero, e.g. off the checkerboard).
    pub fn log_density(&self, x: [f64; 2]) -> f64 {
        match self {
            Toy2d::Ring(m) | Toy2d::Grid(m) | Toy2d::Moons(m) => m.log_density(x),
            Toy2d::Checkerboard(c) => c.log_density(x),
        }
    }

    /// `n` exact samples with the component (or checkerboard cell) each came from.
    pub fn sample_labeled(&self, n: usize, seed: u64) -> (Vec<[f64; 2]>, Vec<usize>) {
        match self {
            Toy2d::Ring(m) | Toy2d::Grid(m) | Toy2d::Moons(m) => m.sample_labeled(n, seed),
            Toy2d::Checkerboard(c) => c.sample_labeled(n, seed),
        }
    }

    /// `n` exact samples; a pure function of `(n, seed)`.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<[f64; 2]> {
        self.sample_labeled(n, seed).0
    }

    /// `n` samples as a `[n, 2]` tensor of `dtype`.
    pub fn sample_tensor(&self, n: usize, seed: u64, dtype: DType) -> Result<Tensor> {
        points_to_tensor(&self.sample(n, seed), dtype)
    }
}

impl std::str::FromStr for Toy2d {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Toy2d::from_name(s)
    }
}

/// Points as a `[n, 2]` tensor of `dtype`.
pub fn points_to_tensor(points: &[[f64; 2]], dtype: DType) -> Result<Tensor> {
    let flat = points.iter().flat_map(|p| p.iter().copied());
    Ok(Tensor::from_cpu(tensor::CpuStorage::from_f64_iter(dtype, flat), &[points.len(), 2])?)
}

/// The rows of a `[n, 2]` tensor (any dtype) as points; another shape is an error.
pub fn tensor_to_points(t: &Tensor) -> Result<Vec<[f64; 2]>> {
    if t.rank() != 2 || t.shape()[1] != 2 {
        return Err(Error::invalid("tensor_to_points", format!("expected shape [n, 2], got {:?}", t.shape())));
    }
    Ok(t.to_vec_f64()?.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_names_list_the_valid_ones() {
        for name in TOY2D_NAMES {
            let d = Toy2d::from_name(name).unwrap();
            assert_eq!(d.name(), name);
            assert_eq!(format!(" {} ", name.to_uppercase()).parse::<Toy2d>().unwrap(), d);
        }
        let msg = Toy2d::from_name("spiral").unwrap_err().to_string();
        assert!(msg.contains("\"spiral\"") && TOY2D_NAMES.iter().all(|n| msg.contains(n)), "{msg}");
    }

    #[test]
    fn ring_geometry_and_density_at_a_mode() {
        let d = Toy2d::from_name("ring").unwrap();
        let m = d.modes().unwrap();
        assert_eq!(m.centres.len(), 8);
        assert!((m.centres[2][0]).abs() < 1e-12 && (m.centres[2][1] - 2.0).abs() < 1e-12);
        // At a mode centre the other modes are ≥ 1.5 away (30σ): log p = log(1/8) − log(2πσ²).
        let want = (1.0f64 / 8.0).ln() - (2.0 * std::f64::consts::PI * 0.0025).ln();
        assert!((d.log_density([2.0, 0.0]) - want).abs() < 1e-12);
    }

    #[test]
    fn grid_weights_are_pinned_unequal_and_sum_to_one() {
        let d = Toy2d::from_name("grid").unwrap();
        let m = d.modes().unwrap();
        assert_eq!(m.centres.len(), 25);
        assert_eq!(m.centres[0], [-2.0, -2.0]);
        assert_eq!(m.centres[24], [2.0, 2.0]);
        assert!((m.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let (lo, hi) = m.weights.iter().fold((1.0f64, 0.0f64), |(a, b), &w| (a.min(w), b.max(w)));
        assert!(hi > 2.0 * lo, "weights should be unequal: {lo} .. {hi}");
        // Pinned so that a change of the RNG or of the Gamma sampler cannot go unnoticed.
        let rounded: Vec<f64> = m.weights.iter().map(|w| (w * 1e4).round() / 1e4).collect();
        assert_eq!(rounded, DEFAULT_GRID_WEIGHTS.to_vec(), "all: {:?}", m.weights);
    }

    /// The default grid weights (mode index row·5 + col, row 0 at y = −2) rounded to 4 decimals,
    /// as this code draws them: Dirichlet(2), seed 0.
    const DEFAULT_GRID_WEIGHTS: [f64; 25] = [
        0.0281, 0.0286, 0.0379, 0.0642, 0.0356, 0.0259, 0.0215, 0.0202, 0.0487, 0.0533, 0.0178, 0.0953, 0.0818, 0.0228,
        0.017, 0.0274, 0.0142, 0.0107, 0.0378, 0.052, 0.0621, 0.0612, 0.0452, 0.0258, 0.065,
    ];

    #[test]
    fn moons_are_centred_and_samples_are_deterministic() {
        let d = Toy2d::from_name("moons").unwrap();
        let x = d.sample(20_000, 1);
        let mean = x.iter().fold([0.0, 0.0], |a, p| [a[0] + p[0], a[1] + p[1]]);
        assert!((mean[0] / 2e4).abs() < 0.02 && (mean[1] / 2e4).abs() < 0.02, "{mean:?}");
        assert_eq!(x, d.sample(20_000, 1));
        assert_ne!(x[..10], d.sample(10, 2)[..]);
    }

    #[test]
    fn tensor_round_trip_and_shape_errors() {
        let d = Toy2d::from_name("checkerboard").unwrap();
        let t = d.sample_tensor(5, 0, DType::F64).unwrap();
        assert_eq!(t.shape(), &[5, 2]);
        assert_eq!(tensor_to_points(&t).unwrap(), d.sample(5, 0));
        assert!(tensor_to_points(&Tensor::zeros(&[5, 3], DType::F32)).is_err());
    }

    #[test]
    fn mixture_densities_integrate_to_one() {
        for name in ["ring", "grid", "moons"] {
            let d = Toy2d::from_name(name).unwrap();
            let (m, lo, hi) = (500, -3.0, 3.0);
            let step: f64 = (hi - lo) / m as f64;
            let mut total = 0.0;
            for i in 0..m {
                for j in 0..m {
                    total += d.log_density([lo + (i as f64 + 0.5) * step, lo + (j as f64 + 0.5) * step]).exp();
                }
            }
            total *= step * step;
            assert!((total - 1.0).abs() < 1e-3, "{name}: {total}");
        }
    }
}
