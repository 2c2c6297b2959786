//! Network ops on the tensor level: matmul, convolution, pooling, resize, softmax, the norms and
//! cross-entropy. Each validates shapes (errors name the op and both shapes), makes its inputs
//! contiguous where the kernel needs it, and calls the kernel in `kernels`. The backward
//! functions used by the autograd rules sit beside their forwards.
use crate::layout::{broadcast_shapes, for_each_offset2, resolve_dim};
use crate::{float_dispatch, DType, Error, Result, Tensor};
use kernels::conv::Conv2dGeom;
use kernels::gemm::MatRef;
pub use kernels::pool::{Pool2dGeom, ResizeKind};

/// Stride, padding, dilation and groups of a 2-D convolution (PyTorch defaults: 1, 0, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
    /// Extra rows/cols added to one side of a transposed convolution's output.
    pub output_padding: (usize, usize),
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams { stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, output_padding: (0, 0) }
    }
}

fn same_dtype(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch { op, lhs: a.dtype(), rhs: b.dtype() });
    }
    Ok(())
}

fn rank4(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    match shape {
        &[a, b, c, d] => Ok([a, b, c, d]),
        s => Err(Error::invalid(op, format!("expected a 4-D NCHW tensor, got shape {s:?}"))),
    }
}

impl Tensor {
    // ------------------------------------------------------------------ matmul

