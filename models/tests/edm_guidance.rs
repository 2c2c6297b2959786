//! Conditions: classifier-free guidance (scale, interval, one batched pass), condition dropout
//! and the row operations on `Cond`.
use autograd::Var;
use models::edm::*;
use tensor::{DType, Rng, Tensor};

fn vals(v: &Var) -> Vec<f64> {
    v.to_vec_f64().unwrap()
}

fn max_diff(a: &Var, b: &Var) -> f64 {
    vals(a).iter().zip(vals(b)).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn oracle_classes() -> ExactGmmDenoiser {
    ExactGmmDenoiser::new(&[vec![-1.0, 0.0], vec![1.0, 0.5], vec![0.0, 2.0]], &[0.2, 0.5, 0.3], &[0.1, 0.2, 0.05])
        .unwrap()
}

#[test]
fn guidance_combines_conditional_and_null_passes() {
    let o = oracle_classes();
    let b = 6;
    let x = Var::constant(Tensor::randn(&[b, 2], 0.0, 1.5, 8, DType::F64).unwrap());
    let sigma = Var::constant(Tensor::from_vec(vec![0.1, 0.5, 1.0, 2.0, 5.0, 20.0], &[b]).unwrap());
    let cond = Cond::Class(Tensor::from_vec(vec![0i64, 1, 2, 0, 1, 2], &[b]).unwrap());
    let null = Cond::Class(Tensor::from_vec(vec![o.null_class()], &[1]).unwrap());
    let d_c = o.denoise(&x, &sigma, Some(&cond)).unwrap();
    let d_u = o.denoise(&x, &sigma, None).unwrap();
    assert!(max_diff(&d_u, &o.denoise(&x, &sigma, Some(&null.repeat_rows(b).unwrap())).unwrap()) < 1e-15);
    let guided = |g: &Guidance| Guided::new(&o, g).denoise(&x, &sigma, Some(&cond)).unwrap();
    for w in [0.0, 1.0, 2.0, 3.5] {
        let g = Guidance::new(w, null.clone()).unwrap();
        let want = d_u.add(&d_c.sub(&d_u).unwrap().mul_scalar(w).unwrap()).unwrap();
        assert!(max_diff(&guided(&g), &want) < 1e-12, "w = {w}");
    }
    // Interval [0.5, 5]: rows with σ outside get w = 1 (the conditional denoiser).
    let g = Guidance::new(3.0, null.clone()).unwrap().with_interval(0.5, 5.0);
    let got = vals(&guided(&g));
    let (c, u) = (vals(&d_c), vals(&d_u));
    for (i, s) in [0.1, 0.5, 1.0, 2.0, 5.0, 20.0].iter().enumerate() {
        let w = if (0.5..=5.0).contains(s) { 3.0 } else { 1.0 };
        for j in 0..2 {
            let k = 2 * i + j;
            assert!((got[k] - (u[k] + w * (c[k] - u[k]))).abs() < 1e-12);
        }
    }
    // One batched call of 2B rows per guided evaluation; none doubled at w = 1.
    let counted = CountEvals::new(&o);
    let g = Guidance::new(2.0, null.clone()).unwrap();
    Guided::new(&counted, &g).denoise(&x, &sigma, Some(&cond)).unwrap();
    assert_eq!((counted.calls(), counted.rows()), (1, 2 * b));
    let g1 = Guidance::new(1.0, null).unwrap();
    Guided::new(&counted, &g1).denoise(&x, &sigma, Some(&cond)).unwrap();
    assert_eq!((counted.calls(), counted.rows()), (2, 3 * b));
}

#[test]
fn condition_dropout_and_row_ops() {
    let ids = Cond::Class(Tensor::from_vec(vec![0i64, 1, 2, 1], &[4]).unwrap());
    let null = Cond::Class(Tensor::from_vec(vec![3i64], &[1]).unwrap());
    let ids_of = |c: &Cond| match c {
        Cond::Class(t) => t.to_vec_f64().unwrap(),
        _ => unreachable!(),
    };
    let (kept, m) = CondDropout::new(0.0, null.clone()).unwrap().apply(&ids, &mut Rng::new(0)).unwrap();
    assert_eq!((ids_of(&kept), m), (vec![0.0, 1.0, 2.0, 1.0], vec![false; 4]));
    let (all, _) = CondDropout::new(1.0, null.clone()).unwrap().apply(&ids, &mut Rng::new(0)).unwrap();
    assert_eq!(ids_of(&all), vec![3.0; 4]);
    let big = Cond::Class(Tensor::zeros(&[20_000], DType::I64));
    let (_, mask) = CondDropout::new(0.15, null.clone()).unwrap().apply(&big, &mut Rng::new(1)).unwrap();
    let frac = mask.iter().filter(|&&m| m).count() as f64 / 20_000.0;
    assert!((frac - 0.15).abs() < 0.01, "{frac}");
    // Embeddings: the null row replaces masked rows and gradients reach the kept rows.
    let emb = Var::leaf(Tensor::randn(&[3, 4], 0.0, 1.0, 2, DType::F64).unwrap());
    let zero = Cond::Embedding(Var::constant(Tensor::zeros(&[1, 4], DType::F64)));
    let Cond::Embedding(out) = Cond::Embedding(emb.clone()).where_rows(&[false, true, false], &zero).unwrap() else {
        unreachable!()
    };
    assert_eq!(&vals(&out)[4..8], &[0.0; 4]);
    let g = out.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&emb).unwrap().to_vec_f64().unwrap(), [1., 1., 1., 1., 0., 0., 0., 0., 1., 1., 1., 1.]);
    assert!(ids.cat(&zero).is_err());
    assert!(CondDropout::new(1.5, null).is_err());
    assert_eq!(ids.cat(&ids).unwrap().batch(), 8);
}
