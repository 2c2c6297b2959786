//! Group norm, `x: [n, c, s]`: the shared row forward of `mod.rs` over each `(image, group)` block
//! of `(c/groups)·s` contiguous elements, and a backward pass of its own that gathers each
//! channel's shares of dgamma and dbeta on the way (also behind group norm + SiLU, `silu.rs`).
use super::{check_len, cst, forward, min_rows, normalize_row, LANES};
use crate::elementwise::UnaryOp;
use crate::lanes::combine;
use crate::memory::{as_uninit, written_vec};
use crate::scratch::with_scratch;
use crate::Real;
use rayon::prelude::*;
use std::mem::MaybeUninit;

pub(super) fn group_width(c: usize, groups: usize) -> usize {
    assert!(
        c.checked_rem(groups) == Some(0), // also rejects groups == 0
        "groups ({groups}) must divide c ({c})"
    );
    c / groups
}

/// Group norm: x, y: [n, c, s] (s = product of spatial dims), `groups` divides c; statistics per (n, group) over (c/groups)*s elements;
/// gamma/beta per channel [c]; mean, rstd: [n * groups]
#[allow(clippy::too_many_arguments)]
pub fn group_norm_forward<T: Real>(
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    groups: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
    y: &mut [T],
    mean: &mut [T],
    rstd: &mut [T],
) {
    let shape = row_shape((n, c, s), groups, gamma, beta);
    // SAFETY: `forward` writes only values into `y`.
    forward(x, shape, gamma, beta, eps, (unsafe { as_uninit(y) }, None), Some(mean), rstd);
}

/// [`group_norm_forward`] into a new `y` (`[n, c, s]`), written without being filled first.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_forward_vec<T: Real>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: T,
    mean: &mut [T],
    rstd: &mut [T],
) -> Vec<T> {
    forward_vec(x, (n, c, s), groups, (gamma, beta), eps, None, (mean, rstd))
}

/// The shared forward's `(rows, d, groups, s)` for group norm on `[n, c, s]`, with gamma and beta
/// checked against `c`.
fn row_shape<T>(
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
) -> (usize, usize, usize, usize) {
    let cg = group_width(c, groups);
    gamma.inspect(|g| check_len("gamma", g, c));
    beta.inspect(|b| check_len("beta", b, c));
    (n * groups, cg * s, groups, s.max(1))
}

/// Group norm, followed by `act` when given, into a new vector written without being filled
/// first: [`group_norm_forward_vec`] and group norm + SiLU (`silu.rs`).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_vec<T: Real>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
    groups: usize,
    (gamma, beta): (Option<&[T]>, Option<&[T]>),
    eps: T,
    act: Option<UnaryOp>,
    (mean, rstd): (&mut [T], &mut [T]),
) -> Vec<T> {
    let shape = row_shape((n, c, s), groups, gamma, beta);
    // SAFETY: `forward` writes every element of its output (or panics).
    unsafe { written_vec(n * c * s, |y| forward(x, shape, gamma, beta, eps, (y, act), Some(mean), rstd)) }
}

/// Group norm backward: dx overwritten; dgamma/dbeta ([c]) overwritten when given.
///
/// One pass per block `(image, group)` gathers, for each of its channels, `Σ dy` and
/// `Σ dy·xhat` over the channel's `s` contiguous elements: those are the block's share of
/// dbeta and dgamma, and with the channel's gamma they give the block's `mean(g)` and
/// `mean(g·xhat)` for dx (`Σ_i dy_i·gamma_c(i) = Σ_c gamma_c·Σ_{i∈c} dy_i`); a second pass writes
/// dx. dgamma/dbeta then add the blocks' shares image by image, in order: bit-identical for any
/// thread count.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward<T: Real>(
    x: &[T],
    dy: &[T],
    n: usize,
    c: usize,
    s: usize,
    groups: usize,
    gamma: Option<&[T]>,
    mean: &[T],
    rstd: &[T],
    dx: &mut [T],
    dgamma: Option<&mut [T]>,
    dbeta: Option<&mut [T]>,
) {
    check_len("dx", dx, x.len());
    // SAFETY: `group_norm_backward_into` writes only values into `dx`.
    let dx = unsafe { as_uninit(dx) };
    group_norm_backward_into(x, Upstream::Given(dy), (n, c, s), groups, gamma, (mean, rstd), dx, (dgamma, dbeta));
}

/// [`group_norm_backward`] returning a new `dx` (`[n, c, s]`), written without being filled first.
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward_vec<T: Real>(
    x: &[T],
    dy: &[T],
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&[T]>,
    (mean, rstd): (&[T], &[T]),
    (dgamma, dbeta): (Option<&mut [T]>, Option<&mut [T]>),
) -> Vec<T> {
    // SAFETY: `group_norm_backward_into` writes every element of `dx` (or panics).
    unsafe {
        written_vec(x.len(), |dx| {
            group_norm_backward_into(
                x,
                Upstream::Given(dy),
                (n, c, s),
                groups,
                gamma,
                (mean, rstd),
                dx,
                (dgamma, dbeta),
            )
        })
    }
}

/// Where group norm's backward pass finds each row's `dy`.
#[derive(Clone, Copy)]
pub(super) enum Upstream<'a, T> {
    /// Given: group norm alone.
    Given(&'a [T]),
    /// Through a SiLU applied to the norm's output: `dy = dz·silu'(y)`, with `y` recomputed from
    /// `x`, the statistics and gamma / `beta`.
    Silu { dz: &'a [T], beta: Option<&'a [T]> },
}

