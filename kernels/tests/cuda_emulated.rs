//! The CUDA kernels (`kernels/cuda/*.cu`) run on the CPU through a host emulation, checked against
//! the CPU kernels: no GPU, toolkit or `cuda` feature needed, only `g++` with C++20.
//!
//! `kernels/cuda/emu/driver.cpp` #includes the real `.cu` sources over `emu/shim.h` (each CUDA
//! thread a fiber, `__syncthreads` a barrier, blocks one at a time; its header lists the limits).
//! This test writes a script of buffers and launches (the grid, block and parameter values the
//! wrappers in `kernels::cuda` pass, from the shared `kernels::cuda_params` where they live there),
//! runs the driver once, and compares every output buffer with the CPU result. Parameters travel as
//! raw bytes whose size the driver checks against the kernel's parameter types; every buffer has
//! guard bytes, checked after each launch.
//!
//! Not covered yet (the driver already registers the kernels of the first four): `index.cu`,
//! `optim.cu`, the cross-entropy kernels of `norm.cu`, `rng.cu` (its reference lives in the tensor
//! crate), `gemm_tc.cu` (tensor-core builtins cannot be emulated); casts to and from f16.
use kernels::conv::{self, Conv2dGeom};
use kernels::cuda_params::{
    binary_code, blocks_1d, cmp_code, reduce_code, row_threads, unary_code, StridedLayout, BLOCK,
};
use kernels::elementwise::{self as ew, BinaryOp, CmpOp, UnaryOp};
use kernels::pool::{self, Pool2dGeom};
use kernels::reduce::{self as rd, ReduceOp};
use kernels::{norm, softmax, Real};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A value passed to a kernel as its little-endian bytes.
trait Raw: Copy {
    fn raw(self, out: &mut Vec<u8>);
    fn from_raw(b: &[u8]) -> Self;
    const SIZE: usize;
}
macro_rules! raw {
    ($($t:ty),*) => {$(
        impl Raw for $t {
            fn raw(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn from_raw(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().unwrap())
            }
            const SIZE: usize = std::mem::size_of::<$t>();
        }
    )*};
}
raw!(u8, u16, i32, u32, i64, u64, f32, f64);

/// An output element, compared as f64 (exact for every value the tests produce).
trait Num: Raw + std::fmt::Debug + 'static {
    fn f(self) -> f64;
}
macro_rules! num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn f(self) -> f64 {
                self as f64
            }
        }
    )*};
}
num!(u8, u16, i64, f32, f64);

/// A float element type: the kernel-name suffix and the tolerance of kernels that may round
/// differently (libm, FMA contraction, summation order).
trait F: Real + Num {
    const NAME: &'static str;
    const TOL: f64;
}
impl F for f32 {
    const NAME: &'static str = "f32";
    const TOL: f64 = 2e-5;
}
impl F for f64 {
    const NAME: &'static str = "f64";
    const TOL: f64 = 1e-12;
}

/// `StridedLayout` as `common.cuh` lays it out (repr(C): 4 bytes of padding before `strides`).
fn layout_bytes(l: &StridedLayout) -> Vec<u8> {
    let mut v = Vec::new();
    l.ndim.raw(&mut v);
    l.dims.iter().for_each(|d| d.raw(&mut v));
    v.extend_from_slice(&[0; 4]);
    l.strides.iter().for_each(|s| s.raw(&mut v));
    l.offset.raw(&mut v);
    assert_eq!(v.len(), 112);
    v
}

fn pack(shape: &[usize], strides: &[usize], offset: usize) -> StridedLayout {
    StridedLayout::pack(shape, strides, offset).unwrap()
}

fn contig(n: usize) -> StridedLayout {
    pack(&[n], &[1], 0)
}

/// One kernel parameter.
enum A {
    /// A pointer to the start of a buffer.
    P(usize),
    /// A by-value parameter's bytes.
    V(Vec<u8>),
}
fn v<T: Raw>(x: T) -> A {
    let mut b = Vec::new();
    x.raw(&mut b);
    A::V(b)
}
fn l(x: &StridedLayout) -> A {
    A::V(layout_bytes(x))
}

