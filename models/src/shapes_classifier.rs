//! The domain classifier behind FD_shapes (`evaluation.md` §1): a small CNN trained on fresh
//! renders; its penultimate activations are the Fréchet distance's features (MNIST's "Fréchet
//! LeNet distance": Inception features mean nothing on 32×32 shapes).
//!
//! ```text
//! x [B, 3, 32, 32] ─conv3×3·GN·SiLU─▶ [B, w, 32, 32] ─s2─▶ [B, 2w, 16, 16] ─▶ [B, 2w, 16, 16]
//!   ─s2─▶ [B, 4w, 8, 8] ─▶ [B, 4w, 8, 8] ─s2─▶ h [B, 4w, 4, 4]
//! [flatten(h), mean(h)] [B, 17·4w] ─Linear·SiLU─▶ f [B, F] ─▶ presence [B, 24], count [B, 4], position [B, 16]
//! ```
//!
//! - **Input:** uncentred CHW images in the renderer's range [−1, 1] (`render_batch`), as the
//!   evaluator sees them; generated samples are scored after the same mapping (img = sample + μ_c).
//! - **Heads:** which of the 24 (shape, colour) classes are present (BCE summed over classes), the
//!   object count 1..=4 (cross-entropy), which cells of a 4×4 grid hold an object centre (BCE: the
//!   coarse positions). The 4×4 map is flattened as well as pooled, so the features keep layout.
//! - **Data:** item j of step t is pair `t·batch + j` of the stream `seed`, from every family and
//!   **every** colour–shape pair (held-out ones too: the metric must recognise them in samples).
//!   The reference sets of [`frechet_vs_real`] come from the generators' `SceneSampler::default()`.
//! - **Versioning:** an FD is only comparable under one feature net: keep its checkpoint folder
//!   with the numbers. The net is neither a reward model nor the evaluator of §4.
use crate::error::{Error, Result};
use crate::toy2d::RunOptions;
use autograd::{no_grad, Var};
use data::shapes::{class_of, render_batch, Scene, SceneSampler, MAX_OBJECTS, NUM_CLASSES};
use eval::fid::fd_features;
use eval::linalg::Matrix;
use nn::layers::{Conv2d, GroupNorm, Linear};
use nn::optim::{Adam, Decay, GradSet, LrSchedule, Optimizer};
use nn::training::{run_loop, LoopConfig, LoopEnd, StepStats};
use nn::{visit_child, visit_list, CheckpointDir, Module, ModuleExt, TrainState, Visitor};
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tensor::{Conv2dParams, DType, Rng, Tensor};

/// Image side the classifier takes.
pub const IMAGE_SIZE: usize = 32;
/// Side of the coarse position grid (cells of 8×8 pixels).
pub const POS_GRID: usize = 4;
/// Renders per held-out accuracy check at the end of a run.
pub const HELD_OUT_N: usize = 1024;

/// Everything that defines a classifier run (saved in the checkpoint; a resume must match it).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassifierConfig {
    pub seed: u64,
    pub steps: u64,
    pub batch: usize,
    /// Peak Adam learning rate: linear warm-up over 5% of the steps, then a half-cosine to 2%.
    pub lr: f64,
    /// Base channels w (the stages have w, 2w, 4w).
    pub width: usize,
    /// F, the width of the penultimate (feature) layer.
    pub feature_dim: usize,
    pub checkpoint_every: u64,
    pub log_every: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        let (steps, batch, checkpoint_every, log_every) = (1500, 64, 500, 25);
        ClassifierConfig { seed: 0, steps, batch, lr: 2e-3, width: 32, feature_dim: 128, checkpoint_every, log_every }
    }
}

impl ClassifierConfig {
    /// About a second of training, for tests.
    pub fn tiny() -> Self {
        let (steps, batch, checkpoint_every, log_every) = (40, 16, 0, 1);
        ClassifierConfig { seed: 0, steps, batch, lr: 3e-3, width: 8, feature_dim: 32, checkpoint_every, log_every }
    }

