//! Elementwise maps. Each unary op's forward `f(x)` and derivative `f'(x)` sit side by side, so a
//! reader checks one against the other in one glance; the autograd rule is `dx = dy · f'(x)`.
//! Binary ops give both partial derivatives the same way.
use crate::Real;
use std::mem::MaybeUninit;

mod in_place;
mod loops;
pub use in_place::unary_backward_in_place;
pub use loops::{unary, unary_backward, unary_backward_vec, unary_vec};
pub(crate) use loops::{unary_into, with_derivative, Pointwise, WithDerivative};

/// `sqrt(2/pi)` and the cubic coefficient of the tanh form of GELU.
const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_A: f64 = 0.044_715;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Log1p,
    Sqrt,
    Rsqrt,
    Square,
    Recip,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    Silu,
    /// GELU, tanh approximation.
    GeluTanh,
    /// GELU, exact erf form.
    GeluErf,
    Softplus,
    /// `x^p` for a scalar exponent.
    Powf(f64),
    /// `min(max(x, lo), hi)`; gradient 1 inside `[lo, hi]`, 0 outside.
    Clamp(f64, f64),
    /// `a·x + b` (scalar add / sub / mul / div are this op).
    Affine(f64, f64),
}

impl UnaryOp {
    /// Every variant, the parameterised ones with representative parameters (`Powf(0.0)` too: its
    /// derivative is a special case). For tests that must cover every op.
    pub const ALL: [UnaryOp; 22] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Log1p,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Square,
        UnaryOp::Recip,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Silu,
        UnaryOp::GeluTanh,
        UnaryOp::GeluErf,
        UnaryOp::Softplus,
        UnaryOp::Powf(2.5),
        UnaryOp::Powf(0.0),
        UnaryOp::Clamp(-0.3, 0.8),
        UnaryOp::Affine(-1.5, 0.25),
    ];

    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Exp => "exp",
            Log => "log",
            Log1p => "log1p",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Square => "square",
            Recip => "recip",
            Sin => "sin",
            Cos => "cos",
            Tanh => "tanh",
            Sigmoid => "sigmoid",
            Relu => "relu",
            Silu => "silu",
            GeluTanh => "gelu_tanh",
            GeluErf => "gelu_erf",
            Softplus => "softplus",
            Powf(_) => "powf",
            Clamp(..) => "clamp",
            Affine(..) => "affine",
        }
    }

    /// `y = f(x)`.
    #[inline]
    pub fn forward<T: Real>(self, x: T) -> T {
        use UnaryOp::*;
        let c = <T as Real>::from_f64;
        match self {
            Neg => -x,
            Abs => x.abs(),
            Exp => x.fast_exp(),
            Log => x.ln(),
            Log1p => x.ln_1p(),
            Sqrt => x.sqrt(),
            Rsqrt => x.sqrt().recip(),
            Square => x * x,
            Recip => x.recip(),
            Sin => x.sin(),
            Cos => x.cos(),
            Tanh => x.fast_tanh(),
            Sigmoid => sigmoid(x),
            Relu => nan_max(x, T::zero()),
            Silu => x * sigmoid(x),
            GeluTanh => c(0.5) * x * (T::one() + (c(GELU_C) * (x + c(GELU_A) * x * x * x)).fast_tanh()),
            GeluErf => gelu_erf(x),
            Softplus => softplus(x),
            Powf(p) => x.powf(c(p)),
            Clamp(lo, hi) => nan_min(nan_max(x, c(lo)), c(hi)),
            Affine(a, b) => c(a) * x + c(b),
        }
    }

    /// `f'(x)`, given `x` and the forward output `y = f(x)` (several rules reuse `y`).
    #[inline]
    pub fn derivative<T: Real>(self, x: T, y: T) -> T {
        use UnaryOp::*;
        let c = <T as Real>::from_f64;
        let one = T::one();
        match self {
            Neg => -one,
            Abs => x.signum() * if x == T::zero() { T::zero() } else { one },
            Exp => y,
            Log => x.recip(),
            Log1p => (one + x).recip(),
            Sqrt => c(0.5) / y,
            Rsqrt => c(-0.5) * y * y * y,
            Square => c(2.0) * x,
            Recip => -y * y,
            Sin => x.cos(),
            Cos => -x.sin(),
            Tanh => one - y * y,
            Sigmoid => y * (one - y),
            Relu => {
                if x > T::zero() {
                    one
                } else {
                    T::zero()
                }
            }
            Silu => {
                let s = sigmoid(x);
                s * (one + x * (one - s))
            }
            // The backward loops' own rule (`with_derivative`), so scalar and vector values agree.
            GeluTanh => grad_gelu_tanh(x, y),
            GeluErf => grad_gelu_erf(x, y),
            Softplus => sigmoid(x),
            // d/dx x⁰ = 0 everywhere (also at x = 0, where p·x^(p−1) would be 0·∞).
            Powf(p) => {
                if p == 0.0 {
                    T::zero()
                } else {
                    c(p) * x.powf(c(p - 1.0))
                }
            }
            Clamp(lo, hi) => {
                if x >= c(lo) && x <= c(hi) {
                    one
                } else {
                    T::zero()
                }
            }
            Affine(a, _) => c(a),
        }
    }
}

