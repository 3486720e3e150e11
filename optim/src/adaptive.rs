//! The adaptive optimizers: AdaGrad, RMSprop, Adam (with AMSGrad) and AdamW.

use ferrograd_autograd::Float;

use crate::optimizer::{ParamUpdate, Rule, check, lr_field};

#[track_caller]
fn check_lr(who: &str, lr: f64) {
    check(
        who,
        "lr",
        lr,
        lr >= 0.0 && lr.is_finite(),
        "a non-negative number",
    );
}

#[track_caller]
fn check_eps(who: &str, eps: f64) {
    check(
        who,
        "eps",
        eps,
        eps > 0.0 && eps.is_finite(),
        "a positive number",
    );
}

/// AdaGrad, as `torch.optim.Adagrad`: `s ← s + g²`, `w ← w − lr_t·g / (√s + eps)` with
/// `lr_t = lr / (1 + (t − 1)·lr_decay)`; defaults `eps = 1e-10`, `lr_decay = 0`.
///
/// # Panics
/// The builders panic, naming the optimizer, the field and the value, on an `lr` or
/// `lr_decay` that is negative, NaN or infinite, or an `eps` that is not a positive number
/// (PyTorch's constructors raise `ValueError` for these).
///
/// ```
/// use ferrograd::optim::{Adagrad, Rule};
/// let a = Adagrad::new(0.01).eps(1e-8).lr_decay(1e-4);
/// assert_eq!(Rule::<f32>::lr(&a), 0.01);
/// let err = std::panic::catch_unwind(|| Adagrad::new(0.01).eps(0.0)).unwrap_err();
/// assert_eq!(err.downcast_ref::<String>().unwrap(), "Adagrad: eps must be a positive number, got 0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    lr: f64,
    eps: f64,
    lr_decay: f64,
}

impl Adagrad {
    /// AdaGrad with learning rate `lr`.
    #[track_caller]
    pub fn new(lr: f64) -> Self {
        check_lr("Adagrad", lr);
        Adagrad {
            lr,
            eps: 1e-10,
            lr_decay: 0.0,
        }
    }

    /// The term added to the denominator.
    #[track_caller]
    pub fn eps(mut self, eps: f64) -> Self {
        check_eps("Adagrad", eps);
        self.eps = eps;
        self
    }

    /// Learning-rate decay per step.
    #[track_caller]
    pub fn lr_decay(mut self, lr_decay: f64) -> Self {
        check(
            "Adagrad",
            "lr_decay",
            lr_decay,
            lr_decay >= 0.0 && lr_decay.is_finite(),
            "a non-negative number",
        );
        self.lr_decay = lr_decay;
        self
    }
}

impl<T: Float> Rule<T> for Adagrad {
    fn name(&self) -> &'static str {
        "Adagrad"
    }
    lr_field!();
    fn state_len(&self) -> usize {
        1
    }

    fn update(&self, lr: f64, step: u64, param: ParamUpdate<'_, T>) {
        let clr = T::from_f64(lr / (1.0 + (step - 1) as f64 * self.lr_decay));
        let eps = T::from_f64(self.eps);
        param.for_each(|w, g, [s]| {
            *s += g * g;
            *w -= clr * g / (s.sqrt() + eps);
        });
    }
}

/// RMSprop, as `torch.optim.RMSprop`: `v ← α·v + (1 − α)·g²`; centered: `ḡ ← α·ḡ + (1 − α)·g`,
/// `d = √(v − ḡ²) + eps`, else `d = √v + eps`; with momentum `b ← μ·b + g/d`, `w ← w − lr·b`,
/// else `w ← w − lr·g/d`. Defaults `alpha = 0.99`, `eps = 1e-8`.
///
/// # Panics
/// The builders panic, naming the optimizer, the field and the value, on an `lr` that is
/// negative, NaN or infinite, an `alpha` or `momentum` outside `[0, 1)`, or an `eps` that
/// is not a positive number.
///
/// ```
/// use ferrograd::optim::{RmsProp, Rule};
/// let r = RmsProp::new(0.01).alpha(0.9).momentum(0.5).centered(true);
/// assert_eq!(Rule::<f32>::name(&r), "RmsProp");
/// let err = std::panic::catch_unwind(|| RmsProp::new(0.01).alpha(1.0)).unwrap_err();
/// assert_eq!(err.downcast_ref::<String>().unwrap(), "RmsProp: alpha must be in [0, 1), got 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsProp {
    lr: f64,
    alpha: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
}

