//! The image network F of EDM (`edm.md` §8.2): a small DDPM++-style U-Net with AdaGN residual
//! blocks, self-attention at low resolution and cross-attention to the tokens of a jointly
//! trained [`TextEncoder`] (or a class embedding, or no condition).
//!
//! ```text
//! c_noise [B] ─Fourier─► Linear ─SiLU─► Linear ─► emb [B, E]   (+ Linear(pooled text) or class table)
//! x_in [B, 3, H, W] ─conv3×3─► h                                      skips: [h]
//! encoder, level i (width C·mult[i], resolution H/2^i):
//!     enc_blocks × Unit(res block [+ self-attn] [+ cross-attn])        skips += [h]
//!     if not last: stride-2 conv3×3                                     skips += [h]
//! middle: Unit(with self/cross-attn), Unit(res block only)
//! decoder, level i from the last to the first:
//!     (enc_blocks + 1) × Unit(cat(h, skips.pop()) → C·mult[i])
//!     if not first: nearest ×2 + conv3×3
//! out: GN → SiLU → conv3×3 (zero-initialised) → [B, 3, H, W]
//! ```
//!
//! Residual block: `h = conv(SiLU(GN(x)))`, `h = conv₀(SiLU(AdaGN(h, SiLU(emb))))`,
//! `out = (h + skip(x))·√½` with `conv₀` zero-initialised, so every block starts as its skip path.
//! Attention: `out = (x + proj₀(MHA(GN(x) [, text])))·√½`, `proj₀` zero-initialised.
use crate::edm::{Cond, EdmNetwork};
use crate::error::{Error, Result};
use crate::text_encoder::{null_tokens, TextEncoder, TextEncoderConfig};
use autograd::{AttnMask, Var};
use nn::layers::Upsample;
use nn::layers::{
    AdaGroupNorm, Conv2d, Downsample, Embedding, FourierEmbedding, GroupNorm, Linear, MultiHeadAttention,
};
use nn::{visit_child, visit_list, Module, Visitor};
use tensor::{Rng, Tensor};

const SKIP_SCALE: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// What the network is conditioned on.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CondConfig {
    None,
    /// `classes` ids plus a null id `classes` (classifier-free guidance's ∅).
    Class {
        classes: usize,
    },
    /// Prompts through a jointly trained text encoder.
    Text(TextEncoderConfig),
}

/// Shape of the U-Net (saved with every checkpoint).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UNetConfig {
    pub img_channels: usize,
    pub img_size: usize,
    /// Base width C.
    pub base: usize,
    /// Width multipliers per level; level i runs at `img_size / 2^i`.
    pub mult: Vec<usize>,
    /// Residual blocks per encoder level (the decoder has one more).
    pub enc_blocks: usize,
    /// Resolutions with self-attention.
    pub self_attn: Vec<usize>,
    /// Resolutions with cross-attention to the text tokens (text models only).
    pub cross_attn: Vec<usize>,
    /// Channels per attention head.
    pub head_dim: usize,
    /// Frequency scale of the Fourier noise embedding.
    pub fourier_scale: f64,
    pub cond: CondConfig,
}

impl UNetConfig {
    fn groups(&self, channels: usize) -> usize {
        (channels / 4).clamp(1, 32)
    }
    fn emb_dim(&self) -> usize {
        4 * self.base
    }
    pub fn validate(&self) -> Result<()> {
        let levels = self.mult.len();
        let ok = self.img_channels > 0
            && self.base >= 4
            && self.base.is_multiple_of(4)
            && levels > 0
            && self.mult.iter().all(|&m| m > 0)
            && self.img_size.is_multiple_of(1 << (levels - 1))
            && self.head_dim > 0
            && self.mult.iter().all(|&m| (self.base * m).is_multiple_of(self.head_dim.min(self.base * m)));
        if ok {
            Ok(())
        } else {
            Err(Error::invalid("UNetConfig", format!("inconsistent U-Net shape {self:?}")))
        }
    }
}

/// GN → 1×1 projections → multi-head attention → zero-initialised output, as a residual.
#[derive(Clone, Debug)]
struct AttnBlock {
    norm: GroupNorm,
    attn: MultiHeadAttention,
}

