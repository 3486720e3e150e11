//! How many threads ferrograd's kernels use, and the pool they run on.
//!
//! Work is split across threads only where it is large enough to pay for the hand-off:
//! matrix products (by blocks of output rows or columns, or by batch element), conv2d's
//! kernels (by parts of the batch of images) and element-wise kernels over many elements.
//! Smaller work, and all work at one thread, runs inline on the caller's thread with no
//! pool involved.
//!
//! # Determinism
//! Results are bit-for-bit identical for every thread count:
//! - a matrix product split by output blocks computes each output element with the same
//!   dot product, in the same order, as the single-threaded product;
//! - element-wise kernels compute each element independently;
//! - conv2d computes each image's output and input gradient as at one thread, and sums its
//!   weight and bias gradients per part of the batch, the parts fixed by the shapes alone
//!   (one thread runs the same parts in turn), then adds the parts' sums in part order;
//! - reductions (`sum`, `mean`, `max`, softmax, the gradient sums over broadcast axes) are not
//!   split across threads, so their order of summation does not depend on the count either.
//!
//! # Hand-off
//! A split runs its first part on the calling thread and the others on the pool's workers.
//! After a split, one worker fewer than the count keeps polling for work for
//! [`SPIN`] (about a millisecond) before it sleeps, as OpenMP runtimes do: the next split,
//! typically the next matrix product of the same training step, then starts at once. A
//! sleeping thread takes tens to hundreds of microseconds to wake (far longer on a virtual
//! machine, whose idle vCPU is halted), which made every split of a product below about
//! 256³ slower on two threads than on one. The price is up to a millisecond of one busy
//! core after the last split.
//!
//! The count is read once from the environment variable [`NUM_THREADS_ENV`]
//! (`FERROGRAD_NUM_THREADS`) on first use, else it is the machine's available parallelism;
//! [`set_num_threads`] changes it at any time.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rayon::{ThreadPool, ThreadPoolBuilder, Yield};

/// The environment variable that sets the initial thread count: a positive integer.
///
/// Read once, the first time the count is needed; a missing, zero or unparsable value means
/// the machine's available parallelism.
///
/// ```
/// assert_eq!(ferrograd::autograd::NUM_THREADS_ENV, "FERROGRAD_NUM_THREADS");
/// ```
pub const NUM_THREADS_ENV: &str = "FERROGRAD_NUM_THREADS";

/// The thread count; 0 until first read from the environment.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The pool for the current count (more than one thread), built on first parallel use.
static POOL: Mutex<Option<Arc<Pool>>> = Mutex::new(None);

/// The number of threads ferrograd's kernels may use (at least 1).
///
/// Initially the value of [`NUM_THREADS_ENV`] if it is a positive integer, else the
/// machine's available parallelism; [`set_num_threads`] changes it.
///
/// ```
/// use ferrograd::autograd::{num_threads, set_num_threads};
/// set_num_threads(2);
/// assert_eq!(num_threads(), 2);
/// ```
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = threads_from(std::env::var(NUM_THREADS_ENV).ok().as_deref());
            // A concurrent `set_num_threads` wins over the environment.
            match THREADS.compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => n,
                Err(set) => set,
            }
        }
        n => n,
    }
}

/// Sets the number of threads ferrograd's kernels may use, for the whole process (as
/// `torch.set_num_threads`). With 1, everything runs on the calling thread.
///
/// The pool of worker threads is built on the next parallel use; work already running
/// finishes on the previous pool. Results do not depend on the count (see the
/// [module documentation](crate::threads)).
///
/// # Panics
/// If `n` is 0.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor, num_threads, set_num_threads};
/// set_num_threads(1);
/// assert_eq!(num_threads(), 1);
/// let g = Graph::<f32>::new();
/// let a = g.constant(Tensor::ones(&[256, 256]));
/// let one = a.matmul(a).value();
/// set_num_threads(2);
/// assert_eq!(a.matmul(a).value(), one);
/// ```
#[track_caller]
pub fn set_num_threads(n: usize) {
    assert!(
        n > 0,
        "set_num_threads: the thread count must be at least 1, got 0"
    );
    THREADS.store(n, Ordering::Relaxed);
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if pool
        .as_ref()
        .is_some_and(|p| p.pool.current_num_threads() != n)
    {
        *pool = None;
    }
}

