//! Tests of the paths a product takes besides the blocked loop: B read in place (attention's
//! blocks, with the next item fetched ahead), a bias row stored with the first depth slice, A
//! packed where reading it in place would thrash (and met in wider B panels), and the split by
//! columns between threads. Each against the blocked path or a lone product, bit for bit.
use super::tests::{bits, fill, mat, SMALL};
use super::*;

/// Small row-major B read in place (attention-sized products, `in_place::gemm_b_in_place`): the same
/// bits as the packed path, for A row-major, column-major and offset, B padded and offset.
#[test]
fn small_b_in_place_matches_packed_path() {
    for (m, n, k) in [(64usize, 64usize, 64usize), (13, 32, 100), (5, 96, 40), (70, 32, 1), (70, 128, 32), (9, 64, 63)]
    {
        for a_col_major in [false, true] {
            let (ad, bd) = (fill::<f32>(m * k + 3, 21), fill::<f32>((k + 1) * (n + 5), 22));
            let a = if a_col_major { mat(&ad, 3, 1, m) } else { mat(&ad, 3, k, 1) };
            let b = mat(&bd, 2, n + 5, 1);
            let mut fast = fill::<f32>(m * n, 23);
            gemm(m, n, k, a, b, &mut fast, false);
            let mut packed = fill::<f32>(m * n, 24);
            // SAFETY: `packed` is initialised; parallel mode never takes the in-place path.
            unsafe {
                gemm_blocked(
                    m,
                    n,
                    k,
                    Operand::Strided(a),
                    Operand::Strided(b),
                    as_uninit(&mut packed),
                    Start::Overwrite,
                    BLOCKING,
                    true,
                )
            };
            assert_eq!(bits(&fast), bits(&packed), "{m}x{n}x{k}, A column-major {a_col_major}");
            let mut naive = vec![0f32; m * n];
            gemm_reference(m, n, k, a, b, &mut naive, false);
            for (x, y) in fast.iter().zip(&naive) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}x{n}x{k}: {x} vs {y}");
            }
        }
    }
}

/// Batches of small products with B read in place, each fetching the next one's operands while
/// it runs (`in_place::Ahead`): every item the same bits as a lone product, for 1 and 2 threads
/// (items run in turn, or as the parallel tasks), the last items' next operands reaching the end
/// of their slices, and C accumulated (the packed path) as well.
#[test]
fn batched_in_place_products_match_lone_products() {
    for (m, n, k, batch) in [(64usize, 64usize, 64usize, 9usize), (30, 128, 32, 5), (12, 32, 20, 3)] {
        // Padded rows and items; the last item ends at its slice's end.
        let (lda, ldb) = (k + 3, n + 16);
        let ad = fill::<f32>(batch * (m * lda + 7), 31);
        let bd = fill::<f32>(batch * k * ldb, 32);
        let bo: Vec<usize> = (0..batch).map(|t| t * k * ldb).collect();
        for a_col_major in [false, true] {
            // Column-major: item t's column j at t·(m + 2)·k + j·(m + 2).
            let a = if a_col_major { mat(&ad, 0, 1, m + 2) } else { mat(&ad, 0, lda, 1) };
            let item = if a_col_major { (m + 2) * k } else { m * lda + 7 };
            let ao: Vec<usize> = (0..batch).map(|t| ad.len() - (batch - t) * item).collect();
            let b = mat(&bd, 0, ldb, 1);
            let mut want = Vec::new();
            for (&at, &bt) in ao.iter().zip(&bo) {
                let mut c = vec![0f32; m * n];
                gemm(m, n, k, MatRef { offset: at, ..a }, MatRef { offset: bt, ..b }, &mut c, false);
                want.extend(bits(&c));
            }
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| gemm_batched_vec(m, n, k, (a, &ao), (b, &bo)));
                assert_eq!(bits(&got), want, "{m}x{n}x{k} x{batch}, A column-major {a_col_major}, {threads} threads");
                let mut acc = fill::<f32>(batch * m * n, 33);
                let start = acc.clone();
                pool.install(|| gemm_batched(m, n, k, a, &ao, b, &bo, &mut acc, true));
                for ((x, x0), w) in acc.iter().zip(&start).zip(&want) {
                    let w = f32::from_bits(*w);
                    assert!((x - x0 - w).abs() <= 1e-4 * (1.0 + w.abs()), "accumulated: {x} - {x0} vs {w}");
                }
            }
        }
    }
}

/// The product with a bias row: the bits of the product plus the bias for one depth slice
/// (k ≤ KC), within rounding beyond; the same bits for 1, 2 and 3 threads; B read transposed
/// (packed) and row-major (read in place by the 32- and 64-column kernels); k = 0 (the bias
/// rows alone); wider than one packed panel (the bias from the second panel's first column).
#[test]
fn gemm_bias_rows_are_the_product_plus_the_bias() {
    for (m, n, k) in [
        (1usize, 3usize, 5usize),
        (37, 70, 64),
        (512, 256, 2),
        (300, 129, KC),
        (64, 96, 2 * KC + 7),
        (8, 64, 100),
        (20, 64, 64),
        (3, 2, 0),
        (20, 600, 40),
    ] {
        let a = fill::<f32>(m * k, 1);
        let b = fill::<f32>(k * n, 2);
        let bias = fill::<f32>(n, 3);
        let am = mat(&a, 0, k, 1);
        // B read transposed, as x·wᵀ does, or row-major.
        for bm in [mat(&b, 0, 1, k.max(1)), mat(&b, 0, n, 1)] {
            let mut want = vec![0f32; m * n];
            gemm(m, n, k, am, bm, &mut want, false);
            let mut first = None;
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| gemm_bias_vec(m, n, k, am, bm, &bias));
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    let w = w + bias[i % n];
                    if k <= KC {
                        assert_eq!(g.to_bits(), w.to_bits(), "{m}x{n}x{k} element {i}, B row stride {}", bm.row_stride);
                    } else {
                        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{m}x{n}x{k} element {i}: {g} vs {w}");
                    }
                }
                let bits_now = bits(&got);
                assert_eq!(first.get_or_insert_with(|| bits_now.clone()), &bits_now, "{m}x{n}x{k}, {threads} threads");
            }
        }
    }
}

