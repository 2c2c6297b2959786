//! Cross-crate checks of the whole engine: a small network trains, and a full training step
//! (forward, backward, update) is bit-identical whatever the thread count.
use r0ddo::autograd::Var;
use r0ddo::tensor::{Conv2dParams, DType, Result, Rng, Tensor};

/// A small conv net step: conv → group norm → SiLU → conv → mean-pool → linear → cross-entropy.
/// Returns the loss and the updated parameters (plain SGD).
fn train_step(params: &[Tensor], x: &Tensor, y: &Tensor, lr: f64) -> Result<(f64, Vec<Tensor>)> {
    let p: Vec<Var> = params.iter().cloned().map(Var::leaf).collect();
    let same = Conv2dParams { padding: (1, 1), ..Default::default() };
    let x = Var::constant(x.clone());
    let h = x.conv2d(&p[0], Some(&p[1]), &same)?.group_norm(2, Some(&p[2]), Some(&p[3]), 1e-5)?.silu()?;
    let h = h.conv2d(&p[4], None, &Conv2dParams { stride: (2, 2), ..same })?.relu()?;
    let feats = h.mean(&[2, 3], false)?; // [N, 8]
    let logits = feats.matmul(&p[5])?; // [N, 3]
    let loss = logits.cross_entropy(y, None, 0.0)?;
    let grads = loss.backward()?;
    let mut next = Vec::new();
    for v in &p {
        let g = grads.get(v).expect("every parameter gets a gradient");
        next.push(v.value().sub(&g.scale(lr)?)?);
    }
    Ok((loss.to_scalar_f64()?, next))
}

fn setup() -> (Vec<Tensor>, Tensor, Tensor) {
    let mut rng = Rng::new(42);
    let shapes: [&[usize]; 6] = [&[4, 3, 3, 3], &[4], &[4], &[4], &[8, 4, 3, 3], &[8, 3]];
    let mut params: Vec<Tensor> = shapes.iter().map(|s| rng.normal(s, 0.0, 0.3, DType::F32).unwrap()).collect();
    params[2] = Tensor::ones(&[4], DType::F32);
    // Images whose class is the brightest of the three channels.
    let x = rng.normal(&[12, 3, 8, 8], 0.0, 1.0, DType::F32).unwrap();
    let labels: Vec<i64> = (0..12).map(|i| i % 3).collect();
    let bump = Tensor::from_vec(
        labels.iter().flat_map(|&l| (0..3).map(move |c| if c == l { 1.5f32 } else { 0.0 })).collect::<Vec<_>>(),
        &[12, 3, 1, 1],
    )
    .unwrap();
    (params, x.add(&bump).unwrap(), Tensor::from_vec(labels, &[12]).unwrap())
}

#[test]
fn a_small_conv_net_learns() {
    let (mut params, x, y) = setup();
    let (first, _) = train_step(&params, &x, &y, 0.0).unwrap();
    let mut last = first;
    for _ in 0..60 {
        let (l, next) = train_step(&params, &x, &y, 0.2).unwrap();
        params = next;
        last = l;
    }
    assert!(last < 0.5 * first, "loss went from {first} to {last}");
}

#[test]
fn a_training_step_is_bit_identical_for_one_and_two_threads() {
    let (params, x, y) = setup();
    // `kept_warm`: the pool's other threads spin between kernels (kernels::parallel::install).
    let run = |threads: usize, kept_warm: bool| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let step = || train_step(&params, &x, &y, 0.1).unwrap();
        if kept_warm {
            kernels::parallel::install(&pool, step)
        } else {
            pool.install(step)
        }
    };
    let (l1, p1) = run(1, false);
    for (threads, kept_warm) in [(2, false), (2, true), (3, true)] {
        let (l2, p2) = run(threads, kept_warm);
        assert_eq!(l1.to_bits(), l2.to_bits(), "{threads} threads, kept warm: {kept_warm}");
        for (a, b) in p1.iter().zip(&p2) {
            let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}
