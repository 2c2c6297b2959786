//! Network ops on `Var`s: matmul, convolutions, pooling, resizing, softmax, the norms and
//! cross-entropy, each with its backward rule below it. The heavy lifting sits in the fused
//! tensor-level kernels; the rules here decide which kernel computes which gradient.
use crate::backward::Ctx;
use crate::op::Op;
use crate::var::Var;
use tensor::{Conv2dParams, NormStats, ResizeKind, Result, Tensor};

impl Var {
    /// `[.., m, k] @ [.., k, n]`, broadcasting leading dims.
    pub fn matmul(&self, other: &Var) -> Result<Var> {
        Ok(Var::from_op(self.value().matmul(other.value())?, Op::Matmul, vec![self.clone(), other.clone()]))
    }
    /// `x·wᵀ + b` for `x: [.., k]`, `w: [n, k]`, `b: [n]` (a `Linear` layer): one op whose
    /// output starts as the bias rows (see `Tensor::linear`), not a product and then an add.
    pub fn linear(&self, w: &Var, b: Option<&Var>) -> Result<Var> {
        let y = self.value().linear(w.value(), b.map(Var::value))?;
        let mut inputs = vec![self.clone(), w.clone()];
        inputs.extend(b.cloned());
        Ok(Var::from_op(y, Op::Linear, inputs))
    }
    /// 2-D convolution (NCHW) with an optional bias of shape exactly `[C_out]` (anything else is
    /// an error), added as each image's output is written (`Tensor::conv2d_bias`), not by a
    /// second op.
    pub fn conv2d(&self, w: &Var, bias: Option<&Var>, p: &Conv2dParams) -> Result<Var> {
        let op = Op::Conv2d { params: *p };
        match bias {
            None => Ok(Var::from_op(self.value().conv2d(w.value(), p)?, op, vec![self.clone(), w.clone()])),
            Some(b) => {
                let y = self.value().conv2d_bias(w.value(), b.value(), p)?;
                Ok(Var::from_op(y, op, vec![self.clone(), w.clone(), b.clone()]))
            }
        }
    }
    /// Transposed convolution; `w: [C_in, C_out/groups, kh, kw]`, optional bias `[C_out]`.
    pub fn conv_transpose2d(&self, w: &Var, bias: Option<&Var>, p: &Conv2dParams) -> Result<Var> {
        let y = self.value().conv_transpose2d(w.value(), p)?;
        add_channel_bias(Var::from_op(y, Op::ConvTranspose2d { params: *p }, vec![self.clone(), w.clone()]), bias)
    }
    pub fn max_pool2d(&self, kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize)) -> Result<Var> {
        let (y, argmax) = self.value().max_pool2d(kernel, stride, padding)?;
        Ok(Var::from_op(y, Op::MaxPool2d { kernel, stride, padding, argmax }, vec![self.clone()]))
    }
    pub fn avg_pool2d(&self, kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize)) -> Result<Var> {
        let y = self.value().avg_pool2d(kernel, stride, padding)?;
        Ok(Var::from_op(y, Op::AvgPool2d { kernel, stride, padding }, vec![self.clone()]))
    }
    /// Resizes the last two dims with `kind` (PyTorch `interpolate`, `align_corners=False`).
    pub fn resize2d(&self, kind: ResizeKind, out_h: usize, out_w: usize) -> Result<Var> {
        let (mh, mwt) = self.value().resize_matrices(kind, out_h, out_w)?;
        let y = mh.matmul(&self.value().matmul(&mwt)?)?;
        Ok(Var::from_op(y, Op::Resize { kind, mh, mwt }, vec![self.clone()]))
    }
    /// Nearest-neighbour upsampling by integer factors.
    pub fn upsample_nearest(&self, sh: usize, sw: usize) -> Result<Var> {
        let (h, w) = (self.dim(-2)?, self.dim(-1)?);
        self.resize2d(ResizeKind::Nearest, h * sh, w * sw)
    }
    /// Area resize = adaptive average pooling to `out_h × out_w`.
    pub fn resize_area(&self, out_h: usize, out_w: usize) -> Result<Var> {
        self.resize2d(ResizeKind::Area, out_h, out_w)
    }
    /// Bicubic resize (Keys kernel, a = −0.75).
    pub fn upsample_bicubic(&self, out_h: usize, out_w: usize) -> Result<Var> {
        self.resize2d(ResizeKind::Bicubic, out_h, out_w)
    }
    pub fn softmax(&self, dim: isize) -> Result<Var> {
        Ok(Var::from_op(self.value().softmax(dim)?, Op::Softmax { dim }, vec![self.clone()]))
    }
    pub fn log_softmax(&self, dim: isize) -> Result<Var> {
        Ok(Var::from_op(self.value().log_softmax(dim)?, Op::LogSoftmax { dim }, vec![self.clone()]))
    }
    /// `softmax(scale · self)` over the last dim, with a causal mask over `[.., L_q, L_k]` when
    /// `causal` (query `i` sees keys `j ≤ i`): attention's score softmax as one op.
    pub fn scaled_softmax(&self, scale: f64, causal: bool) -> Result<Var> {
        let y = self.value().scaled_softmax(scale, causal)?;
        Ok(Var::from_op(y, Op::ScaledSoftmax { scale, causal }, vec![self.clone()]))
    }
    /// Layer norm over the trailing dims `norm_shape` with optional affine parameters.
    pub fn layer_norm(&self, norm_shape: &[usize], gamma: Option<&Var>, beta: Option<&Var>, eps: f64) -> Result<Var> {
        let (y, stats) = self.value().layer_norm(norm_shape, gamma.map(Var::value), beta.map(Var::value), eps)?;
        let op = Op::LayerNorm { norm_shape: norm_shape.to_vec(), stats, has_gamma: gamma.is_some() };
        Ok(Var::from_op(y, op, inputs3(self, gamma, beta)))
    }
    pub fn rms_norm(&self, norm_shape: &[usize], gamma: Option<&Var>, eps: f64) -> Result<Var> {
        let (y, stats) = self.value().rms_norm(norm_shape, gamma.map(Var::value), eps)?;
        let op = Op::RmsNorm { norm_shape: norm_shape.to_vec(), stats };
        Ok(Var::from_op(y, op, inputs3(self, gamma, None)))
    }
    /// Group norm on `[N, C, *]` with per-channel affine parameters.
    pub fn group_norm(&self, groups: usize, gamma: Option<&Var>, beta: Option<&Var>, eps: f64) -> Result<Var> {
        let (y, stats) = self.value().group_norm(groups, gamma.map(Var::value), beta.map(Var::value), eps)?;
        Ok(Var::from_op(y, Op::GroupNorm { groups, stats, has_gamma: gamma.is_some() }, inputs3(self, gamma, beta)))
    }
    /// `silu(group_norm(x))` as one op: the same values as the two in turn, without storing the
    /// normalised tensor (see `Tensor::group_norm_silu`).
    pub fn group_norm_silu(&self, groups: usize, gamma: Option<&Var>, beta: Option<&Var>, eps: f64) -> Result<Var> {
        let (z, stats) = self.value().group_norm_silu(groups, gamma.map(Var::value), beta.map(Var::value), eps)?;
        let op = Op::GroupNormSilu { groups, eps, stats, has_gamma: gamma.is_some() };
        Ok(Var::from_op(z, op, inputs3(self, gamma, beta)))
    }
    /// Mean cross-entropy of logits `[N, C]` against `I64` targets `[N]`.
    pub fn cross_entropy(&self, targets: &Tensor, ignore_index: Option<i64>, label_smoothing: f64) -> Result<Var> {
        let (y, count) = self.value().cross_entropy(targets, ignore_index, label_smoothing)?;
        let op = Op::CrossEntropy { targets: targets.clone(), ignore_index, label_smoothing, count };
        Ok(Var::from_op(y, op, vec![self.clone()]))
    }
}

