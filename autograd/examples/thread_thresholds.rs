//! Measures where splitting work across two threads starts to pay, the figures behind
//! `PAR_MIN_MACS` (ops/matmul.rs) and `PAR_MIN_ELEMENTS` (kernels.rs).
//!
//! ```text
//! cargo run --release -p ferrograd-autograd --example thread_thresholds
//! ```
//!
//! For each size it times the single-threaded kernel and the same kernel split in two halves
//! on a two-thread pool, as the library splits them (medians of many runs), and prints the
//! ratios of the minima and of the medians (µs): below 1 the split pays.

use std::time::Instant;

use ferrograd_autograd::ndarray::linalg::general_mat_mul;
use ferrograd_autograd::ndarray::{Array2, Axis};
use ferrograd_autograd::set_num_threads;
use ferrograd_autograd::threads::for_each_part;
use rayon::prelude::*;

/// The minimum and the median of `reps` timings of `f`, in microseconds, after a warm-up.
/// On a shared machine the minimum is the better estimate of what an idle second core gives.
fn time_us(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..3 {
        f();
    }
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[0], t[reps / 2])
}

/// `one` and `two` as "min/median" and the ratios of both.
fn compare(one: (f64, f64), two: (f64, f64)) -> String {
    format!(
        "one={:.1}/{:.1} two={:.1}/{:.1} ratio min={:.2} median={:.2}",
        one.0,
        one.1,
        two.0,
        two.1,
        two.0 / one.0,
        two.1 / one.1
    )
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool");
    set_num_threads(2);
    println!(
        "# GEMM m = n = k, f32: 1 thread vs row halves on 2, as the library hands them off (µs, min/median)"
    );
    for s in [32usize, 48, 64, 96, 128, 192, 256, 384] {
        let a = Array2::from_shape_fn((s, s), |(i, j)| ((i * s + j) as f32 * 0.37).sin());
        let b = Array2::from_shape_fn((s, s), |(i, j)| ((i * s + j) as f32 * 0.91).cos());
        let mut c = Array2::<f32>::zeros((s, s));
        let reps = (20_000_000 / (s * s * s)).clamp(21, 2001);
        let one = time_us(reps, || {
            general_mat_mul(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut())
        });
        let half = (s / 2).next_multiple_of(16);
        let two = time_us(reps, || {
            let parts: Vec<_> = c
                .axis_chunks_iter_mut(Axis(0), half)
                .zip(a.axis_chunks_iter(Axis(0), half))
                .collect();
            for_each_part(parts, |(mut c, a)| {
                general_mat_mul(1.0, &a, &b.view(), 0.0, &mut c);
            });
        });
        println!("gemm {s:4}^3 macs={:9} {}", s * s * s, compare(one, two));
    }
    println!(
        "# element-wise f32, add and exp: 1 thread vs parts of >= 16384 on 2 (µs, min/median)"
    );
    for n in [
        1usize << 12,
        1 << 14,
        1 << 15,
        1 << 16,
        1 << 17,
        1 << 18,
        1 << 20,
    ] {
        let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..n).map(|i| (i as f32 * 0.91).cos()).collect();
        elementwise("add", &x, &y, &pool, |p, q| p + q);
        elementwise("exp", &x, &y, &pool, |p, _| p.exp());
    }
}

/// Times `f` over `x` and `y` on one thread and in parts on `pool` (as `par_map2` runs it).
fn elementwise(
    name: &str,
    x: &[f32],
    y: &[f32],
    pool: &rayon::ThreadPool,
    f: impl Fn(f32, f32) -> f32 + Sync,
) {
    let n = x.len();
    let reps = (50_000_000 / n).clamp(21, 2001);
    let one = time_us(reps, || {
        let v: Vec<f32> = x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect();
        std::hint::black_box(v);
    });
    let two = time_us(reps, || {
        let mut v = Vec::new();
        pool.install(|| {
            x.par_iter()
                .zip(y)
                .with_min_len(1 << 14)
                .map(|(&p, &q)| f(p, q))
                .collect_into_vec(&mut v)
        });
        std::hint::black_box(v);
    });
    println!("{name} n={n:8} {}", compare(one, two));
}