    pub fn validate(&self) -> Result<()> {
        let sizes = self.steps > 0 && self.batch > 0 && self.width > 0 && self.feature_dim > 0;
        if sizes && self.lr.is_finite() && self.lr > 0.0 {
            return Ok(());
        }
        Err(Error::invalid("ClassifierConfig", format!("need steps, batch, lr, width, feature_dim > 0: {self:?}")))
    }

    fn schedule(&self) -> LrSchedule {
        LrSchedule { warmup: (self.steps / 20).max(1), decay: Decay::Cosine { total: self.steps, final_factor: 0.02 } }
    }
}

/// The three heads' logits.
#[derive(Clone, Debug)]
pub struct ClassifierLogits {
    /// [B, 24]: class k = (shape k / 6, colour k % 6) is present.
    pub presence: Var,
    /// [B, 4]: the object count minus one.
    pub count: Var,
    /// [B, 16]: cell 4·row + column holds an object centre.
    pub position: Var,
}

/// Six conv3×3 → GroupNorm → SiLU blocks, the feature projection and the three heads.
#[derive(Clone, Debug)]
pub struct ShapesClassifier {
    pub cfg: ClassifierConfig,
    pub convs: Vec<Conv2d>,
    pub norms: Vec<GroupNorm>,
    /// [17·4w] → [F]: the flattened 4×4 map and its global average.
    pub proj: Linear,
    pub presence: Linear,
    pub count: Linear,
    pub position: Linear,
}

impl ShapesClassifier {
    /// A freshly initialised network (f32), deterministic in `rng`.
    pub fn new(cfg: &ClassifierConfig, rng: &mut Rng) -> Result<Self> {
        cfg.validate()?;
        let (w, f) = (cfg.width, cfg.feature_dim);
        let (mut convs, mut norms) = (Vec::new(), Vec::new());
        // (C_in, C_out, stride): 32×32 → 16×16 → 8×8 → 4×4.
        for (i, o, s) in
            [(3, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 1), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1), (4 * w, 4 * w, 2)]
        {
            let p = Conv2dParams { stride: (s, s), padding: (1, 1), ..Default::default() };
            convs.push(Conv2d::with_params(i, o, (3, 3), p, true, rng)?);
            norms.push(GroupNorm::new([8, 4, 2, 1].into_iter().find(|g| o.is_multiple_of(*g)).unwrap_or(1), o, true));
        }
        let proj = Linear::new(4 * w * (POS_GRID * POS_GRID + 1), f, true, rng)?;
        let presence = Linear::new(f, NUM_CLASSES, true, rng)?;
        let count = Linear::new(f, MAX_OBJECTS, true, rng)?;
        let position = Linear::new(f, POS_GRID * POS_GRID, true, rng)?;
        Ok(ShapesClassifier { cfg: cfg.clone(), convs, norms, proj, presence, count, position })
    }

    /// The penultimate activations: x [B, 3, 32, 32] in [−1, 1] → f [B, F] (after the SiLU).
    pub fn features(&self, x: &Var) -> Result<Var> {
        let s = x.shape();
        if s.len() != 4 || s[1..] != [3, IMAGE_SIZE, IMAGE_SIZE] {
            return Err(Error::invalid("ShapesClassifier", format!("need images [B, 3, 32, 32], got {s:?}")));
        }
        let mut h = x.clone();
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            h = norm.forward_silu(&conv.forward(&h)?)?;
        }
        // h: [B, 4w, 4, 4] → [B, 16·4w] ++ [B, 4w] → [B, F]
        let both = Var::cat(&[&h.flatten(1, -1)?, &h.mean(&[2, 3], false)?], 1)?;
        Ok(self.proj.forward(&both)?.silu()?)
    }

    /// All three heads on x [B, 3, 32, 32].
    pub fn logits(&self, x: &Var) -> Result<ClassifierLogits> {
        let f = self.features(x)?;
        let (presence, count) = (self.presence.forward(&f)?, self.count.forward(&f)?);
        Ok(ClassifierLogits { presence, count, position: self.position.forward(&f)? })
    }
}