type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

/// The driver script being written, and the checks of its output buffers.
#[derive(Default)]
struct Script {
    text: String,
    buffers: usize,
    checks: Vec<(String, usize, Check)>,
    launches: usize,
}

impl Script {
    fn buf<T: Raw>(&mut self, data: &[T]) -> usize {
        let mut b = Vec::new();
        data.iter().for_each(|x| x.raw(&mut b));
        let id = self.buffers;
        self.buffers += 1;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        writeln!(self.text, "buf {id} {}", if hex.is_empty() { "-" } else { &hex }).unwrap();
        id
    }
    fn zeros<T: Raw + Default>(&mut self, n: usize) -> usize {
        self.buf(&vec![T::default(); n])
    }
    fn run(&mut self, label: &str, kernel: &str, grid: (u32, u32, u32), block: (u32, u32, u32), args: &[A]) {
        self.launches += 1;
        let label = label.replace(' ', "_");
        write!(
            self.text,
            "run {label} {kernel} {} {} {} {} {} {} {}",
            grid.0,
            grid.1,
            grid.2,
            block.0,
            block.1,
            block.2,
            args.len()
        )
        .unwrap();
        for a in args {
            match a {
                A::P(id) => write!(self.text, " p{id}").unwrap(),
                A::V(b) => {
                    self.text.push_str(" x");
                    b.iter().for_each(|x| write!(self.text, "{x:02x}").unwrap());
                }
            }
        }
        self.text.push('\n');
    }
    /// A 1-D grid-stride launch over `n` elements (`kernels::cuda::launch_1d`).
    fn run_1d(&mut self, label: &str, kernel: &str, n: usize, args: &[A]) {
        self.run(label, kernel, (blocks_1d(n), 1, 1), (BLOCK, 1, 1), args);
    }
    /// Checks buffer `id` against `want`: exactly (`tol == 0`) or within `tol` relative to
    /// `max(1, |want|)`; NaN matches NaN.
    fn expect<T: Num>(&mut self, what: &str, id: usize, want: Vec<T>, tol: f64) {
        writeln!(self.text, "out {id}").unwrap();
        let check = move |b: &[u8]| {
            let got: Vec<T> = b.chunks(T::SIZE).map(T::from_raw).collect();
            if got.len() != want.len() {
                return Err(format!("{} elements, want {}", got.len(), want.len()));
            }
            let mut bad = Vec::new();
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let (gf, wf) = (g.f(), w.f());
                let ok = if tol == 0.0 {
                    gf.to_bits() == wf.to_bits() || gf == wf || (gf.is_nan() && wf.is_nan())
                } else {
                    (gf.is_nan() && wf.is_nan()) || gf == wf || (gf - wf).abs() <= tol * wf.abs().max(1.0)
                };
                if !ok {
                    bad.push(format!("[{i}] got {g:?} want {w:?}"));
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(format!("{} of {} elements differ: {}", bad.len(), want.len(), bad[..bad.len().min(5)].join(", ")))
            }
        };
        self.checks.push((what.to_string(), self.checks.len(), Box::new(check)));
    }
}

/// A small deterministic generator of test values.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
    fn vec<T: F>(&mut self, n: usize, lo: f64, hi: f64) -> Vec<T> {
        (0..n).map(|_| <T as Real>::from_f64(lo + (hi - lo) * self.next())).collect()
    }
}

fn of<T: F>(x: f64) -> T {
    <T as Real>::from_f64(x)
}

// ---- copy.cu ----------------------------------------------------------------------------------

fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

