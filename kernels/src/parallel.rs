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
//! the thread that called `install` (the *owner*, the one running the user's code) start them.
//! Kernels called from inside parallel tasks (nested, on any thread) never do. Which thread runs
//! which task never changes a result (every kernel's tasks write disjoint outputs in a fixed
//! order), so keepers change timings only, never bits.
//!
//! A keeper is an ordinary rayon job, so a thread that is waiting inside a `join` may pick one up
//! and then finish its wait only when the keeper returns. Keepers start when a kernel begins on
//! the owner thread and none are alive; the other threads are idle then unless a keeper expired
//! in the middle of a kernel whose nested kernel restarted them, and even then the wait lasts at
//! most one [`IDLE`] (or [`LIFETIME`]).
use rayon::Yield;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A keeper returns after this long without finding any work.
pub const IDLE: Duration = Duration::from_micros(1000);
/// A keeper returns after this long in all, so that one never pins a thread for good.
pub const LIFETIME: Duration = Duration::from_millis(20);

/// The keepers of the pool an [`install`] runs in.
struct Keepers {
    /// Index in its pool of the thread that called `install`.
    owner: usize,
    /// Keepers started and not yet returned (the owner's own copy of a broadcast never counts).
    alive: AtomicUsize,
}

thread_local! {
    /// Set on the owner thread while an [`install`] runs there.
    static OWNED: RefCell<Option<Arc<Keepers>>> = const { RefCell::new(None) };
}

/// Runs `f` in `pool` with its threads kept awake between the parallel kernels `f` calls (see the
/// module docs). The same result as `pool.install(f)`.
pub fn install<R: Send>(pool: &rayon::ThreadPool, f: impl FnOnce() -> R + Send) -> R {
    pool.install(|| {
        // `install` runs its closure on one of the pool's threads, so this is never `None`.
        let Some(owner) = rayon::current_thread_index() else { return f() };
        let keepers = Arc::new(Keepers { owner, alive: AtomicUsize::new(0) });
        let previous = OWNED.with(|o| o.replace(Some(keepers)));
        // Restores the previous owner state even if `f` panics.
        struct Restore(Option<Option<Arc<Keepers>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take().flatten();
                OWNED.with(|o| *o.borrow_mut() = previous);
            }
        }
        let _restore = Restore(Some(previous));
        f()
    })
}

/// Called by a kernel about to split across threads: on the owner thread of an [`install`], starts
/// a keeper on every other thread of the pool unless they are still alive. Elsewhere a no-op.
pub fn keep_warm() {
    OWNED.with(|o| {
        let owned = o.borrow();
        let Some(keepers) = owned.as_ref() else { return };
        let others = rayon::current_num_threads().saturating_sub(1);
        if others == 0 || rayon::current_thread_index() != Some(keepers.owner) {
            return;
        }
        if keepers.alive.compare_exchange(0, others, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        let keepers = Arc::clone(keepers);
        rayon::spawn_broadcast(move |ctx| {
            if ctx.index() != keepers.owner {
                keep();
                keepers.alive.fetch_sub(1, Ordering::AcqRel);
            }
        });
    });
}

/// How many keepers of the current thread's [`install`] are running (0 outside one).
pub fn keepers_alive() -> usize {
    OWNED.with(|o| o.borrow().as_ref().map_or(0, |k| k.alive.load(Ordering::Acquire)))
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
    fn keepers_start_on_the_other_threads_and_return_when_idle() {
        for threads in [2, 3] {
            install(&pool(threads), || {
                assert_eq!(keepers_alive(), 0);
                keep_warm();
                assert_eq!(keepers_alive(), threads - 1, "one keeper per other thread");
                // Started again only once they are all gone.
                keep_warm();
                assert!(keepers_alive() < threads, "never more than one keeper per other thread");
                let gone = eventually(LIFETIME + Duration::from_secs(2), || keepers_alive() == 0);
                assert!(gone, "keepers must return after IDLE without work");
                keep_warm();
                assert_eq!(keepers_alive(), threads - 1, "restarted after returning");
            });
        }
    }

    #[test]
    fn keep_warm_does_nothing_outside_install_on_one_thread_or_off_the_owner() {
        keep_warm();
        assert_eq!(keepers_alive(), 0, "no install: no keepers");
        pool(2).install(|| {
            keep_warm();
            assert_eq!(keepers_alive(), 0, "a plain install has no keepers");
        });
        install(&pool(1), || {
            keep_warm();
            assert_eq!(keepers_alive(), 0, "one thread: nobody to keep awake");
        });
        install(&pool(2), || {
            let owner = rayon::current_thread_index();
            // A kernel called from a task on the other thread must not start keepers.
            let seen = rayon::broadcast(|ctx| {
                if Some(ctx.index()) != owner {
                    keep_warm();
                    return Some(keepers_alive());
                }
                None
            });
            assert_eq!(seen.into_iter().flatten().collect::<Vec<_>>(), vec![0]);
            assert_eq!(keepers_alive(), 0, "the owner's count is untouched");
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
