//! Datasets and the batch loader: the `Dataset` trait, an in-memory `TensorDataset`,
//! `map` transforms, and `DataLoader` (batch size, seeded shuffling reshuffled every epoch,
//! `drop_last`, collation, and an optional background thread preparing the next batch).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use ferrograd_autograd::ndarray::Axis;
use ferrograd_autograd::{Float, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// The targets of a batch (or a whole dataset): class labels or values.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets<T: Float = f32> {
    /// One class index per sample.
    Classes(Vec<usize>),
    /// A target tensor whose first dimension is the sample.
    Values(Tensor<T>),
}

impl<T: Float> Targets<T> {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.shape().first().copied().unwrap_or(0),
        }
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        match self {
            Targets::Classes(c) => Targets::Classes(indices.iter().map(|&i| c[i]).collect()),
            Targets::Values(v) => Targets::Values(select_rows(v, indices)),
        }
    }

    /// The class labels.
    ///
    /// # Panics
    /// If these are values, not classes.
    pub fn classes(&self) -> &[usize] {
        match self {
            Targets::Classes(c) => c,
            Targets::Values(_) => panic!("Targets::classes: the targets are values, not classes"),
        }
    }

    /// The target values.
    ///
    /// # Panics
    /// If these are classes, not values.
    pub fn values(&self) -> &Tensor<T> {
        match self {
            Targets::Values(v) => v,
            Targets::Classes(_) => panic!("Targets::values: the targets are classes, not values"),
        }
    }
}

/// The rows `indices` of `t` along its first dimension.
fn select_rows<T: Float>(t: &Tensor<T>, indices: &[usize]) -> Tensor<T> {
    Tensor::from_array(t.view().select(Axis(0), indices))
}

/// A batch: one or more inputs, each with the samples along its first dimension, and one
/// or more targets, one per sample each. Most datasets have one of each ([`Batch::new`],
/// read with [`x`](Batch::x) and [`y`](Batch::y)); a model of several inputs reads them all
/// from [`inputs`](Batch::inputs) (see `Module::forward_inputs`), and a loss of several
/// targets (distillation: the labels and a teacher's logits) from
/// [`targets`](Batch::targets).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<T: Float = f32> {
    /// The inputs, each `[batch, ..sample shape]`; at least one.
    pub inputs: Vec<Tensor<T>>,
    /// The targets, each with one entry per sample; at least one.
    pub targets: Vec<Targets<T>>,
}

impl<T: Float> Batch<T> {
    /// A batch of one input and one target.
    pub fn new(x: Tensor<T>, y: Targets<T>) -> Self {
        Batch {
            inputs: vec![x],
            targets: vec![y],
        }
    }

    /// The first (often the only) input.
    pub fn x(&self) -> &Tensor<T> {
        &self.inputs[0]
    }

    /// The first (often the only) target.
    pub fn y(&self) -> &Targets<T> {
        &self.targets[0]
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.y().len()
    }

    /// True if the batch has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A collection of samples that can be read by index, as `torch.utils.data.Dataset`.
///
/// Implement `len` and `get`; `batch` has a default that stacks `get`'s samples, which a
/// dataset held in one tensor overrides with a single gather.
pub trait Dataset<T: Float = f32>: Send + Sync {
    /// The number of samples.
    fn len(&self) -> usize;

    /// Sample `index`: its input and its target (a [`Batch`] of one).
    fn get(&self, index: usize) -> Batch<T>;

