//! Every layer: output shapes, PyTorch state-dict names, and the every-parameter-gets-a-gradient
//! check; plus freezing, train/eval, cloning and init bounds.
use autograd::{AttnMask, Var};
use nn::layers::*;
use nn::testing::check_all_params_get_grads;
use nn::{visit_child, Module, ModuleExt, Visitor};
use tensor::{DType, Rng, Tensor};

fn input(shape: &[usize], seed: u64) -> Var {
    Var::constant(Tensor::randn(shape, 0.0, 1.0, seed, DType::F32).unwrap())
}

fn assert_grads(model: &dyn Module, f: impl FnOnce() -> tensor::Result<Var>) {
    let problems = check_all_params_get_grads(model, f).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

fn names(m: &dyn Module) -> Vec<String> {
    m.named_params().into_iter().map(|(n, _)| n).collect()
}

/// A small composite model, to check nested names.
#[derive(Clone)]
struct Block {
    norm: AdaGroupNorm,
    conv: Conv2d,
    attn: MultiHeadAttention,
    mlp: Mlp,
}

impl Module for Block {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "norm", &self.norm);
        visit_child(v, "conv", &self.conv);
        visit_child(v, "attn", &self.attn);
        visit_child(v, "mlp", &self.mlp);
    }
}

#[test]
fn linear_and_mlp() {
    let mut rng = Rng::new(0);
    let lin = Linear::new(3, 5, true, &mut rng).unwrap();
    assert_eq!(names(&lin), ["weight", "bias"]);
    assert_eq!(lin.weight.shape(), [5, 3]);
    let y = lin.forward(&input(&[2, 4, 3], 1)).unwrap();
    assert_eq!(y.shape(), &[2, 4, 5]);
    // PyTorch default init bound 1/√fan_in
    assert!(lin.weight.value().to_vec::<f32>().unwrap().iter().all(|w| w.abs() <= 1.0 / 3f32.sqrt()));
    assert_grads(&lin, || lin.forward(&input(&[4, 3], 2))?.square()?.sum_all());
    let mlp = Mlp::new(&[2, 8, 8, 1], Activation::Silu, &mut rng).unwrap();
    assert_eq!(names(&mlp)[..3], ["layers.0.weight", "layers.0.bias", "layers.1.weight"]);
    assert_eq!(mlp.param_count(), 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1);
    assert_grads(&mlp, || mlp.forward(&input(&[16, 2], 3))?.square()?.mean_all());
}

#[test]
fn convolutions_and_resampling() {
    let mut rng = Rng::new(1);
    let conv = Conv2d::new(3, 4, 3, &mut rng).unwrap();
    assert_eq!(conv.forward(&input(&[2, 3, 8, 8], 1)).unwrap().shape(), &[2, 4, 8, 8]);
    assert_grads(&conv, || conv.forward(&input(&[2, 3, 5, 5], 2))?.square()?.sum_all());
    let up = Upsample::new(4, 2, &mut rng).unwrap();
    assert_eq!(up.forward(&input(&[1, 4, 3, 5], 3)).unwrap().shape(), &[1, 2, 6, 10]);
    assert_eq!(names(&up), ["conv.weight", "conv.bias"]);
    assert_grads(&up, || up.forward(&input(&[1, 4, 3, 3], 4))?.square()?.sum_all());
    let down = Downsample::new(2, 3, &mut rng).unwrap();
    assert_eq!(down.forward(&input(&[1, 2, 7, 8], 5)).unwrap().shape(), &[1, 3, 4, 4]);
    assert_grads(&down, || down.forward(&input(&[1, 2, 6, 6], 6))?.square()?.sum_all());
    let p = tensor::Conv2dParams { stride: (2, 2), padding: (1, 1), output_padding: (1, 1), ..Default::default() };
    let ct = ConvTranspose2d::new(3, 2, (3, 3), p, true, &mut rng).unwrap();
    assert_eq!(ct.weight.shape(), [3, 2, 3, 3]);
    assert_eq!(ct.forward(&input(&[1, 3, 4, 4], 7)).unwrap().shape(), &[1, 2, 8, 8]);
    assert_grads(&ct, || ct.forward(&input(&[1, 3, 4, 4], 8))?.square()?.sum_all());
}