impl Module for ShapesClassifier {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_list(v, "convs", &self.convs);
        visit_list(v, "norms", &self.norms);
        for (name, layer) in [("proj", &self.proj), ("presence", &self.presence), ("count", &self.count)] {
            visit_child(v, name, layer);
        }
        visit_child(v, "position", &self.position);
    }
}

/// The targets of a batch of scenes.
#[derive(Clone, Debug)]
pub struct ClassifierTargets {
    /// [B, 24] f32 in {0, 1}
    pub presence: Tensor,
    /// [B] i64: the object count minus one, in 0..4
    pub count: Tensor,
    /// [B, 16] f32 in {0, 1}
    pub position: Tensor,
}

impl ClassifierTargets {
    pub fn from_scenes(scenes: &[Scene]) -> Result<Self> {
        let (b, g) = (scenes.len(), POS_GRID * POS_GRID);
        let (mut presence, mut count, mut position) = (vec![0f32; b * NUM_CLASSES], vec![0i64; b], vec![0f32; b * g]);
        let cell = |v: f64| ((v * POS_GRID as f64).floor().max(0.0) as usize).min(POS_GRID - 1);
        for (i, s) in scenes.iter().enumerate() {
            let n = s.objects.len();
            if !(1..=MAX_OBJECTS).contains(&n) {
                return Err(Error::invalid("ClassifierTargets", format!("scene {i} has {n} objects")));
            }
            count[i] = n as i64 - 1;
            for o in &s.objects {
                presence[i * NUM_CLASSES + class_of(o.shape, o.colour)] = 1.0;
                position[i * g + cell(o.y) * POS_GRID + cell(o.x)] = 1.0;
            }
        }
        Ok(ClassifierTargets {
            presence: Tensor::from_vec(presence, &[b, NUM_CLASSES])?,
            count: Tensor::from_vec(count, &[b])?,
            position: Tensor::from_vec(position, &[b, g])?,
        })
    }
}

/// Binary cross-entropy with logits x [B, K], softplus(x) − x·t (stable for any x), summed over
/// the K labels and averaged over the batch.
fn bce_with_logits(x: &Var, t: &Tensor) -> Result<Var> {
    Ok(x.softplus()?.sub(&x.mul(&Var::constant(t.clone()))?)?.sum(&[1], false)?.mean_all()?)
}

/// The training loss per image: BCE(presence) + CE(count) + BCE(position).
pub fn classifier_loss(model: &ShapesClassifier, x: &Var, t: &ClassifierTargets) -> Result<Var> {
    let l = model.logits(x)?;
    let ce = l.count.cross_entropy(&t.count, None, 0.0)?;
    Ok(bce_with_logits(&l.presence, &t.presence)?.add(&ce)?.add(&bce_with_logits(&l.position, &t.position)?)?)
}

/// The classifier's training sampler: every family, every colour–shape pair.
fn training_sampler() -> SceneSampler {
    SceneSampler { exclude_heldout: false, ..SceneSampler::default() }
}

/// Renders pairs `start..start + n` of the stream `seed`: images [n, 3, 32, 32] in [−1, 1].
fn render_pairs(sampler: &SceneSampler, seed: u64, start: u64, n: usize) -> Result<(Tensor, Vec<Scene>)> {
    let scenes = (0..n as u64)
        .map(|j| sampler.sample_pair_at(seed, start + j).map(|(_, s)| s))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((render_batch(&scenes, IMAGE_SIZE, IMAGE_SIZE)?, scenes))
}

