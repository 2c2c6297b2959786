//! A small bidirectional transformer text encoder, trained jointly with the denoiser that uses it
//! (GLIDE's design, `edm.md` §8.2 "Text encoder").
//!
//! ```text
//! ids [B, L] ──embed + learned positions──► h [B, L, D]
//!   for each layer:  h = h + MHA(LN(h), key-padding mask)
//!                    h = h + MLP(LN(h))            (D → 4D → D, GELU)
//! tokens = LN(h) [+ W_word[ids]] [B, L, D]  → the U-Net's cross-attention
//! pooled = tokens[:, 0]  (the <cls> token) [B, D] → added to the noise embedding
//! ```
//!
//! The optional word path (`word_path`) adds a second, separate embedding of each word after the
//! final LayerNorm, so the cross-attention always sees which word sits where, whatever the
//! transformer makes of it. Without it, the teacher's encoder drifted into outputs that barely
//! told colours apart (relative distance 0.05 between "a red circle" and "a blue circle", 0.35
//! between "a red circle" and "a red square"), and samples ignored the colour words.
//!
//! The null condition of classifier-free guidance is the empty prompt: `<cls>` followed by
//! padding ([`null_tokens`]); its encoding is learned like any other prompt's.
use crate::error::{Error, Result};
use autograd::{AttnMask, Var};
use data::shapes::tokenizer::{Tokenizer, CLS, PAD};
use nn::layers::{Activation, Embedding, LayerNorm, Mlp, MultiHeadAttention};
use nn::{init, visit_child, visit_list, Module, Param, Visitor};
use tensor::{CmpOp, Rng, Tensor};

/// Shape of the encoder (saved with the model).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TextEncoderConfig {
    pub vocab: usize,
    pub max_len: usize,
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// Add a separate word embedding to the output tokens (see the module docs). Files written
    /// before the field existed load with `false`.
    #[serde(default)]
    pub word_path: bool,
}

impl TextEncoderConfig {
    /// The shapes-world vocabulary and sequence length, with the given width and depth.
    pub fn shapes(width: usize, layers: usize, heads: usize) -> Self {
        let tok = Tokenizer::default();
        TextEncoderConfig { vocab: tok.vocab_size(), max_len: tok.max_len(), width, layers, heads, word_path: false }
    }
}

#[derive(Clone, Debug)]
struct Block {
    ln1: LayerNorm,
    attn: MultiHeadAttention,
    ln2: LayerNorm,
    mlp: Mlp,
}

impl Module for Block {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "ln1", &self.ln1);
        visit_child(v, "attn", &self.attn);
        visit_child(v, "ln2", &self.ln2);
        visit_child(v, "mlp", &self.mlp);
    }
}

#[derive(Clone, Debug)]
pub struct TextEncoder {
    pub cfg: TextEncoderConfig,
    tok_emb: Embedding,
    /// `[1, L, D]`, N(0, 0.02²).
    pos_emb: Param,
    blocks: Vec<Block>,
    ln_out: LayerNorm,
    /// `[vocab, D]`, N(0, 0.1²): the word path, when configured.
    word_emb: Option<Embedding>,
}

/// What the encoder hands to the denoiser.
#[derive(Clone, Debug)]
pub struct TextEncoding {
    /// `[B, L, D]`
    pub tokens: Var,
    /// `[B, L]` u8, 1 on `<cls>` and words (the cross-attention key mask).
    pub mask: Tensor,
    /// `[B, D]`
    pub pooled: Var,
}

impl TextEncoder {
    pub fn new(cfg: TextEncoderConfig, rng: &mut Rng) -> Result<Self> {
        let d = cfg.width;
        if cfg.heads == 0 || !d.is_multiple_of(cfg.heads) || cfg.max_len < 2 || cfg.vocab < 2 {
            return Err(Error::invalid("TextEncoder::new", format!("bad config {cfg:?}")));
        }
        let mut tok_emb = Embedding::new(cfg.vocab, d, rng)?;
        // GPT-2's 0.02 keeps the first residual stream small relative to the blocks' outputs.
        tok_emb.weight = Param::new(init::normal(&[cfg.vocab, d], 0.02, rng)?);
        let pos_emb = Param::new(init::normal(&[1, cfg.max_len, d], 0.02, rng)?);
        let blocks = (0..cfg.layers)
            .map(|_| {
                Ok(Block {
                    ln1: LayerNorm::new(&[d], true),
                    attn: MultiHeadAttention::new(d, cfg.heads, None, false, rng)?,
                    ln2: LayerNorm::new(&[d], true),
                    mlp: Mlp::new(&[d, 4 * d, d], Activation::Gelu, rng)?,
                })
            })
            .collect::<Result<_>>()?;
        // 0.1 against the unit-scale LayerNorm output: distinct words differ by ~1.6 in norm from
        // the start, while a warm start from weights without the path is perturbed by ~10 %.
        let word_emb = match cfg.word_path {
            true => {
                let mut e = Embedding::new(cfg.vocab, d, rng)?;
                e.weight = Param::new(init::normal(&[cfg.vocab, d], 0.1, rng)?);
                Some(e)
            }
            false => None,
        };
        Ok(TextEncoder { cfg, tok_emb, pos_emb, blocks, ln_out: LayerNorm::new(&[d], true), word_emb })
    }

