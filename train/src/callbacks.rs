//! Callbacks: the [`Callback`] hooks of [`fit`](crate::fit), the [`Context`] they act on
//! and the [`Logs`] they read, and the Keras callbacks built on them: early stopping,
//! plateau and scheduled learning rates, checkpoints, a CSV log, and stopping on NaN.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use ferrograd_autograd::Float;
use ferrograd_nn::{Module, ModuleExt};
use ferrograd_optim::schedule::{LrSchedule, MonitorMode, ReduceLrOnPlateau};
use ferrograd_optim::{CallbackState, EarlyStopping, StateError};

pub use crate::error::CallbackError;

/// Logs: an epoch's (`loss`, the metrics, `val_`-prefixed validation values, and `lr`) or
/// a batch's (its `loss` and the `lr` it was trained at).
pub type Logs = BTreeMap<String, f64>;

/// What a callback may read and change: the model, the learning rate, where training is,
/// and whether to stop.
pub struct Context<'a, T: Float = f32> {
    model: &'a dyn Module<T>,
    lr: f64,
    initial_lr: f64,
    stop: bool,
    epoch: usize,
    step: usize,
    steps_per_epoch: usize,
    rank: usize,
    world_size: usize,
}

impl<'a, T: Float> Context<'a, T> {
    /// The context of training `model` at learning rate `lr` (of an optimizer built with
    /// `initial_lr`), at `epoch` and global batch `step`, with `steps_per_epoch` batches an
    /// epoch.
    pub(crate) fn new(
        model: &'a dyn Module<T>,
        (lr, initial_lr): (f64, f64),
        epoch: usize,
        step: usize,
        steps_per_epoch: usize,
    ) -> Self {
        Context {
            model,
            lr,
            initial_lr,
            stop: false,
            epoch,
            step,
            steps_per_epoch,
            rank: 0,
            world_size: 1,
        }
    }

    /// The context on `rank` of `world_size` in data-parallel training.
    pub(crate) fn on_rank(mut self, rank: usize, world_size: usize) -> Self {
        self.rank = rank;
        self.world_size = world_size;
        self
    }

    /// Whether a callback asked to end training.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop
    }

    /// The model being trained.
    pub fn model(&self) -> &dyn Module<T> {
        self.model
    }

    /// The optimizer's learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The rate the optimizer was built with
    /// ([`Optimizer::initial_lr`](ferrograd_optim::Optimizer::initial_lr)): what a schedule
    /// scales.
    pub fn initial_lr(&self) -> f64 {
        self.initial_lr
    }

    /// Sets the optimizer's learning rate: from the next batch on (from this batch on in
    /// [`Callback::on_batch_begin`], from the first batch in [`Callback::on_epoch_begin`]).
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The epoch (from 0): the current one in epoch and batch hooks, the first to run in
    /// [`Callback::on_train_begin`] (the saved one when resuming a
    /// [backup](crate::FitOptions::backup)), the last run in [`Callback::on_train_end`].
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The global batch index, from 0 and across epochs:
    /// `epoch · steps_per_epoch + batch`, the batch's own in batch hooks. It is the step of
    /// a per-batch schedule ([`LrScheduler::per_batch`]) and continues where it was after a
    /// resume. Outside batch hooks it is the index of the next batch to run (the first of
    /// the epoch in `on_epoch_begin`, the first of the next epoch in `on_epoch_end`).
    pub fn step(&self) -> usize {
        self.step
    }

    /// The number of batches of a (whole) epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    /// This worker's rank in data-parallel training
    /// ([`FitOptions::distributed`](crate::FitOptions::distributed)); 0 otherwise.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of workers in data-parallel training; 1 otherwise.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// True on the worker that logs and writes files: rank 0, or the only one. Every rank
    /// runs every callback with the same logs, so they take the same decisions (stop
    /// early, change the learning rate); a callback that writes a file or prints does it
    /// only where this is true, as [`ModelCheckpoint`] and [`CsvLogger`] do.
    pub fn is_main(&self) -> bool {
        self.rank == 0
    }

    /// Ends training (Keras' `model.stop_training = True`): the batch in progress (or, from
    /// `on_train_begin` or `on_epoch_begin`, the next one) is the epoch's last;
    /// `on_epoch_end` then runs with the logs of the batches run, and `on_train_end` after.
    pub fn stop_training(&mut self) {
        self.stop = true;
    }
}

