//! Which words of a caption does a text-conditioned denoiser use, and at which noise levels?
//!
//! For real training pairs (captions and their renders), the EDM loss at fixed (σ, n) is compared
//! under four captions: the true one, the same with every colour word rotated (red → yellow → …),
//! with every shape word rotated (circle → square → …), and the empty caption ∅. A loss that
//! rises when a word is changed means the model uses that word at that σ. It also prints how far
//! apart the text encoder puts captions that differ in one word.
//!
//! ```text
//! cargo run --release -p models --example caption_probe -- [WEIGHTS] [RAW_STATE_DICT]
//! ```
//!
//! WEIGHTS is a weights file with a model card (default: `weights/teacher.safetensors`);
//! RAW_STATE_DICT, if given, is a checkpoint's `ema.safetensors` or `model.safetensors` loaded
//! into that card's network.
use autograd::{no_grad, Var};
use models::edm::Cond;
use models::image_diffusion::{BatchSource, ImageDiffusion};
use models::text_encoder::{encode_prompts, TextEncoder, TextEncoderConfig};
use models::unet::CondConfig;
use std::collections::BTreeMap;
use std::path::Path;
use tensor::{DType, Rng, Tensor};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const COLOURS: [&str; 6] = ["red", "yellow", "green", "blue", "purple", "white"];
const SHAPES: [&str; 4] = ["circle", "square", "triangle", "cross"];

/// Replaces each word of `words` (or its plural) by the next one in the list.
fn rotate(caption: &str, words: &[&str]) -> String {
    let plural = |w: &str| if w == "cross" { format!("{w}es") } else { format!("{w}s") };
    caption
        .split(' ')
        .map(|w| {
            for (i, x) in words.iter().enumerate() {
                let next = words[(i + 1) % words.len()];
                if w == *x {
                    return next.to_string();
                }
                if w == plural(x) {
                    return plural(next);
                }
            }
            w.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Relative distances of the encoder's tokens (first six positions) and pooled vectors between
/// captions that differ in a colour or a shape word.
fn encoder_distances(tensors: &BTreeMap<String, Tensor>, cfg: TextEncoderConfig, name: &Path) -> Res<()> {
    let sub: BTreeMap<String, Tensor> = tensors
        .iter()
        .filter(|(k, _)| !k.contains("text_proj"))
        .filter_map(|(k, v)| k.find("text.").map(|i| (k[i + 5..].to_string(), v)))
        .map(|(k, v)| Ok((k, v.to_dtype(DType::F32)?)))
        .collect::<Result<_, tensor::Error>>()?;
    let enc = TextEncoder::new(cfg, &mut Rng::new(0))?;
    nn::checkpoint::load_state_dict(&enc, &sub, true, name)?;
    let caps = ["a red circle", "a blue circle", "a red square", "a photo of a red circle", "a photo of a blue circle"];
    let out = no_grad(|| enc.forward(&encode_prompts(&caps, cfg.max_len)?))?;
    let (tokens, pooled) = (out.tokens.value().to_vec_f64()?, out.pooled.value().to_vec_f64()?);
    let (l, d) = (cfg.max_len, cfg.width);
    let rel = |a: &[f64], b: &[f64]| {
        let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        (diff / a.iter().map(|x| x * x).sum::<f64>()).sqrt()
    };
    let tok = |i: usize| &tokens[i * l * d..i * l * d + 6 * d];
    let pool = |i: usize| &pooled[i * d..(i + 1) * d];
    for (i, j) in [(0, 1), (0, 2), (3, 4)] {
        println!(
            "encoder: {:>26} vs {:<26} tokens {:.3}, pooled {:.3} (relative distance)",
            format!("{:?}", caps[i]),
            format!("{:?}", caps[j]),
            rel(tok(i), tok(j)),
            rel(pool(i), pool(j))
        );
    }
    Ok(())
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "weights/teacher.safetensors".into());
    let m = ImageDiffusion::load(Path::new(&path))?;
    let raw = args.next();
    let tensors = match &raw {
        Some(r) => tensor::safetensors_io::load_with_metadata(r)?.0,
        None => tensor::safetensors_io::load_with_metadata(&path)?.0,
    };
    let name = Path::new(raw.as_deref().unwrap_or(&path));
    if raw.is_some() {
        nn::checkpoint::load_state_dict(&m.model, &tensors, true, name)?;
    }
    let CondConfig::Text(tcfg) = m.card.net.cond else { return Err("not a text-conditioned model".into()) };
    encoder_distances(&tensors, tcfg, name)?;

    // 64 training pairs from a stream seed no training run uses.
    let b = 64;
    let batch = BatchSource::open(&m.card.data, 12_345, tcfg.max_len)?.batch(777, b)?;
    let coloured: Vec<bool> = batch.captions.iter().map(|c| c.split(' ').any(|w| COLOURS.contains(&w))).collect();
    let n_col = coloured.iter().filter(|&&c| c).count().max(1) as f64;
    let y = Var::constant(m.card.stats.to_model(&batch.images)?);
    let null = m.model.net.null_cond()?.ok_or("the model has no null condition")?.repeat_rows(b)?;
    let variants = [
        ("true", Cond::Tokens(encode_prompts(&batch.captions, tcfg.max_len)?)),
        (
            "colour-rotated",
            Cond::Tokens(encode_prompts(
                &batch.captions.iter().map(|c| rotate(c, &COLOURS)).collect::<Vec<_>>(),
                tcfg.max_len,
            )?),
        ),
        (
            "shape-rotated",
            Cond::Tokens(encode_prompts(
                &batch.captions.iter().map(|c| rotate(c, &SHAPES)).collect::<Vec<_>>(),
                tcfg.max_len,
            )?),
        ),
        ("empty", null),
    ];
    println!("EDM loss (sum over pixels, F form) of {b} training pairs; in brackets: the {n_col} captions with a colour word");
    println!("{:>7} {}", "sigma", variants.iter().map(|(v, _)| format!("{v:>24}")).collect::<String>());
    let mut rng = Rng::new(5);
    for sigma in [40.0, 10.0, 4.0, 2.0, 1.0, 0.5, 0.2] {
        let s = Var::constant(Tensor::full(&[b], sigma, DType::F32));
        let n = Var::constant(rng.normal(y.shape(), 0.0, 1.0, DType::F32)?);
        let mut line = format!("{sigma:>7.1}");
        for (_, cond) in &variants {
            let l = no_grad(|| m.model.per_sample_loss(&y, &s, &n, Some(cond)))?.value().to_vec_f64()?;
            let mean = l.iter().sum::<f64>() / b as f64;
            let mean_col = l.iter().zip(&coloured).filter(|(_, &c)| c).map(|(v, _)| v).sum::<f64>() / n_col;
            line += &format!("{:>24}", format!("{mean:.1} ({mean_col:.1})"));
        }
        println!("{line}");
    }
    Ok(())
}
