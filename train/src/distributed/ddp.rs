//! [`DistributedDataParallel`]: one model replica per rank, kept identical — rank 0's
//! state broadcast at the start, buffers before each forward, gradients averaged in
//! buckets after each backward.

use ferrograd_autograd::{Float, Param, Tensor};
use ferrograd_nn::{Module, Slot};

use super::collective::{Collective, CommError, Values};

/// The default gradient bucket size, 25 MiB, PyTorch's `bucket_cap_mb`.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// A model replicated over the ranks of a [`Collective`], PyTorch's
/// `DistributedDataParallel` for a hand-written loop; [`fit`](crate::fit) uses it through
/// [`FitOptions::distributed`](crate::FitOptions::distributed).
///
/// Each rank builds the same model (the same layers; the initial weights need not agree)
/// and wraps it. [`new`](DistributedDataParallel::new) checks that every rank's model has
/// the same parameters and buffers — names, shapes and which are trainable — and gives
/// every rank rank 0's values. Then each step:
///
/// 1. [`sync_buffers`](DistributedDataParallel::sync_buffers): rank 0's buffers (BatchNorm's
///    running statistics) reach every rank, as PyTorch's `broadcast_buffers=True` does
///    before each forward. Each rank's BatchNorm normalises its batch with that batch's
///    own statistics (not `SyncBatchNorm`), as in PyTorch.
/// 2. Forward and backward on this rank's shard of the batch.
/// 3. [`average_gradients`](DistributedDataParallel::average_gradients): every trainable
///    parameter's gradient becomes the mean over the ranks, summed in rank order (so
///    bit-identical on every rank), in buckets of about
///    [`DEFAULT_BUCKET_BYTES`], the last parameters first, as backward produces them.
/// 4. The optimizer's step, which is now the same on every rank.
///
/// With equal shards, the mean of the ranks' mean gradients is the mean gradient of the
/// whole batch: training on W ranks with batches of `b` takes the steps of one process on
/// batches of `W·b`, up to the order of the additions (about 1e-6 relative per step in
/// f32).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Linear, Module, ModuleExt, init};
/// use ferrograd::optim::{Optimizer, Sgd};
/// use ferrograd::train::distributed::{Collective, DistributedDataParallel, ThreadGroup};
///
/// let weights = ThreadGroup::new(2)
///     .run(|comm| {
///         // Different seeds: the broadcast makes the replicas equal.
///         let model = Linear::<f32>::new(2, 1, &mut init::rng(comm.rank() as u64));
///         let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
///         let ddp = DistributedDataParallel::new(&model, &comm).unwrap();
///         for _ in 0..3 {
///             // This rank's shard of the batch.
///             let shard: Vec<f32> = (0..8).map(|i| (2 * i + ddp.rank()) as f32 / 16.0).collect();
///             ddp.sync_buffers().unwrap();
///             let g = Graph::new();
///             let out = model.forward(g.constant(Tensor::from_vec(shard, &[4, 2])));
///             (out * out).mean().backward();
///             ddp.average_gradients().unwrap();
///             opt.step();
///             opt.zero_grad();
///         }
///         model.weight().value()
///     })
///     .unwrap();
/// assert_eq!(weights[0], weights[1]);
/// ```
pub struct DistributedDataParallel<T: Float, C: Collective> {
    comm: C,
    params: Vec<(String, Param<T>)>,
    buffers: Vec<(String, Param<T>)>,
    bucket_bytes: usize,
}

impl<T: Float, C: Collective> std::fmt::Debug for DistributedDataParallel<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedDataParallel")
            .field("rank", &self.comm.rank())
            .field("world_size", &self.comm.world_size())
            .field("params", &self.params.len())
            .field("buffers", &self.buffers.len())
            .field("bucket_bytes", &self.bucket_bytes)
            .finish()
    }
}