fn copy_cases(s: &mut Script, rng: &mut Lcg) {
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

fn elementwise_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
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
    for op in [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ] {
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

// ---- reduce.cu, softmax.cu --------------------------------------------------------------------

fn reduce_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    let t = T::NAME;
    let ops = [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::LogSumExp, ReduceOp::Norm2];
    for (rows, len) in [(3, 5), (2, 257), (1, 700), (5, 33)] {
        let x: Vec<T> = rng.vec(rows * len, -3.0, 3.0);
        let mut buf = vec![of::<T>(99.0); 3]; // data at an offset
        buf.extend(&x);
        let xb = s.buf(&buf);
        let grid = (rows as u32, 1, 1);
        let block = (row_threads(len), 1, 1);
        for op in ops {
            let mut want = vec![T::zero(); rows];
            rd::reduce_rows(op, &x, rows, len, &mut want);
            let out = s.zeros::<T>(rows);
            let args = [A::P(xb), v(3u64), A::P(out), v(rows as u64), v(len as u64), v(reduce_code(op))];
            s.run(&format!("{op:?} {rows}x{len}"), &format!("reduce_rows_{t}"), grid, block, &args);
            s.expect(&format!("reduce_rows_{t} {op:?} {rows}x{len}"), out, want, 10.0 * T::TOL);
        }
        // Arg-reduce on few distinct values (ties) with a NaN in the last row.
        let mut xi: Vec<T> = (0..rows * len).map(|_| of((rng.next() * 5.0).floor())).collect();
        xi[rows * len - 1 - len / 2] = T::nan();
        for max in [true, false] {
            let mut want = vec![0i64; rows];
            rd::arg_reduce_rows(&xi, rows, len, max, &mut want);
            let (xb, out) = (s.buf(&xi), s.zeros::<i64>(rows));
            let args = [A::P(xb), v(0u64), A::P(out), v(rows as u64), v(len as u64), v(max as i32)];
            s.run(&format!("arg {rows}x{len}"), &format!("arg_reduce_rows_{t}"), grid, block, &args);
            s.expect(&format!("arg_reduce_rows_{t} max={max} {rows}x{len}"), out, want.clone(), 0.0);
            let mask = s.zeros::<T>(rows * len);
            let idx = s.buf(&want);
            s.run_1d(
                "arg_mask",
                &format!("arg_mask_{t}"),
                rows,
                &[A::P(idx), A::P(mask), v(rows as u64), v(len as u64)],
            );
            let mut wm = vec![T::zero(); rows * len];
            (0..rows).for_each(|r| wm[r * len + want[r] as usize] = T::one());
            s.expect(&format!("arg_mask_{t} {rows}x{len}"), mask, wm, 0.0);
        }
    }
}

fn softmax_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    let t = T::NAME;
    for (rows, d) in [(3, 7), (2, 300), (4, 64)] {
        let x: Vec<T> = rng.vec(rows * d, -5.0, 5.0);
        let dy: Vec<T> = rng.vec(rows * d, -1.0, 1.0);
        // kernels::cuda::softmax::row_launch
        let (grid, block) = ((rows as u32, 1, 1), (d.next_power_of_two().clamp(32, 256) as u32, 1, 1));
        for log in [false, true] {
            let (mut y, mut dx) = (vec![T::zero(); rows * d], vec![T::zero(); rows * d]);
            if log {
                softmax::log_softmax_rows(&x, rows, d, &mut y);
                softmax::log_softmax_rows_backward(&y, &dy, rows, d, &mut dx);
            } else {
                softmax::softmax_rows(&x, rows, d, &mut y);
                softmax::softmax_rows_backward(&y, &dy, rows, d, &mut dx);
            }
            let (xb, yb, dyb) = (s.buf(&x), s.buf(&y), s.buf(&dy));
            let (gy, gdx) = (s.zeros::<T>(rows * d), s.zeros::<T>(rows * d));
            let label = format!("log={log} {rows}x{d}");
            let tail = [v(rows as u64), v(d as u32), v(log as i32)];
            let mut args = vec![A::P(xb), A::P(gy)];
            args.extend(tail.iter().map(|a| match a {
                A::V(b) => A::V(b.clone()),
                _ => unreachable!(),
            }));
            s.run(&label, &format!("softmax_{t}"), grid, block, &args);
            s.expect(&format!("softmax_{t} {label}"), gy, y, 10.0 * T::TOL);
            let mut args = vec![A::P(yb), A::P(dyb), A::P(gdx)];
            args.extend(tail);
            s.run(&label, &format!("softmax_backward_{t}"), grid, block, &args);
            s.expect(&format!("softmax_backward_{t} {label}"), gdx, dx, 10.0 * T::TOL);
        }
    }
}

