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
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ];
    for op in ops {
        let (a, b) = (1.3f64, 0.7f64);
        let h = 1e-6;
        let (da, db) = op.partials(a, b, op.forward(a, b));
        let fa = (op.forward(a + h, b) - op.forward(a - h, b)) / (2.0 * h);
        let fb = (op.forward(a, b + h) - op.forward(a, b - h)) / (2.0 * h);
        assert!((fa - da).abs() < 1e-6 && (fb - db).abs() < 1e-6, "{op:?}");
    }
}