impl AttnBlock {
    fn new(cfg: &UNetConfig, ch: usize, context: Option<usize>, rng: &mut Rng) -> Result<Self> {
        let heads = (ch / cfg.head_dim).max(1);
        let mut attn = MultiHeadAttention::new(ch, heads, context, false, rng)?;
        attn.out = attn.out.zeroed()?;
        Ok(AttnBlock { norm: GroupNorm::new(cfg.groups(ch), ch, true), attn })
    }
    /// x: `[B, C, H, W]`, text: `([B, L, D], key mask [B, 1, 1, L])` for cross-attention.
    fn forward(&self, x: &Var, text: Option<(&Var, &AttnMask)>) -> Result<Var> {
        let (b, c, h, w) = (x.dim(0)?, x.dim(1)?, x.dim(2)?, x.dim(3)?);
        // [B, C, H, W] → [B, HW, C]
        let q = self.norm.forward(x)?.reshape(&[b, c, h * w])?.transpose(1, 2)?;
        let a = match text {
            Some((ctx, mask)) => self.attn.forward(&q, Some(ctx), Some(mask), false)?,
            None => self.attn.forward(&q, None, None, false)?,
        };
        // [B, HW, C] → [B, C, H, W]
        let a = a.transpose(1, 2)?.reshape(&[b, c, h, w])?;
        Ok(x.add(&a)?.mul_scalar(SKIP_SCALE)?)
    }
}

impl Module for AttnBlock {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "norm", &self.norm);
        visit_child(v, "attn", &self.attn);
    }
}

/// A residual block with AdaGN, then optional self- and cross-attention.
#[derive(Clone, Debug)]
struct Unit {
    norm1: GroupNorm,
    conv1: Conv2d,
    norm2: AdaGroupNorm,
    conv2: Conv2d,
    skip: Option<Conv2d>,
    self_attn: Option<AttnBlock>,
    cross_attn: Option<AttnBlock>,
}

impl Unit {
    fn new(cfg: &UNetConfig, cin: usize, cout: usize, res: usize, attn: bool, rng: &mut Rng) -> Result<Self> {
        let text_dim = match cfg.cond {
            CondConfig::Text(t) if attn && cfg.cross_attn.contains(&res) => Some(t.width),
            _ => None,
        };
        Ok(Unit {
            norm1: GroupNorm::new(cfg.groups(cin), cin, true),
            conv1: Conv2d::new(cin, cout, 3, rng)?,
            norm2: AdaGroupNorm::new(cfg.groups(cout), cout, cfg.emb_dim(), rng)?,
            conv2: Conv2d::new(cout, cout, 3, rng)?.zeroed()?,
            skip: if cin != cout { Some(Conv2d::new(cin, cout, 1, rng)?) } else { None },
            self_attn: if attn && cfg.self_attn.contains(&res) {
                Some(AttnBlock::new(cfg, cout, None, rng)?)
            } else {
                None
            },
            cross_attn: match text_dim {
                Some(d) => Some(AttnBlock::new(cfg, cout, Some(d), rng)?),
                None => None,
            },
        })
    }
    /// x: `[B, cin, H, W]`, emb: SiLU(emb) `[B, E]` → `[B, cout, H, W]`
    fn forward(&self, x: &Var, emb: &Var, text: Option<(&Var, &AttnMask)>) -> Result<Var> {
        let h = self.conv1.forward(&self.norm1.forward_silu(x)?)?;
        let h = self.conv2.forward(&self.norm2.forward(&h, emb)?.silu()?)?;
        let skip = match &self.skip {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        let mut h = h.add(&skip)?.mul_scalar(SKIP_SCALE)?;
        if let Some(a) = &self.self_attn {
            h = a.forward(&h, None)?;
        }
        if let Some(a) = &self.cross_attn {
            let t = text.ok_or_else(|| Error::invalid("UNet", "a cross-attention block needs text tokens"))?;
            h = a.forward(&h, Some(t))?;
        }
        Ok(h)
    }
}

impl Module for Unit {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "norm1", &self.norm1);
        visit_child(v, "conv1", &self.conv1);
        visit_child(v, "norm2", &self.norm2);
        visit_child(v, "conv2", &self.conv2);
        if let Some(s) = &self.skip {
            visit_child(v, "skip", s);
        }
        if let Some(a) = &self.self_attn {
            visit_child(v, "self_attn", a);
        }
        if let Some(a) = &self.cross_attn {
            visit_child(v, "cross_attn", a);
        }
    }
}

