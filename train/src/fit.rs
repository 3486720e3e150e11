//! The training loop, Keras-style: [`fit`] with its [`FitOptions`] and [`Validation`] data,
//! [`evaluate`] / [`try_evaluate`] and [`predict`]. It returns a [`History`] of the
//! per-epoch logs and calls the [`Callback`]s' hooks at the start and end of training, of
//! every epoch and of every batch.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;

use ferrograd_autograd::ndarray::Dimension;
use ferrograd_autograd::{Float, Graph, Param, Tensor, Var};
use ferrograd_data::dataset::{Batch, DataLoader, Dataset, Targets, TensorDataset};
use ferrograd_nn::{Module, ModuleExt, Slot};
use ferrograd_optim::{NonFiniteKind, Optimizer, Rule, clip_grad_norm, clip_grad_value};

use crate::backup::{self, Plan, Training};
use crate::callbacks::{Callback, CallbackError, Context, Logs};
use crate::distributed::{Collective, CommError, DistributedDataParallel, Values};
#[cfg(doc)]
use crate::distributed::{ThreadComm, ThreadGroup};
use crate::error::TrainError;
use crate::history::History;
use crate::loss::Loss;
use crate::metrics::Metric;
use crate::progress::Reporter;

/// Where validation data comes from.
#[derive(Clone, Debug, Default)]
pub enum Validation<T: Float = f32> {
    /// No validation.
    #[default]
    None,
    /// The last `fraction` of the training data, before shuffling (Keras'
    /// `validation_split`): of `n` samples, the rows from `⌊(1 − fraction)·n⌋` on, so
    /// `data.subset(&(split_at..n).collect::<Vec<_>>())` is the validation part again.
    Split(f64),
    /// A separate dataset.
    Data(TensorDataset<T>),
}

/// The options of [`fit`], Keras' keyword arguments.
pub struct FitOptions<T: Float = f32> {
    epochs: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    validation: Validation<T>,
    metrics: Vec<Box<dyn Metric<T>>>,
    verbose: bool,
    detect_anomaly: bool,
    backup: Option<PathBuf>,
    clip: Clip,
    distributed: Option<Box<dyn Collective>>,
}

/// Gradient clipping before each optimizer step ([`FitOptions::clip_grad_norm`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Clip {
    None,
    Norm(f64),
    Value(f64),
}

impl<T: Float> Default for FitOptions<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> std::fmt::Debug for FitOptions<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metrics: Vec<String> = self.metrics.iter().map(|m| m.name()).collect();
        f.debug_struct("FitOptions")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("validation", &self.validation)
            .field("metrics", &metrics)
            .field("verbose", &self.verbose)
            .field("detect_anomaly", &self.detect_anomaly)
            .field("backup", &self.backup)
            .field("clip", &self.clip)
            .field(
                "distributed",
                &self
                    .distributed
                    .as_ref()
                    .map(|c| format!("rank {} of {}", c.rank(), c.world_size())),
            )
            .finish()
    }
}

