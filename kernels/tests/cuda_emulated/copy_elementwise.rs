//! Cases for copy.cu and elementwise.cu.
use crate::harness::*;

// ---- copy.cu ----------------------------------------------------------------------------------

pub(crate) fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

pub(crate) fn copy_cases(s: &mut Script, rng: &mut Lcg) {
    // A transposed view at an offset: storage of 2 + 4·6, view [6, 4] with strides [1, 6].
    let st: Vec<f32> = rng.vec(26, -3.0, 3.0);
    let lay = pack(&[6, 4], &[1, 6], 2);
    let want: Vec<f32> = (0..24).map(|i| st[2 + (i / 4) + (i % 4) * 6]).collect();
    let (src, dst) = (s.buf(&st), s.zeros::<f32>(24));
    s.run_1d("transposed view", "copy_strided_b32", 24, &[A::P(src), l(&lay), A::P(dst), v(24u64)]);
    s.expect("copy_strided_b32", dst, want, 0.0);
    // f64 with a broadcast (stride-0) dim: [3, 5] from a row of 5.
    let row: Vec<f64> = rng.vec(5, -1.0, 1.0);
    let lay = pack(&[3, 5], &[0, 1], 0);
    let want: Vec<f64> = (0..15).map(|i| row[i % 5]).collect();
    let (src, dst) = (s.buf(&row), s.zeros::<f64>(15));
    s.run_1d("broadcast view", "copy_strided_b64", 15, &[A::P(src), l(&lay), A::P(dst), v(15u64)]);
    s.expect("copy_strided_b64", dst, want, 0.0);
    let dst = s.zeros::<u16>(7);
    s.run_1d("fill", "fill_b16", 7, &[A::P(dst), v(0xbeefu16), v(7u64)]);
    s.expect("fill_b16", dst, vec![0xbeefu16; 7], 0.0);
    // Casts, read through a reversed view.
    let mut x: Vec<f32> = rng.vec(40, -300.0, 300.0);
    x.extend([0.0, -0.0, 1.5, 2.5, -2.5, 1e-30, f32::INFINITY, 3.0e38]);
    let n = x.len();
    let rev = pack(&[n], &[usize::MAX], n - 1); // stride −1 as two's complement
    let xr: Vec<f32> = x.iter().rev().copied().collect();
    let src = s.buf(&x);
    let out = s.zeros::<f64>(n);
    s.run_1d("cast", "cast_f32_f64", n, &[A::P(src), l(&rev), A::P(out), v(n as u64)]);
    s.expect("cast_f32_f64", out, xr.iter().map(|&v| v as f64).collect(), 0.0);
    let out = s.zeros::<u16>(n);
    s.run_1d("cast", "cast_f32_bf16", n, &[A::P(src), l(&rev), A::P(out), v(n as u64)]);
    s.expect("cast_f32_bf16", out, xr.iter().map(|&v| bf16_bits(v)).collect(), 0.0);
    let finite: Vec<f32> = x.iter().copied().filter(|v| v.abs() < 1e9).collect();
    let (m, src) = (finite.len(), s.buf(&finite));
    let out = s.zeros::<i64>(m);
    s.run_1d("cast", "cast_f32_i64", m, &[A::P(src), l(&contig(m)), A::P(out), v(m as u64)]);
    s.expect("cast_f32_i64", out, finite.iter().map(|&v| v as i64).collect(), 0.0);
    let bytes: Vec<u8> = (0..20).map(|i| (i * 13) as u8).collect();
    let (src, out) = (s.buf(&bytes), s.zeros::<f64>(20));
    s.run_1d("cast", "cast_u8_f64", 20, &[A::P(src), l(&contig(20)), A::P(out), v(20u64)]);
    s.expect("cast_u8_f64", out, bytes.iter().map(|&b| b as f64).collect(), 0.0);
}

// ---- elementwise.cu ---------------------------------------------------------------------------

