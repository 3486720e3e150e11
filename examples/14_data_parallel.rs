//! # 14 · Data-parallel training on several workers
//!
//! What it teaches: PyTorch's `DistributedDataParallel` in ferrograd. The CNN of example 04
//! trains on W workers at once: every worker holds the same model, takes its own shard of
//! every batch (a W-th of it), and after backward the workers average their gradients, so
//! every worker takes the same step — the step one process would take on the whole batch.
//! `fit` does all of it with one option, `FitOptions::distributed(comm)`; the program is the
//! same whether the workers are threads of this process or MPI processes, possibly on other
//! machines: it is written over `impl Collective`, and only `main` picks the backend.
//!
//! - Threads (nothing to install): `cargo run --release --example 14_data_parallel
//!   [-- --workers 2]`.
//! - MPI (Open MPI installed, see the README): `mpirun -np 2 cargo run --release --features
//!   mpi --example 14_data_parallel` — each of the 2 processes is a worker (add
//!   `--allow-run-as-root` as root; `--oversubscribe` for more ranks than cores).
//!
//! The batch of 32 is split over the workers (16 each on 2 workers), so the training is
//! that of example 04: the same steps, up to the order of the floating-point additions
//! when the gradients are averaged, and every worker holds the same weights bit for bit.
//! (Measured on this CNN against one process: weights within 9e-7 after one Adam step,
//! 2.2e-6 after 200; with SGD 3e-8. The tests check it.) One difference is by design, as
//! in PyTorch's `DistributedSampler`: when the training images do not split evenly, the
//! last rank repeats the epoch's first image so that every rank runs the same batches —
//! with the bundled digits' 1,293 training images, one image counts twice per epoch on 2
//! workers. Only rank 0 prints and writes files. Each worker's kernels get a W-th of the
//! cores (set `FERROGRAD_NUM_THREADS` to choose).
//!
//! Expect the accuracy of example 04. On the bundled digits with the default seed, 91.1%
//! on 2 workers against 90.6% on one (the repeated image, then 205 Adam steps that
//! amplify any difference). On the MNIST test set split 80/20 (7,200 training images, no
//! padding), 97.05% on 2 workers, thread or MPI alike, against 97.20% on one, as example
//! 04; 7.6 s of training on 2 workers of one kernel thread each against 10.9 s for one
//! worker on both cores, on this project's 2-core machine. Data parallelism pays most
//! across machines, where each worker brings its own cores (see "Data-parallel training"
//! in the README for the measured images/s and the estimate for 8–64 machines).
//!
//! Run: `cargo run --release --example 14_data_parallel [-- --workers W] [--mnist DIR]
//! [--seed N] [--fast]`. Writes `target/examples/14_data_parallel/curves.svg`.

#[path = "04_digits_cnn.rs"]
#[allow(dead_code)]
pub mod ex04;

use std::time::Instant;

use ex04::common::{self, Report, Run};
use ferrograd::prelude::*;
use ferrograd::train::distributed::{Collective, ThreadGroup};

/// The batch of example 04, split over the workers.
const BATCH: usize = 32;

