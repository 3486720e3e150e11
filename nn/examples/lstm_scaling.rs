//! How an LSTM's training step grows with the sequence length: time of forward + backward
//! and peak resident memory, for batch 4, input 8, hidden 16, at each `T` given on the
//! command line (default 100 1000). Each `T` runs in a fresh child process so that its peak
//! memory is its own.
//!
//! ```text
//! cargo run --release -p ferrograd-nn --example lstm_scaling -- 100 1000 10000
//! ```

use std::time::Instant;

use ferrograd_autograd::{Graph, Tensor};
use ferrograd_nn::{Lstm, Module, ModuleExt, init};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn run(steps: usize) {
    let mut rng = init::rng(0);
    let lstm = Lstm::<f32>::new(8, 16, 1, &mut rng);
    let x = Tensor::rand_uniform(&[4, steps, 8], -1.0, 1.0, &mut rng);
    let g = Graph::new();
    let mut times = Vec::new();
    for _ in 0..3 {
        g.clear();
        lstm.zero_grad();
        let start = Instant::now();
        let h = lstm.forward(g.constant(x.clone()));
        h.square().sum().backward();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "T = {steps:>6}: step {:>9.4} s (median of 3), peak RSS {:>8.1} MiB",
        times[1],
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(t) = args.iter().find_map(|a| a.strip_prefix("--child=")) {
        run(t.parse().expect("a sequence length"));
        return;
    }
    let lengths: Vec<usize> = if args.is_empty() {
        vec![100, 1000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("sequence lengths"))
            .collect()
    };
    let exe = std::env::current_exe().expect("this program");
    for t in lengths {
        let status = std::process::Command::new(&exe)
            .arg(format!("--child={t}"))
            .status()
            .expect("a child process");
        assert!(status.success(), "T = {t} failed: {status}");
    }
}
