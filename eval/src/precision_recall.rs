//! Improved precision and recall (Kynkäänniemi et al. 2019; `evaluation.md` §3).
//!
//! Each point gets a radius: the distance to its k-th nearest neighbour **within its own set,
//! itself excluded** (k = 3). Precision is the fraction of generated points inside at least one
//! real ball (‖g − rⱼ‖ ≤ radius(rⱼ), ties inside); recall is the same with the roles swapped.
//! Distances are plain Euclidean in f64 (compared squared, which orders them identically).
//! The cost is O(N²·D) per side; use equal N on both sides (2–5k).
use crate::error::{Error, Result};
use crate::linalg::{map_rows, sq_dist, Matrix};

/// The k of the reference implementation.
pub const PR_K: usize = 3;

/// Precision and recall of a generated set against a real one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrecisionRecall {
    pub precision: f64,
    pub recall: f64,
}

/// Squared distance from each row of `x` to its k-th nearest other row of `x` (an identical
/// duplicate counts as a neighbour at distance 0; only the row itself is excluded).
pub fn knn_sq_radii(x: &Matrix, k: usize) -> Result<Vec<f64>> {
    let n = x.rows();
    if k == 0 || n <= k {
        return Err(Error::invalid("knn_radii", format!("need k ≥ 1 and more than k = {k} points, got {n}")));
    }
    Ok(map_rows(n, |i| {
        let mut d: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| sq_dist(x.row(i), x.row(j))).collect();
        let (_, kth, _) = d.select_nth_unstable_by(k - 1, f64::total_cmp);
        *kth
    }))
}

/// The fraction of rows of `queries` inside at least one ball (centre row of `centres`, squared
/// radius `sq_radii`).
fn coverage_of(queries: &Matrix, centres: &Matrix, sq_radii: &[f64]) -> f64 {
    let inside = map_rows(queries.rows(), |i| {
        (0..centres.rows()).any(|j| sq_dist(queries.row(i), centres.row(j)) <= sq_radii[j])
    });
    inside.iter().filter(|&&b| b).count() as f64 / queries.rows() as f64
}

/// Precision and recall of `fake` against `real` with k-th-neighbour balls (`k` = [`PR_K`] in
/// reports). Both sets need more than k rows, one feature dimension and finite values.
pub fn precision_recall(real: &Matrix, fake: &Matrix, k: usize) -> Result<PrecisionRecall> {
    if real.cols() != fake.cols() || real.cols() == 0 {
        return Err(Error::invalid(
            "precision_recall",
            format!("feature dimensions differ or are empty: {} vs {}", real.cols(), fake.cols()),
        ));
    }
    if !real.is_finite() || !fake.is_finite() {
        return Err(Error::invalid("precision_recall", "features contain NaN or infinity"));
    }
    let (rr, rf) = (knn_sq_radii(real, k)?, knn_sq_radii(fake, k)?);
    Ok(PrecisionRecall { precision: coverage_of(fake, real, &rr), recall: coverage_of(real, fake, &rf) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[f64]) -> Matrix {
        Matrix::new(points.len(), 1, points.to_vec()).unwrap()
    }

    #[test]
    fn identical_sets_give_one_and_far_sets_give_zero() {
        let x = Matrix::new(50, 3, (0..150).map(|i| ((i * 37) % 101) as f64 / 10.0).collect()).unwrap();
        assert_eq!(precision_recall(&x, &x, 3).unwrap(), PrecisionRecall { precision: 1.0, recall: 1.0 });
        let far = Matrix::new(50, 3, x.data().iter().map(|v| v + 1e3).collect()).unwrap();
        assert_eq!(precision_recall(&x, &far, 3).unwrap(), PrecisionRecall { precision: 0.0, recall: 0.0 });
    }

    #[test]
    fn tiny_case_by_hand() {
        // Real {0, 1, 2, 10}, k = 1: radii 1, 1, 1, 8 (10's nearest is 2).
        // Fake {0.5, 5, 20}, k = 1: radii 4.5, 4.5, 15.
        // Precision: 0.5 is within 1 of 0 → in; 5 is 5 from 10 ≤ 8 → in; 20 is 10 from 10 > 8 → out: 2/3.
        // Recall: 0, 1, 2 are within 4.5 of 0.5 (2 is 1.5 away) → in; 10 is 5 from 5 > 4.5, 10 from 20 ≤ 15 → in: 4/4.
        let real = line(&[0.0, 1.0, 2.0, 10.0]);
        let fake = line(&[0.5, 5.0, 20.0]);
        let pr = precision_recall(&real, &fake, 1).unwrap();
        assert!((pr.precision - 2.0 / 3.0).abs() < 1e-15 && pr.recall == 1.0, "{pr:?}");
        // k = 2: real radii 2, 1, 2, 9; fake radii 19.5, 15, 19.5 (the farther of the other two).
        // Precision: 0.5 in; 5 is 5 from 10 ≤ 9 → in; 20 is 10 from 10 > 9 → out: 2/3. Recall: all in: 1.
        let pr2 = precision_recall(&real, &fake, 2).unwrap();
        assert!((pr2.precision - 2.0 / 3.0).abs() < 1e-15 && pr2.recall == 1.0, "{pr2:?}");
        let r = knn_sq_radii(&real, 1).unwrap();
        assert_eq!(r, vec![1.0, 1.0, 1.0, 64.0]);
        let tie = precision_recall(&line(&[0.0, 1.0, 3.0]), &line(&[5.0, 6.0, 7.0]), 1).unwrap();
        // A tie on the radius counts as inside. Real radii 1, 1, 2: fake 5 is exactly 2 from 3 →
        // inside; 6 and 7 are out.
        assert!((tie.precision - 1.0 / 3.0).abs() < 1e-15, "{tie:?}");
    }

    #[test]
    fn matches_numpy_on_the_golden_sets() {
        // `eval/tests/fd_golden.py` (the stylegan2-ada reference logic in numpy, k = 3): P = 1.0, R = 0.8.
        let (x, y) = crate::fid::tests::golden_sets();
        let pr = precision_recall(&x, &y, PR_K).unwrap();
        assert_eq!(pr, PrecisionRecall { precision: 1.0, recall: 0.8 });
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = line(&[0.0, 1.0, 2.0, 3.0]);
        assert!(precision_recall(&a, &line(&[0.0, 1.0, 2.0]), 3).is_err());
        assert!(precision_recall(&a, &Matrix::zeros(5, 2), 1).is_err());
        assert!(precision_recall(&a, &line(&[0.0, f64::NAN, 1.0, 2.0, 3.0]), 1).is_err());
        assert!(knn_sq_radii(&a, 0).is_err());
    }
}