/// Trains example 04's CNN as one of `comm.world_size()` workers; returns rank 0's report
/// (`first_loss`, `final_loss`, `val_accuracy`, `test_accuracy`, `train_seconds`,
/// `images_per_second`, `weight_sum`) and an empty one on the other ranks.
pub fn worker(run: &Run, digits: &common::Digits, comm: impl Collective + 'static) -> Report {
    let (rank, world) = (comm.rank(), comm.world_size());
    let main = rank == 0;
    let say = |text: String| {
        if main {
            run.say(text);
        }
    };
    let model = ex04::cnn(digits.side, run.seed);
    let epochs = run.pick(5, 3);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(1e-3));
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(BATCH / world)
        .shuffle(Some(run.seed))
        .metric(metrics::Accuracy::new())
        .validation(Validation::Split(0.1))
        .verbose(run.verbose)
        .distributed(comm);
    say(format!(
        "{world} worker(s), {} images each per step (a step sees {BATCH}), {} kernel thread(s) each",
        BATCH / world,
        num_threads()
    ));
    let started = Instant::now();
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &digits.train,
        options,
        &mut [],
    )
    .unwrap_or_else(|e| panic!("rank {rank}: training failed: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    let mut report = Report::default();
    if !main {
        return report;
    }
    let curves = run.path("curves.svg");
    history.plot(&curves).unwrap_or_else(|e| panic!("{e}"));
    let test = common::accuracy(&model, &digits.test);
    let loss = history.get("loss");
    report.set("first_loss", loss[0]);
    report.set("final_loss", loss[epochs - 1]);
    report.set("val_accuracy", history.get("val_accuracy")[epochs - 1]);
    report.set("test_accuracy", test);
    report.set("train_seconds", seconds);
    let fitted = (digits.train.len() as f64 * 0.9).floor();
    report.set("images_per_second", epochs as f64 * fitted / seconds);
    let weight_sum: f64 = model
        .parameters()
        .iter()
        .flat_map(|p| p.value().to_vec())
        .map(f64::from)
        .sum();
    report.set("weight_sum", weight_sum);
    say(format!(
        "\nseed {}: training loss {:.4} -> {:.4}, validation accuracy {:.2}%; test accuracy {:.2}% \
         on {} images\ntraining took {seconds:.1} s for {epochs} epochs ({:.0} images/s, \
         validation included) on {world} worker(s); curves in {}",
        run.seed,
        report.get("first_loss"),
        report.get("final_loss"),
        100.0 * report.get("val_accuracy"),
        100.0 * test,
        digits.test.len(),
        report.get("images_per_second"),
        curves.display()
    ));
    report
}

/// Trains on `workers` threads of this process; returns rank 0's report.
pub fn run_threads(run: &Run, workers: usize) -> Report {
    let digits = common::digits(run, 200);
    run.say(&digits.source);
    let reports = ThreadGroup::new(workers)
        .run(|comm| worker(run, &digits, comm))
        .unwrap_or_else(|e| panic!("{e}"));
    reports.into_iter().next().expect("rank 0")
}

/// Gives each of `workers` workers on this machine its share of the cores, unless
/// `FERROGRAD_NUM_THREADS` says otherwise.
fn share_cores(workers: usize) {
    if std::env::var_os(ferrograd::NUM_THREADS_ENV).is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        set_num_threads((cores / workers).max(1));
    }
}

/// The number of processes `mpirun` started, when this process is one of them.
fn mpi_world_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

fn main() {
    let run = Run::from_args("14_data_parallel");
    let args: Vec<String> = std::env::args().collect();
    let workers = args.iter().position(|a| a == "--workers").map_or(2, |i| {
        args.get(i + 1)
            .and_then(|w| w.parse().ok())
            .filter(|&w| w > 0)
            .unwrap_or_else(|| {
                eprintln!("--workers takes a positive integer");
                std::process::exit(2)
            })
    });
    let world = mpi_world_size().unwrap_or(workers);
    if !BATCH.is_multiple_of(world) {
        eprintln!(
            "the batch of {BATCH} must split evenly over the workers: use 1, 2, 4, 8, 16 or 32"
        );
        std::process::exit(2);
    }
    if mpi_world_size().is_some() {
        run_mpi(&run);
    } else {
        share_cores(workers);
        run_threads(&run, workers);
    }
}

/// One MPI rank: this process is the worker of rank `comm.rank()`.
#[cfg(feature = "mpi")]
fn run_mpi(run: &Run) {
    use ferrograd::train::distributed::MpiComm;
    let comm = MpiComm::init().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let local = std::env::var("OMPI_COMM_WORLD_LOCAL_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(comm.world_size());
    share_cores(local);
    let mut run = run.clone();
    run.verbose &= comm.rank() == 0;
    let digits = common::digits(&run, 200);
    run.say(&digits.source);
    worker(&run, &digits, comm.clone());
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_: &Run) {
    eprintln!(
        "started by mpirun, but built without MPI: run `mpirun -np 2 cargo run --release --features mpi --example 14_data_parallel`"
    );
    std::process::exit(2);
}
