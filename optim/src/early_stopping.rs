//! Early stopping with Keras' semantics, usable from a hand-written loop.

use ferrograd_autograd::{Float, Param, Tensor};

use crate::schedule::MonitorMode;
use crate::state::CallbackState;

/// Stops training when a monitored metric has not improved for `patience` epochs, as
/// `keras.callbacks.EarlyStopping`:
///
/// - an epoch improves when the value beats the best so far by more than `min_delta`
///   (below it in [`MonitorMode::Min`], above in [`MonitorMode::Max`]);
/// - with a `baseline`, the wait only resets on values that also beat the baseline;
/// - epochs before `start_from_epoch` are ignored;
/// - with `restore_best_weights`, the best epoch's parameters are kept and put back when it
///   stops (Keras keeps the first monitored epoch's weights until something improves). As
///   in Keras, they are put back only when it stops: if every epoch runs, the last epoch's
///   weights stay; restore the best then with [`EarlyStopping::restore`].
///
/// In a hand-written loop you pass the monitored value to [`EarlyStopping::update`]
/// yourself; used as a `ferrograd_train` callback, it reads the metric named by
/// [`EarlyStopping::monitor`] (`"val_loss"` by default) from each epoch's logs.
///
/// ```
/// use ferrograd::autograd::{Param, Tensor};
/// use ferrograd::optim::EarlyStopping;
/// use ferrograd::optim::schedule::MonitorMode;
/// let w = Param::new(Tensor::from_vec(vec![0.0f32], &[1]));
/// let mut stop = EarlyStopping::new(MonitorMode::Min).patience(2).restore_best_weights(true);
/// let losses = [1.0, 0.5, 0.6, 0.7, 0.4];
/// let mut stopped_at = None;
/// for (epoch, &loss) in losses.iter().enumerate() {
///     w.set_value(Tensor::from_vec(vec![epoch as f32], &[1])); // "training"
///     if stop.update(epoch, loss, std::slice::from_ref(&w)) {
///         stopped_at = Some(epoch);
///         break;
///     }
/// }
/// assert_eq!(stopped_at, Some(3));
/// assert_eq!(w.value().item(), 1.0); // the weights of the best epoch (loss 0.5)
/// ```
#[derive(Clone, Debug)]
pub struct EarlyStopping<T: Float = f32> {
    monitor: String,
    mode: MonitorMode,
    min_delta: f64,
    patience: usize,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    best: f64,
    best_epoch: Option<usize>,
    wait: usize,
    stopped_epoch: Option<usize>,
    best_weights: Option<Vec<Tensor<T>>>,
}

impl<T: Float> EarlyStopping<T> {
    /// Keras' defaults: monitor `"val_loss"`, `min_delta` 0, `patience` 0, no baseline, no
    /// restoring, start at 0.
    pub fn new(mode: MonitorMode) -> Self {
        EarlyStopping {
            monitor: "val_loss".to_string(),
            mode,
            min_delta: 0.0,
            patience: 0,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            best: if mode == MonitorMode::Min {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            },
            best_epoch: None,
            wait: 0,
            stopped_epoch: None,
            best_weights: None,
        }
    }

    /// The name of the logged metric to watch when used as a callback of
    /// `ferrograd_train::fit` (Keras' `monitor`; default `"val_loss"`). A hand-written loop
    /// ignores it: it passes the value to [`EarlyStopping::update`] itself. There is no
    /// fallback: when the logs lack the metric (`val_loss` without validation data), `fit`
    /// fails with an error naming the metric and the logged ones, rather than silently
    /// watching another.
    ///
    /// ```
    /// use ferrograd::optim::{EarlyStopping, schedule::MonitorMode};
    /// let stop = EarlyStopping::<f32>::new(MonitorMode::Max).monitor("val_accuracy");
    /// assert_eq!(stop.monitored(), "val_accuracy");
    /// assert_eq!(EarlyStopping::<f32>::new(MonitorMode::Min).monitored(), "val_loss");
    /// ```
    pub fn monitor(mut self, metric: &str) -> Self {
        self.monitor = metric.to_string();
        self
    }

