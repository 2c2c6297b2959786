//! Shared helpers for the tensor integration tests: a deterministic value generator, a naive
//! dense n-d array (`Nd`) with explicit index arithmetic that the reference implementations are
//! written against, and builders that store the same logical values in non-contiguous layouts.
#![allow(dead_code)]

use proptest::test_runner::TestCaseError;
use tensor::{DType, Tensor};

/// splitmix64: a tiny deterministic generator, independent of the crate's Philox RNG.
#[derive(Clone, Debug)]
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
    pub fn vals(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    /// Small integers in `-k..=k` (many ties).
    pub fn ints(&mut self, n: usize, k: i64) -> Vec<f64> {
        (0..n).map(|_| (self.below((2 * k + 1) as usize) as i64 - k) as f64).collect()
    }
    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    pub fn perm(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            p.swap(i, j);
        }
        p
    }
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major multi-index of flat position `i`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// Row-major flat position of multi-index `idx`.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// NumPy broadcast of two shapes, written independently of the crate's `broadcast_shapes`.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let get = |s: &[usize], i: usize| {
        if i + s.len() >= r {
            s[i + s.len() - r]
        } else {
            1
        }
    };
    (0..r)
        .map(|i| match (get(a, i), get(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Maps an index of a broadcast output (rank `idx.len()`) to the index of an operand of `shape`.
pub fn align(idx: &[usize], shape: &[usize]) -> Vec<usize> {
    let lead = idx.len() - shape.len();
    shape.iter().enumerate().map(|(i, &d)| if d == 1 { 0 } else { idx[lead + i] }).collect()
}

/// A dense row-major n-d array of f64: the reference model every naive op is written against.
#[derive(Clone, Debug, PartialEq)]
pub struct Nd {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Nd {
    pub fn new(shape: &[usize], data: Vec<f64>) -> Nd {
        assert_eq!(numel(shape), data.len(), "Nd::new: {shape:?}");
        Nd { shape: shape.to_vec(), data }
    }
    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> f64) -> Nd {
        let data = (0..numel(shape)).map(|i| f(&unravel(i, shape))).collect();
        Nd { shape: shape.to_vec(), data }
    }
    pub fn random(shape: &[usize], g: &mut Gen) -> Nd {
        Nd::new(shape, g.vals(numel(shape), -2.0, 2.0))
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn at(&self, idx: &[usize]) -> f64 {
        self.data[ravel(idx, &self.shape)]
    }
    /// `out[i0, i1, ..] = self[j]` with `j[perm[k]] = i_k` (PyTorch `permute`).
    pub fn permute(&self, perm: &[usize]) -> Nd {
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        Nd::from_fn(&shape, |idx| {
            let mut j = vec![0; idx.len()];
            for (k, &p) in perm.iter().enumerate() {
                j[p] = idx[k];
            }
            self.at(&j)
        })
    }
    pub fn transpose(&self, a: usize, b: usize) -> Nd {
        let mut p: Vec<usize> = (0..self.rank()).collect();
        p.swap(a, b);
        self.permute(&p)
    }
    /// Python `x[start:end:step]` along `dim` (end clamped to the size).
    pub fn slice(&self, dim: usize, start: usize, end: usize, step: usize) -> Nd {
        let end = end.min(self.shape[dim]);
        let len = if end > start { (end - start).div_ceil(step) } else { 0 };
        let mut shape = self.shape.clone();
        shape[dim] = len;
        Nd::from_fn(&shape, |idx| {
            let mut j = idx.to_vec();
            j[dim] = start + idx[dim] * step;
            self.at(&j)
        })
    }
    pub fn broadcast_to(&self, shape: &[usize]) -> Nd {
        Nd::from_fn(shape, |idx| self.at(&align(idx, &self.shape)))
    }
    pub fn reshape(&self, shape: &[usize]) -> Nd {
        Nd::new(shape, self.data.clone())
    }
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Nd {
        Nd::new(&self.shape, self.data.iter().map(|&v| f(v)).collect())
    }
    /// Values rounded through `dtype` (what a tensor of that dtype stores).
    pub fn rounded(&self, dtype: DType) -> Nd {
        self.map(|v| match dtype {
            DType::F32 => v as f32 as f64,
            DType::F16 => half::f16::from_f64(v).to_f64(),
            DType::BF16 => half::bf16::from_f64(v).to_f64(),
            _ => v,
        })
    }
    /// A fresh contiguous tensor.
    pub fn tensor(&self, dtype: DType) -> Tensor {
        let t = Tensor::from_vec(self.data.clone(), &self.shape).unwrap();
        t.to_dtype(dtype).unwrap()
    }
}

/// The same logical values as `nd` in a layout picked by `mode % 4`: 0 contiguous, 1 a permuted
/// view of permuted storage, 2 every other element along a dim (garbage NaNs in between),
/// 3 contiguous at a non-zero storage offset (a narrowed view).
pub fn with_layout(nd: &Nd, dtype: DType, mode: u8, g: &mut Gen) -> Tensor {
    let r = nd.rank();
    if r == 0 {
        return nd.tensor(dtype);
    }
    let t = match mode % 4 {
        0 => nd.tensor(dtype),
        1 => {
            let q = g.perm(r);
            let mut inv = vec![0; r];
            for (i, &p) in q.iter().enumerate() {
                inv[p] = i;
            }
            nd.permute(&q).tensor(dtype).permute(&inv).unwrap()
        }
        2 => {
            let d = g.below(r);
            let mut big_shape = nd.shape.clone();
            big_shape[d] = 2 * nd.shape[d] + 1;
            let big = Nd::from_fn(&big_shape, |idx| {
                if idx[d] % 2 == 1 {
                    let mut j = idx.to_vec();
                    j[d] /= 2;
                    nd.at(&j)
                } else {
                    f64::NAN
                }
            });
            big.tensor(dtype).slice(d as isize, 1, big_shape[d], 2).unwrap()
        }
        _ => {
            let mut big_shape = nd.shape.clone();
            big_shape[0] += 2;
            let big = Nd::from_fn(&big_shape, |idx| {
                if idx[0] >= 1 && idx[0] <= nd.shape[0] {
                    let mut j = idx.to_vec();
                    j[0] -= 1;
                    nd.at(&j)
                } else {
                    f64::NAN
                }
            });
            big.tensor(dtype).narrow(0, 1, nd.shape[0]).unwrap()
        }
    };
    assert_eq!(t.shape(), nd.shape.as_slice());
    t
}

/// `|got - want| <= atol + rtol·|want|` elementwise (NaN matches NaN, equal infinities match).
pub fn close(got: &[f64], want: &[f64], atol: f64, rtol: f64) -> Result<(), TestCaseError> {
    if got.len() != want.len() {
        return Err(TestCaseError::fail(format!("length {} != expected {}", got.len(), want.len())));
    }
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= atol + rtol * b.abs();
        if !ok {
            return Err(TestCaseError::fail(format!("element {i}: got {a}, expected {b} (atol {atol}, rtol {rtol})")));
        }
    }
    Ok(())
}

/// Checks a tensor's shape and values against a reference array.
pub fn close_nd(t: &Tensor, want: &Nd, atol: f64, rtol: f64) -> Result<(), TestCaseError> {
    if t.shape() != want.shape.as_slice() {
        return Err(TestCaseError::fail(format!("shape {:?}, expected {:?}", t.shape(), want.shape)));
    }
    close(&t.to_vec_f64().unwrap(), &want.data, atol, rtol)
}

/// Tolerances `(atol, rtol)` for results computed in `dtype` from O(1) inputs.
pub fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-12, 1e-10),
        DType::F32 => (1e-5, 1e-5),
        _ => (1e-2, 1e-2),
    }
}

/// A unique path in the system temp dir (no `tempfile` crate).
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    std::env::temp_dir().join(format!("tensor-test-{}-{tag}-{n}-{nanos}.safetensors", std::process::id()))
}

/// Proptest settings for these tests: `cases` cases and no regression files written into the
/// source tree (the tests share the tree with concurrent editors).
pub fn config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config { failure_persistence: None, ..proptest::test_runner::Config::with_cases(cases) }
}
