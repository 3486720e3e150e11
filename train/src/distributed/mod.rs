//! Data-parallel training, PyTorch's `DistributedDataParallel`: the same model on every
//! worker, each on its own shard of every batch, gradients averaged, every worker taking
//! the same step — and the result that of one process training on the whole batch.
//!
//! - [`Collective`] is the interface (all-reduce, broadcast, barrier), with two backends:
//!   [`ThreadGroup`] / [`ThreadComm`], workers as threads of one process (the cores of one
//!   machine, nothing to install), and `MpiComm` (cargo feature `mpi`), ranks as processes
//!   started by `mpirun` on one machine or many, through the system's Open MPI.
//! - [`DistributedDataParallel`] wraps a model for a hand-written loop: rank 0's
//!   parameters and buffers reach every rank when it is built (after a check that every
//!   rank holds the same model), [`sync_buffers`](DistributedDataParallel::sync_buffers)
//!   before each forward, [`average_gradients`](DistributedDataParallel::average_gradients)
//!   after each backward.
//! - [`FitOptions::distributed`](crate::FitOptions::distributed) does all of it inside
//!   [`fit`](crate::fit), with the batches sharded by rank
//!   ([`DataLoader::shard`](ferrograd_data::dataset::DataLoader::shard)).
//!
//! ```
//! use ferrograd::data::synthetic::make_moons;
//! use ferrograd::nn::{Linear, ModuleExt, ReLU, Sequential, init, loss::CrossEntropy};
//! use ferrograd::optim::{Optimizer, Sgd};
//! use ferrograd::train::distributed::{Collective, ThreadGroup};
//! use ferrograd::train::{FitOptions, fit};
//!
//! let data = make_moons(64, 0.1, 0);
//! // The same program on every worker; `comm` says which one it is.
//! let train = |comm: Option<ferrograd::train::distributed::ThreadComm>, batch_size| {
//!     let mut rng = init::rng(0);
//!     let model = Sequential::<f32>::new()
//!         .add(Linear::new(2, 8, &mut rng))
//!         .add(ReLU)
//!         .add(Linear::new(8, 2, &mut rng));
//!     let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.5));
//!     let mut options = FitOptions::new().epochs(3).batch_size(batch_size);
//!     if let Some(comm) = comm {
//!         options = options.distributed(comm);
//!     }
//!     fit(&model, CrossEntropy::new(), &mut opt, &data, options, &mut []).unwrap();
//!     model.parameters()[0].value()
//! };
//! // Two workers on batches of 8 each take the steps of one process on batches of 16.
//! let workers = ThreadGroup::new(2).run(|comm| train(Some(comm), 8)).unwrap();
//! let single = train(None, 16);
//! assert_eq!(workers[0], workers[1]); // every rank holds the same weights, bit for bit
//! let gap = (&workers[0] - &single).to_vec().iter().fold(0f32, |m, d| m.max(d.abs()));
//! assert!(gap < 1e-5, "{gap}");
//! ```

mod collective;
mod ddp;
#[cfg(feature = "mpi")]
mod mpi;
mod threads;

#[cfg(feature = "mpi")]
pub use self::mpi::MpiComm;
pub use collective::{Collective, CommError, Values};
pub use ddp::{DEFAULT_BUCKET_BYTES, DistributedDataParallel};
pub use threads::{ThreadComm, ThreadGroup, WorkerPanicked};
