//! `Tensor`: shared storage + a layout. Cloning is cheap (an `Arc` bump); views share storage.
use crate::layout::{resolve_dim, Layout};
use crate::storage::{check_device, CpuElem, CpuStorage, Device, Storage};
use crate::{DType, Error, Result, WithDType};
use kernels::Real;
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Clone)]
pub struct Tensor {
    storage: Arc<Storage>,
    layout: Layout,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor[{:?}, {:?}", self.shape(), self.dtype())?;
        if self.elem_count() <= 16 {
            if let Ok(v) = self.to_vec_f64() {
                write!(f, ", {v:?}")?;
            }
        }
        write!(f, "]")
    }
}

/// Dispatches a float computation on the tensor's compute dtype: binds `$T` to f32 or f64.
/// f16/bf16 callers convert to f32 first (see [`Tensor::via_f32`]).
#[macro_export]
macro_rules! float_dispatch {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            d => Err($crate::Error::UnsupportedDType { op: $op, dtype: d }),
        }
    };
}

impl Tensor {
    // ---------------------------------------------------------------- construction

    /// Wraps a CPU buffer holding exactly `shape`'s elements in row-major order.
    pub fn from_cpu(storage: CpuStorage, shape: &[usize]) -> Result<Tensor> {
        let want = crate::layout::checked_elem_count("from_vec", shape)?;
        if storage.len() != want {
            return Err(Error::ElementCount { op: "from_vec", got: storage.len(), want, shape: shape.to_vec() });
        }
        Ok(Tensor { storage: Arc::new(Storage::Cpu(storage)), layout: Layout::contiguous(shape) })
    }
    pub fn from_vec<T: WithDType>(data: Vec<T>, shape: &[usize]) -> Result<Tensor>
    where
        CpuStorage: From<Vec<T>>,
    {
        Tensor::from_cpu(data.into(), shape)
    }
    pub fn from_slice<T: WithDType>(data: &[T], shape: &[usize]) -> Result<Tensor>
    where
        CpuStorage: From<Vec<T>>,
    {
        Tensor::from_vec(data.to_vec(), shape)
    }
    /// A 0-dimensional tensor holding one value.
    pub fn scalar(v: f64, dtype: DType) -> Tensor {
        Tensor::full(&[], v, dtype)
    }
    /// A tensor filled with `v`. Like `vec![v; n]`, it panics only when the element count
    /// overflows `usize` (use [`Tensor::try_full`] for shapes that come from user input).
    pub fn full(shape: &[usize], v: f64, dtype: DType) -> Tensor {
        let n = shape.iter().product();
        let st = CpuStorage::full(dtype, n, v);
        Tensor { storage: Arc::new(Storage::Cpu(st)), layout: Layout::contiguous(shape) }
    }
    /// [`Tensor::full`] that returns an error instead of panicking on an impossible shape.
    pub fn try_full(shape: &[usize], v: f64, dtype: DType) -> Result<Tensor> {
        crate::layout::checked_elem_count("full", shape)?;
        Ok(Tensor::full(shape, v, dtype))
    }
    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        let n = shape.iter().product();
        Tensor { storage: Arc::new(Storage::Cpu(CpuStorage::zeros(dtype, n))), layout: Layout::contiguous(shape) }
    }
    pub fn ones(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full(shape, 1.0, dtype)
    }
    /// Like [`Tensor::zeros`] on a chosen device; a device this build cannot use is an error.
    pub fn zeros_on(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::full_on(shape, 0.0, dtype, device)
    }
    /// Like [`Tensor::full`] on a chosen device; a device this build cannot use is an error.
    pub fn full_on(shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
        check_device(device)?;
        match device {
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => crate::cuda::copy::full(&crate::cuda::device(n)?, shape, v, dtype),
            _ => Tensor::try_full(shape, v, dtype),
        }
    }
    /// Zeros of this tensor's shape and dtype, on its device.
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::full_on(self.shape(), 0.0, self.dtype(), self.device())
    }
    /// Ones of this tensor's shape and dtype, on its device.
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::full_on(self.shape(), 1.0, self.dtype(), self.device())
    }
    /// `start, start + step, ...` up to (excluding) `end`.
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid("arange", format!("bad range {start}..{end} step {step}")));
        }
        let n = ((end - start) / step).ceil().max(0.0);
        if n > (1u64 << 40) as f64 {
            return Err(Error::invalid("arange", format!("{n} elements is too many")));
        }
        let n = n as usize;
        let st = CpuStorage::from_f64_iter(dtype, (0..n).map(|i| start + i as f64 * step));
        Tensor::from_cpu(st, &[n])
    }
    /// `n` evenly spaced values from `start` to `end` inclusive.
    pub fn linspace(start: f64, end: f64, n: usize, dtype: DType) -> Result<Tensor> {
        let step = if n > 1 { (end - start) / (n - 1) as f64 } else { 0.0 };
        let st = CpuStorage::from_f64_iter(
            dtype,
            (0..n).map(|i| if i + 1 == n && n > 1 { end } else { start + i as f64 * step }),
        );
        Tensor::from_cpu(st, &[n])
    }
    pub fn eye(n: usize, dtype: DType) -> Tensor {
        let st = CpuStorage::from_f64_iter(dtype, (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }));
        Tensor { storage: Arc::new(Storage::Cpu(st)), layout: Layout::contiguous(&[n, n]) }
    }

    // ---------------------------------------------------------------- accessors

    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }
    pub fn dims(&self) -> &[usize] {
        self.layout.shape()
    }
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }
    pub fn elem_count(&self) -> usize {
        self.layout.elem_count()
    }
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }
    pub fn device(&self) -> Device {
        self.storage.device()
    }
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }
    /// Size of dimension `dim` (negative counts from the end).
    pub fn dim(&self, dim: isize) -> Result<usize> {
        Ok(self.shape()[resolve_dim("dim", dim, self.rank())?])
    }
    /// True when both tensors view the same storage buffer.
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub(crate) fn from_storage(storage: Storage, layout: Layout) -> Tensor {
        Tensor { storage: Arc::new(storage), layout }
    }
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor { storage: self.storage.clone(), layout }
    }
    /// The buffer of a tensor that owns its storage outright (no other tensor or view shares it)
    /// and is laid out over all of it in row-major order; `None` otherwise. Writing into it
    /// changes this tensor only.
    pub(crate) fn unique_cpu_storage_mut(&mut self) -> Option<&mut CpuStorage> {
        let whole = self.layout.is_contiguous() && self.layout.offset() == 0;
        let n = self.elem_count();
        match Arc::get_mut(&mut self.storage) {
            Some(Storage::Cpu(s)) if whole && s.len() == n => Some(s),
            _ => None,
        }
    }

    /// The logical elements in row-major order, borrowed when the layout is contiguous.
    pub fn cpu_data<T: CpuElem>(&self) -> Result<Cow<'_, [T]>> {
        let st = self.storage.as_cpu()?;
        let v = T::slice(st).ok_or(Error::DTypeMismatch { op: "cpu_data", lhs: self.dtype(), rhs: T::DTYPE })?;
        if self.is_contiguous() {
            let o = self.layout.offset();
            Ok(Cow::Borrowed(&v[o..o + self.elem_count()]))
        } else if self.elem_count() == 0 {
            Ok(Cow::Owned(Vec::new()))
        } else {
            let l = &self.layout;
            Ok(Cow::Owned(kernels::strided::gather_vec(l.shape(), (v, l.strides(), l.offset()))))
        }
    }
    /// Copies the elements out; the dtype must match `T`.
    pub fn to_vec<T: CpuElem>(&self) -> Result<Vec<T>> {
        Ok(self.cpu_data::<T>()?.into_owned())
    }
    /// Copies the elements out as f64, whatever the dtype (from a GPU too).
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        #[cfg(feature = "cuda")]
        if self.device().is_cuda() {
            return self.to_device(Device::Cpu)?.to_vec_f64();
        }
        let st = self.storage.as_cpu()?;
        Ok(crate::with_cpu_vec!(st, v => {
            let mut out = Vec::with_capacity(self.elem_count());
            self.layout.for_each_offset(|o| out.push(WithDType::to_f64(v[o])));
            out
        }))
    }
    /// The single value of a one-element tensor.
    pub fn to_scalar_f64(&self) -> Result<f64> {
        if self.elem_count() != 1 {
            return Err(Error::ShapeMismatch { op: "to_scalar", lhs: self.shape().to_vec(), rhs: vec![] });
        }
        Ok(self.to_vec_f64()?[0])
    }

    // ---------------------------------------------------------------- copies and casts

    /// Returns `self` when already contiguous, else a row-major copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.copy()
    }
    /// The storage buffer of a fresh, contiguous, unshared tensor without copying (copies
    /// otherwise).
    pub fn into_cpu_storage(self) -> Result<CpuStorage> {
        let whole =
            self.is_contiguous() && self.layout.offset() == 0 && self.storage.as_cpu()?.len() == self.elem_count();
        let t = if whole { self } else { self.copy()? };
        match Arc::try_unwrap(t.storage) {
            Ok(Storage::Cpu(s)) => Ok(s),
            #[cfg(feature = "cuda")]
            Ok(other) => Err(Error::NotOnCpu { device: other.device() }),
            Err(shared) => Ok(shared.as_cpu()?.clone()),
        }
    }
    /// Always copies into a fresh contiguous buffer (on the same device).
    pub fn copy(&self) -> Result<Tensor> {
        let l = &self.layout;
        let st = match self.storage.as_ref() {
            Storage::Cpu(s) => crate::with_cpu_vec!(s, v => {
                CpuStorage::from(kernels::strided::gather_vec(l.shape(), (v, l.strides(), l.offset())))
            }),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => return crate::cuda::copy::copy_contiguous(self, s),
        };
        Ok(Tensor { storage: Arc::new(Storage::Cpu(st)), layout: Layout::contiguous(self.shape()) })
    }
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        crate::on_cuda!(self, s => crate::cuda::copy::cast(self, s, dtype));
        let st = self.storage.as_cpu()?;
        let out = match (st, dtype) {
            (CpuStorage::F32(v), DType::F64) => {
                let mut o = Vec::with_capacity(self.elem_count());
                self.layout.for_each_offset(|i| o.push(v[i] as f64));
                CpuStorage::F64(o)
            }
            _ => CpuStorage::from_f64_iter(dtype, self.to_vec_f64()?.into_iter()),
        };
        Tensor::from_cpu(out, self.shape())
    }
    /// The tensor on `device`: itself when already there, else a contiguous copy (host↔device
    /// copies wait for the GPU's stream).
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        check_device(device)?;
        if device == self.device() {
            return Ok(self.clone());
        }
        match (self.storage.as_ref(), device) {
            #[cfg(feature = "cuda")]
            (Storage::Cuda(s), Device::Cpu) => crate::cuda::copy::to_host(self, s),
            #[cfg(feature = "cuda")]
            (_, Device::Cuda(n)) => crate::cuda::copy::to_gpu(self, n),
            _ => Err(Error::DeviceUnavailable(device)),
        }
    }

    /// Runs `f` in f32 for half-precision tensors and casts the result back; other dtypes pass
    /// straight through.
    pub fn via_f32(&self, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        match self.dtype() {
            DType::F16 | DType::BF16 => f(&self.to_dtype(DType::F32)?)?.to_dtype(self.dtype()),
            _ => f(self),
        }
    }

    /// Builds a new tensor of `shape` from a typed vector produced by a float kernel.
    pub fn from_real<T: Real + WithDType>(v: Vec<T>, shape: &[usize]) -> Result<Tensor>
    where
        CpuStorage: From<Vec<T>>,
    {
        Tensor::from_vec(v, shape)
    }

    // ---------------------------------------------------------------- views (no copies)

    /// Same elements, new shape. Free for contiguous tensors; copies otherwise.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let want: usize = shape.iter().product();
        if want != self.elem_count() {
            return Err(Error::ShapeMismatch { op: "reshape", lhs: self.shape().to_vec(), rhs: shape.to_vec() });
        }
        match self.layout.reshape(shape) {
            Some(l) => Ok(self.with_layout(l)),
            None => Ok(self.copy()?.with_layout(Layout::contiguous(shape))),
        }
    }
    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.permute(dims)?))
    }
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let r = self.rank();
        let (a, b) = (resolve_dim("transpose", d0, r)?, resolve_dim("transpose", d1, r)?);
        let mut dims: Vec<usize> = (0..r).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }
    /// `len` consecutive elements from `start` along `dim`.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let d = resolve_dim("narrow", dim, self.rank())?;
        Ok(self.with_layout(self.layout.slice(d, start, len, 1)?))
    }
    /// Python-style `start..end` with a positive `step` along `dim` (`end` is clamped to the size).
    pub fn slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let d = resolve_dim("slice", dim, self.rank())?;
        let end = end.min(self.shape()[d]);
        if step == 0 {
            return Err(Error::invalid("slice", "step must be positive"));
        }
        let len = if end > start { (end - start).div_ceil(step) } else { 0 };
        Ok(self.with_layout(self.layout.slice(d, start.min(self.shape()[d]), len, step)?))
    }
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.broadcast_to(shape)?))
    }
    /// Alias of [`Tensor::broadcast_to`] (PyTorch's name).
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        self.broadcast_to(shape)
    }
    /// Removes dimension `dim`, which must have size 1.
    pub fn squeeze(&self, dim: isize) -> Result<Tensor> {
        let d = resolve_dim("squeeze", dim, self.rank())?;
        if self.shape()[d] != 1 {
            return Err(Error::invalid(
                "squeeze",
                format!("dim {d} has size {} in {:?}", self.shape()[d], self.shape()),
            ));
        }
        let (mut shape, mut strides) = (self.shape().to_vec(), self.layout.strides().to_vec());
        shape.remove(d);
        strides.remove(d);
        Ok(self.with_layout(Layout::new(shape, strides, self.layout.offset())))
    }
    /// Inserts a size-1 dimension at `dim` (in `0..=rank`, negative counts from the end).
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let d = resolve_dim("unsqueeze", dim, self.rank() + 1)?;
        let (mut shape, mut strides) = (self.shape().to_vec(), self.layout.strides().to_vec());
        shape.insert(d, 1);
        strides.insert(d, 0);
        Ok(self.with_layout(Layout::new(shape, strides, self.layout.offset())))
    }
    /// Merges dims `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) = (resolve_dim("flatten", start, self.rank())?, resolve_dim("flatten", end, self.rank())?);
        if s > e {
            return Err(Error::invalid("flatten", format!("start {s} > end {e}")));
        }
        let mut shape = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }
    pub fn flatten_all(&self) -> Result<Tensor> {
        self.reshape(&[self.elem_count()])
    }
    /// Splits `dim` into pieces of `size` (the last may be shorter).
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Tensor>> {
        let d = resolve_dim("split", dim, self.rank())?;
        if size == 0 {
            return Err(Error::invalid("split", "size must be positive"));
        }
        let n = self.shape()[d];
        (0..n).step_by(size).map(|s| self.narrow(d as isize, s, size.min(n - s))).collect()
    }
    /// Splits `dim` into `chunks` nearly equal pieces (PyTorch `chunk`).
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        let d = resolve_dim("chunk", dim, self.rank())?;
        if chunks == 0 {
            return Err(Error::invalid("chunk", "chunks must be positive"));
        }
        self.split(self.shape()[d].div_ceil(chunks).max(1), dim)
    }
}
