//! Convolutions (forward, input and weight gradients, transposed), pooling (forward, backward,
//! argmax) and resize on a GPU against the CPU, over stride / padding / dilation / groups,
//! layouts and dtypes. Skipped (with the reason printed) without a GPU.
use crate::common::*;
use tensor::{Conv2dParams, CpuStorage, DType, Error, ResizeKind, Tensor};

fn params(stride: usize, padding: (usize, usize), dilation: (usize, usize), groups: usize) -> Conv2dParams {
    Conv2dParams { stride: (stride, 1), padding, dilation, groups, output_padding: (0, 0) }
}

/// (x shape, w shape, params)
fn conv_cases() -> Vec<([usize; 4], [usize; 4], Conv2dParams)> {
    vec![
        ([2, 3, 7, 6], [4, 3, 3, 3], Conv2dParams::default()),
        ([2, 4, 9, 8], [6, 2, 3, 2], params(2, (1, 0), (1, 2), 2)),
        ([3, 6, 5, 5], [6, 1, 3, 3], params(1, (1, 1), (1, 1), 6)),
        ([2, 8, 4, 4], [5, 8, 1, 1], Conv2dParams::default()),
        ([1, 3, 17, 17], [2, 3, 5, 5], Conv2dParams { stride: (3, 2), padding: (2, 1), ..Default::default() }),
        ([2, 16, 33, 33], [32, 16, 3, 3], params(1, (1, 1), (1, 1), 1)),
        ([1, 1, 1, 1], [1, 1, 1, 1], Conv2dParams::default()),
    ]
}

/// Conv tolerances: sums of `C_in/groups·kh·kw` (forward, weight: also `N·Ho·Wo`) products.
fn conv_tol(dtype: DType, depth: usize) -> (f64, f64) {
    let (atol, rtol) = tol(dtype);
    (atol * 4.0 * (depth.max(1) as f64).sqrt(), rtol)
}

#[test]
fn conv2d_and_its_gradients_match_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        for (i, (xs, ws, p)) in conv_cases().into_iter().enumerate() {
            let (x, w) = (rnd(&xs, 100 + i as u64, dtype), rnd(&ws, 200 + i as u64, dtype));
            let y = x.conv2d(&w, &p).unwrap();
            let dy = rnd(y.shape(), 300 + i as u64, dtype);
            let depth = ws[1] * ws[2] * ws[3];
            let (atol, rtol) = conv_tol(dtype, depth);
            let gw = gpu(&w);
            for (name, cx, gx) in layouts(&x) {
                let what = format!("{dtype:?} x{xs:?} w{ws:?} {p:?} {name}");
                assert_close(
                    &format!("{what} forward"),
                    &gx.conv2d(&gw, &p).unwrap(),
                    &cx.conv2d(&w, &p).unwrap(),
                    atol,
                    rtol,
                );
                let dw_depth = y.elem_count() / ws[0];
                let (watol, wrtol) = conv_tol(dtype, dw_depth);
                assert_close(
                    &format!("{what} weight grad"),
                    &Tensor::conv2d_backward_weight(&gx, &gpu(&dy), &ws, &p).unwrap(),
                    &Tensor::conv2d_backward_weight(&cx, &dy, &ws, &p).unwrap(),
                    watol,
                    wrtol,
                );
            }
            let (batol, brtol) = conv_tol(dtype, ws[0] / p.groups * ws[2] * ws[3]);
            for (name, cdy, gdy) in layouts(&dy) {
                assert_close(
                    &format!("{dtype:?} x{xs:?} w{ws:?} {p:?} {name} input grad"),
                    &Tensor::conv2d_backward_input(&gdy, &gw, &xs, &p).unwrap(),
                    &Tensor::conv2d_backward_input(&cdy, &w, &xs, &p).unwrap(),
                    batol,
                    brtol,
                );
            }
        }
    }
}

