//! Fused normalisations and cross-entropy. Forwards return the saved statistics (mean, rstd) that
//! the backward functions beside them consume, so nothing is recomputed.
use crate::{float_dispatch, DType, Error, Result, Tensor};

/// What a norm forward saves for its backward.
#[derive(Clone, Debug)]
pub struct NormStats {
    /// Per-row (layer/rms) or per-(n, group) mean; empty for RMS norm.
    pub mean: Tensor,
    /// `1 / sqrt(var + eps)` (or `1 / sqrt(mean(x²) + eps)` for RMS norm).
    pub rstd: Tensor,
}

fn check_affine(op: &'static str, p: Option<&Tensor>, want: &[usize], dt: DType) -> Result<()> {
    if let Some(p) = p {
        if p.shape() != want {
            return Err(Error::ShapeMismatch { op, lhs: want.to_vec(), rhs: p.shape().to_vec() });
        }
        if p.dtype() != dt {
            return Err(Error::DTypeMismatch { op, lhs: dt, rhs: p.dtype() });
        }
    }
    Ok(())
}

/// (rows, d) when normalising over the trailing dims of shape `norm_shape`.
fn rows_d(op: &'static str, x: &Tensor, norm_shape: &[usize]) -> Result<(usize, usize)> {
    let r = x.rank();
    if norm_shape.is_empty() || norm_shape.len() > r || x.shape()[r - norm_shape.len()..] != *norm_shape {
        return Err(Error::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: norm_shape.to_vec() });
    }
    let d: usize = norm_shape.iter().product();
    Ok((x.elem_count().checked_div(d).unwrap_or(0), d))
}

/// A norm's backward results as tensors: `dx` in `x`'s shape, `dgamma` / `dbeta` (when computed)
/// in the parameters' shape.
#[allow(clippy::type_complexity)]
fn norm_grads<T: crate::WithDType>(
    dx: Vec<T>,
    x_shape: &[usize],
    (dg, db): (Option<Vec<T>>, Option<Vec<T>>),
    param_shape: &[usize],
) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)>
where
    crate::CpuStorage: From<Vec<T>>,
{
    let param = |v: Option<Vec<T>>| v.map(|v| Tensor::from_vec(v, param_shape)).transpose();
    Ok((Tensor::from_vec(dx, x_shape)?, param(dg)?, param(db)?))
}

fn is_half(t: &Tensor) -> bool {
    matches!(t.dtype(), DType::F16 | DType::BF16)
}

/// An optional tensor converted to f32 (half-precision norms compute in f32).
fn up(t: Option<&Tensor>) -> Result<Option<Tensor>> {
    t.map(|t| t.to_dtype(DType::F32)).transpose()
}

/// Converts optional results back to the storage dtype.
fn down(t: Option<Tensor>, dt: DType) -> Result<Option<Tensor>> {
    t.map(|t| t.to_dtype(dt)).transpose()
}

/// Typed contiguous data of an optional parameter.
macro_rules! opt_data {
    ($p:expr, $T:ty) => {
        match $p {
            Some(p) => Some(p.cpu_data::<$T>()?.into_owned()),
            None => None,
        }
    };
}

