//! A small conv-net classifier trained end to end with the `nn` toolkit: AdamW, EMA of the
//! weights, dropout, the shared training loop (progress bar, JSONL metrics, checkpoints,
//! Ctrl-C), and bit-exact resume. Used by `examples/train_convnet.rs` and its resume test.
//!
//! Data: 16×16 RGB images of oriented stripes (4 classes: horizontal, vertical, and the two
//! diagonals) with random phase, colour and noise, drawn fresh every step from the run's RNG.
use autograd::Var;
use nn::layers::{Conv2d, Downsample, Dropout, GroupNorm, Linear};
use nn::optim::{Adam, Ema, EmaMode, GradSet, Optimizer};
use nn::training::{run_loop, LoopConfig, LoopEnd, StepStats};
use nn::{visit_child, CheckpointDir, Module, ModuleExt, TrainState, Visitor};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tensor::{DType, Rng, Tensor};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DemoConfig {
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub checkpoint_every: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { steps: 300, batch: 32, lr: 3e-3, seed: 0, checkpoint_every: 100 }
    }
}

#[derive(Clone)]
pub struct ConvNet {
    conv: Conv2d,
    norm1: GroupNorm,
    down1: Downsample,
    norm2: GroupNorm,
    down2: Downsample,
    drop: Dropout,
    head: Linear,
}

impl ConvNet {
    pub fn new(rng: &mut Rng) -> tensor::Result<ConvNet> {
        Ok(ConvNet {
            conv: Conv2d::new(3, 8, 3, rng)?,
            norm1: GroupNorm::new(2, 8, true),
            down1: Downsample::new(8, 16, rng)?,
            norm2: GroupNorm::new(4, 16, true),
            down2: Downsample::new(16, 16, rng)?,
            drop: Dropout::new(0.1),
            head: Linear::new(16, 4, true, rng)?,
        })
    }
    /// x: `[N, 3, 16, 16]` → logits `[N, 4]`
    pub fn forward(&self, x: &Var, rng: &mut Rng) -> tensor::Result<Var> {
        let h = self.norm1.forward(&self.conv.forward(x)?)?.silu()?;
        let h = self.norm2.forward(&self.down1.forward(&h)?)?.silu()?;
        let h = self.down2.forward(&h)?.silu()?.mean(&[2, 3], false)?;
        self.head.forward(&self.drop.forward(&h, rng)?)
    }
}

impl Module for ConvNet {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "conv", &self.conv);
        visit_child(v, "norm1", &self.norm1);
        visit_child(v, "down1", &self.down1);
        visit_child(v, "norm2", &self.norm2);
        visit_child(v, "down2", &self.down2);
        visit_child(v, "drop", &self.drop);
        visit_child(v, "head", &self.head);
    }
}

