//! Softmax, log-softmax and cross-entropy over contiguous rows (`x, y: [rows, d]`).
//!
//! Forward, per row with `m = max(x)`: `softmax = exp(x - m) / Σ exp(x - m)` and
//! `log_softmax = (x - m) - ln Σ exp(x - m)`. Subtracting the max keeps every exponent ≤ 0,
//! so huge logits cannot overflow. (A row of all `-inf` gives NaN, as in PyTorch.)
//!
//! Backward, per row: softmax `dx = y·(dy - Σ dy·y)`; log-softmax (with `y` its output)
//! `dx = dy - exp(y)·Σ dy`.
//!
//! Cross-entropy with label smoothing `eps` over `C` classes and target `t` (PyTorch semantics):
//! `loss = -(1-eps)·logp[t] - (eps/C)·Σ_c logp[c]`, which is the cross-entropy against the target
//! distribution `q = (1-eps)·onehot(t) + eps/C`; so `dlogits = dloss·(softmax - q)`. Rows whose
//! target equals the ignore index give loss 0 and gradient 0.
//!
//! Rows are processed in parallel, one task per row, so every output is computed in the same
//! order whatever the thread count (bit-identical results).
use crate::lanes::{lane_dot, lane_fold};
use crate::Real;
use rayon::prelude::*;

/// Roughly the fewest elements one parallel task should get.
const PAR_GRAIN: usize = 1 << 14;

fn check_len<T>(name: &str, v: &[T], want: usize) {
    assert!(v.len() == want, "{name}: length {} but expected {want}", v.len());
}

/// Fewest rows of length `d` per parallel task.
fn min_rows(d: usize) -> usize {
    (PAR_GRAIN / d.max(1)).max(1)
}

/// Runs `f(r, out_row)` for every row of `out` (`[rows, d]`), rows in parallel for large inputs.
fn for_rows<T: Real>(out: &mut [T], rows: usize, d: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    check_len("output", out, rows * d);
    if d == 0 {
        return;
    }
    let _warm = (rows >= 2 * min_rows(d)).then(crate::parallel::keep_warm);
    out.par_chunks_mut(d).enumerate().with_min_len(min_rows(d)).for_each(|(r, o)| f(r, o));
}

/// Lanes of the softmax row reductions: one AVX-512 register of f32.
const ROW_LANES: usize = 16;

/// The largest value of a row (NaNs ignored, as `T::max` does; `-inf` for an empty row).
#[inline(always)]
fn row_max<T: Real>(row: &[T]) -> T {
    lane_fold::<T, ROW_LANES>(row, T::neg_infinity(), |v| v, T::max)
}

/// `Σ f(v)` over a row, in lanes.
#[inline(always)]
fn row_sum<T: Real>(row: &[T], f: impl Fn(T) -> T) -> T {
    lane_fold::<T, ROW_LANES>(row, T::zero(), f, |a, b| a + b)
}

simd_fn! {
    /// `(m, ln Σ exp(x - m))` for a row: `log_softmax = (x - m) - lse_shifted`.
    fn max_and_shifted_lse<T>(row: &[T]) -> (T, T) {
        let m = row_max(row);
        (m, row_sum(row, |v| (v - m).fast_exp()).ln())
    }
}

simd_fn! {
    /// Writes the softmax of `row` into `out` (same length).
    fn softmax_row<T>(row: &[T], out: &mut [T]) -> () {
        let m = row_max(row);
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v - m).fast_exp();
        }
        let s = row_sum(out, |v| v);
        out.iter_mut().for_each(|o| *o /= s);
    }
}

simd_fn! {
    /// `dx = y·(dy − Σ dy·y)` for one row.
    fn softmax_backward_row<T>(yr: &[T], dyr: &[T], dxr: &mut [T]) -> () {
        let dot = lane_dot::<T, ROW_LANES>(yr, dyr);
        for ((o, &a), &b) in dxr.iter_mut().zip(yr).zip(dyr) {
            *o = a * (b - dot);
        }
    }
}

