//! The loops over contiguous slices behind the unary ops and their backward rules: each op's
//! function is a [`Pointwise`] the loop inlines, compiled once for the baseline target and once
//! each for AVX2+FMA and AVX-512, chosen at run time.
use super::*;

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
pub(crate) fn unary_into<T: Real>(op: UnaryOp, x: &[T], y: &mut [MaybeUninit<T>]) {
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
        let dispatch = |c: BackwardChunk<T>| backward_chunk(c, &f);
        if dx.len() >= crate::strided::PAR_MIN_ELEMS {
            let _warm = crate::parallel::keep_warm();
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

simd_fn! {
    /// `dx[i] = dy[i] · f'(x[i], y[i])` over one chunk (zipped, so no index checks), compiled
    /// for AVX-512 / AVX2 where the CPU has them (the same values, as in [`map_chunk`]).
    fn backward_chunk<T>(c: BackwardChunk<T>, f: &impl Pointwise<T>) -> () {
        let (((d, x), y), g) = c;
        let n = d.len();
        let (x, y, g) = (&x[..n], &y[..n], &g[..n]);
        for i in 0..n {
            d[i].write(g[i] * f.at(x[i], y[i]));
        }
    }
}

/// One chunk of a backward loop: `((dx, x), y), dy`.
type BackwardChunk<'a, T> = (((&'a mut [MaybeUninit<T>], &'a [T]), &'a [T]), &'a [T]);

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
        UnaryOp::Softplus => k.run(GradSoftplus),
        // Constant or polynomial derivatives (attention's score scale, `neg`, `mse`'s square):
        // inlined closures, so the loop vectorises instead of matching on `op` per element.
        UnaryOp::Affine(a, _) => {
            let a = <T as Real>::from_f64(a);
            k.run(Closure(move |_x: T, _y: T| a))
        }
        UnaryOp::Neg => k.run(Closure(|_x: T, _y: T| -T::one())),
        UnaryOp::Square => k.run(Closure(|x: T, _y: T| <T as Real>::from_f64(2.0) * x)),
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
    GradSoftplus => grad_softplus,
}

/// `softplus' = σ(x)`: inlined into the vector loops (its exponential's fused multiply-adds would
/// otherwise be libm calls, one per element, from a function built for baseline x86-64).
#[inline(always)]
fn grad_softplus<T: Real>(x: T, _y: T) -> T {
    sigmoid(x)
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
    let dispatch = |(out, x): (&mut [MaybeUninit<T>], &[T])| map_chunk(out, x, &p);
    if y.len() >= crate::strided::PAR_MIN_ELEMS {
        let _warm = crate::parallel::keep_warm();
        y.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(dispatch);
    } else {
        y.chunks_mut(CHUNK).zip(x.chunks(CHUNK)).for_each(dispatch);
    }
}

simd_fn! {
    /// `out[i] = p(x[i])` over one chunk, compiled for AVX-512 / AVX2 where the CPU has them
    /// (the same IEEE operations lane by lane, fused multiply-adds only where the code says
    /// `mul_add`, exactly rounded everywhere: the same values).
    fn map_chunk<T>(out: &mut [MaybeUninit<T>], x: &[T], p: &impl Pointwise<T>) -> () {
        let n = out.len();
        let x = &x[..n];
        for i in 0..n {
            out[i].write(p.at(x[i], x[i]));
        }
    }
}
