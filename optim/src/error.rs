//! The errors of this crate: [`OptimizerError`] from an optimizer or clipping, and
//! [`TrainError`], which ends [`fit`](crate::fit).

use std::fmt;

/// Whether a value is NaN or infinite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFiniteKind {
    /// Not a number.
    NaN,
    /// Positive or negative infinity.
    Inf,
}

impl NonFiniteKind {
    /// The kind of `v`, or `None` if it is finite.
    ///
    /// ```
    /// use ferrograd_optim::NonFiniteKind;
    /// assert_eq!(NonFiniteKind::of(f64::NEG_INFINITY), Some(NonFiniteKind::Inf));
    /// assert_eq!(NonFiniteKind::of(1.0), None);
    /// ```
    pub fn of(v: f64) -> Option<Self> {
        if v.is_nan() {
            Some(NonFiniteKind::NaN)
        } else if v.is_infinite() {
            Some(NonFiniteKind::Inf)
        } else {
            None
        }
    }
}

impl fmt::Display for NonFiniteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonFiniteKind::NaN => "NaN",
            NonFiniteKind::Inf => "inf",
        })
    }
}

/// An error from an [`Optimizer`](crate::Optimizer) or from gradient clipping.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizerError {
    /// A step found no gradient on any trainable parameter (Keras: "No gradients provided
    /// for any variable"): backward was not called, or the optimizer was built over another
    /// model's parameters.
    #[error(
        "{optimizer}: none of its {params} trainable parameters has a gradient; was backward called on a loss of the model whose parameters this optimizer holds?"
    )]
    NoGradient {
        /// The optimizer's name (`"Adam"`).
        optimizer: &'static str,
        /// How many trainable parameters it holds.
        params: usize,
    },
    /// A saved state holds another number of parameters than the optimizer.
    #[error("{optimizer}: the state holds {state} parameters, the optimizer has {params}")]
    StateLength {
        /// The optimizer's name.
        optimizer: &'static str,
        /// Parameters in the state.
        state: usize,
        /// Parameters in the optimizer.
        params: usize,
    },
    /// A saved buffer's shape differs from its parameter's.
    #[error("{optimizer}: parameter {index} has shape {param:?}, its state buffer {buffer:?}")]
    StateShape {
        /// The optimizer's name.
        optimizer: &'static str,
        /// The parameter's index (groups in order).
        index: usize,
        /// The parameter's shape.
        param: Vec<usize>,
        /// The buffer's shape.
        buffer: Vec<usize>,
    },
    /// A saved state holds, for one parameter, another number of buffers than the rule keeps
    /// in its configuration ([`Rule::state_len`](crate::Rule::state_len): Adam keeps 2,
    /// AMSGrad 3), e.g. a state saved from an optimizer configured otherwise.
    #[error(
        "{optimizer}: the state holds {buffers} buffers for parameter {index}, the optimizer keeps {expected} (or none before its first update)"
    )]
    StateBuffers {
        /// The optimizer's name.
        optimizer: &'static str,
        /// The parameter's index (groups in order).
        index: usize,
        /// Buffers in the state.
        buffers: usize,
        /// Buffers the rule keeps per parameter.
        expected: usize,
    },
    /// A saved state's learning rate is negative, NaN or infinite.
    #[error("{optimizer}: the state's lr must be a non-negative number, got {lr}")]
    StateLr {
        /// The optimizer's name.
        optimizer: &'static str,
        /// The learning rate in the state.
        lr: f64,
    },
    /// A saved buffer holds NaN or an infinity.
    #[error("{optimizer}: state buffer {buffer} of parameter {index} holds {kind}")]
    StateNonFinite {
        /// The optimizer's name.
        optimizer: &'static str,
        /// The parameter's index (groups in order).
        index: usize,
        /// The buffer's index among the parameter's buffers.
        buffer: usize,
        /// NaN or inf.
        kind: NonFiniteKind,
    },
    /// The total gradient norm is NaN or infinite and
    /// [`ClipGradNorm::error_if_nonfinite`](crate::ClipGradNorm::error_if_nonfinite) is on.
    #[error(
        "clip_grad_norm: the total gradient norm is {norm}, so it cannot be clipped; the gradients are left as they were"
    )]
    NonFiniteNorm {
        /// The norm.
        norm: f64,
    },
}

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
