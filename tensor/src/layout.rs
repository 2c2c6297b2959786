//! Shapes and layouts. A `Layout` says where each logical element lives in the storage buffer:
//! element `[i0, i1, ...]` sits at `offset + Σ ik * strides[k]`. Views (reshape of contiguous data,
//! permute, narrow with a step, broadcast) only build a new `Layout`; no data moves.
use crate::{Error, Result};

/// Normalises a possibly negative dimension index against `rank`.
pub fn resolve_dim(op: &'static str, dim: isize, rank: usize) -> Result<usize> {
    let d = if dim < 0 { dim + rank as isize } else { dim };
    if d < 0 || d as usize >= rank {
        return Err(Error::DimOutOfRange { op, dim, rank });
    }
    Ok(d as usize)
}

/// Number of elements of `shape`, or an error when it overflows `usize`.
pub fn checked_elem_count(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::invalid(op, format!("shape {shape:?} has more elements than fit in memory")))
}

/// Row-major (C-order) strides of a shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc *= d;
    }
    strides
}

/// NumPy broadcasting of two shapes (aligned from the right).
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::BroadcastMismatch { op, lhs: a.to_vec(), rhs: b.to_vec() });
            }
        };
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { strides: contiguous_strides(shape), shape: shape.to_vec(), offset: 0 }
    }
    pub fn new(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout { shape, strides, offset }
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    pub fn offset(&self) -> usize {
        self.offset
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn elem_count(&self) -> usize {
        self.shape.iter().product()
    }
    /// True when the elements are laid out row-major without gaps (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != acc {
                return false;
            }
            acc *= d;
        }
        true
    }
    /// Largest storage offset touched + 1 (0 for empty tensors).
    pub fn storage_extent(&self) -> usize {
        if self.elem_count() == 0 {
            return 0;
        }
        self.offset + self.shape.iter().zip(&self.strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>() + 1
    }

    /// Reinterprets a contiguous layout with a new shape; `None` when the layout is not contiguous
    /// (the caller then copies).
    pub fn reshape(&self, shape: &[usize]) -> Option<Layout> {
        if !self.is_contiguous() {
            return None;
        }
        Some(Layout { strides: contiguous_strides(shape), shape: shape.to_vec(), offset: self.offset })
    }

    pub fn permute(&self, dims: &[usize]) -> Result<Layout> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        if dims.len() != rank {
            return Err(Error::invalid("permute", format!("{dims:?} is not a permutation of {rank} dims")));
        }
        for &d in dims {
            if d >= rank || seen[d] {
                return Err(Error::invalid("permute", format!("{dims:?} is not a permutation of {rank} dims")));
            }
            seen[d] = true;
        }
        Ok(Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        })
    }

    /// Elements `start, start + step, ...` (`len` of them) along `dim`.
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Result<Layout> {
        let size = self.shape[dim];
        if step == 0 {
            return Err(Error::invalid("slice", "step must be positive"));
        }
        let last = (len.max(1) - 1).checked_mul(step).and_then(|x| x.checked_add(start));
        if len > 0 && last.is_none_or(|last| last >= size) {
            return Err(Error::invalid(
                "slice",
                format!("start {start} + {len} elements with step {step} exceeds size {size} of dim {dim}"),
            ));
        }
        if len == 0 && start > size {
            return Err(Error::IndexOutOfRange { op: "slice", index: start as i64, size });
        }
        let mut out = self.clone();
        out.offset += if len > 0 { start * self.strides[dim] } else { 0 };
        out.shape[dim] = len;
        out.strides[dim] *= step;
        Ok(out)
    }

    /// Broadcasts to `shape` (NumPy rules): new leading dims and size-1 dims get stride 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let err = || Error::BroadcastMismatch { op: "broadcast_to", lhs: self.shape.clone(), rhs: shape.to_vec() };
        if shape.len() < self.rank() {
            return Err(err());
        }
        let lead = shape.len() - self.rank();
        let mut strides = vec![0; shape.len()];
        for i in 0..self.rank() {
            let (d, t) = (self.shape[i], shape[lead + i]);
            strides[lead + i] = if d == t {
                self.strides[i]
            } else if d == 1 {
                0
            } else {
                return Err(err());
            };
        }
        Ok(Layout { shape: shape.to_vec(), strides, offset: self.offset })
    }

    /// Calls `f(storage_offset)` for every element in row-major logical order.
    pub fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        for_each_offset2(&self.shape, (&self.strides, self.offset), (&self.strides, self.offset), |a, _| f(a));
    }

    /// Storage offsets of all elements, in logical order.
    pub fn offsets(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.elem_count());
        self.for_each_offset(|o| v.push(o));
        v
    }
}

/// Walks `shape` in row-major order and calls `f(offset_a, offset_b)` with the storage offsets of
/// the same logical element in two layouts (strides + base offset) of that shape. The innermost
/// dimension is a plain loop so the hot path stays simple.
pub fn for_each_offset2(shape: &[usize], a: (&[usize], usize), b: (&[usize], usize), mut f: impl FnMut(usize, usize)) {
    if shape.contains(&0) {
        return;
    }
    let rank = shape.len();
    if rank == 0 {
        f(a.1, b.1);
        return;
    }
    let (inner, sa, sb) = (shape[rank - 1], a.0[rank - 1], b.0[rank - 1]);
    let mut idx = vec![0usize; rank - 1];
    let (mut oa, mut ob) = (a.1, b.1);
    loop {
        for i in 0..inner {
            f(oa + i * sa, ob + i * sb);
        }
        // Advance the multi-index over the outer dims (odometer).
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            oa += a.0[d];
            ob += b.0[d];
            if idx[d] < shape[d] {
                break;
            }
            oa -= a.0[d] * shape[d];
            ob -= b.0[d] * shape[d];
            idx[d] = 0;
        }
    }
}
