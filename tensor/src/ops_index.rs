//! Joining, indexing and padding: cat, stack, index_select, gather, scatter_add, index_add, pad,
//! one_hot. Indices are `I64` tensors and are range-checked (an error, never a panic).
use crate::layout::resolve_dim;
use crate::storage::CpuElem;
use crate::{float_dispatch, CpuStorage, DType, Error, Result, Tensor};

/// Binds `$T` to the Rust type of any dtype.
macro_rules! any_dispatch {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::U8 => {
                type $T = u8;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::F16 => {
                type $T = half::f16;
                $body
            }
            DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// Splits a shape around `dim`: (product before, size at, product after).
fn split_at(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (shape[..dim].iter().product(), shape[dim], shape[dim + 1..].iter().product())
}

fn indices(op: &'static str, idx: &Tensor, size: usize) -> Result<Vec<usize>> {
    if idx.dtype() != DType::I64 {
        return Err(Error::DTypeMismatch { op, lhs: idx.dtype(), rhs: DType::I64 });
    }
    // Indices on a GPU are copied to the host for this check (one copy, one wait for the stream),
    // so out-of-range errors are raised before any launch and are exactly the CPU's.
    let host = idx.to_device(crate::Device::Cpu)?;
    host.cpu_data::<i64>()?
        .iter()
        .map(|&i| {
            if i < 0 || i as usize >= size {
                Err(Error::IndexOutOfRange { op, index: i, size })
            } else {
                Ok(i as usize)
            }
        })
        .collect()
}

impl Tensor {
    /// Concatenates along `dim`; all other dims must agree.
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| Error::invalid("cat", "no tensors given"))?;
        let d = resolve_dim("cat", dim, first.rank())?;
        let mut shape = first.shape().to_vec();
        shape[d] = 0;
        for t in tensors {
            let ok = t.rank() == first.rank() && (0..t.rank()).all(|i| i == d || t.shape()[i] == first.shape()[i]);
            if !ok {
                return Err(Error::ShapeMismatch { op: "cat", lhs: first.shape().to_vec(), rhs: t.shape().to_vec() });
            }
            if t.dtype() != first.dtype() {
                return Err(Error::DTypeMismatch { op: "cat", lhs: first.dtype(), rhs: t.dtype() });
            }
            shape[d] += t.shape()[d];
        }
        crate::on_cuda!(first, st => crate::cuda::index::cat(tensors, d, &shape, st));
        let outer: usize = shape[..d].iter().product();
        any_dispatch!(first.dtype(), T => {
            let parts: Vec<_> = tensors.iter().map(|t| t.cpu_data::<T>()).collect::<Result<_>>()?;
            let blocks: Vec<(&[_], usize)> =
                tensors.iter().zip(&parts).map(|(t, p)| (&p[..], t.shape()[d..].iter().product::<usize>())).collect();
            let mut out = kernels::memory::zeros(shape.iter().product());
            kernels::strided::concat(&blocks, outer, &mut out);
            Tensor::from_vec(out, &shape)
        })
    }
    /// Stacks equal-shaped tensors along a new dimension `dim`.
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| Error::invalid("stack", "no tensors given"))?;
        let d = resolve_dim("stack", dim, first.rank() + 1)? as isize;
        let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<_>>()?;
        Tensor::cat(&parts.iter().collect::<Vec<_>>(), d)
    }

    /// Picks the entries `idx` (1-D `I64`) along `dim`.
    pub fn index_select(&self, dim: isize, idx: &Tensor) -> Result<Tensor> {
        let d = resolve_dim("index_select", dim, self.rank())?;
        if idx.rank() != 1 {
            return Err(Error::invalid("index_select", format!("index must be 1-D, got shape {:?}", idx.shape())));
        }
        let (outer, size, inner) = split_at(self.shape(), d);
        let ix = indices("index_select", idx, size)?;
        let mut shape = self.shape().to_vec();
        shape[d] = ix.len();
        crate::on_cuda!(self, st => crate::cuda::index::index_select(self, st, d, idx, ix.len()));
        any_dispatch!(self.dtype(), T => {
            let x = self.cpu_data::<T>()?;
            let mut out = Vec::with_capacity(outer * ix.len() * inner);
            for o in 0..outer {
                for &i in &ix {
                    out.extend_from_slice(&x[(o * size + i) * inner..(o * size + i + 1) * inner]);
                }
            }
            Tensor::from_vec(out, &shape)
        })
    }

    /// `out[.., j, ..] = self[.., idx[.., j, ..], ..]` along `dim`; `idx` has the rank of `self`
    /// and no larger sizes; the output has `idx`'s shape.
    pub fn gather(&self, dim: isize, idx: &Tensor) -> Result<Tensor> {
        let d = resolve_dim("gather", dim, self.rank())?;
        check_index_shape("gather", self.shape(), idx.shape(), d)?;
        let ix = indices("gather", idx, self.shape()[d])?;
        crate::on_cuda!(self, st => crate::cuda::index::gather(self, st, d, idx));
        let src_strides = crate::layout::contiguous_strides(self.shape());
        let offs = scatter_offsets(idx.shape(), &src_strides, d, &ix);
        any_dispatch!(self.dtype(), T => {
            let x = self.cpu_data::<T>()?;
            Tensor::from_vec(offs.iter().map(|&o| x[o]).collect::<Vec<T>>(), idx.shape())
        })
    }

    /// `out = self; out[.., idx[.., j, ..], ..] += src[.., j, ..]` along `dim` (float dtypes).
    pub fn scatter_add(&self, dim: isize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = resolve_dim("scatter_add", dim, self.rank())?;
        if idx.shape() != src.shape() {
            return Err(Error::ShapeMismatch {
                op: "scatter_add (index vs src)",
                lhs: idx.shape().to_vec(),
                rhs: src.shape().to_vec(),
            });
        }
        check_index_shape("scatter_add", self.shape(), idx.shape(), d)?;
        if src.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch { op: "scatter_add", lhs: self.dtype(), rhs: src.dtype() });
        }
        let ix = indices("scatter_add", idx, self.shape()[d])?;
        self.via_f32(|x| {
            let s = src.to_dtype(x.dtype())?;
            crate::on_cuda!(x, st => crate::cuda::index::scatter_add(x, st, d, idx, &s));
            let dst_strides = crate::layout::contiguous_strides(self.shape());
            let offs = scatter_offsets(idx.shape(), &dst_strides, d, &ix);
            float_dispatch!(x.dtype(), "scatter_add", T => {
                let mut out = x.cpu_data::<T>()?.into_owned();
                for (&o, &v) in offs.iter().zip(s.cpu_data::<T>()?.iter()) {
                    out[o] += v;
                }
                Tensor::from_vec(out, x.shape())
            })
        })
    }

    /// `out = self; out.select(dim, idx[i]) += src.select(dim, i)` — the adjoint of index_select.
    pub fn index_add(&self, dim: isize, idx: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = resolve_dim("index_add", dim, self.rank())?;
        let mut want = self.shape().to_vec();
        want[d] = idx.elem_count();
        if src.shape() != want.as_slice() || idx.rank() != 1 {
            return Err(Error::ShapeMismatch { op: "index_add", lhs: want, rhs: src.shape().to_vec() });
        }
        let (outer, size, inner) = split_at(self.shape(), d);
        let ix = indices("index_add", idx, size)?;
        self.via_f32(|x| {
            let s = src.to_dtype(x.dtype())?;
            crate::on_cuda!(x, st => crate::cuda::index::index_add(x, st, d, idx, &ix, &s));
            float_dispatch!(x.dtype(), "index_add", T => {
                let mut out = x.cpu_data::<T>()?.into_owned();
                let sv = s.cpu_data::<T>()?;
                for o in 0..outer {
                    for (j, &i) in ix.iter().enumerate() {
                        let (dst, srcb) = ((o * size + i) * inner, (o * ix.len() + j) * inner);
                        for k in 0..inner {
                            out[dst + k] += sv[srcb + k];
                        }
                    }
                }
                Tensor::from_vec(out, x.shape())
            })
        })
    }

    /// Constant padding: `pads[d] = (before, after)` for every dim.
    pub fn pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor> {
        if pads.len() != self.rank() {
            return Err(Error::invalid("pad", format!("{} pad pairs for a rank-{} tensor", pads.len(), self.rank())));
        }
        let shape: Vec<usize> = self.shape().iter().zip(pads).map(|(&s, &(b, a))| s + b + a).collect();
        let mut dst = crate::Layout::contiguous(&shape);
        for (d, &(b, _)) in pads.iter().enumerate() {
            dst = dst.slice(d, b, self.shape()[d], 1)?;
        }
        crate::on_cuda!(self, st => crate::cuda::index::pad(self, st, &shape, &dst, value));
        let n = shape.iter().product();
        let mut st = CpuStorage::full(self.dtype(), n, value);
        scatter_into(&mut st, &dst, self)?;
        Tensor::from_cpu(st, &shape)
    }

    /// A copy of `self` whose elements `start, start + step, ...` along `dim` are replaced by
    /// `src` (the adjoint of a strided slice).
    pub fn slice_scatter(&self, src: &Tensor, dim: isize, start: usize, step: usize) -> Result<Tensor> {
        self.clone().slice_scatter_owned(src, dim, start, step)
    }

    /// [`Tensor::slice_scatter`] consuming `self`: written into its buffer when `self` owns it
    /// outright, otherwise into a copy. The same values either way.
    pub fn slice_scatter_owned(self, src: &Tensor, dim: isize, start: usize, step: usize) -> Result<Tensor> {
        let dst = self.slice_target("slice_scatter", src, dim, start, step)?;
        crate::on_cuda!(self, st => crate::cuda::index::slice_scatter(&self, st, src, &dst));
        let shape = self.shape().to_vec();
        let mut st = self.into_cpu_storage()?;
        scatter_into(&mut st, &dst, src)?;
        Tensor::from_cpu(st, &shape)
    }

    /// `self` plus `src` added into the elements `start, start + step, ...` along `dim`, i.e.
    /// `self + zeros.slice_scatter(src, ..)` without building the zeros: how a slice's gradient
    /// joins the input's running gradient. Consumes `self` and adds in place when it owns its
    /// buffer outright. Inside the slice the values are `self + src` as the full add gives;
    /// outside, `self` is kept as it is (the full add would turn a `-0.0` into `+0.0`).
    pub fn slice_add_owned(self, src: &Tensor, dim: isize, start: usize, step: usize) -> Result<Tensor> {
        let dst = self.slice_target("slice_add", src, dim, start, step)?;
        let float_cpu = self.device() == crate::Device::Cpu && matches!(self.dtype(), DType::F32 | DType::F64);
        if !float_cpu {
            let spread = self.zeros_like()?.slice_scatter_owned(src, dim, start, step)?;
            return self.add_owned(&spread);
        }
        let shape = self.shape().to_vec();
        let mut st = self.into_cpu_storage()?;
        match &mut st {
            CpuStorage::F32(v) => {
                kernels::strided::scatter_add(dst.shape(), &src.cpu_data::<f32>()?, (v, dst.strides(), dst.offset()))
            }
            CpuStorage::F64(v) => {
                kernels::strided::scatter_add(dst.shape(), &src.cpu_data::<f64>()?, (v, dst.strides(), dst.offset()))
            }
            other => return Err(Error::DTypeMismatch { op: "slice_add", lhs: other.dtype(), rhs: DType::F32 }),
        }
        Tensor::from_cpu(st, &shape)
    }

    /// Checks `src` against the slice `start, start + step, ...` along `dim` of `self` (rank,
    /// dtype, shape) and returns that slice's layout inside a contiguous buffer of `self`'s shape.
    fn slice_target(
        &self,
        op: &'static str,
        src: &Tensor,
        dim: isize,
        start: usize,
        step: usize,
    ) -> Result<crate::Layout> {
        let d = resolve_dim(op, dim, self.rank())?;
        if src.rank() != self.rank() {
            return Err(Error::ShapeMismatch { op, lhs: self.shape().to_vec(), rhs: src.shape().to_vec() });
        }
        if src.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch { op, lhs: self.dtype(), rhs: src.dtype() });
        }
        if src.device() != self.device() {
            return Err(Error::invalid(op, format!("src on {:?}, self on {:?}", src.device(), self.device())));
        }
        let dst = crate::Layout::contiguous(self.shape()).slice(d, start, src.shape()[d], step)?;
        if dst.shape() != src.shape() {
            return Err(Error::ShapeMismatch { op, lhs: dst.shape().to_vec(), rhs: src.shape().to_vec() });
        }
        Ok(dst)
    }

    /// `I64` class indices → one-hot vectors of `classes` along a new last dim.
    pub fn one_hot(idx: &Tensor, classes: usize, dtype: DType) -> Result<Tensor> {
        let ix = indices("one_hot", idx, classes)?;
        crate::on_cuda!(idx, st => crate::cuda::index::one_hot(idx, st, classes, dtype));
        let mut v = vec![0.0; ix.len() * classes];
        for (r, &i) in ix.iter().enumerate() {
            v[r * classes + i] = 1.0;
        }
        let mut shape = idx.shape().to_vec();
        shape.push(classes);
        Tensor::from_cpu(CpuStorage::from_f64_iter(dtype, v.into_iter()), &shape)
    }
}