/// The count a value of [`NUM_THREADS_ENV`] asks for: a positive integer, else the
/// machine's available parallelism.
/// Runs `f` on every part, in parallel on ferrograd's threads (inline, in order, at one
/// thread or for a single part): for work outside the kernels, such as an optimizer's
/// update of a large parameter split into disjoint slices. Results are the same at any
/// thread count as long as `f` treats each part on its own.
///
/// ```
/// use ferrograd::autograd::threads::for_each_part;
/// let mut data = vec![1.0f32; 1000];
/// for_each_part(data.chunks_mut(250).collect(), |part: &mut [f32]| {
///     part.iter_mut().for_each(|x| *x *= 2.0)
/// });
/// assert!(data.iter().all(|&x| x == 2.0));
/// ```
pub fn for_each_part<P: Send>(parts: Vec<P>, f: impl Fn(P) + Sync + Send) {
    if parts.len() < 2 || num_threads() == 1 {
        parts.into_iter().for_each(f);
        return;
    }
    Workers::current().run_parts(parts, f);
}

fn threads_from(value: Option<&str>) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The threads a kernel runs its parts on: the process-wide setting ([`Workers::current`])
/// or, in tests, a private pool of a given size.
#[derive(Clone)]
pub(crate) struct Workers {
    threads: usize,
    pool: Option<Arc<Pool>>,
}

impl Workers {
    /// The process-wide thread count and pool (building the pool if it is missing).
    pub(crate) fn current() -> Self {
        let threads = num_threads();
        if threads == 1 {
            return Self::inline();
        }
        let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = slot
            .as_ref()
            .filter(|p| p.pool.current_num_threads() == threads)
        {
            return Self {
                threads,
                pool: Some(Arc::clone(pool)),
            };
        }
        match build(threads) {
            Some(pool) => {
                *slot = Some(Arc::clone(&pool));
                Self {
                    threads,
                    pool: Some(pool),
                }
            }
            // No threads to be had: run inline rather than fail.
            None => Self::inline(),
        }
    }

    /// One thread: everything runs on the caller's.
    pub(crate) fn inline() -> Self {
        Self {
            threads: 1,
            pool: None,
        }
    }

    /// A private pool of `threads` threads, independent of the process-wide setting.
    #[cfg(test)]
    pub(crate) fn with_threads(threads: usize) -> Self {
        if threads == 1 {
            return Self::inline();
        }
        Self {
            threads,
            pool: Some(build(threads).expect("test pool")),
        }
    }

    /// How many threads the work may be split over.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on every part: the parts in as many contiguous groups as there are threads
    /// (their sizes differing by at most one), the first group on the calling thread and
    /// each other on a worker, in order within a group. At one thread, or for a single
    /// part, all in order on the caller's thread.
    pub(crate) fn run_parts<P: Send>(&self, parts: Vec<P>, f: impl Fn(P) + Sync) {
        let Some(pool) = self.pool.as_ref().filter(|_| parts.len() > 1) else {
            parts.into_iter().for_each(f);
            return;
        };
        let count = self.threads.min(parts.len());
        let (size, extra) = (parts.len() / count, parts.len() % count);
        let mut rest = parts;
        let mut groups = Vec::with_capacity(count);
        for g in 0..count {
            let tail = rest.split_off(size + usize::from(g < extra));
            groups.push(std::mem::replace(&mut rest, tail));
        }
        let f = &f;
        let mut groups = groups.into_iter();
        let first = groups.next().expect("at least two groups");
        pool.pool.in_place_scope(|scope| {
            for group in groups {
                scope.spawn(move |_| group.into_iter().for_each(f));
            }
            first.into_iter().for_each(f);
        });
        Pool::keep_warm(pool);
    }
}

/// How long a worker keeps polling for work after a split before it sleeps (see the
/// [module documentation](crate::threads)).
pub const SPIN: Duration = Duration::from_millis(1);

/// The worker threads, and how many of them are polling for work.
struct Pool {
    pool: ThreadPool,
    spinning: AtomicUsize,
}

