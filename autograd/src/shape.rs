//! Views, joins and indexing on `Var`s. Views move no data; their rules move the gradient back
//! into the input's layout (inverse permute, scatter into the slice, sum over broadcast axes).
//! Indexing rules are the adjoint pairs gather ↔ scatter_add and index_select ↔ index_add.
use crate::backward::Ctx;
use crate::op::Op;
use crate::var::Var;
use tensor::layout::resolve_dim;
use tensor::{DType, Error, Result, Tensor};

impl Var {
    pub fn reshape(&self, shape: &[usize]) -> Result<Var> {
        Ok(Var::from_op(self.value().reshape(shape)?, Op::Reshape, vec![self.clone()]))
    }
    pub fn flatten(&self, start: isize, end: isize) -> Result<Var> {
        Ok(Var::from_op(self.value().flatten(start, end)?, Op::Reshape, vec![self.clone()]))
    }
    pub fn squeeze(&self, dim: isize) -> Result<Var> {
        Ok(Var::from_op(self.value().squeeze(dim)?, Op::Reshape, vec![self.clone()]))
    }
    pub fn unsqueeze(&self, dim: isize) -> Result<Var> {
        Ok(Var::from_op(self.value().unsqueeze(dim)?, Op::Reshape, vec![self.clone()]))
    }
    /// A row-major copy when the layout is not contiguous (the gradient passes straight through).
    pub fn contiguous(&self) -> Result<Var> {
        Ok(Var::from_op(self.value().contiguous()?, Op::Reshape, vec![self.clone()]))
    }
    pub fn permute(&self, dims: &[usize]) -> Result<Var> {
        Ok(Var::from_op(self.value().permute(dims)?, Op::Permute { dims: dims.to_vec() }, vec![self.clone()]))
    }
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Var> {
        let r = self.rank();
        let mut dims: Vec<usize> = (0..r).collect();
        dims.swap(resolve_dim("transpose", d0, r)?, resolve_dim("transpose", d1, r)?);
        self.permute(&dims)
    }
    /// `start..end` with a positive `step` along `dim` (a view).
    pub fn slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Result<Var> {
        let d = resolve_dim("slice", dim, self.rank())?;
        let y = self.value().slice(dim, start, end, step)?;
        let op = Op::Slice { dim: d, start: start.min(self.shape()[d]), len: y.shape()[d], step };
        Ok(Var::from_op(y, op, vec![self.clone()]))
    }
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Var> {
        let end = start.checked_add(len).ok_or_else(|| Error::invalid("narrow", "start + len overflows"))?;
        self.slice(dim, start, end, 1).and_then(|v| {
            if v.dim(dim)? != len {
                return Err(Error::invalid("narrow", format!("{start}+{len} exceeds size {}", self.dim(dim)?)));
            }
            Ok(v)
        })
    }
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var> {
        Ok(Var::from_op(self.value().broadcast_to(shape)?, Op::Expand, vec![self.clone()]))
    }
    pub fn expand(&self, shape: &[usize]) -> Result<Var> {
        self.broadcast_to(shape)
    }
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Var>> {
        let d = resolve_dim("split", dim, self.rank())?;
        let n = self.shape()[d];
        if size == 0 {
            return Err(Error::invalid("split", "size must be positive"));
        }
        (0..n).step_by(size).map(|s| self.narrow(d as isize, s, size.min(n - s))).collect()
    }
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Var>> {
        if chunks == 0 {
            return Err(Error::invalid("chunk", "chunks must be positive"));
        }
        self.split(self.dim(dim)?.div_ceil(chunks).max(1), dim)
    }

