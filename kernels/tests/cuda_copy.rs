//! The copy/fill/cast kernels on a GPU against the CPU (skipped without one).
#![cfg(feature = "cuda")]
use kernels::cuda::{copy, StridedLayout};
use kernels::cuda_or_skip;

#[test]
fn strided_copy_matches_the_cpu_gather() {
    let dev = cuda_or_skip!();
    let src: Vec<f32> = (0..60).map(|i| i as f32 * 0.5 - 3.0).collect();
    // A transposed [5, 12] -> [12, 5] view starting at offset 0, and a sliced, stepped view.
    let views: Vec<(Vec<usize>, Vec<usize>, usize)> =
        vec![(vec![12, 5], vec![1, 12], 0), (vec![3, 4], vec![20, 2], 3), (vec![2, 3, 5], vec![0, 20, 1], 1)];
    for (shape, strides, offset) in views {
        let n: usize = shape.iter().product();
        let mut want = vec![0.0f32; n];
        kernels::strided::gather(&shape, (&src, &strides, offset), &mut want);
        let s = dev.stream().clone_htod(&src).unwrap();
        let mut d = dev.stream().alloc_zeros::<f32>(n).unwrap();
        copy::copy_strided(&dev, &s, &StridedLayout::new(&shape, &strides, offset).unwrap(), &mut d, n).unwrap();
        assert_eq!(dev.stream().clone_dtoh(&d).unwrap(), want, "{shape:?} {strides:?}");
    }
}

#[test]
fn fill_and_cast_round_trip() {
    let dev = cuda_or_skip!();
    let mut d = dev.stream().alloc_zeros::<f64>(1000).unwrap();
    copy::fill(&dev, &mut d, 2.5f64, 1000).unwrap();
    let mut f = dev.stream().alloc_zeros::<f32>(1000).unwrap();
    copy::cast(&dev, "f64", "f32", &d, &StridedLayout::contiguous(1000, 0).unwrap(), &mut f, 1000).unwrap();
    assert!(dev.stream().clone_dtoh(&f).unwrap().iter().all(|&v| v == 2.5));
}