/// Hooks into [`fit`](crate::fit), as Keras callbacks. Every hook does nothing by default;
/// implement those you need. `fit` calls them in this order:
///
/// ```text
/// on_train_begin
/// for each epoch:  on_epoch_begin
///                  for each batch:  on_batch_begin, (forward, backward, step), on_batch_end
///                  (epoch logs, validation)  on_epoch_end
/// on_train_end     (only when training ends without an error)
/// ```
///
/// Each hook is called on every callback, in the order they were given, before the next
/// hook. A learning rate set through the [`Context`] is given to the optimizer right
/// after the hook. When resuming from a [backup](crate::FitOptions::backup), the saved
/// states are restored first ([`Callback::load_state`]), then `on_train_begin` runs (with
/// [`Context::epoch`] the epoch training resumes at), and the epochs go on from there; a
/// refused backup fails `fit` before any hook runs.
///
/// A hook that fails ends `fit` with [`TrainError::Callback`](crate::TrainError::Callback),
/// which names the epoch, the callback and the hook.
///
/// ```
/// use ferrograd::data::synthetic::make_moons;
/// use ferrograd::nn::{Linear, ModuleExt, init};
/// use ferrograd::optim::{Optimizer, Sgd};
/// use ferrograd::nn::loss::CrossEntropy;
/// use ferrograd::train::{Callback, CallbackError, Context, FitOptions, Logs, TrainError, fit};
///
/// /// Fails once the loss exceeds a limit.
/// struct LossLimit(f64);
/// impl Callback for LossLimit {
///     fn on_epoch_end(&mut self, _: usize, logs: &Logs, _: &mut Context<'_>) -> Result<(), CallbackError> {
///         if logs["loss"] > self.0 {
///             return Err(format!("loss {:.2} is over {}", logs["loss"], self.0).into());
///         }
///         Ok(())
///     }
/// }
///
/// let model = Linear::<f32>::new(2, 2, &mut init::rng(0));
/// let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
/// let data = make_moons(32, 0.1, 0);
/// let err = fit(&model, CrossEntropy::new(), &mut opt, &data, FitOptions::new(), &mut [&mut LossLimit(0.0)])
///     .unwrap_err();
/// assert!(matches!(&err, TrainError::Callback { epoch: 0, index: 0, hook: "on_epoch_end", .. }));
/// assert!(err.to_string().starts_with("epoch 0: callback 0 (LossLimit) failed in on_epoch_end: loss "));
/// ```
pub trait Callback<T: Float = f32> {
    /// The callback's name in errors (the type name without its path and generics by
    /// default: `EarlyStopping`, `LrScheduler`).
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// Once, before the first epoch this call of `fit` runs (after a backup was restored).
    fn on_train_begin(&mut self, _ctx: &mut Context<'_, T>) -> Result<(), CallbackError> {
        Ok(())
    }

    /// Once, after the last epoch (all run, or stopped early), with the last epoch's logs
    /// (empty if no epoch ran). Not called when `fit` fails.
    fn on_train_end(
        &mut self,
        _logs: &Logs,
        _ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }

    /// Before epoch `epoch` (an epoch schedule sets the learning rate here).
    fn on_epoch_begin(
        &mut self,
        _epoch: usize,
        _ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }

    /// After epoch `epoch`, with its logs.
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &Logs,
        _ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }

    /// Before batch `batch` (from 0 within the epoch; [`Context::step`] counts across
    /// epochs). A per-batch schedule sets the learning rate here; it applies to this batch.
    fn on_batch_begin(
        &mut self,
        _batch: usize,
        _ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }

    /// After batch `batch`'s optimizer step, with its logs: `loss`, this batch's mean loss
    /// (Keras logs the running mean over the epoch instead; that mean is the epoch's
    /// `loss`), and `lr`, the rate it was trained at.
    fn on_batch_end(
        &mut self,
        _batch: usize,
        _logs: &Logs,
        _ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }

    /// Records what the callback needs to go on after a resume (best values, counters,
    /// best weights) into a [training backup](crate::FitOptions::backup). Nothing by default: a
    /// callback without state across epochs need not implement it.
    fn save_state(&self, _state: &mut CallbackState) {}

    /// Restores what [`Callback::save_state`] recorded.
    ///
    /// # Errors
    /// If `state` lacks a value or holds a malformed one (usually
    /// [`CallbackError::State`], naming the key); the callback must then be left as it was.
    fn load_state(&mut self, _state: &CallbackState) -> Result<(), CallbackError> {
        Ok(())
    }
}

/// Reads `monitor` from the logs, or names it and the keys there are.
fn monitored(logs: &Logs, monitor: &str) -> Result<f64, CallbackError> {
    logs.get(monitor)
        .copied()
        .ok_or_else(|| CallbackError::MissingMetric {
            metric: monitor.to_string(),
            available: logs.keys().cloned().collect(),
        })
}

/// [`EarlyStopping`] is itself a callback (Keras' `EarlyStopping`): after each epoch it
/// reads its [monitored metric](EarlyStopping::monitor) (`"val_loss"` by default) from the
/// logs and stops training when [`EarlyStopping::update`] says so, restoring the best
/// weights if asked. Its progress is kept in a training backup.
///
/// ```
/// use ferrograd::data::synthetic::make_moons;
/// use ferrograd::nn::{Linear, ModuleExt, init};
/// use ferrograd::optim::{EarlyStopping, Optimizer, Sgd, schedule::MonitorMode};
/// use ferrograd::nn::loss::CrossEntropy;
/// use ferrograd::train::{FitOptions, fit};
/// let model = Linear::<f32>::new(2, 2, &mut init::rng(0));
/// let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.0)); // lr 0: nothing improves
/// let mut stop = EarlyStopping::new(MonitorMode::Min).monitor("loss").patience(2);
/// let options = FitOptions::new().epochs(50).shuffle(None);
/// let history = fit(&model, CrossEntropy::new(), &mut opt, &make_moons(32, 0.1, 0), options, &mut [&mut stop]).unwrap();
/// assert_eq!(history.epochs.len(), 3);
/// assert_eq!(stop.stopped_epoch(), Some(2));
/// ```
impl<T: Float> Callback<T> for EarlyStopping<T> {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        let value = monitored(logs, self.monitored())?;
        if self.update(epoch, value, &ctx.model().parameters()) {
            ctx.stop_training();
        }
        Ok(())
    }

    fn save_state(&self, state: &mut CallbackState) {
        EarlyStopping::save_state(self, state);
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), CallbackError> {
        Ok(EarlyStopping::load_state(self, state)?)
    }
}

/// [`ReduceLrOnPlateau`] is itself a callback (Keras' `ReduceLROnPlateau`): after each
/// epoch it reads its [monitored metric](ReduceLrOnPlateau::monitor) (`"val_loss"` by
/// default) from the logs and sets the learning rate [`ReduceLrOnPlateau::step`] returns.
/// Its progress is kept in a training backup.
impl<T: Float> Callback<T> for ReduceLrOnPlateau {
    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        let value = monitored(logs, self.monitored())?;
        let lr = self.step(value, ctx.lr());
        ctx.set_lr(lr);
        Ok(())
    }

    fn save_state(&self, state: &mut CallbackState) {
        ReduceLrOnPlateau::save_state(self, state);
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), CallbackError> {
        Ok(ReduceLrOnPlateau::load_state(self, state)?)
    }
}

