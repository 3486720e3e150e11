//! Learning-rate schedules: functions of the epoch (or step) and the optimizer's own rate,
//! which they scale (the rate is given once, to the optimizer, as PyTorch's schedulers read
//! it from theirs), and the one stateful schedule, [`ReduceLrOnPlateau`].
//!
//! In `fit`, `ferrograd_train`'s `LrScheduler` callback applies a schedule; in a loop of
//! your own, [`Optimizer::set_lr_from`](crate::Optimizer::set_lr_from) does.
//!
//! ```
//! use ferrograd::autograd::{Param, Tensor};
//! use ferrograd::optim::schedule::{CosineAnnealing, LrSchedule, Warmup};
//! use ferrograd::optim::{Optimizer, Sgd};
//!
//! let sched = Warmup::new(5, 0.1, CosineAnnealing::new(95, 0.0));
//! assert!((sched.lr(0.1, 0) - 0.01).abs() < 1e-12); // warm-up starts at 10% of 0.1
//! assert!((sched.lr(0.1, 5) - 0.1).abs() < 1e-12); // then the cosine starts at its peak
//! assert!(sched.lr(0.1, 100) < 1e-12);
//!
//! // In a hand loop: the optimizer's rate (0.1, its `initial_lr`) is the one scaled.
//! let mut opt = Optimizer::new(vec![Param::new(Tensor::<f32>::zeros(&[1]))], Sgd::new(0.1));
//! for epoch in 0..3 {
//!     opt.set_lr_from(&sched, epoch);
//!     // ... the epoch's steps ...
//! }
//! assert!((opt.lr() - 0.1 * 0.46).abs() < 1e-12);
//! ```

use std::f64::consts::PI;

use crate::state::CallbackState;

/// A learning rate as a function of the optimizer's own rate `base` (the rate it was built
/// with, [`Optimizer::initial_lr`](crate::Optimizer::initial_lr)) and a step index, from 0.
///
/// The index counts whatever unit the caller steps the schedule in, and the schedule's
/// lengths (`step_size`, `t_max`, `warmup`, `total`, ...) are in that unit: epochs when it
/// is called once per epoch (`ferrograd_train`'s `LrScheduler` by default, and the
/// parameter is named `epoch` for that common case), or optimizer steps (batches, counted
/// from 0 across epochs) when it is called before every batch (`LrScheduler::per_batch`),
/// as PyTorch's `OneCycleLR` and warm-up schedules usually are. Nothing is stored: the
/// same index always gives the same rate, so a resumed run needs no schedule state.
///
/// ```
/// use ferrograd::optim::schedule::{LrSchedule, OneCycle};
/// // 10 epochs of 50 batches: a one-cycle schedule stepped per batch spans 500 steps,
/// // peaking at the optimizer's rate, 0.1.
/// let sched = OneCycle::new(10 * 50);
/// let (epoch, batch) = (3, 7);
/// let lr = sched.lr(0.1, epoch * 50 + batch);
/// assert!(lr > 0.0 && lr <= 0.1);
/// ```
pub trait LrSchedule {
    /// The learning rate at step `epoch` (an epoch or a batch index, from 0) of an
    /// optimizer built with rate `base`.
    fn lr(&self, base: f64, epoch: usize) -> f64;
}

/// `base·gamma^⌊epoch / step_size⌋`, as `torch.optim.lr_scheduler.StepLR`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    /// Epochs between decays.
    pub step_size: usize,
    /// The decay factor.
    pub gamma: f64,
}

impl LrSchedule for StepLr {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        assert!(self.step_size > 0, "StepLr: step_size must be positive");
        base * self.gamma.powf((epoch / self.step_size) as f64)
    }
}

/// `base·gamma^(milestones passed)`, as `MultiStepLR`: the rate drops at each milestone
/// epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStepLr {
    /// The epochs at which the rate is multiplied by `gamma`.
    pub milestones: Vec<usize>,
    /// The decay factor.
    pub gamma: f64,
}

impl LrSchedule for MultiStepLr {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= epoch).count();
        base * self.gamma.powf(passed as f64)
    }
}

/// `base·gamma^epoch`, as `ExponentialLR`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialLr {
    /// The per-epoch factor.
    pub gamma: f64,
}

