//! Tests: the fast kernels against the naive references.
use super::*;
use crate::gemm::gemm;
use crate::gemm::RowSource;
use proptest::prelude::*;

/// Deterministic values in [-1, 1) from a seed (splitmix64).
fn rand_vec(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn assert_close(a: f64, b: f64, rel: f64, g: &Conv2dGeom, what: &str) {
    assert!((a - b).abs() <= rel * (1.0 + b.abs()), "{g:?} {what}: {a} vs {b}");
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Geometry from `[n, c_in, h, w, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups]`.
fn geo(v: [usize; 14]) -> Conv2dGeom {
    let [n, c_in, h, w, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups] = v;
    Conv2dGeom { n, c_in, h, w, c_out, kh, kw, stride: (sh, sw), padding: (ph, pw), dilation: (dh, dw), groups }
}

fn x_len(g: &Conv2dGeom) -> usize {
    g.n * g.c_in * g.h * g.w
}

fn y_len(g: &Conv2dGeom) -> usize {
    g.n * g.c_out * g.out_h() * g.out_w()
}

prop_compose! {
    fn geom()(n in 1usize..=3, groups in 1usize..=3, cig in 1usize..=3, cog in 1usize..=3,
              kh in 1usize..=3, kw in 1usize..=3, sh in 1usize..=3, sw in 1usize..=3,
              ph in 0usize..=2, pw in 0usize..=2, dh in 1usize..=2, dw in 1usize..=2,
              eh in 0usize..=6, ew in 0usize..=6) -> Conv2dGeom {
        // Smallest size with at least one output position, plus a random extra.
        let h = (dh * (kh - 1) + 1).saturating_sub(2 * ph).max(1) + eh;
        let w = (dw * (kw - 1) + 1).saturating_sub(2 * pw).max(1) + ew;
        geo([n, cig * groups, h, w, cog * groups, kh, kw, sh, sw, ph, pw, dh, dw, groups])
    }
}

/// The band sizes to exercise: the production choice, plus 1- and 2-row bands.
fn test_bands(g: &Conv2dGeom) -> [usize; 3] {
    [band_rows(g), 1, 2.min(g.out_h())]
}

fn check_forward(g: &Conv2dGeom, seed: u64) {
    let x = rand_vec(seed, x_len(g));
    let w = rand_vec(seed ^ 0xABCD, g.weight_len());
    let mut want = vec![0.0; y_len(g)];
    conv2d_reference(g, &x, &w, &mut want);
    for band in test_bands(g) {
        let mut got = vec![f64::NAN; y_len(g)];
        // SAFETY: forward_banded writes only values.
        forward_banded(g, &x, &w, unsafe { crate::memory::as_uninit(&mut got) }, band, None);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_close(*a, *b, 1e-12, g, &format!("band {band}: y[{i}]"));
        }
    }
    // f32 path agrees with the f64 reference to f32 accuracy.
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
    let mut gotf = vec![f32::NAN; y_len(g)];
    conv2d_forward(g, &xf, &wf, &mut gotf);
    for (i, (a, b)) in gotf.iter().zip(&want).enumerate() {
        assert_close(*a as f64, *b, 1e-4, g, &format!("f32 y[{i}]"));
    }
    // Into a new vector (never filled): the same bits.
    let new = conv2d_forward_vec(g, &xf, &wf);
    assert!(
        new.len() == gotf.len() && new.iter().zip(&gotf).all(|(a, b)| a.to_bits() == b.to_bits()),
        "{g:?}: conv2d_forward_vec"
    );
}

/// <conv(x, w), dy> == <x, backward_input(dy, w)> == <w, backward_weight(x, dy)>.
fn check_adjoint(g: &Conv2dGeom, seed: u64) {
    let x = rand_vec(seed, x_len(g));
    let w = rand_vec(seed ^ 0x1234, g.weight_len());
    let dy = rand_vec(seed ^ 0x5678, y_len(g));
    let mut y = vec![0.0; y_len(g)];
    conv2d_reference(g, &x, &w, &mut y);
    let lhs = dot(&y, &dy);
    // Relative to the size of the terms summed (the inner products may cancel to ~0).
    let scale = 1.0 + y.iter().chain(&dy).map(|v| v.abs()).sum::<f64>();
    for band in test_bands(g) {
        let mut dx = vec![f64::NAN; x_len(g)];
        backward_input_banded(g, &dy, &w, &mut dx, band, false);
        // Into a buffer that is already zero: the same bits, without the second zero fill.
        let mut dx0 = vec![0.0; x_len(g)];
        backward_input_banded(g, &dy, &w, &mut dx0, band, true);
        assert!(dx.iter().zip(&dx0).all(|(a, b)| a.to_bits() == b.to_bits()), "into_zeroed differs");
        let mut dw = vec![f64::NAN; g.weight_len()];
        backward_weight_banded(g, &x, &dy, &mut dw, band);
        let (rx, rw) = (dot(&x, &dx) / scale, dot(&w, &dw) / scale);
        assert_close(rx, lhs / scale, 1e-12, g, &format!("band {band}: <x,dx> vs <y,dy>"));
        assert_close(rw, lhs / scale, 1e-12, g, &format!("band {band}: <w,dw> vs <y,dy>"));
    }
}

proptest! {
    #[test]
    fn forward_matches_reference(g in geom(), seed in any::<u64>()) {
        check_forward(&g, seed);
    }

    #[test]
    fn backward_passes_are_adjoints(g in geom(), seed in any::<u64>()) {
        check_adjoint(&g, seed);
    }

    #[test]
    fn im2col_col2im_adjoint(g in geom(), seed in any::<u64>()) {
        // <im2col(x), c> == <x, col2im(c)> for one image.
        let x = rand_vec(seed, g.c_in * g.h * g.w);
        let c = rand_vec(!seed, g.col_rows() * g.col_cols());
        let mut cols = vec![f64::NAN; c.len()];
        im2col(&g, &x, &mut cols);
        let mut back = vec![f64::NAN; x.len()];
        col2im(&g, &c, &mut back);
        let (a, b) = (dot(&cols, &c), dot(&x, &back));
        prop_assert!((a - b).abs() <= 1e-12 * (1.0 + a.abs()));
    }
}

#[test]
fn pointwise_fast_path() {
    for groups in [1, 2] {
        let g = geo([3, 4, 5, 7, 6, 1, 1, 1, 1, 0, 0, 1, 1, groups]);
        check_forward(&g, 7);
        check_adjoint(&g, 8);
    }
}

#[test]
fn larger_geometries() {
    let g = geo([4, 8, 17, 13, 12, 3, 3, 2, 1, 1, 1, 1, 2, 4]);
    check_forward(&g, 1);
    check_adjoint(&g, 2);
    let g = geo([11, 3, 9, 9, 5, 4, 2, 1, 3, 2, 0, 1, 1, 1]);
    check_forward(&g, 3);
    check_adjoint(&g, 4);
}

/// Central finite differences of L = <conv(x, w), dy> in f64 at a few coordinates.
#[test]
fn finite_difference_spot_check() {
    let g = geo([2, 4, 6, 5, 4, 3, 2, 2, 1, 1, 1, 1, 2, 2]);
    let x = rand_vec(11, x_len(&g));
    let w = rand_vec(12, g.weight_len());
    let dy = rand_vec(13, y_len(&g));
    let loss = |x: &[f64], w: &[f64]| {
        let mut y = vec![0.0; y_len(&g)];
        conv2d_forward(&g, x, w, &mut y);
        dot(&y, &dy)
    };
    let mut dx = vec![0.0; x.len()];
    conv2d_backward_input(&g, &dy, &w, &mut dx);
    let mut dw = vec![0.0; w.len()];
    conv2d_backward_weight(&g, &x, &dy, &mut dw);
    let eps = 1e-5;
    for i in [0, 7, 31, 59, x.len() - 1] {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += eps;
        xm[i] -= eps;
        let fd = (loss(&xp, &w) - loss(&xm, &w)) / (2.0 * eps);
        assert!((fd - dx[i]).abs() < 1e-8, "dx[{i}]: fd {fd} vs {}", dx[i]);
    }
    for i in [0, 5, 13, w.len() - 1] {
        let (mut wp, mut wm) = (w.clone(), w.clone());
        wp[i] += eps;
        wm[i] -= eps;
        let fd = (loss(&x, &wp) - loss(&x, &wm)) / (2.0 * eps);
        assert!((fd - dw[i]).abs() < 1e-8, "dw[{i}]: fd {fd} vs {}", dw[i]);
    }
}

/// Forward and both backward passes give bit-identical results on 1 and 4 threads.
#[test]
fn deterministic_across_thread_counts() {
    let g = geo([13, 6, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2]);
    let f32s = |v: Vec<f64>| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let x = f32s(rand_vec(21, x_len(&g)));
    let w = f32s(rand_vec(22, g.weight_len()));
    let dy = f32s(rand_vec(23, y_len(&g)));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut y = vec![0f32; y_len(&g)];
            conv2d_forward(&g, &x, &w, &mut y);
            let mut dx = vec![0f32; x_len(&g)];
            conv2d_backward_input(&g, &dy, &w, &mut dx);
            let mut dw = vec![0f32; g.weight_len()];
            conv2d_backward_weight(&g, &x, &dy, &mut dw);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            (bits(&y), bits(&dx), bits(&dw))
        })
    };
    assert_eq!(run(1), run(4));
}