impl<T: Float> FitOptions<T> {
    /// One epoch, batches of 32, shuffled with seed 0, no validation, no metrics, quiet,
    /// anomaly mode off, no backup.
    pub fn new() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: Some(0),
            validation: Validation::None,
            metrics: Vec::new(),
            verbose: false,
            detect_anomaly: false,
            backup: None,
            clip: Clip::None,
            distributed: None,
        }
    }

    /// The number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The batch size.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        assert!(batch_size > 0, "fit: batch_size must be positive");
        self.batch_size = batch_size;
        self
    }

    /// Shuffles every epoch from `seed` (`None`: keep the data order).
    pub fn shuffle(mut self, seed: Option<u64>) -> Self {
        self.shuffle = seed;
        self
    }

    /// The validation data.
    ///
    /// # Panics
    /// For a split fraction not in `(0, 1)`.
    pub fn validation(mut self, validation: Validation<T>) -> Self {
        if let Validation::Split(f) = validation {
            assert!(
                f > 0.0 && f < 1.0,
                "fit: validation split must be in (0, 1), got {f}"
            );
        }
        self.validation = validation;
        self
    }

    /// Adds a metric to log, for training (`accuracy`) and validation (`val_accuracy`).
    /// `fit` resets it before every epoch and every validation pass and updates it batch
    /// by batch, so the epoch's outputs are not kept.
    ///
    /// ```
    /// use ferrograd::train::FitOptions;
    /// use ferrograd::train::metrics::{Accuracy, F1};
    /// let options = FitOptions::<f32>::new().metric(Accuracy::new()).metric(F1::new());
    /// assert!(format!("{options:?}").contains(r#"metrics: ["accuracy", "f1"]"#));
    /// ```
    pub fn metric(mut self, metric: impl Metric<T> + 'static) -> Self {
        self.metrics.push(Box::new(metric));
        self
    }

    /// Prints progress to standard error: on a terminal a bar per epoch (steps, ETA, time
    /// per step, samples per second, running loss, then the epoch's logs); otherwise one
    /// line per epoch (Keras' `verbose=2`). Learning-rate changes and early stops made by
    /// callbacks are announced, naming the hook or the callback.
    pub fn verbose(mut self, yes: bool) -> Self {
        self.verbose = yes;
        self
    }

    /// Scales each batch's gradients, before the optimizer's step, so their global L2 norm
    /// is at most `max_norm` (Keras' `global_clipnorm`,
    /// [`clip_grad_norm`](ferrograd_optim::clip_grad_norm) in a hand loop): what keeps a
    /// recurrent network's rare gradient spike from undoing its training. Replaces
    /// [`clip_grad_value`](FitOptions::clip_grad_value).
    ///
    /// ```
    /// use ferrograd::data::synthetic::make_moons;
    /// use ferrograd::nn::{Linear, ModuleExt, init, loss::CrossEntropy};
    /// use ferrograd::optim::{Optimizer, Sgd};
    /// use ferrograd::train::{FitOptions, fit};
    /// let model = Linear::<f32>::new(2, 2, &mut init::rng(0));
    /// let before = model.weight().value();
    /// let mut opt = Optimizer::new(model.parameters(), Sgd::new(1.0));
    /// let options = FitOptions::new().epochs(1).batch_size(64).clip_grad_norm(1e-3);
    /// fit(&model, CrossEntropy::new(), &mut opt, &make_moons(64, 0.1, 0), options, &mut []).unwrap();
    /// // One step of lr 1 on gradients of norm at most 1e-3.
    /// let moved = (&model.weight().value() - &before).to_vec();
    /// assert!(moved.iter().map(|d| d * d).sum::<f32>().sqrt() <= 1.001e-3);
    /// ```
    ///
    /// # Panics
    /// If `max_norm` is negative or NaN.
    pub fn clip_grad_norm(mut self, max_norm: f64) -> Self {
        assert!(
            max_norm >= 0.0,
            "fit: clip_grad_norm must be non-negative, got {max_norm}"
        );
        self.clip = Clip::Norm(max_norm);
        self
    }

    /// Clamps each gradient element to `[−clip, clip]` before the optimizer's step (Keras'
    /// `clipvalue`, [`clip_grad_value`](ferrograd_optim::clip_grad_value) in a hand loop).
    /// Replaces [`clip_grad_norm`](FitOptions::clip_grad_norm).
    ///
    /// # Panics
    /// If `clip` is negative or NaN.
    pub fn clip_grad_value(mut self, clip: f64) -> Self {
        assert!(
            clip >= 0.0,
            "fit: clip_grad_value must be non-negative, got {clip}"
        );
        self.clip = Clip::Value(clip);
        self
    }

    /// Runs every training batch's forward and backward in anomaly mode
    /// ([`Graph::detect_anomaly`]): the first op whose output or gradient is NaN or infinite
    /// ends training with [`TrainError::Anomaly`], whose message names the op, its input
    /// shapes, forward or backward, and the line that called it. Off by default: it scans
    /// every value, so use it to find where a NaN comes from, not for every run.
    ///
    /// Anomaly mode reports by panicking; `fit` catches that panic (only that one) and
    /// returns it as the error, so the panic hook also prints it to stderr. With
    /// `panic = "abort"` the process stops with the same message instead.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use ferrograd::data::dataset::{Targets, TensorDataset};
    /// use ferrograd::nn::{Linear, ModuleExt, init};
    /// use ferrograd::optim::{Optimizer, Sgd};
    /// use ferrograd::train::{FitOptions, Loss, TrainError, fit};
    /// let model = Linear::<f32>::new(1, 1, &mut init::rng(0));
    /// let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
    /// // A NaN feature: anomaly mode reports the input leaf that holds it.
    /// let data = TensorDataset::new(
    ///     Tensor::from_vec(vec![1.0, f32::NAN], &[2, 1]),
    ///     Targets::Values(Tensor::zeros(&[2, 1])),
    /// );
    /// let options = FitOptions::new().batch_size(1).shuffle(None).detect_anomaly(true);
    /// let err = fit(&model, Loss::mse(), &mut opt, &data, options, &mut []).unwrap_err();
    /// assert!(matches!(err, TrainError::Anomaly { epoch: 0, batch: 1, .. }));
    /// assert!(err.to_string().starts_with("epoch 0, batch 1: anomaly: the `constant` leaf holds NaN"));
    /// ```
    pub fn detect_anomaly(mut self, on: bool) -> Self {
        self.detect_anomaly = on;
        self
    }

    /// Makes training resumable (Keras' `BackupAndRestore`): after every epoch but the
    /// last, `fit` writes everything it needs to go on to `path` — the model's parameters,
    /// buffers and random streams (dropout), the optimizer's state and learning rate, each
    /// callback's state ([`Callback::save_state`]), the epoch and the history — atomically,
    /// so a crash or a kill at any moment leaves the previous backup intact.
    ///
    /// When `path` exists as `fit` starts, it restores all of it and goes on from the saved
    /// epoch: the losses, weights, logs and returned [`History`] (which includes the epochs
    /// before the interruption) are bit for bit those of a run that never stopped. Build the
    /// model, optimizer and callbacks as for the first run and pass the same options; a
    /// backup made with another batch size, shuffle seed, optimizer, parameter list or
    /// number of callbacks is refused with [`TrainError::Backup`], and then nothing was
    /// changed. When training ends without an error (all epochs run, or stopped early),
    /// the backup is deleted; after an error it is kept, so the run can be resumed.
    ///
    /// The random streams `fit` restores are the model's ([`ModuleExt::rng_states`]); the
    /// batch order is a function of the shuffle seed and the epoch. Randomness of your own
    /// (a dataset that augments at random) is not saved.
    ///
    /// ```
    /// use ferrograd::data::synthetic::make_moons;
    /// use ferrograd::nn::{Dropout, Linear, ModuleExt, ReLU, Sequential, init};
    /// use ferrograd::optim::{Adam, Optimizer};
    /// use ferrograd::nn::loss::CrossEntropy;
    /// use ferrograd::train::{Callback, CallbackError, Context, FitOptions, Logs, fit};
    ///
    /// /// Fails at the end of one epoch: a stand-in for a crash or a kill.
    /// struct Interrupt(Option<usize>);
    /// impl Callback for Interrupt {
    ///     fn on_epoch_end(&mut self, epoch: usize, _: &Logs, _: &mut Context<'_>) -> Result<(), CallbackError> {
    ///         if self.0 == Some(epoch) { Err("interrupted".into()) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let path = std::env::temp_dir().join(format!("doc-backup-{}.safetensors", std::process::id()));
    /// let data = make_moons(64, 0.1, 0);
    /// let train = |interrupt| {
    ///     let mut rng = init::rng(0);
    ///     let model = Sequential::<f32>::new()
    ///         .add(Linear::new(2, 16, &mut rng))
    ///         .add(ReLU)
    ///         .add(Dropout::new(0.2, 1))
    ///         .add(Linear::new(16, 2, &mut rng));
    ///     let mut opt = Optimizer::new(model.parameters(), Adam::new(0.01));
    ///     let options = FitOptions::new().epochs(4).batch_size(16).backup(&path);
    ///     let history = fit(&model, CrossEntropy::new(), &mut opt, &data, options, &mut [&mut Interrupt(interrupt)]);
    ///     history.map(|h| (h, model.parameters()[0].value()))
    /// };
    /// let uninterrupted = train(None).unwrap();
    /// assert!(!path.exists()); // a run that ends deletes its backup
    /// assert!(train(Some(2)).is_err()); // stops in epoch 2: the backup after epoch 1 stays
    /// assert!(path.exists());
    /// let resumed = train(None).unwrap(); // restores, then runs epochs 2 and 3
    /// assert_eq!(resumed, uninterrupted); // the same history and weights, bit for bit
    /// ```
    pub fn backup(mut self, path: impl Into<PathBuf>) -> Self {
        self.backup = Some(path.into());
        self
    }

    /// Trains data-parallel over the ranks of `comm` (PyTorch's
    /// `DistributedDataParallel`): every rank calls `fit` with the same model, data and
    /// options, and its own rank's communicator — a [`ThreadComm`] of a [`ThreadGroup`]
    /// for the cores of one machine, an `MpiComm` (feature `mpi`) for processes started
    /// by `mpirun`. Then `fit`
    /// - checks that every rank's model has the same parameters and buffers and gives
    ///   every rank rank 0's values ([`DistributedDataParallel::new`]);
    /// - runs each rank on its shard of every epoch ([`DataLoader::shard`]): `batch_size`
    ///   is per rank, as in PyTorch, so a step sees `batch_size × world_size` samples;
    /// - before each forward gives every rank rank 0's buffers (BatchNorm's running
    ///   statistics, PyTorch's default `broadcast_buffers`), and after each backward
    ///   averages the gradients over the ranks, so every rank takes the same step;
    /// - logs the same numbers on every rank: the loss is the mean over the whole batch,
    ///   a training metric the mean of the ranks' values (exact for accuracy and other
    ///   means), validation is run on every rank (on the whole validation data), so the
    ///   callbacks take the same decisions everywhere;
    /// - shows progress (global samples per second), warns and writes the backup and the
    ///   files of [`ModelCheckpoint`](crate::callbacks::ModelCheckpoint) and
    ///   [`CsvLogger`](crate::callbacks::CsvLogger) on rank 0 only
    ///   ([`Context::is_main`]); a backup must be on a filesystem every rank sees.
    ///
    /// With `n` samples a multiple of `world_size`, training on W ranks with batches of
    /// `b` gives the weights of one process with batches of `W·b` up to the order of the
    /// additions, and the weights are bit for bit the same on every rank and from run to
    /// run.
    ///
    /// An error on one rank (a NaN loss, a failing callback) ends `fit` on every rank at
    /// the same batch, before the update: that rank returns its error, the others
    /// [`TrainError::RankFailed`] naming it; a thread worker that panics or leaves makes
    /// the others return [`TrainError::Distributed`] naming it. Under MPI a panic on any
    /// rank ends every rank after its message is printed (`MpiComm::init` installs that
    /// hook), [anomaly mode](FitOptions::detect_anomaly)'s report included, which then
    /// does not come back as [`TrainError::Anomaly`].
    ///
    /// ```
    /// use ferrograd::data::synthetic::make_moons;
    /// use ferrograd::nn::{Linear, ModuleExt, init, loss::CrossEntropy};
    /// use ferrograd::optim::{Adam, Optimizer};
    /// use ferrograd::train::distributed::ThreadGroup;
    /// use ferrograd::train::{FitOptions, fit};
    /// let data = make_moons(128, 0.1, 0);
    /// let histories = ThreadGroup::new(2)
    ///     .run(|comm| {
    ///         let model = Linear::<f32>::new(2, 2, &mut init::rng(0));
    ///         let mut opt = Optimizer::new(model.parameters(), Adam::new(0.05));
    ///         let options = FitOptions::new().epochs(5).batch_size(16).distributed(comm);
    ///         fit(&model, CrossEntropy::new(), &mut opt, &data, options, &mut []).unwrap()
    ///     })
    ///     .unwrap();
    /// // Both ranks log the same, whole-batch losses.
    /// assert_eq!(histories[0].get("loss"), histories[1].get("loss"));
    /// assert!(histories[0].get("loss")[4] < histories[0].get("loss")[0]);
    /// ```
    pub fn distributed(mut self, comm: impl Collective + 'static) -> Self {
        self.distributed = Some(Box::new(comm));
        self
    }
}