/// Held-out accuracies (presence and position: exact match of the whole 0/1 vector).
#[derive(Clone, Debug, serde::Serialize)]
pub struct HeldOutAccuracy {
    pub n: usize,
    pub seed: u64,
    pub presence: f64,
    pub count: f64,
    pub position: f64,
}

/// Accuracy on `n` fresh renders of the stream `seed` (the training sampler), under `no_grad`.
pub fn held_out_accuracy(model: &ShapesClassifier, seed: u64, n: usize) -> Result<HeldOutAccuracy> {
    // Rows of logits [m, K] and targets [m, K] that agree everywhere (logit > 0 ⇔ target 1).
    let exact = |l: &Var, t: &Tensor, k: usize| -> Result<usize> {
        let (l, t) = (l.to_vec_f64()?, t.to_vec_f64()?);
        Ok(l.chunks(k)
            .zip(t.chunks(k))
            .filter(|(l, t)| l.iter().zip(*t).all(|(l, t)| (*l > 0.0) == (*t > 0.5)))
            .count())
    };
    let mut hits = [0usize; 3];
    for start in (0..n).step_by(256) {
        let (x, scenes) = render_pairs(&training_sampler(), seed, start as u64, (n - start).min(256))?;
        let t = ClassifierTargets::from_scenes(&scenes)?;
        let l = no_grad(|| model.logits(&Var::constant(x)))?;
        let (pred, truth) = (l.count.value().argmax(1, false)?.to_vec_f64()?, t.count.to_vec_f64()?);
        hits[0] += exact(&l.presence, &t.presence, NUM_CLASSES)?;
        hits[1] += pred.iter().zip(&truth).filter(|(p, t)| p == t).count();
        hits[2] += exact(&l.position, &t.position, POS_GRID * POS_GRID)?;
    }
    let frac = |h: usize| h as f64 / n.max(1) as f64;
    Ok(HeldOutAccuracy { n, seed, presence: frac(hits[0]), count: frac(hits[1]), position: frac(hits[2]) })
}

/// What a run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClassifierReport {
    pub steps: u64,
    pub batch: usize,
    pub params: usize,
    /// Wall-clock seconds of the whole call (training and the held-out check).
    pub seconds: f64,
    /// `true` when the run stopped early (Ctrl-C or `stop_after`) after saving.
    pub interrupted: bool,
    /// Mean batch loss over the last fifth of the steps (NaN if this call ran none of them).
    pub final_loss: f64,
    /// On [`HELD_OUT_N`] renders of another stream than training (seed `seed ^ 0x4E1D…`).
    pub held_out: HeldOutAccuracy,
}

