//! Elementwise maps. Each unary op's forward `f(x)` and derivative `f'(x)` sit side by side, so a
//! reader checks one against the other in one glance; the autograd rule is `dx = dy · f'(x)`.
//! Binary ops give both partial derivatives the same way.
use crate::Real;
use std::mem::MaybeUninit;

mod in_place;
pub use in_place::unary_backward_in_place;

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

/// `y[i] = op(x[i])` on contiguous slices.
/// The common ops get their own loop (the closure is then inlined and the loop vectorises);
/// the rest go through `UnaryOp::forward`, same values either way.
pub fn unary<T: Real>(op: UnaryOp, x: &[T], y: &mut [T]) {
    // SAFETY: `unary_into` writes only values into `y`.
    unary_into(op, x, unsafe { crate::memory::as_uninit(y) });
}

/// [`unary`] into a new vector, written without being filled first.
pub fn unary_vec<T: Real>(op: UnaryOp, x: &[T]) -> Vec<T> {
    // SAFETY: `unary_into` writes every element of its output (one per input element).
    unsafe { crate::memory::written_vec(x.len(), |y| unary_into(op, x, y)) }
}

/// The loops behind [`unary`] and [`unary_vec`]: writes every element of `y`.
fn unary_into<T: Real>(op: UnaryOp, x: &[T], y: &mut [MaybeUninit<T>]) {
    let c = <T as Real>::from_f64;
    match op {
        UnaryOp::Neg => run_map(x, y, Closure(|v: T, _| -v)),
        UnaryOp::Exp => run_map(x, y, FwdExp),
        UnaryOp::Square => run_map(x, y, Closure(|v: T, _| v * v)),
        UnaryOp::Sqrt => run_map(x, y, Closure(|v: T, _| v.sqrt())),
        UnaryOp::Relu => run_map(x, y, Closure(|v: T, _| relu(v))),
        UnaryOp::Sigmoid => run_map(x, y, FwdSigmoid),
        UnaryOp::Silu => run_map(x, y, FwdSilu),
        UnaryOp::Tanh => run_map(x, y, FwdTanh),
        UnaryOp::GeluTanh => run_map(x, y, FwdGeluTanh),
        UnaryOp::GeluErf => run_map(x, y, FwdGeluErf),
        UnaryOp::Affine(a, b) => {
            let (a, b) = (c(a), c(b));
            run_map(x, y, Closure(|v: T, _| a * v + b))
        }
        _ => run_map(x, y, Closure(|v: T, _| op.forward(v))),
    }
}

/// `dx[i] = dy[i] · f'(x[i])` on contiguous slices.
/// As in [`unary`], the common ops get their own inlined loop; values equal `derivative`'s.
pub fn unary_backward<T: Real>(op: UnaryOp, x: &[T], y: &[T], dy: &[T], dx: &mut [T]) {
    // SAFETY: `unary_backward_into` writes only values into `dx`.
    unary_backward_into(op, x, y, dy, unsafe { crate::memory::as_uninit(dx) });
}

/// [`unary_backward`] into a new vector, written without being filled first.
pub fn unary_backward_vec<T: Real>(op: UnaryOp, x: &[T], y: &[T], dy: &[T]) -> Vec<T> {
    // SAFETY: `unary_backward_into` writes every element of its output.
    unsafe { crate::memory::written_vec(dx_len(x, y, dy), |dx| unary_backward_into(op, x, y, dy, dx)) }
}

/// The common length of a backward's inputs (panics if they differ).
fn dx_len<T>(x: &[T], y: &[T], dy: &[T]) -> usize {
    assert!(x.len() == y.len() && x.len() == dy.len(), "unary_backward: lengths differ");
    x.len()
}

