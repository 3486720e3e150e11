//! Stochastic gradient descent with momentum, dampening and Nesterov momentum.

use ferrograd_autograd::Float;

use crate::optimizer::{ParamUpdate, Rule, check, lr_field};

/// SGD, as `torch.optim.SGD`:
///
/// ```text
/// b ← g                              (first step)
/// b ← momentum·b + (1 − dampening)·g (later steps)
/// d ← g + momentum·b if nesterov, else b   (d = g without momentum)
/// w ← w − lr·d
/// ```
///
/// Without momentum it is plain gradient descent ([`GradientDescent`]).
///
/// # Panics
/// The builders panic on a negative, NaN or infinite `lr`, a `momentum` or `dampening` outside
/// `[0, 1)` / `[0, 1]`, or Nesterov without momentum or with dampening, naming the field.
///
/// ```
/// use ferrograd::optim::Sgd;
/// let sgd = Sgd::new(0.1).momentum(0.9).nesterov(true);
/// assert_eq!(sgd.get_momentum(), 0.9);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
}

/// Plain gradient descent, `w ← w − lr·g`: [`Sgd`] without momentum.
pub type GradientDescent = Sgd;

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    #[track_caller]
    pub fn new(lr: f64) -> Self {
        check(
            "Sgd",
            "lr",
            lr,
            lr >= 0.0 && lr.is_finite(),
            "a non-negative number",
        );
        Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
        }
    }

    /// Momentum in `[0, 1)`.
    #[track_caller]
    pub fn momentum(mut self, momentum: f64) -> Self {
        check(
            "Sgd",
            "momentum",
            momentum,
            (0.0..1.0).contains(&momentum),
            "in [0, 1)",
        );
        self.momentum = momentum;
        self
    }

    /// Dampening of the gradient's share of the momentum, in `[0, 1]`.
    #[track_caller]
    pub fn dampening(mut self, dampening: f64) -> Self {
        check(
            "Sgd",
            "dampening",
            dampening,
            (0.0..=1.0).contains(&dampening),
            "in [0, 1]",
        );
        self.dampening = dampening;
        self
    }

    /// Nesterov momentum (needs momentum and no dampening, as PyTorch).
    #[track_caller]
    pub fn nesterov(mut self, on: bool) -> Self {
        assert!(
            !on || (self.momentum > 0.0 && self.dampening == 0.0),
            "Sgd: nesterov requires momentum > 0 and dampening 0, got momentum {} and dampening {}",
            self.momentum,
            self.dampening
        );
        self.nesterov = on;
        self
    }

    /// The momentum.
    pub fn get_momentum(&self) -> f64 {
        self.momentum
    }
}

impl<T: Float> Rule<T> for Sgd {
    fn name(&self) -> &'static str {
        "Sgd"
    }

    lr_field!();

    fn state_len(&self) -> usize {
        usize::from(self.momentum > 0.0)
    }

    fn update(&self, lr: f64, _step: u64, param: ParamUpdate<'_, T>) {
        let lr = T::from_f64(lr);
        if self.momentum == 0.0 {
            param.for_each(|w, g, []| *w -= lr * g);
            return;
        }
        let (mu, damp) = (
            T::from_f64(self.momentum),
            T::from_f64(1.0 - self.dampening),
        );
        let first = param.is_first();
        param.for_each(|w, g, [b]| {
            *b = if first { g } else { mu * *b + damp * g };
            let d = if self.nesterov { g + mu * *b } else { *b };
            *w -= lr * d;
        });
    }
}
