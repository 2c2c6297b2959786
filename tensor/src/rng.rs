//! Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, the generator cuRAND and JAX
//! use). Element `i` of a random tensor is a pure function of `(seed, stream, i)`, so the numbers
//! do not depend on how many threads produce them, and the GPU can reproduce them exactly.
use crate::{CpuStorage, DType, Result, Tensor};
use rayon::prelude::*;

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Ten Philox rounds on a 128-bit counter with a 64-bit key.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let p0 = (M0 as u64) * (c[0] as u64);
        let p1 = (M1 as u64) * (c[2] as u64);
        let (hi0, lo0, hi1, lo1) = ((p0 >> 32) as u32, p0 as u32, (p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// The block of four words for (`seed`, `stream`, block index `b`).
fn block(seed: u64, stream: u64, b: u64) -> [u32; 4] {
    philox4x32([b as u32, (b >> 32) as u32, stream as u32, (stream >> 32) as u32], [seed as u32, (seed >> 32) as u32])
}

/// Two uniforms in [0, 1) with 53 random bits each, from one block.
fn uniforms(w: [u32; 4]) -> [f64; 2] {
    let f = |hi: u32, lo: u32| ((((hi as u64) << 32 | lo as u64) >> 11) as f64) * (1.0 / (1u64 << 53) as f64);
    [f(w[0], w[1]), f(w[2], w[3])]
}

/// Uniform [0, 1) number number `i` of (`seed`, `stream`).
pub fn uniform_at(seed: u64, stream: u64, i: u64) -> f64 {
    uniforms(block(seed, stream, i / 2))[(i % 2) as usize]
}

/// Standard normal number `i` of (`seed`, `stream`): Box–Muller on the block's two uniforms.
pub fn normal_at(seed: u64, stream: u64, i: u64) -> f64 {
    let [u1, u2] = uniforms(block(seed, stream, i / 2));
    let r = (-2.0 * (1.0 - u1).ln()).sqrt();
    let t = 2.0 * std::f64::consts::PI * u2;
    if i.is_multiple_of(2) {
        r * t.cos()
    } else {
        r * t.sin()
    }
}

fn fill(n: usize, f: impl Fn(u64) -> f64 + Sync) -> Vec<f64> {
    let mut v = vec![0.0; n];
    // Fixed chunking: each element depends only on its index, so any split gives the same numbers.
    v.par_chunks_mut(1 << 14).enumerate().for_each(|(c, chunk)| {
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = f(((c << 14) + j) as u64);
        }
    });
    v
}

/// A seeded stream of random tensors. Each draw consumes a fresh `stream` number, so successive
/// draws differ, and `(seed, next_stream)` is the whole state (saved with checkpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng {
    pub seed: u64,
    pub next_stream: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { seed, next_stream: 0 }
    }
    fn take(&mut self) -> u64 {
        let s = self.next_stream;
        self.next_stream += 1;
        s
    }
    pub fn uniform(&mut self, shape: &[usize], lo: f64, hi: f64, dtype: DType) -> Result<Tensor> {
        let s = self.take();
        Tensor::rand_uniform_stream(shape, lo, hi, self.seed, s, dtype)
    }
    pub fn normal(&mut self, shape: &[usize], mean: f64, std: f64, dtype: DType) -> Result<Tensor> {
        let s = self.take();
        Tensor::randn_stream(shape, mean, std, self.seed, s, dtype)
    }
    /// A 0/1 mask, 1 with probability `p`.
    pub fn bernoulli(&mut self, shape: &[usize], p: f64, dtype: DType) -> Result<Tensor> {
        let s = self.take();
        let v = fill(shape.iter().product(), |i| if uniform_at(self.seed, s, i) < p { 1.0 } else { 0.0 });
        Tensor::from_cpu(CpuStorage::from_f64_iter(dtype, v.into_iter()), shape)
    }
}

impl Tensor {
    /// Uniform in `[lo, hi)`, element `i` from Philox(seed, stream 0, i).
    pub fn rand_uniform(shape: &[usize], lo: f64, hi: f64, seed: u64, dtype: DType) -> Result<Tensor> {
        Tensor::rand_uniform_stream(shape, lo, hi, seed, 0, dtype)
    }
    pub fn rand_uniform_stream(
        shape: &[usize],
        lo: f64,
        hi: f64,
        seed: u64,
        stream: u64,
        dtype: DType,
    ) -> Result<Tensor> {
        let v = fill(shape.iter().product(), |i| lo + (hi - lo) * uniform_at(seed, stream, i));
        Tensor::from_cpu(CpuStorage::from_f64_iter(dtype, v.into_iter()), shape)
    }
    /// Normal with the given mean and standard deviation.
    pub fn randn(shape: &[usize], mean: f64, std: f64, seed: u64, dtype: DType) -> Result<Tensor> {
        Tensor::randn_stream(shape, mean, std, seed, 0, dtype)
    }
    pub fn randn_stream(shape: &[usize], mean: f64, std: f64, seed: u64, stream: u64, dtype: DType) -> Result<Tensor> {
        let v = fill(shape.iter().product(), |i| mean + std * normal_at(seed, stream, i));
        Tensor::from_cpu(CpuStorage::from_f64_iter(dtype, v.into_iter()), shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answer() {
        // Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32 R=10).
        assert_eq!(philox4x32([0, 0, 0, 0], [0, 0]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(
            philox4x32([0xffff_ffff; 4], [0xffff_ffff; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
    }

    #[test]
    fn normals_have_unit_moments_and_are_thread_count_independent() {
        let n = 200_000;
        let a = Tensor::randn(&[n], 0.0, 1.0, 7, DType::F64).unwrap().to_vec::<f64>().unwrap();
        let mean = a.iter().sum::<f64>() / n as f64;
        let var = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean} var {var}");
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let b = one.install(|| Tensor::randn(&[n], 0.0, 1.0, 7, DType::F64).unwrap().to_vec::<f64>().unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn uniform_in_range_and_streams_differ() {
        let mut r = Rng::new(3);
        let a = r.uniform(&[1000], -2.0, 5.0, DType::F32).unwrap().to_vec::<f32>().unwrap();
        let b = r.uniform(&[1000], -2.0, 5.0, DType::F32).unwrap().to_vec::<f32>().unwrap();
        assert!(a.iter().all(|&x| (-2.0..5.0).contains(&x)));
        assert_ne!(a, b);
    }
}