thread_local! {
    /// Whether this thread is polling for work (a second poll picked up as work by the
    /// first would only nest).
    static POLLING: Cell<bool> = const { Cell::new(false) };
}

impl Pool {
    /// Sets all but one of the workers polling for work, unless they are already: the
    /// caller's thread is the remaining one.
    fn keep_warm(this: &Arc<Self>) {
        let want = this.pool.current_num_threads().saturating_sub(1);
        let mut now = this.spinning.load(Ordering::Acquire);
        while now < want {
            match this
                .spinning
                .compare_exchange(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let pool = Arc::clone(this);
                    this.pool.spawn(move || pool.poll());
                    now += 1;
                }
                Err(seen) => now = seen,
            }
        }
    }

    /// Runs the pool's pending work as it arrives until none has come for [`SPIN`].
    fn poll(&self) {
        if !POLLING.replace(true) {
            let mut last = Instant::now();
            loop {
                match rayon::yield_now() {
                    Some(Yield::Executed) => last = Instant::now(),
                    _ if last.elapsed() >= SPIN => break,
                    _ => std::hint::spin_loop(),
                }
            }
            POLLING.set(false);
        }
        self.spinning.fetch_sub(1, Ordering::AcqRel);
    }
}

fn build(threads: usize) -> Option<Arc<Pool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferrograd-{i}"))
        .build()
        .ok()
        .map(|pool| {
            Arc::new(Pool {
                pool,
                spinning: AtomicUsize::new(0),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_value_is_a_positive_count_or_the_default() {
        let default = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(threads_from(Some("3")), 3);
        assert_eq!(threads_from(Some(" 2\n")), 2);
        assert_eq!(threads_from(Some("0")), default);
        assert_eq!(threads_from(Some("many")), default);
        assert_eq!(threads_from(Some("-1")), default);
        assert_eq!(threads_from(None), default);
    }

    #[test]
    fn run_parts_runs_each_part_once_the_first_group_on_the_caller() {
        let caller = std::thread::current().id();
        for threads in [1, 2, 3] {
            let w = Workers::with_threads(threads);
            for count in [0, 1, 2, 5, 7] {
                let seen = Mutex::new(Vec::new());
                w.run_parts((0..count).collect(), |i: usize| {
                    let on_caller = std::thread::current().id() == caller;
                    seen.lock().unwrap().push((i, on_caller));
                });
                let mut seen = seen.into_inner().unwrap();
                seen.sort_unstable();
                assert_eq!(
                    seen.iter().map(|s| s.0).collect::<Vec<_>>(),
                    (0..count).collect::<Vec<_>>()
                );
                // Part 0 belongs to the first group, which the caller runs.
                assert!(
                    seen.first().is_none_or(|s| s.1),
                    "{threads} threads, {count} parts"
                );
                if threads > 1 && count > 1 {
                    // The last part is in another group, run on a worker.
                    assert!(!seen.last().unwrap().1, "{threads} threads, {count} parts");
                }
            }
        }
    }

    #[test]
    fn a_panic_in_a_workers_part_reaches_the_caller() {
        let w = Workers::with_threads(2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.run_parts(vec![0, 1], |i| assert!(i == 0, "part {i} failed"));
        }));
        assert!(caught.is_err());
        // The pool still works afterwards.
        let sum = AtomicUsize::new(0);
        w.run_parts(vec![1, 2, 3], |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.into_inner(), 6);
    }

    #[test]
    fn a_private_pool_runs_on_its_own_threads() {
        let w = Workers::with_threads(3);
        assert_eq!(w.threads(), 3);
        let names = Mutex::new(Vec::new());
        w.run_parts(vec![0, 1, 2], |_| {
            names
                .lock()
                .unwrap()
                .push(std::thread::current().name().map(String::from));
        });
        let names = names.into_inner().unwrap();
        assert_eq!(names.len(), 3);
        // The caller runs the first part; the others run on the pool's named workers.
        let workers = names
            .iter()
            .flatten()
            .filter(|n| n.starts_with("ferrograd-"));
        assert_eq!(workers.count(), 2);
    }
}
