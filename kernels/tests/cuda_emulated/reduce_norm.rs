//! Cases for reduce.cu, softmax.cu and norm.cu.
use crate::harness::*;

// ---- reduce.cu, softmax.cu --------------------------------------------------------------------

pub(crate) fn reduce_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
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

pub(crate) fn softmax_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
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

pub(crate) const NORM_THREADS: u32 = 256; // kernels::cuda::norm::THREADS
pub(crate) const CHUNK_ROWS: usize = 64; // kernels::cuda::norm::CHUNK_ROWS

/// Layer norm (`groups = s = 1`) or group norm over `[n, c, s]` (`rows = n·groups`), forward,
/// input gradient and gamma/beta gradients, as `kernels::cuda::norm` launches them.
pub(crate) fn norm_case<T: F>(s: &mut Script, rng: &mut Lcg, (n, c, sp, groups): (usize, usize, usize, usize)) {
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
