//! Element-wise math: exp, ln (and `log`), sqrt, square, reciprocal, abs, sign, clamp, erf,
//! log1p, expm1, rsqrt, powf, pow, maximum, minimum, logaddexp, lerp. (The trigonometric and
//! hyperbolic functions are in `trig.rs`.)
//!
//! Kink conventions (exactly tested, as PyTorch 2.15): `|x|'(0) = 0`, `sign` has no
//! gradient, `clamp` passes the gradient strictly inside `(min, max)` (0 at the bounds, like
//! `relu'(0) = 0`), and `maximum`/`minimum` split the gradient evenly between tied inputs.
//! Every kink and flat region *selects* its gradient (see `keep_where`) instead of
//! multiplying by a 0/1 mask, so an infinite gradient arriving there gives 0, not NaN.
//! NaN propagates through `clamp`, `maximum` and `minimum`.

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::{broadcast_shapes, par_map2};
use crate::tensor::Tensor;

impl<'g, T: Float> Var<'g, T> {
    /// A constant (no gradient) computed element-wise from this value, named `op`.
    #[track_caller]
    pub(crate) fn derive_const(self, op: &'static str, f: impl Fn(T) -> T + Sync) -> Var<'g, T> {
        let value = self.value().map(f);
        self.graph().constant_named(op, value)
    }

    /// A constant mask computed element-wise from this value: 1 where `keep` holds, else 0.
    #[track_caller]
    pub(crate) fn derive_mask(
        self,
        op: &'static str,
        keep: impl Fn(T) -> bool + Sync,
    ) -> Var<'g, T> {
        self.derive_const(op, |a| if keep(a) { T::one() } else { T::zero() })
    }