#[test]
fn norms_embeddings_and_modulation() {
    let mut rng = Rng::new(2);
    let gn = GroupNorm::new(2, 4, true);
    // γ=1, β=0 at init: the output is exactly the normalised input
    let y = gn.forward(&input(&[2, 4, 3, 3], 1)).unwrap();
    assert_eq!(y.shape(), &[2, 4, 3, 3]);
    assert_grads(&gn, || gn.forward(&input(&[2, 4, 3, 3], 2))?.mul(&input(&[2, 4, 3, 3], 3))?.sum_all());
    let ln = LayerNorm::new(&[6], true);
    assert_grads(&ln, || ln.forward(&input(&[3, 6], 4))?.mul(&input(&[3, 6], 5))?.sum_all());
    let rms = RmsNorm::new(6);
    assert_grads(&rms, || rms.forward(&input(&[3, 6], 6))?.mul(&input(&[3, 6], 7))?.sum_all());
    let emb = Embedding::new(10, 4, &mut rng).unwrap();
    let ids = Tensor::from_vec(vec![1i64, 9, 1], &[3]).unwrap();
    assert_eq!(emb.forward(&ids).unwrap().shape(), &[3, 4]);
    assert_grads(&emb, || {
        emb.forward(&Tensor::from_vec((0..10).collect::<Vec<i64>>(), &[10]).unwrap())?.square()?.sum_all()
    });
    let t = Var::constant(Tensor::from_vec(vec![0.0f32, 0.5, 10.0], &[3]).unwrap());
    let s = SinusoidalEmbedding::new(8).forward(&t).unwrap().to_vec_f64().unwrap();
    assert_eq!(s.len(), 24);
    assert!((s[0] - 1.0).abs() < 1e-6 && s[4].abs() < 1e-6, "cos(0) = 1, sin(0) = 0");
    assert!((s[16] - 10f64.cos()).abs() < 1e-5, "first frequency is 1");
    let f = FourierEmbedding::new(8, 16.0, &mut rng).unwrap();
    assert_eq!(f.forward(&t).unwrap().shape(), &[3, 8]);
    assert!(f.trainable_params().is_empty(), "Fourier frequencies are a buffer");
    assert_eq!(names(&f), ["freqs"]);
    let ada = AdaGroupNorm::new(2, 4, 5, &mut rng).unwrap();
    // zero-initialised projection: starts as a plain GroupNorm
    let x = input(&[2, 4, 3, 3], 8);
    let plain = GroupNorm::new(2, 4, false).forward(&x).unwrap().to_vec_f64().unwrap();
    assert_eq!(ada.forward(&x, &input(&[2, 5], 9)).unwrap().to_vec_f64().unwrap(), plain);
    // a zero-initialised projection's weight gets a gradient only through the product with cond;
    // after one perturbation every parameter must receive one.
    ada.proj.weight.set(Tensor::randn(&[8, 5], 0.0, 0.1, 3, DType::F32).unwrap()).unwrap();
    assert_grads(&ada, || ada.forward(&x, &input(&[2, 5], 10))?.mul(&input(&[2, 4, 3, 3], 11))?.sum_all());
    let adaln = AdaLayerNorm::new(6, 5, true, &mut rng).unwrap();
    adaln.proj.weight.set(Tensor::randn(&[18, 5], 0.0, 0.1, 4, DType::F32).unwrap()).unwrap();
    let (y, gate) = adaln.forward(&input(&[2, 3, 6], 12), &input(&[2, 5], 13)).unwrap();
    assert_eq!((y.shape(), gate.as_ref().unwrap().shape()), (&[2, 3, 6][..], &[2, 1, 6][..]));
    assert_grads(&adaln, || {
        let (y, g) = adaln.forward(&input(&[2, 3, 6], 12), &input(&[2, 5], 13))?;
        y.mul(&g.unwrap())?.mul(&input(&[2, 3, 6], 14))?.sum_all()
    });
}

