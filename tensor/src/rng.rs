//! Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, the generator cuRAND and JAX
//! use). Element `i` of a random tensor is a pure function of `(seed, stream, i)`, so the numbers
//! do not depend on how many threads produce them, and the GPU can reproduce them exactly.
//!
//! Normals use Box–Muller with our own `ln`/`sin`/`cos` ([`math`]) rather than the platform libm,
//! whose last bits differ between libm versions and from the GPU's: with them the numbers are the
//! same bits on every machine, and `kernels/cuda/rng.cu` gives the same bits on a GPU. The `_on`
//! constructors (`Tensor::randn_on`, `Rng::normal_on`, …) draw on a chosen device. Values are
//! made in f64 and converted with `WithDType::from_f64`; for f16 that conversion (the `half`
//! crate's) rounds through f32 on x86 CPUs with F16C and directly elsewhere, and the GPU follows
//! the F16C way.
use crate::{CpuStorage, DType, Device, Result, Tensor};
use rayon::prelude::*;

pub mod math;

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

/// Standard normals number `2b` and `2b + 1` of (`seed`, `stream`): Box–Muller on block `b`'s two
/// uniforms, `r·cos θ` and `r·sin θ` with `r = √(−2 ln(1 − u₁))`, `θ = 2π·u₂`.
pub fn normal_pair(seed: u64, stream: u64, b: u64) -> [f64; 2] {
    let [u1, u2] = uniforms(block(seed, stream, b));
    let r = (-2.0 * math::ln(1.0 - u1)).sqrt();
    let (sin, cos) = math::sincos(2.0 * std::f64::consts::PI * u2);
    [r * cos, r * sin]
}

/// Standard normal number `i` of (`seed`, `stream`): element `i % 2` of [`normal_pair`] `i / 2`.
pub fn normal_at(seed: u64, stream: u64, i: u64) -> f64 {
    normal_pair(seed, stream, i / 2)[(i % 2) as usize]
}

/// Elements per parallel chunk (even, so a chunk never splits a pair).
const CHUNK: usize = 1 << 14;

fn fill(n: usize, f: impl Fn(u64) -> f64 + Sync) -> Vec<f64> {
    let mut v = vec![0.0; n];
    // Fixed chunking: each element depends only on its index, so any split gives the same numbers.
    let _warm = (n > CHUNK).then(kernels::parallel::keep_warm);
    v.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = f((c * CHUNK + j) as u64);
        }
    });
    v
}

/// Like [`fill`] for numbers made in pairs: `f(b)` gives elements `2b` and `2b + 1`.
fn fill_pairs(n: usize, f: impl Fn(u64) -> [f64; 2] + Sync) -> Vec<f64> {
    let mut v = vec![0.0; n];
    let _warm = (n > CHUNK).then(kernels::parallel::keep_warm);
    v.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        for (j, pair) in chunk.chunks_mut(2).enumerate() {
            let w = f((c * CHUNK / 2 + j) as u64);
            pair.copy_from_slice(&w[..pair.len()]);
        }
    });
    v
}

/// What a random tensor holds; each element is computed in f64 from its uniform(s) and then
/// converted to the tensor's dtype.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// `lo + (hi − lo)·u`, u uniform in [0, 1).
    Uniform { lo: f64, hi: f64 },
    /// `mean + std·z`, z standard normal.
    Normal { mean: f64, std: f64 },
    /// 1 where `u < p`, else 0.
    Bernoulli { p: f64 },
}

impl Distribution {
    /// Elements of (`seed`, `stream`) on the CPU, in f64.
    fn sample_cpu(self, n: usize, seed: u64, stream: u64) -> Vec<f64> {
        match self {
            Distribution::Uniform { lo, hi } => fill(n, |i| lo + (hi - lo) * uniform_at(seed, stream, i)),
            Distribution::Normal { mean, std } => fill_pairs(n, |b| {
                let [z0, z1] = normal_pair(seed, stream, b);
                [mean + std * z0, mean + std * z1]
            }),
            Distribution::Bernoulli { p } => fill(n, |i| if uniform_at(seed, stream, i) < p { 1.0 } else { 0.0 }),
        }
    }
}

