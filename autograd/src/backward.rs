//! Reverse mode. `backward()` orders the graph so every `Var` comes after its inputs, seeds the
//! output's gradient with 1, and walks the order backwards: each op's rule turns the gradient of
//! its output into gradients of its inputs, which are summed into a map keyed by `Var` id.
use crate::op::Op;
use crate::var::Var;
use crate::{elementwise, nn, reduce, shape};
use std::collections::{HashMap, HashSet};
use tensor::{Error, Result, Tensor};

/// Gradients by `Var` id: every leaf that requires a gradient, plus the intermediates asked for.
#[derive(Default)]
pub struct Grads {
    map: HashMap<usize, Tensor>,
}

impl Grads {
    /// The gradient of the final output w.r.t. `v` (None when `v` did not influence it).
    pub fn get(&self, v: &Var) -> Option<&Tensor> {
        self.map.get(&v.id())
    }
    pub fn remove(&mut self, v: &Var) -> Option<Tensor> {
        self.map.remove(&v.id())
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// What a backward rule sees: the op's inputs, its output value, and which inputs need a gradient.
pub struct Ctx<'a> {
    pub inputs: &'a [Var],
    pub out: &'a Tensor,
    pub need: Vec<bool>,
}

impl Ctx<'_> {
    pub fn x(&self, i: usize) -> &Tensor {
        self.inputs[i].value()
    }
}

/// Inputs before outputs, iteratively (deep graphs must not overflow the stack).
fn topo_order(root: &Var) -> Vec<Var> {
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<(Var, bool)> = vec![(root.clone(), false)];
    while let Some((v, children_done)) = stack.pop() {
        if children_done {
            order.push(v);
            continue;
        }
        if !visited.insert(v.id()) {
            continue;
        }
        stack.push((v.clone(), true));
        for input in v.inputs() {
            if input.requires_grad() && !visited.contains(&input.id()) {
                stack.push((input.clone(), false));
            }
        }
    }
    order
}

impl Var {
    /// Gradients of this scalar w.r.t. every leaf that requires one.
    pub fn backward(&self) -> Result<Grads> {
        self.backward_retaining(&[])
    }
    /// Like [`Var::backward`], also keeping the gradients of the intermediate `retain` vars.
    pub fn backward_retaining(&self, retain: &[&Var]) -> Result<Grads> {
        if self.value().elem_count() != 1 {
            return Err(Error::NotScalar { shape: self.shape().to_vec() });
        }
        self.backward_with_grad(&self.value().ones_like()?, retain)
    }
    /// Backpropagates an explicit output gradient `seed` (shaped like `self`).
    pub fn backward_with_grad(&self, seed: &Tensor, retain: &[&Var]) -> Result<Grads> {
        if seed.shape() != self.shape() {
            return Err(Error::ShapeMismatch {
                op: "backward (seed)",
                lhs: self.shape().to_vec(),
                rhs: seed.shape().to_vec(),
            });
        }
        if seed.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch { op: "backward (seed)", lhs: self.dtype(), rhs: seed.dtype() });
        }
        let keep: HashSet<usize> = retain.iter().map(|v| v.id()).collect();
        let mut grads: HashMap<usize, Tensor> = HashMap::new();
        if !self.requires_grad() {
            return Ok(Grads { map: grads });
        }
        grads.insert(self.id(), seed.clone());
        for v in topo_order(self).iter().rev() {
            let Some(node) = v.0.node.as_ref() else { continue };
            let g = match if keep.contains(&v.id()) { grads.get(&v.id()).cloned() } else { grads.remove(&v.id()) } {
                Some(g) => g,
                None => continue,
            };
            if let Op::Slice { dim, start, step, .. } = node.op {
                // A slice's gradient is zero outside the slice: `dy` goes straight into the
                // input's running gradient (in place) instead of into a zero tensor the size of
                // the input that is then added whole. Three slices of one qkv tensor make one
                // gradient buffer, not three.
                let input = &node.inputs[0];
                if input.requires_grad() {
                    let acc = match grads.remove(&input.id()) {
                        Some(prev) => prev.slice_add_owned(&g, dim as isize, start, step)?,
                        None => input.value().zeros_like()?.slice_scatter_owned(&g, dim as isize, start, step)?,
                    };
                    grads.insert(input.id(), acc);
                }
                continue;
            }
            let ctx = Ctx {
                inputs: &node.inputs,
                out: v.value(),
                need: node.inputs.iter().map(|i| i.requires_grad()).collect(),
            };
            let input_grads = apply_rule(&node.op, &ctx, g)?;
            for ((input, gi), need) in node.inputs.iter().zip(input_grads).zip(&ctx.need) {
                let Some(gi) = gi else { continue };
                if !need {
                    continue;
                }
                if gi.shape() != input.shape() {
                    return Err(Error::ShapeMismatch {
                        op: "backward (rule output)",
                        lhs: input.shape().to_vec(),
                        rhs: gi.shape().to_vec(),
                    });
                }
                let acc = match grads.remove(&input.id()) {
                    // In place when `prev` owns its buffer (the map held the only reference).
                    Some(prev) => prev.add_owned(&gi)?,
                    None => gi,
                };
                grads.insert(input.id(), acc);
            }
        }
        // Intermediates not asked for were removed on the way; leaves stay.
        Ok(Grads { map: grads })
    }
}

