//! Reductions over any set of axes with `keepdim`. The reduced axes are moved to the end (a
//! free permute), made contiguous, and handed to the row kernels in `kernels::reduce`.
use crate::layout::resolve_dim;
use crate::{float_dispatch, Error, Result, Tensor};
pub use kernels::reduce::ReduceOp;

/// The permutation that puts kept axes first and reduced axes last, and the output shapes.
pub(crate) struct ReducePlan {
    pub(crate) perm: Vec<usize>,
    pub(crate) rows: usize,
    pub(crate) len: usize,
    pub(crate) keep_shape: Vec<usize>,
}

impl Tensor {
    fn reduce_plan(&self, op: &'static str, dims: &[isize], keepdim: bool) -> Result<ReducePlan> {
        let rank = self.rank();
        let mut red = vec![false; rank];
        for &d in dims {
            red[resolve_dim(op, d, rank)?] = true;
        }
        let mut perm: Vec<usize> = (0..rank).filter(|&d| !red[d]).collect();
        perm.extend((0..rank).filter(|&d| red[d]));
        let rows: usize = (0..rank).filter(|&d| !red[d]).map(|d| self.shape()[d]).product();
        let len: usize = (0..rank).filter(|&d| red[d]).map(|d| self.shape()[d]).product();
        let keep_shape = (0..rank)
            .filter_map(|d| {
                if !red[d] {
                    Some(self.shape()[d])
                } else if keepdim {
                    Some(1)
                } else {
                    None
                }
            })
            .collect();
        Ok(ReducePlan { perm, rows, len, keep_shape })
    }