#[test]
fn conv2d_in_several_image_chunks() {
    // 16·3·3 column rows × 340² positions per image: two images per column chunk (the last
    // chunk holds one), one image per weight-gradient chunk, so chunks and accumulation run.
    let _dev = gpu_or_skip!();
    let p = params(1, (1, 1), (1, 1), 1);
    let (x, w) = (rnd(&[3, 16, 340, 340], 1, DType::F32), rnd(&[4, 16, 3, 3], 2, DType::F32));
    let y = x.conv2d(&w, &p).unwrap();
    let dy = rnd(y.shape(), 3, DType::F32);
    let (gx, gw, gdy) = (gpu(&x), gpu(&w), gpu(&dy));
    let (atol, rtol) = conv_tol(DType::F32, 144);
    assert_close("forward", &gx.conv2d(&gw, &p).unwrap(), &y, atol, rtol);
    let dx = Tensor::conv2d_backward_input(&dy, &w, x.shape(), &p).unwrap();
    assert_close("input grad", &Tensor::conv2d_backward_input(&gdy, &gw, x.shape(), &p).unwrap(), &dx, atol, rtol);
    let dw = Tensor::conv2d_backward_weight(&x, &dy, w.shape(), &p).unwrap();
    let (watol, wrtol) = conv_tol(DType::F32, 3 * 340 * 340);
    assert_close("weight grad", &Tensor::conv2d_backward_weight(&gx, &gdy, w.shape(), &p).unwrap(), &dw, watol, wrtol);
}

#[test]
fn conv_transpose2d_and_half_convs_match_the_cpu() {
    let _dev = gpu_or_skip!();
    let cases: Vec<([usize; 4], [usize; 4], Conv2dParams)> = vec![
        (
            [2, 4, 5, 5],
            [4, 3, 3, 3],
            Conv2dParams { stride: (2, 2), padding: (1, 1), output_padding: (1, 1), ..Default::default() },
        ),
        (
            [1, 4, 6, 3],
            [4, 2, 3, 2],
            Conv2dParams { stride: (1, 2), dilation: (2, 1), groups: 2, ..Default::default() },
        ),
        ([2, 3, 4, 4], [3, 5, 2, 2], Conv2dParams { stride: (2, 2), ..Default::default() }),
    ];
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = conv_tol(dtype, 64);
        for (i, (xs, ws, p)) in cases.iter().enumerate() {
            let (x, w) = (rnd(xs, 400 + i as u64, dtype), rnd(ws, 500 + i as u64, dtype));
            let y = x.conv_transpose2d(&w, p).unwrap();
            let dy = rnd(y.shape(), 600 + i as u64, dtype);
            let what = format!("{dtype:?} x{xs:?} w{ws:?} {p:?}");
            for (name, cx, gx) in layouts(&x) {
                let gy = gx.conv_transpose2d(&gpu(&w), p).unwrap();
                assert_close(&format!("{what} {name}"), &gy, &cx.conv_transpose2d(&w, p).unwrap(), atol, rtol);
            }
            let (cdx, cdw) = Tensor::conv_transpose2d_backward(&x, &w, &dy, p).unwrap();
            let (gdx, gdw) = Tensor::conv_transpose2d_backward(&gpu(&x), &gpu(&w), &gpu(&dy), p).unwrap();
            assert_close(&format!("{what} dx"), &gdx, &cdx, atol, rtol);
            let (watol, wrtol) = conv_tol(dtype, dy.elem_count());
            assert_close(&format!("{what} dw"), &gdw, &cdw, watol, wrtol);
        }
    }
    for dtype in [DType::F16, DType::BF16] {
        let (x, w) = (rnd(&[2, 3, 7, 6], 1, dtype), rnd(&[4, 3, 3, 3], 2, dtype));
        let p = params(1, (1, 1), (1, 1), 1);
        assert_close(
            &format!("{dtype:?}"),
            &gpu(&x).conv2d(&gpu(&w), &p).unwrap(),
            &x.conv2d(&w, &p).unwrap(),
            0.1,
            0.02,
        );
    }
    let (x, w) = (gpu(&rnd(&[1, 2, 5, 5], 1, DType::F32)), rnd(&[1, 2, 3, 3], 2, DType::F32));
    assert!(matches!(x.conv2d(&w, &Conv2dParams::default()), Err(Error::DeviceMismatch { .. })));
}

/// Random integers in about [-4, 4]: many ties, which must resolve to the first maximum.
fn rounded(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let v = rnd(shape, seed, DType::F64).to_vec_f64().unwrap();
    Tensor::from_cpu(CpuStorage::from_f64_iter(dtype, v.iter().map(|x| (2.0 * x).round())), shape).unwrap()
}