/// Inputs of a norm: `x`, then whichever of gamma / beta are present (the rules rely on this order).
fn inputs3(x: &Var, gamma: Option<&Var>, beta: Option<&Var>) -> Vec<Var> {
    let mut v = vec![x.clone()];
    v.extend(gamma.cloned());
    v.extend(beta.cloned());
    v
}

fn add_channel_bias(y: Var, bias: Option<&Var>) -> Result<Var> {
    match bias {
        None => Ok(y),
        Some(b) => {
            let c = b.shape().first().copied().unwrap_or(0);
            y.add(&b.reshape(&[1, c, 1, 1])?)
        }
    }
}

// C = A B  →  dA = dC Bᵀ, dB = Aᵀ dC, each summed over broadcast batch dims
pub(crate) fn matmul_backward(c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let (a, b) = (c.x(0), c.x(1));
    // A shared 2-D operand (a weight applied to [B, T, K]): fold the batch into the rows, so its
    // gradient is one GEMM over all B·T rows instead of B products summed afterwards.
    if b.rank() == 2 {
        let (k, n) = (b.shape()[0], b.shape()[1]);
        let rows: usize = a.shape()[..a.rank() - 1].iter().product();
        // Rank 2 already: used as they are (a reshape would gather a strided or broadcast view).
        let (a2, g2) =
            if a.rank() == 2 { (a.clone(), g.clone()) } else { (a.reshape(&[rows, k])?, g.reshape(&[rows, n])?) };
        let da = if c.need[0] { Some(g2.matmul(&b.transpose(0, 1)?)?.reshape(a.shape())?) } else { None };
        // b: [k, n] = aᵀ·g. When b is a transposed view of a row-major [n, k] weight (`x·wᵀ`, as
        // `Linear` does), compute (gᵀ·a)ᵀ instead: the same sums in the same order (the GEMM adds
        // each element's products over the rows in one fixed order either way), but the gradient
        // that reaches the weight through the transpose is then contiguous, not a strided view
        // every consumer (the optimiser, clipping, EMA) would first have to gather.
        let b_is_transposed = !b.is_contiguous() && b.transpose(0, 1)?.is_contiguous();
        let db = match (c.need[1], b_is_transposed) {
            (false, _) => None,
            (true, true) => Some(g2.transpose(0, 1)?.matmul(&a2)?.transpose(0, 1)?),
            (true, false) => Some(a2.transpose(0, 1)?.matmul(&g2)?),
        };
        return Ok(vec![da, db]);
    }
    let da = if c.need[0] { Some(g.matmul(&b.transpose(-1, -2)?)?.sum_to_shape(a.shape())?) } else { None };
    let db = if c.need[1] { Some(a.transpose(-1, -2)?.matmul(g)?.sum_to_shape(b.shape())?) } else { None };
    Ok(vec![da, db])
}

