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
fn casts_and_integer_types() {
    // A cast to an integer type ends the graph, as in PyTorch: the other path still trains.
    let x = Var::leaf(t(&[1.5, 2.5], &[2]));
    let rounded = x.mul_scalar(10.0).unwrap().to_dtype(DType::I64).unwrap();
    assert!(!rounded.requires_grad());
    let y = x.add(&rounded.to_dtype(DType::F64).unwrap()).unwrap().sum_all().unwrap();
    assert_eq!(y.backward().unwrap().get(&x).unwrap().to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
    // An integer leaf marked as needing a gradient cannot get one: an error, never zeros.
    let ids = Var::leaf(Tensor::from_vec(vec![1i64, 2], &[2]).unwrap());
    let y = ids.to_dtype(DType::F64).unwrap().sum_all().unwrap();
    match y.backward() {
        Err(Error::NoBackward { op }) => assert!(op.contains("integer")),
        other => panic!("expected NoBackward, got {:?}", other.map(|g| g.len())),
    }
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    let x = Var::leaf(t(&[1.0], &[1]));
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.add_scalar(1e-4).unwrap();
    }
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![1.0]);
    // Dropping the graph must not recurse either; run it on a small stack to be sure.
    let x2 = x.clone();
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut y = x2.clone();
            for _ in 0..200_000 {
                y = y.add_scalar(1e-4).unwrap();
            }
            drop(y);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn nan_propagates_like_pytorch() {
    let x = Var::leaf(t(&[f64::NAN, -1.0], &[2]));
    assert!(x.relu().unwrap().to_vec_f64().unwrap()[0].is_nan());
    assert!(x.clamp(-0.5, 0.5).unwrap().to_vec_f64().unwrap()[0].is_nan());
    assert!(x.max(&[], false).unwrap().to_scalar_f64().unwrap().is_nan());
    assert!(x.min(&[], false).unwrap().to_scalar_f64().unwrap().is_nan());
    let zero = Var::constant(t(&[0.0, 0.0], &[2]));
    assert!(x.maximum(&zero).unwrap().to_vec_f64().unwrap()[0].is_nan());
    assert_eq!(x.argmax(0, false).unwrap().to_vec::<i64>().unwrap(), vec![0]);
}

#[test]
fn power_gradients_at_zero_to_the_zero() {
    // d/dx x^0 = 0 and d/da a^b at (0, 0) = 0 (PyTorch's convention), not 0·∞ = NaN.
    let x = Var::leaf(t(&[0.0], &[1]));
    let g = x.powf(0.0).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![0.0]);
    let b = Var::leaf(t(&[0.0], &[1]));
    let g = x.pow(&b).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![0.0]);
    assert_eq!(g.get(&b).unwrap().to_vec::<f64>().unwrap(), vec![0.0]);
}

#[test]
fn matmul_with_an_empty_inner_dimension() {
    // [2, 3, 0] @ [0, 4] = zeros [2, 3, 4]; the gradient w.r.t. the [0, 4] weight is empty.
    let a = Var::leaf(Tensor::zeros(&[2, 3, 0], DType::F64));
    let w = Var::leaf(Tensor::zeros(&[0, 4], DType::F64));
    let y = a.matmul(&w).unwrap();
    assert_eq!((y.shape(), y.to_vec_f64().unwrap()), (&[2, 3, 4][..], vec![0.0; 24]));
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&w).unwrap().shape(), &[0, 4]);
    assert_eq!(g.get(&a).unwrap().shape(), &[2, 3, 0]);
}