impl RmsProp {
    /// RMSprop with learning rate `lr`.
    #[track_caller]
    pub fn new(lr: f64) -> Self {
        check_lr("RmsProp", lr);
        RmsProp {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
        }
    }

    /// The smoothing constant, in `[0, 1)`.
    #[track_caller]
    pub fn alpha(mut self, alpha: f64) -> Self {
        check(
            "RmsProp",
            "alpha",
            alpha,
            (0.0..1.0).contains(&alpha),
            "in [0, 1)",
        );
        self.alpha = alpha;
        self
    }

    /// The term added to the denominator.
    #[track_caller]
    pub fn eps(mut self, eps: f64) -> Self {
        check_eps("RmsProp", eps);
        self.eps = eps;
        self
    }

    /// Momentum in `[0, 1)`.
    #[track_caller]
    pub fn momentum(mut self, momentum: f64) -> Self {
        check(
            "RmsProp",
            "momentum",
            momentum,
            (0.0..1.0).contains(&momentum),
            "in [0, 1)",
        );
        self.momentum = momentum;
        self
    }

    /// Normalise by the gradient's estimated variance instead of its second moment.
    pub fn centered(mut self, on: bool) -> Self {
        self.centered = on;
        self
    }
}

impl<T: Float> Rule<T> for RmsProp {
    fn name(&self) -> &'static str {
        "RmsProp"
    }
    lr_field!();
    /// The square average `v`, then the gradient average `ḡ` if centered, then the
    /// momentum buffer `b` if `momentum > 0`.
    fn state_len(&self) -> usize {
        1 + usize::from(self.centered) + usize::from(self.momentum > 0.0)
    }

    fn update(&self, lr: f64, _step: u64, param: ParamUpdate<'_, T>) {
        let (lr, a, eps, mu) = (
            T::from_f64(lr),
            T::from_f64(self.alpha),
            T::from_f64(self.eps),
            T::from_f64(self.momentum),
        );
        let one = T::one();
        let square_avg = |v: &mut T, g: T| *v = a * *v + (one - a) * g * g;
        let centered = |v: T, gbar: &mut T, g: T| {
            *gbar = a * *gbar + (one - a) * g;
            (v - *gbar * *gbar).sqrt() + eps
        };
        match (self.centered, self.momentum > 0.0) {
            (false, false) => param.for_each(|w, g, [v]| {
                square_avg(v, g);
                *w -= lr * g / (v.sqrt() + eps);
            }),
            (true, false) => param.for_each(|w, g, [v, gbar]| {
                square_avg(v, g);
                *w -= lr * g / centered(*v, gbar, g);
            }),
            (false, true) => param.for_each(|w, g, [v, b]| {
                square_avg(v, g);
                *b = mu * *b + g / (v.sqrt() + eps);
                *w -= lr * *b;
            }),
            (true, true) => param.for_each(|w, g, [v, gbar, b]| {
                square_avg(v, g);
                *b = mu * *b + g / centered(*v, gbar, g);
                *w -= lr * *b;
            }),
        }
    }
}