/// Puts a model in evaluation mode and, when dropped (a panic included), gives every
/// layer back the mode it had: `evaluate` and `predict` leave the model as they found it.
struct EvalMode<'a, T: Float, M: Module<T> + ?Sized> {
    model: &'a M,
    float: std::marker::PhantomData<T>,
    /// Each mode switch's setting before, in visiting order.
    before: Vec<bool>,
}

impl<'a, T: Float, M: Module<T> + ?Sized> EvalMode<'a, T, M> {
    fn new(model: &'a M) -> Self {
        let mut before = Vec::new();
        model.visit(&mut |_, slot| {
            if let Slot::Mode(m) = slot {
                before.push(m.is_training());
            }
        });
        model.eval();
        EvalMode {
            model,
            float: std::marker::PhantomData,
            before,
        }
    }
}

impl<T: Float, M: Module<T> + ?Sized> Drop for EvalMode<'_, T, M> {
    fn drop(&mut self) {
        let mut before = self.before.iter();
        self.model.visit(&mut |_, slot| {
            if let Slot::Mode(m) = slot
                && let Some(&on) = before.next()
            {
                m.set_training(on);
            }
        });
    }
}

/// Runs the model over `data` without gradients, updating `metrics` (reset first) batch
/// by batch; returns the mean loss. `data` must not be empty.
fn run_eval<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    loss: &Loss<T>,
    data: &TensorDataset<T>,
    metrics: &mut [&mut dyn Metric<T>],
    batch_size: usize,
) -> f64 {
    let g = Graph::new();
    let mut total = 0.0;
    for m in metrics.iter_mut() {
        m.reset();
    }
    for batch in DataLoader::new(data.clone(), batch_size).iter() {
        g.clear();
        let _no_grad = g.no_grad();
        let out = forward_batch(&g, model, &batch.inputs);
        total += loss.value(out, &batch.targets).item().as_f64() * batch.len() as f64;
        let out = out.value();
        for m in metrics.iter_mut() {
            m.update(&out, batch.y());
        }
    }
    total / data.len() as f64
}

