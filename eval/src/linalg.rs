//! Small dense linear algebra in f64 for the feature statistics: a row-major [`Matrix`], the
//! unbiased mean and covariance, a cyclic Jacobi eigensolver for symmetric matrices and the
//! square root of a symmetric positive semi-definite matrix.
//!
//! Sizes here are feature dimensions (d ≤ a few hundred), so plain loops are fast enough and
//! easy to check. Row-wise work over many samples goes through [`map_rows`], which splits rows
//! over threads but returns per-row results in order, so every sum the caller forms is the same
//! whatever the thread count.
use crate::error::{Error, Result};
use tensor::Tensor;

/// A dense row-major matrix of f64; for feature sets, one sample per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A `rows`×`cols` matrix over row-major `data` (its length must be `rows·cols`).
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::invalid("Matrix::new", format!("{} values do not fill {rows}×{cols}", data.len())));
        }
        Ok(Matrix { rows, cols, data })
    }
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix { rows, cols, data: vec![0.0; rows * cols] }
    }
    pub fn identity(n: usize) -> Self {
        let mut m = Matrix::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }
    /// Stacks equal-length rows.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.len());
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
            return Err(Error::invalid(
                "Matrix::from_rows",
                format!("row {i} has {} values, row 0 has {cols}", r.len()),
            ));
        }
        Matrix::new(rows.len(), cols, rows.concat())
    }
    /// 2-D points as an n×2 matrix.
    pub fn from_points(points: &[[f64; 2]]) -> Self {
        Matrix { rows: points.len(), cols: 2, data: points.iter().flatten().copied().collect() }
    }
    /// A rank-2 tensor `[N, D]` of any dtype, converted to f64.
    pub fn from_tensor(t: &Tensor) -> Result<Self> {
        if t.rank() != 2 {
            return Err(Error::invalid(
                "Matrix::from_tensor",
                format!("expected a [N, D] tensor, got {:?}", t.shape()),
            ));
        }
        Matrix::new(t.shape()[0], t.shape()[1], t.to_vec_f64()?)
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The row-major values.
    pub fn data(&self) -> &[f64] {
        &self.data
    }
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.cols + j] = v;
    }
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// The rows at `indices`, in that order (each index must be < `rows`).
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        Matrix {
            rows: indices.len(),
            cols: self.cols,
            data: indices.iter().flat_map(|&i| self.row(i)).copied().collect(),
        }
    }
    pub fn transpose(&self) -> Matrix {
        let mut t = Matrix::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t.data[j * self.rows + i] = self.get(i, j);
            }
        }
        t
    }
    /// The matrix product `self · other`.
    pub fn matmul(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.rows {
            return Err(Error::invalid(
                "Matrix::matmul",
                format!("{}×{} times {}×{}", self.rows, self.cols, other.rows, other.cols),
            ));
        }
        let mut out = Matrix::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            for k in 0..self.cols {
                let a = self.get(i, k);
                let (o, b) = (&mut out.data[i * other.cols..(i + 1) * other.cols], other.row(k));
                for (o, b) in o.iter_mut().zip(b) {
                    *o += a * b;
                }
            }
        }
        Ok(out)
    }
    pub fn trace(&self) -> f64 {
        (0..self.rows.min(self.cols)).map(|i| self.get(i, i)).sum()
    }
    /// True when every value is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
}

