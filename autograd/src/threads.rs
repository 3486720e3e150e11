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
//! The count is read once from the environment variable [`NUM_THREADS_ENV`]
//! (`FERROGRAD_NUM_THREADS`) on first use, else it is the machine's available parallelism;
//! [`set_num_threads`] changes it at any time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

/// The environment variable that sets the initial thread count: a positive integer.
///
/// Read once, the first time the count is needed; a missing, zero or unparsable value means
/// the machine's available parallelism.
///
/// ```
/// assert_eq!(ferrograd_autograd::NUM_THREADS_ENV, "FERROGRAD_NUM_THREADS");
/// ```
pub const NUM_THREADS_ENV: &str = "FERROGRAD_NUM_THREADS";

/// The thread count; 0 until first read from the environment.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The pool for the current count (more than one thread), built on first parallel use.
static POOL: Mutex<Option<Arc<ThreadPool>>> = Mutex::new(None);

/// The number of threads ferrograd's kernels may use (at least 1).
///
/// Initially the value of [`NUM_THREADS_ENV`] if it is a positive integer, else the
/// machine's available parallelism; [`set_num_threads`] changes it.
///
/// ```
/// use ferrograd_autograd::{num_threads, set_num_threads};
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
/// use ferrograd_autograd::{Graph, Tensor, num_threads, set_num_threads};
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
    if pool.as_ref().is_some_and(|p| p.current_num_threads() != n) {
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
/// use ferrograd_autograd::threads::for_each_part;
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
    use rayon::iter::{IntoParallelIterator, ParallelIterator};
    Workers::current().install(|| parts.into_par_iter().for_each(f));
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
    pool: Option<Arc<ThreadPool>>,
}

impl Workers {
    /// The process-wide thread count and pool (building the pool if it is missing).
    pub(crate) fn current() -> Self {
        let threads = num_threads();
        if threads == 1 {
            return Self::inline();
        }
        let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = slot.as_ref().filter(|p| p.current_num_threads() == threads) {
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

    /// Runs `f` inside the pool, so that rayon's parallel iterators in it use these threads;
    /// at one thread, on the caller's thread.
    pub(crate) fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

fn build(threads: usize) -> Option<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferrograd-{i}"))
        .build()
        .ok()
        .map(Arc::new)
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
    fn a_private_pool_runs_on_its_own_threads() {
        let w = Workers::with_threads(3);
        assert_eq!(w.threads(), 3);
        assert_eq!(w.install(rayon::current_num_threads), 3);
        let name = w.install(|| std::thread::current().name().map(String::from));
        assert!(name.is_some_and(|n| n.starts_with("ferrograd-")));
        assert_eq!(Workers::inline().install(|| 7), 7);
    }
}