/// Sets the learning rate from a schedule (Keras' `LearningRateScheduler`): at the start of
/// every epoch, to `schedule.lr(epoch)`, or with [`LrScheduler::per_batch`] before every
/// batch, to `schedule.lr(step)` where `step` is the global batch index
/// ([`Context::step`]), for warm-up and one-cycle schedules whose lengths count optimizer
/// steps. The step is a function of the epoch and batch, so a resumed run goes on with the
/// same rates and the scheduler has no state to save.
///
/// ```
/// use ferrograd::data::synthetic::make_moons;
/// use ferrograd::nn::{Linear, ModuleExt, init};
/// use ferrograd::optim::{Optimizer, Sgd, schedule::OneCycle};
/// use ferrograd::nn::loss::CrossEntropy;
/// use ferrograd::train::{FitOptions, callbacks::LrScheduler, fit};
/// let model = Linear::<f32>::new(2, 2, &mut init::rng(0));
/// let mut opt = Optimizer::new(model.parameters(), Sgd::new(0.1));
/// // 4 epochs of 64 / 16 = 4 batches: one cycle over 16 steps.
/// let mut sched = LrScheduler::new(OneCycle::new(16)).per_batch(true);
/// let options = FitOptions::new().epochs(4).batch_size(16);
/// fit(&model, CrossEntropy::new(), &mut opt, &make_moons(64, 0.1, 0), options, &mut [&mut sched]).unwrap();
/// assert!(opt.lr() < 1e-5); // the cycle's end, max_lr / 25 / 1e4
/// ```
pub struct LrScheduler<S> {
    schedule: S,
    per_batch: bool,
}

impl<S: LrSchedule> LrScheduler<S> {
    /// Steps `schedule` once per epoch.
    pub fn new(schedule: S) -> Self {
        LrScheduler {
            schedule,
            per_batch: false,
        }
    }

    /// Steps the schedule before every batch (`yes`) or every epoch (the default).
    pub fn per_batch(mut self, yes: bool) -> Self {
        self.per_batch = yes;
        self
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }
}

impl<T: Float, S: LrSchedule> Callback<T> for LrScheduler<S> {
    fn on_epoch_begin(
        &mut self,
        epoch: usize,
        ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        if !self.per_batch {
            ctx.set_lr(self.schedule.lr(ctx.initial_lr(), epoch));
        }
        Ok(())
    }

    fn on_batch_begin(&mut self, _: usize, ctx: &mut Context<'_, T>) -> Result<(), CallbackError> {
        if self.per_batch {
            ctx.set_lr(self.schedule.lr(ctx.initial_lr(), ctx.step()));
        }
        Ok(())
    }
}

/// Saves the model (safetensors) after an epoch: every epoch, or only when `monitor`
/// improves (`save_best_only`). The file is written under a temporary name and renamed, so
/// it is never half-written. In data-parallel training only rank 0 writes it.
pub struct ModelCheckpoint {
    path: PathBuf,
    monitor: String,
    mode: MonitorMode,
    save_best_only: bool,
    best: f64,
}

impl ModelCheckpoint {
    /// Saves to `path` when `monitor` reaches a new best in `mode`.
    pub fn best_only(path: impl Into<PathBuf>, monitor: &str, mode: MonitorMode) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor: monitor.to_string(),
            mode,
            save_best_only: true,
            best: if mode == MonitorMode::Min {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            },
        }
    }

    /// Saves to `path` after every epoch.
    pub fn every_epoch(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint {
            save_best_only: false,
            ..Self::best_only(path, "loss", MonitorMode::Min)
        }
    }
}