#[test]
fn attention_self_cross_masks_and_qk_norm() {
    let mut rng = Rng::new(3);
    let sa = MultiHeadAttention::new(8, 2, None, false, &mut rng).unwrap();
    assert_eq!(sa.forward(&input(&[2, 5, 8], 1), None, None, true).unwrap().shape(), &[2, 5, 8]);
    assert_grads(&sa, || sa.forward(&input(&[2, 5, 8], 2), None, None, false)?.square()?.sum_all());
    let ca = MultiHeadAttention::new(8, 4, Some(6), true, &mut rng).unwrap();
    assert_eq!(names(&ca).last().unwrap(), "qk_log_scale");
    let ctx = input(&[2, 3, 6], 3);
    let mask = AttnMask::Bool(Tensor::from_vec(vec![1u8, 1, 0], &[1, 1, 1, 3]).unwrap());
    assert_grads(&ca, || ca.forward(&input(&[2, 4, 8], 4), Some(&ctx), Some(&mask), false)?.square()?.sum_all());
    // A masked key cannot influence the output.
    let x = input(&[1, 2, 8], 5);
    let c1 = input(&[1, 3, 6], 6);
    let mut c2v = c1.value().to_vec::<f32>().unwrap();
    for v in &mut c2v[12..] {
        *v += 5.0;
    }
    let c2 = Var::constant(Tensor::from_vec(c2v, &[1, 3, 6]).unwrap());
    let a = ca.forward(&x, Some(&c1), Some(&mask), false).unwrap().to_vec_f64().unwrap();
    let b = ca.forward(&x, Some(&c2), Some(&mask), false).unwrap().to_vec_f64().unwrap();
    assert_eq!(a, b);
    assert!(MultiHeadAttention::new(8, 3, None, false, &mut rng).is_err());
}

#[test]
fn nested_names_freezing_modes_and_clones() {
    let mut rng = Rng::new(4);
    let block = Block {
        norm: AdaGroupNorm::new(2, 4, 3, &mut rng).unwrap(),
        conv: Conv2d::new(4, 4, 3, &mut rng).unwrap(),
        attn: MultiHeadAttention::new(4, 2, None, false, &mut rng).unwrap(),
        mlp: Mlp::new(&[4, 4], Activation::Gelu, &mut rng).unwrap(),
    };
    let n = names(&block);
    assert!(n.contains(&"norm.proj.weight".to_string()) && n.contains(&"attn.out.bias".to_string()));
    assert!(n.contains(&"mlp.layers.0.weight".to_string()));
    block.set_trainable(false);
    assert!(block.trainable_params().is_empty());
    block.set_trainable(true);
    assert_eq!(block.trainable_params().len(), n.len());
    // A clone is independent: changing it leaves the original alone.
    let copy = block.clone();
    copy.conv.weight.set(Tensor::zeros(&[4, 4, 3, 3], DType::F32)).unwrap();
    assert!(block.conv.weight.value().to_vec::<f32>().unwrap().iter().any(|&w| w != 0.0));
    // Dropout obeys train/eval.
    #[derive(Clone)]
    struct WithDropout(Dropout);
    impl Module for WithDropout {
        fn visit(&self, v: &mut dyn Visitor) {
            visit_child(v, "drop", &self.0);
        }
    }
    let m = WithDropout(Dropout::new(0.5));
    let x = Var::constant(Tensor::ones(&[1000], DType::F32));
    let zeros = |m: &WithDropout| {
        m.0.forward(&x, &mut Rng::new(9)).unwrap().to_vec_f64().unwrap().iter().filter(|&&v| v == 0.0).count()
    };
    assert!((400..600).contains(&zeros(&m)));
    m.set_training(false);
    assert_eq!(zeros(&m), 0);
}

#[test]
fn lecun_normal_reinitialises_in_place() {
    let mut rng = Rng::new(5);
    let lin = Linear::new(400, 300, true, &mut rng).unwrap();
    lin.reinit_lecun_normal(&mut rng).unwrap();
    let w = lin.weight.value().to_vec::<f32>().unwrap();
    let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
    assert!((var * 400.0 - 1.0).abs() < 0.05, "variance × fan_in = {}", var * 400.0);
    assert!(lin.bias.as_ref().unwrap().value().to_vec::<f32>().unwrap().iter().all(|&b| b == 0.0));
}
