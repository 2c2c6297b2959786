//! The graph mechanics: accumulation, no_grad, detach, retained intermediates, errors.
use autograd::{no_grad, Var};
use tensor::{DType, Error, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn a_var_used_twice_accumulates_both_paths() {
    // y = x·x + 3x  →  dy/dx = 2x + 3
    let x = Var::leaf(t(&[1.0, -2.0, 0.5], &[3]));
    let y = x.mul(&x).unwrap().add(&x.mul_scalar(3.0).unwrap()).unwrap().sum_all().unwrap();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![5.0, -1.0, 4.0]);
}

#[test]
fn diamond_graph_waits_for_all_contributions() {
    // a = exp(x); b = a·2; c = a·a; y = b + c  →  dy/dx = (2 + 2a)·a
    let x = Var::leaf(t(&[0.3], &[1]));
    let a = x.exp().unwrap();
    let b = a.mul_scalar(2.0).unwrap();
    let c = a.mul(&a).unwrap();
    let y = b.add(&c).unwrap().sum_all().unwrap();
    let g = y.backward().unwrap();
    let av = 0.3f64.exp();
    let want = (2.0 + 2.0 * av) * av;
    assert!((g.get(&x).unwrap().to_vec::<f64>().unwrap()[0] - want).abs() < 1e-12);
}

#[test]
fn no_grad_records_nothing_and_restores_the_mode() {
    let x = Var::leaf(t(&[1.0, 2.0], &[2]));
    let y = no_grad(|| x.square().unwrap());
    assert!(!y.requires_grad() && y.is_leaf());
    assert!(autograd::grad_enabled());
    let z = x.square().unwrap();
    assert!(z.requires_grad() && !z.is_leaf());
}

#[test]
fn detach_cuts_the_graph() {
    let x = Var::leaf(t(&[1.0, 2.0], &[2]));
    let y = x.square().unwrap().detach().mul(&x).unwrap().sum_all().unwrap();
    // d/dx (c · x) with c = x² held constant = c
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 4.0]);
}

#[test]
fn constants_get_no_gradient_and_intermediates_only_on_request() {
    let x = Var::leaf(t(&[1.0, 2.0], &[2]));
    let c = Var::constant(t(&[3.0, 4.0], &[2]));
    let h = x.mul(&c).unwrap();
    let y = h.sum_all().unwrap();
    let g = y.backward().unwrap();
    assert!(g.get(&c).is_none());
    assert!(g.get(&h).is_none(), "intermediates are freed unless retained");
    let g = y.backward_retaining(&[&h]).unwrap();
    assert_eq!(g.get(&h).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![3.0, 4.0]);
}

#[test]
fn backward_of_a_non_scalar_is_an_error_unless_seeded() {
    let x = Var::leaf(t(&[1.0, 2.0], &[2]));
    let y = x.mul_scalar(2.0).unwrap();
    assert!(matches!(y.backward(), Err(Error::NotScalar { .. })));
    let g = y.backward_with_grad(&t(&[1.0, 10.0], &[2]), &[]).unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![2.0, 20.0]);
    assert!(y.backward_with_grad(&t(&[1.0], &[1]), &[]).is_err());
}

#[test]
fn casting_to_an_integer_type_has_no_gradient_and_says_so() {
    let x = Var::leaf(t(&[1.5, 2.5], &[2]));
    let y = x.to_dtype(DType::I64).unwrap().to_dtype(DType::F64).unwrap().sum_all().unwrap();
    match y.backward() {
        Err(Error::NoBackward { op }) => assert!(op.contains("integer")),
        other => panic!("expected NoBackward, got {:?}", other.map(|g| g.len())),
    }
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    let x = Var::leaf(t(&[1.0], &[1]));
    let mut y = x.clone();
    for _ in 0..20_000 {
        y = y.add_scalar(1e-4).unwrap();
    }
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![1.0]);
}

#[test]
fn half_precision_vars_train_through_f32_compute() {
    let x = Var::leaf(Tensor::from_vec(vec![0.5f32, -1.0, 2.0], &[3]).unwrap().to_dtype(DType::F16).unwrap());
    let y = x.tanh().unwrap().mul(&x).unwrap().sum_all().unwrap();
    let g = y.backward().unwrap().get(&x).unwrap().clone();
    assert_eq!(g.dtype(), DType::F16);
    let got = g.to_vec_f64().unwrap();
    for (v, gv) in [0.5f64, -1.0, 2.0].iter().zip(got) {
        let want = v.tanh() + v * (1.0 - v.tanh().powi(2));
        assert!((gv - want).abs() < 5e-3, "{gv} vs {want}");
    }
}
