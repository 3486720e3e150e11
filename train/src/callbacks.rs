//! Callbacks: the [`Callback`] hooks of [`fit`](crate::fit), the [`Context`] they act on
//! and the [`Logs`] they read, and the Keras callbacks built on them: early stopping,
//! plateau and scheduled learning rates, checkpoints, a CSV log, and stopping on NaN.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use ferrograd_nn::{Module, ModuleExt};
use ferrograd_optim::schedule::{LrSchedule, MonitorMode, ReduceLrOnPlateau};
use ferrograd_optim::{CallbackState, EarlyStopping, StateError};

pub use crate::error::CallbackError;

/// One epoch's logs: `loss`, the metrics, `val_`-prefixed validation values, and `lr`.
pub type Logs = BTreeMap<String, f64>;

/// What a callback may read and change at the end of an epoch.
pub struct Context<'a> {
    model: &'a dyn Module<f32>,
    lr: f64,
    stop: bool,
}

impl<'a> Context<'a> {
    /// The context of an epoch of training `model` at learning rate `lr`.
    pub(crate) fn new(model: &'a dyn Module<f32>, lr: f64) -> Self {
        Context {
            model,
            lr,
            stop: false,
        }
    }

    /// Whether a callback asked to end training.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop
    }

    /// The model being trained.
    pub fn model(&self) -> &dyn Module<f32> {
        self.model
    }

    /// The optimizer's learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the optimizer's learning rate from the next batch on.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Ends training after this epoch.
    pub fn stop_training(&mut self) {
        self.stop = true;
    }
}

/// Hooks into [`fit`](crate::fit), as Keras callbacks. A hook that fails ends `fit` with
/// [`TrainError::Callback`](crate::TrainError::Callback), which names the epoch, the
/// callback and the hook.
///
/// ```
/// use ferrograd_data::synthetic::make_moons;
/// use ferrograd_nn::{Linear, ModuleExt, init};
/// use ferrograd_optim::{Optimizer, Sgd};
/// use ferrograd_train::{Callback, CallbackError, Context, FitOptions, Logs, Loss, TrainError, fit};
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
/// let err = fit(&model, &Loss::cross_entropy(), &mut opt, &data, FitOptions::new(), &mut [&mut LossLimit(0.0)])
///     .unwrap_err();
/// assert!(matches!(&err, TrainError::Callback { epoch: 0, index: 0, hook: "on_epoch_end", .. }));
/// assert!(err.to_string().starts_with("epoch 0: callback 0 (LossLimit) failed in on_epoch_end: loss "));
/// ```
pub trait Callback {
    /// The callback's name in errors (the type name without its path and generics by
    /// default: `EarlyStoppingCallback`, `LrScheduler`).
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// Before epoch `epoch` (a schedule sets the learning rate here).
    fn on_epoch_begin(
        &mut self,
        _epoch: usize,
        _ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }

    /// After epoch `epoch`, with its logs.
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError>;

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

/// [`EarlyStopping`] on a logged metric (`"val_loss"` by default in Keras).
///
/// ```
/// use ferrograd_optim::{EarlyStopping, schedule::MonitorMode};
/// use ferrograd_train::callbacks::EarlyStoppingCallback;
/// let cb = EarlyStoppingCallback::new("val_loss", EarlyStopping::new(MonitorMode::Min).patience(3).restore_best_weights(true));
/// # let _ = cb;
/// ```
pub struct EarlyStoppingCallback {
    monitor: String,
    inner: EarlyStopping<f32>,
}

impl EarlyStoppingCallback {
    /// Watches `monitor` with the rule `inner`.
    pub fn new(monitor: &str, inner: EarlyStopping<f32>) -> Self {
        EarlyStoppingCallback {
            monitor: monitor.to_string(),
            inner,
        }
    }

    /// The rule's state (best value and epoch, stopped epoch).
    pub fn state(&self) -> &EarlyStopping<f32> {
        &self.inner
    }
}

impl Callback for EarlyStoppingCallback {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        let value = monitored(logs, &self.monitor)?;
        if self.inner.update(epoch, value, &ctx.model().parameters()) {
            ctx.stop_training();
        }
        Ok(())
    }

    fn save_state(&self, state: &mut CallbackState) {
        self.inner.save_state(state);
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), CallbackError> {
        Ok(self.inner.load_state(state)?)
    }
}

/// [`ReduceLrOnPlateau`] on a logged metric.
pub struct ReduceLrOnPlateauCallback {
    monitor: String,
    inner: ReduceLrOnPlateau,
}

impl ReduceLrOnPlateauCallback {
    /// Watches `monitor` with the rule `inner`.
    pub fn new(monitor: &str, inner: ReduceLrOnPlateau) -> Self {
        ReduceLrOnPlateauCallback {
            monitor: monitor.to_string(),
            inner,
        }
    }
}

impl Callback for ReduceLrOnPlateauCallback {
    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        let value = monitored(logs, &self.monitor)?;
        let lr = self.inner.step(value, ctx.lr());
        ctx.set_lr(lr);
        Ok(())
    }

    fn save_state(&self, state: &mut CallbackState) {
        self.inner.save_state(state);
    }

    fn load_state(&mut self, state: &CallbackState) -> Result<(), CallbackError> {
        Ok(self.inner.load_state(state)?)
    }
}

/// Sets the learning rate from a schedule at the start of every epoch (Keras'
/// `LearningRateScheduler`).
pub struct LrScheduler<S>(pub S);

impl<S: LrSchedule> Callback for LrScheduler<S> {
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut Context<'_>) -> Result<(), CallbackError> {
        ctx.set_lr(self.0.lr(epoch));
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _: usize,
        _: &Logs,
        _: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        Ok(())
    }
}

/// Saves the model (safetensors) after an epoch: every epoch, or only when `monitor`
/// improves (`save_best_only`). The file is written under a temporary name and renamed, so
/// it is never half-written.
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

impl Callback for ModelCheckpoint {
    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
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
/// after the backup, so the file ends as that of a run that never stopped.
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

impl Callback for CsvLogger {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
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

impl Callback for TerminateOnNaN {
    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), CallbackError> {
        if logs.values().any(|v| !v.is_finite()) {
            ctx.stop_training();
        }
        Ok(())
    }
}