impl LrSchedule for ExponentialLr {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        base * self.gamma.powf(epoch as f64)
    }
}

/// `base / (1 + decay_rate·t / decay_steps)`, `t` the epoch (floored to whole
/// `decay_steps` with `staircase`), as Keras' `InverseTimeDecay`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InverseTimeDecay {
    /// Epochs per unit of decay.
    pub decay_steps: usize,
    /// The decay rate.
    pub decay_rate: f64,
    /// Decay in whole steps.
    pub staircase: bool,
}

impl LrSchedule for InverseTimeDecay {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        let mut p = epoch as f64 / self.decay_steps.max(1) as f64;
        if self.staircase {
            p = p.floor();
        }
        base / (1.0 + self.decay_rate * p)
    }
}

/// `(base − end)·(1 − min(t, decay_steps)/decay_steps)^power + end`, as Keras'
/// `PolynomialDecay` (without cycling).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolynomialDecay {
    /// The rate reached at `decay_steps` and kept after.
    pub end: f64,
    /// Epochs to reach `end`.
    pub decay_steps: usize,
    /// The polynomial power (1 is linear).
    pub power: f64,
}

impl LrSchedule for PolynomialDecay {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        let steps = self.decay_steps.max(1);
        let frac = 1.0 - epoch.min(steps) as f64 / steps as f64;
        (base - self.end) * frac.powf(self.power) + self.end
    }
}

/// Cosine annealing from `base` to `eta_min` over `t_max` epochs,
/// `eta_min + (base − eta_min)·(1 + cos(π·t/t_max))/2`, as `CosineAnnealingLR`'s closed form;
/// with [`CosineAnnealing::warm_restarts`] (SGDR, `CosineAnnealingWarmRestarts`) the cycle
/// restarts at `base`, each cycle `t_mult` times longer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealing {
    t_max: usize,
    eta_min: f64,
    restart_mult: Option<usize>,
}

impl CosineAnnealing {
    /// One half cosine over `t_max` epochs (then it stays at `eta_min`).
    ///
    /// # Panics
    /// If `t_max` is 0.
    pub fn new(t_max: usize, eta_min: f64) -> Self {
        assert!(t_max > 0, "CosineAnnealing: t_max must be positive");
        CosineAnnealing {
            t_max,
            eta_min,
            restart_mult: None,
        }
    }

    /// Restarts every cycle, the first `t_max` epochs long and each next `t_mult` times
    /// longer.
    ///
    /// # Panics
    /// If `t_mult` is 0.
    pub fn warm_restarts(mut self, t_mult: usize) -> Self {
        assert!(t_mult > 0, "CosineAnnealing: t_mult must be positive");
        self.restart_mult = Some(t_mult);
        self
    }
}

impl LrSchedule for CosineAnnealing {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        let (t, len) = match self.restart_mult {
            None => (epoch.min(self.t_max), self.t_max),
            Some(mult) => {
                let (mut t, mut len) = (epoch, self.t_max);
                while t >= len {
                    t -= len;
                    len *= mult;
                }
                (t, len)
            }
        };
        self.eta_min + (base - self.eta_min) * (1.0 + (PI * t as f64 / len as f64).cos()) / 2.0
    }
}

/// Linear warm-up over `warmup` steps (epochs, or batches when stepped per batch) from
/// `start_factor` times the schedule's first rate up to it, then `then` (shifted so its
/// step 0 follows the warm-up). With no schedule after it, `then` is [`Constant`].
pub struct Warmup<S> {
    warmup: usize,
    start_factor: f64,
    then: S,
}

impl<S: LrSchedule> Warmup<S> {
    /// Warm-up for `warmup` epochs before `then`.
    ///
    /// # Panics
    /// If `start_factor` is not in `[0, 1]`.
    pub fn new(warmup: usize, start_factor: f64, then: S) -> Self {
        assert!(
            (0.0..=1.0).contains(&start_factor),
            "Warmup: start_factor must be in [0, 1], got {start_factor}"
        );
        Warmup {
            warmup,
            start_factor,
            then,
        }
    }
}