/// The model's output for a batch's inputs, each entering `g` as a constant.
fn forward_batch<'g, T: Float, M: Module<T> + ?Sized>(
    g: &'g Graph<T>,
    model: &M,
    inputs: &[Tensor<T>],
) -> Var<'g, T> {
    let inputs: Vec<Var<'g, T>> = inputs.iter().map(|x| g.constant(x.clone())).collect();
    model.forward_inputs(&inputs)
}

/// Joins batch outputs along the rows; `parts` is not empty.
fn concat_rows<T: Float>(parts: &[Tensor<T>]) -> Tensor<T> {
    let views: Vec<_> = parts.iter().map(Tensor::view).collect();
    Tensor::from_array(
        ferrograd_autograd::ndarray::concatenate(ferrograd_autograd::ndarray::Axis(0), &views)
            .expect("same row shape"),
    )
}

/// The one check behind `evaluate`, `try_evaluate` and `fit`: `data` has samples.
fn check_samples<T: Float>(
    op: &'static str,
    which: Option<&'static str>,
    data: &TensorDataset<T>,
    reason: impl FnOnce() -> String,
) -> Result<(), TrainError> {
    if data.len() > 0 {
        return Ok(());
    }
    Err(TrainError::NoSamples {
        op,
        data: which,
        reason: reason(),
    })
}

/// The loss and metrics of `model` on `data`, in evaluation mode (Keras' `evaluate`);
/// afterwards every layer is back in the mode it had (train or eval). The panicking form
/// of [`try_evaluate`].
///
/// # Panics
/// If `data` is empty: `evaluate: no samples (the dataset is empty)` (a mean over no
/// samples has no value; it used to be reported as 0).
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::dataset::{Targets, TensorDataset};
/// use ferrograd::nn::{Linear, init};
/// use ferrograd::train::metrics::Accuracy;
/// use ferrograd::nn::loss::CrossEntropy;
/// use ferrograd::train::evaluate;
/// let model = Linear::<f32>::new(2, 3, &mut init::rng(0));
/// let data = TensorDataset::new(Tensor::zeros(&[4, 2]), Targets::Classes(vec![0, 1, 2, 0]));
/// let logs = evaluate(&model, CrossEntropy::new(), &data, &mut [&mut Accuracy::new()], 2);
/// assert!(logs["loss"] > 0.0 && logs.contains_key("accuracy"));
/// ```
#[track_caller]
pub fn evaluate<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    loss: impl Into<Loss<T>>,
    data: &TensorDataset<T>,
    metrics: &mut [&mut dyn Metric<T>],
    batch_size: usize,
) -> Logs {
    try_evaluate(model, loss, data, metrics, batch_size).unwrap_or_else(|e| panic!("{e}"))
}

/// The loss and metrics of `model` on `data`, in evaluation mode (Keras' `evaluate`);
/// afterwards every layer is back in the mode it had (train or eval).
///
/// # Errors
/// [`TrainError::NoSamples`] if `data` is empty.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::dataset::{Targets, TensorDataset};
/// use ferrograd::nn::{Linear, init};
/// use ferrograd::nn::loss::CrossEntropy;
/// use ferrograd::train::{try_evaluate};
/// let model = Linear::<f32>::new(2, 3, &mut init::rng(0));
/// let empty = TensorDataset::new(Tensor::zeros(&[0, 2]), Targets::Classes(vec![]));
/// let err = try_evaluate(&model, CrossEntropy::new(), &empty, &mut [], 2).unwrap_err();
/// assert_eq!(err.to_string(), "evaluate: no samples (the dataset is empty)");
/// ```
pub fn try_evaluate<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    loss: impl Into<Loss<T>>,
    data: &TensorDataset<T>,
    metrics: &mut [&mut dyn Metric<T>],
    batch_size: usize,
) -> Result<Logs, TrainError> {
    check_samples("evaluate", None, data, || "the dataset is empty".into())?;
    let mean_loss = {
        let _eval = EvalMode::new(model);
        run_eval(model, &loss.into(), data, metrics, batch_size)
    };
    let mut logs = Logs::new();
    logs.insert("loss".into(), mean_loss);
    for m in metrics.iter() {
        logs.insert(m.name(), m.result());
    }
    Ok(logs)
}

/// The model's outputs for `inputs` (`[N, ..]`), in evaluation mode, in batches (Keras'
/// `predict`); afterwards every layer is back in the mode it had (train or eval).
///
/// For `N = 0` the model runs once on the empty input, so the result has the model's
/// output shape with 0 rows (`[0, classes]`), as PyTorch's forward on an empty batch; a
/// layer that cannot take an empty batch panics with its own message.
///
/// For class predictions take [`Tensor::argmax`](ferrograd_autograd::Tensor::argmax) of
/// the scores along the class axis (Keras' `np.argmax(model.predict(x), -1)`):
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::nn::{Linear, init};
/// use ferrograd::train::predict;
/// let model = Linear::<f32>::new(2, 3, &mut init::rng(0));
/// assert_eq!(predict(&model, &Tensor::zeros(&[5, 2]), 2).shape(), &[5, 3]);
/// assert_eq!(predict(&model, &Tensor::zeros(&[0, 2]), 2).shape(), &[0, 3]);
/// // Class predictions: the index of the largest score in each row.
/// let x = Tensor::from_vec(vec![1.0, -1.0, 0.5, 2.0], &[2, 2]);
/// let classes: Vec<usize> = predict(&model, &x, 2).argmax(-1).into_iter().collect();
/// assert_eq!(classes.len(), 2);
/// assert!(classes.iter().all(|&c| c < 3));
/// ```
pub fn predict<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    inputs: &Tensor<T>,
    batch_size: usize,
) -> Tensor<T> {
    predict_inputs(model, std::slice::from_ref(inputs), batch_size)
}

