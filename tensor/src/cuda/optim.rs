//! Optimiser updates on a GPU: the fused Adam(W) / SGD kernels and the f64 sum of squares. The
//! operands were checked by `ops_optim` (same device, dtype f32/f64, same shape).
use super::{gpu, strided, CudaStorage, GpuBuf};
use crate::{DType, Error, Result, Tensor};
use kernels::cuda::optim::{self as kern, OptimElem, View, WeightDecay};
use kernels::cuda::CudaSlice;
use kernels::optim::{AdamConfig, SgdConfig};
use kernels::Real;

/// f32 or f64: how to find the typed buffer in a [`GpuBuf`].
trait Elem: OptimElem + Real {
    const DTYPE: DType;
    fn slice(b: &GpuBuf) -> Option<&CudaSlice<Self>>;
    fn slice_mut(b: &mut GpuBuf) -> Option<&mut CudaSlice<Self>>;
}
impl Elem for f32 {
    const DTYPE: DType = DType::F32;
    fn slice(b: &GpuBuf) -> Option<&CudaSlice<f32>> {
        match b {
            GpuBuf::F32(s) => Some(s),
            _ => None,
        }
    }
    fn slice_mut(b: &mut GpuBuf) -> Option<&mut CudaSlice<f32>> {
        match b {
            GpuBuf::F32(s) => Some(s),
            _ => None,
        }
    }
}
impl Elem for f64 {
    const DTYPE: DType = DType::F64;
    fn slice(b: &GpuBuf) -> Option<&CudaSlice<f64>> {
        match b {
            GpuBuf::F64(s) => Some(s),
            _ => None,
        }
    }
    fn slice_mut(b: &mut GpuBuf) -> Option<&mut CudaSlice<f64>> {
        match b {
            GpuBuf::F64(s) => Some(s),
            _ => None,
        }
    }
}

/// `t` as a kernel input (its buffer and view); errors if it is not a `T` tensor on a GPU.
fn view<'a, T: Elem>(op: &'static str, t: &'a Tensor) -> Result<View<'a, T>> {
    let st = t.cuda_storage().ok_or(Error::DeviceMismatch { op, lhs: crate::Device::Cuda(0), rhs: t.device() })?;
    let buf = T::slice(&st.buf).ok_or(Error::DTypeMismatch { op, lhs: T::DTYPE, rhs: t.dtype() })?;
    Ok(View { buf, layout: strided(t.layout())? })
}

/// The typed buffer of a storage just allocated with dtype `T::DTYPE`.
fn out<'a, T: Elem>(op: &'static str, s: &'a mut CudaStorage) -> Result<&'a mut CudaSlice<T>> {
    let dtype = s.dtype();
    T::slice_mut(&mut s.buf).ok_or(Error::DTypeMismatch { op, lhs: T::DTYPE, rhs: dtype })
}

/// One Adam(W) step on the GPU: `(p', m', v')`.
pub fn adam(
    p: &Tensor,
    st: &CudaStorage,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    cfg: &AdamConfig,
    step: u64,
) -> Result<(Tensor, Tensor, Tensor)> {
    fn run<T: Elem>(
        p: &Tensor,
        st: &CudaStorage,
        io: [&Tensor; 3],
        cfg: &AdamConfig,
        step: u64,
    ) -> Result<[CudaStorage; 3]> {
        let (dev, n) = (&st.dev, p.elem_count());
        let [g, m, v] = io;
        let mut po = CudaStorage::zeros(dev, T::DTYPE, n)?;
        let mut mo = CudaStorage::zeros(dev, T::DTYPE, n)?;
        let mut vo = CudaStorage::zeros(dev, T::DTYPE, n)?;
        let wd = match (cfg.weight_decay != 0.0, cfg.decoupled) {
            (false, _) => WeightDecay::None,
            (true, true) => WeightDecay::Decoupled,
            (true, false) => WeightDecay::L2,
        };
        let inputs = [view::<T>("adam", p)?, view("adam", g)?, view("adam", m)?, view("adam", v)?];
        let outputs = [out::<T>("adam", &mut po)?, out("adam", &mut mo)?, out("adam", &mut vo)?];
        kern::adam(dev, inputs, outputs, n, &cfg.scalars::<T>(step), wd).map_err(gpu)?;
        Ok([po, mo, vo])
    }
    let [po, mo, vo] = match p.dtype() {
        DType::F32 => run::<f32>(p, st, [g, m, v], cfg, step)?,
        DType::F64 => run::<f64>(p, st, [g, m, v], cfg, step)?,
        dtype => return Err(Error::UnsupportedDType { op: "adam", dtype }),
    };
    let shape = p.shape();
    Ok((Tensor::from_cuda(po, shape)?, Tensor::from_cuda(mo, shape)?, Tensor::from_cuda(vo, shape)?))
}