impl<S: LrSchedule> LrSchedule for Warmup<S> {
    fn lr(&self, base: f64, epoch: usize) -> f64 {
        if epoch >= self.warmup {
            return self.then.lr(base, epoch - self.warmup);
        }
        let f = self.start_factor + (1.0 - self.start_factor) * epoch as f64 / self.warmup as f64;
        self.then.lr(base, 0) * f
    }
}

/// The optimizer's own rate, every epoch: the schedule after a [`Warmup`] that warms up to
/// a constant rate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Constant;

impl LrSchedule for Constant {
    fn lr(&self, base: f64, _: usize) -> f64 {
        base
    }
}

/// The one-cycle policy (Smith), as `OneCycleLR` with cosine annealing: from
/// `base/div_factor` up to `base` (the optimizer's rate is the peak, PyTorch's `max_lr`)
/// over the first `pct_start` of `total` steps, then down to
/// `base/(div_factor·final_div_factor)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycle {
    /// The number of steps of the cycle.
    pub total: usize,
    /// The share of the cycle spent rising (PyTorch: 0.3).
    pub pct_start: f64,
    /// `peak / initial` (PyTorch: 25).
    pub div_factor: f64,
    /// `initial / final` (PyTorch: 1e4).
    pub final_div_factor: f64,
}

impl OneCycle {
    /// PyTorch's defaults over `total` steps.
    pub fn new(total: usize) -> Self {
        OneCycle {
            total,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }
}

impl LrSchedule for OneCycle {
    fn lr(&self, base: f64, step: usize) -> f64 {
        let initial = base / self.div_factor;
        let last = initial / self.final_div_factor;
        // PyTorch's phase boundaries: the peak at step pct_start·total − 1, the end at total − 1.
        let peak = (self.pct_start * self.total as f64) - 1.0;
        let end = self.total as f64 - 1.0;
        let cos = |from: f64, to: f64, pct: f64| {
            to + (from - to) / 2.0 * (1.0 + (PI * pct.clamp(0.0, 1.0)).cos())
        };
        let s = step as f64;
        if s <= peak {
            cos(initial, base, s / peak)
        } else {
            cos(base, last, (s - peak) / (end - peak))
        }
    }
}

/// Whether a smaller or a larger monitored value is better: Keras' and PyTorch's `mode`
/// (`"min"`, `"max"`), named apart from `ferrograd_nn::Mode`, the layers' train/eval switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How a plateau threshold is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Relative to the best value: better means beyond `best·(1 ∓ threshold)`.
    Rel,
    /// Absolute: better means beyond `best ∓ threshold`.
    Abs,
}

/// Lowers the learning rate when a metric stops improving, as
/// `torch.optim.lr_scheduler.ReduceLROnPlateau`: after more than `patience` epochs without
/// improvement, `lr ← max(lr·factor, min_lr)`, then `cooldown` epochs of rest.
///
/// ```
/// use ferrograd::optim::schedule::{MonitorMode, ReduceLrOnPlateau};
/// let mut plateau = ReduceLrOnPlateau::new(MonitorMode::Min).factor(0.5).patience(1);
/// let lrs: Vec<f64> = [1.0, 0.9, 0.9, 0.9, 0.9].iter().scan(0.1, |lr, &loss| {
///     *lr = plateau.step(loss, *lr);
///     Some(*lr)
/// }).collect();
/// assert_eq!(lrs, vec![0.1, 0.1, 0.1, 0.05, 0.05]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    monitor: String,
    mode: MonitorMode,
    factor: f64,
    patience: usize,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: usize,
    min_lr: f64,
    best: f64,
    bad_epochs: usize,
    cooldown_left: usize,
}

impl ReduceLrOnPlateau {
    /// PyTorch's defaults: factor 0.1, patience 10, threshold 1e-4 (relative), cooldown 0,
    /// min_lr 0; monitor `"val_loss"` (Keras').
    pub fn new(mode: MonitorMode) -> Self {
        ReduceLrOnPlateau {
            monitor: "val_loss".to_string(),
            mode,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            best: if mode == MonitorMode::Min {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            },
            bad_epochs: 0,
            cooldown_left: 0,
        }
    }