#[test]
fn output_size_formula() {
    let g = geo([1, 1, 10, 7, 1, 3, 2, 3, 2, 2, 1, 2, 1, 1]);
    // (10 + 4 - 2*2 - 1)/3 + 1 = 4 ; (7 + 2 - 1 - 1)/2 + 1 = 4
    assert_eq!((g.out_h(), g.out_w()), (4, 4));
}

/// The rows the GEMM packs straight from the image are the stored im2col rows, for any piece of
/// any row (pieces that start mid-row and cross output rows included), and the forward pass built
/// on them gives the same bits as `im2col` + `gemm` of the stored matrix, in bands or whole.
#[test]
fn im2col_rows_on_demand_match_the_stored_matrix() {
    let geoms = [
        geo([2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1]),
        geo([1, 4, 9, 8, 6, 3, 2, 2, 1, 0, 1, 1, 1, 2]),
        geo([1, 2, 8, 9, 3, 3, 3, 2, 3, 2, 1, 2, 1, 1]),
        geo([2, 2, 5, 5, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1]),
        geo([1, 3, 4, 11, 5, 1, 3, 1, 2, 0, 0, 1, 2, 1]),
    ];
    for g in &geoms {
        let (ho, wo, rows) = (g.out_h(), g.out_w(), g.col_rows());
        let x: Vec<f32> = rand_vec(1, x_len(g)).iter().map(|&v| v as f32).collect();
        let w: Vec<f32> = rand_vec(2, g.weight_len()).iter().map(|&v| v as f32).collect();
        let img_len = g.c_in * g.h * g.w;
        let mut want = vec![0f32; y_len(g)];
        for n in 0..g.n {
            let x_img = &x[n * img_len..(n + 1) * img_len];
            let mut cols = vec![0f32; rows * ho * wo];
            im2col(g, x_img, &mut cols);
            let (hp, wp) = padded::padded_size(g);
            let mut xp = vec![f32::NAN; g.c_in * hp * wp];
            padded::pad_image(g, x_img, &mut xp);
            let padded_src = padded::PaddedRows { g, xp: &xp, c0: 0, oh0: 0 };
            let plain_src = Im2colRows { g, x_img, c0: 0, oh0: 0 };
            let p = ho * wo;
            for src in [&plain_src as &dyn RowSource<f32>, &padded_src] {
                for r in 0..rows {
                    for (j0, len) in [(0, p), (1, p - 1), (wo.saturating_sub(1), (wo + 2).min(p - wo + 1)), (p - 1, 1)]
                    {
                        let mut seg = vec![f32::NAN; len];
                        src.rows((r, 1), (j0, len), &mut seg, len);
                        assert_eq!(seg, cols[r * p + j0..r * p + j0 + len], "{g:?} row {r} from {j0}");
                    }
                }
                // Blocks of rows starting anywhere (the tap counters wrap across kw, kh and channels).
                for (r0, count) in [(0, rows), (1, rows - 1), (rows / 2, rows - rows / 2)] {
                    for (j0, len) in [(0, p), (wo.saturating_sub(1), (wo + 2).min(p - wo + 1))] {
                        let ld = len + 3;
                        let mut block = vec![f32::NAN; count * ld];
                        src.rows((r0, count), (j0, len), &mut block, ld);
                        for q in 0..count {
                            let want = &cols[(r0 + q) * p + j0..(r0 + q) * p + j0 + len];
                            assert_eq!(&block[q * ld..q * ld + len], want, "{g:?} block row {}", r0 + q);
                            assert!(block[q * ld + len..(q + 1) * ld].iter().all(|v| v.is_nan()), "wrote past len");
                        }
                    }
                }
            }
            let (k, cog) = (rows / g.groups, g.c_out / g.groups);
            for gi in 0..g.groups {
                let c = &mut want[(n * g.c_out + gi * cog) * p..(n * g.c_out + (gi + 1) * cog) * p];
                gemm(cog, p, k, mat(&w, gi * cog * k, k, 1), mat(&cols, gi * k * p, p, 1), c, false);
            }
        }
        for band in [1, 2, ho] {
            let mut y = vec![f32::NAN; y_len(g)];
            // SAFETY: forward_banded writes only values.
            forward_banded(g, &x, &w, unsafe { crate::memory::as_uninit(&mut y) }, band, None);
            assert_eq!(y, want, "{g:?} band {band}");
        }
    }
}

