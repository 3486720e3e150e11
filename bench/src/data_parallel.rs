//! Data-parallel training throughput (issue 15): images per second of W2's MNIST CNN
//! trained by W workers, each on its own batch of `--batch` images (PyTorch DDP's weak
//! scaling), as threads of this process or as MPI ranks, with the time of the gradient
//! all-reduce alone.
//!
//! ```text
//! ferrograd-bench ddp [--workers W] [--steps N] [--batch B] [--threads T]
//! mpirun -np W ferrograd-bench ddp --mpi [--steps N] [--batch B]      (feature `mpi`)
//! ```
//!
//! Prints one line from rank 0:
//!
//! ```text
//! bench impl=ferrograd workload=ddp_w2 backend=threads workers=2 threads=1 batch=32 unit=images/s median=… step_ms=… allreduce_ms=… grad_mb=…
//! ```
//!
//! `step_ms` is the median step (forward, backward, gradient averaging, Adam), `allreduce_ms`
//! the median of 30 all-reduces of the whole gradient started together after a barrier
//! (the transport's cost, without waiting for a slower rank), `median` the images per
//! second of all workers together: `workers · batch / step`.

use std::time::Instant;

use ferrograd_autograd::Graph;
use ferrograd_nn::loss::{CrossEntropy, cross_entropy};
use ferrograd_nn::{Module, ModuleExt};
use ferrograd_optim::{Adam, Optimizer};
use ferrograd_train::distributed::{Collective, DistributedDataParallel, ThreadGroup, Values};

use crate::measure::summary;
use crate::workloads::{mnist_cnn, random_batch};

/// What `ferrograd-bench ddp` measures.
#[derive(Debug, PartialEq)]
pub struct DdpOptions {
    /// Thread workers (ignored under MPI, where `mpirun -np` sets it).
    pub workers: usize,
    /// Timed steps, after 3 untimed ones.
    pub steps: usize,
    /// Images per worker per step.
    pub batch: usize,
    /// Kernel threads of the process.
    pub threads: usize,
    /// Ranks are MPI processes.
    pub mpi: bool,
}

/// Runs the measurement and returns rank 0's output line (`None` on the other ranks).
pub fn run(o: &DdpOptions) -> Result<Option<String>, String> {
    ferrograd_autograd::set_num_threads(o.threads);
    if o.mpi {
        return run_mpi(o);
    }
    let lines = ThreadGroup::new(o.workers)
        .run(|comm| measure(&comm, o, "threads"))
        .map_err(|e| e.to_string())?;
    lines.into_iter().next().expect("rank 0")
}

#[cfg(feature = "mpi")]
fn run_mpi(o: &DdpOptions) -> Result<Option<String>, String> {
    let comm = ferrograd_train::distributed::MpiComm::init().map_err(|e| e.to_string())?;
    measure(&comm, o, "mpi")
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_: &DdpOptions) -> Result<Option<String>, String> {
    Err("--mpi needs a build with `--features mpi`".into())
}

/// One worker's steps; rank 0 summarises.
fn measure(
    comm: &impl Collective,
    o: &DdpOptions,
    backend: &str,
) -> Result<Option<String>, String> {
    let (rank, workers) = (comm.rank(), comm.world_size());
    let model = mnist_cnn();
    let mut opt = Optimizer::new(model.parameters(), Adam::new(1e-3));
    let ddp = DistributedDataParallel::new(&model, comm).map_err(|e| e.to_string())?;
    let (x, labels) = random_batch(&[o.batch, 1, 28, 28], 1 + rank as u64);
    let g = Graph::new();
    let mut steps = Vec::with_capacity(o.steps);
    for s in 0..3 + o.steps {
        let start = Instant::now();
        g.clear();
        let logits = model.forward(g.constant(x.clone()));
        cross_entropy(logits, &labels, &CrossEntropy::new()).backward();
        ddp.average_gradients().map_err(|e| e.to_string())?;
        opt.step();
        opt.zero_grad();
        if s >= 3 {
            steps.push(start.elapsed().as_secs_f64());
        }
    }
    let numel = model.num_params();
    let mut grads = vec![0.5f32; numel];
    let mut reduces = Vec::with_capacity(30);
    for _ in 0..30 {
        comm.barrier().map_err(|e| e.to_string())?;
        let start = Instant::now();
        comm.all_reduce_sum(Values::from(&mut grads[..]))
            .map_err(|e| e.to_string())?;
        reduces.push(start.elapsed().as_secs_f64());
    }
    if rank != 0 {
        return Ok(None);
    }
    let step = summary(&steps).expect("steps").0;
    let reduce = summary(&reduces).expect("all-reduces").0;
    Ok(Some(format!(
        "bench impl=ferrograd workload=ddp_w2 backend={backend} workers={workers} threads={} batch={} unit=images/s median={:.1} step_ms={:.3} allreduce_ms={:.3} grad_mb={:.2}",
        ferrograd_autograd::num_threads(),
        o.batch,
        (workers * o.batch) as f64 / step,
        step * 1e3,
        reduce * 1e3,
        (numel * 4) as f64 / 1e6,
    )))
}
