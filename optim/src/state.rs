//! [`CallbackState`]: the keyed state through which a stateful training rule
//! ([`EarlyStopping`](crate::EarlyStopping),
//! [`ReduceLrOnPlateau`](crate::schedule::ReduceLrOnPlateau), a callback of
//! `ferrograd_train`) is saved into a training backup and restored from it.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use ferrograd_autograd::{Float, Tensor};

use crate::error::StateError;

/// What a stateful training rule (early stopping, a plateau schedule, a callback of
/// `ferrograd_train`) saves in a training backup so that it continues after a resume as
/// if training had not stopped: named values (anything with `Display` and `FromStr` that
/// round-trips, such as integers and `f64`) and named lists of tensors (best weights).
///
/// ```
/// use ferrograd::optim::CallbackState;
/// let mut state = CallbackState::default();
/// state.set("best", f64::INFINITY);
/// state.set("wait", 3usize);
/// assert_eq!(state.get::<f64>("best"), Ok(f64::INFINITY));
/// assert_eq!(state.get_opt::<usize>("best_epoch"), Ok(None));
/// assert_eq!(
///     state.get::<usize>("best").unwrap_err().to_string(),
///     "`best` = \"inf\" is not a valid usize"
/// );
/// assert_eq!(state.values().collect::<Vec<_>>(), [("best", "inf"), ("wait", "3")]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallbackState {
    values: BTreeMap<String, String>,
    /// Kept as f64, which holds an f32 tensor exactly: one state serves both float types.
    tensors: BTreeMap<String, Vec<Tensor<f64>>>,
}

impl CallbackState {
    /// Records `value` under `key` (its `Display` form).
    pub fn set(&mut self, key: &str, value: impl Display) {
        self.values.insert(key.to_string(), value.to_string());
    }

    /// The value under `key`.
    ///
    /// # Errors
    /// [`StateError::Missing`] if there is none, [`StateError::Invalid`] if it does not
    /// parse as a `V`; both name `key`.
    pub fn get<V: FromStr>(&self, key: &str) -> Result<V, StateError> {
        self.get_opt(key)?.ok_or_else(|| StateError::Missing {
            key: key.to_string(),
        })
    }

    /// The value under `key`, or `None` if there is none (an optional value is recorded
    /// only when it is `Some`).
    ///
    /// # Errors
    /// [`StateError::Invalid`] naming `key` if it does not parse as a `V`.
    pub fn get_opt<V: FromStr>(&self, key: &str) -> Result<Option<V>, StateError> {
        let Some(text) = self.values.get(key) else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| StateError::Invalid {
            key: key.to_string(),
            value: text.clone(),
            expected: std::any::type_name::<V>(),
        })
    }

    /// Every recorded value as `(key, text)`, in key order: what a backup writes.
    pub fn values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Records a list of tensors (of either float type) under `key`.
    pub fn set_tensors<T: Float>(&mut self, key: &str, tensors: Vec<Tensor<T>>) {
        let exact = tensors.iter().map(Tensor::cast).collect();
        self.tensors.insert(key.to_string(), exact);
    }

    /// The tensors under `key` as `T`, if any were recorded (exactly as recorded when
    /// they were recorded as `T`).
    pub fn tensors<T: Float>(&self, key: &str) -> Option<Vec<Tensor<T>>> {
        self.tensors
            .get(key)
            .map(|list| list.iter().map(Tensor::cast).collect())
    }

    /// Every recorded list of tensors as `(key, tensors)`, in key order: what a backup
    /// writes.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use ferrograd::optim::CallbackState;
    /// let mut state = CallbackState::default();
    /// state.set_tensors("best_weights", vec![Tensor::<f32>::zeros(&[2]), Tensor::ones(&[1])]);
    /// let lists: Vec<(&str, usize)> = state.tensor_lists().map(|(k, t)| (k, t.len())).collect();
    /// assert_eq!(lists, [("best_weights", 2)]);
    /// ```
    pub fn tensor_lists(&self) -> impl Iterator<Item = (&str, &[Tensor<f64>])> {
        self.tensors.iter().map(|(k, t)| (k.as_str(), t.as_slice()))
    }
}
