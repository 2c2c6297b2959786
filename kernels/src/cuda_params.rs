//! The pure side of the CUDA backend's kernel parameters: the [`StridedLayout`] parameter block and
//! the operation codes and launch widths the `.cu` kernels expect. Nothing here needs `cudarc`, so
//! it is compiled without the `cuda` feature: the host-emulated kernel tests
//! (`tests/cuda_emulated.rs`) pass the very values the launch wrappers in `kernels::cuda` pass.
//! `kernels::cuda` re-exports every item at its old path.
use crate::elementwise::{BinaryOp, CmpOp, UnaryOp};
use crate::reduce::ReduceOp;

/// Most dimensions a strided kernel parameter holds (after merging, see [`StridedLayout::pack`]).
pub const MAX_DIMS: usize = 8;

/// A view's shape, strides and offset as one by-value kernel parameter; mirrors `StridedLayout` in
/// `kernels/cuda/common.cuh` field for field.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StridedLayout {
    pub ndim: u32,
    pub dims: [u32; MAX_DIMS],
    pub strides: [i64; MAX_DIMS],
    pub offset: i64,
}

/// Threads per block of the 1-D elementwise kernels.
pub const BLOCK: u32 = 256;

/// The blocks of a grid-stride launch over `n` elements: enough to cover `n`, capped at 2^20
/// (the kernels loop over the rest).
pub fn blocks_1d(n: usize) -> u32 {
    n.div_ceil(BLOCK as usize).clamp(1, 1 << 20) as u32
}

impl StridedLayout {
    /// Packs a view, first dropping size-1 dimensions and merging neighbours that are laid out
    /// back to back, so most views fit in [`MAX_DIMS`] and the kernel's index loop is short. `None`
    /// when the merged view still has more than [`MAX_DIMS`] dims or a dim above `u32::MAX`.
    pub fn pack(shape: &[usize], strides: &[usize], offset: usize) -> Option<StridedLayout> {
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(shape.len());
        for (&n, &s) in shape.iter().zip(strides) {
            if n == 1 {
                continue;
            }
            match merged.last_mut() {
                Some((pn, ps)) if *ps == s * n => {
                    *pn *= n;
                    *ps = s;
                }
                _ => merged.push((n, s)),
            }
        }
        if merged.len() > MAX_DIMS || merged.iter().any(|&(n, _)| n > u32::MAX as usize) {
            return None;
        }
        let mut l = StridedLayout { ndim: merged.len() as u32, dims: [1; MAX_DIMS], strides: [0; MAX_DIMS], offset: 0 };
        for (d, &(n, s)) in merged.iter().enumerate() {
            l.dims[d] = n as u32;
            l.strides[d] = s as i64;
        }
        l.offset = offset as i64;
        Some(l)
    }
}

/// The kernel code of a unary op and its three scalar parameters (in f64; the wrapper rounds
/// them to the element type as the CPU does with `Real::from_f64`):
/// `Powf(p)` → `[p, p − 1, 1 if p == 0]` (the derivative's exponent is computed in f64 like
/// the CPU's `c(p − 1.0)`, and the `p == 0` test is made on the f64 `p`), `Clamp(lo, hi)` →
/// `[lo, hi, 0]`, `Affine(a, b)` → `[a, b, 0]`, every other op → zeros.
pub fn unary_code(op: UnaryOp) -> (i32, [f64; 3]) {
    use UnaryOp::*;
    match op {
        Neg => (0, [0.0; 3]),
        Abs => (1, [0.0; 3]),
        Exp => (2, [0.0; 3]),
        Log => (3, [0.0; 3]),
        Log1p => (4, [0.0; 3]),
        Sqrt => (5, [0.0; 3]),
        Rsqrt => (6, [0.0; 3]),
        Square => (7, [0.0; 3]),
        Recip => (8, [0.0; 3]),
        Sin => (9, [0.0; 3]),
        Cos => (10, [0.0; 3]),
        Tanh => (11, [0.0; 3]),
        Sigmoid => (12, [0.0; 3]),
        Relu => (13, [0.0; 3]),
        Silu => (14, [0.0; 3]),
        GeluTanh => (15, [0.0; 3]),
        GeluErf => (16, [0.0; 3]),
        Softplus => (17, [0.0; 3]),
        Powf(p) => (18, [p, p - 1.0, if p == 0.0 { 1.0 } else { 0.0 }]),
        Clamp(lo, hi) => (19, [lo, hi, 0.0]),
        Affine(a, b) => (20, [a, b, 0.0]),
    }
}

/// The kernel code of a binary op.
pub fn binary_code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Pow => 4,
        BinaryOp::Maximum => 5,
        BinaryOp::Minimum => 6,
    }
}

/// The kernel code of a comparison.
pub fn cmp_code(op: CmpOp) -> i32 {
    match op {
        CmpOp::Eq => 0,
        CmpOp::Lt => 1,
        CmpOp::Le => 2,
        CmpOp::Gt => 3,
        CmpOp::Ge => 4,
    }
}

/// Most threads per row (the kernels' static shared arrays hold this many partials).
pub const REDUCE_THREADS: u32 = 256;

/// The kernel code of a reduction (the `.cu` header repeats the table).
pub fn reduce_code(op: ReduceOp) -> i32 {
    match op {
        ReduceOp::Sum => 0,
        ReduceOp::Mean => 1,
        ReduceOp::Max => 2,
        ReduceOp::Min => 3,
        ReduceOp::LogSumExp => 4,
        ReduceOp::Norm2 => 5,
    }
}

/// Threads per row for rows of `len` elements: a power of two from 32 (one warp) to
/// [`REDUCE_THREADS`], the smallest that covers the row when it is shorter.
pub fn row_threads(len: usize) -> u32 {
    (len.next_power_of_two().clamp(32, REDUCE_THREADS as usize)) as u32
}
