//! Layer, RMS and group normalisation over contiguous rows.
//!
//! Layer norm, per row `x: [d]`: `mean = Σx/d`, `var = Σ(x-mean)²/d` (biased, as PyTorch),
//! `rstd = 1/sqrt(var+eps)`, `xhat = (x-mean)·rstd`, `y = xhat·gamma + beta`.
//! Backward with `g = dy·gamma`: `dx = rstd·(g - mean(g) - xhat·mean(g·xhat))`,
//! `dgamma = Σ_rows dy·xhat`, `dbeta = Σ_rows dy`.
//!
//! RMS norm is the same without centring: `rstd = 1/sqrt(Σx²/d + eps)`, `xhat = x·rstd`,
//! `y = xhat·gamma`, `dx = rstd·(g - xhat·mean(g·xhat))`, `dgamma = Σ_rows dy·xhat`.
//!
//! Group norm, `x: [n, c, s]`: layer norm over each `(n, group)` block of `(c/groups)·s`
//! contiguous elements, with per-channel gamma/beta; `dgamma[c] = Σ_{n,s} dy·xhat`.
//! So all three run on one core: "rows" of length `d` (a block for group norm) whose element `i`
//! uses the affine channel `c0(row) + i / s` (`s = 1`, `c0 = 0` for layer/RMS norm).
//!
//! Mean and variance use the two-pass form. Rows are processed in parallel, one task per row, so
//! each value is computed in the same order for any thread count. The cross-row sums for
//! dgamma/dbeta use fixed `RED_ROWS × RED_COLS` tiles (constants, not derived from the thread
//! count) whose partials are then added sequentially: bit-identical for any thread count.
use crate::elementwise::UnaryOp;
use crate::lanes::{combine, lane_fold, LANES};
use crate::memory::{as_uninit, written_vec};
use crate::scratch::with_scratch;
use crate::Real;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Roughly the fewest elements one parallel task should get.
const PAR_GRAIN: usize = 1 << 14;
/// Tile height (rows) and width (columns) of the deterministic dgamma/dbeta reduction.
const RED_ROWS: usize = 64;
const RED_COLS: usize = 256;

fn min_rows(d: usize) -> usize {
    (PAR_GRAIN / d.max(1)).max(1)
}

fn cst<T: Real>(v: f64) -> T {
    <T as Real>::from_f64(v)
}

fn check_len<T>(name: &str, v: &[T], want: usize) {
    assert!(v.len() == want, "{name}: length {} but expected {want}", v.len());
}

/// Calls `f(i, gamma, beta)` for each element `i` of a row of length `d` whose element `i`
/// belongs to channel `c0 + i / s` (absent gamma/beta read as 1/0).
#[inline(always)]
fn for_channels<T: Real>(
    d: usize,
    s: usize,
    c0: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    mut f: impl FnMut(usize, T, T),
) {
    let ga = |ch: usize| gamma.map_or(T::one(), |g| g[ch]);
    let be = |ch: usize| beta.map_or(T::zero(), |b| b[ch]);
    if s == 1 {
        (0..d).for_each(|i| f(i, ga(c0 + i), be(c0 + i)));
    } else {
        for cl in 0..d / s {
            let (g, b) = (ga(c0 + cl), be(c0 + cl));
            (cl * s..(cl + 1) * s).for_each(|i| f(i, g, b));
        }
    }
}