    /// The name of the metric it watches as a callback (see [`EarlyStopping::monitor`]).
    pub fn monitored(&self) -> &str {
        &self.monitor
    }

    /// The least change that counts as an improvement.
    ///
    /// # Panics
    /// If `min_delta` is negative or NaN.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        assert!(
            min_delta >= 0.0,
            "EarlyStopping: min_delta must be non-negative, got {min_delta}"
        );
        self.min_delta = min_delta;
        self
    }

    /// Epochs without improvement before stopping.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// A value the metric must beat for the wait to reset.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Keeps the best epoch's parameters and restores them on stopping.
    pub fn restore_best_weights(mut self, yes: bool) -> Self {
        self.restore_best_weights = yes;
        self
    }

    /// Ignores the epochs before `epoch` (a warm-up).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    fn improves(&self, value: f64, reference: f64) -> bool {
        match self.mode {
            MonitorMode::Min => value + self.min_delta < reference,
            MonitorMode::Max => value - self.min_delta > reference,
        }
    }

    /// Records `epoch`'s `value` of the monitored metric; `params` are the model's
    /// parameters (for `restore_best_weights`). Returns `true` when training should stop,
    /// after restoring the best weights if asked.
    pub fn update(&mut self, epoch: usize, value: f64, params: &[Param<T>]) -> bool {
        if epoch < self.start_from_epoch || value.is_nan() {
            return false;
        }
        let snapshot = || params.iter().map(Param::value).collect::<Vec<_>>();
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(snapshot());
        }
        self.wait += 1;
        if self.improves(value, self.best) {
            self.best = value;
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                self.best_weights = Some(snapshot());
            }
            if self.baseline.is_none_or(|b| self.improves(value, b)) {
                self.wait = 0;
            }
            return false;
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            self.restore(params);
            return true;
        }
        false
    }

    /// Puts the best epoch's weights back into `params` (those given to
    /// [`update`](EarlyStopping::update)), as a stop does; returns whether there were any
    /// (`restore_best_weights` on and an epoch recorded). For a run that ended without
    /// stopping: the last epoch's weights are not always the best.
    ///
    /// ```
    /// use ferrograd::autograd::{Param, Tensor};
    /// use ferrograd::optim::EarlyStopping;
    /// use ferrograd::optim::schedule::MonitorMode;
    /// let w = Param::new(Tensor::from_vec(vec![0.0f32], &[1]));
    /// let mut stop = EarlyStopping::new(MonitorMode::Min).patience(5).restore_best_weights(true);
    /// for (epoch, loss) in [0.9, 0.4, 0.6].into_iter().enumerate() {
    ///     w.set_value(Tensor::from_vec(vec![epoch as f32], &[1]));
    ///     assert!(!stop.update(epoch, loss, std::slice::from_ref(&w))); // never stops
    /// }
    /// assert!(stop.restore(std::slice::from_ref(&w)));
    /// assert_eq!(w.value().item(), 1.0); // epoch 1's weights
    /// ```
    pub fn restore(&self, params: &[Param<T>]) -> bool {
        match (self.restore_best_weights, &self.best_weights) {
            (true, Some(best)) => {
                for (p, v) in params.iter().zip(best) {
                    p.set_value(v.clone());
                }
                true
            }
            _ => false,
        }
    }

    /// The best value seen.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// The epoch of the best value.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The epoch at which it asked to stop.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }
}

impl<T: Float> EarlyStopping<T> {
    /// Records the progress (best value and epoch, wait, stopped epoch, best weights; not
    /// the settings, which the caller builds again) into `state`: what a training backup
    /// keeps, and what a hand-written loop saves to resume.
    pub fn save_state(&self, state: &mut CallbackState) {
        state.set("best", self.best);
        state.set("wait", self.wait);
        if let Some(e) = self.best_epoch {
            state.set("best_epoch", e);
        }
        if let Some(e) = self.stopped_epoch {
            state.set("stopped_epoch", e);
        }
        if let Some(w) = &self.best_weights {
            state.set_tensors("best_weights", w.clone());
        }
    }

