//! Every user mistake is a typed `Error` naming the op and the offending shapes, never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use tensor::{BinaryOp, Conv2dParams, DType, Device, Error, ResizeKind, Result, Tensor};

fn f32t(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F32)
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_slice(v, &[v.len()]).unwrap()
}

/// Runs `f`, failing the test with a clear message if it panics instead of returning an error.
fn no_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked instead of returning an Error"))
}

fn expect_err<T: std::fmt::Debug>(what: &str, f: impl FnOnce() -> Result<T>) -> Error {
    match no_panic(what, f) {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn assert_mentions(e: &Error, parts: &[&str]) {
    let s = e.to_string();
    for p in parts {
        assert!(s.contains(p), "error message {s:?} does not mention {p:?}");
    }
}

#[test]
fn binary_broadcast_mismatch_names_op_and_both_shapes() {
    let (a, b) = (f32t(&[2, 3]), f32t(&[4]));
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum] {
        let e = expect_err("binary", || a.binary(op, &b));
        assert!(matches!(&e, Error::BroadcastMismatch { lhs, rhs, .. } if lhs == &[2, 3] && rhs == &[4]), "{e:?}");
        assert_mentions(&e, &[op.name(), "[2, 3]", "[4]"]);
    }
    let e = expect_err("add", || f32t(&[3, 1, 5]).add(&f32t(&[2, 4, 1])));
    assert_mentions(&e, &["add", "[3, 1, 5]", "[2, 4, 1]"]);
    let e = expect_err("broadcast_to", || f32t(&[3]).broadcast_to(&[2, 4]));
    assert!(matches!(e, Error::BroadcastMismatch { .. }), "{e:?}");
    expect_err("broadcast_to lower rank", || f32t(&[2, 3]).broadcast_to(&[3]));
}

#[test]
fn matmul_shape_errors() {
    let e = expect_err("matmul", || f32t(&[2, 3]).matmul(&f32t(&[4, 5])));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert_mentions(&e, &["matmul", "[2, 3]", "[4, 5]"]);
    let e = expect_err("matmul batch", || f32t(&[2, 3, 4]).matmul(&f32t(&[5, 4, 2])));
    assert_mentions(&e, &["matmul"]);
    expect_err("matmul 1-D", || f32t(&[3]).matmul(&f32t(&[3, 2])));
    let e = expect_err("matmul dtypes", || f32t(&[2, 2]).matmul(&Tensor::zeros(&[2, 2], DType::F64)));
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
}

#[test]
fn indices_out_of_range() {
    let x = f32t(&[3, 2]);
    for bad in [3i64, -1] {
        let e = expect_err("index_select", || x.index_select(0, &idx(&[0, bad])));
        assert!(matches!(e, Error::IndexOutOfRange { index, size: 3, .. } if index == bad), "{e:?}");
        assert_mentions(&e, &["index_select"]);
    }
    let gi = Tensor::from_vec(vec![0i64, 2], &[1, 2]).unwrap();
    let e = expect_err("gather", || x.gather(1, &gi));
    assert!(matches!(e, Error::IndexOutOfRange { index: 2, size: 2, .. }), "{e:?}");
    let e = expect_err("scatter_add", || x.scatter_add(1, &gi, &f32t(&[1, 2])));
    assert!(matches!(e, Error::IndexOutOfRange { .. }), "{e:?}");
    let e = expect_err("index_add", || x.index_add(0, &idx(&[5]), &f32t(&[1, 2])));
    assert!(matches!(e, Error::IndexOutOfRange { index: 5, .. }), "{e:?}");
    let e = expect_err("one_hot", || Tensor::one_hot(&idx(&[1, 3]), 3, DType::F32));
    assert!(matches!(e, Error::IndexOutOfRange { index: 3, size: 3, .. }), "{e:?}");
    expect_err("one_hot negative", || Tensor::one_hot(&idx(&[-1]), 3, DType::F32));
    let logits = f32t(&[2, 3]);
    let e = expect_err("cross_entropy", || logits.cross_entropy(&idx(&[0, 3]), None, 0.0));
    assert!(matches!(e, Error::IndexOutOfRange { index: 3, size: 3, .. }), "{e:?}");
    assert_mentions(&e, &["cross_entropy"]);
    // -100 is only skipped when it is the ignore index.
    expect_err("cross_entropy -100", || logits.cross_entropy(&idx(&[0, -100]), None, 0.0));
    assert!(logits.cross_entropy(&idx(&[0, -100]), Some(-100), 0.0).is_ok());
    // Indices must be I64.
    let e = expect_err("index dtype", || x.index_select(0, &f32t(&[1])));
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
}

#[test]
fn dims_out_of_range() {
    let x = f32t(&[2, 3]);
    let checks: Vec<(&str, Result<Tensor>)> = vec![
        ("sum", x.sum(&[2], false)),
        ("sum neg", x.sum(&[-3], false)),
        ("softmax", x.softmax(5)),
        ("log_softmax", x.log_softmax(-3)),
        ("transpose", x.transpose(0, 2)),
        ("narrow", x.narrow(2, 0, 1)),
        ("slice", x.slice(-3, 0, 1, 1)),
        ("unsqueeze", x.unsqueeze(3)),
        ("squeeze", x.squeeze(2)),
        ("argmax", x.argmax(2, false)),
        ("flatten", x.flatten(0, 2)),
        ("index_select", x.index_select(2, &idx(&[0]))),
        ("cat", Tensor::cat(&[&x, &x], 2)),
        ("stack", Tensor::stack(&[&x, &x], 4)),
    ];
    for (what, r) in checks {
        match r {
            Err(e @ Error::DimOutOfRange { rank, .. }) => {
                assert!(rank == 2 || rank == 3, "{what}: {e}");
                assert_mentions(&e, &["out of range"]);
            }
            other => panic!("{what}: expected DimOutOfRange, got {other:?}"),
        }
    }
    assert!(matches!(x.dim(-3), Err(Error::DimOutOfRange { dim: -3, rank: 2, .. })));
}

#[test]
fn dtype_mismatches_and_unsupported_dtypes() {
    let e = expect_err("add", || f32t(&[2]).add(&Tensor::zeros(&[2], DType::F64)));
    assert!(matches!(e, Error::DTypeMismatch { lhs: DType::F32, rhs: DType::F64, .. }), "{e:?}");
    assert_mentions(&e, &["add", "F32", "F64"]);
    expect_err("cat", || Tensor::cat(&[&f32t(&[2]), &Tensor::zeros(&[2], DType::F64)], 0));
    expect_err("where mask", || Tensor::where_cond(&f32t(&[2]), &f32t(&[2]), &f32t(&[2])));
    expect_err("where branches", || {
        Tensor::where_cond(&Tensor::zeros(&[2], DType::U8), &f32t(&[2]), &Tensor::zeros(&[2], DType::F16))
    });
    expect_err("cpu_data", || f32t(&[2]).to_vec::<f64>());
    let e = expect_err("exp on i64", || Tensor::zeros(&[2], DType::I64).exp());
    assert!(matches!(e, Error::UnsupportedDType { dtype: DType::I64, .. }), "{e:?}");
    expect_err("add on u8", || Tensor::zeros(&[2], DType::U8).add(&Tensor::zeros(&[2], DType::U8)));
    expect_err("layer_norm gamma dtype", || {
        f32t(&[2, 3]).layer_norm(&[3], Some(&Tensor::ones(&[3], DType::F64)), None, 1e-5)
    });
}

#[test]
fn conv_and_pool_argument_errors() {
    let x = f32t(&[1, 4, 5, 5]);
    let bad_groups = Conv2dParams { groups: 3, ..Default::default() };
    let e = expect_err("conv2d groups", || x.conv2d(&f32t(&[6, 2, 3, 3]), &bad_groups));
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert_mentions(&e, &["conv2d", "groups"]);
    expect_err("conv2d groups 0", || x.conv2d(&f32t(&[4, 4, 3, 3]), &Conv2dParams { groups: 0, ..Default::default() }));
    expect_err("conv2d weight channels", || x.conv2d(&f32t(&[4, 3, 3, 3]), &Conv2dParams::default()));
    expect_err("conv2d stride 0", || {
        x.conv2d(&f32t(&[4, 4, 3, 3]), &Conv2dParams { stride: (0, 1), ..Default::default() })
    });
    expect_err("conv2d kernel too large", || x.conv2d(&f32t(&[4, 4, 6, 3]), &Conv2dParams::default()));
    expect_err("conv2d rank", || f32t(&[4, 5, 5]).conv2d(&f32t(&[4, 4, 3, 3]), &Conv2dParams::default()));
    expect_err("conv2d empty kernel", || x.conv2d(&f32t(&[4, 4, 0, 3]), &Conv2dParams::default()));
    expect_err("conv_transpose2d groups", || x.conv_transpose2d(&f32t(&[4, 2, 3, 3]), &bad_groups));
    let big_op = Conv2dParams { stride: (2, 2), output_padding: (2, 0), ..Default::default() };
    expect_err("conv_transpose2d output_padding", || x.conv_transpose2d(&f32t(&[4, 2, 3, 3]), &big_op));
    expect_err("max_pool2d padding", || x.max_pool2d((2, 2), (1, 1), (2, 0)));
    expect_err("avg_pool2d stride 0", || x.avg_pool2d((2, 2), (0, 1), (0, 0)));
    expect_err("max_pool2d kernel too large", || x.max_pool2d((6, 2), (1, 1), (0, 0)));
    expect_err("resize to 0", || x.resize2d(ResizeKind::Bicubic, 0, 3));
    expect_err("resize rank", || f32t(&[4, 5]).resize2d(ResizeKind::Nearest, 2, 2));
}

/// Stride or dilation 0 (and an empty input) must be rejected by `conv_transpose2d` the way
/// `conv2d` rejects them, not reach the kernel's assertions or a division by zero.
#[test]
fn conv_transpose2d_rejects_zero_stride_dilation_and_empty_input() {
    let (x, w) = (f32t(&[1, 2, 4, 4]), f32t(&[2, 3, 3, 3]));
    expect_err("conv_transpose2d stride 0", || {
        x.conv_transpose2d(&w, &Conv2dParams { stride: (0, 1), ..Default::default() })
    });
    expect_err("conv_transpose2d dilation 0", || {
        x.conv_transpose2d(&w, &Conv2dParams { dilation: (1, 0), ..Default::default() })
    });
    expect_err("conv_transpose2d empty input", || f32t(&[1, 2, 0, 4]).conv_transpose2d(&w, &Conv2dParams::default()));
}

#[test]
fn shape_and_argument_errors() {
    let x = f32t(&[2, 3]);
    assert!(matches!(x.reshape(&[4, 2]), Err(Error::ShapeMismatch { .. })));
    assert!(x.permute(&[0, 0]).is_err());
    assert!(x.permute(&[1]).is_err());
    assert!(x.squeeze(0).is_err());
    assert!(x.split(0, 0).is_err());
    assert!(x.chunk(0, 1).is_err());
    assert!(x.slice(1, 0, 3, 0).is_err());
    assert!(x.narrow(1, 2, 2).is_err());
    assert!(x.narrow(1, 4, 0).is_err());
    assert!(x.flatten(1, 0).is_err());
    assert!(x.to_scalar_f64().is_err());
    assert!(Tensor::arange(0.0, 1.0, 0.0, DType::F32).is_err());
    assert!(Tensor::arange(0.0, f64::INFINITY, 1.0, DType::F32).is_err());
    assert!(Tensor::cat(&[], 0).is_err());
    assert!(Tensor::stack(&[], 0).is_err());
    assert!(Tensor::cat(&[&x, &f32t(&[3, 3])], 0).is_ok());
    assert!(matches!(Tensor::cat(&[&x, &f32t(&[2, 2])], 0), Err(Error::ShapeMismatch { .. })));
    assert!(x.max(&[1], false).is_ok());
    assert!(f32t(&[2, 0]).max(&[1], false).is_err());
    assert!(f32t(&[2, 0]).argmax(1, false).is_err());
    assert!(x.pad(&[(1, 1)], 0.0).is_err());
    assert!(x.index_select(0, &Tensor::zeros(&[1, 1], DType::I64)).is_err());
    assert!(x.gather(0, &Tensor::zeros(&[1, 4], DType::I64)).is_err());
    assert!(x.gather(0, &Tensor::zeros(&[2], DType::I64)).is_err());
    assert!(x.scatter_add(0, &Tensor::zeros(&[1, 2], DType::I64), &f32t(&[1, 3])).is_err());
    assert!(x.index_add(0, &idx(&[0]), &f32t(&[2, 3])).is_err());
    assert!(x.layer_norm(&[2], None, None, 1e-5).is_err());
    assert!(x.layer_norm(&[], None, None, 1e-5).is_err());
    assert!(x.layer_norm(&[3], Some(&f32t(&[2])), None, 1e-5).is_err());
    assert!(x.rms_norm(&[4], None, 1e-5).is_err());
    assert!(f32t(&[2, 6, 3]).group_norm(4, None, None, 1e-5).is_err());
    assert!(f32t(&[2, 6, 3]).group_norm(0, None, None, 1e-5).is_err());
    assert!(f32t(&[6]).group_norm(1, None, None, 1e-5).is_err());
    assert!(f32t(&[2, 6]).group_norm(3, Some(&f32t(&[3])), None, 1e-5).is_err());
    assert!(x.cross_entropy(&idx(&[0, 1]), None, 1.5).is_err());
    assert!(x.cross_entropy(&idx(&[0]), None, 0.0).is_err());
    assert!(f32t(&[3]).cross_entropy(&idx(&[0]), None, 0.0).is_err());
    assert!(x.slice_scatter(&f32t(&[2, 2]), 1, 2, 1).is_err());
}

/// A start or length near `usize::MAX` must not wrap around the bounds check of a view.
#[test]
fn narrow_with_overflowing_start_or_len_is_an_error() {
    let t = f32t(&[4]);
    expect_err("narrow huge start", || t.narrow(0, usize::MAX, 2).map(|v| v.shape().to_vec()));
    expect_err("narrow huge len", || t.narrow(0, 2, usize::MAX).map(|v| v.shape().to_vec()));
}

/// A shape whose element count overflows `usize` cannot match any buffer.
#[test]
fn from_vec_with_overflowing_shape_is_an_error() {
    let e =
        expect_err("from_vec", || Tensor::from_vec(Vec::<f32>::new(), &[1 << 32, 1 << 32]).map(|t| t.shape().to_vec()));
    assert!(matches!(e, Error::ElementCount { .. } | Error::InvalidArgument { .. }), "{e:?}");
}

/// A `src` of lower rank than `self` must be a shape error, not an index panic.
#[test]
fn slice_scatter_with_lower_rank_src_is_an_error() {
    let base = f32t(&[2, 3]);
    let e = expect_err("slice_scatter", || base.slice_scatter(&f32t(&[2]), 1, 0, 1));
    assert_mentions(&e, &["slice_scatter"]);
}

#[cfg(not(feature = "cuda"))]
#[test]
fn unavailable_device_is_a_typed_error() {
    let e = expect_err("zeros_on", || Tensor::zeros_on(&[2, 2], DType::F32, Device::Cuda(0)));
    assert!(matches!(e, Error::DeviceUnavailable(Device::Cuda(0))), "{e:?}");
    assert_mentions(&e, &["Cuda(0)", "--features cuda"]);
    let e = expect_err("to_device", || f32t(&[2]).to_device(Device::Cuda(1)));
    assert!(matches!(e, Error::DeviceUnavailable(Device::Cuda(1))), "{e:?}");
    assert!(f32t(&[2]).to_device(Device::Cpu).is_ok());
}

/// With the `cuda` feature, a machine without a driver (or with fewer GPUs) gets a typed error
/// that says so, not a panic.
#[cfg(feature = "cuda")]
#[test]
fn missing_gpu_is_a_typed_error() {
    let e = expect_err("to_device", || f32t(&[2]).to_device(Device::Cuda(1000)));
    assert!(matches!(e, Error::Cuda(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("no CUDA driver found") || msg.contains("not found"), "{msg}");
}

#[test]
fn device_names_parse() {
    assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
    assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
    assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
    for bad in ["gpu", "cuda:", "cuda:x", "CUDA"] {
        assert_mentions(&bad.parse::<Device>().unwrap_err(), &["device", "cuda:N"]);
    }
}
