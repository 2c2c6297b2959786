//! Keeping a pool's threads awake between parallel kernels.
//!
//! rayon parks a worker that has found no work for ~33 `sched_yield` rounds (~50 µs here) and
//! wakes it with a futex when new work arrives. Measured on the 2-core benchmark VM, a GEMM
//! `512×256·256×512` takes 200 µs at 2 threads when it follows the previous one at once, but
//! 280-370 µs when 50 µs of serial work came first: the parked worker starts its half late. A
//! training step runs dozens of parallel kernels with short serial stretches between them (graph
//! bookkeeping, small ops), so without help most kernels start with their other threads asleep.
//! OpenMP runtimes spin for a while before they sleep; this module does the same for rayon:
//! [`keep_warm`] puts a *keeper* on each of the pool's other threads, a job that runs whatever
//! work appears there (`rayon::yield_now`) and returns only after [`IDLE`] without any, or after
//! [`LIFETIME`] in all (the next kernel then starts new keepers).
//!
//! Keepers are opt-in: only work run through [`install`] has them, and only kernels called on
//! the thread that called `install` (the *owner*, the one running the user's code) start them,
//! and only at the top level: [`keep_warm`] returns a guard that the kernel holds while it runs,
//! and a kernel called inside it (a task of the outer kernel that happens to run on the owner)
//! starts nothing. Kernels on the other threads never do. Which thread runs which task never
//! changes a result (every kernel's tasks write disjoint outputs in a fixed order), so keepers
//! change timings only, never bits.
//!
//! A keeper is an ordinary rayon job, so a thread waiting inside a `join` may pick one up and
//! then finish its wait only when the keeper returns. Keepers start only when a top-level kernel
//! begins on the owner and none are alive: the previous kernel has returned, so no other thread
//! is inside one of its joins (unless the caller runs rayon work of its own beside the kernels;
//! even then the wait lasts at most [`IDLE`] after the keeper's last job, or [`LIFETIME`]).
use rayon::Yield;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A keeper returns after this long without finding any work.
pub const IDLE: Duration = Duration::from_micros(1000);
/// A keeper returns after this long in all, so that one never pins a thread for good.
pub const LIFETIME: Duration = Duration::from_millis(20);

/// The keepers of the pool an [`install`] runs in.
struct Keepers {
    /// Keepers started and not yet returned (the owner's own copy of a broadcast never counts).
    alive: AtomicUsize,
    /// How many times keepers were started.
    starts: AtomicUsize,
}

thread_local! {
    /// Set on the owner thread while an [`install`] runs there.
    static OWNED: RefCell<Option<Arc<Keepers>>> = const { RefCell::new(None) };
    /// How many [`Warm`] guards the owner holds (kernels running, outermost first).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` in `pool` with its threads kept awake between the parallel kernels `f` calls (see the
/// module docs). The same result as `pool.install(f)`.
pub fn install<R: Send>(pool: &rayon::ThreadPool, f: impl FnOnce() -> R + Send) -> R {
    pool.install(|| {
        let keepers = Keepers { alive: AtomicUsize::new(0), starts: AtomicUsize::new(0) };
        let previous = OWNED.with(|o| o.replace(Some(Arc::new(keepers))));
        let outer_depth = DEPTH.with(|d| d.replace(0));
        // Restores the previous owner state even if `f` panics.
        struct Restore(Option<Arc<Keepers>>, usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                OWNED.with(|o| *o.borrow_mut() = self.0.take());
                DEPTH.with(|d| d.set(self.1));
            }
        }
        let _restore = Restore(previous, outer_depth);
        f()
    })
}

/// Held by a kernel while it runs split across threads (see [`keep_warm`]).
pub struct Warm {
    owner: bool,
}

impl Drop for Warm {
    fn drop(&mut self) {
        if self.owner {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
}

/// Called by a kernel about to split across threads; the kernel holds the returned guard until
/// it is done. On the owner thread of an [`install`], outside any other kernel, starts a keeper
/// on every other thread of the pool unless they are still alive. Elsewhere only a guard.
#[must_use = "hold the guard while the kernel runs"]
pub fn keep_warm() -> Warm {
    OWNED.with(|o| {
        let owned = o.borrow();
        let Some(keepers) = owned.as_ref() else { return Warm { owner: false } };
        let depth = DEPTH.with(|d| d.replace(d.get() + 1));
        let others = rayon::current_num_threads().saturating_sub(1);
        if depth > 0 || others == 0 {
            return Warm { owner: true };
        }
        if keepers.alive.compare_exchange(0, others, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            keepers.starts.fetch_add(1, Ordering::Relaxed);
            let keepers = Arc::clone(keepers);
            let owner = rayon::current_thread_index();
            rayon::spawn_broadcast(move |ctx| {
                if Some(ctx.index()) != owner {
                    // Counted down even if a job run by the keeper panics.
                    struct Done<'a>(&'a Keepers);
                    impl Drop for Done<'_> {
                        fn drop(&mut self) {
                            self.0.alive.fetch_sub(1, Ordering::AcqRel);
                        }
                    }
                    let _done = Done(&keepers);
                    keep();
                }
            });
        }
        Warm { owner: true }
    })
}