impl<T: Float, C: Collective> DistributedDataParallel<T, C> {
    /// Wraps `model` on this rank: checks that every rank's model has the same parameters
    /// and buffers, then sets them all to rank 0's values. Every rank must call it.
    ///
    /// # Errors
    /// [`CommError::Mismatch`] on every rank when a rank's model differs from rank 0's,
    /// naming the rank and the first difference (a missing parameter, another shape);
    /// any other [`CommError`] of the broadcast.
    pub fn new<M: Module<T> + ?Sized>(model: &M, comm: C) -> Result<Self, CommError> {
        let mut params = Vec::new();
        let mut buffers = Vec::new();
        model.visit(&mut |name, slot| match slot {
            Slot::Param(p) => params.push((name.to_string(), p.clone())),
            Slot::Buffer(b) => buffers.push((name.to_string(), b.clone())),
            Slot::Mode(_) | Slot::Rng(_) => {}
        });
        let ddp = DistributedDataParallel {
            comm,
            params,
            buffers,
            bucket_bytes: DEFAULT_BUCKET_BYTES,
        };
        ddp.check_same_model()?;
        let all: Vec<&Param<T>> = ddp
            .params
            .iter()
            .chain(&ddp.buffers)
            .map(|(_, p)| p)
            .collect();
        ddp.broadcast_values(&all)?;
        Ok(ddp)
    }

    /// Sets the gradient bucket size in bytes (default [`DEFAULT_BUCKET_BYTES`]): smaller
    /// buckets mean more, smaller all-reduces. Every rank must use the same size.
    ///
    /// # Panics
    /// If `bytes` is 0.
    pub fn bucket_bytes(mut self, bytes: usize) -> Self {
        assert!(
            bytes > 0,
            "DistributedDataParallel: bucket_bytes must be positive"
        );
        self.bucket_bytes = bytes;
        self
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    /// True on rank 0, the rank that logs and writes checkpoints.
    pub fn is_main(&self) -> bool {
        self.rank() == 0
    }

    /// The communicator.
    pub fn comm(&self) -> &C {
        &self.comm
    }

    /// Gives every rank rank 0's buffers (BatchNorm's running statistics); call before each
    /// forward in training. Nothing moves for a model without buffers or a single rank.
    ///
    /// # Errors
    /// A [`CommError`] of the broadcast.
    pub fn sync_buffers(&self) -> Result<(), CommError> {
        let buffers: Vec<&Param<T>> = self.buffers.iter().map(|(_, b)| b).collect();
        self.broadcast_values(&buffers)
    }

    /// Replaces every trainable parameter's gradient by its mean over the ranks; call after
    /// backward, before the optimizer's step. A rank where a parameter got no gradient
    /// counts it as zeros; a parameter that got none on any rank keeps none (the optimizer
    /// skips it, as in one process).
    ///
    /// # Errors
    /// A [`CommError`] of the all-reduce: [`CommError::Mismatch`] if the ranks disagree on
    /// which parameters are trainable.
    pub fn average_gradients(&self) -> Result<(), CommError> {
        if self.world_size() == 1 {
            return Ok(());
        }
        let trainable: Vec<&Param<T>> = self
            .params
            .iter()
            .rev()
            .map(|(_, p)| p)
            .filter(|p| p.requires_grad())
            .collect();
        let per_bucket = (self.bucket_bytes / std::mem::size_of::<T>()).max(1);
        let world = T::from_usize(self.world_size());
        let mut start = 0;
        while start < trainable.len() {
            let mut end = start;
            let mut size = 0;
            while end < trainable.len()
                && (end == start || size + trainable[end].numel() <= per_bucket)
            {
                size += trainable[end].numel();
                end += 1;
            }
            let bucket = &trainable[start..end];
            // The gradients, then one presence count per parameter.
            let mut flat: Vec<T> = Vec::with_capacity(size + bucket.len());
            let mut present = Vec::with_capacity(bucket.len());
            for p in bucket {
                match p.grad() {
                    Some(g) => {
                        flat.extend(g.view().iter().copied());
                        present.push(T::one());
                    }
                    None => {
                        flat.extend(std::iter::repeat_n(T::zero(), p.numel()));
                        present.push(T::zero());
                    }
                }
            }
            flat.extend(present);
            self.comm.all_reduce_sum(Values::of(&mut flat))?;
            let (grads, present) = flat.split_at(size);
            let mut offset = 0;
            for (p, count) in bucket.iter().zip(present) {
                let n = p.numel();
                if *count > T::zero() {
                    let mean = grads[offset..offset + n]
                        .iter()
                        .map(|&v| v / world)
                        .collect();
                    p.set_grad(Some(Tensor::from_vec(mean, &p.shape())));
                }
                offset += n;
            }
            start = end;
        }
        Ok(())
    }

    /// Every rank compares its parameter and buffer list with rank 0's.
    fn check_same_model(&self) -> Result<(), CommError> {
        let describe = |kind: &str, (name, p): &(String, Param<T>)| {
            format!(
                "{kind} `{name}` of shape {:?}{}",
                p.shape(),
                if kind == "parameter" && !p.requires_grad() {
                    " (frozen)"
                } else {
                    ""
                }
            )
        };
        let mine: Vec<String> = self
            .params
            .iter()
            .map(|p| describe("parameter", p))
            .chain(self.buffers.iter().map(|b| describe("buffer", b)))
            .chain(std::iter::once(format!("dtype {}", T::DTYPE)))
            .collect();
        let all = self.comm.all_gather_bytes(mine.join("\n").as_bytes())?;
        let lines = |bytes: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(str::to_string)
                .collect()
        };
        let reference = lines(&all[0]);
        let mut differences = Vec::new();
        for (rank, bytes) in all.iter().enumerate().skip(1) {
            let theirs = lines(bytes);
            if theirs == reference {
                continue;
            }
            let at = reference.iter().zip(&theirs).position(|(a, b)| a != b);
            let detail = match at {
                Some(i) => format!("rank 0 has {}, rank {rank} has {}", reference[i], theirs[i]),
                None if theirs.len() > reference.len() => {
                    format!("rank {rank} has an extra {}", theirs[reference.len()])
                }
                None => format!("rank {rank} lacks {}", reference[theirs.len()]),
            };
            differences.push(format!(
                "rank {rank}'s model differs from rank 0's: {detail}"
            ));
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(CommError::Mismatch {
                detail: differences.join("; "),
            })
        }
    }

