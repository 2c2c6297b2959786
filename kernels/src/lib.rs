//! Raw compute on slices. Every kernel here works on plain `&[T]` / `&mut [T]` buffers with
//! explicit sizes and strides; nothing here knows what a tensor is. Each op family keeps a naive
//! reference implementation next to the fast one, and the tests compare the two.
//!
//! Families: [`gemm`] (matrix products), [`conv`] (im2col / col2im and implicit-GEMM convolution),
//! [`norm`] (layer / group / RMS norm, group norm + SiLU), [`softmax`] (softmax, log-softmax,
//! cross-entropy rows), [`pool`] (max / average pooling and the separable resize matrices),
//! [`elementwise`] (unary maps and strided binary broadcasting), [`reduce`] (row reductions).
//! Parallel kernels split across the current rayon pool; [`parallel`] keeps that pool's threads
//! awake between kernels for work run through [`parallel::install`].

/// Defines `fn $name<T: Real>(args) -> ret` running `$body` compiled for AVX-512 or AVX2 where
/// the CPU has them (runtime detection; the crate itself is built for baseline x86-64, i.e.
/// SSE2): `#[inline(always)]` helpers inline into those copies and vectorise for their registers
/// (a closure would not be inlined into them). Nothing is contracted into FMAs (only explicit
/// `mul_add`s fuse, exactly rounded in every copy: an instruction in the AVX copies, libm's
/// `fmaf` in the baseline one) and the loops are the same, so every copy computes the same bits.
macro_rules! simd_fn {
    ($(#[$doc:meta])* $vis:vis fn $name:ident<$T:ident>($($a:ident: $t:ty),*) -> $ret:ty $body:block) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<$T: $crate::Real>($($a: $t),*) -> $ret {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<$T: $crate::Real>($($a: $t),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU must support AVX-512F.
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512<$T: $crate::Real>($($a: $t),*) -> $ret {
                    body($($a),*)
                }
                /// # Safety
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<$T: $crate::Real>($($a: $t),*) -> $ret {
                    body($($a),*)
                }
                if crate::gemm::has_avx512() && $crate::simd_copy_allowed(2) {
                    // SAFETY: AVX-512F was detected at run time.
                    return unsafe { avx512($($a),*) };
                }
                if crate::gemm::has_avx2_fma() && $crate::simd_copy_allowed(1) {
                    // SAFETY: AVX2 and FMA were detected at run time.
                    return unsafe { avx2($($a),*) };
                }
            }
            body($($a),*)
        }
    };
}

#[cfg(test)]
thread_local! {
    /// The widest `simd_fn!` copy calls on this thread may take (2: AVX-512, 1: AVX2, 0: the
    /// portable one); tests lower it to compare the copies ([`with_simd_copy`]).
    static SIMD_COPY: std::cell::Cell<u8> = const { std::cell::Cell::new(2) };
}

/// Whether `simd_fn!` calls on this thread may take the copy of `level` (2: AVX-512, 1: AVX2):
/// always, outside the tests.
#[inline(always)]
pub(crate) fn simd_copy_allowed(level: u8) -> bool {
    #[cfg(test)]
    return SIMD_COPY.with(|c| c.get() >= level);
    #[cfg(not(test))]
    {
        let _ = level;
        true
    }
}

/// Runs `f` with `simd_fn!` calls made on this thread limited to the copy of `level` or narrower
/// (2: AVX-512, 1: AVX2, 0: portable), so a test can check that every copy gives the same bits.
/// Work `f` hands to other threads is not limited.
#[cfg(test)]
pub(crate) fn with_simd_copy<R>(level: u8, f: impl FnOnce() -> R) -> R {
    let before = SIMD_COPY.with(|c| c.replace(level));
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            SIMD_COPY.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(before);
    f()
}

pub mod conv;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod cuda_params;
pub mod elementwise;
pub mod fastmath;
pub mod gemm;
mod lanes;
pub mod memory;
pub mod norm;
pub mod optim;
pub mod parallel;
pub mod pool;
pub mod ptx;
pub mod reduce;
pub mod scratch;
pub mod softmax;
pub mod strided;