// ---- norm.cu ----------------------------------------------------------------------------------

const NORM_THREADS: u32 = 256; // kernels::cuda::norm::THREADS
const CHUNK_ROWS: usize = 64; // kernels::cuda::norm::CHUNK_ROWS

/// Layer norm (`groups = s = 1`) or group norm over `[n, c, s]` (`rows = n·groups`), forward,
/// input gradient and gamma/beta gradients, as `kernels::cuda::norm` launches them.
fn norm_case<T: F>(s: &mut Script, rng: &mut Lcg, (n, c, sp, groups): (usize, usize, usize, usize)) {
    let t = T::NAME;
    let group = groups > 0;
    let (rows, d, g, ss, width) = if group { (n * groups, c / groups * sp, groups, sp, c) } else { (n, c, 1, 1, c) };
    let total = rows * d;
    let x: Vec<T> = rng.vec(total, -2.0, 3.0);
    let dy: Vec<T> = rng.vec(total, -1.0, 1.0);
    let gamma: Vec<T> = rng.vec(width, 0.5, 1.5);
    let beta: Vec<T> = rng.vec(width, -0.5, 0.5);
    let eps: T = of(1e-5);
    let (mut y, mut mean, mut rstd) = (vec![T::zero(); total], vec![T::zero(); rows], vec![T::zero(); rows]);
    let (mut dx, mut dg, mut db) = (vec![T::zero(); total], vec![T::zero(); width], vec![T::zero(); width]);
    if group {
        norm::group_norm_forward(&x, n, c, sp, groups, Some(&gamma), Some(&beta), eps, &mut y, &mut mean, &mut rstd);
        norm::group_norm_backward(
            &x,
            &dy,
            n,
            c,
            sp,
            groups,
            Some(&gamma),
            &mean,
            &rstd,
            &mut dx,
            Some(&mut dg),
            Some(&mut db),
        );
    } else {
        norm::layer_norm_forward(&x, rows, d, Some(&gamma), Some(&beta), eps, &mut y, &mut mean, &mut rstd);
        norm::layer_norm_backward(&x, &dy, rows, d, Some(&gamma), &mean, &rstd, &mut dx, Some(&mut dg), Some(&mut db));
    }
    let label = format!("{}{n}x{c}x{sp}g{groups}", if group { "group " } else { "layer " });
    let per_row = |r: usize| ((r as u32).max(1), 1, 1);
    let block = (NORM_THREADS, 1, 1);
    // x is read through a view: the data sits at offset 5 of its buffer.
    let mut xs = vec![of::<T>(-9.0); 5];
    xs.extend(&x);
    let (xb, dyb, gb, bb) = (s.buf(&xs), s.buf(&dy), s.buf(&gamma), s.buf(&beta));
    let (lx, lc, lw, lr) = (pack(&[total], &[1], 5), contig(total), contig(width), contig(rows));
    let (gy, gmean, grstd, gdx) = (s.zeros::<T>(total), s.zeros::<T>(rows), s.zeros::<T>(rows), s.zeros::<T>(total));
    let dims = [v(rows as u64), v(d as u64), v(g as u64), v(ss as u64)];
    let dims = || dims.iter().map(|a| if let A::V(b) = a { A::V(b.clone()) } else { unreachable!() });
    let mut args = vec![A::P(xb), l(&lx), A::P(gb), l(&lw), A::P(bb), l(&lw), A::P(gy), A::P(gmean), A::P(grstd)];
    args.extend(dims());
    args.extend([v(1i32), v(eps)]);
    s.run(&label, &format!("norm_rows_forward_{t}"), per_row(rows), block, &args);
    s.expect(&format!("norm_rows_forward_{t} {label} y"), gy, y, 10.0 * T::TOL);
    s.expect(&format!("norm_rows_forward_{t} {label} mean"), gmean, mean.clone(), 10.0 * T::TOL);
    s.expect(&format!("norm_rows_forward_{t} {label} rstd"), grstd, rstd.clone(), 10.0 * T::TOL);
    // The backward passes get the CPU's mean and rstd.
    let (mb, rb) = (s.buf(&mean), s.buf(&rstd));
    let mut args =
        vec![A::P(xb), l(&lx), A::P(dyb), l(&lc), A::P(gb), l(&lw), A::P(mb), l(&lr), A::P(rb), l(&lr), A::P(gdx)];
    args.extend(dims());
    args.push(v(1i32));
    s.run(&label, &format!("norm_rows_backward_dx_{t}"), per_row(rows), block, &args);
    s.expect(&format!("norm_rows_backward_dx_{t} {label}"), gdx, dx, 100.0 * T::TOL);
    let (chunks, pg, pb);
    let stats = [A::P(xb), l(&lx), A::P(dyb), l(&lc), A::P(mb), l(&lr), A::P(rb), l(&lr)];
    if group {
        chunks = n;
        (pg, pb) = (s.zeros::<T>(n * c), s.zeros::<T>(n * c));
        let mut args = Vec::from(stats);
        args.extend([A::P(pg), A::P(pb), v(n as u64), v(c as u64), v(sp as u64), v(groups as u64)]);
        s.run(&label, &format!("gn_param_partials_{t}"), per_row(n * c), block, &args);
    } else {
        chunks = rows.div_ceil(CHUNK_ROWS);
        (pg, pb) = (s.zeros::<T>(chunks * d), s.zeros::<T>(chunks * d));
        let mut args = Vec::from(stats);
        args.extend([A::P(pg), A::P(pb), v(rows as u64), v(d as u64), v(1i32)]);
        s.run_1d(&label, &format!("norm_param_partials_{t}"), chunks * d, &args);
    }
    for (part, want, what) in [(pg, dg, "dgamma"), (pb, db, "dbeta")] {
        let out = s.zeros::<T>(width);
        s.run_1d(&label, &format!("colsum_{t}"), width, &[A::P(part), A::P(out), v(chunks as u64), v(width as u64)]);
        s.expect(&format!("{label} {what} ({t})"), out, want, 100.0 * T::TOL);
    }
}