/// Adam, as `torch.optim.Adam`: `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
/// `w ← w − lr/(1 − β₁ᵗ) · m / (√v̂/√(1 − β₂ᵗ) + eps)` where `v̂ = v`, or its running
/// maximum with AMSGrad. Defaults `betas = (0.9, 0.999)`, `eps = 1e-8`.
///
/// AdamW is Adam with a decoupled penalty: see [`Adam::adamw`].
///
/// # Panics
/// The builders panic, naming the optimizer (`Adam` or `AdamW`), the field and the value, on
/// an `lr` that is negative, NaN or infinite, a beta outside `[0, 1)`, or an `eps` that is
/// not a positive number.
///
/// ```
/// use ferrograd::optim::{Adam, Rule};
/// let adam = Adam::new(1e-3).betas(0.9, 0.99).eps(1e-6).amsgrad(true);
/// assert_eq!(Rule::<f32>::lr(&adam), 1e-3);
/// let err = std::panic::catch_unwind(|| Adam::adamw(f64::NAN)).unwrap_err();
/// assert_eq!(err.downcast_ref::<String>().unwrap(), "AdamW: lr must be a non-negative number, got NaN");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    amsgrad: bool,
    name: &'static str,
}

impl Adam {
    /// Adam with learning rate `lr`.
    #[track_caller]
    pub fn new(lr: f64) -> Self {
        check_lr("Adam", lr);
        Adam {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            amsgrad: false,
            name: "Adam",
        }
    }

    /// AdamW's rule, which is Adam's; give the optimizer a decoupled penalty, e.g.
    /// `Optimizer::new(params, Adam::adamw(1e-3)).penalty(Penalty::l2(0.01).decoupled())`
    /// (PyTorch's AdamW default `weight_decay = 0.01`).
    #[track_caller]
    pub fn adamw(lr: f64) -> Self {
        check_lr("AdamW", lr);
        Adam {
            name: "AdamW",
            ..Self::new(lr)
        }
    }

    /// The decay rates of the moment estimates, each in `[0, 1)`.
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        check(
            self.name,
            "betas.0",
            beta1,
            (0.0..1.0).contains(&beta1),
            "in [0, 1)",
        );
        check(
            self.name,
            "betas.1",
            beta2,
            (0.0..1.0).contains(&beta2),
            "in [0, 1)",
        );
        self.betas = (beta1, beta2);
        self
    }

    /// The term added to the denominator.
    #[track_caller]
    pub fn eps(mut self, eps: f64) -> Self {
        check_eps(self.name, eps);
        self.eps = eps;
        self
    }

    /// Uses the running maximum of the second moment (Reddi et al.).
    pub fn amsgrad(mut self, on: bool) -> Self {
        self.amsgrad = on;
        self
    }
}

impl<T: Float> Rule<T> for Adam {
    fn name(&self) -> &'static str {
        self.name
    }
    lr_field!();
    /// The moments `m` and `v`, then their running maximum `v̂` with AMSGrad.
    fn state_len(&self) -> usize {
        if self.amsgrad { 3 } else { 2 }
    }

    fn update(&self, lr: f64, step: u64, param: ParamUpdate<'_, T>) {
        let (b1, b2) = self.betas;
        // An f64 exponent: a step count past i32::MAX (a loaded state) must not wrap.
        let t = step as f64;
        let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
        let step_size = T::from_f64(lr / bc1);
        let sqrt_bc2 = T::from_f64(bc2.sqrt());
        let (b1, b2, eps, one) = (
            T::from_f64(b1),
            T::from_f64(b2),
            T::from_f64(self.eps),
            T::one(),
        );
        let moments = |m: &mut T, v: &mut T, g: T| {
            *m = b1 * *m + (one - b1) * g;
            *v = b2 * *v + (one - b2) * g * g;
        };
        if self.amsgrad {
            param.for_each(|w, g, [m, v, vmax]| {
                moments(m, v, g);
                *vmax = vmax.max(*v);
                *w -= step_size * *m / (vmax.sqrt() / sqrt_bc2 + eps);
            });
        } else {
            param.for_each(|w, g, [m, v]| {
                moments(m, v, g);
                *w -= step_size * *m / (v.sqrt() / sqrt_bc2 + eps);
            });
        }
    }
}