/// Trains the classifier on fresh renders. Checkpoints (weights, optimiser, config) and
/// `metrics.jsonl` go to `out_dir`; resumable and Ctrl-C safe like [`crate::toy2d::train_toy`].
pub fn train_classifier(
    cfg: &ClassifierConfig,
    out_dir: &Path,
    opts: &RunOptions,
) -> Result<(ShapesClassifier, ClassifierReport)> {
    let t0 = std::time::Instant::now();
    let model = ShapesClassifier::new(cfg, &mut Rng::new(cfg.seed))?;
    let params = model.trainable_params();
    let ckpt = CheckpointDir::new(out_dir);
    let mut opt = Adam::new(cfg.lr, (0.9, 0.999), 1e-8, 0.0);
    let config = serde_json::to_value(cfg).map_err(|e| Error::invalid("train_classifier", e.to_string()))?;
    let rng = Rng::new(cfg.seed.wrapping_add(1)); // unused: the data are a function of (seed, step)
    let mut state = TrainState { step: 0, samples_seen: 0, rng, optim: opt.state(), ema: None, config };
    if opts.resume && ckpt.latest()?.is_some() {
        state = ckpt.load(&model)?;
        let theirs: ClassifierConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| Error::invalid("train_classifier", format!("checkpoint config: {e}")))?;
        if &theirs != cfg {
            return Err(Error::invalid("train_classifier", format!("the checkpoint was made with {theirs:?}")));
        }
        opt.load_state(&state.optim)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let loop_cfg = LoopConfig {
        total_steps: cfg.steps,
        checkpoint_every: cfg.checkpoint_every,
        log_every: cfg.log_every,
        out_dir: out_dir.to_path_buf(),
        progress: opts.progress,
        stop: Some(stop.clone()),
    };
    let (sampler, schedule, tail_from) = (training_sampler(), cfg.schedule(), cfg.steps - cfg.steps / 5);
    let (start, state, opt) = (state.step, RefCell::new(state), RefCell::new(opt));
    let (mut tail_sum, mut tail_n) = (0.0, 0u64);
    let end = run_loop(
        &loop_cfg,
        start,
        |step| {
            let (x, scenes) = render_pairs(&sampler, cfg.seed, step * cfg.batch as u64, cfg.batch)?;
            let t = ClassifierTargets::from_scenes(&scenes)?;
            let loss = classifier_loss(&model, &Var::constant(x), &t)?;
            let grads = GradSet::collect(&params, &loss.backward()?);
            let (gnorm, lr) = (grads.global_norm()?, cfg.lr * schedule.factor(step));
            let mut opt = opt.borrow_mut();
            opt.set_lr(lr);
            opt.step(&grads)?;
            let mut st = state.borrow_mut();
            (st.samples_seen, st.step) = (st.samples_seen + cfg.batch as u64, step + 1);
            let loss = loss.to_scalar_f64()?;
            if step >= tail_from {
                (tail_sum, tail_n) = (tail_sum + loss, tail_n + 1);
            }
            if opts.stop_after == Some(step + 1) {
                stop.store(true, Ordering::SeqCst);
            }
            let metrics = vec![("lr".into(), lr), ("grad_norm".into(), gnorm)];
            Ok(StepStats { loss, samples: cfg.batch as u64, metrics })
        },
        |_| {
            let mut st = state.borrow_mut();
            st.optim = opt.borrow().state();
            ckpt.save(&model, &st, 2).map(|_| ())
        },
    )?;
    let held_out = held_out_accuracy(&model, cfg.seed ^ 0x4E1D_0A7E_5EED_0001, HELD_OUT_N)?;
    let report = ClassifierReport {
        steps: state.borrow().step,
        batch: cfg.batch,
        params: model.param_count(),
        seconds: t0.elapsed().as_secs_f64(),
        interrupted: matches!(end, LoopEnd::Interrupted { .. }),
        final_loss: if tail_n > 0 { tail_sum / tail_n as f64 } else { f64::NAN },
        held_out,
    };
    Ok((model, report))
}

/// The frozen weights of the latest checkpoint in `dir` (as written by [`train_classifier`]).
pub fn load_classifier(dir: &Path) -> Result<ShapesClassifier> {
    let latest = CheckpointDir::new(dir)
        .latest()?
        .ok_or_else(|| Error::invalid("load_classifier", format!("no checkpoint in {}", dir.display())))?;
    let (_, meta) = tensor::safetensors_io::load_with_metadata(latest.join("state.safetensors"))?;
    let cfg: ClassifierConfig = serde_json::from_str(meta.get("config").map(String::as_str).unwrap_or(""))
        .map_err(|e| Error::invalid("load_classifier", format!("config: {e}")))?;
    let model = ShapesClassifier::new(&cfg, &mut Rng::new(cfg.seed))?;
    nn::load_module(&model, &latest.join("model.safetensors"), true)?;
    model.set_trainable(false);
    Ok(model)
}

fn eval_err(op: &'static str) -> impl Fn(eval::Error) -> Error {
    move |e| Error::invalid(op, e.to_string())
}