/// A random tensor of (`seed`, `stream`) on `device`: the same elements, bit for bit, on any device.
pub fn random_on(
    shape: &[usize],
    dist: Distribution,
    seed: u64,
    stream: u64,
    dtype: DType,
    device: Device,
) -> Result<Tensor> {
    match device {
        Device::Cpu => {
            let v = dist.sample_cpu(shape.iter().product(), seed, stream);
            Tensor::from_cpu(CpuStorage::from_f64_iter(dtype, v.into_iter()), shape)
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(n) => crate::cuda::rng::random(&crate::cuda::device(n)?, shape, dist, seed, stream, dtype),
        #[cfg(not(feature = "cuda"))]
        d => Err(crate::Error::DeviceUnavailable(d)),
    }
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
        self.uniform_on(shape, lo, hi, dtype, Device::Cpu)
    }
    pub fn normal(&mut self, shape: &[usize], mean: f64, std: f64, dtype: DType) -> Result<Tensor> {
        self.normal_on(shape, mean, std, dtype, Device::Cpu)
    }
    /// A 0/1 mask, 1 with probability `p`.
    pub fn bernoulli(&mut self, shape: &[usize], p: f64, dtype: DType) -> Result<Tensor> {
        self.bernoulli_on(shape, p, dtype, Device::Cpu)
    }
    /// [`Rng::uniform`] drawn on `device` (the same numbers; the state advances the same way,
    /// even when the device fails).
    pub fn uniform_on(&mut self, shape: &[usize], lo: f64, hi: f64, dtype: DType, device: Device) -> Result<Tensor> {
        let s = self.take();
        random_on(shape, Distribution::Uniform { lo, hi }, self.seed, s, dtype, device)
    }
    /// [`Rng::normal`] drawn on `device`.
    pub fn normal_on(&mut self, shape: &[usize], mean: f64, std: f64, dtype: DType, device: Device) -> Result<Tensor> {
        let s = self.take();
        random_on(shape, Distribution::Normal { mean, std }, self.seed, s, dtype, device)
    }
    /// [`Rng::bernoulli`] drawn on `device`.
    pub fn bernoulli_on(&mut self, shape: &[usize], p: f64, dtype: DType, device: Device) -> Result<Tensor> {
        let s = self.take();
        random_on(shape, Distribution::Bernoulli { p }, self.seed, s, dtype, device)
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
        random_on(shape, Distribution::Uniform { lo, hi }, seed, stream, dtype, Device::Cpu)
    }
    /// [`Tensor::rand_uniform`] on `device`.
    pub fn rand_uniform_on(
        shape: &[usize],
        lo: f64,
        hi: f64,
        seed: u64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        random_on(shape, Distribution::Uniform { lo, hi }, seed, 0, dtype, device)
    }
    /// [`Tensor::rand_uniform_stream`] on `device`.
    pub fn rand_uniform_stream_on(
        shape: &[usize],
        lo: f64,
        hi: f64,
        seed: u64,
        stream: u64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        random_on(shape, Distribution::Uniform { lo, hi }, seed, stream, dtype, device)
    }
    /// Normal with the given mean and standard deviation.
    pub fn randn(shape: &[usize], mean: f64, std: f64, seed: u64, dtype: DType) -> Result<Tensor> {
        Tensor::randn_stream(shape, mean, std, seed, 0, dtype)
    }
    pub fn randn_stream(shape: &[usize], mean: f64, std: f64, seed: u64, stream: u64, dtype: DType) -> Result<Tensor> {
        random_on(shape, Distribution::Normal { mean, std }, seed, stream, dtype, Device::Cpu)
    }
    /// [`Tensor::randn`] on `device`.
    pub fn randn_on(shape: &[usize], mean: f64, std: f64, seed: u64, dtype: DType, device: Device) -> Result<Tensor> {
        random_on(shape, Distribution::Normal { mean, std }, seed, 0, dtype, device)
    }
    /// [`Tensor::randn_stream`] on `device`.
    pub fn randn_stream_on(
        shape: &[usize],
        mean: f64,
        std: f64,
        seed: u64,
        stream: u64,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        random_on(shape, Distribution::Normal { mean, std }, seed, stream, dtype, device)
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

    #[test]
    fn pairs_fill_like_single_elements_across_chunks() {
        // Odd lengths and a length past one parallel chunk: the pair fill must place every
        // element where normal_at puts it.
        for n in [1, 3, CHUNK + 3, 2 * CHUNK + 1] {
            let t = Tensor::randn_stream(&[n], 0.5, 2.0, 17, 3, DType::F64).unwrap().to_vec::<f64>().unwrap();
            for (i, &x) in t.iter().enumerate() {
                assert_eq!(x.to_bits(), (0.5 + 2.0 * normal_at(17, 3, i as u64)).to_bits(), "n {n} element {i}");
            }
        }
    }

    #[test]
    fn on_cpu_matches_the_cpu_constructors_and_advances_alike() {
        let bits = |t: Tensor| t.to_vec_f64().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16] {
            let (mut a, mut b) = (Rng::new(5), Rng::new(5));
            assert_eq!(
                bits(a.normal(&[3, 7], 1.0, 3.0, dtype).unwrap()),
                bits(b.normal_on(&[3, 7], 1.0, 3.0, dtype, Device::Cpu).unwrap())
            );
            assert_eq!(
                bits(a.uniform(&[9], -1.0, 2.0, dtype).unwrap()),
                bits(b.uniform_on(&[9], -1.0, 2.0, dtype, Device::Cpu).unwrap())
            );
            assert_eq!(
                bits(a.bernoulli(&[11], 0.3, dtype).unwrap()),
                bits(b.bernoulli_on(&[11], 0.3, dtype, Device::Cpu).unwrap())
            );
            assert_eq!(a, b);
            assert_eq!(
                bits(Tensor::randn(&[5], 0.0, 1.0, 9, dtype).unwrap()),
                bits(Tensor::randn_on(&[5], 0.0, 1.0, 9, dtype, Device::Cpu).unwrap())
            );
            assert_eq!(
                bits(Tensor::rand_uniform_stream(&[5], 0.0, 1.0, 9, 4, dtype).unwrap()),
                bits(Tensor::rand_uniform_stream_on(&[5], 0.0, 1.0, 9, 4, dtype, Device::Cpu).unwrap())
            );
        }
        // A device this build cannot use is an error, and the draw is still spent.
        let mut r = Rng::new(1);
        if r.normal_on(&[2], 0.0, 1.0, DType::F32, Device::Cuda(usize::MAX - 1)).is_err() {
            assert_eq!(r.next_stream, 1);
        }
    }
}
