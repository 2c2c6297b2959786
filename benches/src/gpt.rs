//! train_step.py's `gpt`: token embedding + learned position embedding, 4 pre-LN blocks (dim
//! 128, 4 heads, one fused qkv Linear, causal scaled-dot-product attention, MLP 4× with the exact
//! erf GELU, PyTorch's `F.gelu` default), final LayerNorm, untied head to 512 logits; batch 32 ×
//! seq 64, mean cross-entropy, AdamW(lr 1e-3, weight decay 0.01).
use crate::step::{torch_adamw, Trainer};
use autograd::Var;
use nn::layers::{Embedding, LayerNorm, Linear};
use nn::{init, visit_child, visit_list, Module, ModuleExt, Param, Visitor};
use tensor::{DType, Device, Result, Rng, Tensor};

const VOCAB: usize = 512;
const DIM: usize = 128;
const HEADS: usize = 4;
const DEPTH: usize = 4;
const SEQ: usize = 64;
const MLP: usize = 4;
const BATCH: usize = 32;

/// tok 512·128 + pos 64·128 + 4 blocks × 198 272 + lnf 256 + head 128·512+512
pub const PYTORCH_PARAMS: usize = 933_120;
const TORCH_FLOPS: u64 = 11_408_506_880;

struct Block {
    ln1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl Block {
    fn new(rng: &mut Rng) -> Result<Block> {
        Ok(Block {
            ln1: LayerNorm::new(&[DIM], true),
            qkv: Linear::new(DIM, 3 * DIM, true, rng)?,
            proj: Linear::new(DIM, DIM, true, rng)?,
            ln2: LayerNorm::new(&[DIM], true),
            fc1: Linear::new(DIM, MLP * DIM, true, rng)?,
            fc2: Linear::new(MLP * DIM, DIM, true, rng)?,
        })
    }
    /// x: `[B, T, D]` → `[B, T, D]`
    fn forward(&self, x: &Var) -> Result<Var> {
        let (b, t, d) = (x.dim(0)?, x.dim(1)?, x.dim(2)?);
        // [B, T, 3D] → [B, T, 3, H, dh] → [3, B, H, T, dh], as the PyTorch view + permute
        let qkv = self
            .qkv
            .forward(&self.ln1.forward(x)?)?
            .reshape(&[b, t, 3, HEADS, d / HEADS])?
            .permute(&[2, 0, 3, 1, 4])?;
        let part = |i: usize| qkv.narrow(0, i, 1)?.squeeze(0);
        let a = Var::scaled_dot_product_attention(&part(0)?, &part(1)?, &part(2)?, None, true)?;
        let x = x.add(&self.proj.forward(&a.transpose(1, 2)?.reshape(&[b, t, d])?)?)?;
        x.add(&self.fc2.forward(&self.fc1.forward(&self.ln2.forward(&x)?)?.gelu_erf()?)?)
    }
}

impl Module for Block {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "ln1", &self.ln1);
        visit_child(v, "qkv", &self.qkv);
        visit_child(v, "proj", &self.proj);
        visit_child(v, "ln2", &self.ln2);
        visit_child(v, "fc1", &self.fc1);
        visit_child(v, "fc2", &self.fc2);
    }
}

struct Gpt {
    tok: Embedding,
    /// `[SEQ, DIM]`, `N(0, 0.02²)`
    pos: Param,
    blocks: Vec<Block>,
    lnf: LayerNorm,
    head: Linear,
}

impl Gpt {
    fn new(rng: &mut Rng) -> Result<Gpt> {
        Ok(Gpt {
            tok: Embedding::new(VOCAB, DIM, rng)?,
            pos: Param::new(init::normal(&[SEQ, DIM], 0.02, rng)?),
            blocks: (0..DEPTH).map(|_| Block::new(rng)).collect::<Result<_>>()?,
            lnf: LayerNorm::new(&[DIM], true),
            head: Linear::new(DIM, VOCAB, true, rng)?,
        })
    }
    /// idx: `I64 [B, T]` → logits `[B, T, VOCAB]`
    fn forward(&self, idx: &Tensor) -> Result<Var> {
        let t = idx.dim(1)?;
        let mut x = self.tok.forward(idx)?.add(&self.pos.var().narrow(0, 0, t)?)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        self.head.forward(&self.lnf.forward(&x)?)
    }
}

impl Module for Gpt {
    fn visit(&self, v: &mut dyn Visitor) {
        visit_child(v, "tok", &self.tok);
        v.param("pos", &self.pos);
        visit_list(v, "blocks", &self.blocks);
        visit_child(v, "lnf", &self.lnf);
        visit_child(v, "head", &self.head);
    }
}

/// `I64 [BATCH, SEQ]` uniform in `0..VOCAB`.
fn random_tokens(rng: &mut Rng) -> Result<Tensor> {
    let u = rng.uniform(&[BATCH, SEQ], 0.0, VOCAB as f64, DType::F64)?.to_vec::<f64>()?;
    Tensor::from_vec(u.iter().map(|&x| (x as i64).min(VOCAB as i64 - 1)).collect::<Vec<i64>>(), &[BATCH, SEQ])
}

pub fn build(device: Device) -> Result<Trainer> {
    let mut rng = Rng::new(0);
    let model = Gpt::new(&mut rng)?;
    model.to_device(device)?;
    let idx = random_tokens(&mut rng)?.to_device(device)?;
    let tgt = random_tokens(&mut rng)?.reshape(&[BATCH * SEQ])?.to_device(device)?;
    let params = model.trainable_params();
    Ok(Trainer {
        loss: Box::new(move || model.forward(&idx)?.reshape(&[BATCH * SEQ, VOCAB])?.cross_entropy(&tgt, None, 0.0)),
        params,
        opt: torch_adamw(),
        params_pytorch: PYTORCH_PARAMS,
        torch_flops: TORCH_FLOPS,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_match_pytorch() {
        let t = super::build(tensor::Device::Cpu).unwrap();
        assert_eq!(t.param_count(), super::PYTORCH_PARAMS);
        let names: Vec<&str> = t.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!((names[0], names[1], names[names.len() - 1]), ("tok.weight", "pos", "head.bias"));
        assert!(names.contains(&"blocks.3.fc2.bias"));
    }
}