/// Features of `images` [N, 3, 32, 32] (values in [−1, 1], any float dtype) as an N×F matrix in
/// f64, computed under `no_grad` in batches of `batch`.
pub fn feature_matrix(model: &ShapesClassifier, images: &Tensor, batch: usize) -> Result<Matrix> {
    let s = images.shape();
    if s.len() != 4 || s[1..] != [3, IMAGE_SIZE, IMAGE_SIZE] || batch == 0 {
        return Err(Error::invalid("feature_matrix", format!("need images [N, 3, 32, 32] and batch > 0, got {s:?}")));
    }
    let (n, f) = (s[0], model.cfg.feature_dim);
    let mut data = Vec::with_capacity(n * f);
    for start in (0..n).step_by(batch) {
        let x = Var::constant(images.narrow(0, start, batch.min(n - start))?.to_dtype(DType::F32)?);
        data.extend(no_grad(|| model.features(&x))?.to_vec_f64()?);
    }
    Matrix::new(n, f, data).map_err(eval_err("feature_matrix"))
}

/// Features of real pairs `start..start + n` of the stream `seed` (the generators' sampler),
/// rendered and featurised 256 at a time.
fn real_features(model: &ShapesClassifier, seed: u64, start: u64, n: usize) -> Result<Matrix> {
    let mut data = Vec::with_capacity(n * model.cfg.feature_dim);
    for s in (0..n).step_by(256) {
        let (x, _) = render_pairs(&SceneSampler::default(), seed, start + s as u64, (n - s).min(256))?;
        data.extend(feature_matrix(model, &x, 256)?.data());
    }
    Matrix::new(n, model.cfg.feature_dim, data).map_err(eval_err("real_features"))
}

/// An FD with its floor.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FdReport {
    /// FD between the images' features and `n_real` real renders (pairs 0..n_real of `real_seed`).
    pub fd: f64,
    /// FD between those reals and `n_real` other reals (pairs n_real..2·n_real): the floor at
    /// `n_real` per side, comparable with `fd` when `n_images == n_real`.
    pub floor_real_vs_real: f64,
    pub n_images: usize,
    pub n_real: usize,
    pub real_seed: u64,
}