/// [`predict`] for a model of several inputs ([`Module::forward_inputs`]): `inputs` holds
/// each input for all samples, `[N, ..]` each.
///
/// # Panics
/// If `inputs` is empty or the inputs differ in sample count.
///
/// ```
/// use ferrograd::autograd::{Tensor, Var};
/// use ferrograd::nn::{Linear, Module, init};
/// use ferrograd::train::predict_inputs;
///
/// #[derive(Module)]
/// #[module(inputs = 2)]
/// struct Sum { a: Linear, b: Linear }
/// impl Sum {
///     fn forward<'g>(&self, a: Var<'g>, b: Var<'g>) -> Var<'g> { self.a.forward(a) + self.b.forward(b) }
/// }
///
/// let model = Sum { a: Linear::new(3, 2, &mut init::rng(0)), b: Linear::new(5, 2, &mut init::rng(1)) };
/// let out = predict_inputs(&model, &[Tensor::zeros(&[7, 3]), Tensor::zeros(&[7, 5])], 4);
/// assert_eq!(out.shape(), &[7, 2]);
/// ```
#[track_caller]
pub fn predict_inputs<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    inputs: &[Tensor<T>],
    batch_size: usize,
) -> Tensor<T> {
    assert!(!inputs.is_empty(), "predict: no inputs");
    let _eval = EvalMode::new(model);
    let g = Graph::new();
    let n = inputs[0].shape()[0];
    if n == 0 {
        let _no_grad = g.no_grad();
        return forward_batch(&g, model, inputs).value();
    }
    let data = inputs[1..].iter().fold(
        TensorDataset::new(inputs[0].clone(), Targets::Classes(vec![0; n])),
        |data, x| data.with_input(x.clone()),
    );
    let mut outputs = Vec::new();
    for batch in DataLoader::new(data, batch_size).iter() {
        g.clear();
        let _no_grad = g.no_grad();
        outputs.push(forward_batch(&g, model, &batch.inputs).value());
    }
    concat_rows(&outputs)
}

/// Splits off the validation data and checks that both parts have samples.
fn split_validation<T: Float>(
    train: &TensorDataset<T>,
    validation: &Validation<T>,
) -> Result<(TensorDataset<T>, Option<TensorDataset<T>>), TrainError> {
    let n = train.len();
    let (train, validation) = match validation {
        Validation::None => (train.clone(), None),
        Validation::Data(d) => {
            check_samples("fit", Some("validation"), d, || {
                "the validation dataset is empty".into()
            })?;
            (train.clone(), Some(d.clone()))
        }
        Validation::Split(f) => {
            let split_at = ((1.0 - f) * n as f64) as usize;
            let all: Vec<usize> = (0..n).collect();
            let (train_part, val_part) = (
                train.subset(&all[..split_at]),
                train.subset(&all[split_at..]),
            );
            if n > 0 {
                let leaves = |what| {
                    format!("a validation split of {f} leaves 0 of the {n} samples for {what}")
                };
                check_samples("fit", Some("training"), &train_part, || leaves("training"))?;
                check_samples("fit", Some("validation"), &val_part, || {
                    leaves("validation")
                })?;
            }
            (train_part, Some(val_part))
        }
    };
    check_samples("fit", Some("training"), &train, || {
        "the dataset is empty".into()
    })?;
    Ok((train, validation))
}

/// Each of the optimizer's parameters by its name in the model (`optimizer parameter 3`
/// for one the model does not hold).
fn parameter_names<T: Float, M: Module<T>, R: Rule<T>>(
    model: &M,
    optimizer: &Optimizer<R, T>,
) -> Vec<String> {
    let named = model.named_parameters();
    optimizer
        .params()
        .enumerate()
        .map(|(i, p)| {
            named
                .iter()
                .find(|(_, q)| q.same(p))
                .map_or_else(|| format!("optimizer parameter {i}"), |(n, _)| n.clone())
        })
        .collect()
}

/// Where a batch is, for errors.
#[derive(Clone, Copy)]
struct At {
    epoch: usize,
    batch: usize,
}

/// Forward, the loss guard and backward of one training batch; returns the loss and the
/// outputs. In anomaly mode, an anomaly panic becomes [`TrainError::Anomaly`].
fn forward_backward<T: Float, M: Module<T>>(
    g: &Graph<T>,
    model: &M,
    loss: &Loss<T>,
    batch: &Batch<T>,
    at: At,
    anomaly: bool,
) -> Result<(f64, Tensor<T>), TrainError> {
    let run = || {
        g.clear();
        let out = forward_batch(g, model, &batch.inputs);
        let l = loss.value(out, &batch.targets);
        let value = l.item().as_f64();
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                epoch: at.epoch,
                batch: at.batch,
                value,
            });
        }
        l.backward();
        Ok((value, out.value()))
    };
    if !anomaly {
        return run();
    }
    let _anomaly = g.detect_anomaly();
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .filter(|m| m.starts_with("anomaly: "))
            .cloned();
        match message {
            Some(message) => Err(TrainError::Anomaly {
                epoch: at.epoch,
                batch: at.batch,
                message,
            }),
            None => resume_unwind(payload),
        }
    })
}

/// The gradient guard: the first non-finite gradient element of a parameter the optimizer
/// would update, by the parameter's name.
fn check_gradients<T: Float, R: Rule<T>>(
    optimizer: &Optimizer<R, T>,
    names: &[String],
    at: At,
) -> Result<(), TrainError> {
    for (p, name) in optimizer.params().zip(names) {
        if !p.requires_grad() {
            continue;
        }
        let Some(grad) = p.grad() else { continue };
        let view = grad.view();
        if view.iter().all(|v| v.is_finite()) {
            continue;
        }
        let (element, kind) = view
            .indexed_iter()
            .find_map(|(i, v)| NonFiniteKind::of(v.as_f64()).map(|k| (i, k)))
            .expect("a non-finite element");
        return Err(TrainError::NonFiniteGradient {
            epoch: at.epoch,
            batch: at.batch,
            parameter: name.clone(),
            element: element.as_array_view().to_vec(),
            kind,
        });
    }
    Ok(())
}