/// The loops behind [`unary_backward`] and [`unary_backward_vec`]: writes every element of `dx`.
fn unary_backward_into<T: Real>(op: UnaryOp, x: &[T], y: &[T], dy: &[T], dx: &mut [MaybeUninit<T>]) {
    fn run<T: Real>(x: &[T], y: &[T], dy: &[T], dx: &mut [MaybeUninit<T>], f: impl Pointwise<T>) {
        use rayon::prelude::*;
        const CHUNK: usize = 8192;
        type Chunks<'a, T> = (((&'a mut [MaybeUninit<T>], &'a [T]), &'a [T]), &'a [T]);
        // Zipped slices (no index arithmetic, no bounds checks) so the loop vectorises.
        #[inline(always)]
        fn body<T: Real>((((d, x), y), g): Chunks<T>, f: &impl Pointwise<T>) {
            // Re-sliced to one length so the indexed loop has no bounds checks.
            let n = d.len();
            let (x, y, g) = (&x[..n], &y[..n], &g[..n]);
            for i in 0..n {
                d[i].write(g[i] * f.at(x[i], y[i]));
            }
        }
        /// The same loop compiled for AVX2+FMA.
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn body_avx2<T: Real>(c: Chunks<T>, f: &impl Pointwise<T>) {
            body(c, f)
        }
        /// The same loop compiled for AVX-512 (16 f32 lanes).
        /// # Safety
        /// The CPU must support AVX-512F.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn body_avx512<T: Real>(c: Chunks<T>, f: &impl Pointwise<T>) {
            body(c, f)
        }
        // The widest instruction set available, chosen at run time (same values either way:
        // the same IEEE operations lane by lane, never contracted into FMAs).
        let dispatch = |c: Chunks<T>| {
            #[cfg(target_arch = "x86_64")]
            if crate::gemm::has_avx512() {
                // SAFETY: AVX-512F was detected on this CPU.
                return unsafe { body_avx512(c, &f) };
            }
            #[cfg(target_arch = "x86_64")]
            if crate::gemm::has_avx2_fma() {
                // SAFETY: AVX2 and FMA were detected on this CPU.
                return unsafe { body_avx2(c, &f) };
            }
            body(c, &f)
        };
        if dx.len() >= crate::strided::PAR_MIN_ELEMS {
            dx.par_chunks_mut(CHUNK)
                .zip(x.par_chunks(CHUNK))
                .zip(y.par_chunks(CHUNK))
                .zip(dy.par_chunks(CHUNK))
                .for_each(dispatch);
        } else {
            dx.chunks_mut(CHUNK).zip(x.chunks(CHUNK)).zip(y.chunks(CHUNK)).zip(dy.chunks(CHUNK)).for_each(dispatch);
        }
    }
    struct ToDx<'a, T>(&'a [T], &'a [T], &'a [T], &'a mut [MaybeUninit<T>]);
    impl<T: Real> WithDerivative<T> for ToDx<'_, T> {
        fn run(self, f: impl Pointwise<T>) {
            let ToDx(x, y, dy, dx) = self;
            run(x, y, dy, dx, f)
        }
    }
    with_derivative(op, ToDx(x, y, dy, dx))
}

/// A loop that takes the derivative f'(x, y) of a unary op as a [`Pointwise`].
pub(crate) trait WithDerivative<T> {
    fn run(self, f: impl Pointwise<T>);
}

/// Hands `k` the derivative of `op`: the inlined kernels for the common ops, `derivative`
/// otherwise. The one table every backward loop uses, so they all compute the same bits.
pub(crate) fn with_derivative<T: Real>(op: UnaryOp, k: impl WithDerivative<T>) {
    match op {
        UnaryOp::Relu => k.run(GradRelu),
        UnaryOp::Sigmoid => k.run(GradSigmoid),
        UnaryOp::Tanh => k.run(GradTanh),
        UnaryOp::Exp => k.run(GradExp),
        UnaryOp::Silu => k.run(GradSilu),
        UnaryOp::GeluTanh => k.run(GradGeluTanh),
        UnaryOp::GeluErf => k.run(GradGeluErf),
        _ => k.run(Closure(move |x: T, y: T| op.derivative(x, y))),
    }
}