    /// The name of the logged metric to watch when used as a callback of
    /// `ferrograd_train::fit` (Keras' `monitor`; default `"val_loss"`). A hand-written loop
    /// ignores it: it passes the value to [`ReduceLrOnPlateau::step`] itself. There is no
    /// fallback: when the logs lack the metric, `fit` fails with an error naming the metric
    /// and the logged ones.
    ///
    /// ```
    /// use ferrograd::optim::schedule::{MonitorMode, ReduceLrOnPlateau};
    /// let plateau = ReduceLrOnPlateau::new(MonitorMode::Min).monitor("loss");
    /// assert_eq!(plateau.monitored(), "loss");
    /// ```
    pub fn monitor(mut self, metric: &str) -> Self {
        self.monitor = metric.to_string();
        self
    }

    /// The name of the metric it watches as a callback (see [`ReduceLrOnPlateau::monitor`]).
    pub fn monitored(&self) -> &str {
        &self.monitor
    }

    /// The factor in `[0, 1)` the rate is multiplied by.
    ///
    /// # Panics
    /// If `factor` is not in `[0, 1)`.
    pub fn factor(mut self, factor: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&factor),
            "ReduceLrOnPlateau: factor must be in [0, 1), got {factor}"
        );
        self.factor = factor;
        self
    }

    /// Epochs without improvement tolerated before reducing.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The improvement threshold and how it is measured.
    pub fn threshold(mut self, threshold: f64, mode: ThresholdMode) -> Self {
        self.threshold = threshold;
        self.threshold_mode = mode;
        self
    }

    /// Epochs to wait after a reduction before counting bad epochs again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The lowest rate it reduces to.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    fn is_better(&self, a: f64) -> bool {
        let (t, best) = (self.threshold, self.best);
        match (self.mode, self.threshold_mode) {
            (MonitorMode::Min, ThresholdMode::Rel) => a < best * (1.0 - t),
            (MonitorMode::Min, ThresholdMode::Abs) => a < best - t,
            (MonitorMode::Max, ThresholdMode::Rel) => a > best * (1.0 + t),
            (MonitorMode::Max, ThresholdMode::Abs) => a > best + t,
        }
    }

    /// Records this epoch's `metric` and returns the rate to use from now on, given the
    /// current `lr`.
    pub fn step(&mut self, metric: f64, lr: f64) -> f64 {
        if self.is_better(metric) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.patience {
            self.bad_epochs = 0;
            let new = (lr * self.factor).max(self.min_lr);
            if lr - new > 1e-8 {
                self.cooldown_left = self.cooldown;
                return new;
            }
        }
        lr
    }

    /// Records the progress (best value, epochs without improvement, cooldown left; not the
    /// settings, which the caller builds again) into `state`: what a training backup keeps,
    /// and what a hand-written loop saves to resume.
    pub fn save_state(&self, state: &mut CallbackState) {
        state.set("best", self.best);
        state.set("bad_epochs", self.bad_epochs);
        state.set("cooldown_left", self.cooldown_left);
    }

    /// Restores [`ReduceLrOnPlateau::save_state`]'s record, all of it or none.
    ///
    /// # Errors
    /// A [`StateError`](crate::StateError) naming the key if `state` lacks a value or
    /// holds a malformed one; then nothing is changed.
    pub fn load_state(&mut self, state: &CallbackState) -> Result<(), crate::StateError> {
        let best = state.get("best")?;
        let bad_epochs = state.get("bad_epochs")?;
        self.cooldown_left = state.get("cooldown_left")?;
        (self.best, self.bad_epochs) = (best, bad_epochs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_at_their_boundaries() {
        let step = StepLr {
            step_size: 3,
            gamma: 0.5,
        };
        assert_eq!(
            [
                step.lr(1.0, 0),
                step.lr(1.0, 2),
                step.lr(1.0, 3),
                step.lr(1.0, 6)
            ],
            [1.0, 1.0, 0.5, 0.25]
        );
        let multi = MultiStepLr {
            milestones: vec![2, 5],
            gamma: 0.1,
        };
        assert_eq!(
            [multi.lr(1.0, 1), multi.lr(1.0, 2), multi.lr(1.0, 4)],
            [1.0, 0.1, 0.1]
        );
        assert!((multi.lr(1.0, 5) - 0.01).abs() < 1e-15);
        assert_eq!(ExponentialLr { gamma: 0.5 }.lr(2.0, 3), 0.25);
        let inv = InverseTimeDecay {
            decay_steps: 10,
            decay_rate: 1.0,
            staircase: true,
        };
        assert_eq!(
            [inv.lr(1.0, 9), inv.lr(1.0, 10), inv.lr(1.0, 20)],
            [1.0, 0.5, 1.0 / 3.0]
        );
        let poly = PolynomialDecay {
            end: 0.1,
            decay_steps: 10,
            power: 1.0,
        };
        assert_eq!(
            [poly.lr(1.0, 0), poly.lr(1.0, 10), poly.lr(1.0, 50)],
            [1.0, 0.1, 0.1]
        );
        assert!((poly.lr(1.0, 5) - 0.55).abs() < 1e-12);
        let cos = CosineAnnealing::new(10, 0.0);
        assert_eq!(cos.lr(1.0, 0), 1.0);
        assert!((cos.lr(1.0, 5) - 0.5).abs() < 1e-12);
        assert!(cos.lr(1.0, 10).abs() < 1e-12 && cos.lr(1.0, 15).abs() < 1e-12);
    }

    #[test]
    fn warm_restarts_restart_with_growing_cycles() {
        // T_0 = 2, T_mult = 2: cycles of 2, 4, 8 epochs starting at 0, 2, 6.
        let sgdr = CosineAnnealing::new(2, 0.0).warm_restarts(2);
        for restart in [0, 2, 6, 14] {
            assert_eq!(sgdr.lr(1.0, restart), 1.0, "restart at {restart}");
        }
        assert!((sgdr.lr(1.0, 4) - 0.5).abs() < 1e-12); // halfway through the 4-epoch cycle
    }

    #[test]
    fn one_cycle_rises_then_falls_to_its_floor() {
        let oc = OneCycle::new(100);
        assert!((oc.lr(1.0, 0) - 0.04).abs() < 1e-12); // base / 25
        assert!((oc.lr(1.0, 29) - 1.0).abs() < 1e-12); // peak at pct_start·total − 1
        assert!((oc.lr(1.0, 99) - 0.04 / 1e4).abs() < 1e-15);
        assert!(oc.lr(1.0, 10) < oc.lr(1.0, 20) && oc.lr(1.0, 60) > oc.lr(1.0, 80));
    }

    #[test]
    fn warmup_is_linear_up_to_the_schedule() {
        let w = Warmup::new(4, 0.0, Constant);
        assert_eq!(
            [
                w.lr(0.8, 0),
                w.lr(0.8, 1),
                w.lr(0.8, 2),
                w.lr(0.8, 4),
                w.lr(0.8, 9)
            ],
            [0.0, 0.2, 0.4, 0.8, 0.8]
        );
    }

    #[test]
    fn plateau_follows_pytorch_on_a_scripted_sequence() {
        // patience 2, cooldown 1, factor 0.1, abs threshold 0.05, min_lr 1e-3.
        let mut p = ReduceLrOnPlateau::new(MonitorMode::Min)
            .patience(2)
            .cooldown(1)
            .threshold(0.05, ThresholdMode::Abs)
            .min_lr(1e-3);
        let metrics = [
            1.0, 0.9, 0.88, 0.87, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86,
        ];
        let mut lr = 0.1;
        let mut lrs = Vec::new();
        for m in metrics {
            lr = p.step(m, lr);
            lrs.push(lr);
        }
        // Improvements (by more than 0.05) at epochs 0 and 1 only; bad epochs from 2:
        // reduce after the 3rd bad epoch (4), cooldown swallows epoch 5, then 3 more bad
        // epochs (6, 7, 8) reduce again at 8; then the floor 1e-3 holds.
        let want = [
            0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001,
        ];
        for (got, want) in lrs.iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{lrs:?}");
        }
    }

    #[test]
    fn plateau_in_max_mode_with_relative_threshold() {
        let mut p = ReduceLrOnPlateau::new(MonitorMode::Max)
            .patience(0)
            .factor(0.5);
        assert_eq!(p.step(0.5, 1.0), 1.0); // first value is an improvement
        assert_eq!(p.step(0.50001, 1.0), 0.5); // within 1e-4 relative: not better
        assert_eq!(p.step(0.9, 0.5), 0.5);
    }
}
