//! Tests: the fast kernels against the naive references.
use super::*;
use crate::lanes::lane_sum;
use proptest::collection::vec;
use proptest::prelude::*;

const EPS: f64 = 1e-2; // keeps the finite differences well conditioned
type Sh = (usize, usize, usize, usize); // group norm (n, c, s, groups)

fn close(got: &[f64], want: &[f64], atol: f64, rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{what}[{i}]: got {g}, want {w}");
    }
}

/// Checks `grads[k]` against the central difference (step 1e-6) of `f` in `params[k]`.
fn check_fd(params: &[Vec<f64>], grads: &[&[f64]], f: impl Fn(&[Vec<f64>]) -> f64, what: &str) {
    let h = 1e-6;
    for (k, grad) in grads.iter().enumerate() {
        let mut p = params.to_vec();
        let num: Vec<f64> = (0..p[k].len())
            .map(|i| {
                let orig = p[k][i];
                p[k][i] = orig + h;
                let up = f(&p);
                p[k][i] = orig - h;
                let down = f(&p);
                p[k][i] = orig;
                (up - down) / (2.0 * h)
            })
            .collect();
        close(grad, &num, 1e-6, 1e-5, &format!("{what} grad {k}"));
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

// Allocating wrappers: forwards return [y, mean, rstd] (RMS: [y, rstd]); backwards return
// [dx, dgamma, dbeta] (RMS: [dx, dgamma]).
fn z<T: Real>(n: usize) -> Vec<T> {
    vec![T::zero(); n]
}
fn ln<T: Real>(x: &[T], r: usize, d: usize, g: Option<&[T]>, b: Option<&[T]>) -> [Vec<T>; 3] {
    let [mut y, mut m, mut s] = [z(r * d), z(r), z(r)];
    layer_norm_forward(x, r, d, g, b, cst(EPS), &mut y, &mut m, &mut s);
    [y, m, s]
}
type Stats<'a, T> = (&'a [T], &'a [T]);
fn ln_back<T: Real>(x: &[T], dy: &[T], r: usize, d: usize, g: Option<&[T]>, (m, s): Stats<T>) -> [Vec<T>; 3] {
    let [mut dx, mut dg, mut db] = [z(r * d), z(d), z(d)];
    let (dgs, dbs) = (Some(&mut dg[..]), Some(&mut db[..]));
    layer_norm_backward(x, dy, r, d, g, m, s, &mut dx, dgs, dbs);
    [dx, dg, db]
}
fn rms<T: Real>(x: &[T], r: usize, d: usize, g: Option<&[T]>) -> [Vec<T>; 2] {
    let [mut y, mut s] = [z(r * d), z(r)];
    rms_norm_forward(x, r, d, g, cst(EPS), &mut y, &mut s);
    [y, s]
}
fn rms_back<T: Real>(x: &[T], dy: &[T], r: usize, d: usize, g: Option<&[T]>, s: &[T]) -> [Vec<T>; 2] {
    let [mut dx, mut dg] = [z(r * d), z(d)];
    rms_norm_backward(x, dy, r, d, g, s, &mut dx, Some(&mut dg));
    [dx, dg]
}
fn gn<T: Real>(x: &[T], (n, c, s, gr): Sh, g: Option<&[T]>, b: Option<&[T]>) -> [Vec<T>; 3] {
    let [mut y, mut m, mut rs] = [z(n * c * s), z(n * gr), z(n * gr)];
    group_norm_forward(x, n, c, s, gr, g, b, cst(EPS), &mut y, &mut m, &mut rs);
    [y, m, rs]
}
fn gn_back<T: Real>(x: &[T], dy: &[T], (n, c, s, gr): Sh, g: Option<&[T]>, (m, rs): Stats<T>) -> [Vec<T>; 3] {
    let [mut dx, mut dg, mut db] = [z(n * c * s), z(c), z(c)];
    let (dgs, dbs) = (Some(&mut dg[..]), Some(&mut db[..]));
    group_norm_backward(x, dy, n, c, s, gr, g, m, rs, &mut dx, dgs, dbs);
    [dx, dg, db]
}

/// (rows, d, [x, w, gamma, beta]): `w` weighs the linear functional L = Σ w·y.
fn case(max_rows: usize, max_d: usize) -> impl Strategy<Value = (usize, usize, [Vec<f64>; 4])> {
    (1..=max_rows, 1..=max_d).prop_flat_map(|(r, d)| {
        let v = |n, lo, hi| vec(lo..hi, n);
        let vs = [v(r * d, -3.0, 3.0), v(r * d, -1.0, 1.0), v(d, 0.5, 1.5), v(d, -1.0, 1.0)];
        (Just(r), Just(d), vs)
    })
}

type Affine = (Option<Vec<f64>>, Option<Vec<f64>>, Vec<f64>, Vec<f64>);

/// Gamma/beta as passed (`None` when off) and as seen by the math (ones/zeros when off).
fn affine(on: (bool, bool), g: &[f64], b: &[f64]) -> Affine {
    let g0 = if on.0 { g.to_vec() } else { vec![1.0; g.len()] };
    let b0 = if on.1 { b.to_vec() } else { vec![0.0; b.len()] };
    (on.0.then(|| g.to_vec()), on.1.then(|| b.to_vec()), g0, b0)
}

proptest! {
    #[test]
    fn norm_forwards_match_reference((r, d, [x, _, g, b]) in case(9, 40), on: (bool, bool)) {
        let (go, bo, _, _) = affine(on, &g, &b);
        let (go, bo) = (go.as_deref(), bo.as_deref());
        let [y, m, s] = ln(&x, r, d, go, bo);
        close(&y, &layer_norm_reference(&x, r, d, go, bo, EPS), 1e-12, 1e-10, "ln");
        for i in 0..r {
            let row = &x[i * d..(i + 1) * d];
            let mu = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / d as f64;
            close(&[m[i], s[i]], &[mu, 1.0 / (var + EPS).sqrt()], 1e-12, 1e-10, "ln stats");
        }
        let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let (x32, g32, b32) = (f32s(&x), go.map(f32s), bo.map(f32s));
        let y32: Vec<f64> = ln(&x32, r, d, g32.as_deref(), b32.as_deref())[0].iter().map(|&v| v as f64).collect();
        close(&y32, &layer_norm_reference(&x, r, d, go, bo, EPS), 1e-5, 1e-5, "ln f32");
        close(&rms(&x, r, d, go)[0], &rms_norm_reference(&x, r, d, go, EPS), 1e-12, 1e-10, "rms");
        for (gr, cg) in [(1, 1), (1, 2), (2, 1), (2, 3), (3, 1)] {
            let (n, c, s) = (r, gr * cg, d); // reuse the row as the spatial axis
            let xs: Vec<f64> = (0..n * c * s).map(|i| x[i % x.len()] + (i as f64).sin()).collect();
            let ch = |v: &[f64]| (0..c).map(|i| v[i % d] + 0.1 * i as f64).collect::<Vec<_>>();
            let (gc, bc) = (go.map(ch), bo.map(ch));
            let y = &gn(&xs, (n, c, s, gr), gc.as_deref(), bc.as_deref())[0];
            let want = group_norm_reference(&xs, n, c, s, gr, gc.as_deref(), bc.as_deref(), EPS);
            close(y, &want, 1e-12, 1e-10, "gn");
        }
    }

    #[test]
    fn layer_and_rms_backward_match_fd((r, d, [x, w, g, b]) in case(5, 10), on: (bool, bool)) {
        let (go, bo, g0, b0) = affine(on, &g, &b);
        let [_, m, s] = ln(&x, r, d, go.as_deref(), bo.as_deref());
        let [dx, dg, db] = ln_back(&x, &w, r, d, go.as_deref(), (&m, &s));
        // Absent gamma/beta act as ones/zeros: their gradients are taken there.
        let loss = |p: &[Vec<f64>]| dot(&w, &ln(&p[0], r, d, Some(&p[1]), Some(&p[2]))[0]);
        check_fd(&[x.clone(), g0.clone(), b0], &[&dx, &dg, &db], loss, "layer norm");
        let mut dx2 = vec![0.0; r * d]; // without dgamma/dbeta
        layer_norm_backward(&x, &w, r, d, go.as_deref(), &m, &s, &mut dx2, None, None);
        prop_assert_eq!(&dx2, &dx);

        let s = &rms(&x, r, d, go.as_deref())[1];
        let [dx, dg] = rms_back(&x, &w, r, d, go.as_deref(), s);
        let loss = |p: &[Vec<f64>]| dot(&w, &rms(&p[0], r, d, Some(&p[1]))[0]);
        check_fd(&[x, g0], &[&dx, &dg], loss, "rms norm");
    }

    #[test]
    fn group_norm_backward_matches_fd((n, s, [x, w, g, b]) in case(3, 4), (gr, cg) in (1..=3usize, 1..=3usize), on: (bool, bool)) {
        let (c, len) = (gr * cg, n * gr * cg * s);
        let sh = (n, c, s, gr);
        let xs: Vec<f64> = (0..len).map(|i| x[i % x.len()] + (i as f64 * 0.37).sin()).collect();
        let ws: Vec<f64> = (0..len).map(|i| w[i % w.len()] + (i as f64 * 0.11).cos()).collect();
        let ch = |v: &[f64], k: f64| (0..c).map(|i| v[i % v.len()] + k * i as f64).collect::<Vec<_>>();
        let (go, bo, g0, b0) = affine(on, &ch(&g, 0.1), &ch(&b, -0.1));
        let [_, m, rs] = gn(&xs, sh, go.as_deref(), bo.as_deref());
        let [dx, dg, db] = gn_back(&xs, &ws, sh, go.as_deref(), (&m, &rs));
        let loss = |p: &[Vec<f64>]| dot(&ws, &gn(&p[0], sh, Some(&p[1]), Some(&p[2]))[0]);
        check_fd(&[xs, g0, b0], &[&dx, &dg, &db], loss, "group norm");
    }
}

/// Deterministic pseudo-random values in [-1, 1).
fn lcg(len: usize, seed: u64) -> Vec<f32> {
    let mut st = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        st = st.wrapping_mul(6364136223846793005).wrapping_add(1);
        ((st >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    };
    (0..len).map(|_| next()).collect()
}

#[test]
fn layer_norm_multi_tile_param_grads_match_naive_sums() {
    let (r, d) = (200, 300); // several RED_ROWS × RED_COLS tiles with ragged edges
    let x: Vec<f64> = lcg(r * d, 1).iter().map(|&v| v as f64 * 3.0).collect();
    let dy: Vec<f64> = lcg(r * d, 2).iter().map(|&v| v as f64).collect();
    let [_, m, s] = ln(&x, r, d, None, None);
    let [_, dg, db] = ln_back(&x, &dy, r, d, None, (&m, &s));
    let col = |f: &dyn Fn(usize) -> f64| -> Vec<f64> { (0..d).map(|j| (0..r).map(|i| f(i * d + j)).sum()).collect() };
    let want_dg = col(&|k| dy[k] * (x[k] - m[k / d]) * s[k / d]);
    close(&dg, &want_dg, 1e-10, 1e-10, "dgamma");
    close(&db, &col(&|k| dy[k]), 1e-10, 1e-10, "dbeta");
}

#[test]
fn layer_norm_is_stable_under_large_offset() {
    let x: Vec<f64> = lcg(256, 3).iter().map(|&v| v as f64).collect();
    let shifted: Vec<f64> = x.iter().map(|v| v + 1e7).collect();
    let (a, b) = (ln(&shifted, 4, 64, None, None), ln(&x, 4, 64, None, None));
    close(&a[0], &b[0], 1e-7, 0.0, "shifted");
}

/// Runs every norm forward and backward on a large f32 input; returns all outputs' bits.
fn run_all() -> Vec<Vec<u32>> {
    let (r, d) = (4096, 96);
    let (x, dy, b) = (lcg(r * d, 10), lcg(r * d, 11), lcg(d, 13));
    let g: Vec<f32> = lcg(d, 12).iter().map(|v| 1.0 + 0.5 * v).collect();
    let (g, b) = (Some(&g[..]), Some(&b[..]));
    let [y, m, s] = ln(&x, r, d, g, b);
    let [dx, dg, db] = ln_back(&x, &dy, r, d, g, (&m, &s));
    let [ry, rs] = rms(&x, r, d, g);
    let [rdx, rdg] = rms_back(&x, &dy, r, d, g, &rs);
    let sh = (32, 96, 128, 8); // same element count
    let [gy, gm, gs] = gn(&x, sh, g, b);
    let [gdx, gdg, gdb] = gn_back(&x, &dy, sh, g, (&gm, &gs));
    let all = [y, m, s, dx, dg, db, ry, rs, rdx, rdg, gy, gm, gs, gdx, gdg, gdb];
    all.iter().map(|v| v.iter().map(|a| a.to_bits()).collect()).collect()
}

#[test]
fn norms_are_bit_identical_across_thread_counts() {
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let one = pool(1).install(run_all);
    for t in [2, 3, 8] {
        assert!(one == pool(t).install(run_all), "outputs differ between 1 and {t} threads");
    }
}

/// The layer-norm rows with both affine parameters run over zipped slices; they must give the
/// bits of the per-element loops they replace (lane sums in `i % LANES` order), forward and
/// backward, including rows shorter than a lane group and with a partial last group.
#[test]
fn layer_norm_zipped_rows_match_the_indexed_loops_bitwise() {
    let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>();
    for (rows, d) in [(7usize, 128usize), (5, 13), (3, 8), (4, 1), (2, 300)] {
        let (x, dy, g, b) = (lcg(rows * d, 1), lcg(rows * d, 2), lcg(d, 3), lcg(d, 4));
        let eps = 1e-5f32;
        let (mut y, mut m, mut rs) = (vec![0f32; rows * d], vec![0f32; rows], vec![0f32; rows]);
        layer_norm_forward(&x, rows, d, Some(&g), Some(&b), eps, &mut y, &mut m, &mut rs);
        let mut dx = vec![0f32; rows * d];
        layer_norm_backward(&x, &dy, rows, d, Some(&g), &m, &rs, &mut dx, None, None);
        let inv_d = 1.0 / d as f32;
        let (mut want_y, mut want_dx) = (vec![0f32; rows * d], vec![0f32; rows * d]);
        for r in 0..rows {
            let (xr, dyr) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
            let mu = lane_sum(d, |i| xr[i]) * inv_d;
            let var = lane_sum(d, |i| (xr[i] - mu) * (xr[i] - mu)) * inv_d;
            let inv = 1.0 / (var + eps).sqrt();
            assert_eq!((m[r].to_bits(), rs[r].to_bits()), (mu.to_bits(), inv.to_bits()), "{rows}x{d} row {r} stats");
            for i in 0..d {
                want_y[r * d + i] = (xr[i] - mu) * inv * g[i] + b[i];
            }
            let (mut sg, mut sgx) = ([0f32; LANES], [0f32; LANES]);
            for i in 0..d {
                let gi = dyr[i] * g[i];
                sg[i % LANES] += gi;
                sgx[i % LANES] += gi * ((xr[i] - mu) * inv);
            }
            let (mg, mgx) = (combine(sg) * inv_d, combine(sgx) * inv_d);
            for i in 0..d {
                want_dx[r * d + i] = inv * (dyr[i] * g[i] - mg - (xr[i] - mu) * inv * mgx);
            }
        }
        assert_eq!(bits(&y), bits(&want_y), "{rows}x{d} forward");
        assert_eq!(bits(&dx), bits(&want_dx), "{rows}x{d} backward");
    }
}

/// Group-norm rows (channels of `s > 1` elements, with and without the affine parameters) run
/// over one zipped run per channel: the bits of the per-element loops, and the `_vec` forms give
/// the same bits as the slice forms.
#[test]
fn group_norm_channel_runs_match_the_indexed_loops_bitwise() {
    let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>();
    for (n, c, s, groups) in [(2usize, 8usize, 16usize, 4usize), (3, 6, 5, 3), (1, 4, 64, 1), (2, 4, 3, 2)] {
        for affine in [true, false] {
            let (x, dy) = (lcg(n * c * s, 5), lcg(n * c * s, 6));
            let (g, b) = (lcg(c, 7), lcg(c, 8));
            let (ga, be) = if affine { (Some(&g[..]), Some(&b[..])) } else { (None, None) };
            let eps = 1e-5f32;
            let (rows, d, cg) = (n * groups, c / groups * s, c / groups);
            let (mut m, mut rs) = (vec![0f32; rows], vec![0f32; rows]);
            let y = group_norm_forward_vec(&x, (n, c, s), groups, ga, be, eps, &mut m, &mut rs);
            let mut y2 = vec![0f32; n * c * s];
            let (mut m2, mut rs2) = (vec![0f32; rows], vec![0f32; rows]);
            group_norm_forward(&x, n, c, s, groups, ga, be, eps, &mut y2, &mut m2, &mut rs2);
            assert_eq!((bits(&y), bits(&m), bits(&rs)), (bits(&y2), bits(&m2), bits(&rs2)), "forward _vec");
            let mut want_y = vec![0f32; n * c * s];
            let inv_d = 1.0 / d as f32;
            for r in 0..rows {
                let xr = &x[r * d..(r + 1) * d];
                let mu = lane_sum(d, |i| xr[i]) * inv_d;
                let var = lane_sum(d, |i| (xr[i] - mu) * (xr[i] - mu)) * inv_d;
                let inv = 1.0 / (var + eps).sqrt();
                assert_eq!((m[r].to_bits(), rs[r].to_bits()), (mu.to_bits(), inv.to_bits()), "row {r} stats");
                for i in 0..d {
                    let ch = (r % groups) * cg + i / s;
                    let (gv, bv) = if affine { (g[ch], b[ch]) } else { (1.0, 0.0) };
                    want_y[r * d + i] = (xr[i] - mu) * inv * gv + bv;
                }
            }
            assert_eq!(bits(&y), bits(&want_y), "{n}x{c}x{s} / {groups} groups, affine {affine}: forward");
            let (mut dg, mut db) = (vec![0f32; c], vec![0f32; c]);
            let dx = group_norm_backward_vec(&x, &dy, (n, c, s), groups, ga, (&m, &rs), (Some(&mut dg), Some(&mut db)));
            let (mut dx2, mut dg2, mut db2) = (vec![0f32; n * c * s], vec![0f32; c], vec![0f32; c]);
            group_norm_backward(&x, &dy, n, c, s, groups, ga, &m, &rs, &mut dx2, Some(&mut dg2), Some(&mut db2));
            assert_eq!((bits(&dx), bits(&dg), bits(&db)), (bits(&dx2), bits(&dg2), bits(&db2)), "backward _vec");
        }
    }
}

/// Group norm + SiLU as one op against the two ops in turn: the same bits for z, dx, dgamma
/// and dbeta (forward and backward recompute y with the same formula), with and without the
/// affine parameters, channels of several elements or one, in pools of 1 and 2 threads.
#[test]
fn group_norm_silu_is_group_norm_then_silu_bitwise() {
    use crate::elementwise::{unary_backward, unary_vec, UnaryOp};
    let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            for (n, c, s, groups) in [(2usize, 8usize, 64usize, 4usize), (3, 6, 5, 3), (4, 4, 1, 2), (2, 32, 256, 8)] {
                for (affine, beta_too) in [(true, true), (true, false), (false, false)] {
                    let (x, dz) = (lcg(n * c * s, 11), lcg(n * c * s, 12));
                    let (g, b) = (lcg(c, 13), lcg(c, 14));
                    let ga = affine.then_some(&g[..]);
                    let be = beta_too.then_some(&b[..]);
                    let rows = n * groups;
                    let (mut m, mut rs) = (vec![0f32; rows], vec![0f32; rows]);
                    let y = group_norm_forward_vec(&x, (n, c, s), groups, ga, be, 1e-5, &mut m, &mut rs);
                    let z_want = unary_vec(UnaryOp::Silu, &y);
                    let (mut m2, mut rs2) = (vec![0f32; rows], vec![0f32; rows]);
                    let z = group_norm_silu_forward_vec(&x, (n, c, s), groups, ga, be, 1e-5, &mut m2, &mut rs2);
                    let case = format!("{n}x{c}x{s} / {groups}, gamma {affine}, beta {beta_too}, {threads} threads");
                    assert_eq!(
                        (bits(&z), bits(&m2), bits(&rs2)),
                        (bits(&z_want), bits(&m), bits(&rs)),
                        "{case}: forward"
                    );
                    let mut dy = vec![0f32; n * c * s];
                    unary_backward(UnaryOp::Silu, &y, &z_want, &dz, &mut dy);
                    let (mut dg, mut db) = (vec![0f32; c], vec![0f32; c]);
                    let dx_want = group_norm_backward_vec(
                        &x,
                        &dy,
                        (n, c, s),
                        groups,
                        ga,
                        (&m, &rs),
                        (Some(&mut dg), Some(&mut db)),
                    );
                    let (mut dg2, mut db2) = (vec![0f32; c], vec![0f32; c]);
                    let dx = group_norm_silu_backward_vec(
                        &x,
                        &dz,
                        (n, c, s),
                        groups,
                        (ga, be),
                        (&m, &rs),
                        (Some(&mut dg2), Some(&mut db2)),
                    );
                    assert_eq!(bits(&dx), bits(&dx_want), "{case}: dx");
                    assert_eq!((bits(&dg2), bits(&db2)), (bits(&dg), bits(&db)), "{case}: dgamma, dbeta");
                }
            }
        });
    }
}