/// The group-norm backward pass; writes every element of `dx`.
#[allow(clippy::too_many_arguments)]
pub(super) fn group_norm_backward_into<T: Real>(
    x: &[T],
    upstream: Upstream<'_, T>,
    (n, c, s): (usize, usize, usize),
    groups: usize,
    gamma: Option<&[T]>,
    (mean, rstd): (&[T], &[T]),
    dx: &mut [MaybeUninit<T>],
    (dgamma, dbeta): (Option<&mut [T]>, Option<&mut [T]>),
) {
    let cg = group_width(c, groups);
    gamma.inspect(|g| check_len("gamma", g, c));
    let (rows, d) = (n * groups, cg * s);
    check_len("x", x, rows * d);
    let (Upstream::Given(dy) | Upstream::Silu { dz: dy, .. }) = upstream;
    check_len("dy", dy, rows * d);
    check_len("dx", dx, rows * d);
    check_len("mean", mean, rows);
    check_len("rstd", rstd, rows);
    // shares[row][channel in group] = (Σ dy·xhat, Σ dy)
    let mut shares = vec![(T::zero(), T::zero()); rows * cg];
    if d > 0 {
        let inv_d = T::one() / cst::<T>(d as f64);
        let _warm = (rows >= 2 * min_rows(d)).then(crate::parallel::keep_warm);
        let blocks = dx.par_chunks_mut(d).zip(shares.par_chunks_mut(cg)).enumerate();
        blocks.with_min_len(min_rows(d)).for_each(|(r, (dxr, share))| {
            let xr = &x[r * d..(r + 1) * d];
            let (mu, rs, c0) = (mean[r], rstd[r], (r % groups) * cg);
            let mut row = |dyr: &[T]| backward_row(xr, dyr, dxr, share, (mu, rs, inv_d), (c0, s), gamma);
            match upstream {
                Upstream::Given(dy) => row(&dy[r * d..(r + 1) * d]),
                // y recomputed as the forward made it, dy = dz·silu'(y) with the SIMD loop, both
                // in L1-sized scratch rows.
                Upstream::Silu { dz, beta } => with_scratch(2 * d, |tmp: &mut [T]| {
                    let (y, dy) = tmp.split_at_mut(d);
                    // SAFETY: normalize_row writes only values into y.
                    normalize_row(xr, unsafe { as_uninit(y) }, (mu, rs), (c0, s), gamma, beta);
                    crate::elementwise::unary_backward(UnaryOp::Silu, y, y, &dz[r * d..(r + 1) * d], dy);
                    row(dy)
                }),
            }
        });
    }
    for (out, which) in [(dgamma, 0), (dbeta, 1)] {
        let Some(out) = out else { continue };
        check_len("dgamma/dbeta", out, c);
        for (ch, o) in out.iter_mut().enumerate() {
            let (g, cl) = (ch / cg, ch % cg);
            let share = |ni: usize| shares[(ni * groups + g) * cg + cl];
            *o = (0..n).fold(T::zero(), |acc, ni| acc + if which == 0 { share(ni).0 } else { share(ni).1 });
        }
    }
}

simd_fn! {
    /// One `(image, group)` row of the backward pass: each channel's `(Σ dy·xhat, Σ dy)` into
    /// `share`, then `dx = rs·(dy·g − mean(dy·g) − xhat·mean(dy·g·xhat))` (g = gamma of the
    /// element's channel `c0 + i / s`). Compiled for AVX-512 / AVX2 where the CPU has them (the
    /// same bits: no operation is fused or reordered).
    pub(super) fn backward_row<T>(
        xr: &[T],
        dyr: &[T],
        dxr: &mut [MaybeUninit<T>],
        share: &mut [(T, T)],
        stats: (T, T, T),
        channels: (usize, usize),
        gamma: Option<&[T]>
    ) -> () {
        let ((mu, rs, inv_d), (c0, s)) = (stats, channels);
        let gamma_of = |ch: usize| gamma.map_or(T::one(), |g| g[ch]);
        let (mut sg, mut sgx) = (T::zero(), T::zero());
        for (cl, sh) in share.iter_mut().enumerate() {
            let seg = cl * s..(cl + 1) * s;
            *sh = channel_grad_sums(&xr[seg.clone()], &dyr[seg], mu, rs);
            let g = gamma_of(c0 + cl);
            sgx += g * sh.0;
            sg += g * sh.1;
        }
        let (mg, mgx) = (sg * inv_d, sgx * inv_d);
        for (cl, ((dxs, xs), dys)) in dxr.chunks_exact_mut(s).zip(xr.chunks_exact(s)).zip(dyr.chunks_exact(s)).enumerate() {
            let g = gamma_of(c0 + cl);
            for ((o, &xv), &dv) in dxs.iter_mut().zip(xs).zip(dys) {
                *o = MaybeUninit::new(rs * (dv * g - mg - (xv - mu) * rs * mgx));
            }
        }
    }
}

/// `(Σ dy·(x − mu)·rs, Σ dy)` over one channel's contiguous elements, in [`LANES`] lanes.
#[inline(always)]
fn channel_grad_sums<T: Real>(x: &[T], dy: &[T], mu: T, rs: T) -> (T, T) {
    let dy = &dy[..x.len()];
    let (mut sdx, mut sd) = ([T::zero(); LANES], [T::zero(); LANES]);
    let (cx, cd) = (x.chunks_exact(LANES), dy.chunks_exact(LANES));
    let (tx, td) = (cx.remainder(), cd.remainder());
    for (xv, dv) in cx.zip(cd) {
        for l in 0..LANES {
            sdx[l] += dv[l] * ((xv[l] - mu) * rs);
            sd[l] += dv[l];
        }
    }
    for (l, (&xv, &dv)) in tx.iter().zip(td).enumerate() {
        sdx[l] += dv * ((xv - mu) * rs);
        sd[l] += dv;
    }
    (combine(sdx), combine(sd))
}