    /// True if there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, collated into one batch.
    ///
    /// # Panics
    /// If `indices` is empty or the samples differ in shape or target kind.
    fn batch(&self, indices: &[usize]) -> Batch<T> {
        let samples: Vec<Batch<T>> = indices.iter().map(|&i| self.get(i)).collect();
        collate(&samples)
    }
}

/// Stacks single-sample batches into one, input by input and target by target.
///
/// # Panics
/// If `samples` is empty or they differ in their number of inputs or targets, in shape or
/// in target kind.
pub fn collate<T: Float>(samples: &[Batch<T>]) -> Batch<T> {
    assert!(!samples.is_empty(), "collate: no samples");
    let first = &samples[0];
    assert!(
        samples
            .iter()
            .all(|s| s.inputs.len() == first.inputs.len() && s.targets.len() == first.targets.len()),
        "collate: samples differ in their number of inputs or targets"
    );
    let stack = |what: &str, parts: Vec<_>| {
        Tensor::from_array(
            ferrograd_autograd::ndarray::concatenate(Axis(0), &parts)
                .unwrap_or_else(|_| panic!("collate: {what} differ in shape")),
        )
    };
    let inputs = (0..first.inputs.len())
        .map(|i| {
            stack(
                "samples",
                samples.iter().map(|s| s.inputs[i].view()).collect(),
            )
        })
        .collect();
    let targets = (0..first.targets.len())
        .map(|i| match &first.targets[i] {
            Targets::Classes(_) => Targets::Classes(
                samples
                    .iter()
                    .flat_map(|s| s.targets[i].classes().iter().copied())
                    .collect(),
            ),
            Targets::Values(_) => Targets::Values(stack(
                "targets",
                samples
                    .iter()
                    .map(|s| s.targets[i].values().view())
                    .collect(),
            )),
        })
        .collect();
    Batch { inputs, targets }
}

/// A dataset held in memory: inputs `[N, ..]` and `N` targets; or several inputs (a model
/// of several inputs) and several targets (distillation: labels and a teacher's logits),
/// added with [`with_input`](TensorDataset::with_input) and
/// [`with_target`](TensorDataset::with_target).
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::dataset::{Dataset, Targets, TensorDataset};
/// let ds = TensorDataset::new(Tensor::<f32>::zeros(&[10, 3]), Targets::Classes(vec![0; 10]));
/// assert_eq!(ds.len(), 10);
/// assert_eq!(ds.get(4).x().shape(), &[1, 3]);
///
/// // Labels and a teacher's logits, for distillation.
/// let teacher_logits = Tensor::<f32>::zeros(&[10, 5]);
/// let ds = ds.with_target(Targets::Values(teacher_logits));
/// let batch = ds.batch(&[0, 1]);
/// assert_eq!(batch.targets[1].values().shape(), &[2, 5]);
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset<T: Float = f32> {
    inputs: Vec<Tensor<T>>,
    targets: Vec<Targets<T>>,
}

impl<T: Float> TensorDataset<T> {
    /// Pairs inputs with targets.
    ///
    /// # Panics
    /// If `x` is 0-D or the sample counts differ.
    #[track_caller]
    pub fn new(x: Tensor<T>, y: Targets<T>) -> Self {
        TensorDataset {
            inputs: Vec::new(),
            targets: vec![y],
        }
        .with_input(x)
    }

    /// Adds an input (the next argument of a model of several inputs).
    ///
    /// # Panics
    /// If `x` is 0-D or its sample count differs from the dataset's.
    #[track_caller]
    pub fn with_input(mut self, x: Tensor<T>) -> Self {
        assert!(
            x.ndim() > 0,
            "TensorDataset: inputs need a sample dimension, got shape []"
        );
        let n = self.targets[0].len();
        assert!(
            x.shape()[0] == n,
            "TensorDataset: {} inputs and {n} targets",
            x.shape()[0]
        );
        self.inputs.push(x);
        self
    }

    /// Adds a target (a teacher's logits beside the labels, for distillation).
    ///
    /// # Panics
    /// If its sample count differs from the dataset's.
    #[track_caller]
    pub fn with_target(mut self, y: Targets<T>) -> Self {
        assert!(
            y.len() == self.len(),
            "TensorDataset: {} samples and {} targets",
            self.len(),
            y.len()
        );
        self.targets.push(y);
        self
    }

