//! Tensors on a GPU: host↔device moves, strided copies, casts and fills against the CPU.
//! Skipped (with the reason printed) on a machine without a GPU.
use crate::common::*;
use tensor::{DType, Device, Tensor};

#[test]
fn round_trip_keeps_values_and_dtype() {
    let dev = gpu_or_skip!();
    for dtype in [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::U8] {
        let t = Tensor::arange(0.0, 24.0, 1.0, dtype).unwrap().reshape(&[2, 3, 4]).unwrap();
        let g = t.to_device(dev).unwrap();
        assert_eq!(g.device(), dev);
        assert_eq!(g.to_device(Device::Cpu).unwrap().to_vec_f64().unwrap(), t.to_vec_f64().unwrap(), "{dtype:?}");
    }
}

#[test]
fn views_copy_like_the_cpu() {
    let _dev = gpu_or_skip!();
    let t = rnd(&[4, 5, 6], 1, DType::F32);
    type View = Box<dyn Fn(&Tensor) -> Tensor>;
    let views: Vec<(&str, View)> = vec![
        ("permute", Box::new(|x: &Tensor| x.permute(&[2, 0, 1]).unwrap())),
        ("slice", Box::new(|x: &Tensor| x.slice(1, 1, 5, 2).unwrap())),
        ("broadcast", Box::new(|x: &Tensor| x.narrow(0, 1, 1).unwrap().broadcast_to(&[3, 5, 6]).unwrap())),
        ("transpose+narrow", Box::new(|x: &Tensor| x.transpose(0, 2).unwrap().narrow(1, 2, 3).unwrap())),
    ];
    for (name, f) in views {
        let (c, g) = (f(&t).contiguous().unwrap(), f(&gpu(&t)).contiguous().unwrap());
        assert!(g.is_contiguous());
        assert_close(name, &g, &c, 0.0, 0.0);
        assert_close(&format!("{name} to host"), &f(&gpu(&t)), &f(&t), 0.0, 0.0);
    }
}

#[test]
fn casts_match_the_cpu() {
    let _dev = gpu_or_skip!();
    let t = rnd(&[3, 7], 2, DType::F64).affine(3.0, 0.25).unwrap();
    let pairs = [
        (DType::F64, DType::F32),
        (DType::F64, DType::F16),
        (DType::F64, DType::BF16),
        (DType::F32, DType::F16),
        (DType::F16, DType::F32),
        (DType::BF16, DType::F64),
        (DType::F32, DType::I64),
        (DType::F16, DType::I64),
        (DType::I64, DType::F32),
    ];
    for (from, to) in pairs {
        let x = t.to_dtype(from).unwrap();
        let view = x.transpose(0, 1).unwrap();
        assert_close(
            &format!("{from:?}->{to:?}"),
            &gpu(&x).transpose(0, 1).unwrap().to_dtype(to).unwrap(),
            &view.to_dtype(to).unwrap(),
            0.0,
            0.0,
        );
    }
}

#[test]
fn fills_and_likes_live_on_the_gpu() {
    let dev = gpu_or_skip!();
    let z = Tensor::zeros_on(&[5, 3], DType::F32, dev).unwrap();
    assert_eq!(z.device(), dev);
    assert_eq!(z.to_vec_f64().unwrap(), vec![0.0; 15]);
    let o = z.ones_like().unwrap();
    assert_eq!(o.device(), dev);
    assert_eq!(o.to_vec_f64().unwrap(), vec![1.0; 15]);
    for dtype in [DType::F16, DType::BF16, DType::I64, DType::U8, DType::F64] {
        let f = Tensor::full_on(&[4], 3.0, dtype, dev).unwrap();
        assert_eq!(f.to_vec_f64().unwrap(), vec![3.0; 4], "{dtype:?}");
    }
}

#[test]
fn empty_tensors_move_and_copy() {
    let dev = gpu_or_skip!();
    let e = Tensor::zeros(&[0, 3], DType::F32);
    let g = e.to_device(dev).unwrap();
    assert_eq!((g.shape(), g.device()), (&[0usize, 3][..], dev));
    assert_eq!(g.transpose(0, 1).unwrap().contiguous().unwrap().shape(), &[3, 0]);
    assert!(g.to_device(Device::Cpu).unwrap().to_vec_f64().unwrap().is_empty());
    assert_eq!(Tensor::zeros_on(&[2, 0], DType::F64, dev).unwrap().elem_count(), 0);
}

#[test]
fn saturating_and_rounding_casts_match_the_cpu() {
    let _dev = gpu_or_skip!();
    // Out-of-range values saturate like Rust's `as` (NaN -> 0), -0.0 survives, bf16/f16 round as
    // the `half` crate does on the CPU.
    let v = vec![300.0, -1.0, 255.5, f64::NAN, -0.0, 1e300, -1e300, 1.0 + 1e-9, 2.5e-3, 65519.0, 1e-8];
    let t = Tensor::from_vec(v.clone(), &[v.len()]).unwrap();
    for from in [DType::F64, DType::F32] {
        let x = t.to_dtype(from).unwrap();
        for to in [DType::U8, DType::I64, DType::F16, DType::BF16, DType::F32] {
            if to == from {
                continue;
            }
            assert_close(
                &format!("{from:?}->{to:?}"),
                &gpu(&x).to_dtype(to).unwrap(),
                &x.to_dtype(to).unwrap(),
                0.0,
                0.0,
            );
        }
    }
    let i = Tensor::from_vec(vec![300i64, -1, 255, i64::MAX, i64::MIN], &[5]).unwrap();
    for to in [DType::U8, DType::F32, DType::F64, DType::F16] {
        assert_close(&format!("I64->{to:?}"), &gpu(&i).to_dtype(to).unwrap(), &i.to_dtype(to).unwrap(), 0.0, 0.0);
    }
    let z = Tensor::full_on(&[2], -0.0, DType::F32, Device::Cuda(0)).unwrap();
    assert!(z.to_vec_f64().unwrap().iter().all(|v| v.to_bits() == (-0.0f64).to_bits()), "-0.0 fill");
}