impl Tensor {
    /// Layer norm over the trailing dims `norm_shape`; `gamma`/`beta` have shape `norm_shape`.
    pub fn layer_norm(
        &self,
        norm_shape: &[usize],
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, NormStats)> {
        let (rows, d) = rows_d("layer_norm", self, norm_shape)?;
        check_affine("layer_norm (gamma)", gamma, norm_shape, self.dtype())?;
        check_affine("layer_norm (beta)", beta, norm_shape, self.dtype())?;
        if is_half(self) {
            let (y, st) =
                self.to_dtype(DType::F32)?.layer_norm(norm_shape, up(gamma)?.as_ref(), up(beta)?.as_ref(), eps)?;
            return Ok((y.to_dtype(self.dtype())?, st));
        }
        crate::on_cuda!(self, st => crate::cuda::norm::layer_norm(self, st, (rows, d), gamma, beta, eps));
        float_dispatch!(self.dtype(), "layer_norm", T => {
            let x = self.cpu_data::<T>()?;
            let (g, b) = (opt_data!(gamma, T), opt_data!(beta, T));
            let (mut mean, mut rstd) = (vec![T::default(); rows], vec![T::default(); rows]);
            let y = kernels::norm::layer_norm_forward_vec(&x, rows, d, g.as_deref(), b.as_deref(), eps as T, &mut mean, &mut rstd);
            Ok((Tensor::from_vec(y, self.shape())?, NormStats { mean: Tensor::from_vec(mean, &[rows])?, rstd: Tensor::from_vec(rstd, &[rows])? }))
        })
    }
    /// Returns `(dx, dgamma, dbeta)` (the latter two when the forward had them).
    pub fn layer_norm_backward(
        x: &Tensor,
        dy: &Tensor,
        norm_shape: &[usize],
        gamma: Option<&Tensor>,
        has_beta: bool,
        st: &NormStats,
    ) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
        let (rows, d) = rows_d("layer_norm_backward", x, norm_shape)?;
        if is_half(x) {
            let (dx, dg, db) = Tensor::layer_norm_backward(
                &x.to_dtype(DType::F32)?,
                &dy.to_dtype(DType::F32)?,
                norm_shape,
                up(gamma)?.as_ref(),
                has_beta,
                st,
            )?;
            return Ok((dx.to_dtype(x.dtype())?, down(dg, x.dtype())?, down(db, x.dtype())?));
        }
        crate::on_cuda!(x, s => crate::cuda::norm::layer_norm_backward(x, s, dy, (rows, d), norm_shape, gamma, has_beta, st));
        float_dispatch!(x.dtype(), "layer_norm_backward", T => {
            let (xv, gv, g) = (x.cpu_data::<T>()?, dy.cpu_data::<T>()?, opt_data!(gamma, T));
            let (mean, rstd) = (st.mean.cpu_data::<T>()?, st.rstd.cpu_data::<T>()?);
            let mut dx = kernels::memory::zeros::<T>(xv.len());
            let mut dg = gamma.map(|_| vec![T::default(); d]);
            let mut db = if has_beta { Some(vec![T::default(); d]) } else { None };
            kernels::norm::layer_norm_backward(&xv, &gv, rows, d, g.as_deref(), &mean, &rstd, &mut dx, dg.as_deref_mut(), db.as_deref_mut());
            norm_grads(dx, x.shape(), (dg, db), norm_shape)
        })
    }

    /// RMS norm over the trailing dims `norm_shape`.
    pub fn rms_norm(&self, norm_shape: &[usize], gamma: Option<&Tensor>, eps: f64) -> Result<(Tensor, NormStats)> {
        let (rows, d) = rows_d("rms_norm", self, norm_shape)?;
        check_affine("rms_norm (gamma)", gamma, norm_shape, self.dtype())?;
        if is_half(self) {
            let (y, st) = self.to_dtype(DType::F32)?.rms_norm(norm_shape, up(gamma)?.as_ref(), eps)?;
            return Ok((y.to_dtype(self.dtype())?, st));
        }
        crate::on_cuda!(self, st => crate::cuda::norm::rms_norm(self, st, (rows, d), gamma, eps));
        float_dispatch!(self.dtype(), "rms_norm", T => {
            let (x, g) = (self.cpu_data::<T>()?, opt_data!(gamma, T));
            let (mut y, mut rstd) = (kernels::memory::zeros::<T>(x.len()), vec![T::default(); rows]);
            kernels::norm::rms_norm_forward(&x, rows, d, g.as_deref(), eps as T, &mut y, &mut rstd);
            Ok((Tensor::from_vec(y, self.shape())?, NormStats { mean: Tensor::zeros(&[0], self.dtype()), rstd: Tensor::from_vec(rstd, &[rows])? }))
        })
    }
    pub fn rms_norm_backward(
        x: &Tensor,
        dy: &Tensor,
        norm_shape: &[usize],
        gamma: Option<&Tensor>,
        st: &NormStats,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (rows, d) = rows_d("rms_norm_backward", x, norm_shape)?;
        if is_half(x) {
            let (dx, dg) = Tensor::rms_norm_backward(
                &x.to_dtype(DType::F32)?,
                &dy.to_dtype(DType::F32)?,
                norm_shape,
                up(gamma)?.as_ref(),
                st,
            )?;
            return Ok((dx.to_dtype(x.dtype())?, down(dg, x.dtype())?));
        }
        crate::on_cuda!(x, s => crate::cuda::norm::rms_norm_backward(x, s, dy, (rows, d), norm_shape, gamma, st));
        float_dispatch!(x.dtype(), "rms_norm_backward", T => {
            let (xv, gv, g, rstd) = (x.cpu_data::<T>()?, dy.cpu_data::<T>()?, opt_data!(gamma, T), st.rstd.cpu_data::<T>()?);
            let mut dx = kernels::memory::zeros::<T>(xv.len());
            let mut dg = gamma.map(|_| vec![T::default(); d]);
            kernels::norm::rms_norm_backward(&xv, &gv, rows, d, g.as_deref(), &rstd, &mut dx, dg.as_deref_mut());
            Ok((Tensor::from_vec(dx, x.shape())?, dg.map(|v| Tensor::from_vec(v, norm_shape)).transpose()?))
        })
    }

    /// Group norm on `[N, C, *]`: statistics per (sample, group of C/groups channels);
    /// `gamma`/`beta` are per channel `[C]`.
    pub fn group_norm(
        &self,
        groups: usize,
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, NormStats)> {
        let (n, c, s) = group_dims(self, groups)?;
        check_affine("group_norm (gamma)", gamma, &[c], self.dtype())?;
        check_affine("group_norm (beta)", beta, &[c], self.dtype())?;
        if is_half(self) {
            let (y, st) =
                self.to_dtype(DType::F32)?.group_norm(groups, up(gamma)?.as_ref(), up(beta)?.as_ref(), eps)?;
            return Ok((y.to_dtype(self.dtype())?, st));
        }
        crate::on_cuda!(self, st => crate::cuda::norm::group_norm(self, st, (n, c, s), groups, gamma, beta, eps));
        float_dispatch!(self.dtype(), "group_norm", T => {
            let (x, g, b) = (self.cpu_data::<T>()?, opt_data!(gamma, T), opt_data!(beta, T));
            let (mut mean, mut rstd) = (vec![T::default(); n * groups], vec![T::default(); n * groups]);
            let y = kernels::norm::group_norm_forward_vec(&x, (n, c, s), groups, g.as_deref(), b.as_deref(), eps as T, &mut mean, &mut rstd);
            Ok((Tensor::from_vec(y, self.shape())?, NormStats { mean: Tensor::from_vec(mean, &[n * groups])?, rstd: Tensor::from_vec(rstd, &[n * groups])? }))
        })
    }
    pub fn group_norm_backward(
        x: &Tensor,
        dy: &Tensor,
        groups: usize,
        gamma: Option<&Tensor>,
        has_beta: bool,
        st: &NormStats,
    ) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
        let (n, c, s) = group_dims(x, groups)?;
        if is_half(x) {
            let (dx, dg, db) = Tensor::group_norm_backward(
                &x.to_dtype(DType::F32)?,
                &dy.to_dtype(DType::F32)?,
                groups,
                up(gamma)?.as_ref(),
                has_beta,
                st,
            )?;
            return Ok((dx.to_dtype(x.dtype())?, down(dg, x.dtype())?, down(db, x.dtype())?));
        }
        crate::on_cuda!(x, s_ => crate::cuda::norm::group_norm_backward(x, s_, dy, (n, c, s), groups, gamma, has_beta, st));
        float_dispatch!(x.dtype(), "group_norm_backward", T => {
            let (xv, gv, g) = (x.cpu_data::<T>()?, dy.cpu_data::<T>()?, opt_data!(gamma, T));
            let (mean, rstd) = (st.mean.cpu_data::<T>()?, st.rstd.cpu_data::<T>()?);
            let mut dg = gamma.map(|_| vec![T::default(); c]);
            let mut db = if has_beta { Some(vec![T::default(); c]) } else { None };
            let (stats, param_grads) = ((&mean[..], &rstd[..]), (dg.as_deref_mut(), db.as_deref_mut()));
            let dx = kernels::norm::group_norm_backward_vec(&xv, &gv, (n, c, s), groups, g.as_deref(), stats, param_grads);
            norm_grads(dx, x.shape(), (dg, db), &[c])
        })
    }

    /// `silu(group_norm(x))` in one pass (see `kernels::norm::group_norm_silu_forward_vec`): the
    /// normalised values are never stored. The same values as the two ops in turn (half dtypes,
    /// whose two ops round the normalised values to half, and other devices run the two ops).
    pub fn group_norm_silu(
        &self,
        groups: usize,
        gamma: Option<&Tensor>,
        beta: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, NormStats)> {
        let (n, c, s) = group_dims(self, groups)?;
        check_affine("group_norm_silu (gamma)", gamma, &[c], self.dtype())?;
        check_affine("group_norm_silu (beta)", beta, &[c], self.dtype())?;
        if is_half(self) || self.device() != crate::Device::Cpu {
            let (y, st) = self.group_norm(groups, gamma, beta, eps)?;
            return Ok((y.unary(kernels::elementwise::UnaryOp::Silu)?, st));
        }
        float_dispatch!(self.dtype(), "group_norm_silu", T => {
            let (x, g, b) = (self.cpu_data::<T>()?, opt_data!(gamma, T), opt_data!(beta, T));
            let (mut mean, mut rstd) = (vec![T::default(); n * groups], vec![T::default(); n * groups]);
            let z = kernels::norm::group_norm_silu_forward_vec(&x, (n, c, s), groups, g.as_deref(), b.as_deref(), eps as T, &mut mean, &mut rstd);
            Ok((Tensor::from_vec(z, self.shape())?, NormStats { mean: Tensor::from_vec(mean, &[n * groups])?, rstd: Tensor::from_vec(rstd, &[n * groups])? }))
        })
    }

    /// The backward pass of [`Tensor::group_norm_silu`] from its input `x`, its parameters and
    /// statistics: `(dx, dgamma, dbeta)` (the latter two when the forward had them).
    #[allow(clippy::too_many_arguments)]
    pub fn group_norm_silu_backward(
        x: &Tensor,
        dz: &Tensor,
        groups: usize,
        (gamma, beta): (Option<&Tensor>, Option<&Tensor>),
        eps: f64,
        st: &NormStats,
    ) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
        let (n, c, s) = group_dims(x, groups)?;
        if is_half(x) || x.device() != crate::Device::Cpu {
            // The two ops' backward passes, with y recomputed.
            let silu = kernels::elementwise::UnaryOp::Silu;
            let (y, _) = x.group_norm(groups, gamma, beta, eps)?;
            let dy = Tensor::unary_backward(silu, &y, &y.unary(silu)?, dz)?;
            return Tensor::group_norm_backward(x, &dy, groups, gamma, beta.is_some(), st);
        }
        float_dispatch!(x.dtype(), "group_norm_silu_backward", T => {
            let (xv, dzv) = (x.cpu_data::<T>()?, dz.cpu_data::<T>()?);
            let (g, b) = (opt_data!(gamma, T), opt_data!(beta, T));
            let (mean, rstd) = (st.mean.cpu_data::<T>()?, st.rstd.cpu_data::<T>()?);
            let mut dg = gamma.map(|_| vec![T::default(); c]);
            let mut db = beta.map(|_| vec![T::default(); c]);
            let (stats, param_grads) = ((&mean[..], &rstd[..]), (dg.as_deref_mut(), db.as_deref_mut()));
            let affine = (g.as_deref(), b.as_deref());
            let dx = kernels::norm::group_norm_silu_backward_vec(&xv, &dzv, (n, c, s), groups, affine, stats, param_grads);
            norm_grads(dx, x.shape(), (dg, db), &[c])
        })
    }

    /// Mean cross-entropy of `logits: [N, C]` against `targets: [N]` (`I64`), skipping rows whose
    /// target equals `ignore_index`, with label smoothing `eps` (PyTorch semantics). Returns the
    /// scalar loss and the number of rows that counted.
    pub fn cross_entropy(
        &self,
        targets: &Tensor,
        ignore_index: Option<i64>,
        label_smoothing: f64,
    ) -> Result<(Tensor, usize)> {
        let (rows, classes, t) = ce_check(self, targets, ignore_index, label_smoothing)?;
        if is_half(self) {
            let (loss, count) = self.to_dtype(DType::F32)?.cross_entropy(targets, ignore_index, label_smoothing)?;
            return Ok((loss.to_dtype(self.dtype())?, count));
        }
        crate::on_cuda!(self, st => crate::cuda::norm::cross_entropy(self, st, targets, &t, ignore_index, label_smoothing));
        float_dispatch!(self.dtype(), "cross_entropy", T => {
            let mut losses = vec![T::default(); rows];
            let count = kernels::softmax::cross_entropy_rows(&self.cpu_data::<T>()?, rows, classes, &t, ignore_index, label_smoothing as T, &mut losses);
            let total: T = kernels::reduce::sum(&losses);
            // Every row ignored: 0/0 = NaN, as in PyTorch (the gradient is 0).
            let mean = if count > 0 { total / count as T } else { T::NAN };
            Ok((Tensor::from_vec(vec![mean], &[])?, count))
        })
    }
    /// Gradient of the mean cross-entropy w.r.t. the logits, scaled by the upstream scalar `dloss`.
    pub fn cross_entropy_backward(
        logits: &Tensor,
        targets: &Tensor,
        ignore_index: Option<i64>,
        label_smoothing: f64,
        count: usize,
        dloss: &Tensor,
    ) -> Result<Tensor> {
        let (rows, classes, t) = ce_check(logits, targets, ignore_index, label_smoothing)?;
        crate::on_cuda!(logits, st => crate::cuda::norm::cross_entropy_backward(logits, st, targets, ignore_index, label_smoothing, count, dloss));
        let g = dloss.to_scalar_f64()? / count.max(1) as f64;
        float_dispatch!(logits.dtype(), "cross_entropy_backward", T => {
            let mut dl = vec![T::default(); rows * classes];
            kernels::softmax::cross_entropy_rows_backward(&logits.cpu_data::<T>()?, rows, classes, &t, ignore_index, label_smoothing as T, &vec![g as T; rows], &mut dl);
            Tensor::from_vec(dl, logits.shape())
        })
    }
}