/// The floating-point element types the compute kernels are written for (f32 and f64).
/// Half-precision tensors are converted to f32 before they reach a kernel.
pub trait Real:
    num_traits::Float
    + num_traits::FloatConst
    + num_traits::FromPrimitive
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + std::iter::Sum
    + std::fmt::Debug
    + std::fmt::Display
    + Default
    + Send
    + Sync
    + 'static
{
    /// Converts from f64 (exact for f64, rounded for f32).
    fn from_f64(v: f64) -> Self;
    /// Converts to f64.
    fn to_f64(self) -> f64;
    /// Error function, used by the exact GELU.
    fn erf(self) -> Self;
    /// `exp` as the kernels use it: the vectorisable [`fastmath::exp_f32`] for f32 (relative
    /// error < 3e-7), the exact `exp` for f64 (so f64 gradient checks see exact values).
    fn fast_exp(self) -> Self;
    /// `tanh`: [`fastmath::tanh_f32`] for f32, exact for f64.
    fn fast_tanh(self) -> Self;
    /// `erf`: [`fastmath::erf_f32`] for f32 (vectorisable), [`erf_f64`] for f64.
    fn fast_erf(self) -> Self;
    /// `(fast_erf(x), exp(−x²))`; for f32 one exponential serves both
    /// ([`fastmath::erf_and_gauss_f32`]).
    #[inline(always)]
    fn fast_erf_and_gauss(self) -> (Self, Self) {
        (self.fast_erf(), (-(self * self)).fast_exp())
    }
}

impl Real for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn erf(self) -> Self {
        erf_f64(self as f64) as f32
    }
    #[inline(always)]
    fn fast_exp(self) -> Self {
        fastmath::exp_f32(self)
    }
    #[inline(always)]
    fn fast_tanh(self) -> Self {
        fastmath::tanh_f32(self)
    }
    #[inline(always)]
    fn fast_erf(self) -> Self {
        fastmath::erf_f32(self)
    }
    #[inline(always)]
    fn fast_erf_and_gauss(self) -> (Self, Self) {
        fastmath::erf_and_gauss_f32(self)
    }
}

impl Real for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn erf(self) -> Self {
        erf_f64(self)
    }
    #[inline(always)]
    fn fast_exp(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn fast_tanh(self) -> Self {
        self.tanh()
    }
    #[inline(always)]
    fn fast_erf(self) -> Self {
        erf_f64(self)
    }
}

/// Error function to near double precision (W. J. Cody's rational approximations, as in most libm).
pub fn erf_f64(x: f64) -> f64 {
    let ax = x.abs();
    let r = if ax < 0.5 {
        // erf(x) = x * P(x^2) / Q(x^2)
        let t = x * x;
        let p = [
            3.161_123_743_870_565_6,
            113.864_154_151_050_16,
            377.485_237_685_302,
            3_209.377_589_138_469_4,
            0.185_777_706_184_603_15,
        ];
        let q = [23.601_290_952_344_122, 244.024_637_934_444_17, 1_282.616_526_077_372_3, 2_844.236_833_439_171];
        let num = (((p[4] * t + p[0]) * t + p[1]) * t + p[2]) * t + p[3];
        let den = (((t + q[0]) * t + q[1]) * t + q[2]) * t + q[3];
        return x * num / den;
    } else if ax < 4.0 {
        let p = [
            0.564_188_496_988_670_1,
            8.883_149_794_388_376,
            66.119_190_637_141_63,
            298.635_138_197_400_1,
            881.952_221_241_769,
            1_712.047_612_634_070_7,
            2_051.078_377_826_071_6,
            1_230.339_354_797_997_2,
            2.153_115_354_744_038_3e-8,
        ];
        let q = [
            15.744_926_110_709_835,
            117.693_950_891_312_5,
            537.181_101_862_009_9,
            1_621.389_574_566_690_3,
            3_290.799_235_733_459_7,
            4_362.619_090_143_247,
            3_439.367_674_143_721_6,
            1_230.339_354_803_749_5,
        ];
        let mut num = p[8] * ax;
        let mut den = ax;
        for i in 0..7 {
            num = (num + p[i]) * ax;
            den = (den + q[i]) * ax;
        }
        let erfc = (num + p[7]) / (den + q[7]) * (-ax * ax).exp();
        1.0 - erfc
    } else {
        let p = [
            0.305_326_634_961_232_36,
            0.360_344_899_949_804_4,
            0.125_781_726_111_229_26,
            0.016_083_785_148_742_275,
            6.587_491_615_298_378e-4,
            0.016_315_387_137_302_097,
        ];
        let q = [
            2.568_520_192_289_822,
            1.872_952_849_923_460_4,
            0.527_905_102_951_428_5,
            0.060_518_341_312_441_32,
            0.002_335_204_976_268_691_8,
        ];
        let z = 1.0 / (ax * ax);
        let mut num = p[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + p[i]) * z;
            den = (den + q[i]) * z;
        }
        let r = z * (num + p[4]) / (den + q[4]);
        let r = (std::f64::consts::FRAC_2_SQRT_PI / 2.0 - r) / ax;
        let erfc = r * (-ax * ax).exp();
        1.0 - erfc
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn erf_matches_known_values() {
        // Reference values from high-precision tables.
        let cases = [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_627_7),
            (5.0, 0.999_999_999_998_462_5),
        ];
        for (x, want) in cases {
            let got = super::erf_f64(x);
            assert!((got - want).abs() < 1e-13, "erf({x}) = {got}, want {want}");
            assert!((super::erf_f64(-x) + want).abs() < 1e-13);
        }
    }
}