    /// `[.., m, k] @ [.., k, n] → [.., m, n]`, broadcasting the leading dims. Operands are read
    /// through their strides (a transposed view costs no copy).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        same_dtype("matmul", self, other)?;
        if self.rank() < 2 || other.rank() < 2 {
            return Err(Error::invalid(
                "matmul",
                format!("operands must be at least 2-D, got {:?} and {:?}", self.shape(), other.shape()),
            ));
        }
        let (ra, rb) = (self.rank(), other.rank());
        let (m, k, k2, n) = (self.shape()[ra - 2], self.shape()[ra - 1], other.shape()[rb - 2], other.shape()[rb - 1]);
        if k != k2 {
            return Err(Error::ShapeMismatch { op: "matmul", lhs: self.shape().to_vec(), rhs: other.shape().to_vec() });
        }
        // [.., m, k] @ [k, n] with a contiguous left side is one [(..·m), k] @ [k, n] product.
        if rb == 2 && ra > 2 && self.is_contiguous() {
            let rows: usize = self.shape()[..ra - 1].iter().product();
            let mut shape = self.shape().to_vec();
            shape[ra - 1] = n;
            return self.reshape(&[rows, k])?.matmul(other)?.reshape(&shape);
        }
        let batch = broadcast_shapes("matmul", &self.shape()[..ra - 2], &other.shape()[..rb - 2])?;
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            let (a, b) = (self.to_dtype(DType::F32)?, other.to_dtype(DType::F32)?);
            return a.matmul(&b)?.to_dtype(self.dtype());
        }
        let mut full_a = batch.clone();
        full_a.extend([m, k]);
        let mut full_b = batch.clone();
        full_b.extend([k, n]);
        let (la, lb) = (self.layout().broadcast_to(&full_a)?, other.layout().broadcast_to(&full_b)?);
        let nb = batch.len();
        crate::on_cuda!(self, st => crate::cuda::nn::matmul::matmul(self, st, other, &la, &lb, nb));
        let (mut ao, mut bo) = (Vec::new(), Vec::new());
        for_each_offset2(&batch, (&la.strides()[..nb], la.offset()), (&lb.strides()[..nb], lb.offset()), |i, j| {
            ao.push(i);
            bo.push(j);
        });
        let mut out_shape = batch.clone();
        out_shape.extend([m, n]);
        float_dispatch!(self.dtype(), "matmul", T => {
            let sa = <T as crate::storage::CpuElem>::slice(self.storage().as_cpu()?).ok_or(Error::UnsupportedDType { op: "matmul", dtype: self.dtype() })?;
            let sb = <T as crate::storage::CpuElem>::slice(other.storage().as_cpu()?).ok_or(Error::UnsupportedDType { op: "matmul", dtype: other.dtype() })?;
            let a = MatRef { data: sa, offset: 0, row_stride: la.strides()[nb], col_stride: la.strides()[nb + 1] };
            let b = MatRef { data: sb, offset: 0, row_stride: lb.strides()[nb], col_stride: lb.strides()[nb + 1] };
            let c = kernels::gemm::gemm_batched_vec(m, n, k, (a, &ao), (b, &bo));
            Tensor::from_vec(c, &out_shape)
        })
    }

    /// `x·wᵀ + b` for `x: [.., k]`, `w: [n, k]`, `b: [n]`: a `Linear` layer. On the CPU (f32,
    /// f64, contiguous `x`) the bias rows start the product's output and the product is added
    /// onto them (`kernels::gemm::gemm_bias_vec`: the same values as the product plus the bias
    /// for `k ≤ 512`, without writing the output twice); otherwise matmul, then add.
    pub fn linear(&self, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        if w.rank() != 2 || self.rank() < 2 || self.shape()[self.rank() - 1] != w.shape()[1] {
            return Err(Error::ShapeMismatch { op: "linear", lhs: self.shape().to_vec(), rhs: w.shape().to_vec() });
        }
        let wt = w.transpose(0, 1)?;
        let Some(b) = b else { return self.matmul(&wt) };
        same_dtype("linear", self, w)?;
        same_dtype("linear", self, b)?;
        let (n, k) = (w.shape()[0], w.shape()[1]);
        if b.shape() != [n] {
            return Err(Error::ShapeMismatch { op: "linear (bias)", lhs: b.shape().to_vec(), rhs: vec![n] });
        }
        let fused = self.device() == crate::Device::Cpu
            && matches!(self.dtype(), DType::F32 | DType::F64)
            && self.is_contiguous()
            && w.device() == crate::Device::Cpu
            && b.device() == crate::Device::Cpu;
        if !fused {
            return self.matmul(&wt)?.add(b);
        }
        let rows: usize = self.shape()[..self.rank() - 1].iter().product();
        let mut out_shape = self.shape().to_vec();
        out_shape[self.rank() - 1] = n;
        float_dispatch!(self.dtype(), "linear", T => {
            let (x, bv) = (self.cpu_data::<T>()?, b.cpu_data::<T>()?);
            let sw = <T as crate::storage::CpuElem>::slice(w.storage().as_cpu()?).ok_or(Error::UnsupportedDType { op: "linear", dtype: w.dtype() })?;
            // A = x [rows, k] row-major; B = wᵀ [k, n], read through w's strides (no copy of a
            // transposed or sliced weight).
            let a = MatRef { data: &x, offset: 0, row_stride: k, col_stride: 1 };
            let lw = w.layout();
            let bt = MatRef { data: sw, offset: lw.offset(), row_stride: lw.strides()[1], col_stride: lw.strides()[0] };
            Tensor::from_vec(kernels::gemm::gemm_bias_vec(rows, n, k, a, bt, &bv), &out_shape)
        })
    }

    // ------------------------------------------------------------------ convolution

    /// The geometry of `x ⊛ w` from the two shapes (validated; no tensors needed, so the
    /// backward rules can call it with the saved shapes).
    fn conv_geom(op: &'static str, x: &[usize], w: &[usize], p: &Conv2dParams) -> Result<Conv2dGeom> {
        let [n, c_in, h, wd] = rank4(op, x)?;
        let [c_out, cpg, kh, kw] = rank4(op, w)?;
        let g = p.groups;
        if g == 0 || c_in % g != 0 || c_out % g != 0 || cpg * g != c_in {
            return Err(Error::invalid(op, format!("input {:?} and weight {:?} do not fit groups={g}", x, w)));
        }
        if p.stride.0 == 0 || p.stride.1 == 0 || p.dilation.0 == 0 || p.dilation.1 == 0 {
            return Err(Error::invalid(op, "stride and dilation must be positive"));
        }
        let geom = Conv2dGeom {
            n,
            c_in,
            h,
            w: wd,
            c_out,
            kh,
            kw,
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: g,
        };
        if kh == 0 || kw == 0 {
            return Err(Error::invalid(op, format!("empty kernel {:?}", w)));
        }
        let (eh, ew) = (p.dilation.0 * (kh - 1) + 1, p.dilation.1 * (kw - 1) + 1);
        if h + 2 * p.padding.0 < eh || wd + 2 * p.padding.1 < ew {
            return Err(Error::invalid(
                op,
                format!("kernel {kh}x{kw} (dilation {:?}) larger than padded input {:?}", p.dilation, x),
            ));
        }
        Ok(geom)
    }

    /// 2-D convolution, NCHW. `x: [N, C_in, H, W]`, `w: [C_out, C_in/groups, kh, kw]` → `[N, C_out, Ho, Wo]`.
    pub fn conv2d(&self, w: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
        same_dtype("conv2d", self, w)?;
        let g = Tensor::conv_geom("conv2d", self.shape(), w.shape(), p)?;
        conv_call(self, w, "conv2d", &[g.n, g.c_out, g.out_h(), g.out_w()], ConvKernel::Forward(g))
    }
    /// `conv2d(self, w) + bias` with `bias: [C_out]` added to every output channel. On the CPU in
    /// f32 / f64 the bias is added to each image's output right after its product (no pass over
    /// the whole tensor, no second output); elsewhere the two ops. The same values either way.
    pub fn conv2d_bias(&self, w: &Tensor, bias: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
        same_dtype("conv2d", self, w)?;
        same_dtype("conv2d (bias)", self, bias)?;
        let g = Tensor::conv_geom("conv2d", self.shape(), w.shape(), p)?;
        if bias.shape() != [g.c_out] {
            return Err(Error::invalid(
                "conv2d",
                format!("bias {:?} for {} output channels: expected [{}]", bias.shape(), g.c_out, g.c_out),
            ));
        }
        if !matches!(self.dtype(), DType::F32 | DType::F64) || self.device() != crate::Device::Cpu {
            return self.conv2d(w, p)?.add(&bias.reshape(&[1, g.c_out, 1, 1])?);
        }
        float_dispatch!(self.dtype(), "conv2d", T => {
            let (xv, wv, bv) = (self.cpu_data::<T>()?, w.cpu_data::<T>()?, bias.cpu_data::<T>()?);
            let y = kernels::conv::conv2d_forward_bias_vec(&g, &xv, &wv, &bv);
            Tensor::from_vec(y, &[g.n, g.c_out, g.out_h(), g.out_w()])
        })
    }
    /// Gradient of `conv2d` w.r.t. its input: `dy: [N, C_out, Ho, Wo]` → `[N, C_in, H, W]`.
    pub fn conv2d_backward_input(dy: &Tensor, w: &Tensor, x_shape: &[usize], p: &Conv2dParams) -> Result<Tensor> {
        let g = Tensor::conv_geom("conv2d_backward", x_shape, w.shape(), p)?;
        conv_call(dy, w, "conv2d_backward", x_shape, ConvKernel::BackwardInput(g))
    }
    /// Gradient of `conv2d` w.r.t. its weight.
    pub fn conv2d_backward_weight(x: &Tensor, dy: &Tensor, w_shape: &[usize], p: &Conv2dParams) -> Result<Tensor> {
        let g = Tensor::conv_geom("conv2d_backward", x.shape(), w_shape, p)?;
        conv_call(x, dy, "conv2d_backward", w_shape, ConvKernel::BackwardWeight(g))
    }

    /// The geometry of the convolution whose input-gradient a transposed convolution computes.
    fn conv_transpose_geom(x: &Tensor, w: &Tensor, p: &Conv2dParams) -> Result<(Conv2dGeom, [usize; 4])> {
        let op = "conv_transpose2d";
        let [n, c_in, h, wd] = rank4(op, x.shape())?;
        let [wc_in, cout_pg, kh, kw] = rank4(op, w.shape())?;
        let g = p.groups;
        if g == 0 || wc_in != c_in || c_in % g != 0 {
            return Err(Error::invalid(
                op,
                format!("input {:?} and weight {:?} do not fit groups={g}", x.shape(), w.shape()),
            ));
        }
        if p.stride.0 == 0 || p.stride.1 == 0 || p.dilation.0 == 0 || p.dilation.1 == 0 {
            return Err(Error::invalid(op, "stride and dilation must be positive"));
        }
        if kh == 0 || kw == 0 || h == 0 || wd == 0 {
            return Err(Error::invalid(op, format!("empty input {:?} or kernel {:?}", x.shape(), w.shape())));
        }
        // (PyTorch also allows output_padding < dilation; we require < stride, which covers
        // every use of output_padding: recovering the input size of a strided convolution.)
        if p.output_padding.0 >= p.stride.0 || p.output_padding.1 >= p.stride.1 {
            return Err(Error::invalid(op, "output_padding must be smaller than stride"));
        }
        let out = |i: usize, s: usize, pad: usize, d: usize, k: usize, op_: usize| {
            ((i - 1) * s + d * (k - 1) + op_ + 1).checked_sub(2 * pad)
        };
        let ho = out(h, p.stride.0, p.padding.0, p.dilation.0, kh, p.output_padding.0);
        let wo = out(wd, p.stride.1, p.padding.1, p.dilation.1, kw, p.output_padding.1);
        let (ho, wo) = match (ho, wo) {
            (Some(a), Some(b)) if a > 0 && b > 0 => (a, b),
            _ => {
                return Err(Error::invalid(
                    op,
                    format!("padding {:?} leaves no output for input {:?}", p.padding, x.shape()),
                ))
            }
        };
        let c_out = cout_pg * g;
        let geom = Conv2dGeom {
            n,
            c_in: c_out,
            h: ho,
            w: wo,
            c_out: c_in,
            kh,
            kw,
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: g,
        };
        Ok((geom, [n, c_out, ho, wo]))
    }
    /// Transposed convolution: `x: [N, C_in, H, W]`, `w: [C_in, C_out/groups, kh, kw]`.
    /// It is the input-gradient of the convolution that maps the output back to `x`.
    pub fn conv_transpose2d(&self, w: &Tensor, p: &Conv2dParams) -> Result<Tensor> {
        same_dtype("conv_transpose2d", self, w)?;
        let (g, out) = Tensor::conv_transpose_geom(self, w, p)?;
        conv_call(self, w, "conv_transpose2d", &out, ConvKernel::BackwardInput(g))
    }
    /// Gradients of `conv_transpose2d`: (w.r.t. input, w.r.t. weight).
    pub fn conv_transpose2d_backward(
        x: &Tensor,
        w: &Tensor,
        dy: &Tensor,
        p: &Conv2dParams,
    ) -> Result<(Tensor, Tensor)> {
        let (g, _) = Tensor::conv_transpose_geom(x, w, p)?;
        let dx = conv_call(dy, w, "conv_transpose2d_backward", x.shape(), ConvKernel::Forward(g))?;
        let dw = conv_call(dy, x, "conv_transpose2d_backward", w.shape(), ConvKernel::BackwardWeight(g))?;
        Ok((dx, dw))
    }

    // ------------------------------------------------------------------ pooling and resize

    fn pool_geom(
        shape: &[usize],
        op: &'static str,
        k: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Pool2dGeom> {
        let [n, c, h, w] = rank4(op, shape)?;
        if k.0 == 0
            || k.1 == 0
            || stride.0 == 0
            || stride.1 == 0
            || 2 * padding.0 > k.0
            || 2 * padding.1 > k.1
            || h + 2 * padding.0 < k.0
            || w + 2 * padding.1 < k.1
        {
            return Err(Error::invalid(
                op,
                format!("kernel {k:?} stride {stride:?} padding {padding:?} do not fit input {shape:?}"),
            ));
        }
        Ok(Pool2dGeom { n, c, h, w, kh: k.0, kw: k.1, stride, padding })
    }
    /// Max pooling; returns the output and, for the backward rule, the flat input index of each max (`I64`).
    pub fn max_pool2d(
        &self,
        k: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<(Tensor, Tensor)> {
        let g = Tensor::pool_geom(self.shape(), "max_pool2d", k, stride, padding)?;
        let x = self.to_dtype(self.dtype().compute_dtype())?;
        crate::on_cuda!(x, st => crate::cuda::nn::pool::max_pool2d(&x, st, &g, self.dtype()));
        let shape = [g.n, g.c, g.out_h(), g.out_w()];
        let mut arg = vec![0usize; shape.iter().product()];
        let y = float_dispatch!(x.dtype(), "max_pool2d", T => {
            let mut y = vec![T::default(); arg.len()];
            kernels::pool::max_pool2d_forward(&g, &x.cpu_data::<T>()?, &mut y, &mut arg);
            Tensor::from_vec(y, &shape)
        })?;
        let arg = Tensor::from_vec(arg.into_iter().map(|a| a as i64).collect::<Vec<_>>(), &shape)?;
        Ok((y.to_dtype(self.dtype())?, arg))
    }
    pub fn max_pool2d_backward(
        dy: &Tensor,
        argmax: &Tensor,
        x_shape: &[usize],
        k: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor> {
        let g = Tensor::pool_geom(x_shape, "max_pool2d", k, stride, padding)?;
        crate::on_cuda!(dy, st => crate::cuda::nn::pool::max_pool2d_backward(dy, st, argmax, x_shape, &g));
        let arg: Vec<usize> = argmax.to_vec::<i64>()?.into_iter().map(|a| a as usize).collect();
        float_dispatch!(dy.dtype(), "max_pool2d_backward", T => {
            let mut dx = vec![T::default(); x_shape.iter().product()];
            kernels::pool::max_pool2d_backward(&g, &dy.cpu_data::<T>()?, &arg, &mut dx);
            Tensor::from_vec(dx, x_shape)
        })
    }
    /// Average pooling (padding counts as zeros in the average, PyTorch's default).
    pub fn avg_pool2d(&self, k: (usize, usize), stride: (usize, usize), padding: (usize, usize)) -> Result<Tensor> {
        let g = Tensor::pool_geom(self.shape(), "avg_pool2d", k, stride, padding)?;
        self.via_f32(|x| {
            crate::on_cuda!(x, st => crate::cuda::nn::pool::avg_pool2d(x, st, &g));
            float_dispatch!(x.dtype(), "avg_pool2d", T => {
                let shape = [g.n, g.c, g.out_h(), g.out_w()];
                let mut y = vec![T::default(); shape.iter().product()];
                kernels::pool::avg_pool2d_forward(&g, &x.cpu_data::<T>()?, &mut y);
                Tensor::from_vec(y, &shape)
            })
        })
    }
    pub fn avg_pool2d_backward(
        dy: &Tensor,
        x_shape: &[usize],
        k: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor> {
        let g = Tensor::pool_geom(x_shape, "avg_pool2d", k, stride, padding)?;
        crate::on_cuda!(dy, st => crate::cuda::nn::pool::avg_pool2d_backward(dy, st, x_shape, &g));
        float_dispatch!(dy.dtype(), "avg_pool2d_backward", T => {
            let mut dx = vec![T::default(); x_shape.iter().product()];
            kernels::pool::avg_pool2d_backward(&g, &dy.cpu_data::<T>()?, &mut dx);
            Tensor::from_vec(dx, x_shape)
        })
    }
    /// The two matrices of a separable resize from `self`'s `H×W` to `out_h×out_w`:
    /// `M_h: [out_h, H]` and `M_w^T: [W, out_w]`, so that `y = M_h · x · M_w^T`.
    pub fn resize_matrices(&self, kind: ResizeKind, out_h: usize, out_w: usize) -> Result<(Tensor, Tensor)> {
        let [_, _, h, w] = rank4("resize", self.shape())?;
        if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
            return Err(Error::invalid("resize", format!("cannot resize {:?} to {out_h}x{out_w}", self.shape())));
        }
        let (dt, dev) = (self.dtype(), self.device());
        // Built on the host (small), then placed beside `self` so the matmuls run where it lives.
        let mh = Tensor::from_vec(kernels::pool::resize_matrix(kind, h, out_h), &[out_h, h])?
            .to_dtype(dt)?
            .to_device(dev)?;
        let mw = Tensor::from_vec(kernels::pool::resize_matrix(kind, w, out_w), &[out_w, w])?
            .to_dtype(dt)?
            .to_device(dev)?;
        Ok((mh, mw.transpose(0, 1)?))
    }
    /// Resizes the last two dims (nearest, area = adaptive average pooling, or bicubic), with
    /// PyTorch's `interpolate` semantics (`align_corners=False`).
    pub fn resize2d(&self, kind: ResizeKind, out_h: usize, out_w: usize) -> Result<Tensor> {
        let (mh, mwt) = self.resize_matrices(kind, out_h, out_w)?;
        mh.matmul(&self.matmul(&mwt)?)
    }

    // ------------------------------------------------------------------ softmax family

    /// Moves `dim` last, runs a row kernel, moves it back.
    fn along_dim(
        &self,
        op: &'static str,
        dim: isize,
        f: impl Fn(&Tensor, usize, usize) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let d = resolve_dim(op, dim, self.rank())?;
        let last = self.rank() - 1;
        let x = if d == last { self.contiguous()? } else { self.transpose(d as isize, last as isize)?.contiguous()? };
        let len = x.shape()[last];
        let rows = x.elem_count().checked_div(len).unwrap_or(0);
        let y = f(&x, rows, len)?;
        if d == last {
            Ok(y)
        } else {
            y.transpose(d as isize, last as isize)?.contiguous()
        }
    }
    pub fn softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_impl(dim, false)
    }
    pub fn log_softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_impl(dim, true)
    }
    fn softmax_impl(&self, dim: isize, log: bool) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        self.via_f32(|x| {
            x.along_dim(op, dim, |x, rows, d| {
                crate::on_cuda!(x, st => crate::cuda::nn::softmax::softmax_rows(x, st, rows, d, log));
                float_dispatch!(x.dtype(), op, T => {
                    let mut y = vec![T::default(); x.elem_count()];
                    if log {
                        kernels::softmax::log_softmax_rows(&x.cpu_data::<T>()?, rows, d, &mut y);
                    } else {
                        kernels::softmax::softmax_rows(&x.cpu_data::<T>()?, rows, d, &mut y);
                    }
                    Tensor::from_vec(y, x.shape())
                })
            })
        })
    }
    /// Backward of softmax (`log = false`) or log-softmax (`log = true`) given its output `y`.
    pub fn softmax_backward(y: &Tensor, dy: &Tensor, dim: isize, log: bool) -> Result<Tensor> {
        if y.shape() != dy.shape() {
            return Err(Error::ShapeMismatch {
                op: "softmax_backward",
                lhs: y.shape().to_vec(),
                rhs: dy.shape().to_vec(),
            });
        }
        // `dy` is moved to the same row layout as `y` inside the closure.
        let d = resolve_dim("softmax_backward", dim, y.rank())?;
        let last = y.rank() - 1;
        let g = if d == last { dy.contiguous()? } else { dy.transpose(d as isize, last as isize)?.contiguous()? };
        y.along_dim("softmax_backward", dim, |yl, rows, len| {
            crate::on_cuda!(yl, st => crate::cuda::nn::softmax::softmax_rows_backward(yl, st, &g, rows, len, log));
            float_dispatch!(yl.dtype(), "softmax_backward", T => {
                let mut dx = vec![T::default(); rows * len];
                let (yv, gv) = (yl.cpu_data::<T>()?, g.cpu_data::<T>()?);
                if log {
                    kernels::softmax::log_softmax_rows_backward(&yv, &gv, rows, len, &mut dx);
                } else {
                    kernels::softmax::softmax_rows_backward(&yv, &gv, rows, len, &mut dx);
                }
                Tensor::from_vec(dx, yl.shape())
            })
        })
    }
}

