//! [`TrainError`], the error that ends [`fit`](crate::fit).

use ferrograd_optim::{NonFiniteKind, OptimizerError};

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
    /// A callback failed (e.g. a checkpoint could not be written).
    #[error("callback at epoch {epoch}: {message}")]
    Callback {
        /// The epoch.
        epoch: usize,
        /// What went wrong.
        message: String,
    },
    /// A training backup ([`FitOptions::backup`](crate::FitOptions::backup)) could not be
    /// restored (then `fit` changed nothing) or written (the previous backup is intact).
    #[error("fit backup: {message}")]
    Backup {
        /// What went wrong, naming the file.
        message: String,
    },
}