/// (x shape, kernel, stride, padding)
type PoolCase = ([usize; 4], (usize, usize), (usize, usize), (usize, usize));

#[test]
fn pooling_matches_the_cpu_exactly() {
    let _dev = gpu_or_skip!();
    let cases: Vec<PoolCase> = vec![
        ([2, 3, 7, 6], (3, 3), (2, 2), (1, 1)),
        ([1, 2, 5, 8], (2, 3), (1, 2), (1, 0)),
        ([2, 4, 33, 17], (2, 2), (2, 2), (0, 0)),
        ([1, 1, 9, 7], (4, 3), (3, 1), (2, 1)),
        ([1, 1, 1, 1], (1, 1), (1, 1), (0, 0)),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (i, (xs, k, s, p)) in cases.iter().enumerate() {
            let x = rounded(xs, 700 + i as u64, dtype);
            let (cy, carg) = x.max_pool2d(*k, *s, *p).unwrap();
            let dy = rnd(cy.shape(), 800 + i as u64, dtype);
            let what = format!("{dtype:?} {xs:?} k{k:?} s{s:?} p{p:?}");
            for (name, _, gx) in layouts(&x) {
                let (gy, garg) = gx.max_pool2d(*k, *s, *p).unwrap();
                assert_close(&format!("{what} {name} max"), &gy, &cy, 0.0, 0.0);
                assert_close(&format!("{what} {name} argmax"), &garg, &carg, 0.0, 0.0);
                let ca = x.avg_pool2d(*k, *s, *p).unwrap();
                assert_close(&format!("{what} {name} avg"), &gx.avg_pool2d(*k, *s, *p).unwrap(), &ca, 0.0, 0.0);
            }
            let cdx = Tensor::max_pool2d_backward(&dy, &carg, xs, *k, *s, *p).unwrap();
            let gdx = Tensor::max_pool2d_backward(&gpu(&dy), &gpu(&carg), xs, *k, *s, *p).unwrap();
            assert_close(&format!("{what} max backward"), &gdx, &cdx, 0.0, 0.0);
            let cda = Tensor::avg_pool2d_backward(&dy, xs, *k, *s, *p).unwrap();
            for (name, _, gdy) in layouts(&dy) {
                let gda = Tensor::avg_pool2d_backward(&gdy, xs, *k, *s, *p).unwrap();
                assert_close(&format!("{what} {name} avg backward"), &gda, &cda, 0.0, 0.0);
            }
        }
    }
    let x = rnd(&[2, 3, 8, 8], 1, DType::BF16);
    assert_close(
        "bf16 max",
        &gpu(&x).max_pool2d((2, 2), (2, 2), (0, 0)).unwrap().0,
        &x.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap().0,
        0.0,
        0.0,
    );
    assert_close(
        "bf16 avg",
        &gpu(&x).avg_pool2d((2, 2), (2, 2), (0, 0)).unwrap(),
        &x.avg_pool2d((2, 2), (2, 2), (0, 0)).unwrap(),
        1e-2,
        1e-2,
    );
    let bad = Tensor::max_pool2d_backward(
        &gpu(&rnd(&[2, 3, 4, 4], 1, DType::F32)),
        &gpu(&rnd(&[2, 3, 4, 4], 1, DType::F32)),
        &[2, 3, 8, 8],
        (2, 2),
        (2, 2),
        (0, 0),
    );
    assert!(matches!(bad, Err(Error::DTypeMismatch { .. })));
}

#[test]
fn resize_matches_the_cpu() {
    let _dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64] {
        let (atol, rtol) = tol(dtype);
        let x = rnd(&[2, 3, 7, 9], 5, dtype);
        for kind in [ResizeKind::Nearest, ResizeKind::Area, ResizeKind::Bicubic] {
            for (oh, ow) in [(5, 12), (14, 3), (7, 9), (1, 1)] {
                for (name, cx, gx) in layouts(&x) {
                    let what = format!("{dtype:?} {kind:?} {oh}x{ow} {name}");
                    assert_close(
                        &what,
                        &gx.resize2d(kind, oh, ow).unwrap(),
                        &cx.resize2d(kind, oh, ow).unwrap(),
                        atol * 4.0,
                        rtol,
                    );
                }
            }
        }
    }
}