    /// ids: `[B, L]` I64 (`<cls>` first, then words, then padding).
    pub fn forward(&self, ids: &Tensor) -> Result<TextEncoding> {
        let shape = ids.shape();
        if shape.len() != 2 || shape[1] != self.cfg.max_len {
            return Err(Error::invalid(
                "TextEncoder::forward",
                format!("expected token ids [B, {}], got {shape:?}", self.cfg.max_len),
            ));
        }
        let (b, l) = (shape[0], shape[1]);
        // PAD is id 0 and ids are non-negative: id > PAD marks the real tokens.
        let mask = ids.cmp_scalar(CmpOp::Gt, PAD as f64)?; // [B, L] u8
                                                           // Keys: [B, 1, 1, L] broadcast over heads and queries. <cls> is never padding, so no row
                                                           // is fully masked.
        let key_mask = AttnMask::Bool(mask.reshape(&[b, 1, 1, l])?);
        let mut h = self.tok_emb.forward(ids)?.add(&self.pos_emb.var())?; // [B, L, D]
        for blk in &self.blocks {
            h = h.add(&blk.attn.forward(&blk.ln1.forward(&h)?, None, Some(&key_mask), false)?)?;
            h = h.add(&blk.mlp.forward(&blk.ln2.forward(&h)?)?)?;
        }
        let mut tokens = self.ln_out.forward(&h)?; // [B, L, D]
        if let Some(w) = &self.word_emb {
            tokens = tokens.add(&w.forward(ids)?)?;
        }
        let pooled = tokens.narrow(1, 0, 1)?.reshape(&[b, self.cfg.width])?;
        Ok(TextEncoding { tokens, mask, pooled })
    }
}

impl Module for TextEncoder {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "tok_emb", &self.tok_emb);
        v.param("pos_emb", &self.pos_emb);
        visit_list(v, "blocks", &self.blocks);
        visit_child(v, "ln_out", &self.ln_out);
        if let Some(w) = &self.word_emb {
            visit_child(v, "word_emb", w);
        }
    }
}

/// The empty prompt `[<cls>, <pad>, …]` `[1, max_len]`: classifier-free guidance's ∅.
pub fn null_tokens(max_len: usize) -> Result<Tensor> {
    let mut ids = vec![PAD as i64; max_len];
    ids[0] = CLS as i64;
    Ok(Tensor::from_vec(ids, &[1, max_len])?)
}

/// Token ids `[N, max_len]` of the prompts (any caption of the shapes grammar).
pub fn encode_prompts<S: AsRef<str>>(prompts: &[S], max_len: usize) -> Result<Tensor> {
    let tok = Tokenizer::new(max_len)?;
    Ok(tok.encode_batch(prompts)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn::ModuleExt;

    #[test]
    fn padding_does_not_change_the_words_encoding_and_all_params_learn() {
        for word_path in [false, true] {
            check_encoder(TextEncoderConfig { word_path, ..TextEncoderConfig::shapes(32, 2, 4) });
        }
    }

    fn check_encoder(cfg: TextEncoderConfig) {
        let enc = TextEncoder::new(cfg, &mut Rng::new(0)).unwrap();
        let ids = encode_prompts(&["a red circle", "two blue squares left of a green cross"], cfg.max_len).unwrap();
        let out = enc.forward(&ids).unwrap();
        assert_eq!(out.tokens.shape(), &[2, cfg.max_len, 32]);
        assert_eq!(out.pooled.shape(), &[2, 32]);
        // The pooled vector of a prompt does not depend on the other rows or on padding ids.
        let alone = enc.forward(&ids.narrow(0, 0, 1).unwrap()).unwrap();
        let a = alone.pooled.value().to_vec_f64().unwrap();
        let b = out.pooled.value().narrow(0, 0, 1).unwrap().to_vec_f64().unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        let problems = nn::testing::check_all_params_get_grads(&enc, || {
            let o = enc.forward(&ids).unwrap();
            o.tokens.square()?.mean_all()?.add(&o.pooled.sum_all()?)
        })
        .unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let base = TextEncoder::new(TextEncoderConfig { word_path: false, ..cfg }, &mut Rng::new(0)).unwrap();
        assert_eq!(enc.param_count(), base.param_count() + cfg.word_path as usize * cfg.vocab * 32);
    }

    #[test]
    fn rejects_wrong_lengths() {
        let cfg = TextEncoderConfig::shapes(16, 1, 2);
        let enc = TextEncoder::new(cfg, &mut Rng::new(0)).unwrap();
        assert!(enc.forward(&null_tokens(cfg.max_len + 1).unwrap()).is_err());
        assert!(enc.forward(&null_tokens(cfg.max_len).unwrap()).is_ok());
    }
}