    /// A constant computed element-wise from this value and `other`'s, broadcast together.
    #[track_caller]
    pub(crate) fn derive_const2(
        self,
        other: Var<'g, T>,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync,
    ) -> Var<'g, T> {
        let (a, b) = (self.value(), other.value());
        let shape = broadcast_shapes(a.shape(), b.shape()).expect("checked by the forward op");
        let value = Tensor::from_array(par_map2(&a.view(), &b.view(), &shape, f));
        self.graph().constant_named(op, value)
    }

    /// `eˣ`. Backward: `grad · out` (saves the output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(0.0));
    /// let y = x.exp();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap().item()), (1.0, 1.0));
    /// ```
    #[track_caller]
    pub fn exp(self) -> Var<'g, T> {
        self.unary("exp", T::exp, |ctx, g| grads![Some(g * ctx.output())])
    }

    /// Natural logarithm `ln x` (NaN below 0, −∞ at 0, as IEEE). Backward: `grad / x`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(2.0));
    /// x.ln().backward();
    /// assert_eq!(x.grad().unwrap().item(), 0.5);
    /// ```
    #[track_caller]
    pub fn ln(self) -> Var<'g, T> {
        self.unary("ln", T::ln, |ctx, g| grads![Some(g / ctx.input(0))])
    }

    /// The natural logarithm under PyTorch's name (`torch.log`): the same op as
    /// [`Var::ln`], recorded as `ln`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(std::f64::consts::E));
    /// let y = x.log();
    /// y.backward();
    /// assert_eq!(y.item(), 1.0);
    /// assert_eq!(x.grad().unwrap().item(), 1.0 / std::f64::consts::E);
    /// ```
    #[track_caller]
    pub fn log(self) -> Var<'g, T> {
        self.ln()
    }

    /// `√x`. Backward: `grad / (2·out)` (saves the output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(4.0));
    /// x.sqrt().backward();
    /// assert_eq!(x.grad().unwrap().item(), 0.25);
    /// ```
    #[track_caller]
    pub fn sqrt(self) -> Var<'g, T> {
        self.unary("sqrt", T::sqrt, |ctx, g| {
            grads![Some((g / ctx.output()).mul_scalar(T::from_f64(0.5)))]
        })
    }

    /// `x²`. Backward: `2x · grad`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(3.0));
    /// x.square().backward();
    /// assert_eq!(x.grad().unwrap().item(), 6.0);
    /// ```
    #[track_caller]
    pub fn square(self) -> Var<'g, T> {
        self.unary(
            "square",
            |a| a * a,
            |ctx, g| grads![Some(g * ctx.input(0).mul_scalar(T::from_f64(2.0)))],
        )
    }

    /// `1 / x`. Backward: `−grad · out²` (saves the output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(2.0));
    /// x.reciprocal().backward();
    /// assert_eq!(x.grad().unwrap().item(), -0.25);
    /// ```
    #[track_caller]
    pub fn reciprocal(self) -> Var<'g, T> {
        self.unary("reciprocal", T::recip, |ctx, g| {
            grads![Some(-(g * ctx.output().square()))]
        })
    }

    /// `|x|`. Backward: `grad · sign(x)`, so the gradient at 0 (and, as PyTorch, at NaN) is
    /// 0. Saves the input.
    ///
    /// The 0 at the kink is selected, not multiplied: an infinite gradient arriving at
    /// `x = 0` (`x.abs().sqrt()`) gives 0 where PyTorch gives NaN.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]));
    /// x.abs().sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![-1.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn abs(self) -> Var<'g, T> {
        self.unary("abs", T::abs, |ctx, g| {
            let sign = ctx.input(0).derive_const("abs_sign", |a| {
                if a > T::zero() {
                    T::one()
                } else if a < T::zero() {
                    -T::one()
                } else {
                    T::zero() // 0 and NaN
                }
            });
            grads![Some(g.scale_or_zero(sign))]
        })
    }

    /// The sign: −1, 0 or 1. NaN stays NaN, as NumPy (PyTorch 2.15 gives 0 for NaN, which
    /// would hide it). Piecewise constant, so no gradient flows.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let s = g.var(Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3])).sign();
    /// assert_eq!(s.value().to_vec(), vec![-1.0, 0.0, 1.0]);
    /// assert!(!s.requires_grad());
    /// ```
    #[track_caller]
    pub fn sign(self) -> Var<'g, T> {
        self.derive_const("sign", |a| {
            if a > T::zero() {
                T::one()
            } else if a < T::zero() {
                -T::one()
            } else {
                a // 0, -0 or NaN
            }
        })
    }

    /// Limits every element to `[min, max]`; pass `T::neg_infinity()` or `T::infinity()`
    /// for a one-sided clamp. NaN stays NaN, as in PyTorch.
    ///
    /// Backward: `grad` strictly inside the bounds, exactly 0 at and beyond them and at NaN
    /// (PyTorch 2.15's `clamp` with scalar bounds; an infinite bound never stops the
    /// gradient). Saves the input.
    ///
    /// # Panics
    /// If `min > max` or either bound is NaN.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![-2.0, 0.5, 1.0, 3.0], &[4]));
    /// let y = x.clamp(-1.0, 1.0);
    /// assert_eq!(y.value().to_vec(), vec![-1.0, 0.5, 1.0, 1.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn clamp(self, min: T, max: T) -> Var<'g, T> {
        assert!(
            min <= max,
            "clamp: min {min} is greater than max {max} (or one is NaN)"
        );
        self.unary(
            "clamp",
            move |a| {
                if a < min {
                    min
                } else if a > max {
                    max
                } else {
                    a // inside, or NaN
                }
            },
            move |ctx, g| {
                let inside = ctx.input(0).derive_mask("clamp_mask", |a| {
                    (a > min || min == T::neg_infinity()) && (a < max || max == T::infinity())
                });
                grads![Some(g.keep_where(inside))]
            },
        )
    }

    /// The error function `erf(x)`. Backward: `grad · 2/√π · e^(−x²)`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(0.0));
    /// x.erf().backward();
    /// assert!((x.grad().unwrap().item() - 2.0 / std::f64::consts::PI.sqrt()).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn erf(self) -> Var<'g, T> {
        self.unary("erf", T::erf, |ctx, g| {
            let c = T::from_f64(std::f64::consts::FRAC_2_SQRT_PI);
            grads![Some(g * (-ctx.input(0).square()).exp().mul_scalar(c))]
        })
    }

    /// `ln(1 + x)`, accurate for small `x` where `1 + x` rounds (−∞ at −1, NaN below, as
    /// IEEE). Backward: `grad / (1 + x)` (saves the input).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(1e-20));
    /// let y = x.log1p();
    /// y.backward();
    /// assert_eq!(y.item(), 1e-20); // where (1 + x).ln() gives 0
    /// assert_eq!(x.grad().unwrap().item(), 1.0);
    /// ```
    #[track_caller]
    pub fn log1p(self) -> Var<'g, T> {
        self.unary("log1p", T::ln_1p, |ctx, g| {
            grads![Some(g / ctx.input(0).add_scalar(T::one()))]
        })
    }

    /// `eˣ − 1`, accurate for small `x` where `eˣ` rounds to 1. Backward: `grad · (out + 1)`
    /// (saves the output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(1e-20));
    /// let y = x.expm1();
    /// y.backward();
    /// assert_eq!(y.item(), 1e-20); // where x.exp() - 1 gives 0
    /// assert_eq!(x.grad().unwrap().item(), 1.0);
    /// ```
    #[track_caller]
    pub fn expm1(self) -> Var<'g, T> {
        self.unary("expm1", T::exp_m1, |ctx, g| {
            grads![Some(g * ctx.output().add_scalar(T::one()))]
        })
    }

    /// The reciprocal square root `1/√x` (∞ at 0, NaN below, as IEEE). Backward:
    /// `−grad · out³ / 2` (saves the output).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(4.0));
    /// let y = x.rsqrt();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap().item()), (0.5, -0.0625));
    /// ```
    #[track_caller]
    pub fn rsqrt(self) -> Var<'g, T> {
        self.unary(
            "rsqrt",
            |a| a.sqrt().recip(),
            |ctx, g| {
                let out_cubed = ctx.output().powf(T::from_f64(3.0));
                grads![Some((g * out_cubed).mul_scalar(T::from_f64(-0.5)))]
            },
        )
    }

    /// `xᵖ` for a scalar exponent `p`. Backward: `grad · p · xᵖ⁻¹` (0 for `p = 0`).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(4.0));
    /// let y = x.powf(1.5);
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap().item()), (8.0, 3.0));
    /// ```
    #[track_caller]
    pub fn powf(self, p: T) -> Var<'g, T> {
        self.unary(
            "powf",
            move |a| a.powf(p),
            move |ctx, g| {
                if p == T::zero() {
                    grads![None]
                } else {
                    grads![Some(g * ctx.input(0).powf(p - T::one()).mul_scalar(p))]
                }
            },
        )
    }

    /// `selfᵉ` with a tensor exponent, broadcasting.
    ///
    /// Backward: `grad · e · selfᵉ⁻¹` to `self` and `grad · out · ln(self)` to `e`. As
    /// PyTorch, where `self = 0` the latter is 0 for `e ≥ 0` (`0 · ln 0` taken as its limit)
    /// and `−∞·grad` for `e < 0`; where `self = 0` and `e = 0` the former is 0 (not
    /// `0 · 0⁻¹`). Both are selects, their masked entries kept out of the second derivatives
    /// too. Saves the inputs and the output.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(2.0));
    /// let e = g.var(Tensor::scalar(3.0));
    /// x.pow(e).backward();
    /// assert_eq!(x.grad().unwrap().item(), 12.0);
    /// assert_eq!(e.grad().unwrap().item(), 8.0 * 2f64.ln());
    /// ```
    #[track_caller]
    pub fn pow(self, e: Var<'g, T>) -> Var<'g, T> {
        self.binary(e, "pow", T::powf, |ctx, g| {
            let (x, e) = (ctx.input(0), ctx.input(1));
            let one = ctx.graph().scalar(T::one());
            grads![
                ctx.needs_grad(0).then(|| {
                    // 0⁰: the derivative is 0, and 0 · 0⁻¹ would be NaN.
                    let regular = x
                        .derive_const2(e, "pow_mask", |a, p| bit(a != T::zero() || p != T::zero()));
                    let e_safe = e.where_(regular, one);
                    (g * e * x.pow(e_safe - T::one()))
                        .keep_where(regular)
                        .sum_to_like(x)
                }),
                ctx.needs_grad(1).then(|| {
                    // 0 · ln 0 with e ≥ 0 is taken as 0 (ln is not evaluated there).
                    let regular =
                        x.derive_const2(e, "pow_mask", |a, p| bit(a != T::zero() || p < T::zero()));
                    let x_safe = x.where_(regular, one);
                    (g * ctx.output() * x_safe.ln())
                        .keep_where(regular)
                        .sum_to_like(e)
                }),
            ]
        })
    }

    /// Element-wise maximum of two tensors, broadcasting; NaN if either is NaN (as
    /// `torch.maximum`). Backward: the gradient goes to the larger input; ties split it
    /// evenly.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 5.0, 2.0], &[3]));
    /// let b = g.var(Tensor::from_vec(vec![3.0, 4.0, 2.0], &[3]));
    /// a.maximum(b).sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.5]);
    /// assert_eq!(b.grad().unwrap().to_vec(), vec![1.0, 0.0, 0.5]);
    /// ```
    #[track_caller]
    pub fn maximum(self, other: Var<'g, T>) -> Var<'g, T> {
        self.select_binary(other, "maximum", |a, b| a > b)
    }

    /// Element-wise minimum of two tensors, broadcasting; NaN if either is NaN (as
    /// `torch.minimum`). Backward: the gradient goes to the smaller input; ties split it
    /// evenly.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    /// let m = a.minimum(g.scalar(2.0));
    /// assert_eq!(m.value().to_vec(), vec![1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn minimum(self, other: Var<'g, T>) -> Var<'g, T> {
        self.select_binary(other, "minimum", |a, b| a < b)
    }

    /// `ln(eˢᵉˡᶠ + eᵒᵗʰᵉʳ)`, broadcasting, computed without overflow as
    /// `max + ln(1 + e^(min − max))` (`torch.logaddexp`); equal infinities give themselves.
    ///
    /// Backward: `grad · sigmoid(self − other)` to `self` and `grad · sigmoid(other − self)`
    /// to `other` (the softmax weights of the two, stable at any distance), summed over
    /// broadcast axes; saves the inputs. Where both inputs are the same infinity the
    /// gradient is NaN (`∞ − ∞`), as PyTorch. The second derivatives are those of the
    /// sigmoids, `s · (1 − s)`: finite (0 or below the smallest normal) where the inputs
    /// are so far apart that `e^|self − other|` overflows, or one is infinite, where
    /// PyTorch's double backward forms `∞ / ∞` and gives NaN.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::scalar(1000.0));
    /// let b = g.var(Tensor::scalar(1000.0));
    /// let y = a.logaddexp(b);
    /// y.backward();
    /// assert_eq!(y.item(), 1000.0 + 2f64.ln()); // where (e¹⁰⁰⁰ + e¹⁰⁰⁰).ln() is ∞
    /// assert_eq!((a.grad().unwrap().item(), b.grad().unwrap().item()), (0.5, 0.5));
    /// ```
    #[track_caller]
    pub fn logaddexp(self, other: Var<'g, T>) -> Var<'g, T> {
        let f = |a: T, b: T| {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) }; // NaN lands in either
            if lo == hi && lo.is_infinite() {
                a
            } else {
                hi + (lo - hi).exp().ln_1p()
            }
        };
        self.binary(other, "logaddexp", f, |ctx, g| {
            let (a, b) = (ctx.input(0), ctx.input(1));
            grads![
                ctx.needs_grad(0)
                    .then(|| (g * (a - b).sigmoid()).sum_to_like(a)),
                ctx.needs_grad(1)
                    .then(|| (g * (b - a).sigmoid()).sum_to_like(b)),
            ]
        })
    }

    /// Linear interpolation `self + weight · (end − self)` with a scalar weight,
    /// broadcasting, as `torch.lerp(self, end, weight)`; a weight outside `[0, 1]`
    /// extrapolates. Computed as PyTorch does, from `end` when `|weight| ≥ 0.5`
    /// (`end − (end − self) · (1 − weight)`), so weight 0 gives `self` and weight 1 gives
    /// `end` exactly.
    ///
    /// Backward: `grad · (1 − weight)` to `self` and `grad · weight` to `end`, summed over
    /// broadcast axes; saves nothing. An input whose factor is 0 (`self` at weight 1, `end`
    /// at weight 0) gets no gradient from this op, as [`Var::powf`] at `p = 0`: its `grad()`
    /// stays `None` if nothing else reaches it, where PyTorch gives zeros (and NaN for an
    /// infinite `grad`, `∞ · 0`).
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let start = g.var(Tensor::from_vec(vec![0.0, 10.0], &[2]));
    /// let end = g.var(Tensor::scalar(20.0));
    /// let y = start.lerp(end, 0.25);
    /// assert_eq!(y.value().to_vec(), vec![5.0, 12.5]);
    /// y.sum().backward();
    /// assert_eq!(start.grad().unwrap().to_vec(), vec![0.75, 0.75]);
    /// assert_eq!(end.grad().unwrap().item(), 0.5); // 0.25 from each element
    /// ```
    #[track_caller]
    pub fn lerp(self, end: Var<'g, T>, weight: T) -> Var<'g, T> {
        let f = move |a: T, b: T| {
            if weight.abs() < T::from_f64(0.5) {
                a + weight * (b - a)
            } else {
                b - (b - a) * (T::one() - weight)
            }
        };
        self.binary(end, "lerp", f, move |ctx, g| {
            let (wa, wb) = (T::one() - weight, weight);
            grads![
                (ctx.needs_grad(0) && wa != T::zero())
                    .then(|| g.mul_scalar(wa).sum_to_like(ctx.input(0))),
                (ctx.needs_grad(1) && wb != T::zero())
                    .then(|| g.mul_scalar(wb).sum_to_like(ctx.input(1))),
            ]
        })
    }

    /// maximum/minimum: picks `a` where `wins(a, b)`, `b` where `wins(b, a)`, NaN if either
    /// is NaN, and (on ties) either value.
    ///
    /// Backward as PyTorch: each input gets the gradient unless the other wins, half of it
    /// on a tie (so both inputs get the whole gradient where one is NaN); the 0 of the
    /// losing side is selected, not multiplied.
    #[track_caller]
    fn select_binary(
        self,
        other: Var<'g, T>,
        op: &'static str,
        wins: fn(T, T) -> bool,
    ) -> Var<'g, T> {
        let pick = move |a: T, b: T| {
            if a.is_nan() || b.is_nan() {
                a + b
            } else if wins(b, a) {
                b
            } else {
                a
            }
        };
        self.binary(other, op, pick, move |ctx, g| {
            let (a, b) = (ctx.input(0), ctx.input(1));
            let share = move |x: T, y: T| {
                if x == y {
                    T::from_f64(0.5)
                } else if wins(y, x) {
                    T::zero()
                } else {
                    T::one()
                }
            };
            grads![
                ctx.needs_grad(0).then(|| g
                    .scale_or_zero(a.derive_const2(b, "select_mask", share))
                    .sum_to_like(a)),
                ctx.needs_grad(1).then(|| g
                    .scale_or_zero(b.derive_const2(a, "select_mask", share))
                    .sum_to_like(b)),
            ]
        })
    }
}

