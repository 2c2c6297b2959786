//! Fused optimiser updates as tensor ops: one Adam(W) or SGD step over a parameter, its gradient
//! and its state, returning the new parameter and state. On the CPU they run the
//! `kernels::optim` loops (PyTorch's single-tensor arithmetic); on a GPU the same operations in
//! the same order, so both give the same bits. Also the f64 sum of squares behind global-norm
//! gradient clipping.
use crate::{float_dispatch, DType, Error, Result, Tensor};
use kernels::optim::{adam_step, sgd_step};
pub use kernels::optim::{AdamConfig, SgdConfig};

/// The checks every update makes before choosing a device: all operands on the parameter's
/// device, of its dtype and shape, and the dtype f32 or f64 (half-precision parameters would need
/// f32 master weights, which the caller keeps).
fn check_operands(op: &'static str, p: &Tensor, others: &[&Tensor]) -> Result<()> {
    for t in others {
        if t.device() != p.device() {
            return Err(Error::DeviceMismatch { op, lhs: p.device(), rhs: t.device() });
        }
        if t.dtype() != p.dtype() {
            return Err(Error::DTypeMismatch { op, lhs: p.dtype(), rhs: t.dtype() });
        }
        if t.shape() != p.shape() {
            return Err(Error::ShapeMismatch { op, lhs: p.shape().to_vec(), rhs: t.shape().to_vec() });
        }
    }
    match p.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        dtype => Err(Error::UnsupportedDType { op, dtype }),
    }
}

impl Tensor {
    /// One Adam(W) step (`step` counts from 1) on this parameter with gradient `grad` and moments
    /// `m`, `v`: returns `(p', m', v')`, fresh contiguous tensors on the parameter's device. See
    /// [`kernels::optim::adam_step`] for the rule.
    pub fn adam_update(
        &self,
        grad: &Tensor,
        m: &Tensor,
        v: &Tensor,
        cfg: &AdamConfig,
        step: u64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        check_operands("adam", self, &[grad, m, v])?;
        crate::on_cuda!(self, st => crate::cuda::optim::adam(self, st, grad, m, v, cfg, step));
        let shape = self.shape();
        float_dispatch!(self.dtype(), "adam", T => {
            let (mut pv, mut mv, mut vv) = (self.to_vec::<T>()?, m.to_vec::<T>()?, v.to_vec::<T>()?);
            adam_step(cfg, step, &mut pv, &grad.cpu_data::<T>()?, &mut mv, &mut vv);
            Ok((Tensor::from_vec(pv, shape)?, Tensor::from_vec(mv, shape)?, Tensor::from_vec(vv, shape)?))
        })
    }

    /// [`Tensor::adam_update`] consuming the moments: on the CPU they are updated in their own
    /// buffers when these are their only handles (an optimiser's state), instead of copied into
    /// new ones. The same bits either way.
    pub fn adam_update_owned(
        &self,
        grad: &Tensor,
        (m, v): (Tensor, Tensor),
        cfg: &AdamConfig,
        step: u64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        check_operands("adam", self, &[grad, &m, &v])?;
        if self.device() != crate::Device::Cpu {
            return self.adam_update(grad, &m, &v, cfg, step);
        }
        let shape = self.shape().to_vec();
        float_dispatch!(self.dtype(), "adam", T => {
            let mut pv = self.to_vec::<T>()?;
            let (mut ms, mut vs) = (m.into_cpu_storage()?, v.into_cpu_storage()?);
            let (Some(mv), Some(vv)) = (<T as crate::storage::CpuElem>::slice_mut(&mut ms), <T as crate::storage::CpuElem>::slice_mut(&mut vs)) else {
                return Err(Error::DTypeMismatch { op: "adam", lhs: self.dtype(), rhs: ms.dtype() });
            };
            adam_step(cfg, step, &mut pv, &grad.cpu_data::<T>()?, mv, vv);
            Ok((Tensor::from_vec(pv, &shape)?, Tensor::from_cpu(ms, &shape)?, Tensor::from_cpu(vs, &shape)?))
        })
    }