    /// Restores [`EarlyStopping::save_state`]'s record, all of it or (on an error) none.
    ///
    /// # Errors
    /// A [`StateError`](crate::StateError) naming the key if `state` lacks a value or
    /// holds a malformed one; then nothing is changed.
    pub fn load_state(&mut self, state: &CallbackState) -> Result<(), crate::StateError> {
        let (best, wait) = (state.get("best")?, state.get("wait")?);
        let (best_epoch, stopped_epoch) = (
            state.get_opt("best_epoch")?,
            state.get_opt("stopped_epoch")?,
        );
        self.best_weights = state.tensors("best_weights");
        (self.best, self.wait, self.best_epoch, self.stopped_epoch) =
            (best, wait, best_epoch, stopped_epoch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The epoch at which a stopper fed `values` stops, if it does.
    fn stop_epoch(mut es: EarlyStopping<f32>, values: &[f64]) -> Option<usize> {
        values
            .iter()
            .enumerate()
            .find_map(|(e, &v)| es.update(e, v, &[]).then_some(e))
    }

    #[test]
    fn patience_and_min_delta_follow_keras() {
        // Keras: EarlyStopping(patience=2) on [1, .9, .95, .96] stops at epoch 3.
        assert_eq!(
            stop_epoch(
                EarlyStopping::new(MonitorMode::Min).patience(2),
                &[1.0, 0.9, 0.95, 0.96, 0.5]
            ),
            Some(3)
        );
        // An improvement smaller than min_delta does not reset the wait.
        assert_eq!(
            stop_epoch(
                EarlyStopping::new(MonitorMode::Min)
                    .patience(2)
                    .min_delta(0.1),
                &[1.0, 0.95, 0.92, 0.8]
            ),
            Some(2)
        );
        // patience 0 stops at the first epoch without improvement.
        assert_eq!(
            stop_epoch(
                EarlyStopping::new(MonitorMode::Max).patience(0),
                &[0.5, 0.6, 0.6]
            ),
            Some(2)
        );
    }

    #[test]
    fn baseline_must_be_beaten_to_reset_the_wait() {
        // Improving but never below the baseline 0.5: the wait keeps growing, so the first
        // epoch that does not improve stops it (Keras 3 checks only non-improving epochs).
        let values = [1.0, 0.9, 0.8, 0.85, 0.7];
        assert_eq!(
            stop_epoch(
                EarlyStopping::new(MonitorMode::Min)
                    .patience(3)
                    .baseline(0.5),
                &values
            ),
            Some(3)
        );
        assert_eq!(
            stop_epoch(EarlyStopping::new(MonitorMode::Min).patience(3), &values),
            None
        );
        assert_eq!(
            stop_epoch(
                EarlyStopping::new(MonitorMode::Min)
                    .patience(3)
                    .baseline(0.5),
                &[0.4, 0.3, 0.2, 0.1]
            ),
            None
        );
    }

    #[test]
    fn start_from_epoch_ignores_warm_up_epochs() {
        assert_eq!(
            stop_epoch(
                EarlyStopping::new(MonitorMode::Min)
                    .patience(1)
                    .start_from_epoch(3),
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
            ),
            Some(4)
        );
    }

    #[test]
    fn restores_the_best_weights_or_the_first_when_nothing_improved() {
        let w = Param::new(Tensor::from_vec(vec![0.0f32], &[1]));
        let mut es = EarlyStopping::new(MonitorMode::Max)
            .patience(1)
            .restore_best_weights(true)
            .baseline(0.9);
        let mut stopped = None;
        for (epoch, acc) in [0.5, 0.4, 0.3].into_iter().enumerate() {
            w.set_value(Tensor::from_vec(vec![epoch as f32 + 10.0], &[1]));
            if es.update(epoch, acc, std::slice::from_ref(&w)) {
                stopped = Some(epoch);
                break;
            }
        }
        assert_eq!(stopped, Some(1));
        assert_eq!(w.value().item(), 10.0); // epoch 0 was best (0.5)
        assert_eq!(es.best_epoch(), Some(0));
    }
}