// ---- gemm.cu, conv.cu, pool.cu ----------------------------------------------------------------

/// `GemmDims` of `kernels/cuda/gemm.cuh` (and `kernels::cuda::gemm::GemmDims`).
struct Gemm {
    a: (StridedLayout, usize, usize),
    b: (StridedLayout, usize, usize),
    c: (StridedLayout, usize),
    m: usize,
    n: usize,
    k: usize,
    batch: usize,
    accumulate: bool,
}
impl Gemm {
    fn bytes(&self) -> Vec<u8> {
        let mut v = layout_bytes(&self.a.0);
        v.extend(layout_bytes(&self.b.0));
        v.extend(layout_bytes(&self.c.0));
        for x in [self.a.1, self.a.2, self.b.1, self.b.2, self.c.1] {
            (x as i64).raw(&mut v);
        }
        for x in [self.m as i32, self.n as i32, self.k as i32, self.batch as i32, self.accumulate as i32, 0] {
            x.raw(&mut v);
        }
        assert_eq!(v.len(), 400);
        v
    }
}

fn gemm_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    let t = T::NAME;
    // (batch, m, n, k, A transposed, B transposed, accumulate, A broadcast over the batch)
    let cases = [
        (1, 5, 7, 3, false, false, false, false),
        (2, 70, 9, 20, true, false, true, false),
        (3, 17, 66, 33, false, true, false, true),
        (1, 1, 1, 130, true, true, false, false),
    ];
    for (batch, m, n, k, ta, tb, acc, bcast) in cases {
        let a_items = if bcast { 1 } else { batch };
        let a: Vec<T> = rng.vec(a_items * m * k + 1, -1.0, 1.0);
        let b: Vec<T> = rng.vec(batch * k * n, -1.0, 1.0);
        let c0: Vec<T> = rng.vec(batch * m * n + 2, -1.0, 1.0);
        let (ars, acs) = if ta { (1, m) } else { (k, 1) };
        let (brs, bcs) = if tb { (1, k) } else { (n, 1) };
        let mut want = c0.clone();
        for z in 0..batch {
            let a0 = 1 + if bcast { 0 } else { z * m * k };
            for i in 0..m {
                for j in 0..n {
                    let mut sum = 0.0f64;
                    for p in 0..k {
                        sum += a[a0 + i * ars + p * acs].f() * b[z * k * n + p * brs + j * bcs].f();
                    }
                    let w = &mut want[2 + z * m * n + i * n + j];
                    *w = of::<T>(sum + if acc { (*w).f() } else { 0.0 });
                }
            }
        }
        let spec = Gemm {
            a: (pack(&[batch], &[if bcast { 0 } else { m * k }], 1), ars, acs),
            b: (pack(&[batch], &[k * n], 0), brs, bcs),
            c: (pack(&[batch], &[m * n], 2), n),
            m,
            n,
            k,
            batch,
            accumulate: acc,
        };
        let (ab, bb, cb) = (s.buf(&a), s.buf(&b), s.buf(&c0));
        // kernels::cuda::gemm::GemmSpec::launch: one 256-thread block per 64×64 tile and item.
        let grid = (n.div_ceil(64) as u32, m.div_ceil(64) as u32, batch as u32);
        let label = format!("{batch}x{m}x{n}x{k} ta={ta} tb={tb} acc={acc} bcast={bcast}");
        s.run(&label, &format!("gemm_{t}"), grid, (256, 1, 1), &[A::P(ab), A::P(bb), A::P(cb), A::V(spec.bytes())]);
        s.expect(&format!("gemm_{t} {label}"), cb, want, T::TOL * (k as f64).sqrt() * 4.0);
    }
}

