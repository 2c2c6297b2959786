//! The driver script, parameter bytes and test values shared by the case files.
pub(crate) use kernels::conv::{self, Conv2dGeom};
pub(crate) use kernels::cuda_params::{
    binary_code, blocks_1d, cmp_code, reduce_code, row_threads, unary_code, StridedLayout, BLOCK,
};
pub(crate) use kernels::elementwise::{self as ew, BinaryOp, CmpOp, UnaryOp};
pub(crate) use kernels::pool::{self, Pool2dGeom};
pub(crate) use kernels::reduce::{self as rd, ReduceOp};
pub(crate) use kernels::{norm, softmax, Real};
pub(crate) use std::fmt::Write as _;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::Command;

/// A value passed to a kernel as its little-endian bytes.
pub(crate) trait Raw: Copy {
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
pub(crate) trait Num: Raw + std::fmt::Debug + 'static {
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
pub(crate) trait F: Real + Num {
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
pub(crate) fn layout_bytes(l: &StridedLayout) -> Vec<u8> {
    let mut v = Vec::new();
    l.ndim.raw(&mut v);
    l.dims.iter().for_each(|d| d.raw(&mut v));
    v.extend_from_slice(&[0; 4]);
    l.strides.iter().for_each(|s| s.raw(&mut v));
    l.offset.raw(&mut v);
    assert_eq!(v.len(), 112);
    v
}

pub(crate) fn pack(shape: &[usize], strides: &[usize], offset: usize) -> StridedLayout {
    StridedLayout::pack(shape, strides, offset).unwrap()
}

pub(crate) fn contig(n: usize) -> StridedLayout {
    pack(&[n], &[1], 0)
}

/// One kernel parameter.
pub(crate) enum A {
    /// A pointer to the start of a buffer.
    P(usize),
    /// A by-value parameter's bytes.
    V(Vec<u8>),
}
pub(crate) fn v<T: Raw>(x: T) -> A {
    let mut b = Vec::new();
    x.raw(&mut b);
    A::V(b)
}
pub(crate) fn l(x: &StridedLayout) -> A {
    A::V(layout_bytes(x))
}

pub(crate) type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

/// The driver script being written, and the checks of its output buffers.
#[derive(Default)]
pub(crate) struct Script {
    pub(crate) text: String,
    pub(crate) buffers: usize,
    pub(crate) checks: Vec<(String, usize, Check)>,
    pub(crate) launches: usize,
}

impl Script {
    pub(crate) fn buf<T: Raw>(&mut self, data: &[T]) -> usize {
        let mut b = Vec::new();
        data.iter().for_each(|x| x.raw(&mut b));
        let id = self.buffers;
        self.buffers += 1;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        writeln!(self.text, "buf {id} {}", if hex.is_empty() { "-" } else { &hex }).unwrap();
        id
    }
    pub(crate) fn zeros<T: Raw + Default>(&mut self, n: usize) -> usize {
        self.buf(&vec![T::default(); n])
    }
    pub(crate) fn run(&mut self, label: &str, kernel: &str, grid: (u32, u32, u32), block: (u32, u32, u32), args: &[A]) {
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
    pub(crate) fn run_1d(&mut self, label: &str, kernel: &str, n: usize, args: &[A]) {
        self.run(label, kernel, (blocks_1d(n), 1, 1), (BLOCK, 1, 1), args);
    }
    /// Checks buffer `id` against `want`: exactly (`tol == 0`) or within `tol` relative to
    /// `max(1, |want|)`; NaN matches NaN.
    pub(crate) fn expect<T: Num>(&mut self, what: &str, id: usize, want: Vec<T>, tol: f64) {
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
pub(crate) struct Lcg(pub(crate) u64);
impl Lcg {
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
    pub(crate) fn vec<T: F>(&mut self, n: usize, lo: f64, hi: f64) -> Vec<T> {
        (0..n).map(|_| <T as Real>::from_f64(lo + (hi - lo) * self.next())).collect()
    }
}

pub(crate) fn of<T: F>(x: f64) -> T {
    <T as Real>::from_f64(x)
}