/// A whose rows (row-major) or columns (column-major) lie 4 KiB apart is packed rather than read
/// in place: the same bits as the same matrix stored with a stride that is read in place.
#[test]
fn page_strided_a_is_packed_with_the_same_bits() {
    let (m, n, k) = (30usize, 70usize, 40usize);
    let b = fill::<f32>(k * n, 41);
    let bm = mat(&b, 0, n, 1);
    for col_major in [false, true] {
        // Element (i, p) of A at stride `ld` along the outer dimension.
        let outer = if col_major { k } else { m };
        let inner = if col_major { m } else { k };
        let store = |ld: usize| {
            let mut v = vec![0f32; outer * ld];
            for o in 0..outer {
                for (x, i) in v[o * ld..o * ld + inner].iter_mut().zip(0..) {
                    *x = (((o * 31 + i * 17) % 101) as f32 - 50.0) * 0.01;
                }
            }
            v
        };
        fn view(v: &[f32], ld: usize, col_major: bool) -> MatRef<'_, f32> {
            if col_major {
                mat(v, 0, 1, ld)
            } else {
                mat(v, 0, ld, 1)
            }
        }
        let (paged, near) = (store(1024), store(inner + 3));
        let mut want = vec![0f32; m * n];
        gemm(m, n, k, view(&near, inner + 3, col_major), bm, &mut want, false);
        let mut got = vec![0f32; m * n];
        gemm(m, n, k, view(&paged, 1024, col_major), bm, &mut got, false);
        assert_eq!(bits(&got), bits(&want), "A column-major {col_major}");
    }
}

/// A packed A meets B in panels twice as wide as with A read in place: across several such
/// panels (small blocks: 128 columns against 64), stored, accumulated and with a bias row, on 1
/// and 2 threads, the same bits as A read in place, and within rounding of the reference.
#[test]
fn packed_a_with_wide_panels_matches_a_in_place() {
    let (m, n, k) = (30usize, 300usize, 40usize);
    let b = fill::<f32>(k * n, 61);
    let bm = mat(&b, 0, n, 1);
    // A row-major with rows 4 KiB apart (packed) and k + 3 apart (read in place).
    let store = |ld: usize| {
        let mut v = vec![0f32; m * ld];
        for i in 0..m {
            for p in 0..k {
                v[i * ld + p] = (((i * 29 + p * 13) % 97) as f32 - 48.0) * 0.01;
            }
        }
        v
    };
    let (paged, near) = (store(1024), store(k + 3));
    let bias = fill::<f32>(n, 63);
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for start_kind in 0..3 {
        for par in [false, true] {
            let init = fill::<f32>(m * n, 62);
            let start = match start_kind {
                0 => Start::Overwrite,
                1 => Start::Accumulate,
                _ => Start::Bias(&bias),
            };
            let run = |a: &[f32], ld: usize| {
                let mut c = init.clone();
                let a = Operand::Strided(mat(a, 0, ld, 1));
                // SAFETY: `c` is initialised.
                two.install(|| unsafe {
                    gemm_blocked(m, n, k, a, Operand::Strided(bm), as_uninit(&mut c), start, SMALL, par)
                });
                c
            };
            let (got, want) = (run(&paged, 1024), run(&near, k + 3));
            assert_eq!(bits(&got), bits(&want), "start {start_kind}, parallel {par}");
            let mut reference = if start_kind == 2 { bias.repeat(m) } else { init.clone() };
            gemm_reference(m, n, k, mat(&near, 0, k + 3, 1), bm, &mut reference, start_kind > 0);
            for (g, r) in got.iter().zip(&reference) {
                assert!((g - r).abs() <= 1e-5 * (k as f32 + 2.0), "start {start_kind}: {g} against {r}");
            }
        }
    }
}

/// Deep products at least as wide as tall split their columns between threads: the same bits as
/// one thread, stored, accumulated and with a bias row, for B row-major and transposed, with
/// column shares that end mid-panel.
#[test]
fn column_split_products_match_one_thread() {
    for (m, n, k) in [(40usize, 200usize, 300usize), (13, 130, 600), (96, 300, 1100)] {
        let a = fill::<f32>(m * k, 51);
        let b = fill::<f32>(k * n, 52);
        let bias = fill::<f32>(n, 53);
        let am = mat(&a, 0, 1, m); // column-major A, as a weight gradient's dYᵀ
        for bm in [mat(&b, 0, n, 1), mat(&b, 0, 1, k)] {
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let mut stored = fill::<f32>(m * n, 54);
                    gemm(m, n, k, am, bm, &mut stored, false);
                    let mut added = fill::<f32>(m * n, 55);
                    gemm(m, n, k, am, bm, &mut added, true);
                    let biased = gemm_bias_vec(m, n, k, am, bm, &bias);
                    (bits(&stored), bits(&added), bits(&biased))
                })
            };
            let one = run(1);
            assert_eq!(one, run(2), "{m}x{n}x{k}, 2 threads");
            assert_eq!(one, run(3), "{m}x{n}x{k}, 3 threads");
        }
    }
}