// x: [.., k], w: [n, k], g: [.., n]: dx = g·w, dw = gᵀ·x (rows of every leading index),
// db = Σ_rows g. The same products as matmul(x, wᵀ) followed by adding b (see matmul_backward).
pub(crate) fn linear_backward(c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let (x, w) = (c.x(0), c.x(1));
    let (n, k) = (w.shape()[0], w.shape()[1]);
    let rows: usize = x.shape()[..x.rank() - 1].iter().product();
    let (x2, g2) =
        if x.rank() == 2 { (x.clone(), g.clone()) } else { (x.reshape(&[rows, k])?, g.reshape(&[rows, n])?) };
    let dx = if c.need[0] { Some(g2.matmul(w)?.reshape(x.shape())?) } else { None };
    let dw = if c.need[1] { Some(g2.transpose(0, 1)?.matmul(&x2)?) } else { None };
    let mut grads = vec![dx, dw];
    if c.inputs.len() > 2 {
        grads.push(if c.need[2] { Some(g.sum_to_shape(c.x(2).shape())?) } else { None });
    }
    Ok(grads)
}

// x: [N,Cin,H,W], w: [Cout,Cin/g,kh,kw], dy: [N,Cout,Ho,Wo]
// With a bias (third input): dbias = Σ over images and pixels of dy, as the broadcast add's rule.
pub(crate) fn conv2d_backward(p: &Conv2dParams, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let (x, w) = (c.x(0), c.x(1));
    let dx = if c.need[0] { Some(Tensor::conv2d_backward_input(g, w, x.shape(), p)?) } else { None };
    let dw = if c.need[1] { Some(Tensor::conv2d_backward_weight(x, g, w.shape(), p)?) } else { None };
    let mut grads = vec![dx, dw];
    if c.need.len() > 2 {
        let c_out = w.shape()[0];
        let db = if c.need[2] { Some(g.sum_to_shape(&[1, c_out, 1, 1])?.reshape(&[c_out])?) } else { None };
        grads.push(db);
    }
    Ok(grads)
}

// A transposed conv is the input-gradient of a conv, so its gradients are that conv's forward
// (for x) and weight-gradient (for w).
pub(crate) fn conv_transpose2d_backward(p: &Conv2dParams, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let (dx, dw) = Tensor::conv_transpose2d_backward(c.x(0), c.x(1), g, p)?;
    Ok(vec![Some(dx), Some(dw)])
}

// dx = dy scattered to the saved argmax positions
pub(crate) fn max_pool2d_backward(
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    argmax: &Tensor,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let x = c.x(0);
    let dx = x.via_f32(|x| Tensor::max_pool2d_backward(&g.to_dtype(x.dtype())?, argmax, x.shape(), k, s, p))?;
    Ok(vec![Some(dx)])
}

