//! Elementwise ops with NumPy broadcasting, comparisons and selection.
use crate::layout::broadcast_shapes;
use crate::storage::{CpuElem, CpuStorage};
use crate::{float_dispatch, DType, Error, Result, Tensor};
pub use kernels::elementwise::{BinaryOp, CmpOp, UnaryOp};

/// Applies `f(a, b)` over the broadcast of two same-dtype tensors, producing a contiguous Vec.
fn zip_broadcast<A: CpuElem, B: CpuElem, O: Copy + Default + Send + Sync>(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(A, B) -> O + Sync,
) -> Result<(Vec<O>, Vec<usize>)> {
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    let (la, lb) = (a.layout().broadcast_to(&shape)?, b.layout().broadcast_to(&shape)?);
    let va = A::slice(a.storage().as_cpu()?).ok_or(Error::UnsupportedDType { op, dtype: a.dtype() })?;
    let vb = B::slice(b.storage().as_cpu()?).ok_or(Error::UnsupportedDType { op, dtype: b.dtype() })?;
    let out =
        kernels::strided::zip_map_vec(&shape, (va, la.strides(), la.offset()), (vb, lb.strides(), lb.offset()), f);
    Ok((out, shape))
}

fn check_same_dtype(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch { op, lhs: a.dtype(), rhs: b.dtype() });
    }
    if a.device() != b.device() {
        return Err(Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() });
    }
    Ok(())
}