    /// Sets `params` on every rank to rank 0's values, in one broadcast.
    fn broadcast_values(&self, params: &[&Param<T>]) -> Result<(), CommError> {
        if params.is_empty() || self.world_size() == 1 {
            return Ok(());
        }
        let mut flat: Vec<T> = Vec::with_capacity(params.iter().map(|p| p.numel()).sum());
        for p in params {
            flat.extend(p.value().view().iter().copied());
        }
        self.comm.broadcast(Values::of(&mut flat), 0)?;
        if self.rank() != 0 {
            let mut offset = 0;
            for p in params {
                let n = p.numel();
                p.set_value(Tensor::from_vec(
                    flat[offset..offset + n].to_vec(),
                    &p.shape(),
                ));
                offset += n;
            }
        }
        Ok(())
    }
}

/// A reference or a box of a communicator is one: `DistributedDataParallel::new(&model,
/// &comm)` borrows it, `FitOptions::distributed` boxes it.
macro_rules! forward_collective {
    ($($ty:ty),*) => {$(
        impl<C: Collective + ?Sized> Collective for $ty {
            fn rank(&self) -> usize {
                (**self).rank()
            }
            fn world_size(&self) -> usize {
                (**self).world_size()
            }
            fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError> {
                (**self).all_reduce_sum(values)
            }
            fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError> {
                (**self).broadcast(values, root)
            }
            fn all_gather_bytes(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, CommError> {
                (**self).all_gather_bytes(bytes)
            }
            fn barrier(&self) -> Result<(), CommError> {
                (**self).barrier()
            }
        }
    )*};
}

forward_collective!(&C, Box<C>);