/// Shared forward: `rows` rows of length `d`; row `r` uses channels from `(r % groups) * d / s`.
/// `mean: None` means RMS norm (no centring). Writes every element of `y`: the normalised rows,
/// or `act` of them (group norm + SiLU, see `silu.rs`).
#[allow(clippy::too_many_arguments)]
fn forward<T: Real>(
    x: &[T],
    (rows, d, groups, s): (usize, usize, usize, usize),
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
    (y, act): (&mut [MaybeUninit<T>], Option<UnaryOp>),
    mean: Option<&mut [T]>,
    rstd: &mut [T],
) {
    check_len("x", x, rows * d);
    check_len("y", y, rows * d);
    check_len("rstd", rstd, rows);
    let center = mean.is_some();
    let mut scratch;
    let mean = match mean {
        Some(m) => m,
        None => {
            scratch = vec![T::zero(); rows];
            &mut scratch[..]
        }
    };
    check_len("mean", mean, rows);
    if d == 0 {
        mean.fill(T::zero());
        rstd.fill(T::one() / eps.sqrt());
        return;
    }
    let inv_d = T::one() / cst::<T>(d as f64);
    let _warm = (rows >= 2 * min_rows(d)).then(crate::parallel::keep_warm);
    y.par_chunks_mut(d)
        .zip(mean.par_iter_mut().zip(rstd.par_iter_mut()))
        .enumerate()
        .with_min_len(min_rows(d))
        .for_each(|(r, (yr, (m, rs)))| {
            let xr = &x[r * d..(r + 1) * d];
            let (mu, inv) = row_stats(xr, center, inv_d, eps);
            (*m, *rs) = (mu, inv);
            let c0 = (r % groups) * (d / s);
            match act {
                None => normalize_row(xr, yr, (mu, inv), (c0, s), gamma, beta),
                // y into an L1-sized scratch row, then the activation's SIMD loop into the output.
                Some(op) => with_scratch(d, |tmp: &mut [T]| {
                    // SAFETY: normalize_row writes only values into tmp.
                    normalize_row(xr, unsafe { as_uninit(tmp) }, (mu, inv), (c0, s), gamma, beta);
                    crate::elementwise::unary_into(op, tmp, yr);
                }),
            }
        });
}

simd_fn! {
    /// One row's `(mean, 1/sqrt(var + eps))` (mean 0 and `var` the mean square unless `center`:
    /// RMS norm), from lane sums over the row's slice (no index checks, so the loops vectorise);
    /// compiled for AVX-512 / AVX2 where the CPU has them, the same bits (nothing fused or
    /// reordered).
    fn row_stats<T>(xr: &[T], center: bool, inv_d: T, eps: T) -> (T, T) {
        let mu = if center { lane_fold::<T, LANES>(xr, T::zero(), |v| v, |a, v| a + v) * inv_d } else { T::zero() };
        let var = lane_fold::<T, LANES>(xr, T::zero(), |v| (v - mu) * (v - mu), |a, v| a + v) * inv_d;
        (mu, T::one() / (var + eps).sqrt())
    }
}

simd_fn! {
    /// `yr = (xr − mu)·inv·gamma + beta` for one row whose element `i` has channel `c0 + i / s`
    /// (every element written), compiled for AVX-512 / AVX2 where the CPU has them (the same bits).
    fn normalize_row<T>(
        xr: &[T],
        yr: &mut [MaybeUninit<T>],
        stats: (T, T),
        channels: (usize, usize),
        gamma: Option<&[T]>,
        beta: Option<&[T]>
    ) -> () {
        normalize_row_body(xr, yr, stats, channels, gamma, beta)
    }
}

/// [`normalize_row`]'s loops.
#[inline(always)]
fn normalize_row_body<T: Real>(
    xr: &[T],
    yr: &mut [MaybeUninit<T>],
    (mu, inv): (T, T),
    (c0, s): (usize, usize),
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
) {
    let d = xr.len();
    match (s, gamma, beta) {
        // One element per channel (layer norm; group norm with s = 1) and both affine
        // parameters: zipped slices; element i has channel c0 + i.
        (1, Some(g), Some(b)) => {
            for (((y, &xv), &gv), &bv) in yr.iter_mut().zip(xr).zip(&g[c0..c0 + d]).zip(&b[c0..c0 + d]) {
                *y = MaybeUninit::new((xv - mu) * inv * gv + bv);
            }
        }
        // Channels of s > 1 elements (group norm): one zipped run per channel.
        (2.., _, _) => {
            for (cl, (ys, xs)) in yr.chunks_exact_mut(s).zip(xr.chunks_exact(s)).enumerate() {
                let g = gamma.map_or(T::one(), |g| g[c0 + cl]);
                let b = beta.map_or(T::zero(), |b| b[c0 + cl]);
                for (y, &xv) in ys.iter_mut().zip(xs) {
                    *y = MaybeUninit::new((xv - mu) * inv * g + b);
                }
            }
        }
        _ => for_channels(d, s, c0, gamma, beta, |i, g, b| yr[i] = MaybeUninit::new((xr[i] - mu) * inv * g + b)),
    }
}