    /// One SGD step on this parameter with gradient `grad` and momentum buffer `buf` (`first`:
    /// the buffer starts as the gradient, as in PyTorch): returns `(p', buf')`. Without momentum
    /// the buffer is returned unchanged. See [`kernels::optim::sgd_step`] for the rule.
    pub fn sgd_update(&self, grad: &Tensor, buf: &Tensor, cfg: &SgdConfig, first: bool) -> Result<(Tensor, Tensor)> {
        check_operands("sgd", self, &[grad, buf])?;
        crate::on_cuda!(self, st => crate::cuda::optim::sgd(self, st, grad, buf, cfg, first));
        let shape = self.shape();
        float_dispatch!(self.dtype(), "sgd", T => {
            let (mut pv, mut bv) = (self.to_vec::<T>()?, buf.to_vec::<T>()?);
            sgd_step(cfg, first, &mut pv, &grad.cpu_data::<T>()?, &mut bv);
            Ok((Tensor::from_vec(pv, shape)?, Tensor::from_vec(bv, shape)?))
        })
    }

    /// `Σ x²` over all elements, accumulated in f64 (any dtype). On the CPU a plain left-to-right
    /// sum; on a GPU a fixed-order tree (same result up to rounding, reproducible run to run).
    /// Only the scalar comes back to the host.
    pub fn sum_squares_f64(&self) -> Result<f64> {
        crate::on_cuda!(self, st => crate::cuda::optim::sum_squares(self, st));
        Ok(self.to_vec_f64()?.iter().map(|v| v * v).sum::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_must_agree() {
        let p = Tensor::zeros(&[3], DType::F32);
        let cfg = AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false };
        let bad_shape = Tensor::zeros(&[4], DType::F32);
        assert!(matches!(p.adam_update(&bad_shape, &p, &p, &cfg, 1), Err(Error::ShapeMismatch { .. })));
        let bad_dtype = Tensor::zeros(&[3], DType::F64);
        assert!(matches!(p.adam_update(&p, &bad_dtype, &p, &cfg, 1), Err(Error::DTypeMismatch { .. })));
        let half = Tensor::zeros(&[3], DType::F16);
        let sgd = SgdConfig { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: false };
        assert!(matches!(half.sgd_update(&half, &half, &sgd, true), Err(Error::UnsupportedDType { op: "sgd", .. })));
    }

    #[test]
    fn updates_match_the_slice_kernels_bitwise() {
        let p = Tensor::randn(&[5, 7], 0.0, 1.0, 1, DType::F32).unwrap();
        let g = Tensor::randn(&[7, 5], 0.0, 1.0, 2, DType::F32).unwrap().transpose(0, 1).unwrap();
        let (m, v) = (p.zeros_like().unwrap(), p.zeros_like().unwrap());
        let cfg = AdamConfig { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.05, decoupled: true };
        let (p1, m1, v1) = p.adam_update(&g, &m, &v, &cfg, 1).unwrap();
        let (mut pv, mut mv, mut vv) = (p.to_vec::<f32>().unwrap(), vec![0.0; 35], vec![0.0; 35]);
        adam_step(&cfg, 1, &mut pv, &g.to_vec::<f32>().unwrap(), &mut mv, &mut vv);
        assert_eq!(
            (p1.to_vec::<f32>().unwrap(), m1.to_vec::<f32>().unwrap(), v1.to_vec::<f32>().unwrap()),
            (pv, mv, vv)
        );
        // Consuming the moments: the same bits, whether they are owned (updated in place), shared
        // (copied; the other handle keeps the old values) or views.
        let (m0, v0) = (
            Tensor::randn(&[5, 7], 0.0, 0.1, 4, DType::F32).unwrap(),
            Tensor::randn(&[5, 7], 0.0, 0.1, 5, DType::F32).unwrap().square().unwrap(),
        );
        let want = p.adam_update(&g, &m0, &v0, &cfg, 3).unwrap();
        let bits = |t: &Tensor| t.to_vec::<f32>().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let m0_before = bits(&m0);
        let shared = p.adam_update_owned(&g, (m0.clone(), v0.clone()), &cfg, 3).unwrap();
        assert_eq!(bits(&m0), m0_before, "a shared moment is not modified");
        let owned = p.adam_update_owned(&g, (m0.copy().unwrap(), v0.copy().unwrap()), &cfg, 3).unwrap();
        let viewed = p
            .adam_update_owned(&g, (m0.transpose(0, 1).unwrap().transpose(0, 1).unwrap(), v0.copy().unwrap()), &cfg, 3)
            .unwrap();
        for got in [&shared, &owned, &viewed] {
            assert_eq!((bits(&got.0), bits(&got.1), bits(&got.2)), (bits(&want.0), bits(&want.1), bits(&want.2)));
        }
        let x = Tensor::randn(&[1001], 0.0, 1.0, 3, DType::F64).unwrap();
        let want: f64 = x.to_vec::<f64>().unwrap().iter().map(|a| a * a).sum();
        assert_eq!(x.sum_squares_f64().unwrap(), want);
    }
}
