//! Allocator tuning for training loops.
//!
//! Every op allocates its output; a training step allocates and frees the same large buffers
//! again and again. glibc serves big allocations with `mmap` and returns freed memory to the OS,
//! so each step pays fresh page faults and the kernel zeroing every page (10–15% of a U-Net step
//! here). Raising the mmap and trim thresholds makes freed buffers stay in the heap and be
//! reused. Peak memory is unchanged (it is the high-water mark either way).

/// Keeps freed buffers of up to 32 MiB in the process heap (glibc on Linux; a no-op elsewhere).
/// Call once at program start.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's mallopt parameters (malloc.h).
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes allocator tuning parameters; it is safe to call at any
        // time from any thread, and both values are in the ranges glibc documents (mmap
        // threshold ≤ 32 MiB on 64-bit, trim threshold any non-negative int).
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}

/// Vectors at or above this many elements are filled by all rayon threads.
const PAR_FILL_MIN: usize = 1 << 16;
/// Elements per parallel fill task.
const FILL_CHUNK: usize = 1 << 15;

/// `vec![value; n]`, with a large vector written by all rayon threads: the fill (and the first
/// touch of freshly mapped pages) of an op's output is otherwise serial work between parallel
/// kernels. The contents are the same either way.
pub fn filled<T: Copy + Send + Sync>(n: usize, value: T) -> Vec<T> {
    use rayon::prelude::*;
    if n < PAR_FILL_MIN || rayon::current_num_threads() == 1 {
        return vec![value; n];
    }
    let mut v: Vec<T> = Vec::with_capacity(n);
    let _warm = crate::parallel::keep_warm();
    v.spare_capacity_mut()[..n].par_chunks_mut(FILL_CHUNK).for_each(|c| c.fill(std::mem::MaybeUninit::new(value)));
    // SAFETY: the capacity is at least `n` and the loop above initialised all of the first `n`
    // elements (the chunks cover `spare_capacity_mut()[..n]` exactly).
    unsafe { v.set_len(n) };
    v
}

/// `vec![T::default(); n]` (zeros for the numeric types), filled as in [`filled`].
pub fn zeros<T: Copy + Default + Send + Sync>(n: usize) -> Vec<T> {
    filled(n, T::default())
}

/// `v` seen as possibly-uninitialised memory, for a kernel that only writes initialised values
/// into it (so the same kernel can also fill a new, never-written output).
///
/// # Safety
/// Only initialised values may be written through the returned slice (never
/// `MaybeUninit::uninit()`), so that `v` still holds valid `T`s when the borrow ends.
pub(crate) unsafe fn as_uninit<T>(v: &mut [T]) -> &mut [std::mem::MaybeUninit<T>] {
    // SAFETY: MaybeUninit<T> has T's size, alignment and layout; the caller writes only valid T
    // values through the returned slice (contract).
    unsafe { &mut *(v as *mut [T] as *mut [std::mem::MaybeUninit<T>]) }
}

/// A vector of `len` elements written by `write`, without filling it first: for an op's output
/// that its kernel overwrites anyway.
///
/// # Safety
/// `write` must initialise every element of the slice it is given.
pub(crate) unsafe fn written_vec<T>(len: usize, write: impl FnOnce(&mut [std::mem::MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    write(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is at least len, and `write` initialised all of v[..len] (contract).
    unsafe { v.set_len(len) };
    v
}

/// `s` as a slice of `U` when `T` is `U` (the same type by `TypeId`), `None` otherwise: how the
/// generic kernels hand their data to the f32-only SIMD paths.
pub(crate) fn same_type<T: 'static, U: 'static>(s: &[T]) -> Option<&[U]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<U>()).then(|| {
        // SAFETY: T is U (same TypeId), so this is the same memory, length and lifetime as a [U].
        unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<U>(), s.len()) }
    })
}

/// [`same_type`] for an exclusive slice (reborrowed with its length).
pub(crate) fn same_type_mut<T: 'static, U: 'static>(s: &mut [T]) -> Option<&mut [U]> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<U>() {
        return None;
    }
    // SAFETY: T is U (same TypeId); this reborrows the same exclusive slice with its length.
    Some(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<U>(), s.len()) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn filled_matches_vec_macro_for_any_thread_count() {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for n in [0, 1, 1000, super::PAR_FILL_MIN, 3 * super::FILL_CHUNK + 7] {
                let v = pool.install(|| super::filled(n, 2.5f32));
                assert_eq!(v, vec![2.5f32; n]);
                let z = pool.install(|| super::zeros::<f64>(n));
                assert_eq!(z, vec![0.0f64; n]);
            }
        }
    }
}