/// A batch of stripe images `[n, 3, 16, 16]` in [−1, 1] and their labels `[n]`.
pub fn stripes(n: usize, rng: &mut Rng) -> tensor::Result<(Tensor, Tensor)> {
    let u = rng.uniform(&[n, 6], 0.0, 1.0, DType::F64)?.to_vec::<f64>()?;
    let noise = rng.normal(&[n, 3, 16, 16], 0.0, 1.0, DType::F64)?.to_vec::<f64>()?;
    let (mut img, mut labels) = (vec![0f32; n * 3 * 256], Vec::with_capacity(n));
    for i in 0..n {
        let r = &u[i * 6..i * 6 + 6];
        let class = ((r[0] * 4.0) as i64).min(3);
        let phase = r[1] * std::f64::consts::TAU;
        for y in 0..16 {
            for x in 0..16 {
                let t = match class {
                    0 => y as f64,
                    1 => x as f64,
                    2 => (x + y) as f64 / std::f64::consts::SQRT_2,
                    _ => (x as f64 - y as f64) / std::f64::consts::SQRT_2,
                };
                let s = (t * 1.2 + phase).sin();
                for c in 0..3 {
                    let k = ((i * 3 + c) * 16 + y) * 16 + x;
                    img[k] = (s * (0.1 + 0.3 * r[2 + c]) + noise[k]).clamp(-1.0, 1.0) as f32;
                }
            }
        }
        labels.push(class);
    }
    Ok((Tensor::from_vec(img, &[n, 3, 16, 16])?, Tensor::from_vec(labels, &[n])?))
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOutcome {
    pub end: LoopEnd,
    /// Training loss of the last step run.
    pub last_loss: f64,
    /// Cross-entropy and accuracy of the EMA weights on a fixed held-out batch (after the end).
    pub eval_loss: f64,
    pub eval_accuracy: f64,
}

/// Trains (or resumes, when `out` holds a checkpoint and `resume` is set). `stop_after` stops
/// the run like Ctrl-C would, after that many steps in total.
pub fn run(
    cfg: &DemoConfig,
    out: &Path,
    resume: bool,
    stop_after: Option<u64>,
    progress: bool,
) -> nn::Result<DemoOutcome> {
    let ckpt = CheckpointDir::new(out);
    let mut init_rng = Rng::new(cfg.seed);
    let model = ConvNet::new(&mut init_rng)?;
    let mut opt = Adam::adamw(cfg.lr, (0.9, 0.999), 1e-8, 0.01);
    let mut ema = Ema::new(&model, EmaMode::HalfLife { samples: 500.0, rampup: Some(0.1) });
    let mut state = TrainState {
        step: 0,
        samples_seen: 0,
        rng: Rng::new(cfg.seed.wrapping_add(1)),
        optim: opt.state(),
        ema: None,
        config: serde_json::to_value(cfg).map_err(|e| nn::Error::Invalid(e.to_string()))?,
    };
    if resume {
        state = ckpt.load(&model)?;
        let saved: DemoConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| nn::Error::Invalid(format!("checkpoint config: {e}")))?;
        if saved.seed != cfg.seed || saved.batch != cfg.batch {
            return Err(nn::Error::Invalid(format!("checkpoint was made with {saved:?}, not {cfg:?}")));
        }
        opt.load_state(&state.optim)?;
        if let Some(e) = state.ema.take() {
            ema.shadow = e;
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loop_cfg = LoopConfig {
        total_steps: cfg.steps,
        checkpoint_every: cfg.checkpoint_every,
        log_every: 10,
        out_dir: out.to_path_buf(),
        progress,
        stop: Some(stop.clone()),
    };
    let (mut last_loss, start) = (f64::NAN, state.step);
    let state = std::cell::RefCell::new(state);
    let (ema, opt) = (std::cell::RefCell::new(ema), std::cell::RefCell::new(opt));
    let end = run_loop(
        &loop_cfg,
        start,
        |step| {
            let mut st = state.borrow_mut();
            let (x, y) = stripes(cfg.batch, &mut st.rng)?;
            let logits = model.forward(&Var::constant(x), &mut st.rng)?;
            let loss = logits.cross_entropy(&y, None, 0.0)?;
            let mut grads = GradSet::collect(&model.trainable_params(), &loss.backward()?);
            let gnorm = grads.clip_norm(1.0)?;
            opt.borrow_mut().step(&grads)?;
            ema.borrow_mut().update(&model, cfg.batch as u64, st.samples_seen)?;
            st.samples_seen += cfg.batch as u64;
            st.step = step + 1;
            last_loss = loss.to_scalar_f64()?;
            if stop_after == Some(step + 1) {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            Ok(StepStats { loss: last_loss, samples: cfg.batch as u64, metrics: vec![("grad_norm".into(), gnorm)] })
        },
        |_step| {
            let mut st = state.borrow_mut();
            st.optim = opt.borrow().state();
            st.ema = Some(ema.borrow().shadow.clone());
            ckpt.save(&model, &st, 2).map(|_| ())
        },
    )?;
    // Evaluate the EMA weights on a fixed batch, in evaluation mode.
    let eval_model = model.clone();
    ema.borrow().copy_to(&eval_model)?;
    eval_model.set_training(false);
    let (x, y) = stripes(256, &mut Rng::new(1234))?;
    let logits = autograd::no_grad(|| eval_model.forward(&Var::constant(x), &mut Rng::new(0)))?;
    let eval_loss = logits.cross_entropy(&y, None, 0.0)?.to_scalar_f64()?;
    let pred = logits.argmax(1, false)?;
    let right = pred.cmp(tensor::CmpOp::Eq, &y)?.to_dtype(DType::F64)?.mean(&[], false)?.to_scalar_f64()?;
    Ok(DemoOutcome { end, last_loss, eval_loss, eval_accuracy: right })
}