/// How many keepers of the current thread's [`install`] are running (0 outside one).
pub fn keepers_alive() -> usize {
    OWNED.with(|o| o.borrow().as_ref().map_or(0, |k| k.alive.load(Ordering::Acquire)))
}

/// How many times the current thread's [`install`] has started keepers (0 outside one).
pub fn keeper_starts() -> usize {
    OWNED.with(|o| o.borrow().as_ref().map_or(0, |k| k.starts.load(Ordering::Relaxed)))
}

/// The keeper's loop: run the pool's work as it appears; return after [`IDLE`] without any or
/// [`LIFETIME`] in all.
fn keep() {
    let start = Instant::now();
    let mut last_work = start;
    loop {
        match rayon::yield_now() {
            Some(Yield::Executed) => last_work = Instant::now(),
            Some(Yield::Idle) => {
                let now = Instant::now();
                if now.duration_since(last_work) >= IDLE || now.duration_since(start) >= LIFETIME {
                    return;
                }
                std::thread::yield_now();
            }
            None => return,
        }
        if last_work.duration_since(start) >= LIFETIME {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::{gemm, MatRef};

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    /// Waits up to `limit` for `done`, polling.
    fn eventually(limit: Duration, done: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        done()
    }

    #[test]
    fn keepers_start_once_per_round_and_return_when_idle() {
        for threads in [2, 3] {
            install(&pool(threads), || {
                assert_eq!((keepers_alive(), keeper_starts()), (0, 0));
                let first = Instant::now();
                drop(keep_warm());
                assert_eq!(keeper_starts(), 1);
                // Not started again while any are alive. A keeper returns only after IDLE without
                // work, counted from when it began (after `first`), so a second start that ends
                // within IDLE of `first` came while keepers were alive. (Asking "are any alive?"
                // and then calling would race with their return on a busy machine.)
                while first.elapsed() < IDLE / 2 {
                    drop(keep_warm());
                    let at = first.elapsed();
                    assert!(keeper_starts() == 1 || at >= IDLE, "{threads} threads: started twice");
                    std::thread::yield_now();
                }
                // All return (after IDLE without work): the next kernel starts new ones.
                assert!(eventually(LIFETIME + Duration::from_secs(5), || keepers_alive() == 0));
                let before = keeper_starts();
                drop(keep_warm());
                assert_eq!(keeper_starts(), before + 1, "{threads} threads: not restarted");
            });
        }
    }

    #[test]
    fn keepers_return_while_the_owner_is_busy() {
        let limit = LIFETIME + Duration::from_secs(5);
        install(&pool(2), || {
            let _kernel = keep_warm();
            assert!(eventually(limit, || keepers_alive() == 0), "keepers must return after IDLE without work");
        });
    }

    #[test]
    fn nested_kernels_and_other_threads_start_no_keepers() {
        drop(keep_warm());
        assert_eq!(keeper_starts(), 0, "no install: no keepers");
        pool(2).install(|| {
            drop(keep_warm());
            assert_eq!(keeper_starts(), 0, "a plain install has no keepers");
        });
        install(&pool(1), || {
            drop(keep_warm());
            assert_eq!(keeper_starts(), 0, "one thread: nobody to keep awake");
        });
        install(&pool(2), || {
            let outer = keep_warm();
            assert_eq!(keeper_starts(), 1);
            assert!(eventually(LIFETIME + Duration::from_secs(5), || keepers_alive() == 0));
            // A kernel inside the running one (a task on the owner thread) starts nothing, even
            // with no keeper alive.
            drop(keep_warm());
            assert_eq!(keeper_starts(), 1, "nested kernel on the owner started keepers");
            // Nor does one on the other thread.
            let owner = rayon::current_thread_index();
            rayon::broadcast(|ctx| {
                if Some(ctx.index()) != owner {
                    drop(keep_warm());
                }
            });
            assert_eq!(keeper_starts(), 1, "a kernel off the owner thread started keepers");
            drop(outer);
            drop(keep_warm());
            assert_eq!(keeper_starts(), 2, "the next top-level kernel starts them");
        });
    }

    #[test]
    fn kept_warm_products_are_the_same_bits() {
        // x: [m, k] · w: [k, n], big enough to split between threads.
        let (m, n, k) = (256, 96, 200);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 101) as f32 * 0.01 - 0.5).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 53) % 97) as f32 * 0.02 - 1.0).collect();
        let product = || {
            let mut c = vec![0.0f32; m * n];
            let (am, bm) = (
                MatRef { data: &a, offset: 0, row_stride: k, col_stride: 1 },
                MatRef { data: &b, offset: 0, row_stride: n, col_stride: 1 },
            );
            // Serial gaps long enough for an unkept thread to fall asleep.
            for _ in 0..5 {
                gemm(m, n, k, am, bm, &mut c, false);
                std::thread::sleep(Duration::from_micros(300));
            }
            c
        };
        let plain = pool(1).install(product);
        for threads in [2, 3] {
            assert_eq!(install(&pool(threads), product), plain, "{threads} threads with keepers");
            assert_eq!(pool(threads).install(product), plain, "{threads} threads without");
        }
    }
}