    /// The samples at `indices` as a new dataset (a split's part).
    pub fn subset(&self, indices: &[usize]) -> Self {
        TensorDataset {
            inputs: self
                .inputs
                .iter()
                .map(|x| select_rows(x, indices))
                .collect(),
            targets: self.targets.iter().map(|y| y.select(indices)).collect(),
        }
    }

    /// The first (often the only) input, all samples.
    pub fn x(&self) -> &Tensor<T> {
        &self.inputs[0]
    }

    /// The first (often the only) target, all samples.
    pub fn y(&self) -> &Targets<T> {
        &self.targets[0]
    }

    /// Every input, all samples.
    pub fn inputs(&self) -> &[Tensor<T>] {
        &self.inputs
    }

    /// Every target, all samples.
    pub fn targets(&self) -> &[Targets<T>] {
        &self.targets
    }
}

impl<T: Float> Dataset<T> for TensorDataset<T> {
    fn len(&self) -> usize {
        self.targets[0].len()
    }

    fn get(&self, index: usize) -> Batch<T> {
        self.batch(&[index])
    }

    fn batch(&self, indices: &[usize]) -> Batch<T> {
        self.subset(indices).into()
    }
}

impl<T: Float> From<TensorDataset<T>> for Batch<T> {
    /// The whole dataset as one batch.
    fn from(data: TensorDataset<T>) -> Self {
        Batch {
            inputs: data.inputs,
            targets: data.targets,
        }
    }
}

/// A dataset whose samples pass through a function (augmentation, normalisation), made by
/// [`DatasetExt::map`].
pub struct Map<D, F> {
    inner: D,
    f: F,
}

impl<T: Float, D: Dataset<T>, F: Fn(Batch<T>) -> Batch<T> + Send + Sync> Dataset<T> for Map<D, F> {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn get(&self, index: usize) -> Batch<T> {
        (self.f)(self.inner.get(index))
    }
}

/// Adapters available on every dataset.
pub trait DatasetExt<T: Float>: Dataset<T> + Sized {
    /// Applies `f` to every sample as it is read.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use ferrograd::data::dataset::{Batch, Dataset, DatasetExt, Targets, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::<f32>::ones(&[4, 2]), Targets::Classes(vec![0; 4]));
    /// let doubled = ds.map(|b: Batch<f32>| Batch::new(b.x().map(|v| v * 2.0), b.y().clone()));
    /// assert_eq!(doubled.get(0).x().to_vec(), vec![2.0, 2.0]);
    /// ```
    fn map<F: Fn(Batch<T>) -> Batch<T> + Send + Sync>(self, f: F) -> Map<Self, F> {
        Map { inner: self, f }
    }
}

impl<T: Float, D: Dataset<T>> DatasetExt<T> for D {}

/// Iterates a dataset in batches, as `torch.utils.data.DataLoader`.
///
/// With `shuffle(seed)` every epoch sees a new order, drawn from `seed` and the epoch
/// number, so a run is reproducible. `iter()` starts the next epoch each time it is called;
/// `epoch(e)` gives epoch `e`'s batches directly. With `prefetch(true)` a background thread
/// collates the next batch while the caller trains on the current one.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::dataset::{DataLoader, Targets, TensorDataset};
/// let ds = TensorDataset::new(Tensor::<f32>::zeros(&[10, 3]), Targets::Classes((0..10).collect()));
/// let loader = DataLoader::new(ds, 4).shuffle(7).drop_last(true);
/// let sizes: Vec<usize> = loader.iter().map(|b| b.x().shape()[0]).collect();
/// assert_eq!(sizes, vec![4, 4]);
/// assert_eq!(loader.len(), 2);
/// ```
pub struct DataLoader<D, T: Float = f32> {
    dataset: Arc<D>,
    batch_size: usize,
    seed: Option<u64>,
    drop_last: bool,
    prefetch: bool,
    /// `(rank, world_size)`: this loader iterates rank's shard of every epoch.
    shard: Option<(usize, usize)>,
    next_epoch: AtomicU64,
    _marker: std::marker::PhantomData<fn() -> T>,
}

impl<T: Float, D: Dataset<T> + 'static> DataLoader<D, T> {
    /// Batches of `batch_size` in dataset order, the last one possibly smaller.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn new(dataset: D, batch_size: usize) -> Self {
        assert!(batch_size > 0, "DataLoader: batch_size must be positive");
        DataLoader {
            dataset: Arc::new(dataset),
            batch_size,
            seed: None,
            drop_last: false,
            prefetch: false,
            shard: None,
            next_epoch: AtomicU64::new(0),
            _marker: std::marker::PhantomData,
        }
    }

    /// Shuffles every epoch, reproducibly from `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Drops the last batch if it is smaller than `batch_size`.
    pub fn drop_last(mut self, yes: bool) -> Self {
        self.drop_last = yes;
        self
    }

    /// Prepares the next batch on a background thread.
    pub fn prefetch(mut self, yes: bool) -> Self {
        self.prefetch = yes;
        self
    }

    /// Iterates only shard `rank` of `world_size` of every epoch, as PyTorch's
    /// `DistributedSampler` (for data-parallel training, one loader per rank with the same
    /// seed): the epoch's order, shuffled the same on every rank, is padded by repeating
    /// its first samples to a multiple of `world_size`, and rank `r` takes positions
    /// `r, r + world_size, …`. Every shard has `⌈n / world_size⌉` samples, so every rank
    /// runs the same number of batches of the same sizes, and batch `b` of all ranks
    /// together holds the samples of batch `b` of one loader of `world_size` times the
    /// batch size (plus the padding, when `n` is not a multiple of `world_size`).
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use ferrograd::data::dataset::{DataLoader, Targets, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::<f32>::zeros(&[5, 1]), Targets::Classes(vec![0; 5]));
    /// let shard = |rank| DataLoader::new(ds.clone(), 2).shard(rank, 2).order(0);
    /// // 5 samples padded to 6 with sample 0; each rank gets 3.
    /// assert_eq!((shard(0), shard(1)), (vec![0, 2, 4], vec![1, 3, 0]));
    /// ```
    ///
    /// # Panics
    /// If `world_size` is 0 or `rank` is not below it.
    pub fn shard(mut self, rank: usize, world_size: usize) -> Self {
        assert!(
            rank < world_size,
            "DataLoader::shard: rank {rank} is not a rank of a group of {world_size}"
        );
        self.shard = Some((rank, world_size));
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The number of batches per epoch.
    pub fn len(&self) -> usize {
        let n = self.samples_per_epoch();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True if an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of samples an epoch iterates: the dataset's, or its shard's.
    fn samples_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        match self.shard {
            Some((_, world_size)) => n.div_ceil(world_size),
            None => n,
        }
    }

    /// The sample order of epoch `epoch` (of this loader's shard, with
    /// [`shard`](DataLoader::shard)).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.seed {
            let mut rng = StdRng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            order.shuffle(&mut rng);
        }
        match self.shard {
            Some((rank, world_size)) if !order.is_empty() => (0..self.samples_per_epoch())
                .map(|i| order[(i * world_size + rank) % order.len()])
                .collect(),
            _ => order,
        }
    }

    /// The batches of the next epoch (the first call gives epoch 0).
    pub fn iter(&self) -> Batches<T> {
        self.epoch(self.next_epoch.fetch_add(1, Ordering::Relaxed))
    }

    /// The batches of epoch `epoch`.
    pub fn epoch(&self, epoch: u64) -> Batches<T> {
        let order = self.order(epoch);
        let mut chunks: Vec<Vec<usize>> = order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        if self.drop_last && chunks.last().is_some_and(|c| c.len() < self.batch_size) {
            chunks.pop();
        }
        if self.prefetch {
            let (tx, rx) = mpsc::sync_channel(1);
            let dataset = Arc::clone(&self.dataset);
            let total = chunks.len();
            std::thread::spawn(move || {
                for chunk in chunks {
                    // A panic in the dataset (a `map` closure, a bad sample) is caught and
                    // handed to the consumer, who panics with it; the epoch never just ends.
                    let batch = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        dataset.batch(&chunk)
                    }))
                    .map_err(|payload| panic_message(payload.as_ref()));
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break; // the consumer stopped early, or has the failure
                    }
                }
            });
            Batches(Source::Thread {
                rx,
                epoch,
                received: 0,
                total,
            })
        } else {
            let dataset: Arc<dyn Dataset<T>> = self.dataset.clone();
            Batches(Source::Inline(dataset, chunks.into_iter()))
        }
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