/// Shared input gradient: `dx = rstd·(g - mean(g) - xhat·mean(g·xhat))`, `g = dy·gamma`;
/// with `mean: None` (RMS norm) the `mean(g)` term is dropped.
#[allow(clippy::too_many_arguments)]
fn backward_dx<T: Real>(
    x: &[T],
    dy: &[T],
    (rows, d, groups, s): (usize, usize, usize, usize),
    gamma: Option<&[T]>,
    mean: Option<&[T]>,
    rstd: &[T],
    dx: &mut [T],
) {
    for (name, v) in [("x", x), ("dy", dy), ("dx", &*dx)] {
        check_len(name, v, rows * d);
    }
    check_len("rstd", rstd, rows);
    mean.inspect(|m| check_len("mean", m, rows));
    if d == 0 {
        return;
    }
    let inv_d = T::one() / cst::<T>(d as f64);
    let _warm = (rows >= 2 * min_rows(d)).then(crate::parallel::keep_warm);
    dx.par_chunks_mut(d).enumerate().with_min_len(min_rows(d)).for_each(|(r, dxr)| {
        let (xr, dyr) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
        let (mu, rs) = (mean.map_or(T::zero(), |m| m[r]), rstd[r]);
        let c0 = (r % groups) * (d / s);
        backward_dx_row(xr, dyr, dxr, (mu, rs, inv_d), mean.is_some(), (c0, s), gamma);
    });
}

simd_fn! {
    /// One row of [`backward_dx`] (`center`: keep the `mean(g)` term; false for RMS norm), compiled
    /// for AVX-512 / AVX2 where the CPU has them (the same bits: nothing fused or reordered).
    fn backward_dx_row<T>(
        xr: &[T],
        dyr: &[T],
        dxr: &mut [T],
        stats: (T, T, T),
        center: bool,
        channels: (usize, usize),
        gamma: Option<&[T]>
    ) -> () {
        let ((mu, rs, inv_d), (c0, s), d) = (stats, channels, xr.len());
        // Lane sums (see LANES): term i goes to lane i % LANES.
        let (mut sg, mut sgx) = ([T::zero(); LANES], [T::zero(); LANES]);
        if let (1, Some(g)) = (s, gamma) {
            // One element per channel (layer norm; group norm with s = 1) with gamma: the same
            // sums and formula over zipped slices (no index checks, so the loops vectorise); the
            // same bits.
            let g = &g[c0..c0 + d]; // s = 1: element i has channel c0 + i
            let lanes = xr.chunks(LANES).zip(dyr.chunks(LANES)).zip(g.chunks(LANES));
            for ((xc, dc), gc) in lanes {
                for ((((a, ax), &xv), &dv), &gv) in sg.iter_mut().zip(sgx.iter_mut()).zip(xc).zip(dc).zip(gc) {
                    let gi = dv * gv;
                    *a += gi;
                    *ax += gi * ((xv - mu) * rs);
                }
            }
            let mg = if center { combine(sg) * inv_d } else { T::zero() };
            let mgx = combine(sgx) * inv_d;
            for (((o, &xv), &dv), &gv) in dxr.iter_mut().zip(xr).zip(dyr).zip(g) {
                *o = rs * (dv * gv - mg - (xv - mu) * rs * mgx);
            }
            return;
        }
        for_channels(d, s, c0, gamma, None, |i, g, _| {
            let gi = dyr[i] * g;
            sg[i % LANES] += gi;
            sgx[i % LANES] += gi * ((xr[i] - mu) * rs);
        });
        let mg = if center { combine(sg) * inv_d } else { T::zero() }; // no centring term for RMS
        let mgx = combine(sgx) * inv_d;
        for_channels(d, s, c0, gamma, None, |i, g, _| {
            dxr[i] = rs * (dyr[i] * g - mg - (xr[i] - mu) * rs * mgx);
        });
    }
}