// dx = each dy spread evenly over its window (divided by kh·kw)
pub(crate) fn avg_pool2d_backward(
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let x = c.x(0);
    let dx = x.via_f32(|x| Tensor::avg_pool2d_backward(&g.to_dtype(x.dtype())?, x.shape(), k, s, p))?;
    Ok(vec![Some(dx)])
}

// y = M_h x M_wᵀ  →  dx = M_hᵀ dy M_w
pub(crate) fn resize_backward(mh: &Tensor, mwt: &Tensor, _c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(mh.transpose(0, 1)?.matmul(&g.matmul(&mwt.transpose(0, 1)?)?)?)])
}

// y = softmax(scale·x), masked keys at −∞  →  dx = scale · y (dy − Σ dy·y), 0 where masked
pub(crate) fn scaled_softmax_backward(scale: f64, causal: bool, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(Tensor::scaled_softmax_backward(c.out, g, scale, causal)?)])
}

// softmax: dx = y (dy − Σ dy·y);  log-softmax: dx = dy − exp(y) Σ dy
pub(crate) fn softmax_backward(dim: isize, log: bool, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let dx = c.out.via_f32(|y| Tensor::softmax_backward(y, &g.to_dtype(y.dtype())?, dim, log))?;
    Ok(vec![Some(dx)])
}

/// Collects `[dx, dgamma?, dbeta?]` in the input order of [`inputs3`].
fn norm_grads(dx: Tensor, dg: Option<Tensor>, db: Option<Tensor>) -> Vec<Option<Tensor>> {
    let mut v = vec![Some(dx)];
    if dg.is_some() {
        v.push(dg);
    }
    if db.is_some() {
        v.push(db);
    }
    v
}

/// (gamma, has_beta) from a norm's inputs `[x, gamma?, beta?]`.
fn gamma_beta<'a>(c: &'a Ctx, has_gamma: bool) -> (Option<&'a Tensor>, bool) {
    let gamma = if has_gamma { Some(c.x(1)) } else { None };
    (gamma, c.inputs.len() > 1 + has_gamma as usize)
}

// x̂ = (x − μ)·rstd;  dx = rstd (dx̂ − mean(dx̂) − x̂ mean(dx̂ x̂)),  dx̂ = dy·γ;  dγ = Σ dy x̂;  dβ = Σ dy
pub(crate) fn layer_norm_backward(
    norm_shape: &[usize],
    st: &NormStats,
    has_gamma: bool,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let (gamma, has_beta) = gamma_beta(c, has_gamma);
    let (dx, dg, db) = Tensor::layer_norm_backward(c.x(0), g, norm_shape, gamma, has_beta, st)?;
    Ok(norm_grads(dx, dg, db))
}

// x̂ = x·rstd;  dx = rstd (dx̂ − x̂ mean(dx̂ x̂));  dγ = Σ dy x̂
pub(crate) fn rms_norm_backward(
    norm_shape: &[usize],
    st: &NormStats,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let gamma = if c.inputs.len() > 1 { Some(c.x(1)) } else { None };
    let (dx, dg) = Tensor::rms_norm_backward(c.x(0), g, norm_shape, gamma, st)?;
    Ok(norm_grads(dx, dg, None))
}

// As layer norm, with statistics per (sample, group) and γ, β per channel.
pub(crate) fn group_norm_backward(
    groups: usize,
    st: &NormStats,
    has_gamma: bool,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let (gamma, has_beta) = gamma_beta(c, has_gamma);
    let (dx, dg, db) = Tensor::group_norm_backward(c.x(0), g, groups, gamma, has_beta, st)?;
    Ok(norm_grads(dx, dg, db))
}

// dy = dz·silu'(y) with y recomputed from x, then group norm's rule.
pub(crate) fn group_norm_silu_backward(
    groups: usize,
    eps: f64,
    st: &NormStats,
    has_gamma: bool,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let (gamma, has_beta) = gamma_beta(c, has_gamma);
    let beta = if has_beta { Some(c.x(1 + has_gamma as usize)) } else { None };
    let (dx, dg, db) = Tensor::group_norm_silu_backward(c.x(0), g, groups, (gamma, beta), eps, st)?;
    Ok(norm_grads(dx, dg, db))
}

// dlogits = (softmax − target distribution) · dloss / count
pub(crate) fn cross_entropy_backward(
    targets: &Tensor,
    ignore: Option<i64>,
    eps: f64,
    count: usize,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let logits = c.x(0);
    let dl = logits.via_f32(|l| Tensor::cross_entropy_backward(l, targets, ignore, eps, count, g))?;
    Ok(vec![Some(dl)])
}
