//! The checkerboard: uniform on the black squares of an n×n board covering [−h, h)².
//!
//! Cell (row r, column c) spans x ∈ [−h + c·a, −h + (c+1)·a), y ∈ [−h + r·a, −h + (r+1)·a) with
//! a = 2h/n; it is black when r + c is even (so the bottom-left cell is black). With B black
//! cells, p(x) = 1 / (B·a²) on black cells and 0 elsewhere, so log p is −log(B·a²) or −∞.
use crate::error::{Error, Result};
use tensor::rng::uniform_at;

/// Uniform density on the black cells of a square board.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkerboard {
    n_side: usize,
    half_width: f64,
    /// (row, column) of every black cell, row-major.
    black: Vec<(usize, usize)>,
}

impl Checkerboard {
    /// A board of `n_side`×`n_side` cells (≥ 1) on [−`half_width`, `half_width`)².
    pub fn new(n_side: usize, half_width: f64) -> Result<Self> {
        if n_side == 0 || n_side > 1024 || !(half_width.is_finite() && half_width > 0.0) {
            return Err(Error::invalid(
                "Checkerboard::new",
                format!("need 1 ≤ n_side ≤ 1024 and a positive half width, got {n_side} and {half_width}"),
            ));
        }
        let black =
            (0..n_side).flat_map(|r| (0..n_side).map(move |c| (r, c))).filter(|(r, c)| (r + c) % 2 == 0).collect();
        Ok(Checkerboard { n_side, half_width, black })
    }
    /// Cells per side.
    pub fn n_side(&self) -> usize {
        self.n_side
    }
    /// The board covers [−h, h)².
    pub fn half_width(&self) -> f64 {
        self.half_width
    }
    /// Side length a = 2h/n of one cell.
    pub fn cell(&self) -> f64 {
        2.0 * self.half_width / self.n_side as f64
    }
    /// (row, column) of each black cell; sample labels index this list.
    pub fn black_cells(&self) -> &[(usize, usize)] {
        &self.black
    }

    /// The (row, column) of the cell holding `x`, or `None` off the board.
    pub fn cell_of(&self, x: [f64; 2]) -> Option<(usize, usize)> {
        let a = self.cell();
        let c = ((x[0] + self.half_width) / a).floor();
        let r = ((x[1] + self.half_width) / a).floor();
        let n = self.n_side as f64;
        if (0.0..n).contains(&c) && (0.0..n).contains(&r) {
            Some((r as usize, c as usize))
        } else {
            None
        }
    }

    /// Exact log p(x): −log(B·a²) on a black cell, −∞ elsewhere (white cells, off the board, NaN).
    pub fn log_density(&self, x: [f64; 2]) -> f64 {
        match self.cell_of(x) {
            Some((r, c)) if (r + c) % 2 == 0 => -(self.black.len() as f64 * self.cell() * self.cell()).ln(),
            _ => f64::NEG_INFINITY,
        }
    }

    /// `n` exact samples and the index (into [`Checkerboard::black_cells`]) of each one's cell.
    /// Sample `i` picks its cell with uniform `i` of stream 0 and its position in the cell with
    /// uniforms `2i`, `2i + 1` of stream 1 of `seed`.
    pub fn sample_labeled(&self, n: usize, seed: u64) -> (Vec<[f64; 2]>, Vec<usize>) {
        let a = self.cell();
        let b = self.black.len();
        let mut points = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let k = ((uniform_at(seed, 0, i) * b as f64) as usize).min(b - 1);
            let (r, c) = self.black[k];
            let x = -self.half_width + (c as f64 + uniform_at(seed, 1, 2 * i)) * a;
            let y = -self.half_width + (r as f64 + uniform_at(seed, 1, 2 * i + 1)) * a;
            points.push([x, y]);
            labels.push(k);
        }
        (points, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_integrates_to_one_on_a_fine_grid() {
        let cb = Checkerboard::new(4, 2.0).unwrap();
        let m = 400;
        let step = 5.0 / m as f64; // covers [−2.5, 2.5)², beyond the board
        let mut total = 0.0;
        for i in 0..m {
            for j in 0..m {
                let x = [-2.5 + (i as f64 + 0.5) * step, -2.5 + (j as f64 + 0.5) * step];
                total += cb.log_density(x).exp() * step * step;
            }
        }
        assert!((total - 1.0).abs() < 1e-9, "integral {total}");
        assert_eq!(cb.black_cells().len(), 8);
        assert!((cb.log_density([-1.5, -1.5]) + 8f64.ln()).abs() < 1e-12);
        assert_eq!(cb.log_density([-0.5, -1.5]), f64::NEG_INFINITY);
        assert_eq!(cb.log_density([f64::NAN, 0.0]), f64::NEG_INFINITY);
    }

    #[test]
    fn samples_land_on_black_cells_evenly() {
        let cb = Checkerboard::new(3, 1.5).unwrap();
        let (x, l) = cb.sample_labeled(10_000, 2);
        assert!(x.iter().all(|p| cb.log_density(*p).is_finite()));
        for k in 0..cb.black_cells().len() {
            let frac = l.iter().filter(|&&v| v == k).count() as f64 / l.len() as f64;
            assert!((frac - 0.2).abs() < 0.02, "cell {k}: {frac}");
        }
        assert!(Checkerboard::new(0, 1.0).is_err() && Checkerboard::new(2, -1.0).is_err());
    }
}