/// Writes `src` (row-major) into the positions `dst` describes inside `st`.
fn scatter_into(st: &mut CpuStorage, dst: &crate::Layout, src: &Tensor) -> Result<()> {
    any_dispatch!(src.dtype(), T => {
        let s = src.cpu_data::<T>()?;
        if let Some(v) = as_mut_vec::<T>(st) {
            kernels::strided::scatter(dst.shape(), &s, (v, dst.strides(), dst.offset()));
        }
    });
    Ok(())
}

fn as_mut_vec<T: CpuElem>(s: &mut CpuStorage) -> Option<&mut Vec<T>> {
    // A typed mutable view of the storage vector, when the dtype matches.
    let any: &mut dyn std::any::Any = match s {
        CpuStorage::U8(v) => v,
        CpuStorage::I64(v) => v,
        CpuStorage::F16(v) => v,
        CpuStorage::BF16(v) => v,
        CpuStorage::F32(v) => v,
        CpuStorage::F64(v) => v,
    };
    any.downcast_mut::<Vec<T>>()
}

fn check_index_shape(op: &'static str, shape: &[usize], idx: &[usize], dim: usize) -> Result<()> {
    let ok = shape.len() == idx.len() && (0..shape.len()).all(|i| i == dim || idx[i] <= shape[i]);
    if !ok {
        return Err(Error::ShapeMismatch { op, lhs: shape.to_vec(), rhs: idx.to_vec() });
    }
    Ok(())
}

/// For every position of an index tensor of shape `idx_shape` (row-major), the offset in a
/// contiguous tensor with `strides` where the coordinate along `dim` is replaced by the index.
fn scatter_offsets(idx_shape: &[usize], strides: &[usize], dim: usize, ix: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(ix.len());
    let rank = idx_shape.len();
    let mut coord = vec![0usize; rank];
    for &i in ix {
        let mut o = 0;
        for d in 0..rank {
            o += if d == dim { i } else { coord[d] } * strides[d];
        }
        out.push(o);
        for d in (0..rank).rev() {
            coord[d] += 1;
            if coord[d] < idx_shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    out
}