simd_fn! {
    /// `y = (x − m) − ln Σ exp(x − m)` for one row.
    fn log_softmax_row<T>(xr: &[T], yr: &mut [T]) -> () {
        let m = row_max(xr);
        let lse = row_sum(xr, |v| (v - m).fast_exp()).ln();
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = (v - m) - lse;
        }
    }
}

simd_fn! {
    /// `dx = dy − exp(y)·Σ dy` for one row of a log-softmax output `y`.
    fn log_softmax_backward_row<T>(yr: &[T], dyr: &[T], dxr: &mut [T]) -> () {
        let s = row_sum(dyr, |v| v);
        for ((o, &a), &b) in dxr.iter_mut().zip(yr).zip(dyr) {
            *o = b - a.fast_exp() * s;
        }
    }
}

simd_fn! {
    /// `Σ (x − m)` over a row (label smoothing's share of the cross-entropy).
    fn shifted_sum<T>(row: &[T], m: T) -> T {
        row_sum(row, |v| v - m)
    }
}

/// x, y: [rows, d]
pub fn softmax_rows<T: Real>(x: &[T], rows: usize, d: usize, y: &mut [T]) {
    check_len("x", x, rows * d);
    for_rows(y, rows, d, |r, yr| softmax_row(&x[r * d..(r + 1) * d], yr));
}

/// dx = y * (dy - sum(dy * y)) per row; dx overwritten
pub fn softmax_rows_backward<T: Real>(y: &[T], dy: &[T], rows: usize, d: usize, dx: &mut [T]) {
    check_len("y", y, rows * d);
    check_len("dy", dy, rows * d);
    for_rows(dx, rows, d, |r, dxr| softmax_backward_row(&y[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d], dxr));
}

/// x, y: [rows, d]; y = log_softmax(x) per row
pub fn log_softmax_rows<T: Real>(x: &[T], rows: usize, d: usize, y: &mut [T]) {
    check_len("x", x, rows * d);
    for_rows(y, rows, d, |r, yr| log_softmax_row(&x[r * d..(r + 1) * d], yr));
}

/// y is the log-softmax output; dx = dy - exp(y) * sum(dy)
pub fn log_softmax_rows_backward<T: Real>(y: &[T], dy: &[T], rows: usize, d: usize, dx: &mut [T]) {
    check_len("y", y, rows * d);
    check_len("dy", dy, rows * d);
    for_rows(dx, rows, d, |r, dxr| log_softmax_backward_row(&y[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d], dxr));
}

/// Attention's score softmax in one pass: `y = softmax(scale·x)` per row. With
/// `causal = Some(lq)` the rows are the query rows of `[.., lq, d]` score matrices and row `r`
/// (query `i = r % lq`) sees only the keys `j ≤ i`: the softmax runs over those and the others
/// get exactly 0, as `−∞` scores would (PyTorch's `is_causal`, top-left aligned). Each row is
/// the same bits as [`softmax_rows`] of its scaled visible part; masked keys cost no `exp`
/// (whose result would underflow through subnormals, slow on x86).
/// x, y: [rows, d]
pub fn scaled_softmax_rows<T: Real>(x: &[T], (rows, d): (usize, usize), scale: T, causal: Option<usize>, y: &mut [T]) {
    check_len("x", x, rows * d);
    for_rows(y, rows, d, |r, yr| scaled_softmax_row(&x[r * d..(r + 1) * d], scale, visible_keys(r, d, causal), yr));
}

