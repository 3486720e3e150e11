//! The errors of this crate: [`TrainError`], the error that ends [`fit`](crate::fit);
//! [`CallbackError`], what a [`Callback`](crate::Callback) fails with; and [`PlotError`],
//! from [`History::plot`](crate::History::plot).

use std::path::PathBuf;

use ferrograd_optim::{NonFiniteKind, OptimizerError, StateError};

/// An error that ends training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error("the loss is {value} at epoch {epoch}, batch {batch}: training stopped")]
    NonFinite {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// The loss value.
        value: f64,
    },
    /// A gradient became NaN or infinite; the update was not applied, so the weights are
    /// those from before the batch (the gradients are kept for inspection).
    #[error(
        "the gradient of `{parameter}` holds {kind} at element {element:?} at epoch {epoch}, batch {batch}: training stopped before the update"
    )]
    NonFiniteGradient {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// The first offending parameter's name in the model (`0.weight`), in the optimizer's
        /// order; `optimizer parameter 3` for one the model does not hold.
        parameter: String,
        /// The index of its first non-finite element.
        element: Vec<usize>,
        /// NaN or inf.
        kind: NonFiniteKind,
    },
    /// Anomaly mode ([`FitOptions::detect_anomaly`](crate::FitOptions::detect_anomaly)) found
    /// the first op that produced a NaN or an infinity; `message` names the op, its shapes,
    /// forward or backward, and the line that called it. The update was not applied.
    #[error("epoch {epoch}, batch {batch}: {message}")]
    Anomaly {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// The anomaly report (it starts with `anomaly: `).
        message: String,
    },
    /// A dataset that `fit` or `evaluate` needs has no samples.
    #[error("{op}: no {}samples ({reason})", .data.map_or(String::new(), |d| format!("{d} ")))]
    NoSamples {
        /// `"fit"` or `"evaluate"`.
        op: &'static str,
        /// Which of `fit`'s datasets: `"training"` or `"validation"`.
        data: Option<&'static str>,
        /// Why: the dataset is empty, or a validation split left no rows.
        reason: String,
    },
    /// The optimizer's step failed (e.g. no parameter got a gradient).
    #[error("epoch {epoch}, batch {batch}: {source}")]
    Step {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// What the optimizer reported.
        source: OptimizerError,
    },
    /// A callback failed (e.g. a checkpoint could not be written, or the metric it
    /// monitors is not logged).
    #[error("epoch {epoch}: callback {index} ({callback}) failed in {hook}: {source}")]
    Callback {
        /// The epoch.
        epoch: usize,
        /// The callback's index in the list given to [`fit`](crate::fit).
        index: usize,
        /// Its [name](crate::Callback::name) (`EarlyStopping`).
        callback: String,
        /// The hook that failed: `on_train_begin`, `on_epoch_begin`, `on_batch_begin`,
        /// `on_batch_end`, `on_epoch_end` or `on_train_end`.
        hook: &'static str,
        /// What the callback reported (boxed: it can be large, and `TrainError` travels
        /// in every `Result` of the training loop).
        source: Box<CallbackError>,
    },
    /// A training backup ([`FitOptions::backup`](crate::FitOptions::backup)) could not be
    /// restored (then `fit` changed nothing) or written (the previous backup is intact).
    #[error("fit backup: {message}")]
    Backup {
        /// What went wrong, naming the file.
        message: String,
    },
    /// In data-parallel training ([`FitOptions::distributed`](crate::FitOptions::distributed)),
    /// another rank failed (its error is `message`): every rank stops at the same batch,
    /// before the update, with this error or the failing rank's own.
    #[error("rank {rank} failed: {message}")]
    RankFailed {
        /// The rank that failed (the lowest, when several did).
        rank: usize,
        /// Its error.
        message: String,
    },
    /// A collective of data-parallel training failed: the ranks hold different models, a
    /// rank left the group, or the transport failed.
    #[error("data-parallel training: {0}")]
    Distributed(#[from] crate::distributed::CommError),
}

/// What a [`Callback`](crate::Callback) fails with. Your own callbacks fail with
/// [`CallbackError::Custom`], built from any error or message with `.into()` or
/// [`CallbackError::custom`].
///
/// ```
/// use ferrograd::train::CallbackError;
/// let err: CallbackError = "the disk is full".into();
/// assert_eq!(err.to_string(), "the disk is full");
/// let io = std::io::Error::other("denied");
/// assert_eq!(CallbackError::custom(io).to_string(), "denied");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The metric a callback monitors is not in the epoch's logs (a `val_` metric without
    /// validation data, or a misspelt name).
    #[error("monitored metric `{metric}` is not in the logs (available: {available:?})")]
    MissingMetric {
        /// The metric asked for.
        metric: String,
        /// The keys the logs hold.
        available: Vec<String>,
    },
    /// A saved state ([`Callback::load_state`](crate::Callback::load_state)) lacks a value
    /// or holds a malformed one; the error names the key.
    #[error(transparent)]
    State(#[from] StateError),
    /// A file the callback writes or reads (a CSV log) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is shorter than it was when the state was saved (a CSV log cut after the
    /// backup), so the run cannot go on from that state.
    #[error("{}: the file is {len} bytes, shorter than the {expected} it had at the backup", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length now.
        len: u64,
        /// Its length at the backup.
        expected: u64,
    },
    /// Saving the model failed ([`ModelCheckpoint`](crate::callbacks::ModelCheckpoint));
    /// the error names the file.
    #[error(transparent)]
    Save(#[from] ferrograd_nn::serialize::Error),
    /// The error of a user's callback.
    #[error(transparent)]
    Custom(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl CallbackError {
    /// A [`CallbackError::Custom`] from any error, or from a message (`&str`, `String`).
    pub fn custom(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        CallbackError::Custom(error.into())
    }
}

impl From<&str> for CallbackError {
    fn from(message: &str) -> Self {
        CallbackError::custom(message)
    }
}

impl From<String> for CallbackError {
    fn from(message: String) -> Self {
        CallbackError::custom(message)
    }
}

/// Why [`History::plot`](crate::History::plot) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The history has no epochs, or no key but `val_` ones: there is nothing to plot.
    #[error("{}: the history is empty", path.display())]
    Empty {
        /// The file that was to be written.
        path: PathBuf,
    },
    /// The SVG file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The plotting backend failed otherwise (a font, the layout).
    #[error("{}: {source}", path.display())]
    Backend {
        /// The file.
        path: PathBuf,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}