/// Deterministic column sums over rows, `k` outputs laid out `[k][d]`: `acc(r, cols, part)` adds
/// row `r`'s terms for `cols` into `part` (`[k][cols.len()]`). One task per fixed tile, then the
/// tiles are added in row order.
fn column_sums<T: Real>(rows: usize, d: usize, k: usize, acc: impl Fn(usize, Range<usize>, &mut [T]) + Sync) -> Vec<T> {
    let (n_rb, n_cb) = (rows.div_ceil(RED_ROWS), d.div_ceil(RED_COLS));
    let cols_of = |cb: usize| cb * RED_COLS..((cb + 1) * RED_COLS).min(d);
    let _warm = (n_rb * n_cb > 1).then(crate::parallel::keep_warm);
    let tiles: Vec<Vec<T>> = (0..n_rb * n_cb)
        .into_par_iter()
        .map(|t| {
            let (rb, cols) = (t / n_cb, cols_of(t % n_cb));
            let mut part = vec![T::zero(); k * cols.len()];
            for r in rb * RED_ROWS..((rb + 1) * RED_ROWS).min(rows) {
                acc(r, cols.clone(), &mut part);
            }
            part
        })
        .collect();
    let mut out = vec![T::zero(); k * d];
    for (t, part) in tiles.iter().enumerate() {
        let cols = cols_of(t % n_cb);
        let w = cols.len();
        for q in 0..k {
            for (j, col) in cols.clone().enumerate() {
                out[q * d + col] += part[q * w + j];
            }
        }
    }
    out
}

/// dgamma = Σ_rows dy·xhat, dbeta = Σ_rows dy for layer/RMS norm (`mean: None` for RMS).
#[allow(clippy::too_many_arguments)]
fn row_param_grads<T: Real>(
    x: &[T],
    dy: &[T],
    rows: usize,
    d: usize,
    mean: Option<&[T]>,
    rstd: &[T],
    dgamma: Option<&mut [T]>,
    dbeta: Option<&mut [T]>,
) {
    if dgamma.is_none() && dbeta.is_none() {
        return;
    }
    let sums = column_sums(rows, d, 2, |r, cols, part: &mut [T]| {
        let (pg, pb) = part.split_at_mut(cols.len());
        let (mu, rs) = (mean.map_or(T::zero(), |m| m[r]), rstd[r]);
        for (j, col) in cols.enumerate() {
            let dyv = dy[r * d + col];
            pg[j] += dyv * ((x[r * d + col] - mu) * rs);
            pb[j] += dyv;
        }
    });
    for (out, sum) in [(dgamma, &sums[..d]), (dbeta, &sums[d..])] {
        if let Some(o) = out {
            check_len("dgamma/dbeta", o, d);
            o.copy_from_slice(sum);
        }
    }
}

/// x, y: [rows, d]; gamma, beta: [d]; mean, rstd: [rows]. y = (x - mean) * rstd * gamma + beta, rstd = 1/sqrt(var + eps)
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_forward<T: Real>(
    x: &[T],
    rows: usize,
    d: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
    y: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
) {
    gamma.inspect(|g| check_len("gamma", g, d));
    beta.inspect(|b| check_len("beta", b, d));
    // SAFETY: `forward` writes only values into `y`.
    forward(x, (rows, d, 1, 1), gamma, beta, eps, (unsafe { as_uninit(y) }, None), Some(mean), rstd);
}

/// [`layer_norm_forward`] into a new `y` (`[rows, d]`), written without being filled first.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_forward_vec<T: Real>(
    x: &[T],
    rows: usize,
    d: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
    mean: &mut [T],
    rstd: &mut [T],
) -> Vec<T> {
    gamma.inspect(|g| check_len("gamma", g, d));
    beta.inspect(|b| check_len("beta", b, d));
    // SAFETY: `forward` writes every element of `y` (or panics).
    unsafe { written_vec(rows * d, |y| forward(x, (rows, d, 1, 1), gamma, beta, eps, (y, None), Some(mean), rstd)) }
}