/// A pointwise function of `(x, y)` called from the vector loops. Implemented by zero-sized
/// types whose `at` is `#[inline(always)]`: a direct call always inlines into the AVX2 loop,
/// where a call through the `Fn` trait of a large function may not (it then runs scalar).
pub(crate) trait Pointwise<T>: Sync {
    fn at(&self, x: T, y: T) -> T;
}

/// Any closure (the generic fallback).
struct Closure<F>(F);
impl<T, F: Fn(T, T) -> T + Sync> Pointwise<T> for Closure<F> {
    #[inline(always)]
    fn at(&self, x: T, y: T) -> T {
        (self.0)(x, y)
    }
}

macro_rules! pointwise {
    ($($name:ident => $f:ident),* $(,)?) => {$(
        struct $name;
        impl<T: Real> Pointwise<T> for $name {
            #[inline(always)]
            fn at(&self, x: T, y: T) -> T {
                $f(x, y)
            }
        }
    )*};
}
pointwise! {
    GradRelu => grad_relu, GradSigmoid => grad_sigmoid, GradTanh => grad_tanh, GradExp => grad_exp,
    GradSilu => grad_silu, GradGeluTanh => grad_gelu_tanh, GradGeluErf => grad_gelu_erf,
}

#[inline(always)]
fn grad_exp<T: Real>(_x: T, y: T) -> T {
    y
}

// Forward activations as `Pointwise` (the second argument is unused).
macro_rules! pointwise_fwd {
    ($($name:ident => $f:expr),* $(,)?) => {$(
        struct $name;
        impl<T: Real> Pointwise<T> for $name {
            #[inline(always)]
            fn at(&self, x: T, _: T) -> T {
                $f(x)
            }
        }
    )*};
}
pointwise_fwd! {
    FwdExp => T::fast_exp, FwdTanh => T::fast_tanh, FwdSigmoid => sigmoid, FwdSilu => silu,
    FwdGeluTanh => gelu_tanh, FwdGeluErf => gelu_erf,
}

/// `y[i] = p(x[i])` with the same AVX2 dispatch and threading as the backward loops.
fn run_map<T: Real>(x: &[T], y: &mut [MaybeUninit<T>], p: impl Pointwise<T>) {
    use rayon::prelude::*;
    const CHUNK: usize = 8192;
    #[inline(always)]
    fn body<T: Real>(out: &mut [MaybeUninit<T>], x: &[T], p: &impl Pointwise<T>) {
        let n = out.len();
        let x = &x[..n];
        for i in 0..n {
            out[i].write(p.at(x[i], x[i]));
        }
    }
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn body_avx2<T: Real>(out: &mut [MaybeUninit<T>], x: &[T], p: &impl Pointwise<T>) {
        body(out, x, p)
    }
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn body_avx512<T: Real>(out: &mut [MaybeUninit<T>], x: &[T], p: &impl Pointwise<T>) {
        body(out, x, p)
    }
    let dispatch = |(out, x): (&mut [MaybeUninit<T>], &[T])| {
        #[cfg(target_arch = "x86_64")]
        if crate::gemm::has_avx512() {
            // SAFETY: AVX-512F was detected on this CPU.
            return unsafe { body_avx512(out, x, &p) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::gemm::has_avx2_fma() {
            // SAFETY: AVX2 and FMA were detected on this CPU.
            return unsafe { body_avx2(out, x, &p) };
        }
        body(out, x, &p)
    };
    if y.len() >= crate::strided::PAR_MIN_ELEMS {
        y.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(dispatch);
    } else {
        y.chunks_mut(CHUNK).zip(x.chunks(CHUNK)).for_each(dispatch);
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
/// d/dx x·Φ(x) = Φ(x) + x·φ(x)
#[inline(always)]
fn grad_gelu_erf<T: Real>(x: T, _y: T) -> T {
    let c = <T as Real>::from_f64;
    let cdf = c(0.5) * (T::one() + (x * c(std::f64::consts::FRAC_1_SQRT_2)).fast_erf());
    let pdf = (c(-0.5) * x * x).fast_exp() * c(0.398_942_280_401_432_7);
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