#[test]
fn empty_slices_and_bad_seeds() {
    let x = Var::leaf(t(&[1.0, 2.0, 3.0], &[3]));
    let empty = x.slice(0, 5, 9, 1).unwrap();
    assert_eq!(empty.shape(), &[0]);
    let y = Var::cat(&[&x, &empty], 0).unwrap().sum_all().unwrap();
    assert_eq!(y.backward().unwrap().get(&x).unwrap().to_vec::<f64>().unwrap(), vec![1.0; 3]);
    assert!(x.narrow(0, usize::MAX, 2).is_err());
    let seed = Tensor::ones(&[3], DType::F32);
    assert!(matches!(x.backward_with_grad(&seed, &[]), Err(Error::DTypeMismatch { .. })));
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

#[test]
fn half_precision_norms_and_losses_match_f64() {
    // The same graph in f64 and in bf16/f16 (computed through f32) gives close gradients.
    let x64 = Tensor::randn(&[2, 4, 3], 0.0, 1.0, 5, DType::F64).unwrap();
    let g64 = Tensor::randn(&[4], 1.0, 0.1, 6, DType::F64).unwrap();
    let run = |dt: DType| {
        let x = Var::leaf(x64.to_dtype(dt).unwrap());
        let gamma = Var::leaf(g64.to_dtype(dt).unwrap());
        let h = x.group_norm(2, Some(&gamma), None, 1e-5).unwrap();
        let h = h.layer_norm(&[3], None, None, 1e-5).unwrap().rms_norm(&[3], None, 1e-6).unwrap();
        let logits = h.reshape(&[8, 3]).unwrap();
        let targets = Tensor::from_vec((0..8).map(|i| i % 3).collect::<Vec<i64>>(), &[8]).unwrap();
        let loss = logits.cross_entropy(&targets, None, 0.1).unwrap();
        let g = loss.backward().unwrap();
        assert_eq!(g.get(&x).unwrap().dtype(), dt);
        (g.get(&x).unwrap().to_vec_f64().unwrap(), g.get(&gamma).unwrap().to_vec_f64().unwrap())
    };
    let (dx, dg) = run(DType::F64);
    for (dt, tol) in [(DType::F32, 1e-5), (DType::F16, 2e-2), (DType::BF16, 1e-1)] {
        let (hx, hg) = run(dt);
        for (a, b) in dx.iter().zip(&hx).chain(dg.iter().zip(&hg)) {
            assert!((a - b).abs() <= tol * (1.0 + a.abs()), "{dt:?}: {a} vs {b}");
        }
    }
}

#[test]
fn a_weight_used_transposed_gets_a_contiguous_gradient_with_the_plain_bits() {
    // y = x·wᵀ with w: [n, k] row-major (what `Linear` does). The weight's gradient is gᵀ·x; it
    // must arrive contiguous and equal, bit for bit, the transpose of xᵀ·g computed directly.
    let mut rng = tensor::Rng::new(5);
    for (rows, k, n, lead) in
        [(7usize, 5usize, 3usize, None), (4, 33, 17, Some(3usize)), (130, 40, 70, None), (600, 24, 50, Some(2))]
    {
        let x_shape: Vec<usize> = lead.into_iter().chain([rows, k]).collect();
        let x = Var::leaf(rng.normal(&x_shape, 0.0, 1.0, DType::F32).unwrap());
        let w = Var::leaf(rng.normal(&[n, k], 0.0, 1.0, DType::F32).unwrap());
        let gy_shape: Vec<usize> = lead.into_iter().chain([rows, n]).collect();
        let gy = rng.normal(&gy_shape, 0.0, 1.0, DType::F32).unwrap();
        let y = x.matmul(&w.transpose(0, 1).unwrap()).unwrap();
        let grads = y.backward_with_grad(&gy, &[]).unwrap();
        let gw = grads.get(&w).unwrap();
        assert!(gw.is_contiguous(), "{rows}x{k}x{n}: weight gradient is a strided view");
        let all_rows = rows * lead.unwrap_or(1);
        let (x2, g2) = (x.value().reshape(&[all_rows, k]).unwrap(), gy.reshape(&[all_rows, n]).unwrap());
        let plain = x2.transpose(0, 1).unwrap().matmul(&g2).unwrap().transpose(0, 1).unwrap();
        assert_eq!(gw.to_vec::<f32>().unwrap(), plain.contiguous().unwrap().to_vec::<f32>().unwrap());
    }
}
