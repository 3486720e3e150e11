//! The process-wide thread count: the API, the environment variable, and results that do not
//! depend on it. One test changes the setting (tests in a binary share it); the environment
//! is checked in a child process, which reads it fresh.

use ferrograd_autograd::{Graph, NUM_THREADS_ENV, Tensor, num_threads, set_num_threads};

/// Large enough to take every parallel path: a split GEMM, a batch of products, element-wise
/// kernels over equal shapes and under broadcast, and the backward of all of them.
fn workload(threads: usize) -> Vec<Vec<u32>> {
    set_num_threads(threads);
    assert_eq!(num_threads(), threads);
    let values = |shape: &[usize], k: f32| {
        let n = shape.iter().product::<usize>();
        Tensor::from_vec((0..n).map(|i| (i as f32 * k).sin()).collect(), shape)
    };
    let g = Graph::<f32>::new();
    let a = g.var(values(&[512, 257], 0.37));
    let b = g.var(values(&[257, 300], 0.91));
    let bias = g.var(values(&[300], 0.13));
    let batch = g.var(values(&[8, 64, 96], 0.29));
    let per = g.var(values(&[8, 96, 80], 0.53));
    let y = (a.matmul(b) + bias).tanh() * a.matmul(b).exp().sqrt();
    let z = batch.matmul(per).sigmoid();
    let loss = (y * g.constant(values(&[512, 300], 0.71))).sum()
        + (z * g.constant(values(&[8, 64, 80], 0.17))).sum();
    loss.backward();
    [
        y.value(),
        z.value(),
        a.grad().unwrap(),
        b.grad().unwrap(),
        bias.grad().unwrap(),
        batch.grad().unwrap(),
        per.grad().unwrap(),
    ]
    .iter()
    .map(|t| t.to_vec().iter().map(|x| x.to_bits()).collect())
    .collect()
}

#[test]
fn results_are_identical_at_any_thread_count_and_the_setting_sticks() {
    let one = workload(1);
    for threads in [2, 3, 1, 2] {
        assert!(workload(threads) == one, "{threads} threads differ from 1");
    }
}

#[test]
#[should_panic(expected = "set_num_threads: the thread count must be at least 1, got 0")]
fn set_num_threads_panics_on_zero() {
    set_num_threads(0);
}

/// Run by `the_environment_variable_sets_the_initial_count` in a child process.
#[test]
#[ignore = "run in a child process with the environment variable set"]
fn child_reads_the_environment() {
    let want: usize = std::env::var("EXPECTED_THREADS").unwrap().parse().unwrap();
    assert_eq!(num_threads(), want);
}

#[test]
fn the_environment_variable_sets_the_initial_count() {
    let default = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (value, want) in [("3", 3), ("1", 1), ("0", default), ("lots", default)] {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_reads_the_environment", "--ignored"])
            .env(NUM_THREADS_ENV, value)
            .env("EXPECTED_THREADS", want.to_string())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{NUM_THREADS_ENV}={value}: {}",
            String::from_utf8_lossy(&status.stdout)
        );
        // The child really ran the test (a filter that matched nothing would pass too).
        assert!(String::from_utf8_lossy(&status.stdout).contains("1 passed"));
    }
}
