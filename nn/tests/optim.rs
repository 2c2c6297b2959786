//! Optimisers through the `Optimizer` trait against hand-computed steps, clipping, and EMA.
use nn::optim::{Adam, Ema, EmaMode, GradSet, Optimizer, Sgd};
use nn::{Module, ModuleExt, Param, Visitor};
use tensor::{DType, Tensor};

struct Two {
    a: Param,
    b: Param,
}
impl Module for Two {
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("a", &self.a);
        v.param("b", &self.b);
    }
}

fn two() -> Two {
    Two {
        a: Param::new(Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap()),
        b: Param::new(Tensor::from_vec(vec![0.5f64], &[1]).unwrap()),
    }
}

/// loss = Σ a² + 3·b  →  ∇a = 2a, ∇b = 3
fn grads(m: &Two) -> GradSet {
    let loss =
        m.a.var()
            .square()
            .unwrap()
            .sum_all()
            .unwrap()
            .add(&m.b.var().mul_scalar(3.0).unwrap().sum_all().unwrap())
            .unwrap();
    GradSet::collect(&m.named_params(), &loss.backward().unwrap())
}

fn vals(p: &Param) -> Vec<f64> {
    p.value().to_vec::<f64>().unwrap()
}

#[test]
fn sgd_momentum_two_steps() {
    let m = two();
    let mut opt = Sgd::new(0.1, 0.9, false, 0.0);
    opt.step(&grads(&m)).unwrap(); // buf = g = 2a = [2, -4]; a = [0.8, -1.6]
    assert_eq!(vals(&m.a), vec![0.8, -1.6]);
    opt.step(&grads(&m)).unwrap(); // g = [1.6, -3.2]; buf = 0.9·[2,-4] + g = [3.4, -6.8]; a -= 0.34..
    let want = [0.8 - 0.1 * 3.4, -1.6 + 0.1 * 6.8];
    for (a, w) in vals(&m.a).iter().zip(want) {
        assert!((a - w).abs() < 1e-15);
    }
    assert!((vals(&m.b)[0] - (0.5 - 0.3 - 0.1 * (0.9 * 3.0 + 3.0))).abs() < 1e-15);
}

#[test]
fn adam_and_adamw_first_step_moves_by_lr_times_sign() {
    // On the first step m̂ = g and v̂ = g², so each coordinate moves by lr·g/(|g| + ε).
    let m = two();
    let mut opt = Adam::new(0.01, (0.9, 0.999), 1e-8, 0.0);
    opt.step(&grads(&m)).unwrap();
    let a = vals(&m.a);
    assert!((a[0] - (1.0 - 0.01 * 2.0 / (2.0 + 1e-8))).abs() < 1e-15);
    assert!((a[1] - (-2.0 + 0.01 * 4.0 / (4.0 + 1e-8))).abs() < 1e-15);
    let m = two();
    let mut opt = Adam::adamw(0.01, (0.9, 0.999), 1e-8, 0.5);
    opt.step(&grads(&m)).unwrap();
    assert!((vals(&m.b)[0] - (0.5 * (1.0 - 0.005) - 0.01 * 3.0 / (3.0 + 1e-8))).abs() < 1e-15);
    assert_eq!(opt.state().step, 1);
    assert_eq!(opt.state().tensors.len(), 4, "m and v for both parameters");
}

#[test]
fn frozen_parameters_are_not_updated() {
    let m = two();
    m.b.set_trainable(false);
    let mut opt = Sgd::new(0.1, 0.0, false, 0.0);
    let g = grads(&m);
    assert_eq!(g.items.len(), 1);
    opt.step(&g).unwrap();
    assert_eq!(vals(&m.b), vec![0.5]);
}

#[test]
fn clip_by_global_norm() {
    let m = two();
    let mut g = grads(&m); // ∇a = [2, -4], ∇b = [3]: norm √29
    let norm = g.clip_norm(1.0).unwrap();
    assert!((norm - 29f64.sqrt()).abs() < 1e-12);
    assert!((g.global_norm().unwrap() - 29f64.sqrt() / (29f64.sqrt() + 1e-6)).abs() < 1e-12);
    let mut g = grads(&m);
    g.clip_norm(100.0).unwrap();
    assert!((g.global_norm().unwrap() - 29f64.sqrt()).abs() < 1e-12, "no change below the limit");
}

#[test]
fn ema_tracks_the_weights() {
    struct One(Param);
    impl Module for One {
        fn visit(&self, v: &mut dyn Visitor) {
            v.param("w", &self.0);
        }
    }
    let m = One(Param::new(Tensor::zeros(&[1], DType::F64)));
    let mut ema = Ema::new(&m, EmaMode::Decay(0.9));
    m.0.set(Tensor::ones(&[1], DType::F64)).unwrap();
    ema.update(&m, 1, 0).unwrap();
    ema.update(&m, 1, 1).unwrap();
    // 0 → 0.1 → 0.19
    assert!((ema.shadow["w"].to_vec::<f64>().unwrap()[0] - 0.19).abs() < 1e-15);
    let copy = One(m.0.clone());
    ema.copy_to(&copy).unwrap();
    assert!((copy.0.value().to_vec::<f64>().unwrap()[0] - 0.19).abs() < 1e-15);
}
