//! Elementwise ops on `Var`s. Forward and backward rule side by side: a unary op's gradient is
//! `dx = dy · f'(x)` with `f'` written next to `f` in `kernels::elementwise`; a binary op's is
//! `da = Σ_broadcast dy · ∂y/∂a`, `db = Σ_broadcast dy · ∂y/∂b`.
use crate::backward::Ctx;
use crate::op::Op;
use crate::var::Var;
use tensor::{BinaryOp, CmpOp, Result, Tensor, UnaryOp};

impl Var {
    /// `y = op(x)`, any `UnaryOp`.
    pub fn unary(&self, op: UnaryOp) -> Result<Var> {
        Ok(Var::from_op(self.value().unary(op)?, Op::Unary(op), vec![self.clone()]))
    }
    pub fn neg(&self) -> Result<Var> {
        self.unary(UnaryOp::Neg)
    }
    pub fn abs(&self) -> Result<Var> {
        self.unary(UnaryOp::Abs)
    }
    pub fn exp(&self) -> Result<Var> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(&self) -> Result<Var> {
        self.unary(UnaryOp::Log)
    }
    pub fn log1p(&self) -> Result<Var> {
        self.unary(UnaryOp::Log1p)
    }
    pub fn sqrt(&self) -> Result<Var> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn rsqrt(&self) -> Result<Var> {
        self.unary(UnaryOp::Rsqrt)
    }
    pub fn square(&self) -> Result<Var> {
        self.unary(UnaryOp::Square)
    }
    pub fn recip(&self) -> Result<Var> {
        self.unary(UnaryOp::Recip)
    }
    pub fn sin(&self) -> Result<Var> {
        self.unary(UnaryOp::Sin)
    }
    pub fn cos(&self) -> Result<Var> {
        self.unary(UnaryOp::Cos)
    }
    pub fn tanh(&self) -> Result<Var> {
        self.unary(UnaryOp::Tanh)
    }
    pub fn sigmoid(&self) -> Result<Var> {
        self.unary(UnaryOp::Sigmoid)
    }
    pub fn relu(&self) -> Result<Var> {
        self.unary(UnaryOp::Relu)
    }
    pub fn silu(&self) -> Result<Var> {
        self.unary(UnaryOp::Silu)
    }
    /// GELU, tanh approximation (`approximate='tanh'` in PyTorch).
    pub fn gelu(&self) -> Result<Var> {
        self.unary(UnaryOp::GeluTanh)
    }
    /// GELU, exact erf form (PyTorch's default).
    pub fn gelu_erf(&self) -> Result<Var> {
        self.unary(UnaryOp::GeluErf)
    }
    pub fn softplus(&self) -> Result<Var> {
        self.unary(UnaryOp::Softplus)
    }
    pub fn powf(&self, p: f64) -> Result<Var> {
        self.unary(UnaryOp::Powf(p))
    }
    pub fn clamp(&self, lo: f64, hi: f64) -> Result<Var> {
        self.unary(UnaryOp::Clamp(lo, hi))
    }
    /// `a·x + b`.
    pub fn affine(&self, a: f64, b: f64) -> Result<Var> {
        self.unary(UnaryOp::Affine(a, b))
    }
    pub fn add_scalar(&self, s: f64) -> Result<Var> {
        self.affine(1.0, s)
    }
    pub fn sub_scalar(&self, s: f64) -> Result<Var> {
        self.affine(1.0, -s)
    }
    pub fn mul_scalar(&self, s: f64) -> Result<Var> {
        self.affine(s, 0.0)
    }
    pub fn div_scalar(&self, s: f64) -> Result<Var> {
        self.affine(1.0 / s, 0.0)
    }

    /// `op(self, other)` with NumPy broadcasting.
    pub fn binary(&self, op: BinaryOp, other: &Var) -> Result<Var> {
        Ok(Var::from_op(self.value().binary(op, other.value())?, Op::Binary(op), vec![self.clone(), other.clone()]))
    }
    pub fn add(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Add, o)
    }
    pub fn sub(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Sub, o)
    }
    pub fn mul(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Mul, o)
    }
    pub fn div(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Div, o)
    }
    pub fn pow(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Pow, o)
    }
    pub fn maximum(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Maximum, o)
    }
    pub fn minimum(&self, o: &Var) -> Result<Var> {
        self.binary(BinaryOp::Minimum, o)
    }

    /// Comparisons give `U8` masks; they are not differentiable, so they return plain tensors.
    pub fn cmp(&self, op: CmpOp, other: &Var) -> Result<Tensor> {
        self.value().cmp(op, other.value())
    }
    pub fn eq(&self, o: &Var) -> Result<Tensor> {
        self.cmp(CmpOp::Eq, o)
    }
    pub fn lt(&self, o: &Var) -> Result<Tensor> {
        self.cmp(CmpOp::Lt, o)
    }
    pub fn le(&self, o: &Var) -> Result<Tensor> {
        self.cmp(CmpOp::Le, o)
    }
    pub fn gt(&self, o: &Var) -> Result<Tensor> {
        self.cmp(CmpOp::Gt, o)
    }
    pub fn ge(&self, o: &Var) -> Result<Tensor> {
        self.cmp(CmpOp::Ge, o)
    }
    pub fn cmp_scalar(&self, op: CmpOp, v: f64) -> Result<Tensor> {
        self.value().cmp_scalar(op, v)
    }
}

// dx = dy · f'(x)   x, y, dy: same shape
// (`g` is taken by value: when the caller held its only reference, dx is written over it.)
pub(crate) fn unary_backward(op: UnaryOp, c: &Ctx, g: Tensor) -> Result<Vec<Option<Tensor>>> {
    let dx = c.x(0).via_f32(|x| {
        let y = c.out.to_dtype(x.dtype())?;
        let g = if g.dtype() == x.dtype() { g } else { g.to_dtype(x.dtype())? };
        Tensor::unary_backward_owned(op, x, &y, g)
    })?;
    Ok(vec![Some(dx)])
}

// da = sum_to(a.shape, dy · ∂y/∂a),  db = sum_to(b.shape, dy · ∂y/∂b)
pub(crate) fn binary_backward(op: BinaryOp, c: &Ctx, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let (a, b) = (c.x(0), c.x(1));
    match op {
        // The cheap cases need no partial-derivative map.
        BinaryOp::Add => Ok(vec![Some(g.sum_to_shape(a.shape())?), Some(g.sum_to_shape(b.shape())?)]),
        BinaryOp::Sub => Ok(vec![Some(g.sum_to_shape(a.shape())?), Some(g.neg()?.sum_to_shape(b.shape())?)]),
        BinaryOp::Mul => Ok(vec![
            if c.need[0] { Some(g.mul(b)?.sum_to_shape(a.shape())?) } else { None },
            if c.need[1] { Some(g.mul(a)?.sum_to_shape(b.shape())?) } else { None },
        ]),
        _ => {
            let dt = a.dtype();
            let up = |t: &Tensor| t.to_dtype(dt.compute_dtype());
            let (da, db) = Tensor::binary_backward(op, &up(a)?, &up(b)?, &up(c.out)?, &up(g)?)?;
            Ok(vec![Some(da.to_dtype(dt)?), Some(db.to_dtype(dt)?)])
        }
    }
}
