//! The errors of this crate: [`OptimizerError`] from an optimizer or clipping,
//! [`StateError`] from reading a [`CallbackState`](crate::CallbackState), and
//! [`NonFiniteKind`], which says how a value is not finite.

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
    /// use ferrograd::optim::NonFiniteKind;
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
    /// A saved state's learning rate (`lr` or `initial_lr`) is negative, NaN or infinite.
    #[error("{optimizer}: the state's {field} must be a non-negative number, got {lr}")]
    StateLr {
        /// The optimizer's name.
        optimizer: &'static str,
        /// Which rate: `lr` or `initial_lr`.
        field: &'static str,
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

/// An error reading a value back from a [`CallbackState`](crate::CallbackState) (what
/// [`EarlyStopping::load_state`](crate::EarlyStopping::load_state),
/// [`ReduceLrOnPlateau::load_state`](crate::schedule::ReduceLrOnPlateau::load_state) and a
/// training backup's callbacks report): the value is missing or does not parse.
///
/// ```
/// use ferrograd::optim::{CallbackState, StateError};
/// let mut state = CallbackState::default();
/// state.set("wait", "soon");
/// let err = state.get::<usize>("wait").unwrap_err();
/// assert!(matches!(&err, StateError::Invalid { key, .. } if key == "wait"));
/// assert_eq!(err.to_string(), "`wait` = \"soon\" is not a valid usize");
/// assert_eq!(state.get::<f64>("best").unwrap_err().to_string(), "`best` is missing");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// No value is recorded under `key`.
    #[error("`{key}` is missing")]
    Missing {
        /// The key asked for.
        key: String,
    },
    /// The value under `key` is not a valid `expected`.
    #[error("`{key}` = {value:?} is not a valid {expected}")]
    Invalid {
        /// The key asked for.
        key: String,
        /// The recorded text.
        value: String,
        /// What it should have been (a type name such as `usize`, or a description such
        /// as `JSON list of names`).
        expected: &'static str,
    },
}