#[derive(Clone, Debug)]
enum CondNet {
    None,
    Class(Embedding),
    Text { encoder: TextEncoder, pooled_proj: Linear },
}

#[derive(Clone, Debug)]
pub struct UNet {
    pub cfg: UNetConfig,
    noise_emb: FourierEmbedding,
    emb1: Linear,
    emb2: Linear,
    cond: CondNet,
    stem: Conv2d,
    enc: Vec<Unit>,
    downs: Vec<Downsample>,
    mid: Vec<Unit>,
    dec: Vec<Unit>,
    ups: Vec<Upsample>,
    out_norm: GroupNorm,
    out: Conv2d,
}

impl UNet {
    pub fn new(cfg: &UNetConfig, rng: &mut Rng) -> Result<Self> {
        cfg.validate()?;
        let (c, e, levels) = (cfg.base, cfg.emb_dim(), cfg.mult.len());
        let cond = match cfg.cond {
            CondConfig::None => CondNet::None,
            CondConfig::Class { classes } => CondNet::Class(Embedding::new(classes + 1, e, rng)?),
            CondConfig::Text(t) => {
                CondNet::Text { encoder: TextEncoder::new(t, rng)?, pooled_proj: Linear::new(t.width, e, true, rng)? }
            }
        };
        let (mut enc, mut downs, mut mid, mut dec, mut ups) = (vec![], vec![], vec![], vec![], vec![]);
        let mut skip_ch = vec![c];
        let mut cur = c;
        for (i, &m) in cfg.mult.iter().enumerate() {
            let res = cfg.img_size >> i;
            for _ in 0..cfg.enc_blocks {
                enc.push(Unit::new(cfg, cur, c * m, res, true, rng)?);
                cur = c * m;
                skip_ch.push(cur);
            }
            if i + 1 < levels {
                downs.push(Downsample::new(cur, cur, rng)?);
                skip_ch.push(cur);
            }
        }
        let low = cfg.img_size >> (levels - 1);
        let mut mid_cfg = cfg.clone();
        mid_cfg.self_attn.push(low);
        mid.push(Unit::new(&mid_cfg, cur, cur, low, true, rng)?);
        mid.push(Unit::new(cfg, cur, cur, low, false, rng)?);
        for (i, &m) in cfg.mult.iter().enumerate().rev() {
            let res = cfg.img_size >> i;
            for _ in 0..=cfg.enc_blocks {
                let s = skip_ch.pop().ok_or_else(|| Error::invalid("UNet::new", "skip bookkeeping"))?;
                dec.push(Unit::new(cfg, cur + s, c * m, res, true, rng)?);
                cur = c * m;
            }
            if i > 0 {
                ups.push(Upsample::new(cur, cur, rng)?);
            }
        }
        Ok(UNet {
            cfg: cfg.clone(),
            noise_emb: FourierEmbedding::new(c, cfg.fourier_scale, rng)?,
            emb1: Linear::new(c, e, true, rng)?,
            emb2: Linear::new(e, e, true, rng)?,
            cond,
            stem: Conv2d::new(cfg.img_channels, c, 3, rng)?,
            enc,
            downs,
            mid,
            dec,
            ups,
            out_norm: GroupNorm::new(cfg.groups(cur), cur, true),
            out: Conv2d::new(cur, cfg.img_channels, 3, rng)?.zeroed()?,
        })
    }

    /// The condition of classifier-free guidance's ∅ (one row), or `None` for an unconditional
    /// network.
    pub fn null_cond(&self) -> Result<Option<Cond>> {
        Ok(match self.cfg.cond {
            CondConfig::None => None,
            CondConfig::Class { classes } => Some(Cond::Class(Tensor::from_vec(vec![classes as i64], &[1])?)),
            CondConfig::Text(t) => Some(Cond::Tokens(null_tokens(t.max_len)?)),
        })
    }