impl Tensor {
    /// `y = op(x)` elementwise (float dtypes).
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        self.via_f32(|x| {
            crate::on_cuda!(x, st => crate::cuda::elementwise::unary(x, st, op));
            float_dispatch!(x.dtype(), op.name(), T => {
                let xs = x.cpu_data::<T>()?;
                Tensor::from_vec(kernels::elementwise::unary_vec(op, &xs), x.shape())
            })
        })
    }
    /// `dx = dy · f'(x)` for the unary op (the autograd rule; `y` is the forward output).
    pub fn unary_backward(op: UnaryOp, x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
        crate::on_cuda!(x, st => crate::cuda::elementwise::unary_backward(op, x, st, y, dy));
        float_dispatch!(x.dtype(), op.name(), T => {
            let (xs, ys, gs) = (x.cpu_data::<T>()?, y.cpu_data::<T>()?, dy.cpu_data::<T>()?);
            Tensor::from_vec(kernels::elementwise::unary_backward_vec(op, &xs, &ys, &gs), x.shape())
        })
    }

    /// [`Tensor::unary_backward`] consuming `dy`: when `dy` owns its buffer outright (and matches
    /// `x` in shape and dtype) `dx` is written over it, with no new allocation. The same bits
    /// either way.
    pub fn unary_backward_owned(op: UnaryOp, x: &Tensor, y: &Tensor, mut dy: Tensor) -> Result<Tensor> {
        crate::on_cuda!(x, st => crate::cuda::elementwise::unary_backward(op, x, st, y, &dy));
        if dy.shape() != x.shape() || dy.dtype() != x.dtype() || y.dtype() != x.dtype() || y.shape() != x.shape() {
            return Tensor::unary_backward(op, x, y, &dy);
        }
        match dy.unique_cpu_storage_mut() {
            Some(CpuStorage::F32(d)) => {
                kernels::elementwise::unary_backward_in_place(op, &x.cpu_data::<f32>()?, &y.cpu_data::<f32>()?, d)
            }
            Some(CpuStorage::F64(d)) => {
                kernels::elementwise::unary_backward_in_place(op, &x.cpu_data::<f64>()?, &y.cpu_data::<f64>()?, d)
            }
            _ => return Tensor::unary_backward(op, x, y, &dy),
        }
        Ok(dy)
    }

    /// `op(self, other)` with NumPy broadcasting.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        check_same_dtype(op.name(), self, other)?;
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            let (a, b) = (self.to_dtype(DType::F32)?, other.to_dtype(DType::F32)?);
            return a.binary(op, &b)?.to_dtype(self.dtype());
        }
        crate::on_cuda!(self, st => crate::cuda::elementwise::binary(self, st, op, other));
        float_dispatch!(self.dtype(), op.name(), T => {
            // The four arithmetic ops get their own loop (inlined, so it vectorises); the values
            // are `op.forward`'s either way.
            let (name, a, b) = (op.name(), self, other);
            let (v, shape) = match op {
                BinaryOp::Add => zip_broadcast::<T, T, T>(name, a, b, |x, y| x + y)?,
                BinaryOp::Sub => zip_broadcast::<T, T, T>(name, a, b, |x, y| x - y)?,
                BinaryOp::Mul => zip_broadcast::<T, T, T>(name, a, b, |x, y| x * y)?,
                BinaryOp::Div => zip_broadcast::<T, T, T>(name, a, b, |x, y| x / y)?,
                _ => zip_broadcast::<T, T, T>(name, a, b, |x, y| op.forward(x, y))?,
            };
            Tensor::from_vec(v, &shape)
        })
    }
    /// Gradients of `y = op(a, b)` given the upstream `dy` (shaped like the broadcast output),
    /// each summed back to its input's shape.
    pub fn binary_backward(op: BinaryOp, a: &Tensor, b: &Tensor, y: &Tensor, dy: &Tensor) -> Result<(Tensor, Tensor)> {
        crate::on_cuda!(a, st => crate::cuda::elementwise::binary_backward(op, a, st, b, y, dy));
        let shape = y.shape().to_vec();
        let (a_full, b_full) = (a.broadcast_to(&shape)?, b.broadcast_to(&shape)?);
        float_dispatch!(a.dtype(), op.name(), T => {
            let (av, bv, yv, gv) = (a_full.cpu_data::<T>()?, b_full.cpu_data::<T>()?, y.cpu_data::<T>()?, dy.cpu_data::<T>()?);
            let n = av.len();
            let (mut ga, mut gb) = (vec![T::default(); n], vec![T::default(); n]);
            for i in 0..n {
                let (pa, pb) = op.partials(av[i], bv[i], yv[i]);
                ga[i] = gv[i] * pa;
                gb[i] = gv[i] * pb;
            }
            Ok((
                Tensor::from_vec(ga, &shape)?.sum_to_shape(a.shape())?,
                Tensor::from_vec(gb, &shape)?.sum_to_shape(b.shape())?,
            ))
        })
    }

    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, o)
    }
    /// `self + o` for tensors of the same shape, consuming `self`: when `self` owns its buffer
    /// outright (no other tensor or view shares it) the sum is written into it, with no new
    /// allocation; otherwise this is [`Tensor::add`]. The same bits either way (`self[i] + o[i]`).
    pub fn add_owned(mut self, o: &Tensor) -> Result<Tensor> {
        if self.shape() != o.shape() || self.dtype() != o.dtype() || self.device() != o.device() {
            return self.add(o);
        }
        crate::on_cuda!(self, _st => self.add(o));
        let Some(st) = self.unique_cpu_storage_mut() else { return self.add(o) };
        match st {
            CpuStorage::F32(v) => {
                kernels::strided::zip_assign(v, &o.cpu_data::<f32>()?, |a, b| BinaryOp::Add.forward(a, b))
            }
            CpuStorage::F64(v) => {
                kernels::strided::zip_assign(v, &o.cpu_data::<f64>()?, |a, b| BinaryOp::Add.forward(a, b))
            }
            _ => return self.add(o),
        }
        Ok(self)
    }
    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, o)
    }
    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, o)
    }
    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, o)
    }
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn square(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Square)
    }
    /// `a·x + b`.
    pub fn affine(&self, a: f64, b: f64) -> Result<Tensor> {
        self.unary(UnaryOp::Affine(a, b))
    }
    pub fn scale(&self, a: f64) -> Result<Tensor> {
        self.affine(a, 0.0)
    }

    /// Sums a broadcast result back down to `shape` (the adjoint of `broadcast_to`).
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.rank().checked_sub(shape.len()).ok_or_else(|| Error::BroadcastMismatch {
            op: "sum_to_shape",
            lhs: self.shape().to_vec(),
            rhs: shape.to_vec(),
        })?;
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &d) in shape.iter().enumerate() {
            let s = self.shape()[lead + i];
            if d == 1 && s != 1 {
                dims.push((lead + i) as isize);
            } else if d != s {
                return Err(Error::BroadcastMismatch {
                    op: "sum_to_shape",
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                });
            }
        }
        self.sum(&dims, true)?.reshape(shape)
    }

    /// Elementwise comparison with broadcasting; returns a `U8` mask (1 = true).
    pub fn cmp(&self, op: CmpOp, other: &Tensor) -> Result<Tensor> {
        check_same_dtype("cmp", self, other)?;
        let (a, b) = (self.to_dtype(self.dtype().compute_dtype())?, other.to_dtype(other.dtype().compute_dtype())?);
        crate::on_cuda!(a, st => crate::cuda::elementwise::cmp(&a, st, op, &b));
        let (v, shape) = match a.dtype() {
            DType::F32 => zip_broadcast::<f32, f32, u8>("cmp", &a, &b, |x, y| op.apply(x, y) as u8)?,
            DType::F64 => zip_broadcast::<f64, f64, u8>("cmp", &a, &b, |x, y| op.apply(x, y) as u8)?,
            DType::I64 => zip_broadcast::<i64, i64, u8>("cmp", &a, &b, |x, y| op.apply(x, y) as u8)?,
            DType::U8 => zip_broadcast::<u8, u8, u8>("cmp", &a, &b, |x, y| op.apply(x, y) as u8)?,
            d => return Err(Error::UnsupportedDType { op: "cmp", dtype: d }),
        };
        Tensor::from_vec(v, &shape)
    }
    /// Comparison against a scalar.
    pub fn cmp_scalar(&self, op: CmpOp, v: f64) -> Result<Tensor> {
        crate::on_cuda!(self, _st => self.cmp(op, &Tensor::full_on(&[], v, self.dtype(), self.device())?));
        self.cmp(op, &Tensor::scalar(v, self.dtype()))
    }

    /// `mask ? on_true : on_false` elementwise, all three broadcast together; `mask` is `U8`.
    pub fn where_cond(mask: &Tensor, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        check_same_dtype("where_cond", on_true, on_false)?;
        if mask.dtype() != DType::U8 {
            return Err(Error::DTypeMismatch { op: "where_cond (mask)", lhs: mask.dtype(), rhs: DType::U8 });
        }
        let shape = broadcast_shapes("where_cond", mask.shape(), on_true.shape())?;
        let shape = broadcast_shapes("where_cond", &shape, on_false.shape())?;
        crate::on_cuda!(on_true, st => crate::cuda::elementwise::where_cond(mask, on_true, st, on_false, &shape));
        let m = mask.broadcast_to(&shape)?.to_vec::<u8>()?;
        let (t, f) = (on_true.broadcast_to(&shape)?.contiguous()?, on_false.broadcast_to(&shape)?.contiguous()?);
        crate::with_cpu_vec!(t.storage().as_cpu()?, tv => {
            let fv = CpuElem::slice(f.storage().as_cpu()?).ok_or(Error::DTypeMismatch { op: "where_cond", lhs: t.dtype(), rhs: f.dtype() })?;
            let (ot, of) = (t.layout().offset(), f.layout().offset());
            let out: Vec<_> = m.iter().enumerate().map(|(i, &c)| if c != 0 { tv[ot + i] } else { fv[of + i] }).collect();
            Tensor::from_vec(out, &shape)
        })
    }
    /// Replaces the elements where `mask` is set by `value`.
    /// One strided pass over `self` and the (broadcast) mask; no broadcast copies.
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        if mask.dtype() != DType::U8 {
            return Err(Error::DTypeMismatch { op: "masked_fill (mask)", lhs: mask.dtype(), rhs: DType::U8 });
        }
        crate::on_cuda!(self, st => crate::cuda::elementwise::masked_fill(self, st, mask, value));
        match self.dtype() {
            DType::F32 => {
                let v = value as f32;
                let (out, shape) =
                    zip_broadcast::<f32, u8, f32>("masked_fill", self, mask, |x, m| if m != 0 { v } else { x })?;
                Tensor::from_vec(out, &shape)
            }
            DType::F64 => {
                let (out, shape) =
                    zip_broadcast::<f64, u8, f64>("masked_fill", self, mask, |x, m| if m != 0 { value } else { x })?;
                Tensor::from_vec(out, &shape)
            }
            _ => Tensor::where_cond(mask, &Tensor::scalar(value, self.dtype()), self),
        }
    }
}