/// One arm per op: each calls the rule that sits beside the op's forward in its family module.
/// `g` is passed by value so a rule may write its result over it when it is the only reference.
fn apply_rule(op: &Op, c: &Ctx, g: Tensor) -> Result<Vec<Option<Tensor>>> {
    match op {
        Op::Unary(u) => elementwise::unary_backward(*u, c, g),
        Op::Binary(b) => elementwise::binary_backward(*b, c, &g),
        Op::Reduce { op, dims, keepdim } => reduce::reduce_backward(*op, dims, *keepdim, c, &g),
        Op::Variance { dims, unbiased, keepdim } => reduce::variance_backward(dims, *unbiased, *keepdim, c, &g),
        Op::Reshape => shape::reshape_backward(c, &g),
        Op::Permute { dims } => shape::permute_backward(dims, c, &g),
        Op::Slice { dim, start, len, step } => shape::slice_backward(*dim, *start, *len, *step, c, &g),
        Op::Expand => shape::expand_backward(c, &g),
        Op::Cat { dim, sizes } => shape::cat_backward(*dim, sizes, c, &g),
        Op::IndexSelect { dim, index } => shape::index_select_backward(*dim, index, c, &g),
        Op::Gather { dim, index } => shape::gather_backward(*dim, index, c, &g),
        Op::ScatterAdd { dim, index } => shape::scatter_add_backward(*dim, index, c, &g),
        Op::IndexAdd { dim, index } => shape::index_add_backward(*dim, index, c, &g),
        Op::WhereCond { mask } => shape::where_cond_backward(mask, c, &g),
        Op::MaskedFill { mask } => shape::masked_fill_backward(mask, c, &g),
        Op::Pad { pads } => shape::pad_backward(pads, c, &g),
        Op::ToDType { from } => shape::to_dtype_backward(*from, c, &g),
        Op::Embedding { ids } => shape::embedding_backward(ids, c, &g),
        Op::Matmul => nn::matmul_backward(c, &g),
        Op::Linear => nn::linear_backward(c, &g),
        Op::Conv2d { params } => nn::conv2d_backward(params, c, &g),
        Op::ConvTranspose2d { params } => nn::conv_transpose2d_backward(params, c, &g),
        Op::MaxPool2d { kernel, stride, padding, argmax } => {
            nn::max_pool2d_backward(*kernel, *stride, *padding, argmax, c, &g)
        }
        Op::AvgPool2d { kernel, stride, padding } => nn::avg_pool2d_backward(*kernel, *stride, *padding, c, &g),
        Op::Resize { mh, mwt, .. } => nn::resize_backward(mh, mwt, c, &g),
        Op::Softmax { dim } => nn::softmax_backward(*dim, false, c, &g),
        Op::LogSoftmax { dim } => nn::softmax_backward(*dim, true, c, &g),
        Op::ScaledSoftmax { scale, causal } => nn::scaled_softmax_backward(*scale, *causal, c, &g),
        Op::LayerNorm { norm_shape, stats, has_gamma } => nn::layer_norm_backward(norm_shape, stats, *has_gamma, c, &g),
        Op::RmsNorm { norm_shape, stats } => nn::rms_norm_backward(norm_shape, stats, c, &g),
        Op::GroupNorm { groups, stats, has_gamma } => nn::group_norm_backward(*groups, stats, *has_gamma, c, &g),
        Op::GroupNormSilu { groups, eps, stats, has_gamma } => {
            nn::group_norm_silu_backward(*groups, *eps, stats, *has_gamma, c, &g)
        }
        Op::CrossEntropy { targets, ignore_index, label_smoothing, count } => {
            nn::cross_entropy_backward(targets, *ignore_index, *label_smoothing, *count, c, &g)
        }
    }
}