    /// Reduces over `dims` (empty = all axes).
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let all: Vec<isize> = (0..self.rank() as isize).collect();
        let dims = if dims.is_empty() { &all[..] } else { dims };
        let plan = self.reduce_plan("reduce", dims, keepdim)?;
        if plan.len == 0 && matches!(op, ReduceOp::Max | ReduceOp::Min) {
            return Err(Error::invalid("reduce", "max/min over an empty axis"));
        }
        crate::on_cuda!(self, _st => self.via_f32(|x| crate::cuda::reduce::reduce(x, op, &plan)));
        if matches!(op, ReduceOp::Sum | ReduceOp::Mean) && self.is_contiguous() {
            if let Some(t) = self.sum_outer_inner(op, dims, &plan.keep_shape)? {
                return Ok(t);
            }
        }
        self.via_f32(|x| {
            let xp = x.permute(&plan.perm)?.contiguous()?;
            float_dispatch!(x.dtype(), "reduce", T => {
                let data = xp.cpu_data::<T>()?;
                let mut out = vec![T::default(); plan.rows];
                kernels::reduce::reduce_rows(op, &data, plan.rows, plan.len, &mut out);
                Tensor::from_vec(out, &plan.keep_shape)
            })
        })
    }
    /// Sum/mean over leading and/or trailing axes of a contiguous tensor without a transposed
    /// copy: `[L, M, T]` → `[M]` as row sums over `T`, then column sums over `L` (the gradient of
    /// a broadcast bias). `None` when the reduced axes are not of that form.
    fn sum_outer_inner(&self, op: ReduceOp, dims: &[isize], keep_shape: &[usize]) -> Result<Option<Tensor>> {
        let rank = self.rank();
        let mut red = vec![false; rank];
        for &d in dims {
            red[resolve_dim("reduce", d, rank)?] = true;
        }
        let lead = red.iter().take_while(|&&r| r).count();
        let trail = red.iter().rev().take_while(|&&r| r).count();
        if lead == 0 || lead + trail >= rank || red[lead..rank - trail].iter().any(|&r| r) {
            return Ok(None);
        }
        let l: usize = self.shape()[..lead].iter().product();
        let t: usize = self.shape()[rank - trail..].iter().product();
        let m: usize = self.shape()[lead..rank - trail].iter().product();
        let scale = if op == ReduceOp::Mean { 1.0 / (l * t) as f64 } else { 1.0 };
        let out = self.via_f32(|x| {
            float_dispatch!(x.dtype(), "reduce", T => {
                let data = x.cpu_data::<T>()?;
                let rows: std::borrow::Cow<[T]> = if t > 1 {
                    let mut r = vec![T::default(); l * m];
                    kernels::reduce::reduce_rows(ReduceOp::Sum, &data, l * m, t, &mut r);
                    std::borrow::Cow::Owned(r)
                } else {
                    data
                };
                let mut out = vec![T::default(); m];
                kernels::reduce::sum_columns(&rows, l, m, &mut out);
                if scale != 1.0 {
                    out.iter_mut().for_each(|v| *v *= scale as T);
                }
                Tensor::from_vec(out, keep_shape)
            })
        })?;
        Ok(Some(out))
    }
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, dims, keepdim)
    }
    pub fn sum_all(&self) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, &[], false)
    }
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, dims, keepdim)
    }
    pub fn max(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, dims, keepdim)
    }
    pub fn min(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Min, dims, keepdim)
    }
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::LogSumExp, dims, keepdim)
    }
    pub fn norm(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Norm2, dims, keepdim)
    }
    /// Number of elements that `dims` reduce over.
    pub fn reduced_count(&self, dims: &[isize]) -> Result<usize> {
        let all: Vec<isize> = (0..self.rank() as isize).collect();
        let dims = if dims.is_empty() { &all[..] } else { dims };
        Ok(self.reduce_plan("reduce", dims, false)?.len)
    }
    /// Variance over `dims`; `unbiased` divides by `n − 1` (Bessel) instead of `n`.
    pub fn var(&self, dims: &[isize], unbiased: bool, keepdim: bool) -> Result<Tensor> {
        let n = self.reduced_count(dims)?;
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        let mean = self.mean(dims, true)?;
        let sq = self.sub(&mean)?.square()?;
        sq.sum(dims, keepdim)?.scale(1.0 / denom as f64)
    }

    /// Index of the first max (`max = true`) or min along `dim`, as `I64`.
    pub fn arg_reduce(&self, dim: isize, keepdim: bool, max: bool) -> Result<Tensor> {
        let plan = self.reduce_plan("argmax", &[dim], keepdim)?;
        if plan.len == 0 {
            return Err(Error::invalid("argmax", "empty axis"));
        }
        crate::on_cuda!(self, _st => crate::cuda::reduce::arg_reduce(&self.to_dtype(self.dtype().compute_dtype())?, max, &plan));
        let x = self.to_dtype(self.dtype().compute_dtype())?;
        let xp = x.permute(&plan.perm)?.contiguous()?;
        float_dispatch!(x.dtype(), "argmax", T => {
            let data = xp.cpu_data::<T>()?;
            let mut out = vec![0i64; plan.rows];
            kernels::reduce::arg_reduce_rows(&data, plan.rows, plan.len, max, &mut out);
            Tensor::from_vec(out, &plan.keep_shape)
        })
    }
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.arg_reduce(dim, keepdim, true)
    }
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.arg_reduce(dim, keepdim, false)
    }

    /// A 0/1 tensor shaped like `self` with a single 1 per reduced group at the first max (or
    /// min): the routing mask of the max/min backward rule.
    pub fn arg_mask(&self, dims: &[isize], max: bool) -> Result<Tensor> {
        let all: Vec<isize> = (0..self.rank() as isize).collect();
        let dims = if dims.is_empty() { &all[..] } else { dims };
        let plan = self.reduce_plan("max", dims, false)?;
        if plan.len == 0 {
            return Err(Error::invalid("max", "max/min over an empty axis"));
        }
        crate::on_cuda!(self, _st => crate::cuda::reduce::arg_mask(self, max, &plan));
        let x = self.to_dtype(self.dtype().compute_dtype())?;
        let xp = x.permute(&plan.perm)?.contiguous()?;
        let mut mask = vec![0.0f64; plan.rows * plan.len];
        float_dispatch!(x.dtype(), "max", T => {
            let data = xp.cpu_data::<T>()?;
            let mut idx = vec![0i64; plan.rows];
            kernels::reduce::arg_reduce_rows(&data, plan.rows, plan.len, max, &mut idx);
            for (r, &i) in idx.iter().enumerate() {
                mask[r * plan.len + i as usize] = 1.0;
            }
            Ok::<(), Error>(())
        })?;
        let permuted_shape: Vec<usize> = plan.perm.iter().map(|&d| self.shape()[d]).collect();
        let mut inverse = vec![0; plan.perm.len()];
        for (i, &p) in plan.perm.iter().enumerate() {
            inverse[p] = i;
        }
        let m = Tensor::from_cpu(crate::CpuStorage::from_f64_iter(self.dtype(), mask.into_iter()), &permuted_shape)?;
        m.permute(&inverse)?.contiguous()
    }
}