fn conv_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    let t = T::NAME;
    let geoms = [
        Conv2dGeom {
            n: 2,
            c_in: 3,
            h: 5,
            w: 6,
            c_out: 4,
            kh: 3,
            kw: 3,
            stride: (1, 1),
            padding: (1, 1),
            dilation: (1, 1),
            groups: 1,
        },
        Conv2dGeom {
            n: 1,
            c_in: 4,
            h: 7,
            w: 5,
            c_out: 2,
            kh: 3,
            kw: 2,
            stride: (2, 1),
            padding: (1, 0),
            dilation: (1, 2),
            groups: 2,
        },
    ];
    for g in geoms {
        let (ho, wo) = (g.out_h(), g.out_w());
        let dims: Vec<u8> = [g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.stride.0, g.stride.1, g.padding.0]
            .into_iter()
            .chain([g.padding.1, g.dilation.0, g.dilation.1, ho, wo, g.groups])
            .flat_map(|x| (x as i32).to_le_bytes())
            .collect(); // kernels::cuda::conv::ConvDims::new
        let (img, cl) = (g.c_in * g.h * g.w, g.col_rows() * g.col_cols());
        let x: Vec<T> = rng.vec(g.n * img, -1.0, 1.0);
        let cols_in: Vec<T> = rng.vec(g.n * cl, -1.0, 1.0);
        let (mut want_cols, mut want_dx) = (vec![T::zero(); g.n * cl], vec![T::zero(); g.n * img]);
        for i in 0..g.n {
            conv::im2col(&g, &x[i * img..(i + 1) * img], &mut want_cols[i * cl..(i + 1) * cl]);
            conv::col2im(&g, &cols_in[i * cl..(i + 1) * cl], &mut want_dx[i * img..(i + 1) * img]);
        }
        // ColLayout::image_major: image i's [col_rows, col_cols] block at i·col_rows·col_cols.
        let tail = || [A::V(dims.clone()), v(g.n as u32), v(cl as u64), v(g.col_cols() as u64)];
        let label = format!("{g:?}");
        let (xb, cb, cib, dxb) = (s.buf(&x), s.zeros::<T>(g.n * cl), s.buf(&cols_in), s.zeros::<T>(g.n * img));
        let mut args = vec![A::P(xb), A::P(cb)];
        args.extend(tail());
        s.run_1d(&label, &format!("im2col_{t}"), g.n * cl, &args);
        s.expect(&format!("im2col_{t} {label}"), cb, want_cols, 0.0);
        let mut args = vec![A::P(cib), A::P(dxb)];
        args.extend(tail());
        s.run_1d(&label, &format!("col2im_{t}"), g.n * img, &args);
        s.expect(&format!("col2im_{t} {label}"), dxb, want_dx, T::TOL);
    }
}