/// The implicit GEMM (stride 1, output rows of 32 or 16 pixels) against the im2col path: the
/// same bits, for several depth slices, C_out not a multiple of the tile, dilation and no
/// padding; and against the naive reference.
#[test]
fn implicit_forward_equals_im2col_bitwise() {
    let cases = [
        geo([5, 64, 16, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1]), // Wo 16, K = 576: two depth slices
        geo([5, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1]),  // Wo 32, K = 27
        geo([4, 8, 32, 34, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1]),   // no padding: Wo 32 from W 34, C_out 3
        geo([4, 5, 20, 20, 9, 3, 3, 1, 1, 0, 0, 2, 2, 1]),   // dilation 2: Wo 16
        geo([8, 16, 64, 64, 16, 5, 5, 1, 1, 2, 2, 1, 1, 1]), // Wo 64: two slivers per row
        geo([4, 6, 16, 16, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1]), // C_out 100: 12-row tiles, one partial
    ];
    // Enough images that every thread of the pool gets whole ones (the implicit path's condition).
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool");
    pool.install(|| {
        for g in &cases {
            assert_eq!(Implicit::plan::<f32>(g).is_some(), crate::gemm::gather::gathered_available(), "{g:?}");
            let x: Vec<f32> = rand_vec(7, x_len(g)).iter().map(|&v| v as f32).collect();
            let w: Vec<f32> = rand_vec(8, g.weight_len()).iter().map(|&v| v as f32).collect();
            let mut want = vec![f32::NAN; y_len(g)];
            // SAFETY: forward_banded writes only values.
            forward_banded(g, &x, &w, unsafe { crate::memory::as_uninit(&mut want) }, band_rows(g), None);
            let got = conv2d_forward_vec(g, &x, &w);
            let bits = |v: &[f32]| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>();
            assert_eq!(bits(&got), bits(&want), "{g:?}");
            let (xd, wd): (Vec<f64>, Vec<f64>) =
                (x.iter().map(|&v| v as f64).collect(), w.iter().map(|&v| v as f64).collect());
            let mut reference = vec![0.0; y_len(g)];
            conv2d_reference(g, &xd, &wd, &mut reference);
            for (i, (a, b)) in got.iter().zip(&reference).enumerate() {
                assert_close(*a as f64, *b, 1e-4, g, &format!("y[{i}]"));
            }
        }
    });
}

