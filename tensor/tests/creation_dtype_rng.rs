//! Creation functions, dtype conversions, half-precision compute (through f32) and the RNG.
mod common;

use common::{close, Gen};
use half::{bf16, f16};
use tensor::{rng::Rng, DType, Error, Tensor};

#[test]
fn zeros_ones_full_eye() {
    for dtype in [DType::U8, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64] {
        let z = Tensor::zeros(&[2, 3], dtype);
        assert_eq!((z.shape(), z.dtype()), (&[2, 3][..], dtype));
        assert_eq!(z.to_vec_f64().unwrap(), vec![0.0; 6]);
        assert_eq!(Tensor::ones(&[4], dtype).to_vec_f64().unwrap(), vec![1.0; 4]);
        assert_eq!(Tensor::full(&[2, 2], 7.0, dtype).to_vec_f64().unwrap(), vec![7.0; 4]);
        assert_eq!(Tensor::eye(3, dtype).to_vec_f64().unwrap(), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(z.is_contiguous());
    }
    let s = Tensor::scalar(2.5, DType::F32);
    assert_eq!((s.rank(), s.elem_count()), (0, 1));
    assert_eq!(s.to_scalar_f64().unwrap(), 2.5);
    assert_eq!(Tensor::zeros(&[3, 0, 2], DType::F32).elem_count(), 0);
    let x = Tensor::full(&[2, 1], -1.5, DType::F64);
    assert_eq!(x.zeros_like().unwrap().to_vec_f64().unwrap(), vec![0.0, 0.0]);
    assert_eq!(x.ones_like().unwrap().dtype(), DType::F64);
    assert_eq!(Tensor::zeros_on(&[2], DType::F32, tensor::Device::Cpu).unwrap().shape(), &[2]);
}

#[test]
fn arange_and_linspace() {
    let a = Tensor::arange(0.0, 5.0, 1.0, DType::I64).unwrap();
    assert_eq!(a.to_vec::<i64>().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!(
        Tensor::arange(1.0, 2.0, 0.25, DType::F64).unwrap().to_vec::<f64>().unwrap(),
        vec![1.0, 1.25, 1.5, 1.75]
    );
    assert_eq!(Tensor::arange(5.0, 0.0, -2.0, DType::F32).unwrap().to_vec::<f32>().unwrap(), vec![5.0, 3.0, 1.0]);
    assert_eq!(Tensor::arange(3.0, 1.0, 1.0, DType::F32).unwrap().shape(), &[0]);
    assert_eq!(Tensor::arange(0.0, 1.0, 0.3, DType::F64).unwrap().elem_count(), 4);
    let l = Tensor::linspace(-1.0, 1.0, 5, DType::F64).unwrap();
    assert_eq!(l.to_vec::<f64>().unwrap(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    // The last point is exactly `end` even when the step does not add up exactly.
    let l = Tensor::linspace(0.0, 0.3, 4, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(l[3], 0.3);
    close(&l, &[0.0, 0.1, 0.2, 0.3], 1e-15, 0.0).unwrap();
    assert_eq!(Tensor::linspace(2.0, 9.0, 1, DType::F32).unwrap().to_vec::<f32>().unwrap(), vec![2.0]);
    assert_eq!(Tensor::linspace(2.0, 9.0, 0, DType::F32).unwrap().shape(), &[0]);
}

#[test]
fn from_vec_checks_the_element_count() {
    let err = Tensor::from_vec(vec![1.0f32; 5], &[2, 3]).unwrap_err();
    assert!(matches!(err, Error::ElementCount { got: 5, want: 6, .. }), "{err}");
    assert!(err.to_string().contains("[2, 3]"), "{err}");
    let t = Tensor::from_slice(&[1i64, 2, 3], &[3, 1]).unwrap();
    assert_eq!((t.dtype(), t.shape()), (DType::I64, &[3, 1][..]));
    assert!(Tensor::from_vec(Vec::<u8>::new(), &[0, 4]).is_ok());
    assert!(Tensor::from_vec(vec![1u8], &[]).is_ok());
}

/// f64 → half → f64 stays within half an ulp of the format (relative, normal range), and
/// equals IEEE round-to-nearest as implemented by the `half` crate.
#[test]
fn to_dtype_round_trips() {
    let mut g = Gen::new(8);
    let vals: Vec<f64> = g.vals(2000, -1.0, 1.0).into_iter().map(|v| v * 10f64.powf(v * 3.0)).collect();
    let t = Tensor::from_vec(vals.clone(), &[40, 50]).unwrap();
    for (dtype, rel) in [(DType::F16, 2f64.powi(-11)), (DType::BF16, 2f64.powi(-8)), (DType::F32, 2f64.powi(-24))] {
        let h = t.to_dtype(dtype).unwrap();
        assert_eq!((h.dtype(), h.shape()), (dtype, &[40, 50][..]));
        let back = h.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap();
        for (&v, &b) in vals.iter().zip(&back) {
            assert!((v - b).abs() <= rel * v.abs() * 1.0001 + 1e-7, "{dtype:?}: {v} -> {b}");
            let ieee = match dtype {
                DType::F16 => f16::from_f64(v).to_f64(),
                DType::BF16 => bf16::from_f64(v).to_f64(),
                _ => v as f32 as f64,
            };
            assert_eq!(b, ieee, "{dtype:?} rounding of {v}");
        }
        // Half values are exact in f32 and f64: a second trip is the identity.
        let again = h.to_dtype(DType::F32).unwrap().to_dtype(dtype).unwrap().to_dtype(DType::F64).unwrap();
        assert_eq!(again.to_vec::<f64>().unwrap(), back);
    }
    assert!(t.to_dtype(DType::F64).unwrap().same_storage(&t), "same-dtype conversion is free");
    let ints = Tensor::from_vec(vec![0.0f64, 1.0, 17.0, 255.0], &[4]).unwrap();
    assert_eq!(ints.to_dtype(DType::U8).unwrap().to_vec::<u8>().unwrap(), vec![0, 1, 17, 255]);
    assert_eq!(
        ints.to_dtype(DType::I64).unwrap().to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0, 1.0, 17.0, 255.0]
    );
}

#[test]
fn to_dtype_of_a_view_is_contiguous_in_logical_order() {
    let t = Tensor::arange(0.0, 6.0, 1.0, DType::F32).unwrap().reshape(&[2, 3]).unwrap().transpose(0, 1).unwrap();
    for dtype in [DType::F64, DType::F16, DType::I64] {
        let c = t.to_dtype(dtype).unwrap();
        assert!(c.is_contiguous());
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec_f64().unwrap(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}

/// Elementwise, reduction and softmax ops on f16/bf16 run in f32 and round the result once.
#[test]
fn half_precision_ops_compute_through_f32() {
    let mut g = Gen::new(21);
    for dtype in [DType::F16, DType::BF16] {
        let round = |v: f32| match dtype {
            DType::F16 => f16::from_f32(v).to_f64(),
            _ => bf16::from_f32(v).to_f64(),
        };
        let a = Tensor::from_vec(g.vals(12, -3.0, 3.0), &[3, 4]).unwrap().to_dtype(dtype).unwrap();
        let b = Tensor::from_vec(g.vals(4, -3.0, 3.0), &[4]).unwrap().to_dtype(dtype).unwrap();
        let (av, bv) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
        let sum = a.add(&b).unwrap();
        assert_eq!(sum.dtype(), dtype);
        let want: Vec<f64> = av.iter().enumerate().map(|(i, &x)| round(x as f32 + bv[i % 4] as f32)).collect();
        assert_eq!(sum.to_vec_f64().unwrap(), want);
        let prod: Vec<f64> = av.iter().enumerate().map(|(i, &x)| round(x as f32 * bv[i % 4] as f32)).collect();
        assert_eq!(a.mul(&b).unwrap().to_vec_f64().unwrap(), prod);
        // exp: within one unit in the last place of the format.
        let ulp = if dtype == DType::F16 { 2f64.powi(-10) } else { 2f64.powi(-7) };
        let e = a.exp().unwrap();
        assert_eq!(e.dtype(), dtype);
        let want: Vec<f64> = av.iter().map(|x| x.exp()).collect();
        close(&e.to_vec_f64().unwrap(), &want, 0.0, ulp).unwrap();
        // Row sums: accumulated in f32, rounded once.
        let s = a.sum(&[1], false).unwrap();
        assert_eq!(s.dtype(), dtype);
        let want: Vec<f64> = av.chunks(4).map(|r| round(r.iter().map(|&v| v as f32).sum())).collect();
        close(&s.to_vec_f64().unwrap(), &want, 0.0, ulp).unwrap();
        let sm = a.softmax(1).unwrap();
        assert_eq!(sm.dtype(), dtype);
        let rows = sm.sum(&[1], false).unwrap().to_vec_f64().unwrap();
        close(&rows, &[1.0; 3], 4.0 * ulp, 0.0).unwrap();
        assert_eq!(
            a.argmax(1, false).unwrap().to_vec::<i64>().unwrap(),
            a.to_dtype(DType::F32).unwrap().argmax(1, false).unwrap().to_vec::<i64>().unwrap()
        );
    }
}

/// The norms and cross-entropy follow the crate-wide rule that f16/bf16 compute in f32
/// (`dtype.rs`): they must accept half-precision inputs and return the input dtype.
#[test]
fn norms_and_cross_entropy_accept_half_precision() {
    let mut g = Gen::new(4);
    for dtype in [DType::F16, DType::BF16] {
        let x = Tensor::from_vec(g.vals(24, -2.0, 2.0), &[2, 4, 3]).unwrap().to_dtype(dtype).unwrap();
        let x32 = x.to_dtype(DType::F32).unwrap();
        let ulp = if dtype == DType::F16 { 2f64.powi(-10) } else { 2f64.powi(-7) };
        let check = |got: tensor::Result<Tensor>, want: Tensor, what: &str| {
            let got = got.unwrap_or_else(|e| panic!("{what} on {dtype:?}: {e}"));
            assert_eq!(got.dtype(), dtype, "{what}");
            close(&got.to_vec_f64().unwrap(), &want.to_vec_f64().unwrap(), 4.0 * ulp, 4.0 * ulp).unwrap();
        };
        check(
            x.layer_norm(&[3], None, None, 1e-5).map(|r| r.0),
            x32.layer_norm(&[3], None, None, 1e-5).unwrap().0,
            "layer_norm",
        );
        check(x.rms_norm(&[3], None, 1e-5).map(|r| r.0), x32.rms_norm(&[3], None, 1e-5).unwrap().0, "rms_norm");
        check(
            x.group_norm(2, None, None, 1e-5).map(|r| r.0),
            x32.group_norm(2, None, None, 1e-5).unwrap().0,
            "group_norm",
        );
        let logits = x.reshape(&[8, 3]).unwrap();
        let t = Tensor::from_vec(vec![0i64, 1, 2, 0, 1, 2, 0, 1], &[8]).unwrap();
        let want = x32.reshape(&[8, 3]).unwrap().cross_entropy(&t, None, 0.1).unwrap().0;
        check(logits.cross_entropy(&t, None, 0.1).map(|r| r.0), want, "cross_entropy");
    }
}

#[test]
fn rng_same_seed_same_numbers() {
    let a = Tensor::randn(&[1000], 0.0, 1.0, 42, DType::F64).unwrap().to_vec::<f64>().unwrap();
    let b = Tensor::randn(&[1000], 0.0, 1.0, 42, DType::F64).unwrap().to_vec::<f64>().unwrap();
    let c = Tensor::randn(&[1000], 0.0, 1.0, 43, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(a, b);
    assert!(a.iter().zip(&c).filter(|(x, y)| x == y).count() < 5, "different seeds must differ");
    // Element i depends only on (seed, stream, i): a prefix of a longer draw is the shorter draw.
    let short = Tensor::randn(&[10, 3], 0.0, 1.0, 42, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(short, a[..30]);
    // The dtype only rounds.
    let f = Tensor::randn(&[1000], 0.0, 1.0, 42, DType::F32).unwrap().to_vec::<f32>().unwrap();
    assert!(f.iter().zip(&a).all(|(&x, &y)| x == y as f32));
    let s0 = Tensor::randn_stream(&[500], 0.0, 1.0, 42, 0, DType::F64).unwrap().to_vec::<f64>().unwrap();
    let s1 = Tensor::randn_stream(&[500], 0.0, 1.0, 42, 1, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(s0, a[..500]);
    assert!(s0.iter().zip(&s1).filter(|(x, y)| x == y).count() < 5, "different streams must differ");
}

#[test]
fn rng_state_advances_and_replays() {
    let mut r = Rng::new(9);
    let saved = r;
    let a = r.normal(&[64], 0.0, 1.0, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(r.next_stream, saved.next_stream + 1);
    let b = r.normal(&[64], 0.0, 1.0, DType::F64).unwrap().to_vec::<f64>().unwrap();
    let u = r.uniform(&[64], 0.0, 1.0, DType::F64).unwrap().to_vec::<f64>().unwrap();
    let m = r.bernoulli(&[64], 0.5, DType::U8).unwrap();
    assert_eq!((r.seed, r.next_stream), (9, 4));
    assert_ne!(a, b);
    // Replaying from the saved state reproduces every draw.
    let mut replay = saved;
    assert_eq!(replay.normal(&[64], 0.0, 1.0, DType::F64).unwrap().to_vec::<f64>().unwrap(), a);
    assert_eq!(replay.normal(&[64], 0.0, 1.0, DType::F64).unwrap().to_vec::<f64>().unwrap(), b);
    assert_eq!(replay.uniform(&[64], 0.0, 1.0, DType::F64).unwrap().to_vec::<f64>().unwrap(), u);
    assert_eq!(replay.bernoulli(&[64], 0.5, DType::U8).unwrap().to_vec::<u8>().unwrap(), m.to_vec::<u8>().unwrap());
    // Draw k of an Rng is stream k of the free functions.
    let direct = Tensor::randn_stream(&[64], 0.0, 1.0, 9, 1, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert_eq!(direct, b);
}

#[test]
fn rng_moments_are_sane() {
    let n = 100_000;
    let mut r = Rng::new(123);
    let x = r.normal(&[n], 3.0, 2.0, DType::F64).unwrap().to_vec::<f64>().unwrap();
    let mean = x.iter().sum::<f64>() / n as f64;
    let std = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
    assert!((mean - 3.0).abs() < 0.03 && (std - 2.0).abs() < 0.03, "normal: mean {mean} std {std}");
    let frac_1sd = x.iter().filter(|v| (*v - 3.0).abs() < 2.0).count() as f64 / n as f64;
    assert!((frac_1sd - 0.6827).abs() < 0.01, "normal: P(|z| < 1) = {frac_1sd}");
    let u = r.uniform(&[n], -2.0, 5.0, DType::F64).unwrap().to_vec::<f64>().unwrap();
    assert!(u.iter().all(|v| (-2.0..5.0).contains(v)));
    let mean = u.iter().sum::<f64>() / n as f64;
    let var = u.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
    assert!((mean - 1.5).abs() < 0.03 && (var - 49.0 / 12.0).abs() < 0.05, "uniform: mean {mean} var {var}");
    let b = r.bernoulli(&[n], 0.3, DType::F32).unwrap().to_vec::<f32>().unwrap();
    assert!(b.iter().all(|&v| v == 0.0 || v == 1.0));
    let p = b.iter().sum::<f32>() as f64 / n as f64;
    assert!((p - 0.3).abs() < 0.01, "bernoulli: {p}");
    let ru = Tensor::rand_uniform(&[n], 0.0, 1.0, 5, DType::F32).unwrap().to_vec::<f32>().unwrap();
    assert!(ru.iter().all(|v| (0.0..1.0).contains(v)));
}