pub(crate) fn elementwise_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    let t = T::NAME;
    let ops = UnaryOp::ALL;
    let specials =
        [0.0, -0.0, 1.0, -1.0, 0.5, -0.3, 0.8, 1e-3, 20.0, -20.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
    for op in ops {
        let mut x: Vec<T> = specials.iter().map(|&v| of(v)).collect();
        x.extend(rng.vec::<T>(100, -4.0, 4.0));
        let n = x.len();
        let dy: Vec<T> = rng.vec(n, -1.0, 1.0);
        let mut y = vec![T::zero(); n];
        ew::unary(op, &x, &mut y);
        let mut dx = vec![T::zero(); n];
        ew::unary_backward(op, &x, &y, &dy, &mut dx);
        let (code, p) = unary_code(op);
        let ps: Vec<A> = p.iter().map(|&p| v(of::<T>(p))).collect();
        let (xb, yb, dyb) = (s.buf(&x), s.buf(&y), s.buf(&dy));
        let (gy, gdx) = (s.zeros::<T>(n), s.zeros::<T>(n));
        let c = contig(n);
        let label = format!("{op:?}");
        let mut args = vec![A::P(xb), l(&c), A::P(gy), v(n as u64), v(code)];
        args.extend(p.iter().map(|&p| v(of::<T>(p))));
        s.run_1d(&label, &format!("unary_{t}"), n, &args);
        if t == "f32" {
            // The contiguous fast path: 128-bit loads, then a tail (n = 113 = 4·28 + 1).
            let gy4 = s.zeros::<T>(n);
            let args = [A::P(xb), A::P(gy4), v(n as u64), v(code), v(of::<T>(p[0])), v(of::<T>(p[1]))];
            s.run_1d(&label, "unary_vec4_f32", n, &args);
            s.expect(&format!("unary_vec4_f32 {op:?}"), gy4, y.clone(), T::TOL);
        }
        s.expect(&format!("unary_{t} {op:?}"), gy, y, T::TOL);
        // The backward pass gets the CPU's y, so its derivative formula is checked alone.
        let mut args = vec![A::P(xb), l(&c), A::P(yb), l(&c), A::P(dyb), l(&c), A::P(gdx), v(n as u64), v(code)];
        args.extend(ps);
        s.run_1d(&label, &format!("unary_backward_{t}"), n, &args);
        s.expect(&format!("unary_backward_{t} {op:?}"), gdx, dx, 10.0 * T::TOL);
    }
    // Binary ops with broadcasting: a [3, 1, 5] and b [4, 5] to out [3, 4, 5]; dy a transposed view.
    let (out_shape, n) = ([3usize, 4, 5], 60usize);
    let la = pack(&out_shape, &[5, 0, 1], 0);
    let lb = pack(&out_shape, &[0, 5, 1], 0);
    let ldy = pack(&out_shape, &[1, 3, 12], 0);
    let ai = |i: usize| (i / 20) * 5 + i % 5;
    let bi = |i: usize| i % 20;
    let dyi = |i: usize| (i / 20) + ((i / 5) % 4) * 3 + (i % 5) * 12;
    for op in BinaryOp::ALL {
        let mut a: Vec<T> = rng.vec(15, 0.1, 3.0);
        let mut b: Vec<T> = rng.vec(20, -2.0, 2.0);
        (a[0], b[0], b[5], a[6], b[1]) = (of(0.0), of(0.0), a[0], of(f64::NAN), a[1]); // zeros, ties, NaN
        let dy: Vec<T> = rng.vec(n, -1.0, 1.0);
        let y: Vec<T> = (0..n).map(|i| op.forward(a[ai(i)], b[bi(i)])).collect();
        let (mut ga, mut gb) = (vec![T::zero(); n], vec![T::zero(); n]);
        for i in 0..n {
            let (pa, pb) = op.partials(a[ai(i)], b[bi(i)], y[i]);
            (ga[i], gb[i]) = (dy[dyi(i)] * pa, dy[dyi(i)] * pb);
        }
        let code = binary_code(op);
        let (ab, bb, yb, dyb) = (s.buf(&a), s.buf(&b), s.buf(&y), s.buf(&dy));
        let (out, gab, gbb) = (s.zeros::<T>(n), s.zeros::<T>(n), s.zeros::<T>(n));
        let label = format!("{op:?}");
        s.run_1d(
            &label,
            &format!("binary_{t}"),
            n,
            &[A::P(ab), l(&la), A::P(bb), l(&lb), A::P(out), v(n as u64), v(code)],
        );
        if t == "f32" {
            // The contiguous fast path over the same values, laid out densely (n = 58: a tail of 2).
            let m = n - 2;
            let (af, bf): (Vec<T>, Vec<T>) = (0..m).map(|i| (a[ai(i)], b[bi(i)])).unzip();
            let (afb, bfb, out4) = (s.buf(&af), s.buf(&bf), s.zeros::<T>(m));
            s.run_1d(&label, "binary_vec4_f32", m, &[A::P(afb), A::P(bfb), A::P(out4), v(m as u64), v(code)]);
            s.expect(&format!("binary_vec4_f32 {op:?}"), out4, y[..m].to_vec(), T::TOL);
        }
        s.expect(&format!("binary_{t} {op:?}"), out, y, T::TOL);
        let args = [
            A::P(ab),
            l(&la),
            A::P(bb),
            l(&lb),
            A::P(yb),
            l(&contig(n)),
            A::P(dyb),
            l(&ldy),
            A::P(gab),
            A::P(gbb),
            v(n as u64),
            v(code),
        ];
        s.run_1d(&label, &format!("binary_backward_{t}"), n, &args);
        s.expect(&format!("binary_backward_{t} {op:?} (a)"), gab, ga, T::TOL);
        s.expect(&format!("binary_backward_{t} {op:?} (b)"), gbb, gb, T::TOL);
    }
    let vals: Vec<T> = [0.0, -0.0, 1.0, -1.0, 2.5, f64::INFINITY, f64::NAN].iter().map(|&x| of(x)).collect();
    let k = vals.len();
    let (la, lb) = (pack(&[k, k], &[1, 0], 0), pack(&[k, k], &[0, 1], 0)); // every pair
    for op in [CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
        let want: Vec<u8> = (0..k * k).map(|i| op.apply(vals[i / k], vals[i % k]) as u8).collect();
        let (vb, out) = (s.buf(&vals), s.zeros::<u8>(k * k));
        let args = [A::P(vb), l(&la), A::P(vb), l(&lb), A::P(out), v((k * k) as u64), v(cmp_code(op))];
        s.run_1d(&format!("{op:?}"), &format!("cmp_{t}"), k * k, &args);
        s.expect(&format!("cmp_{t} {op:?}"), out, want, 0.0);
    }
    let x: Vec<T> = rng.vec(12, -1.0, 1.0);
    let m: Vec<u8> = (0..4).map(|i| (i % 2) as u8).collect();
    let lm = pack(&[3, 4], &[0, 1], 0);
    let want: Vec<T> = (0..12).map(|i| if m[i % 4] != 0 { of(7.0) } else { x[i] }).collect();
    let (xb, mb, out) = (s.buf(&x), s.buf(&m), s.zeros::<T>(12));
    let args = [A::P(xb), l(&contig(12)), A::P(mb), l(&lm), v(of::<T>(7.0)), A::P(out), v(12u64)];
    s.run_1d("masked_fill", &format!("masked_fill_{t}"), 12, &args);
    s.expect(&format!("masked_fill_{t}"), out, want, 0.0);
}