fn pool_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    let t = T::NAME;
    let geoms = [
        Pool2dGeom { n: 2, c: 3, h: 6, w: 5, kh: 2, kw: 2, stride: (2, 2), padding: (0, 0) },
        Pool2dGeom { n: 1, c: 2, h: 7, w: 7, kh: 3, kw: 3, stride: (2, 1), padding: (1, 1) },
    ];
    for g in geoms {
        let (ho, wo) = (g.out_h(), g.out_w());
        let dims: Vec<u8> = [g.n, g.c, g.h, g.w, g.kh, g.kw, g.stride.0, g.stride.1, g.padding.0, g.padding.1, ho, wo]
            .into_iter()
            .flat_map(|x| (x as i32).to_le_bytes())
            .collect(); // kernels::cuda::pool::PoolDims::new
        let (ni, no) = (g.n * g.c * g.h * g.w, g.n * g.c * ho * wo);
        // Few distinct values, so windows hold ties (first maximum wins).
        let x: Vec<T> = (0..ni).map(|_| of((rng.next() * 6.0).floor())).collect();
        let dy: Vec<T> = rng.vec(no, -1.0, 1.0);
        let (mut y, mut arg, mut dx) = (vec![T::zero(); no], vec![0usize; no], vec![T::zero(); ni]);
        pool::max_pool2d_forward(&g, &x, &mut y, &mut arg);
        pool::max_pool2d_backward(&g, &dy, &arg, &mut dx);
        let (mut ya, mut dxa) = (vec![T::zero(); no], vec![T::zero(); ni]);
        pool::avg_pool2d_forward(&g, &x, &mut ya);
        pool::avg_pool2d_backward(&g, &dy, &mut dxa);
        let inv: T = T::one() / of::<T>((g.kh * g.kw) as f64); // gemm::Float::recip_of
        let label = format!("{g:?}");
        let (xb, dyb) = (s.buf(&x), s.buf(&dy));
        let (gy, garg, gdx, gya, gdxa) =
            (s.zeros::<T>(no), s.zeros::<i64>(no), s.zeros::<T>(ni), s.zeros::<T>(no), s.zeros::<T>(ni));
        s.run_1d(&label, &format!("max_pool2d_{t}"), no, &[A::P(xb), A::P(gy), A::P(garg), A::V(dims.clone())]);
        s.expect(&format!("max_pool2d_{t} {label} y"), gy, y, 0.0);
        s.expect(&format!("max_pool2d_{t} {label} arg"), garg, arg.iter().map(|&i| i as i64).collect(), 0.0);
        let argb = s.buf(&arg.iter().map(|&i| i as i64).collect::<Vec<_>>());
        s.run_1d(
            &label,
            &format!("max_pool2d_backward_{t}"),
            ni,
            &[A::P(dyb), A::P(argb), A::P(gdx), A::V(dims.clone())],
        );
        s.expect(&format!("max_pool2d_backward_{t} {label}"), gdx, dx, T::TOL);
        s.run_1d(&label, &format!("avg_pool2d_{t}"), no, &[A::P(xb), A::P(gya), A::V(dims.clone()), v(inv)]);
        s.expect(&format!("avg_pool2d_{t} {label}"), gya, ya, T::TOL);
        s.run_1d(&label, &format!("avg_pool2d_backward_{t}"), ni, &[A::P(dyb), A::P(gdxa), A::V(dims), v(inv)]);
        s.expect(&format!("avg_pool2d_backward_{t} {label}"), gdxa, dxa, T::TOL);
    }
}