/// Which convolution kernel `conv_call` runs.
#[derive(Clone, Copy)]
pub(crate) enum ConvKernel {
    /// `(x, w) → y`
    Forward(Conv2dGeom),
    /// `(dy, w) → dx`
    BackwardInput(Conv2dGeom),
    /// `(x, dy) → dw`
    BackwardWeight(Conv2dGeom),
}

/// Runs a two-input conv kernel on contiguous f32/f64 data, producing `out_shape`.
fn conv_call(a: &Tensor, b: &Tensor, op: &'static str, out_shape: &[usize], k: ConvKernel) -> Result<Tensor> {
    same_dtype(op, a, b)?;
    let dt = a.dtype();
    let (a, b) = (a.to_dtype(dt.compute_dtype())?, b.to_dtype(dt.compute_dtype())?);
    conv_compute(&a, &b, op, out_shape, k)?.to_dtype(dt)
}

/// [`conv_call`] on operands already in their compute dtype (f32 or f64).
fn conv_compute(a: &Tensor, b: &Tensor, op: &'static str, out_shape: &[usize], k: ConvKernel) -> Result<Tensor> {
    crate::on_cuda!(a, st => crate::cuda::nn::conv::conv(a, st, b, op, out_shape, k));
    float_dispatch!(a.dtype(), op, T => {
        let (av, bv) = (a.cpu_data::<T>()?, b.cpu_data::<T>()?);
        let y = match k {
            // The forward writes every element: no fill first.
            ConvKernel::Forward(g) => kernels::conv::conv2d_forward_vec(&g, &av, &bv),
            // Written in full (implicit GEMM) or a fresh zero buffer col2im adds into.
            ConvKernel::BackwardInput(g) => kernels::conv::conv2d_backward_input_vec(&g, &av, &bv),
            ConvKernel::BackwardWeight(g) => {
                let mut y = kernels::memory::zeros::<T>(out_shape.iter().product());
                kernels::conv::conv2d_backward_weight(&g, &av, &bv, &mut y);
                y
            }
        };
        Tensor::from_vec(y, out_shape)
    })
}