enum Source<T: Float> {
    Inline(Arc<dyn Dataset<T>>, std::vec::IntoIter<Vec<usize>>),
    Thread {
        rx: mpsc::Receiver<std::result::Result<Batch<T>, String>>,
        epoch: u64,
        received: usize,
        total: usize,
    },
}

/// The batches of one epoch, from [`DataLoader::iter`] or [`DataLoader::epoch`].
///
/// # Panics
/// `next` panics if the dataset panics while collating a batch. Without prefetch that is the
/// dataset's own panic; with prefetch, the dataset runs on the background thread and `next`
/// panics with its message, the epoch and the batch
/// (`DataLoader: the dataset panicked on the prefetch thread (epoch 0, batch 3 of 10): ...`).
/// Either way an epoch never ends early.
pub struct Batches<T: Float>(Source<T>);

impl<T: Float> Iterator for Batches<T> {
    type Item = Batch<T>;

    fn next(&mut self) -> Option<Batch<T>> {
        match &mut self.0 {
            Source::Inline(ds, chunks) => chunks.next().map(|c| ds.batch(&c)),
            Source::Thread {
                rx,
                epoch,
                received,
                total,
            } => match rx.recv() {
                Ok(Ok(batch)) => {
                    *received += 1;
                    Some(batch)
                }
                Ok(Err(message)) => panic!(
                    "DataLoader: the dataset panicked on the prefetch thread (epoch {epoch}, batch {received} of {total}): {message}"
                ),
                Err(_) if *received == *total => None,
                Err(_) => panic!(
                    "DataLoader: the prefetch thread stopped after {received} of {total} batches (epoch {epoch})"
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(n: usize) -> TensorDataset<f32> {
        TensorDataset::new(
            Tensor::from_vec((0..n * 2).map(|v| v as f32).collect(), &[n, 2]),
            Targets::Classes((0..n).collect()),
        )
    }

    #[test]
    fn an_epoch_visits_every_sample_once_with_inputs_matching_targets() {
        for prefetch in [false, true] {
            let loader = DataLoader::new(dataset(10), 3)
                .shuffle(1)
                .prefetch(prefetch);
            let mut seen = Vec::new();
            for batch in loader.iter() {
                for (row, &label) in batch.y().classes().iter().enumerate() {
                    assert_eq!(batch.x().get(&[row, 0]), (label * 2) as f32);
                    seen.push(label);
                }
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn each_epoch_reshuffles_reproducibly() {
        let a = DataLoader::new(dataset(20), 5).shuffle(3);
        let b = DataLoader::new(dataset(20), 5).shuffle(3);
        let first: Vec<_> = a.iter().flat_map(|x| x.y().classes().to_vec()).collect();
        let second: Vec<_> = a.iter().flat_map(|x| x.y().classes().to_vec()).collect();
        assert_ne!(first, second, "a new order every epoch");
        assert_eq!(
            first,
            b.epoch(0)
                .flat_map(|x| x.y().classes().to_vec())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            second,
            b.epoch(1)
                .flat_map(|x| x.y().classes().to_vec())
                .collect::<Vec<_>>()
        );
        let unshuffled = DataLoader::new(dataset(4), 4).iter().next().unwrap();
        assert_eq!(unshuffled.y().classes(), &[0, 1, 2, 3]);
    }

    #[test]
    fn shards_split_each_shuffled_epoch_evenly_and_together_cover_it() {
        for (n, world) in [(12, 3), (10, 4), (3, 4), (0, 2)] {
            let loader = |rank| DataLoader::new(dataset(n), 2).shuffle(9).shard(rank, world);
            for epoch in 0..2 {
                let full = DataLoader::new(dataset(n), 2).shuffle(9).order(epoch);
                let shards: Vec<Vec<usize>> = (0..world).map(|r| loader(r).order(epoch)).collect();
                let per_rank = n.div_ceil(world);
                for (rank, shard) in shards.iter().enumerate() {
                    assert_eq!(shard.len(), per_rank);
                    assert_eq!(loader(rank).len(), per_rank.div_ceil(2));
                    let labels: Vec<usize> = loader(rank)
                        .epoch(epoch)
                        .flat_map(|b| b.y().classes().to_vec())
                        .collect();
                    assert_eq!(&labels, shard);
                }
                // Interleaved, they are the epoch's order, padded from its start.
                let interleaved: Vec<usize> = (0..per_rank * world)
                    .map(|i| shards[i % world][i / world])
                    .collect();
                let padded: Vec<usize> = full
                    .iter()
                    .cycle()
                    .take(per_rank * world)
                    .copied()
                    .collect();
                assert_eq!(interleaved, padded);
            }
        }
    }

    #[test]
    fn drop_last_and_batch_counts() {
        let keep = DataLoader::new(dataset(10), 4);
        assert_eq!(
            keep.iter().map(|b| b.x().shape()[0]).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        assert_eq!(keep.len(), 3);
        assert_eq!(DataLoader::new(dataset(10), 4).drop_last(true).len(), 2);
    }

    #[test]
    fn default_batch_collates_samples() {
        let ds = dataset(5).map(|b| b);
        let b = ds.batch(&[4, 1]);
        assert_eq!(b.x().to_vec(), vec![8.0, 9.0, 2.0, 3.0]);
        assert_eq!(b.y().classes(), &[4, 1]);
    }

    #[test]
    #[should_panic(expected = "TensorDataset: 3 inputs and 2 targets")]
    fn tensor_dataset_panics_on_a_count_mismatch() {
        TensorDataset::new(Tensor::<f32>::zeros(&[3, 1]), Targets::Classes(vec![0, 1]));
    }

    #[test]
    fn several_inputs_and_targets_stay_together_through_shuffling_and_collation() {
        let ds = dataset(6)
            .with_input(Tensor::from_vec(
                (0..6).map(|v| v as f32 * 10.0).collect(),
                &[6, 1],
            ))
            .with_target(Targets::Values(Tensor::from_vec(
                (0..6).map(|v| v as f32).collect(),
                &[6, 1],
            )));
        for prefetch in [false, true] {
            let loader = DataLoader::new(ds.clone(), 4).shuffle(2).prefetch(prefetch);
            for batch in loader.iter() {
                assert_eq!((batch.inputs.len(), batch.targets.len()), (2, 2));
                for (row, &label) in batch.y().classes().iter().enumerate() {
                    assert_eq!(batch.inputs[1].get(&[row, 0]), label as f32 * 10.0);
                    assert_eq!(batch.targets[1].values().get(&[row, 0]), label as f32);
                }
            }
        }
        let mapped = ds.clone().map(|b| b);
        assert_eq!(mapped.batch(&[5, 0]), ds.batch(&[5, 0]));
    }

    #[test]
    #[should_panic(expected = "TensorDataset: 6 samples and 5 targets")]
    fn a_target_of_another_length_is_refused() {
        dataset(6).with_target(Targets::Classes(vec![0; 5]));
    }
}