/// 1 for true, 0 for false: a mask element.
pub(super) fn bit<T: Float>(b: bool) -> T {
    if b { T::one() } else { T::zero() }
}

#[cfg(test)]
mod tests {
    use super::super::value_and_grad;
    use crate::testing::{
        self, broadcast_shapes, check_gradgrads, check_grads, shape, tensor, tensor_away_from,
        tensor_of,
    };
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn exp_ln_sqrt_reciprocal_grads_match_finite_diff(x in tensor(shape(), 0.2..3.0)) {
            let ops: [testing::OpFn; 7] = [|v| v[0].exp(), |v| v[0].ln(), |v| v[0].sqrt(), |v| v[0].reciprocal(), |v| v[0].square(), |v| v[0].erf(), |v| v[0].powf(2.5)];
            for f in ops {
                check_grads(f, std::slice::from_ref(&x))?;
                check_gradgrads(f, std::slice::from_ref(&x))?;
            }
        }

        #[test]
        fn abs_and_clamp_grads_match_finite_diff(x in tensor_away_from(shape(), -2.0..2.0, &[-1.0, 0.0, 1.0], 1e-3)) {
            check_grads(|v| v[0].abs(), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].clamp(-1.0, 1.0) * v[0], std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].abs() * v[0], std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].clamp(-1.0, 1.0) * v[0], &[x])?;
        }

        #[test]
        fn pow_grads_match_finite_diff((a, b) in broadcast_shapes().prop_flat_map(|(a, b)| (tensor_of(a, 0.3..2.0), tensor_of(b, -2.0..2.0)))) {
            check_grads(|v| v[0].pow(v[1]), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].pow(v[1]), &[a, b])?;
        }

        #[test]
        fn maximum_minimum_grads_match_finite_diff((a, b) in broadcast_shapes().prop_flat_map(|(a, b)| (tensor_of(a, -2.0..2.0), tensor_of(b, -2.0..2.0)))) {
            // Random reals tie with probability 0; ties are tested exactly below.
            check_grads(|v| v[0].maximum(v[1]) * v[0], &[a.clone(), b.clone()])?;
            check_grads(|v| v[0].minimum(v[1]) * v[1], &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].maximum(v[1]) * v[0], &[a, b])?;
        }

        #[test]
        fn log1p_expm1_grads_match_finite_diff(x in tensor(shape(), -0.9..3.0)) {
            let ops: [testing::OpFn; 2] = [|v| v[0].log1p(), |v| v[0].expm1()];
            for f in ops {
                check_grads(f, std::slice::from_ref(&x))?;
                check_gradgrads(f, std::slice::from_ref(&x))?;
            }
        }

        #[test]
        fn rsqrt_grads_match_finite_diff(x in tensor(shape(), 0.1..3.0)) {
            check_grads(|v| v[0].rsqrt(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].rsqrt(), &[x])?;
        }

        #[test]
        fn logaddexp_grads_match_finite_diff((a, b) in broadcast_shapes().prop_flat_map(|(a, b)| (tensor_of(a, -3.0..3.0), tensor_of(b, -3.0..3.0)))) {
            check_grads(|v| v[0].logaddexp(v[1]), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].logaddexp(v[1]), &[a, b])?;
        }

        #[test]
        fn lerp_grads_match_finite_diff((a, b) in broadcast_shapes().prop_flat_map(|(a, b)| (tensor_of(a, -2.0..2.0), tensor_of(b, -2.0..2.0)))) {
            let ops: [testing::OpFn; 4] = [|v| v[0].lerp(v[1], 0.3), |v| v[0].lerp(v[1], 0.75), |v| v[0].lerp(v[1], -0.5), |v| v[0].lerp(v[1], 1.0)];
            for f in ops {
                check_grads(f, &[a.clone(), b.clone()])?;
            }
            // lerp is linear: its second derivative shows only in a product.
            check_gradgrads(|v| v[0].lerp(v[1], 0.75) * v[1], &[a, b])?;
        }
    }

    #[test]
    fn pow_exponent_grad_is_zero_at_zero_base() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![0.0, 2.0], &[2]));
        let e = g.var(Tensor::scalar(2.0));
        x.pow(e).sum().backward();
        assert_eq!(e.grad().unwrap().item(), 4.0 * 2f64.ln());
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 4.0]);
    }

    #[test]
    fn log1p_expm1_rsqrt_at_their_edges_follow_ieee() {
        let inf = f64::INFINITY;
        let (y, d) = value_and_grad(|v| v[0].log1p(), &[-1.0, 0.0, inf, 1e-300]);
        assert_eq!(y, vec![-inf, 0.0, inf, 1e-300]);
        assert_eq!(d, vec![inf, 1.0, 0.0, 1.0]);
        assert!(value_and_grad(|v| v[0].log1p(), &[-2.0]).0[0].is_nan());
        let (y, d) = value_and_grad(|v| v[0].expm1(), &[-inf, 0.0, inf, 1e-300]);
        assert_eq!(y, vec![-1.0, 0.0, inf, 1e-300]);
        assert_eq!(d, vec![0.0, 1.0, inf, 1.0]);
        let (y, d) = value_and_grad(|v| v[0].rsqrt(), &[0.0, 0.25, inf]);
        assert_eq!(y, vec![inf, 2.0, 0.0]);
        assert_eq!(d, vec![-inf, -4.0, -0.0]);
        assert!(value_and_grad(|v| v[0].rsqrt(), &[-1.0]).0[0].is_nan());
    }

    #[test]
    fn logaddexp_is_stable_and_exact_at_infinities() {
        let inf = f64::INFINITY;
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(
            vec![800.0, -800.0, -inf, inf, -inf, 3.0],
            &[6],
        ));
        let b = g.var(Tensor::from_vec(
            vec![0.0, -800.0, 2.0, -inf, -inf, inf],
            &[6],
        ));
        let y = a.logaddexp(b);
        y.sum().backward();
        let ln2 = 2f64.ln();
        assert_eq!(
            y.value().to_vec(),
            vec![800.0, -800.0 + ln2, 2.0, inf, -inf, inf]
        );
        let (da, db) = (a.grad().unwrap().to_vec(), b.grad().unwrap().to_vec());
        assert_eq!(da[..4], [1.0, 0.5, 0.0, 1.0]);
        assert_eq!(db[..4], [0.0, 0.5, 1.0, 0.0]);
        // Both −∞: ∞ − ∞ in the weights, NaN as PyTorch.
        assert!(da[4].is_nan() && db[4].is_nan());
        assert_eq!((da[5], db[5]), (0.0, 1.0));
    }

    #[test]
    fn lerp_is_exact_at_weights_zero_and_one() {
        let g = Graph::<f64>::new();
        let (a, b) = (0.1, 0.7);
        let start = g.var(Tensor::scalar(a));
        let end = g.var(Tensor::scalar(b));
        assert_eq!(start.lerp(end, 0.0).item(), a);
        assert_eq!(start.lerp(end, 1.0).item(), b);
        assert_eq!(start.lerp(end, 2.0).item(), b + (b - a));
    }

    #[test]
    fn lerp_gives_no_gradient_to_an_input_with_weight_zero() {
        // Even an infinite upstream gradient (from sqrt at 0) gives none, not inf · 0 = NaN.
        let g = Graph::<f64>::new();
        let start = g.var(Tensor::scalar(1.0));
        let end = g.var(Tensor::scalar(0.0));
        start.lerp(end, 1.0).sqrt().backward();
        assert!(start.grad().is_none());
        assert_eq!(end.grad().unwrap().item(), f64::INFINITY);
        // Where the input also feeds something else, that is its whole gradient.
        let g = Graph::<f64>::new();
        let start = g.var(Tensor::scalar(3.0));
        (start.lerp(g.scalar(0.0), 1.0) + start).backward();
        assert_eq!(start.grad().unwrap().item(), 1.0);
    }

    #[test]
    fn clamp_stops_the_gradient_at_the_bounds_as_pytorch() {
        // torch 2.15: x.clamp(-1, 1) at [-1, 1, 0.5, 1.5] has gradient [0, 0, 1, 0].
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![-1.0, 1.0, 0.5, 1.5], &[4]));
        x.clamp(-1.0, 1.0).sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn minimum_ties_split_the_gradient_under_broadcast() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(vec![1.0, 1.0, 0.0], &[3]));
        let b = g.var(Tensor::scalar(1.0));
        a.minimum(b).sum().backward();
        assert_eq!(a.grad().unwrap().to_vec(), vec![0.5, 0.5, 1.0]);
        assert_eq!(b.grad().unwrap().item(), 1.0);
    }

    #[test]
    #[should_panic(expected = "clamp: min 2 is greater than max 1")]
    fn clamp_panics_on_inverted_bounds() {
        Graph::<f32>::new().scalar(0.0).clamp(2.0, 1.0);
    }

    #[test]
    #[should_panic(expected = "maximum: lhs [2] and rhs [3] cannot be broadcast together")]
    fn maximum_panics_on_incompatible_shapes() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2]))
            .maximum(g.var(Tensor::zeros(&[3])));
    }

    #[test]
    #[should_panic(expected = "logaddexp: lhs [2] and rhs [3] cannot be broadcast together")]
    fn logaddexp_panics_on_incompatible_shapes() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2]))
            .logaddexp(g.var(Tensor::zeros(&[3])));
    }

    #[test]
    #[should_panic(expected = "lerp: lhs [2] and rhs [3] cannot be broadcast together")]
    fn lerp_panics_on_incompatible_shapes() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2]))
            .lerp(g.var(Tensor::zeros(&[3])), 0.5);
    }
}