/// `max(a, b)` that propagates NaN (like PyTorch, unlike `f64::max`), so a diverging run shows.
#[inline(always)]
pub fn nan_max<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || a >= b {
        a
    } else {
        b
    }
}

/// `min(a, b)` that propagates NaN.
#[inline(always)]
pub fn nan_min<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || a <= b {
        a
    } else {
        b
    }
}

#[inline(always)]
fn sigmoid<T: Real>(x: T) -> T {
    // exp(−|x|) never overflows; σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) below (a select, so the
    // loop stays vectorisable).
    let e = (-x.abs()).fast_exp();
    let r = T::one() / (T::one() + e);
    if x >= T::zero() {
        r
    } else {
        e * r
    }
}

#[inline]
fn softplus<T: Real>(x: T) -> T {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `a^b` (elementwise).
    Pow,
    Maximum,
    Minimum,
}

impl BinaryOp {
    /// Every variant.
    pub const ALL: [BinaryOp; 7] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ];
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
        }
    }

    #[inline]
    pub fn forward<T: Real>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Maximum => nan_max(a, b),
            BinaryOp::Minimum => nan_min(a, b),
        }
    }

    /// `(∂y/∂a, ∂y/∂b)` at `(a, b)` with `y = forward(a, b)`. Ties in max/min send the gradient
    /// to `a` (PyTorch splits it in half; either is a valid subgradient).
    #[inline]
    pub fn partials<T: Real>(self, a: T, b: T, y: T) -> (T, T) {
        let (one, zero) = (T::one(), T::zero());
        match self {
            BinaryOp::Add => (one, one),
            BinaryOp::Sub => (one, -one),
            BinaryOp::Mul => (b, a),
            BinaryOp::Div => (b.recip(), -a / (b * b)),
            BinaryOp::Pow => {
                // ∂/∂b a^b = a^b ln a: 0 at a = 0 (the limit from above), NaN for a < 0 as in PyTorch.
                let db = if a == zero { zero } else { y * a.ln() };
                let da = if b == zero { zero } else { b * a.powf(b - one) };
                (da, db)
            }
            BinaryOp::Maximum => {
                if a >= b {
                    (one, zero)
                } else {
                    (zero, one)
                }
            }
            BinaryOp::Minimum => {
                if a <= b {
                    (one, zero)
                } else {
                    (zero, one)
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    #[inline]
    pub fn apply<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

#[inline(always)]
fn relu<T: Real>(v: T) -> T {
    nan_max(v, T::zero())
}
#[inline(always)]
fn silu<T: Real>(v: T) -> T {
    v * sigmoid(v)
}
#[inline(always)]
fn gelu_tanh<T: Real>(v: T) -> T {
    let c = <T as Real>::from_f64;
    c(0.5) * v * (T::one() + (c(GELU_C) * (v + c(GELU_A) * v * v * v)).fast_tanh())
}

/// GELU, exact form: `x·Φ(x)`, `Φ(x) = ½(1 + erf(x/√2))`.
#[inline(always)]
fn gelu_erf<T: Real>(x: T) -> T {
    let c = <T as Real>::from_f64;
    c(0.5) * x * (T::one() + (x * c(std::f64::consts::FRAC_1_SQRT_2)).fast_erf())
}

// Named, always-inlined derivatives (the same formulas as `UnaryOp::derivative`): as function
// items they inline into the AVX2 loop, where a closure call may not.
#[inline(always)]
fn grad_relu<T: Real>(x: T, _y: T) -> T {
    if x > T::zero() {
        T::one()
    } else {
        T::zero()
    }
}
#[inline(always)]
fn grad_sigmoid<T: Real>(_x: T, y: T) -> T {
    y * (T::one() - y)
}
#[inline(always)]
fn grad_tanh<T: Real>(_x: T, y: T) -> T {
    T::one() - y * y
}
#[inline(always)]
fn grad_silu<T: Real>(x: T, _y: T) -> T {
    let s = sigmoid(x);
    s * (T::one() + x * (T::one() - s))
}
/// d/dx x·Φ(x) = Φ(x) + x·φ(x), with `Φ(x) = ½(1 + erf(x/√2))` and `φ(x) = e^{−(x/√2)²}/√(2π)`:
/// the exponential comes with erf's (one `exp` per element for f32).
#[inline(always)]
fn grad_gelu_erf<T: Real>(x: T, _y: T) -> T {
    let c = <T as Real>::from_f64;
    let (erf, gauss) = (x * c(std::f64::consts::FRAC_1_SQRT_2)).fast_erf_and_gauss();
    let cdf = c(0.5) * (T::one() + erf);
    let pdf = gauss * c(0.398_942_280_401_432_7);
    cdf + x * pdf
}
#[inline(always)]
fn grad_gelu_tanh<T: Real>(x: T, _y: T) -> T {
    let c = <T as Real>::from_f64;
    let (one, half) = (T::one(), c(0.5));
    let t = (c(GELU_C) * (x + c(GELU_A) * x * x * x)).fast_tanh();
    half * (one + t) + half * x * (one - t * t) * c(GELU_C) * (one + c(3.0 * GELU_A) * x * x)
}

#[cfg(test)]
mod tests;