fn group_dims(x: &Tensor, groups: usize) -> Result<(usize, usize, usize)> {
    if x.rank() < 2 {
        return Err(Error::invalid("group_norm", format!("expected [N, C, *], got {:?}", x.shape())));
    }
    let (n, c) = (x.shape()[0], x.shape()[1]);
    if groups == 0 || c % groups != 0 {
        return Err(Error::invalid("group_norm", format!("{groups} groups do not divide {c} channels")));
    }
    Ok((n, c, x.shape()[2..].iter().product()))
}

fn ce_check(logits: &Tensor, targets: &Tensor, ignore: Option<i64>, eps: f64) -> Result<(usize, usize, Vec<i64>)> {
    if logits.rank() != 2 {
        return Err(Error::invalid("cross_entropy", format!("logits must be [N, C], got {:?}", logits.shape())));
    }
    if targets.dtype() != DType::I64 {
        return Err(Error::DTypeMismatch { op: "cross_entropy (targets)", lhs: targets.dtype(), rhs: DType::I64 });
    }
    let (rows, classes) = (logits.shape()[0], logits.shape()[1]);
    if targets.shape() != [rows] {
        return Err(Error::ShapeMismatch {
            op: "cross_entropy",
            lhs: logits.shape().to_vec(),
            rhs: targets.shape().to_vec(),
        });
    }
    if !(0.0..=1.0).contains(&eps) {
        return Err(Error::invalid("cross_entropy", format!("label smoothing {eps} outside [0, 1]")));
    }
    // Targets on a GPU are copied to the host for this check (one copy, one wait for the stream).
    let t = targets.to_device(crate::Device::Cpu)?.to_vec::<i64>()?;
    for &v in &t {
        if Some(v) != ignore && (v < 0 || v as usize >= classes) {
            return Err(Error::IndexOutOfRange { op: "cross_entropy", index: v, size: classes });
        }
    }
    Ok((rows, classes, t))
}