/// The column means and the **unbiased** covariance (divided by N − 1, like
/// `np.cov(x, rowvar=False)`) of the rows of `x`. Needs at least two rows.
pub fn mean_and_cov(x: &Matrix) -> Result<(Vec<f64>, Matrix)> {
    let (n, d) = (x.rows(), x.cols());
    if n < 2 || d == 0 {
        return Err(Error::invalid("covariance", format!("need at least 2 samples of dimension ≥ 1, got {n}×{d}")));
    }
    if !x.is_finite() {
        return Err(Error::invalid("covariance", "features contain NaN or infinity"));
    }
    let mut mean = vec![0.0; d];
    for i in 0..n {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = Matrix::zeros(d, d);
    let mut c = vec![0.0; d];
    for i in 0..n {
        for (cj, (v, m)) in c.iter_mut().zip(x.row(i).iter().zip(&mean)) {
            *cj = v - m;
        }
        for a in 0..d {
            let row = &mut cov.data[a * d..(a + 1) * d];
            for (r, cb) in row.iter_mut().zip(&c).skip(a) {
                *r += c[a] * cb;
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov.get(a, b) / (n - 1) as f64;
            cov.set(a, b, v);
            cov.set(b, a, v);
        }
    }
    Ok((mean, cov))
}

/// Eigenvalues (ascending) and orthonormal eigenvectors (the columns of `vectors`, in the same
/// order) of a symmetric matrix.
#[derive(Clone, Debug)]
pub struct SymEigen {
    pub values: Vec<f64>,
    pub vectors: Matrix,
}

/// Eigendecomposition of a symmetric matrix by the cyclic Jacobi method (Golub & Van Loan §8.5):
/// sweep over every off-diagonal pair (p, q), zeroing a_pq with a plane rotation, until the
/// off-diagonal mass is below 1e-30 of the total or exactly zero (at most 100 sweeps; about 10
/// suffice for d ≤ 128).
/// Only the upper triangle's symmetry is assumed; a non-square or non-finite input is an error.
pub fn sym_eigen(a: &Matrix) -> Result<SymEigen> {
    let n = a.rows();
    if a.cols() != n || !a.is_finite() {
        return Err(Error::invalid("sym_eigen", format!("need a finite square matrix, got {}×{}", n, a.cols())));
    }
    let mut m = a.clone();
    // Symmetrise exactly so both triangles agree bit for bit.
    for p in 0..n {
        for q in p + 1..n {
            let v = 0.5 * (m.get(p, q) + m.get(q, p));
            m.set(p, q, v);
            m.set(q, p, v);
        }
    }
    let mut v = Matrix::identity(n);
    let total: f64 = m.data.iter().map(|x| x * x).sum();
    for sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|p| (p + 1..n).map(move |q| (p, q))).map(|(p, q)| m.get(p, q).powi(2)).sum();
        if off <= 1e-30 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m.get(p, q);
                // After a few sweeps, an a_pq below the last bit of both diagonal entries is
                // simply dropped (Numerical Recipes' rule): rotating it would change nothing.
                let g = 100.0 * apq.abs();
                if sweep > 3 && m.get(p, p).abs() + g == m.get(p, p).abs() && m.get(q, q).abs() + g == m.get(q, q).abs()
                {
                    m.set(p, q, 0.0);
                    m.set(q, p, 0.0);
                    continue;
                }
                if apq == 0.0 {
                    continue;
                }
                let theta = (m.get(q, q) - m.get(p, p)) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                let tau = s / (1.0 + c);
                m.set(p, p, m.get(p, p) - t * apq);
                m.set(q, q, m.get(q, q) + t * apq);
                m.set(p, q, 0.0);
                m.set(q, p, 0.0);
                for r in 0..n {
                    if r != p && r != q {
                        let (g, h) = (m.get(r, p), m.get(r, q));
                        let (gp, hq) = (g - s * (h + g * tau), h + s * (g - h * tau));
                        m.set(r, p, gp);
                        m.set(p, r, gp);
                        m.set(r, q, hq);
                        m.set(q, r, hq);
                    }
                    let (g, h) = (v.get(r, p), v.get(r, q));
                    v.set(r, p, g - s * (h + g * tau));
                    v.set(r, q, h + s * (g - h * tau));
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m.get(i, i).total_cmp(&m.get(j, j)));
    let values = order.iter().map(|&i| m.get(i, i)).collect();
    let mut vectors = Matrix::zeros(n, n);
    for (k, &i) in order.iter().enumerate() {
        for r in 0..n {
            vectors.set(r, k, v.get(r, i));
        }
    }
    Ok(SymEigen { values, vectors })
}

/// The symmetric square root S = U·√max(Λ, 0)·Uᵀ of a symmetric PSD matrix A = U Λ Uᵀ
/// (negative round-off eigenvalues are clamped to 0), so that S·S ≈ A.
pub fn sqrt_psd(a: &Matrix) -> Result<Matrix> {
    let e = sym_eigen(a)?;
    let n = a.rows();
    let roots: Vec<f64> = e.values.iter().map(|l| l.max(0.0).sqrt()).collect();
    let mut s = Matrix::zeros(n, n);
    for i in 0..n {
        for j in i..n {
            let v: f64 = (0..n).map(|k| e.vectors.get(i, k) * roots[k] * e.vectors.get(j, k)).sum();
            s.set(i, j, v);
            s.set(j, i, v);
        }
    }
    Ok(s)
}

/// `f(i)` for every row index `0..n`, computed on several threads in contiguous blocks and
/// returned in index order. Each result depends only on its index, so any sum the caller forms
/// over the results in order is identical for any number of threads.
pub(crate) fn map_rows<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(n / 32).max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| scope.spawn(move || (t * n / threads..(t + 1) * n / threads).map(f).collect::<Vec<T>>()))
            .collect();
        // A panicking worker re-raises its panic here, as a sequential loop would.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// Squared Euclidean distance.
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_spd(n: usize, seed: u64) -> Matrix {
        let a = Matrix::new(n, n, (0..n * n).map(|i| tensor::rng::normal_at(seed, 0, i as u64)).collect()).unwrap();
        let mut s = a.matmul(&a.transpose()).unwrap();
        for i in 0..n {
            s.set(i, i, s.get(i, i) + 0.1);
        }
        s
    }

    #[test]
    fn jacobi_reconstructs_and_is_orthonormal() {
        for n in [1, 2, 5, 40] {
            let a = random_spd(n, n as u64);
            let e = sym_eigen(&a).unwrap();
            let u = &e.vectors;
            let utu = u.transpose().matmul(u).unwrap();
            let mut lam = Matrix::zeros(n, n);
            for i in 0..n {
                lam.set(i, i, e.values[i]);
            }
            let rec = u.matmul(&lam).unwrap().matmul(&u.transpose()).unwrap();
            let scale = a.data().iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for i in 0..n {
                for j in 0..n {
                    assert!((utu.get(i, j) - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
                    assert!((rec.get(i, j) - a.get(i, j)).abs() < 1e-12 * scale);
                }
            }
            assert!(e.values.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn known_eigenvalues_and_square_root() {
        let a = Matrix::new(2, 2, vec![2.0, 1.0, 1.0, 2.0]).unwrap();
        let e = sym_eigen(&a).unwrap();
        assert!((e.values[0] - 1.0).abs() < 1e-14 && (e.values[1] - 3.0).abs() < 1e-14);
        let b = random_spd(12, 99);
        let s = sqrt_psd(&b).unwrap();
        let ss = s.matmul(&s).unwrap();
        for (x, y) in ss.data().iter().zip(b.data()) {
            assert!((x - y).abs() < 1e-10 * (1.0 + y.abs()));
        }
        assert!(sym_eigen(&Matrix::zeros(2, 3)).is_err());
        assert!(sym_eigen(&Matrix::new(1, 1, vec![f64::NAN]).unwrap()).is_err());
    }

    #[test]
    fn covariance_is_unbiased() {
        let x = Matrix::new(3, 2, vec![1.0, 2.0, 3.0, 6.0, 5.0, 4.0]).unwrap();
        let (m, c) = mean_and_cov(&x).unwrap();
        assert_eq!(m, vec![3.0, 4.0]);
        // np.cov([[1,3,5],[2,6,4]]) = [[4, 2], [2, 4]]
        assert_eq!(c.data(), &[4.0, 2.0, 2.0, 4.0]);
        assert!(mean_and_cov(&Matrix::zeros(1, 2)).is_err());
    }

    #[test]
    fn map_rows_keeps_order() {
        let v = map_rows(1000, |i| i * 2);
        assert_eq!(v, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        assert!(map_rows(0, |i| i).is_empty());
    }
}