/// One SGD step on the GPU: `(p', buf')` (`buf` itself without momentum).
pub fn sgd(
    p: &Tensor,
    st: &CudaStorage,
    g: &Tensor,
    buf: &Tensor,
    cfg: &SgdConfig,
    first: bool,
) -> Result<(Tensor, Tensor)> {
    fn run<T: Elem>(
        p: &Tensor,
        st: &CudaStorage,
        io: [&Tensor; 2],
        cfg: &SgdConfig,
        first: bool,
    ) -> Result<(CudaStorage, Option<CudaStorage>)> {
        let (dev, n) = (&st.dev, p.elem_count());
        let [g, buf] = io;
        let s = cfg.scalars::<T>();
        let mut flags = if cfg.weight_decay != 0.0 { kern::SGD_WEIGHT_DECAY } else { 0 };
        let mut po = CudaStorage::zeros(dev, T::DTYPE, n)?;
        if cfg.momentum == 0.0 {
            kern::sgd(dev, view::<T>("sgd", p)?, view("sgd", g)?, out("sgd", &mut po)?, n, &s, flags).map_err(gpu)?;
            return Ok((po, None));
        }
        if first {
            flags |= kern::SGD_FIRST;
        }
        if cfg.nesterov {
            flags |= kern::SGD_NESTEROV;
        }
        let mut bo = CudaStorage::zeros(dev, T::DTYPE, n)?;
        let inputs = [view::<T>("sgd", p)?, view("sgd", g)?, view("sgd", buf)?];
        kern::sgd_momentum(dev, inputs, [out("sgd", &mut po)?, out("sgd", &mut bo)?], n, &s, flags).map_err(gpu)?;
        Ok((po, Some(bo)))
    }
    let (po, bo) = match p.dtype() {
        DType::F32 => run::<f32>(p, st, [g, buf], cfg, first)?,
        DType::F64 => run::<f64>(p, st, [g, buf], cfg, first)?,
        dtype => return Err(Error::UnsupportedDType { op: "sgd", dtype }),
    };
    let shape = p.shape();
    let buf = match bo {
        Some(b) => Tensor::from_cuda(b, shape)?,
        None => buf.clone(),
    };
    Ok((Tensor::from_cuda(po, shape)?, buf))
}

/// `Σ x²` in f64 on the GPU (f32/f64 read directly; other dtypes cast to f64 first, exactly).
pub fn sum_squares(t: &Tensor, st: &CudaStorage) -> Result<f64> {
    let (dev, n) = (&st.dev, t.elem_count());
    match t.dtype() {
        DType::F32 => kern::sum_squares(dev, view::<f32>("sum_squares", t)?, n).map_err(gpu),
        DType::F64 => kern::sum_squares(dev, view::<f64>("sum_squares", t)?, n).map_err(gpu),
        _ => {
            let wide = super::copy::cast(t, st, DType::F64)?;
            let wide_st = wide.cuda_storage().ok_or(Error::NotOnCpu { device: wide.device() })?;
            sum_squares(&wide, wide_st)
        }
    }
}