/// dx overwritten; dgamma/dbeta overwritten when given
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_backward<T: Real>(
    x: &[T],
    dy: &[T],
    rows: usize,
    d: usize,
    gamma: Option<&[T]>,
    mean: &[T],
    rstd: &[T],
    dx: &mut [T],
    dgamma: Option<&mut [T]>,
    dbeta: Option<&mut [T]>,
) {
    gamma.inspect(|g| check_len("gamma", g, d));
    backward_dx(x, dy, (rows, d, 1, 1), gamma, Some(mean), rstd, dx);
    row_param_grads(x, dy, rows, d, Some(mean), rstd, dgamma, dbeta);
}

/// RMS norm: y = x * rstd * gamma, rstd = 1/sqrt(mean(x^2) + eps); rstd: [rows]
pub fn rms_norm_forward<T: Real>(
    x: &[T],
    rows: usize,
    d: usize,
    gamma: Option<&[T]>,
    eps: T,
    y: &mut [T],
    rstd: &mut [T],
) {
    gamma.inspect(|g| check_len("gamma", g, d));
    // SAFETY: `forward` writes only values into `y`.
    forward(x, (rows, d, 1, 1), gamma, None, eps, (unsafe { as_uninit(y) }, None), None, rstd);
}

/// RMS norm backward: dx overwritten; dgamma overwritten when given.
#[allow(clippy::too_many_arguments)]
pub fn rms_norm_backward<T: Real>(
    x: &[T],
    dy: &[T],
    rows: usize,
    d: usize,
    gamma: Option<&[T]>,
    rstd: &[T],
    dx: &mut [T],
    dgamma: Option<&mut [T]>,
) {
    gamma.inspect(|g| check_len("gamma", g, d));
    backward_dx(x, dy, (rows, d, 1, 1), gamma, None, rstd, dx);
    row_param_grads(x, dy, rows, d, None, rstd, dgamma, None);
}

/// Naive reference core in f64: `rows` blocks of `d`, element `i` of block `r` uses channel
/// `(r % groups) * (d / s) + i / s`; `center = false` gives RMS norm.
#[allow(clippy::too_many_arguments)]
fn reference<T: Real>(
    x: &[T],
    (rows, d, groups, s): (usize, usize, usize, usize),
    center: bool,
    (gamma, beta): (Option<&[T]>, Option<&[T]>),
    eps: T,
) -> Vec<T> {
    let mut y = Vec::with_capacity(rows * d);
    for r in 0..rows {
        let v: Vec<f64> = x[r * d..(r + 1) * d].iter().map(|&a| Real::to_f64(a)).collect();
        let mean = if center { v.iter().sum::<f64>() } else { 0.0 } / d as f64;
        let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / d as f64;
        let rstd = 1.0 / (var + Real::to_f64(eps)).sqrt();
        for (i, a) in v.iter().enumerate() {
            let ch = (r % groups) * (d / s) + i / s;
            let g = gamma.map_or(1.0, |g| Real::to_f64(g[ch]));
            let b = beta.map_or(0.0, |b| Real::to_f64(b[ch]));
            y.push(cst((a - mean) * rstd * g + b));
        }
    }
    y
}

/// Naive layer norm (computed in f64); returns y: [rows, d].
pub fn layer_norm_reference<T: Real>(
    x: &[T],
    rows: usize,
    d: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
) -> Vec<T> {
    reference(x, (rows, d, 1, 1), true, (gamma, beta), eps)
}

/// Naive RMS norm (computed in f64); returns y: [rows, d].
pub fn rms_norm_reference<T: Real>(x: &[T], rows: usize, d: usize, gamma: Option<&[T]>, eps: T) -> Vec<T> {
    reference(x, (rows, d, 1, 1), false, (gamma, None), eps)
}

/// Naive group norm (computed in f64); returns y: [n, c, s].
#[allow(clippy::too_many_arguments)]
pub fn group_norm_reference<T: Real>(
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    groups: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
) -> Vec<T> {
    let cg = group_width(c, groups);
    let shape = (n * groups, cg * s, groups, s.max(1));
    reference(x, shape, true, (gamma, beta), eps)
}

mod group;
mod silu;
use group::group_width;
pub use group::{group_norm_backward, group_norm_backward_vec, group_norm_forward, group_norm_forward_vec};
pub use silu::{group_norm_silu_backward_vec, group_norm_silu_forward_vec};

#[cfg(test)]
mod tests;
