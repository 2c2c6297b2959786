//! Unary derivatives and binary partials against central differences; sigmoid and softplus at the
//! extremes.
use super::*;

#[test]
fn derivatives_match_central_differences() {
    for op in UnaryOp::ALL {
        for &x in &[0.31f64, 0.77, 1.9, 2.6] {
            let x = if matches!(op, UnaryOp::Clamp(..)) { x - 0.9 } else { x };
            let h = 1e-6;
            let fd = (op.forward(x + h) - op.forward(x - h)) / (2.0 * h);
            let an = op.derivative(x, op.forward(x));
            assert!((fd - an).abs() < 1e-6 * (1.0 + an.abs()), "{op:?} at {x}: fd {fd} vs {an}");
        }
    }
}

#[test]
fn sigmoid_and_softplus_are_stable() {
    assert_eq!(sigmoid(-1000.0f64), 0.0);
    assert_eq!(sigmoid(1000.0f64), 1.0);
    assert_eq!(softplus(1000.0f64), 1000.0);
    assert!(softplus(-1000.0f64) >= 0.0);
}

#[test]
fn binary_partials_match_central_differences() {
    for op in BinaryOp::ALL {
        let (a, b) = (1.3f64, 0.7f64);
        let h = 1e-6;
        let (da, db) = op.partials(a, b, op.forward(a, b));
        let fa = (op.forward(a + h, b) - op.forward(a - h, b)) / (2.0 * h);
        let fb = (op.forward(a, b + h) - op.forward(a, b - h)) / (2.0 * h);
        assert!((fa - da).abs() < 1e-6 && (fb - db).abs() < 1e-6, "{op:?}");
    }
}

/// Inputs for the vector loops: a few chunks long with a ragged tail (so the SIMD bodies, their
/// remainders and the parallel split all run), spread over [−8, 8] with the awkward values mixed in.
fn loop_inputs<T: Real>() -> Vec<T> {
    let n = 3 * 8192 + 37;
    let special = [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 120.0, -120.0, 0.5, -0.5, f64::NAN];
    (0..n)
        .map(|i| {
            let v = if i % 97 == 0 {
                special[(i / 97) % special.len()]
            } else {
                ((i * 7919) % 16001) as f64 / 1000.0 - 8.0
            };
            <T as Real>::from_f64(v)
        })
        .collect()
}

/// The same value bit for bit (−0 ≠ +0), any NaN matching any NaN.
fn same_bits<T: Real>(a: T, b: T) -> bool {
    a.to_f64().to_bits() == b.to_f64().to_bits() || (a.is_nan() && b.is_nan())
}

/// The vector loops (AVX-512, AVX2 or portable, whichever this CPU runs) give exactly the scalar
/// `forward` / `derivative` values, element by element.
fn vector_loops_match_scalar<T: Real + std::fmt::Debug>() {
    let x = loop_inputs::<T>();
    let dy: Vec<T> = (0..x.len()).map(|i| <T as Real>::from_f64(((i * 31) % 17) as f64 / 8.0 - 1.0)).collect();
    for op in UnaryOp::ALL {
        let mut y = vec![T::zero(); x.len()];
        unary(op, &x, &mut y);
        for (i, (&xi, &yi)) in x.iter().zip(&y).enumerate() {
            assert!(same_bits(yi, op.forward(xi)), "{op:?} forward at {xi:?} [{i}]: {yi:?} vs {:?}", op.forward(xi));
        }
        let mut dx = vec![T::zero(); x.len()];
        unary_backward(op, &x, &y, &dy, &mut dx);
        let mut in_place = dy.clone();
        unary_backward_in_place(op, &x, &y, &mut in_place);
        // The versions that write a new vector (never filled) give the same bits.
        let (y_new, dx_new) = (unary_vec(op, &x), unary_backward_vec(op, &x, &y, &dy));
        assert!(y_new.len() == x.len() && y_new.iter().zip(&y).all(|(&a, &b)| same_bits(a, b)), "{op:?} unary_vec");
        assert!(
            dx_new.len() == x.len() && dx_new.iter().zip(&dx).all(|(&a, &b)| same_bits(a, b)),
            "{op:?} unary_backward_vec"
        );
        for i in 0..x.len() {
            let want = dy[i] * op.derivative(x[i], y[i]);
            assert!(same_bits(dx[i], want), "{op:?} backward at {:?} [{i}]: {:?} vs {want:?}", x[i], dx[i]);
            assert!(same_bits(in_place[i], dx[i]), "{op:?} in-place backward at {:?} [{i}]", x[i]);
        }
    }
}

#[test]
fn vector_loops_match_scalar_f32() {
    vector_loops_match_scalar::<f32>();
}

#[test]
fn vector_loops_match_scalar_f64() {
    vector_loops_match_scalar::<f64>();
}