/// Adds the parameters a step skipped for want of a gradient to the history, warning once
/// about the new ones.
fn note_without_gradient(
    history: &mut History,
    names: &[String],
    skipped: &[usize],
    at: At,
    warn: bool,
) {
    let new: Vec<&String> = skipped
        .iter()
        .map(|&i| &names[i])
        .filter(|n| !history.without_gradient.contains(n))
        .collect();
    if new.is_empty() {
        return;
    }
    let list: Vec<String> = new.iter().map(|n| format!("`{n}`")).collect();
    if warn {
        eprintln!(
            "fit: warning: no gradient for {} at epoch {}, batch {}: not updated (see History::without_gradient)",
            list.join(", "),
            at.epoch,
            at.batch
        );
    }
    history.without_gradient.extend(new.into_iter().cloned());
}

/// Trains `model` on `train` with `optimizer` (Keras' `fit`): each epoch runs every batch
/// forward, backward and through the optimizer in training mode, logs the mean `loss`,
/// the metrics, `lr`, and (with validation data) `val_loss` and `val_<metric>` in
/// evaluation mode, then calls the callbacks, which may change the learning rate or stop.
/// The callbacks' hooks run at the start and end of training, of each epoch and of each
/// batch, in the order [`Callback`] shows; when resuming from a
/// [backup](FitOptions::backup), `on_train_begin` runs after the states were restored.
///
/// Training is generic over the float type: an f64 model trains with an f64 dataset,
/// [`Loss`], optimizer and callbacks exactly as an f32 one does (the callbacks without a
/// float type of their own, such as `ModelCheckpoint`, serve both).
///
/// Before each update `fit` checks the loss and then every gradient the optimizer would
/// use: training never goes on with a NaN or an infinity. A trainable parameter that got no
/// gradient is skipped that batch, listed in [`History::without_gradient`] and warned about
/// on stderr once.
///
/// # Errors
/// All but the last leave the parameters exactly as they were before the failing batch:
/// - [`TrainError::NoSamples`] if the training or validation data (after a validation
///   split) is empty;
/// - [`TrainError::NonFinite`] naming the epoch and batch where the loss became NaN or
///   infinite;
/// - [`TrainError::NonFiniteGradient`] naming the epoch, the batch, and the first parameter
///   (by its name in the model) whose gradient holds NaN or an infinity; the gradients are
///   kept for inspection;
/// - [`TrainError::Anomaly`] in [anomaly mode](FitOptions::detect_anomaly);
/// - [`TrainError::Step`] if no trainable parameter got a gradient (an optimizer built over
///   another model's parameters);
/// - [`TrainError::Callback`] naming the epoch, the callback (index and name) and the hook
///   if a callback fails.
///
/// ```
/// use ferrograd::data::split::train_test_split;
/// use ferrograd::data::synthetic::make_moons;
/// use ferrograd::nn::{Linear, ModuleExt, ReLU, Sequential, init};
/// use ferrograd::optim::{Adam, Optimizer};
/// use ferrograd::train::metrics::Accuracy;
/// use ferrograd::nn::loss::CrossEntropy;
/// use ferrograd::train::{FitOptions, Validation, fit};
///
/// // A held-out split by index (Validation::Split takes the last rows, as Keras does).
/// let data = make_moons(400, 0.1, 0);
/// let split = train_test_split(400, 0.2, 0, None);
/// let mut rng = init::rng(0);
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(2, 32, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(32, 2, &mut rng));
/// let mut opt = Optimizer::new(model.parameters(), Adam::new(0.02));
/// let options = FitOptions::new()
///     .epochs(40)
///     .batch_size(32)
///     .metric(Accuracy::new())
///     .validation(Validation::Data(data.subset(&split.test)));
/// let history = fit(&model, CrossEntropy::new(), &mut opt, &data.subset(&split.train), options, &mut []).unwrap();
/// assert!(*history.get("val_accuracy").last().unwrap() > 0.9);
/// assert!(history.without_gradient.is_empty());
/// ```
pub fn fit<T: Float, M: Module<T>, R: Rule<T>>(
    model: &M,
    loss: impl Into<Loss<T>>,
    optimizer: &mut Optimizer<R, T>,
    train: &TensorDataset<T>,
    mut options: FitOptions<T>,
    callbacks: &mut [&mut dyn Callback<T>],
) -> Result<History, TrainError> {
    let loss = &loss.into();
    let (train, validation) = split_validation(train, &options.validation)?;
    let mut metrics = std::mem::take(&mut options.metrics);
    let names = parameter_names(model, optimizer);
    let params: Vec<Param<T>> = optimizer.params().cloned().collect();
    let comm = options.distributed.take();
    let ddp = comm
        .as_deref()
        .map(|c| DistributedDataParallel::new(model, c))
        .transpose()?;
    let peers = Peers(ddp.as_ref());
    let (rank, world_size) = peers.rank_and_size();
    let mut loader = DataLoader::new(train.clone(), options.batch_size);
    if let Some(seed) = options.shuffle {
        loader = loader.shuffle(seed);
    }
    if world_size > 1 {
        loader = loader.shard(rank, world_size);
    }
    let plan = Plan {
        batch_size: options.batch_size,
        shuffle: options.shuffle,
    };
    let backup_exists = options.backup.as_ref().is_some_and(|p| p.exists());
    peers.agree_on_backup(backup_exists, options.backup.as_deref())?;
    let restored = match &options.backup {
        Some(path) if backup_exists => {
            let mut t = Training {
                model,
                optimizer: &mut *optimizer,
                callbacks: &mut *callbacks,
            };
            backup::restore(path, &mut t, plan).map_err(|message| TrainError::Backup { message })
        }
        _ => Ok((0, History::default())),
    };
    let (start, mut history) = peers.agree(restored.map(|r| (0.0, r)))?.1;
    let steps_per_epoch = loader.len();
    let initial_lr = optimizer.initial_lr();
    let ctx_at = |lr: f64, epoch: usize, step: usize| {
        Context::new(model, (lr, initial_lr), epoch, step, steps_per_epoch)
            .on_rank(rank, world_size)
    };
    let reporter = Reporter::new(
        options.verbose && peers.is_main(),
        options.epochs,
        options.batch_size * world_size,
    );
    let mut ctx = ctx_at(optimizer.lr(), start, start * steps_per_epoch);
    let begun = run_hooks(
        callbacks,
        start,
        "on_train_begin",
        &reporter,
        &mut ctx,
        |cb, ctx| cb.on_train_begin(ctx),
    );
    peers.agree(begun.map(|()| (0.0, ())))?;
    optimizer.set_lr(ctx.lr());
    let mut stop = ctx.stop_requested();
    let g = Graph::new();
    let mut last = None;
    for epoch in start..options.epochs {
        let mut ctx = ctx_at(optimizer.lr(), epoch, epoch * steps_per_epoch);
        let lr = optimizer.lr();
        let begun = run_hooks(
            callbacks,
            epoch,
            "on_epoch_begin",
            &reporter,
            &mut ctx,
            |cb, ctx| cb.on_epoch_begin(epoch, ctx),
        );
        peers.agree(begun.map(|()| (0.0, ())))?;
        reporter.lr_changed(epoch, "on_epoch_begin", lr, ctx.lr());
        optimizer.set_lr(ctx.lr());
        stop |= ctx.stop_requested();
        model.train();
        let progress = reporter.epoch(epoch, steps_per_epoch);
        let (mut total, mut seen) = (0.0, 0);
        for m in &mut metrics {
            m.reset();
        }
        let mut steps_run = 0;
        for (b, batch) in loader.epoch(epoch as u64).enumerate() {
            let at = At { epoch, batch: b };
            let step = epoch * steps_per_epoch + b;
            peers.sync_buffers()?;
            let mut ctx = ctx_at(optimizer.lr(), epoch, step);
            let outcome = run_hooks(
                callbacks,
                epoch,
                "on_batch_begin",
                &reporter,
                &mut ctx,
                |cb, ctx| cb.on_batch_begin(b, ctx),
            )
            .and_then(|()| forward_backward(&g, model, loss, &batch, at, options.detect_anomaly));
            g.clear();
            // Every rank learns whether any failed; the batch's loss is the ranks' mean.
            let (value, out) = peers.agree(outcome)?;
            optimizer.set_lr(ctx.lr());
            stop |= ctx.stop_requested();
            peers.average_gradients()?;
            for m in &mut metrics {
                m.update(&out, batch.y());
            }
            check_gradients(optimizer, &names, at)?;
            match options.clip {
                Clip::None => {}
                Clip::Norm(max) => {
                    clip_grad_norm(&params, max);
                }
                Clip::Value(clip) => clip_grad_value(&params, clip),
            }
            let report = optimizer.try_step().map_err(|source| TrainError::Step {
                epoch,
                batch: b,
                source,
            })?;
            note_without_gradient(
                &mut history,
                &names,
                &report.without_gradient,
                at,
                peers.is_main(),
            );
            optimizer.zero_grad();
            total += value * batch.len() as f64;
            seen += batch.len();
            reporter.batch(&progress, total / seen as f64);
            steps_run = b + 1;
            let batch_logs = Logs::from([("loss".into(), value), ("lr".into(), optimizer.lr())]);
            let mut ctx = ctx_at(optimizer.lr(), epoch, step);
            let ended = run_hooks(
                callbacks,
                epoch,
                "on_batch_end",
                &reporter,
                &mut ctx,
                |cb, ctx| cb.on_batch_end(b, &batch_logs, ctx),
            );
            optimizer.set_lr(ctx.lr());
            stop |= ctx.stop_requested();
            // A stop asked for on any rank stops every rank.
            stop = peers
                .agree(ended.map(|()| (f64::from(u8::from(stop)), ())))?
                .0
                > 0.0;
            if stop {
                break;
            }
        }
        let mut logs = Logs::new();
        logs.insert("loss".into(), total / seen as f64);
        logs.insert("lr".into(), optimizer.lr());
        let results: Vec<f64> = metrics.iter().map(|m| m.result()).collect();
        for (m, result) in metrics.iter().zip(peers.mean_over_ranks(results)?) {
            logs.insert(m.name(), result);
        }
        if let Some(val) = &validation {
            let mut metrics: Vec<&mut dyn Metric<T>> =
                metrics.iter_mut().map(|m| &mut **m as _).collect();
            for (k, v) in try_evaluate(model, loss, val, &mut metrics, options.batch_size)? {
                logs.insert(format!("val_{k}"), v);
            }
        }
        reporter.epoch_end(epoch, progress, steps_run, &logs);
        history.epochs.push(logs);
        let logs = history.epochs.last().expect("just pushed");
        let mut ctx = ctx_at(optimizer.lr(), epoch, (epoch + 1) * steps_per_epoch);
        let lr = optimizer.lr();
        let ended = run_hooks(
            callbacks,
            epoch,
            "on_epoch_end",
            &reporter,
            &mut ctx,
            |cb, ctx| cb.on_epoch_end(epoch, logs, ctx),
        );
        let asked = f64::from(u8::from(ctx.stop_requested()));
        let stop_now = peers.agree(ended.map(|()| (asked, ())))?.0 > 0.0;
        reporter.lr_changed(epoch, "on_epoch_end", lr, ctx.lr());
        optimizer.set_lr(ctx.lr());
        last = Some((epoch, logs.clone()));
        if stop || stop_now {
            break;
        }
        if let Some(path) = options
            .backup
            .as_deref()
            .filter(|_| epoch + 1 < options.epochs)
        {
            let saved = if peers.is_main() {
                let t = Training {
                    model,
                    optimizer: &mut *optimizer,
                    callbacks: &mut *callbacks,
                };
                backup::save(path, &t, plan, epoch + 1, &history).map_err(|e| TrainError::Backup {
                    message: format!("after epoch {epoch}: {e}"),
                })
            } else {
                Ok(())
            };
            peers.agree(saved.map(|()| (0.0, ())))?;
        }
    }
    let (epoch, logs, step) = match last {
        Some((epoch, logs)) => (epoch, logs, (epoch + 1) * steps_per_epoch),
        None => (start, Logs::new(), start * steps_per_epoch),
    };
    let mut ctx = ctx_at(optimizer.lr(), epoch, step);
    run_hooks(
        callbacks,
        epoch,
        "on_train_end",
        &reporter,
        &mut ctx,
        |cb, ctx| cb.on_train_end(&logs, ctx),
    )?;
    optimizer.set_lr(ctx.lr());
    if let Some(path) = options.backup.as_ref().filter(|_| peers.is_main()) {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(TrainError::Backup {
                    message: format!(
                        "{}: training ended but the backup cannot be deleted: {e}",
                        path.display()
                    ),
                });
            }
            _ => {}
        }
    }
    Ok(history)
}