/// Every `simd_fn!` copy of the row loops (AVX-512, AVX2, portable; those this CPU has) gives the
/// same bits: row statistics, normalisation, the layer / RMS norm dx row and group norm's
/// backward row, for channels of 1 and of several elements, with and without gamma / beta, rows
/// shorter and longer than the lanes.
#[test]
fn row_loops_give_the_same_bits_in_every_simd_copy() {
    let vals = |len: usize, seed: usize| -> Vec<f32> {
        (0..len).map(|i| (((i * 7919 + seed * 104729) % 1013) as f32 / 337.0 - 1.4) * 1.7).collect()
    };
    for (d, s) in [(37usize, 1usize), (128, 1), (96, 3), (300, 25), (5, 5)] {
        let (x, dy) = (vals(d, 1), vals(d, 2));
        let (gamma, beta) = (vals(d / s + 4, 3), vals(d / s + 4, 4));
        for (ga, be, center) in [(true, true, true), (false, false, true), (true, false, false), (false, true, false)] {
            let (g, b) = (ga.then_some(&gamma[..]), be.then_some(&beta[..]));
            let run = |level: u8| {
                crate::with_simd_copy(level, || {
                    let (mu, inv) = row_stats(&x, center, 1.0 / d as f32, 1e-5);
                    let mut y = vec![0f32; d];
                    // SAFETY: normalize_row writes only values.
                    normalize_row(&x, unsafe { as_uninit(&mut y) }, (mu, inv), (2, s), g, b);
                    let mut dx = vec![0f32; d];
                    backward_dx_row(&x, &dy, &mut dx, (mu, inv, 1.0 / d as f32), center, (2, s), g);
                    let mut dxg = vec![0f32; d];
                    let mut share = vec![(0f32, 0f32); d / s];
                    // SAFETY: backward_row writes only values.
                    let stats = (mu, inv, 1.0 / d as f32);
                    group::backward_row(&x, &dy, unsafe { as_uninit(&mut dxg) }, &mut share, stats, (2, s), g);
                    let mut all = vec![mu, inv];
                    all.extend(y.iter().chain(&dx).chain(&dxg).copied().chain(share.iter().flat_map(|&(a, b)| [a, b])));
                    all.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
                })
            };
            let widest = run(2);
            for level in [1, 0] {
                assert_eq!(run(level), widest, "copy {level}: d {d}, s {s}, gamma {ga}, beta {be}, center {center}");
            }
        }
    }
}
