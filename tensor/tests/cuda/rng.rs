//! Random tensors on a GPU: every element the same bits as the CPU's for the same
//! (seed, stream, index), whatever the shape, dtype or distribution; the `_on` draws of an `Rng`
//! advance it exactly as the CPU draws do. Skipped (with the reason printed) without a GPU.
use tensor::rng::{random_on, Distribution};
use tensor::{DType, Device, Rng, Tensor};

/// Element bits (through f64, which keeps every f32/f16/bf16 value distinct, -0.0 included).
fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec_f64().unwrap().iter().map(|x| x.to_bits()).collect()
}

fn assert_same(what: &str, gpu: &Tensor, cpu: &Tensor) {
    assert!(gpu.device().is_cuda(), "{what}: not on the GPU");
    assert_eq!((gpu.shape(), gpu.dtype()), (cpu.shape(), cpu.dtype()), "{what}");
    let (g, c) = (bits(gpu), bits(cpu));
    if let Some(i) = (0..c.len()).find(|&i| g[i] != c[i]) {
        let (a, b) = (f64::from_bits(g[i]), f64::from_bits(c[i]));
        panic!("{what}: element {i} of {}: gpu {a:e} vs cpu {b:e}", c.len());
    }
}

const SHAPES: [&[usize]; 7] = [&[1], &[2], &[3], &[257], &[1025], &[3, 5, 7], &[2, 16385]];
const DISTS: [Distribution; 4] = [
    Distribution::Normal { mean: 0.0, std: 1.0 },
    Distribution::Normal { mean: 0.5, std: 2.0 },
    Distribution::Uniform { lo: -2.0, hi: 5.0 },
    Distribution::Bernoulli { p: 0.3 },
];

#[test]
fn float_tensors_match_the_cpu_bit_for_bit() {
    let dev = gpu_or_skip!();
    let keys: [(u64, u64); 5] = [(0, 0), (1, 1), (42, 7), (u64::MAX - 5, 1 << 33), (0xdead_beef_1234, 3)];
    for dtype in [DType::F32, DType::F64] {
        for (seed, stream) in keys {
            for shape in SHAPES {
                for dist in DISTS {
                    let what = format!("{dist:?} {dtype:?} seed {seed} stream {stream} shape {shape:?}");
                    let g = random_on(shape, dist, seed, stream, dtype, dev).unwrap();
                    let c = random_on(shape, dist, seed, stream, dtype, Device::Cpu).unwrap();
                    assert_same(&what, &g, &c);
                }
            }
        }
    }
}

#[test]
fn a_million_normals_match_the_cpu() {
    // Enough draws to reach the rare last-bit cases of ln/sin/cos: any difference between the
    // kernel and tensor/src/rng/math.rs shows up here first.
    let dev = gpu_or_skip!();
    for seed in [3, 77] {
        let g = Tensor::randn_on(&[1 << 20], 0.0, 1.0, seed, DType::F64, dev).unwrap();
        assert_same("randn f64", &g, &Tensor::randn(&[1 << 20], 0.0, 1.0, seed, DType::F64).unwrap());
    }
    let g = Tensor::rand_uniform_stream_on(&[999_999], 1.0, 1.5, 5, 2, DType::F32, dev).unwrap();
    assert_same("uniform f32", &g, &Tensor::rand_uniform_stream(&[999_999], 1.0, 1.5, 5, 2, DType::F32).unwrap());
}

#[test]
fn other_dtypes_convert_like_the_cpu() {
    // f16/bf16/i64/u8 are made from the same f64 numbers and converted as `WithDType::from_f64`.
    let dev = gpu_or_skip!();
    for dtype in [DType::F16, DType::BF16, DType::I64, DType::U8] {
        for dist in [
            Distribution::Normal { mean: 0.0, std: 1.0 },
            Distribution::Normal { mean: 3.0, std: 100.0 },
            Distribution::Uniform { lo: -300.0, hi: 300.0 },
            Distribution::Bernoulli { p: 0.5 },
        ] {
            for shape in [&[1usize][..], &[3], &[4097]] {
                let what = format!("{dist:?} {dtype:?} shape {shape:?}");
                let g = random_on(shape, dist, 11, 4, dtype, dev).unwrap();
                assert_same(&what, &g, &random_on(shape, dist, 11, 4, dtype, Device::Cpu).unwrap());
            }
        }
    }
}

#[test]
fn rng_draws_on_the_gpu_advance_like_cpu_draws() {
    let dev = gpu_or_skip!();
    let (mut cpu, mut gpu) = (Rng::new(2024), Rng::new(2024));
    for dtype in [DType::F32, DType::F64] {
        let c = cpu.normal(&[5, 33], 0.1, 0.02, dtype).unwrap();
        assert_same("normal_on", &gpu.normal_on(&[5, 33], 0.1, 0.02, dtype, dev).unwrap(), &c);
        let c = cpu.uniform(&[7], -1.0, 1.0, dtype).unwrap();
        assert_same("uniform_on", &gpu.uniform_on(&[7], -1.0, 1.0, dtype, dev).unwrap(), &c);
        let c = cpu.bernoulli(&[129], 0.9, dtype).unwrap();
        assert_same("bernoulli_on", &gpu.bernoulli_on(&[129], 0.9, dtype, dev).unwrap(), &c);
        assert_eq!(cpu, gpu);
    }
    let c = Tensor::randn_stream(&[17], 0.0, 1.0, 8, 9, DType::F32).unwrap();
    assert_same("randn_stream_on", &Tensor::randn_stream_on(&[17], 0.0, 1.0, 8, 9, DType::F32, dev).unwrap(), &c);
    let c = Tensor::rand_uniform(&[17], 0.0, 1.0, 8, DType::F64).unwrap();
    assert_same("rand_uniform_on", &Tensor::rand_uniform_on(&[17], 0.0, 1.0, 8, DType::F64, dev).unwrap(), &c);
    // Empty tensors are fine too.
    let e = Tensor::randn_on(&[0, 3], 0.0, 1.0, 1, DType::F32, dev).unwrap();
    assert_eq!((e.shape(), e.device()), (&[0usize, 3][..], dev));
}
