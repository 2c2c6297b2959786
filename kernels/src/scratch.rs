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
pub fn with_scratch<T: Copy + Default + 'static, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut buf = take::<T>();
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    let r = f(&mut buf[..len]);
    give(buf);
    r
}

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
}