/// The other ranks of data-parallel training, as `fit` sees them: none in one process,
/// where every method is free and lets everything through.
struct Peers<'a, T: Float>(Option<&'a DistributedDataParallel<T, &'a dyn Collective>>);

impl<T: Float> Peers<'_, T> {
    fn rank_and_size(&self) -> (usize, usize) {
        self.0.map_or((0, 1), |d| (d.rank(), d.world_size()))
    }

    fn is_main(&self) -> bool {
        self.0.is_none_or(DistributedDataParallel::is_main)
    }

    fn sync_buffers(&self) -> Result<(), TrainError> {
        Ok(self
            .0
            .map_or(Ok(()), DistributedDataParallel::sync_buffers)?)
    }

    fn average_gradients(&self) -> Result<(), TrainError> {
        Ok(self
            .0
            .map_or(Ok(()), DistributedDataParallel::average_gradients)?)
    }

    /// Every rank hands in the outcome of the same step (`Ok` with a number: a loss, a
    /// stop flag) and learns everyone's, so a failure on one rank ends every rank at the
    /// same point instead of leaving the others waiting: a rank's own error comes back as
    /// it was; the others get [`TrainError::RankFailed`] naming the lowest failing rank.
    /// On success, the number is replaced by its mean over the ranks (added in rank
    /// order, so the same on every rank).
    fn agree<X>(&self, local: Result<(f64, X), TrainError>) -> Result<(f64, X), TrainError> {
        let Some(ddp) = self.0 else { return local };
        let status = match &local {
            Ok((number, _)) => [&[0u8][..], &number.to_le_bytes()].concat(),
            Err(e) => [&[1u8][..], e.to_string().as_bytes()].concat(),
        };
        let all = ddp.comm().all_gather_bytes(&status)?;
        let (_, mine) = local?;
        let mut sum = 0.0;
        for (rank, status) in all.iter().enumerate() {
            match status.split_first() {
                Some((0, number)) => {
                    let bytes = number.try_into().map_err(|_| {
                        CommError::Transport(format!("rank {rank} sent a malformed status"))
                    })?;
                    sum += f64::from_le_bytes(bytes);
                }
                Some((_, message)) => {
                    return Err(TrainError::RankFailed {
                        rank,
                        message: String::from_utf8_lossy(message).into_owned(),
                    });
                }
                None => {
                    return Err(CommError::Transport(format!("rank {rank} sent no status")).into());
                }
            }
        }
        Ok((sum / all.len() as f64, mine))
    }

    /// Each of `values` averaged over the ranks (added in rank order).
    fn mean_over_ranks(&self, mut values: Vec<f64>) -> Result<Vec<f64>, TrainError> {
        let Some(ddp) = self.0 else { return Ok(values) };
        ddp.comm().all_reduce_sum(Values::from(&mut values[..]))?;
        let world = ddp.world_size() as f64;
        Ok(values.into_iter().map(|v| v / world).collect())
    }

    /// A backup of data-parallel training must be seen by every rank or none (it is
    /// written by rank 0 and read by all).
    fn agree_on_backup(
        &self,
        exists: bool,
        path: Option<&std::path::Path>,
    ) -> Result<(), TrainError> {
        let (Some(ddp), Some(path)) = (self.0, path) else {
            return Ok(());
        };
        let all = ddp.comm().all_gather_bytes(&[u8::from(exists)])?;
        let Some(rank) = all.iter().position(|seen| *seen != all[0]) else {
            return Ok(());
        };
        let (rank_0, other) = if all[0] == [1] {
            ("sees", "does not")
        } else {
            ("does not see", "does")
        };
        Err(TrainError::Backup {
            message: format!(
                "{}: rank 0 {rank_0} the backup and rank {rank} {other}: a backup of data-parallel training must be on a filesystem every rank shares",
                path.display(),
            ),
        })
    }
}