    /// emb `[B, E]` (before SiLU) and, for text models, the tokens and their key mask.
    fn embed(&self, c_noise: &Var, cond: Option<&Cond>, b: usize) -> Result<(Var, Option<(Var, AttnMask)>)> {
        let emb = self.emb2.forward(&self.emb1.forward(&self.noise_emb.forward(c_noise)?)?.silu()?)?;
        let null;
        let cond = match (cond, &self.cond) {
            (Some(c), _) => Some(c),
            (None, CondNet::None) => None,
            // No condition given to a conditional network: the null condition.
            (None, _) => {
                null = self.null_cond()?.map(|c| c.repeat_rows(b)).transpose()?;
                null.as_ref()
            }
        };
        match (&self.cond, cond) {
            (CondNet::None, None) => Ok((emb, None)),
            (CondNet::Class(table), Some(Cond::Class(ids))) => Ok((emb.add(&table.forward(ids)?)?, None)),
            (CondNet::Text { encoder, pooled_proj }, Some(Cond::Tokens(ids))) => {
                let t = encoder.forward(ids)?;
                let l = t.mask.dim(1)?;
                let mask = AttnMask::Bool(t.mask.reshape(&[b, 1, 1, l])?);
                Ok((emb.add(&pooled_proj.forward(&t.pooled)?)?, Some((t.tokens, mask))))
            }
            (net, c) => Err(Error::invalid(
                "UNet",
                format!(
                    "a {} network cannot take {:?}",
                    match net {
                        CondNet::None => "unconditional",
                        CondNet::Class(_) => "class-conditional",
                        CondNet::Text { .. } => "text-conditional",
                    },
                    c.map(|c| format!("{c:?}").chars().take(40).collect::<String>())
                ),
            )),
        }
    }
}

impl EdmNetwork for UNet {
    /// x_in: `[B, C, H, W]`, c_noise: `[B]`; the condition as [`UNet::null_cond`]'s kind (a missing
    /// one means ∅).
    fn forward(&self, x_in: &Var, c_noise: &Var, cond: Option<&Cond>) -> Result<Var> {
        let (b, s, ch) = (x_in.dim(0)?, self.cfg.img_size, self.cfg.img_channels);
        if x_in.shape() != [b, ch, s, s] || c_noise.shape() != [b] {
            return Err(Error::invalid(
                "UNet",
                format!(
                    "expected x [B, {ch}, {s}, {s}] and c_noise [B], got {:?} and {:?}",
                    x_in.shape(),
                    c_noise.shape()
                ),
            ));
        }
        let (emb, text) = self.embed(c_noise, cond, b)?;
        let emb = emb.silu()?;
        let text = text.as_ref().map(|(t, m)| (t, m));
        let mut h = self.stem.forward(x_in)?;
        let mut skips = vec![h.clone()];
        let mut enc = self.enc.iter();
        for i in 0..self.cfg.mult.len() {
            for unit in enc.by_ref().take(self.cfg.enc_blocks) {
                h = unit.forward(&h, &emb, text)?;
                skips.push(h.clone());
            }
            if let Some(d) = self.downs.get(i) {
                h = d.forward(&h)?;
                skips.push(h.clone());
            }
        }
        for unit in &self.mid {
            h = unit.forward(&h, &emb, text)?;
        }
        let mut dec = self.dec.iter();
        for up in self.ups.iter().map(Some).chain([None]) {
            for unit in dec.by_ref().take(self.cfg.enc_blocks + 1) {
                let skip = skips.pop().ok_or_else(|| Error::invalid("UNet", "skip bookkeeping"))?;
                h = unit.forward(&Var::cat(&[&h, &skip], 1)?, &emb, text)?;
            }
            if let Some(up) = up {
                h = up.forward(&h)?;
            }
        }
        Ok(self.out.forward(&self.out_norm.forward_silu(&h)?)?)
    }
}

impl Module for UNet {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "noise_emb", &self.noise_emb);
        visit_child(v, "emb1", &self.emb1);
        visit_child(v, "emb2", &self.emb2);
        match &self.cond {
            CondNet::None => {}
            CondNet::Class(t) => visit_child(v, "class_emb", t),
            CondNet::Text { encoder, pooled_proj } => {
                visit_child(v, "text", encoder);
                visit_child(v, "text_proj", pooled_proj);
            }
        }
        visit_child(v, "stem", &self.stem);
        visit_list(v, "enc", &self.enc);
        visit_list(v, "downs", &self.downs);
        visit_list(v, "mid", &self.mid);
        visit_list(v, "dec", &self.dec);
        visit_list(v, "ups", &self.ups);
        visit_child(v, "out_norm", &self.out_norm);
        visit_child(v, "out", &self.out);
    }
}
