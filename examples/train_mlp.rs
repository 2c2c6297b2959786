//! Trains a 2-64-64-1 MLP on "two moons" (a 2-D binary classification toy) with the engine's
//! autograd and a hand-written Adam step, printing the loss as it falls.
//!
//! Run: `cargo run --release --example train_mlp`
use r0ddo::autograd::{no_grad, Var};
use r0ddo::tensor::{DType, Result, Rng, Tensor};

/// `n` points of two interleaved half-circles with Gaussian noise; labels 0 / 1.
fn two_moons(n: usize, noise: f64, rng: &mut Rng) -> Result<(Tensor, Tensor)> {
    let t = rng.uniform(&[n], 0.0, std::f64::consts::PI, DType::F64)?.to_vec::<f64>()?;
    let eps = rng.normal(&[n, 2], 0.0, noise, DType::F64)?.to_vec::<f64>()?;
    let (mut xs, mut ys) = (Vec::with_capacity(2 * n), Vec::with_capacity(n));
    for i in 0..n {
        let upper = i % 2 == 0;
        let (x, y) = if upper { (t[i].cos(), t[i].sin()) } else { (1.0 - t[i].cos(), 0.5 - t[i].sin()) };
        xs.extend([x + eps[2 * i], y + eps[2 * i + 1]]);
        ys.push(if upper { 0.0 } else { 1.0 });
    }
    Ok((Tensor::from_vec(xs, &[n, 2])?.to_dtype(DType::F32)?, Tensor::from_vec(ys, &[n, 1])?.to_dtype(DType::F32)?))
}

/// One dense layer's parameters, PyTorch's default init (uniform ±1/√fan_in).
fn linear(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Result<[Var; 2]> {
    let b = 1.0 / (fan_in as f64).sqrt();
    Ok([
        Var::leaf(rng.uniform(&[fan_in, fan_out], -b, b, DType::F32)?),
        Var::leaf(rng.uniform(&[fan_out], -b, b, DType::F32)?),
    ])
}

fn forward(params: &[Var], x: &Var) -> Result<Var> {
    let h = x.matmul(&params[0])?.add(&params[1])?.relu()?;
    let h = h.matmul(&params[2])?.add(&params[3])?.relu()?;
    h.matmul(&params[4])?.add(&params[5])
}

/// Binary cross-entropy on logits z: softplus(z) − y·z, averaged.
fn bce_with_logits(z: &Var, y: &Var) -> Result<Var> {
    z.softplus()?.sub(&z.mul(y)?)?.mean_all()
}

fn main() -> Result<()> {
    let mut rng = Rng::new(0);
    let (x, y) = two_moons(512, 0.1, &mut rng)?;
    let (x, y) = (Var::constant(x), Var::constant(y));
    let mut params: Vec<Var> = [linear(2, 64, &mut rng)?, linear(64, 64, &mut rng)?, linear(64, 1, &mut rng)?].concat();
    let n_params: usize = params.iter().map(|p| p.value().elem_count()).sum();
    println!("two moons, 512 points; MLP 2-64-64-1 ({n_params} parameters); Adam lr 1e-2");

    // Adam state per parameter (first and second moments).
    let (lr, b1, b2, eps) = (1e-2, 0.9, 0.999, 1e-8);
    let mut m: Vec<Tensor> = params.iter().map(|p| p.value().zeros_like()).collect::<std::result::Result<_, _>>()?;
    let mut v: Vec<Tensor> = m.clone();
    let start = std::time::Instant::now();
    for step in 1..=300 {
        let loss = bce_with_logits(&forward(&params, &x)?, &y)?;
        let grads = loss.backward()?;
        if step == 1 || step % 25 == 0 {
            println!("step {step:4}  loss {:.4}", loss.to_scalar_f64()?);
        }
        for (i, p) in params.iter_mut().enumerate() {
            let Some(g) = grads.get(p) else { continue };
            m[i] = m[i].scale(b1)?.add(&g.scale(1.0 - b1)?)?;
            v[i] = v[i].scale(b2)?.add(&g.square()?.scale(1.0 - b2)?)?;
            let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
            let update = m[i].scale(1.0 / c1)?.div(&v[i].scale(1.0 / c2)?.sqrt()?.affine(1.0, eps)?)?;
            *p = Var::leaf(p.value().sub(&update.scale(lr)?)?);
        }
    }
    let acc = no_grad(|| -> Result<f64> {
        let pred = forward(&params, &x)?.value().cmp_scalar(r0ddo::tensor::CmpOp::Gt, 0.0)?.to_dtype(DType::F32)?;
        let right = pred.cmp(r0ddo::tensor::CmpOp::Eq, y.value())?.to_dtype(DType::F64)?;
        right.mean(&[], false)?.to_scalar_f64()
    })?;
    println!("trained in {:.2?}; training accuracy {:.1}%", start.elapsed(), 100.0 * acc);
    Ok(())
}