/// Calls `hook` on every callback in order with `ctx`; the first failure becomes
/// [`TrainError::Callback`] naming `epoch`, the callback and `name`. The callback that asks
/// training to stop is announced through `reporter`.
fn run_hooks<'c, T: Float>(
    callbacks: &mut [&mut dyn Callback<T>],
    epoch: usize,
    name: &'static str,
    reporter: &Reporter,
    ctx: &mut Context<'c, T>,
    mut hook: impl FnMut(&mut dyn Callback<T>, &mut Context<'c, T>) -> Result<(), CallbackError>,
) -> Result<(), TrainError> {
    for (index, cb) in callbacks.iter_mut().enumerate() {
        let before = ctx.stop_requested();
        hook(&mut **cb, ctx).map_err(|source| callback_error(epoch, index, &**cb, name, source))?;
        if !before && ctx.stop_requested() {
            reporter.stopped(epoch, &cb.name());
        }
    }
    Ok(())
}

/// [`TrainError::Callback`] for callback `index` failing in `hook`.
fn callback_error<T: Float>(
    epoch: usize,
    index: usize,
    cb: &dyn Callback<T>,
    hook: &'static str,
    source: CallbackError,
) -> TrainError {
    TrainError::Callback {
        epoch,
        index,
        callback: cb.name(),
        hook,
        source: Box::new(source),
    }
}