impl<T: Float> Callback<T> for ModelCheckpoint {
    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        if self.save_best_only {
            let value = monitored(logs, &self.monitor)?;
            let better = match self.mode {
                MonitorMode::Min => value < self.best,
                MonitorMode::Max => value > self.best,
            };
            if !better {
                return Ok(());
            }
            self.best = value;
        }
        if !ctx.is_main() {
            return Ok(());
        }
        Ok(ctx.model().save(&self.path)?)
    }

    fn save_state(&self, state: &mut CallbackState) {
        state.set("best", self.best);
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), CallbackError> {
        self.best = state.get("best")?;
        Ok(())
    }
}

/// Appends each epoch's logs to a CSV file with a header (Keras' `CSVLogger`); the file is
/// created (or truncated) at the first epoch. In a [training backup](crate::FitOptions::backup)
/// it records the columns and the file's length, and a resumed run cuts off the rows written
/// after the backup, so the file ends as that of a run that never stopped. In data-parallel
/// training only rank 0 writes it.
pub struct CsvLogger {
    path: PathBuf,
    columns: Option<Vec<String>>,
    /// The file's length after the last row written.
    len: u64,
}

impl CsvLogger {
    /// Logs to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger {
            path: path.into(),
            columns: None,
            len: 0,
        }
    }
}

impl<T: Float> Callback<T> for CsvLogger {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        if !ctx.is_main() {
            return Ok(());
        }
        let err = |source| CallbackError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = if self.columns.is_none() {
            let columns: Vec<String> = logs.keys().cloned().collect();
            let mut f = std::fs::File::create(&self.path).map_err(err)?;
            writeln!(f, "epoch,{}", columns.join(",")).map_err(err)?;
            self.columns = Some(columns);
            f
        } else {
            let f = std::fs::OpenOptions::new()
                .append(true)
                .open(&self.path)
                .map_err(err)?;
            // Rows past the last one this logger wrote are from epochs a resumed run redoes.
            if f.metadata().map_err(err)?.len() > self.len {
                f.set_len(self.len).map_err(err)?;
            }
            f
        };
        let row: Vec<String> = self
            .columns
            .iter()
            .flatten()
            .map(|c| logs.get(c).map_or(String::new(), |v| v.to_string()))
            .collect();
        writeln!(file, "{epoch},{}", row.join(",")).map_err(err)?;
        self.len = file.metadata().map_err(err)?.len();
        Ok(())
    }

    fn save_state(&self, state: &mut CallbackState) {
        if let Some(columns) = &self.columns {
            state.set("columns", serde_json::json!(columns));
            state.set("len", self.len);
        }
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), CallbackError> {
        let Some(columns) = state.get_opt::<String>("columns")? else {
            *self = CsvLogger::new(self.path.clone());
            return Ok(());
        };
        let columns: Vec<String> =
            serde_json::from_str(&columns).map_err(|_| StateError::Invalid {
                key: "columns".into(),
                value: columns.clone(),
                expected: "JSON list of names",
            })?;
        let len: u64 = state.get("len")?;
        let now = std::fs::metadata(&self.path)
            .map_err(|source| CallbackError::Io {
                path: self.path.clone(),
                source,
            })?
            .len();
        if now < len {
            return Err(CallbackError::Truncated {
                path: self.path.clone(),
                len: now,
                expected: len,
            });
        }
        (self.columns, self.len) = (Some(columns), len);
        Ok(())
    }
}

/// Stops training after an epoch whose logs hold a NaN or infinite value (a diverging
/// validation loss, say); a non-finite training loss already stops [`fit`](crate::fit)
/// with an error.
pub struct TerminateOnNaN;

impl<T: Float> Callback<T> for TerminateOnNaN {
    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut Context<'_, T>,
    ) -> Result<(), CallbackError> {
        if logs.values().any(|v| !v.is_finite()) {
            ctx.stop_training();
        }
        Ok(())
    }
}