/// Backward of [`scaled_softmax_rows`] given its output `y`: `dx = scale·y·(dy − Σ dy·y)` over
/// each row's visible keys, exactly 0 at the masked ones.
/// y, dy, dx: [rows, d]
pub fn scaled_softmax_rows_backward<T: Real>(
    (y, dy): (&[T], &[T]),
    (rows, d): (usize, usize),
    scale: T,
    causal: Option<usize>,
    dx: &mut [T],
) {
    check_len("y", y, rows * d);
    check_len("dy", dy, rows * d);
    for_rows(dx, rows, d, |r, dxr| {
        let (yr, dyr) = (&y[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
        scaled_softmax_backward_row(yr, dyr, scale, visible_keys(r, d, causal), dxr)
    });
}

simd_fn! {
    /// `out[..seen] = softmax(scale·row[..seen])`, `out[seen..] = 0`: [`softmax_row`]'s steps on
    /// the scaled visible part (the same bits), written straight into `out`.
    fn scaled_softmax_row<T>(row: &[T], scale: T, seen: usize, out: &mut [T]) -> () {
        let (head, tail) = out.split_at_mut(seen);
        head.iter_mut().zip(&row[..seen]).for_each(|(o, &v)| *o = v * scale);
        let m = row_max(head);
        head.iter_mut().for_each(|o| *o = (*o - m).fast_exp());
        let s = row_sum(head, |v| v);
        head.iter_mut().for_each(|o| *o /= s);
        tail.fill(T::zero());
    }
}

simd_fn! {
    /// `dx[..seen] = (y·(dy − Σ dy·y))·scale` over the visible part, `dx[seen..] = 0`.
    fn scaled_softmax_backward_row<T>(yr: &[T], dyr: &[T], scale: T, seen: usize, dxr: &mut [T]) -> () {
        let (head, tail) = dxr.split_at_mut(seen);
        let dot = lane_dot::<T, ROW_LANES>(&yr[..seen], &dyr[..seen]);
        for ((o, &a), &b) in head.iter_mut().zip(yr).zip(dyr) {
            *o = a * (b - dot) * scale;
        }
        tail.fill(T::zero());
    }
}

/// How many keys (from the first) row `r` of a score matrix sees: all `d`, or with a causal
/// mask over `lq` query rows, `r % lq + 1` (at most `d`).
fn visible_keys(r: usize, d: usize, causal: Option<usize>) -> usize {
    causal.map_or(d, |lq| (r % lq.max(1) + 1).min(d))
}

/// The target class of a row, or `None` when the row is ignored.
fn target_of(t: i64, ignore_index: Option<i64>, classes: usize) -> Option<usize> {
    if ignore_index == Some(t) {
        return None;
    }
    assert!((0..classes as i64).contains(&t), "target {t} out of range 0..{classes}");
    Some(t as usize)
}

/// Per-row cross-entropy with optional ignore index and label smoothing eps (PyTorch semantics:
/// loss_i = -(1-eps) * logp[i, t_i] - (eps / classes) * sum_c logp[i, c]; ignored rows give 0).
/// logits: [rows, classes]; targets: [rows] (caller guarantees each is in 0..classes or equals ignore_index);
/// losses: [rows] overwritten. Returns the number of non-ignored rows.
pub fn cross_entropy_rows<T: Real>(
    logits: &[T],
    rows: usize,
    classes: usize,
    targets: &[i64],
    ignore_index: Option<i64>,
    label_smoothing: T,
    losses: &mut [T],
) -> usize {
    check_len("logits", logits, rows * classes);
    check_len("targets", targets, rows);
    let eps = label_smoothing;
    let c = <T as Real>::from_f64(classes as f64);
    check_len("losses", losses, rows);
    let _warm = (rows >= 2 * min_rows(classes)).then(crate::parallel::keep_warm);
    let tasks = losses.par_iter_mut().enumerate().with_min_len(min_rows(classes));
    tasks.for_each(|(r, out)| {
        *out = match target_of(targets[r], ignore_index, classes) {
            None => T::zero(),
            Some(t) => {
                let xr = &logits[r * classes..(r + 1) * classes];
                let (m, lse) = max_and_shifted_lse(xr);
                let nll = -((xr[t] - m) - lse);
                if eps == T::zero() {
                    nll
                } else {
                    // Σ_c logp[c] = Σ_c (x_c - m) - C·lse
                    let sum_logp = shifted_sum(xr, m) - c * lse;
                    (T::one() - eps) * nll - eps / c * sum_logp
                }
            }
        };
    });
    targets.iter().filter(|&&t| ignore_index != Some(t)).count()
}

/// dlogits[i, c] = dloss[i] * (softmax[i,c] - ((1-eps)*[c == t_i] + eps/classes)); 0 for ignored rows. dlogits overwritten.
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_rows_backward<T: Real>(
    logits: &[T],
    rows: usize,
    classes: usize,
    targets: &[i64],
    ignore_index: Option<i64>,
    label_smoothing: T,
    dloss: &[T],
    dlogits: &mut [T],
) {
    check_len("logits", logits, rows * classes);
    check_len("targets", targets, rows);
    check_len("dloss", dloss, rows);
    let eps = label_smoothing;
    let smooth = eps / <T as Real>::from_f64(classes as f64);
    for_rows(dlogits, rows, classes, |r, out| {
        let Some(t) = target_of(targets[r], ignore_index, classes) else {
            out.fill(T::zero());
            return;
        };
        softmax_row(&logits[r * classes..(r + 1) * classes], out);
        let g = dloss[r];
        out.iter_mut().for_each(|o| *o = g * (*o - smooth));
        out[t] -= g * (T::one() - eps);
    });
}

/// Naive softmax (computed in f64 with the max subtracted); returns y: [rows, d].
pub fn softmax_reference<T: Real>(x: &[T], rows: usize, d: usize) -> Vec<T> {
    let mut y = Vec::with_capacity(rows * d);
    for r in 0..rows {
        let row: Vec<f64> = x[r * d..(r + 1) * d].iter().map(|&v| Real::to_f64(v)).collect();
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        y.extend(e.iter().map(|v| <T as Real>::from_f64(v / s)));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn close(got: &[f64], want: &[f64], atol: f64, rtol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= atol + rtol * w.abs(), "{what}[{i}]: got {g}, want {w}");
        }
    }

    /// Central finite difference (step 1e-6) of `f` at `p`.
    fn numgrad(p: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        let (h, mut q) = (1e-6, p.to_vec());
        (0..p.len())
            .map(|i| {
                q[i] = p[i] + h;
                let up = f(&q);
                q[i] = p[i] - h;
                let down = f(&q);
                q[i] = p[i];
                (up - down) / (2.0 * h)
            })
            .collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// (rows, d, x, w): `w` weighs the linear functional L = Σ w·f(x).
    fn case(max_rows: usize, max_d: usize, scale: f64) -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<f64>)> {
        (1..=max_rows, 1..=max_d)
            .prop_flat_map(move |(r, d)| (Just(r), Just(d), vec(-scale..scale, r * d), vec(-1.0..1.0f64, r * d)))
    }

    fn sm(x: &[f64], r: usize, d: usize, log: bool) -> Vec<f64> {
        let mut y = vec![0.0; r * d];
        if log {
            log_softmax_rows(x, r, d, &mut y)
        } else {
            softmax_rows(x, r, d, &mut y)
        }
        y
    }

    /// Targets from raw draws: `raw == classes` means "ignored" (when an ignore index exists).
    fn targets(raw: &[usize], classes: usize, ignore: Option<i64>) -> Vec<i64> {
        raw.iter().map(|&t| if t == classes { ignore.unwrap_or(0) } else { t as i64 }).collect()
    }

    proptest! {
        #[test]
        fn softmax_forwards_match_reference((r, d, x, _) in case(9, 40, 20.0)) {
            let want = softmax_reference(&x, r, d);
            close(&sm(&x, r, d, false), &want, 1e-14, 1e-12, "softmax");
            let log_want: Vec<f64> = want.iter().map(|v| v.ln()).collect();
            close(&sm(&x, r, d, true), &log_want, 1e-12, 1e-12, "log_softmax");
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let mut y32 = vec![0f32; r * d];
            softmax_rows(&x32, r, d, &mut y32);
            let y32: Vec<f64> = y32.iter().map(|&v| v as f64).collect();
            close(&y32, &softmax_reference(&x32, r, d).iter().map(|&v| v as f64).collect::<Vec<_>>(), 1e-6, 1e-5, "f32");
        }

        #[test]
        fn softmax_backwards_match_fd((r, d, x, w) in case(5, 10, 3.0)) {
            let mut dx = vec![0.0; r * d];
            softmax_rows_backward(&sm(&x, r, d, false), &w, r, d, &mut dx);
            close(&dx, &numgrad(&x, |xp| dot(&w, &sm(xp, r, d, false))), 1e-6, 1e-5, "softmax dx");
            log_softmax_rows_backward(&sm(&x, r, d, true), &w, r, d, &mut dx);
            close(&dx, &numgrad(&x, |xp| dot(&w, &sm(xp, r, d, true))), 1e-6, 1e-5, "log_softmax dx");
        }

        #[test]
        fn cross_entropy_matches_formula_and_fd(
            (r, c, x, _) in case(6, 8, 3.0), raw in vec(0..=8usize, 6), dloss in vec(-1.0..1.0f64, 6),
            ignore in prop_oneof![Just(None), Just(Some(-100i64)), Just(Some(1))], smooth in prop_oneof![Just(0.0), 0.0..0.3f64],
        ) {
            let raw: Vec<usize> = raw[..r].iter().map(|&t| t.min(c)).collect();
            let t = targets(&raw, c, ignore);
            let ce = |xp: &[f64]| {
                let mut l = vec![0.0; r];
                let n = cross_entropy_rows(xp, r, c, &t, ignore, smooth, &mut l);
                (l, n)
            };
            let (loss, n) = ce(&x);
            let logp = sm(&x, r, c, true);
            let ignored = |i: usize| ignore == Some(t[i]);
            prop_assert_eq!(n, (0..r).filter(|&i| !ignored(i)).count());
            let want: Vec<f64> = (0..r)
                .map(|i| {
                    let lp = &logp[i * c..(i + 1) * c];
                    if ignored(i) { 0.0 } else { -(1.0 - smooth) * lp[t[i] as usize] - smooth / c as f64 * lp.iter().sum::<f64>() }
                })
                .collect();
            close(&loss, &want, 1e-12, 1e-12, "ce loss");
            let mut dl = vec![0.0; r * c];
            cross_entropy_rows_backward(&x, r, c, &t, ignore, smooth, &dloss[..r], &mut dl);
            close(&dl, &numgrad(&x, |xp| dot(&dloss[..r], &ce(xp).0)), 1e-6, 1e-5, "ce dlogits");
        }
    }

    #[test]
    fn huge_logits_stay_finite() {
        fn check<T: Real>() {
            let x: Vec<T> = [1000.0, -1000.0, 0.0, 999.0].iter().map(|&v| <T as Real>::from_f64(v)).collect();
            let (mut y, mut ly, mut dx, mut loss) =
                (vec![T::zero(); 4], vec![T::zero(); 4], vec![T::zero(); 4], [T::zero()]);
            softmax_rows(&x, 1, 4, &mut y);
            log_softmax_rows(&x, 1, 4, &mut ly);
            let sum: f64 = y.iter().map(|&v| Real::to_f64(v)).sum();
            assert!((sum - 1.0).abs() < 1e-6, "softmax sums to {sum}");
            assert!((Real::to_f64(y[0]) - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-6);
            let smooth = <T as Real>::from_f64(0.1);
            cross_entropy_rows(&x, 1, 4, &[1], None, smooth, &mut loss);
            let want = 1_875.338_261_687_518; // -(0.9)·logp[1] - (0.1/4)·Σ logp, computed in f64
            assert!((Real::to_f64(loss[0]) - want).abs() < 1e-3, "loss {:?}", loss[0]);
            cross_entropy_rows_backward(&x, 1, 4, &[1], None, smooth, &[T::one()], &mut dx);
            let all = y.iter().chain(&ly).chain(&dx).chain(&loss);
            assert!(all.clone().all(|v| v.is_finite()), "non-finite output: {:?}", all.collect::<Vec<_>>());
        }
        check::<f32>();
        check::<f64>();
    }

    /// The fused attention softmax against its pieces: per row, the scaled visible part through
    /// `softmax_rows` (backward: `softmax_rows_backward`, then the scale), zeros at the masked
    /// keys. The same bits, forward and backward, without and with a causal mask (`lq` above
    /// and below `d`); without a mask that is exactly scale-then-softmax of the whole rows.
    #[test]
    fn scaled_softmax_matches_its_pieces_bitwise() {
        let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>();
        for (batch, lq, d) in [(3usize, 5usize, 7usize), (2, 7, 5), (4, 64, 64), (1, 1, 3), (300, 8, 8), (2, 40, 37)] {
            let rows = batch * lq;
            let (x, dy) = (lcg(rows * d, lq as u64), lcg(rows * d, 77 + d as u64));
            let scale = 0.125f32;
            for causal in [None, Some(lq)] {
                let (mut want, mut want_dx) = (vec![0f32; rows * d], vec![0f32; rows * d]);
                for r in 0..rows {
                    let seen = if causal.is_some() { (r % lq + 1).min(d) } else { d };
                    let scaled: Vec<f32> = x[r * d..r * d + seen].iter().map(|&v| v * scale).collect();
                    softmax_rows(&scaled, 1, seen, &mut want[r * d..r * d + seen]);
                    let (yr, dyr) = (&want[r * d..r * d + seen], &dy[r * d..r * d + seen]);
                    let mut g = vec![0f32; seen];
                    softmax_rows_backward(yr, dyr, 1, seen, &mut g);
                    for (o, v) in want_dx[r * d..].iter_mut().zip(g) {
                        *o = v * scale;
                    }
                }
                let mut y = vec![f32::NAN; rows * d];
                scaled_softmax_rows(&x, (rows, d), scale, causal, &mut y);
                assert_eq!(bits(&y), bits(&want), "forward {batch}x{lq}x{d} causal {causal:?}");
                let mut dx = vec![f32::NAN; rows * d];
                scaled_softmax_rows_backward((&y, &dy), (rows, d), scale, causal, &mut dx);
                assert_eq!(bits(&dx), bits(&want_dx), "backward {batch}x{lq}x{d} causal {causal:?}");
                if causal.is_none() {
                    // Without a mask: scale, then the plain softmax of the whole rows.
                    let scaled: Vec<f32> = x.iter().map(|&v| v * scale).collect();
                    let mut plain = vec![0f32; rows * d];
                    softmax_rows(&scaled, rows, d, &mut plain);
                    assert_eq!(bits(&y), bits(&plain));
                }
            }
        }
    }

    /// Deterministic pseudo-random values in [-4, 4).
    fn lcg(len: usize, seed: u64) -> Vec<f32> {
        let mut st = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((st >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * 4.0
            })
            .collect()
    }

    fn run_all() -> Vec<Vec<u32>> {
        let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>();
        let (r, d) = (4096, 100);
        let (x, dy) = (lcg(r * d, 1), lcg(r * d, 2));
        let t: Vec<i64> = (0..r as i64).map(|i| if i % 7 == 0 { -100 } else { (i * 31) % d as i64 }).collect();
        let (mut y, mut ly, mut dx, mut dlx) =
            (vec![0f32; r * d], vec![0f32; r * d], vec![0f32; r * d], vec![0f32; r * d]);
        softmax_rows(&x, r, d, &mut y);
        softmax_rows_backward(&y, &dy, r, d, &mut dx);
        log_softmax_rows(&x, r, d, &mut ly);
        log_softmax_rows_backward(&ly, &dy, r, d, &mut dlx);
        let mut loss = vec![0f32; r];
        cross_entropy_rows(&x, r, d, &t, Some(-100), 0.1, &mut loss);
        let mut dl = vec![0f32; r * d];
        cross_entropy_rows_backward(&x, r, d, &t, Some(-100), 0.1, &dy[..r], &mut dl);
        vec![bits(&y), bits(&dx), bits(&ly), bits(&dlx), bits(&loss), bits(&dl)]
    }

    #[test]
    fn softmax_is_bit_identical_across_thread_counts() {
        let run_in = |t: usize| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap().install(run_all);
        let one = run_in(1);
        for t in [2, 3, 8] {
            assert!(one == run_in(t), "outputs differ between 1 and {t} threads");
        }
    }
}