// ---- the test -----------------------------------------------------------------------------------

fn cases<T: F>(s: &mut Script, rng: &mut Lcg) {
    elementwise_cases::<T>(s, rng);
    reduce_cases::<T>(s, rng);
    softmax_cases::<T>(s, rng);
    norm_case::<T>(s, rng, (5, 40, 1, 0));
    norm_case::<T>(s, rng, (70, 300, 1, 0)); // two chunks of rows, more than one pass of threads
    norm_case::<T>(s, rng, (2, 6, 10, 3));
    gemm_cases::<T>(s, rng);
    conv_cases::<T>(s, rng);
    pool_cases::<T>(s, rng);
}

/// `g++ -std=c++20` runs, or why not.
fn compiler() -> Result<(), String> {
    let ok = Command::new("g++")
        .args(["-std=c++20", "-fsyntax-only", "-x", "c++", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if ok.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&ok.stderr).into_owned())
    }
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn cuda_kernels_match_the_cpu_under_host_emulation() {
    if let Err(e) = compiler() {
        eprintln!("skipped: g++ with C++20 not found ({})", e.trim());
        return;
    }
    let start = std::time::Instant::now();
    let emu = Path::new(env!("CARGO_MANIFEST_DIR")).join("cuda/emu");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = TempDir(std::env::temp_dir().join(format!("cuda-emu-{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let driver = dir.0.join("driver");
    let cc = Command::new("g++")
        .args(["-std=c++20", "-O1", "-ffp-contract=off", "-w", "-I"])
        .arg(&emu)
        .arg(emu.join("driver.cpp"))
        .arg("-o")
        .arg(&driver)
        .output()
        .unwrap();
    assert!(cc.status.success(), "compiling the emulation driver failed:\n{}", String::from_utf8_lossy(&cc.stderr));
    let compiled = start.elapsed();

    let mut s = Script::default();
    let mut rng = Lcg(42);
    copy_cases(&mut s, &mut rng);
    cases::<f32>(&mut s, &mut rng);
    cases::<f64>(&mut s, &mut rng);
    let (script, out) = (dir.0.join("script.txt"), dir.0.join("out.txt"));
    std::fs::write(&script, &s.text).unwrap();
    let run = Command::new(&driver).arg(&script).arg(&out).output().unwrap();
    assert!(
        run.status.success(),
        "the emulation driver failed ({}):\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );

    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), s.checks.len(), "one output line per checked buffer");
    let mut failures = Vec::new();
    for ((what, i, check), line) in s.checks.iter().zip(&lines) {
        let hex = line.split_once(' ').unwrap().1;
        let bytes: Vec<u8> = if hex == "-" {
            Vec::new()
        } else {
            (0..hex.len() / 2).map(|j| u8::from_str_radix(&hex[2 * j..2 * j + 2], 16).unwrap()).collect()
        };
        if let Err(e) = check(&bytes) {
            failures.push(format!("#{i} {what}: {e}"));
        }
    }
    eprintln!(
        "emulated {} launches, {} checked outputs: compile {:.1}s, total {:.1}s",
        s.launches,
        s.checks.len(),
        compiled.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} emulated kernel outputs differ from the CPU:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