/// The input gradient as a forward convolution of `dy` with flipped, transposed weights (stride
/// 1: through the implicit GEMM for rows of 16 or 32·k pixels, im2col rows from the padded `dy`
/// otherwise) against the col2im path in f64: equal to f32 accuracy; and where it does not apply
/// (padding beyond the kernel's reach, stride 2, groups) col2im runs.
#[test]
fn flipped_backward_input_matches_col2im() {
    let cases = [
        (geo([5, 64, 16, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true),
        (geo([5, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true),
        (geo([4, 16, 32, 32, 8, 5, 5, 1, 1, 2, 2, 1, 1, 1]), true),
        (geo([4, 5, 32, 32, 9, 3, 3, 1, 1, 2, 2, 2, 2, 1]), true), // dilation 2, padding 2
        (geo([4, 5, 20, 20, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true), // rows of 20: im2col rows
        (geo([6, 24, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true), // rows of 8: im2col rows
        (geo([4, 5, 32, 32, 9, 3, 3, 1, 1, 3, 3, 1, 1, 1]), false), // padding 3 > k − 1
        (geo([4, 5, 16, 16, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1]), false), // stride 2
        (geo([4, 6, 16, 16, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2]), false), // groups
    ];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool");
    pool.install(|| {
        for (g, applies) in &cases {
            assert_eq!(flipped::geometry(g).is_some(), *applies, "{g:?}");
            let dy64 = rand_vec(5, y_len(g));
            let w64 = rand_vec(6, g.weight_len());
            let mut want = vec![f64::NAN; x_len(g)];
            backward_input_banded(g, &dy64, &w64, &mut want, band_rows(g), false);
            let (dy, w): (Vec<f32>, Vec<f32>) =
                (dy64.iter().map(|&v| v as f32).collect(), w64.iter().map(|&v| v as f32).collect());
            let mut through_api = vec![f32::NAN; x_len(g)];
            conv2d_backward_input(g, &dy, &w, &mut through_api);
            let new_vec = conv2d_backward_input_vec(g, &dy, &w);
            assert!(new_vec.iter().zip(&through_api).all(|(a, b)| a.to_bits() == b.to_bits()), "{g:?}: _vec form");
            for (i, (a, b)) in through_api.iter().zip(&want).enumerate() {
                assert_close(*a as f64, *b, 1e-4, g, &format!("dx[{i}]"));
            }
            // In f64 (no implicit GEMM) the flipped forward runs on im2col rows.
            let mut got64 = vec![f64::NAN; x_len(g)];
            conv2d_backward_input(g, &dy64, &w64, &mut got64);
            for (i, (a, b)) in got64.iter().zip(&want).enumerate() {
                assert_close(*a, *b, 1e-10, g, &format!("dx64[{i}]"));
            }
        }
    });
}

/// The weight gradient with the im2col rows read from the padded image (stride 1, any width)
/// against the im2col path in f64: equal to f32 accuracy, whatever the thread count's chunking;
/// and where it does not apply (stride 2, groups) im2col runs.
#[test]
fn implicit_weight_grad_matches_im2col() {
    let cases = [
        (geo([5, 64, 16, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true),
        (geo([3, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true),
        (geo([4, 5, 20, 13, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1]), true), // odd sizes
        (geo([2, 4, 9, 9, 6, 5, 3, 1, 1, 0, 1, 2, 1, 1]), true),   // dilation, uneven padding
        (geo([3, 4, 9, 9, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1]), false),  // stride 2
        (geo([3, 4, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2]), false),  // two groups
    ];
    for (g, applies) in &cases {
        let (x64, dy64) = (rand_vec(3, x_len(g)), rand_vec(4, y_len(g)));
        let mut want = vec![f64::NAN; g.weight_len()];
        backward_weight_banded(g, &x64, &dy64, &mut want, band_rows(g));
        let (x, dy): (Vec<f32>, Vec<f32>) =
            (x64.iter().map(|&v| v as f32).collect(), dy64.iter().map(|&v| v as f32).collect());
        let mut direct = vec![f32::NAN; g.weight_len()];
        let ran = implicit::weight_grad(g, (&x, &dy), (0..g.n, 1), &mut direct);
        assert_eq!(ran, *applies && crate::gemm::gather::row_table_available(), "{g:?}");
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            let mut got = vec![f32::NAN; g.weight_len()];
            pool.install(|| conv2d_backward_weight(g, &x, &dy, &mut got));
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert_close(*a as f64, *b, 1e-4, g, &format!("dw[{i}] ({threads} threads)"));
            }
            if ran {
                // The image chunks depend only on the shapes: the global pool gives the same bits.
                let mut again = vec![f32::NAN; g.weight_len()];
                conv2d_backward_weight(g, &x, &dy, &mut again);
                assert!(got.iter().zip(&again).all(|(a, b)| a.to_bits() == b.to_bits()), "{g:?}: thread counts differ");
            }
        }
    }
}

/// The implicit paths are chosen by the shapes alone and split few images' products between
/// threads: forward, input and weight gradients are the same bits in pools of 1, 2 and 3 threads,
/// for batches smaller and larger than the thread count.
#[test]
fn implicit_paths_are_thread_count_independent() {
    for n in [1usize, 3, 6] {
        let g = geo([n, 8, 16, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
        let x: Vec<f32> = rand_vec(11, x_len(&g)).iter().map(|&v| v as f32).collect();
        let w: Vec<f32> = rand_vec(12, g.weight_len()).iter().map(|&v| v as f32).collect();
        let dy: Vec<f32> = rand_vec(13, y_len(&g)).iter().map(|&v| v as f32).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            pool.install(|| {
                let y = conv2d_forward_vec(&g, &x, &w);
                let mut dx = vec![0f32; x_len(&g)];
                conv2d_backward_input(&g, &dy, &w, &mut dx);
                let mut dw = vec![0f32; g.weight_len()];
                conv2d_backward_weight(&g, &x, &dy, &mut dw);
                [y, dx, dw].map(|v| v.iter().map(|a| a.to_bits()).collect::<Vec<u32>>())
            })
        };
        let one = run(1);
        assert_eq!(one, run(2), "n {n}: 1 vs 2 threads");
        assert_eq!(one, run(3), "n {n}: 1 vs 3 threads");
    }
}

/// Weight gradients of small strided outputs as one product over a chunk's images (`small.rs`)
/// against the definition in f64: equal to f32 accuracy, the same bits for 1, 2 and 3 threads,
/// and the path taken exactly where it applies.
#[test]
fn small_output_weight_grad_matches_the_definition() {
    let cases = [
        (geo([9, 16, 16, 16, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1]), true), // 8×8 outputs, several images per chunk
        (geo([3, 5, 9, 9, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1]), true),     // stride 2: 5×5 outputs
        (geo([2, 4, 6, 7, 3, 3, 2, 2, 1, 0, 1, 2, 1, 1]), true),     // dilation, uneven stride and padding
        (geo([2, 4, 8, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1]), false),    // stride 1: implicit
        (geo([2, 4, 18, 18, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1]), false),  // 81 pixels: per image
        (geo([2, 6, 16, 16, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2]), false),  // groups
    ];
    for (g, applies) in &cases {
        assert_eq!(small::applies(g), *applies, "{g:?}");
        let (x64, dy64) = (rand_vec(31, x_len(g)), rand_vec(32, y_len(g)));
        let (ho, wo, cig) = (g.out_h(), g.out_w(), g.c_in / g.groups);
        let mut want = vec![0f64; g.weight_len()];
        for n in 0..g.n {
            for co in 0..g.c_out {
                let grp = co / (g.c_out / g.groups);
                for ci in 0..cig {
                    for ki in 0..g.kh {
                        for kj in 0..g.kw {
                            let mut acc = 0.0;
                            for oh in 0..ho {
                                for ow in 0..wo {
                                    let ih = (oh * g.stride.0 + ki * g.dilation.0) as isize - g.padding.0 as isize;
                                    let iw = (ow * g.stride.1 + kj * g.dilation.1) as isize - g.padding.1 as isize;
                                    if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize {
                                        continue;
                                    }
                                    let xi = ((n * g.c_in + grp * cig + ci) * g.h + ih as usize) * g.w + iw as usize;
                                    acc += dy64[((n * g.c_out + co) * ho + oh) * wo + ow] * x64[xi];
                                }
                            }
                            want[((co * cig + ci) * g.kh + ki) * g.kw + kj] += acc;
                        }
                    }
                }
            }
        }
        let (x, dy): (Vec<f32>, Vec<f32>) =
            (x64.iter().map(|&v| v as f32).collect(), dy64.iter().map(|&v| v as f32).collect());
        let mut first: Option<Vec<u32>> = None;
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            let mut dw = vec![f32::NAN; g.weight_len()];
            pool.install(|| conv2d_backward_weight(g, &x, &dy, &mut dw));
            for (i, (a, b)) in dw.iter().zip(&want).enumerate() {
                assert_close(*a as f64, *b, 1e-4, g, &format!("dw[{i}]"));
            }
            let bits: Vec<u32> = dw.iter().map(|v| v.to_bits()).collect();
            assert_eq!(first.get_or_insert_with(|| bits.clone()), &bits, "{g:?}: {threads} threads");
        }
        if *applies {
            // A budget of one or two images per product: the sums in parts, still to f32 accuracy.
            let per_image = g.c_in * (g.h + 2 * g.padding.0) * (g.w + 2 * g.padding.1) + g.col_cols() * g.c_out;
            for budget in [1, 2 * per_image] {
                let mut dw = vec![f32::NAN; g.weight_len()];
                small::weight_grad_within(g, (&x, &dy), 0..g.n, false, &mut dw, budget);
                for (i, (a, b)) in dw.iter().zip(&want).enumerate() {
                    assert_close(*a as f64, *b, 1e-4, g, &format!("budget {budget}: dw[{i}]"));
                }
            }
        }
    }
}

/// The convolution with a bias per output channel is the convolution, then the add, bit for bit:
/// through the implicit GEMM (stride 1, rows of 16 and 32 pixels), im2col bands (stride 2, odd
/// widths, groups), the 1×1 path, and several images at 1 and 2 threads.
#[test]
fn forward_with_bias_is_the_forward_then_the_add() {
    let cases = [
        geo([3, 5, 8, 16, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1]),
        geo([2, 4, 6, 32, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1]),
        geo([3, 6, 9, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2]),
        geo([2, 6, 5, 5, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1]),
    ];
    for g in cases {
        let x: Vec<f32> = rand_vec(71, x_len(&g)).iter().map(|&v| v as f32).collect();
        let w: Vec<f32> = rand_vec(72, g.c_out * (g.c_in / g.groups) * g.kh * g.kw).iter().map(|&v| v as f32).collect();
        let bias: Vec<f32> = rand_vec(73, g.c_out).iter().map(|&v| v as f32).collect();
        let p = g.out_h() * g.out_w();
        let want: Vec<u32> = conv2d_forward_vec(&g, &x, &w)
            .iter()
            .enumerate()
            .map(|(i, &v)| (v + bias[(i / p) % g.c_out]).to_bits())
            .collect();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| conv2d_forward_bias_vec(&g, &x, &w, &bias));
            let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{g:?}, {threads} threads");
        }
    }
}

/// No output channels, or no input channels: an empty output, or the bias rows alone.
#[test]
fn forward_with_bias_of_empty_convolutions() {
    let none_out = geo([2, 3, 4, 16, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
    let x = vec![1f32; x_len(&none_out)];
    assert!(conv2d_forward_bias_vec(&none_out, &x, &[], &[]).is_empty());
    assert!(conv2d_forward_vec(&none_out, &x, &[]).is_empty());
    let none_in = geo([2, 0, 4, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
    let y = conv2d_forward_bias_vec(&none_in, &[], &[], &[0.5f32, -1.0, 2.0]);
    let p = none_in.out_h() * none_in.out_w();
    assert_eq!(y.len(), 2 * 3 * p);
    for (i, v) in y.iter().enumerate() {
        assert_eq!(*v, [0.5f32, -1.0, 2.0][(i / p) % 3], "element {i}");
    }
}