/// FD_shapes of `images` [N, 3, 32, 32] (in [−1, 1]) against fresh renders of
/// `SceneSampler::default()` with `real_seed` (a seed no model trained on), with its floor.
pub fn frechet_vs_real(model: &ShapesClassifier, images: &Tensor, real_seed: u64, n_real: usize) -> Result<FdReport> {
    if n_real < 2 {
        return Err(Error::invalid("frechet_vs_real", format!("need at least 2 real samples, got {n_real}")));
    }
    let gen = feature_matrix(model, images, 256)?;
    let real_a = real_features(model, real_seed, 0, n_real)?;
    let real_b = real_features(model, real_seed, n_real as u64, n_real)?;
    let fd = fd_features(&gen, &real_a).map_err(eval_err("frechet_vs_real"))?;
    let floor_real_vs_real = fd_features(&real_a, &real_b).map_err(eval_err("frechet_vs_real"))?;
    Ok(FdReport { fd, floor_real_vs_real, n_images: gen.rows(), n_real, real_seed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("models-cls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn weights(m: &ShapesClassifier) -> Vec<(String, Vec<f64>)> {
        m.state_dict().into_iter().map(|(k, v)| (k, v.to_vec_f64().unwrap())).collect()
    }

    #[test]
    fn tiny_run_learns_resumes_and_reloads() {
        let (cfg, dir, dir2) = (ClassifierConfig::tiny(), temp_dir("train"), temp_dir("resume"));
        let (model, report) = train_classifier(&cfg, &dir, &RunOptions::default()).unwrap();
        let log = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let l: Vec<f64> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
            .collect();
        let (first, last) = (l[..5].iter().sum::<f64>() / 5.0, l[l.len() - 5..].iter().sum::<f64>() / 5.0);
        assert!(last < 0.7 * first, "loss {first} → {last}");
        assert!(report.steps == cfg.steps && report.held_out.count > 0.3, "{report:?}");
        // Stopped half-way and resumed: the same weights as the uninterrupted run.
        let half = RunOptions { stop_after: Some(cfg.steps / 2), ..Default::default() };
        assert!(train_classifier(&cfg, &dir2, &half).unwrap().1.interrupted);
        let resume = RunOptions { resume: true, ..Default::default() };
        assert_eq!(weights(&train_classifier(&cfg, &dir2, &resume).unwrap().0), weights(&model));
        assert_eq!(weights(&load_classifier(&dir).unwrap()), weights(&model));
        assert!(train_classifier(&ClassifierConfig { width: 16, ..cfg }, &dir2, &resume).is_err());
        assert!(load_classifier(&temp_dir("empty")).is_err());
        let _ = (std::fs::remove_dir_all(dir), std::fs::remove_dir_all(dir2));
    }

    #[test]
    fn features_have_the_right_shape_and_are_deterministic() {
        let cfg = ClassifierConfig::tiny();
        let model = ShapesClassifier::new(&cfg, &mut Rng::new(3)).unwrap();
        let (x, scenes) = render_pairs(&SceneSampler::default(), 9, 0, 10).unwrap();
        let (a, b) = (feature_matrix(&model, &x, 4).unwrap(), feature_matrix(&model, &x, 10).unwrap());
        assert_eq!((a.rows(), a.cols()), (10, cfg.feature_dim));
        assert!(a.data().iter().zip(b.data()).all(|(p, q)| (p - q).abs() <= 1e-5 * (1.0 + q.abs())));
        assert_eq!(a, feature_matrix(&model, &x, 4).unwrap());
        assert_eq!(a, feature_matrix(&model, &x.to_dtype(DType::F64).unwrap(), 4).unwrap());
        assert!(feature_matrix(&model, &Tensor::zeros(&[2, 3, 16, 16], DType::F32), 4).is_err());
        assert!(feature_matrix(&model, &x, 0).is_err());
        assert!(ShapesClassifier::new(&ClassifierConfig { width: 0, ..cfg }, &mut Rng::new(0)).is_err());
        // Targets: count − 1, at least one and at most n classes and cells per scene.
        let t = ClassifierTargets::from_scenes(&scenes).unwrap();
        let (p, c, q) =
            (t.presence.to_vec_f64().unwrap(), t.count.to_vec_f64().unwrap(), t.position.to_vec_f64().unwrap());
        for (i, s) in scenes.iter().enumerate() {
            let n = s.objects.len() as f64;
            let (present, cells) =
                (p[i * 24..(i + 1) * 24].iter().sum::<f64>(), q[i * 16..(i + 1) * 16].iter().sum::<f64>());
            assert!(c[i] + 1.0 == n && (1.0..=n).contains(&present) && (1.0..=n).contains(&cells));
        }
    }

    #[test]
    fn fd_of_real_vs_real_is_far_below_real_vs_noise() {
        let (cfg, dir) = (ClassifierConfig { steps: 20, ..ClassifierConfig::tiny() }, temp_dir("fd"));
        let (model, _) = train_classifier(&cfg, &dir, &RunOptions::default()).unwrap();
        let n = 300;
        let (real, _) = render_pairs(&SceneSampler::default(), 77, 0, n).unwrap();
        let noise = Tensor::rand_uniform(&[n, 3, 32, 32], -1.0, 1.0, 5, DType::F32).unwrap();
        let (r, z) =
            (frechet_vs_real(&model, &real, 1234, n).unwrap(), frechet_vs_real(&model, &noise, 1234, n).unwrap());
        assert!(r.fd.is_finite() && r.fd >= 0.0 && r.floor_real_vs_real > 0.0);
        assert!(r.fd < 2.0 * r.floor_real_vs_real, "{r:?}");
        assert!(z.fd > 10.0 * r.fd.max(r.floor_real_vs_real), "{z:?} vs {r:?}");
        assert!(frechet_vs_real(&model, &real, 1234, 1).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