    pub fn cat(vars: &[&Var], dim: isize) -> Result<Var> {
        let values: Vec<&Tensor> = vars.iter().map(|v| v.value()).collect();
        let y = Tensor::cat(&values, dim)?;
        let d = resolve_dim("cat", dim, y.rank())?;
        let sizes = vars.iter().map(|v| v.shape()[d]).collect();
        Ok(Var::from_op(y, Op::Cat { dim: d, sizes }, vars.iter().map(|v| (*v).clone()).collect()))
    }
    pub fn stack(vars: &[&Var], dim: isize) -> Result<Var> {
        let first = vars.first().ok_or_else(|| Error::invalid("stack", "no tensors given"))?;
        let d = resolve_dim("stack", dim, first.rank() + 1)? as isize;
        let parts: Vec<Var> = vars.iter().map(|v| v.unsqueeze(d)).collect::<Result<_>>()?;
        Var::cat(&parts.iter().collect::<Vec<_>>(), d)
    }
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Result<Var> {
        let y = self.value().index_select(dim, index)?;
        Ok(Var::from_op(y, Op::IndexSelect { dim, index: index.clone() }, vec![self.clone()]))
    }
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Var> {
        let y = self.value().gather(dim, index)?;
        Ok(Var::from_op(y, Op::Gather { dim, index: index.clone() }, vec![self.clone()]))
    }
    /// `self` with `src` added at `index` along `dim` (both differentiable).
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Var) -> Result<Var> {
        let y = self.value().scatter_add(dim, index, src.value())?;
        Ok(Var::from_op(y, Op::ScatterAdd { dim, index: index.clone() }, vec![self.clone(), src.clone()]))
    }
    pub fn index_add(&self, dim: isize, index: &Tensor, src: &Var) -> Result<Var> {
        let y = self.value().index_add(dim, index, src.value())?;
        Ok(Var::from_op(y, Op::IndexAdd { dim, index: index.clone() }, vec![self.clone(), src.clone()]))
    }
    /// `mask ? on_true : on_false` with broadcasting; `mask` is a `U8` tensor.
    pub fn where_cond(mask: &Tensor, on_true: &Var, on_false: &Var) -> Result<Var> {
        let y = Tensor::where_cond(mask, on_true.value(), on_false.value())?;
        Ok(Var::from_op(y, Op::WhereCond { mask: mask.clone() }, vec![on_true.clone(), on_false.clone()]))
    }
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Var> {
        let y = self.value().masked_fill(mask, value)?;
        Ok(Var::from_op(y, Op::MaskedFill { mask: mask.clone() }, vec![self.clone()]))
    }
    /// Constant padding, `pads[d] = (before, after)` for every dim.
    pub fn pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Var> {
        let y = self.value().pad(pads, value)?;
        Ok(Var::from_op(y, Op::Pad { pads: pads.to_vec() }, vec![self.clone()]))
    }
    /// Casts; a cast to an integer type ends the graph (the result is a constant, like
    /// PyTorch, where integer tensors cannot require gradients).
    pub fn to_dtype(&self, dtype: DType) -> Result<Var> {
        let y = self.value().to_dtype(dtype)?;
        if !dtype.is_float() {
            return Ok(Var::constant(y));
        }
        Ok(Var::from_op(y, Op::ToDType { from: self.dtype() }, vec![self.clone()]))
    }
    /// Embedding lookup: `self` is the table `[vocab, dim]`, `ids` any-shaped `I64` → `[*ids, dim]`.
    pub fn embedding(&self, ids: &Tensor) -> Result<Var> {
        if self.rank() != 2 {
            return Err(Error::invalid("embedding", format!("table must be [vocab, dim], got {:?}", self.shape())));
        }
        let flat = ids.flatten_all()?;
        let mut shape = ids.shape().to_vec();
        shape.push(self.shape()[1]);
        let y = self.value().index_select(0, &flat)?.reshape(&shape)?;
        Ok(Var::from_op(y, Op::Embedding { ids: flat }, vec![self.clone()]))
    }
}

pub(crate) fn reshape_backward(c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(g.reshape(c.x(0).shape())?)])
}

// y = x.permute(dims)  →  dx = dy.permute(inverse(dims))
pub(crate) fn permute_backward(dims: &[usize], _c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let mut inv = vec![0; dims.len()];
    for (i, &d) in dims.iter().enumerate() {
        inv[d] = i;
    }
    Ok(vec![Some(g.permute(&inv)?)])
}

