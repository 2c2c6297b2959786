//! Per-thread scratch buffers that outlive one kernel call.
//!
//! Kernels such as the im2col convolution need large temporary buffers (the unrolled `cols`
//! matrix, a transposed partial product). Allocating them per call means a `calloc` that zero-fills
//! memory the kernel then overwrites in full. [`with_scratch`] instead lends a buffer kept by the
//! current thread from earlier calls: no allocation and no zero fill once the thread has seen the
//! largest size. The buffer holds whatever an earlier user left there (always initialised values),
//! so a kernel may only read elements it has written itself.
use std::any::Any;
use std::cell::RefCell;

/// Buffers kept per thread (at most this many; further returns are dropped).
const MAX_KEPT: usize = 4;

thread_local! {
    static KEPT: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Takes the largest kept `Vec<T>` of this thread (or a new empty one).
fn take<T: 'static>() -> Vec<T> {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        let best = (kept.iter().enumerate())
            .filter_map(|(i, b)| b.downcast_ref::<Vec<T>>().map(|v| (v.capacity(), i)))
            .max()
            .map(|(_, i)| i);
        match best.map(|i| kept.swap_remove(i).downcast::<Vec<T>>()) {
            Some(Ok(v)) => *v,
            _ => Vec::new(),
        }
    })
}

/// Returns a buffer to this thread's store.
fn give<T: 'static>(v: Vec<T>) {
    if v.capacity() == 0 {
        return;
    }
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() < MAX_KEPT {
            kept.push(Box::new(v));
        }
    });
}

/// Runs `f` on a scratch slice of `len` elements lent by the current thread. Its contents are
/// unspecified (left over from earlier calls, or `T::default()` where the buffer had to grow):
/// `f` must write every element it reads. Nested calls (also through rayon work stealing) get
/// distinct buffers.
///
/// The slice starts on a 64-byte boundary (a cache line) where `T`'s size divides 64: a packed
/// GEMM panel read with 64-byte vector loads then never splits a load across two lines (on an
/// AVX-512 CPU, 4-5 % of the kernel's rate with the panel in L1).
pub fn with_scratch<T: Copy + Default + 'static, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    if len == 0 {
        // Nothing to lend (a GEMM that reads A in place asks for none): keep the thread's
        // buffers for the calls that need them.
        return f(&mut []);
    }
    let mut buf = take::<T>();
    // Room to move the start to the next line boundary.
    let slack = LINE / std::mem::size_of::<T>().max(1);
    if buf.len() < len + slack {
        buf.resize(len + slack, T::default());
    }
    let skip = buf.as_ptr().align_offset(LINE);
    let skip = if skip <= slack { skip } else { 0 };
    let r = f(&mut buf[skip..skip + len]);
    give(buf);
    r
}

/// A cache line's size in bytes (x86-64 and most ARM cores).
const LINE: usize = 64;

#[cfg(test)]
mod tests {
    use super::with_scratch;

    #[test]
    fn nested_calls_get_distinct_buffers_and_buffers_are_reused() {
        let p1 = with_scratch::<f32, _>(100, |a| {
            a.fill(1.0);
            with_scratch::<f32, _>(50, |b| {
                b.fill(2.0);
                assert_ne!(a.as_ptr(), b.as_ptr());
            });
            assert!(a.iter().all(|&x| x == 1.0));
            a.as_ptr() as usize
        });
        // The largest kept buffer is lent again.
        let p2 = with_scratch::<f32, _>(80, |a| a.as_ptr() as usize);
        assert_eq!(p1, p2);
        // Other element types have their own buffers.
        with_scratch::<f64, _>(10, |a| assert_eq!(a.len(), 10));
    }

    /// Every lent slice starts on a cache line, whatever its length and the buffer it comes
    /// from.
    #[test]
    fn slices_start_on_a_cache_line() {
        for len in [1usize, 3, 17, 100, 5000, 7] {
            with_scratch::<f32, _>(len, |a| {
                assert_eq!(a.len(), len);
                assert_eq!(a.as_ptr() as usize % 64, 0, "f32 x {len}");
                with_scratch::<f64, _>(len + 1, |b| assert_eq!(b.as_ptr() as usize % 64, 0, "f64 x {}", len + 1));
            });
        }
        with_scratch::<u8, _>(33, |a| assert_eq!(a.as_ptr() as usize % 64, 0));
        // Nothing asked, nothing lent.
        with_scratch::<f32, _>(0, |a| assert!(a.is_empty()));
    }
}
