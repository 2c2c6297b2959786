//! [`unary_backward_in_place`]: the unary backward rule written over the upstream gradient's own
//! buffer, for callers that own it (no output allocation, no zero fill).
use super::*;

/// [`unary_backward`] in place: `g_dx` holds `dy` on entry and `dx = dy · f'(x)` on return, with
/// the same bits as `unary_backward(op, x, y, g_dx, dx)`.
pub fn unary_backward_in_place<T: Real>(op: UnaryOp, x: &[T], y: &[T], g_dx: &mut [T]) {
    fn run<T: Real>(x: &[T], y: &[T], d: &mut [T], f: impl Pointwise<T>) {
        use rayon::prelude::*;
        const CHUNK: usize = 8192;
        let dispatch = |c: InPlaceChunk<T>| in_place_chunk(c, &f);
        assert!(x.len() == d.len() && y.len() == d.len(), "unary_backward_in_place: lengths differ");
        if d.len() >= crate::strided::PAR_MIN_ELEMS {
            let _warm = crate::parallel::keep_warm();
            d.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).zip(y.par_chunks(CHUNK)).for_each(dispatch);
        } else {
            d.chunks_mut(CHUNK).zip(x.chunks(CHUNK)).zip(y.chunks(CHUNK)).for_each(dispatch);
        }
    }
    struct Over<'a, T>(&'a [T], &'a [T], &'a mut [T]);
    impl<T: Real> WithDerivative<T> for Over<'_, T> {
        fn run(self, f: impl Pointwise<T>) {
            let Over(x, y, d) = self;
            run(x, y, d, f)
        }
    }
    // The same derivative table as `unary_backward`.
    with_derivative(op, Over(x, y, g_dx))
}

simd_fn! {
    /// `d[i] *= f'(x[i], y[i])` over one chunk, compiled for AVX-512 / AVX2 where the CPU has
    /// them (the same values as `backward_chunk`: `dy · f'` is one multiplication either way).
    fn in_place_chunk<T>(c: InPlaceChunk<T>, f: &impl Pointwise<T>) -> () {
        let ((d, x), y) = c;
        let n = d.len();
        let (x, y) = (&x[..n], &y[..n]);
        for i in 0..n {
            d[i] *= f.at(x[i], y[i]);
        }
    }
}

/// One chunk of the in-place backward: `(dy → dx, x), y`.
type InPlaceChunk<'a, T> = ((&'a mut [T], &'a [T]), &'a [T]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_matches_out_of_place_bitwise() {
        let n = 40_000; // crosses the parallel threshold
        let x: Vec<f32> = (0..n).map(|i| (i as f32 - 20_000.0) * 1e-3).collect();
        let dy: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
        for op in [UnaryOp::Silu, UnaryOp::Relu, UnaryOp::GeluTanh, UnaryOp::Tanh, UnaryOp::Square, UnaryOp::Exp] {
            let mut y = vec![0.0; n];
            unary(op, &x, &mut y);
            let mut want = vec![0.0; n];
            unary_backward(op, &x, &y, &dy, &mut want);
            let mut got = dy.clone();
            unary_backward_in_place(op, &x, &y, &mut got);
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{op:?}");
        }
    }
}