// dx = zeros like x, with dy written into the sliced positions
pub(crate) fn slice_backward(
    dim: usize,
    start: usize,
    _len: usize,
    step: usize,
    c: &Ctx,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(c.x(0).zeros_like()?.slice_scatter_owned(g, dim as isize, start, step)?)])
}

// y = broadcast(x)  →  dx = dy summed over the broadcast axes
pub(crate) fn expand_backward(c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(g.sum_to_shape(c.x(0).shape())?)])
}

// y = cat(x_0, x_1, ...)  →  dx_i = the i-th block of dy along dim
pub(crate) fn cat_backward(dim: usize, sizes: &[usize], _c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let mut start = 0;
    let mut out = Vec::with_capacity(sizes.len());
    for &s in sizes {
        out.push(Some(g.narrow(dim as isize, start, s)?));
        start += s;
    }
    Ok(out)
}

// y = x.index_select(dim, idx)  →  dx = zeros.index_add(dim, idx, dy)
pub(crate) fn index_select_backward(dim: isize, index: &Tensor, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(c.x(0).zeros_like()?.index_add(dim, index, g)?)])
}

// y = x.gather(dim, idx)  →  dx = zeros.scatter_add(dim, idx, dy)
pub(crate) fn gather_backward(dim: isize, index: &Tensor, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(c.x(0).zeros_like()?.scatter_add(dim, index, g)?)])
}

// y = base.scatter_add(dim, idx, src)  →  dbase = dy, dsrc = dy.gather(dim, idx)
pub(crate) fn scatter_add_backward(dim: isize, index: &Tensor, _c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(g.clone()), Some(g.gather(dim, index)?)])
}

// y = base.index_add(dim, idx, src)  →  dbase = dy, dsrc = dy.index_select(dim, idx)
pub(crate) fn index_add_backward(dim: isize, index: &Tensor, _c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(g.clone()), Some(g.index_select(dim, index)?)])
}

// y = mask ? a : b  →  da = mask ? dy : 0,  db = mask ? 0 : dy  (each summed to its shape)
pub(crate) fn where_cond_backward(mask: &Tensor, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let zero = Tensor::full_on(&[], 0.0, g.dtype(), g.device())?;
    let da = Tensor::where_cond(mask, g, &zero)?.sum_to_shape(c.x(0).shape())?;
    let db = Tensor::where_cond(mask, &zero, g)?.sum_to_shape(c.x(1).shape())?;
    Ok(vec![Some(da), Some(db)])
}

// y = mask ? v : x  →  dx = mask ? 0 : dy
pub(crate) fn masked_fill_backward(mask: &Tensor, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(vec![Some(g.masked_fill(mask, 0.0)?.sum_to_shape(c.x(0).shape())?)])
}

// y = pad(x)  →  dx = the un-padded window of dy
pub(crate) fn pad_backward(pads: &[(usize, usize)], c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let mut dx = g.clone();
    for (d, &(before, _)) in pads.iter().enumerate() {
        dx = dx.narrow(d as isize, before, c.x(0).shape()[d])?;
    }
    Ok(vec![Some(dx.contiguous()?)])
}

// y = cast(x)  →  dx = cast back(dy); there is no gradient into or out of integer types
pub(crate) fn to_dtype_backward(from: DType, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    if !from.is_float() || !c.out.dtype().is_float() {
        return Err(Error::NoBackward { op: "to_dtype (to or from an integer type)" });
    }
    Ok(vec![Some(g.to_dtype(from)?)])
}

// y[i] = W[ids[i]]  →  dW = zeros.index_add(0, ids, dy)   W: [vocab, dim], dy: [*ids, dim]
pub(crate) fn embedding_backward(ids: &Tensor, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let w = c.x(0);
    let g2 = g.reshape(&[ids.elem_count(), w.shape()[1]])?;
    Ok(vec![Some(w.zeros_like()?.index_add(0, ids, &g2)?)])
}
