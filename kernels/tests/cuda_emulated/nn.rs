//! Cases for gemm.cu, conv.cu and pool.cu.
use crate::harness::*;

// ---- gemm.cu, conv.cu, pool.cu ----------------------------------------------------------------

/// `GemmDims` of `kernels/cuda/gemm.cuh` (and `kernels::cuda::gemm::GemmDims`).
pub(crate) struct Gemm {
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

pub(crate) fn gemm_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
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

pub(crate) fn conv_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
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

pub(crate) fn pool_cases<T: F>(s: &mut Script, rng: &mut Lcg) {
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
