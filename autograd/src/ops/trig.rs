//! Trigonometric and hyperbolic functions: sin, cos, atan, atan2, sinh, cosh.
//!
//! `atan2` is undefined at the origin; its gradient there is a selected 0, as PyTorch's.

use super::unary::bit;
use crate::float::Float;
use crate::grads;
use crate::graph::Var;

impl<'g, T: Float> Var<'g, T> {
    /// `sin x`. Backward: `grad · cos x` (saves the input). NaN at ±∞, as IEEE.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(0.0));
    /// let y = x.sin();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap().item()), (0.0, 1.0));
    /// ```
    #[track_caller]
    pub fn sin(self) -> Var<'g, T> {
        self.unary("sin", T::sin, |ctx, g| grads![Some(g * ctx.input(0).cos())])
    }

    /// `cos x`. Backward: `−grad · sin x` (saves the input). NaN at ±∞, as IEEE.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(std::f64::consts::FRAC_PI_2));
    /// let y = x.cos();
    /// y.backward();
    /// assert!(y.item().abs() < 1e-16);
    /// assert_eq!(x.grad().unwrap().item(), -1.0);
    /// ```
    #[track_caller]
    pub fn cos(self) -> Var<'g, T> {
        self.unary("cos", T::cos, |ctx, g| {
            grads![Some(-(g * ctx.input(0).sin()))]
        })
    }

    /// The arctangent `atan x`, in `(−π/2, π/2)` (±π/2 at ±∞). Backward:
    /// `grad / (1 + x²)`, 0 at ±∞ (saves the input).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(1.0));
    /// let y = x.atan();
    /// y.backward();
    /// assert!((y.item() - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    /// assert_eq!(x.grad().unwrap().item(), 0.5);
    /// ```
    #[track_caller]
    pub fn atan(self) -> Var<'g, T> {
        self.unary("atan", T::atan, |ctx, g| {
            grads![Some(g / ctx.input(0).square().add_scalar(T::one()))]
        })
    }

    /// The angle of the point `(x, y) = (other, self)`, in `[−π, π]`, broadcasting:
    /// `torch.atan2(self, other)`, with `self` the y coordinate (as `f64::atan2`). IEEE at
    /// the signed zeros and infinities (`atan2(±0, −0) = ±π`, `atan2(∞, ∞) = π/4`).
    ///
    /// Backward, with `r² = x² + y²`: `grad · x / r²` to `self` and `−grad · y / r²` to
    /// `other`, summed over broadcast axes (saves the inputs). At the origin, where the
    /// angle is undefined (and wherever `r²` underflows to 0), both are 0, as PyTorch 2.15;
    /// the 0 is selected, not `0 · ∞`, so the second derivatives there are 0 too, where
    /// PyTorch's are NaN. Where a coordinate is infinite the gradients hold `∞ · 0` and are
    /// NaN, as PyTorch.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.var(Tensor::scalar(1.0));
    /// let x = g.var(Tensor::scalar(-1.0));
    /// let angle = y.atan2(x);
    /// angle.backward();
    /// assert!((angle.item() - 3.0 * std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    /// assert_eq!((y.grad().unwrap().item(), x.grad().unwrap().item()), (-0.5, -0.5));
    /// ```
    #[track_caller]
    pub fn atan2(self, other: Var<'g, T>) -> Var<'g, T> {
        self.binary(other, "atan2", T::atan2, |ctx, g| {
            let (y, x) = (ctx.input(0), ctx.input(1));
            // r² = 0: the gradient is taken as 0, and 1/r² is not formed (1 in its place).
            let r2_nonzero = |yv: T, xv: T| bit(yv * yv + xv * xv != T::zero());
            let regular = y.derive_const2(x, "atan2_mask", r2_nonzero);
            let one = ctx.graph().scalar(T::one());
            let inv_r2 = (y.square() + x.square()).where_(regular, one).reciprocal();
            grads![
                ctx.needs_grad(0)
                    .then(|| (g * x * inv_r2).keep_where(regular).sum_to_like(y)),
                ctx.needs_grad(1)
                    .then(|| (-(g * y) * inv_r2).keep_where(regular).sum_to_like(x)),
            ]
        })
    }

    /// The hyperbolic sine `sinh x = (eˣ − e⁻ˣ)/2`. Backward: `grad · cosh x` (saves the
    /// input).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(0.0));
    /// let y = x.sinh();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap().item()), (0.0, 1.0));
    /// ```
    #[track_caller]
    pub fn sinh(self) -> Var<'g, T> {
        self.unary("sinh", T::sinh, |ctx, g| {
            grads![Some(g * ctx.input(0).cosh())]
        })
    }

    /// The hyperbolic cosine `cosh x = (eˣ + e⁻ˣ)/2`. Backward: `grad · sinh x` (saves the
    /// input).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::scalar(0.0));
    /// let y = x.cosh();
    /// y.backward();
    /// assert_eq!((y.item(), x.grad().unwrap().item()), (1.0, 0.0));
    /// ```
    #[track_caller]
    pub fn cosh(self) -> Var<'g, T> {
        self.unary("cosh", T::cosh, |ctx, g| {
            grads![Some(g * ctx.input(0).sinh())]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::value_and_grad;
    use crate::testing::{
        self, broadcast_shapes, check_gradgrads, check_grads, shape, tensor, tensor_away_from,
    };
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn sin_cos_atan_sinh_cosh_grads_match_finite_diff(x in tensor(shape(), -2.0..2.0)) {
            let ops: [testing::OpFn; 5] = [|v| v[0].sin(), |v| v[0].cos(), |v| v[0].atan(), |v| v[0].sinh(), |v| v[0].cosh()];
            for f in ops {
                check_grads(f, std::slice::from_ref(&x))?;
                check_gradgrads(f, std::slice::from_ref(&x))?;
            }
        }

        #[test]
        fn atan2_grads_match_finite_diff((y, x) in broadcast_shapes().prop_flat_map(|(a, b)| (tensor_away_from(Just(a), -2.0..2.0, &[0.0], 0.1), tensor_away_from(Just(b), -2.0..2.0, &[0.0], 0.1)))) {
            // y away from 0 keeps the points off the origin and off the branch cut (y = 0,
            // x < 0), where the angle jumps from π to −π.
            check_grads(|v| v[0].atan2(v[1]), &[y.clone(), x.clone()])?;
            check_gradgrads(|v| v[0].atan2(v[1]), &[y, x])?;
        }
    }

    #[test]
    fn trig_and_hyperbolic_known_values() {
        use std::f64::consts::{FRAC_PI_2, FRAC_PI_6};
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-15);
        let (y, d) = value_and_grad(|v| v[0].sin(), &[FRAC_PI_6, -FRAC_PI_2]);
        assert!(
            close(&y, &[0.5, -1.0]) && close(&d, &[0.75f64.sqrt(), 0.0]),
            "{y:?} {d:?}"
        );
        let (y, d) = value_and_grad(|v| v[0].cos(), &[0.0, FRAC_PI_6]);
        assert!(
            close(&y, &[1.0, 0.75f64.sqrt()]) && close(&d, &[0.0, -0.5]),
            "{y:?} {d:?}"
        );
        let (y, d) = value_and_grad(|v| v[0].atan(), &[-1.0, f64::INFINITY]);
        assert_eq!(d, vec![0.5, 0.0]);
        assert!(close(&y, &[-FRAC_PI_2 / 2.0, FRAC_PI_2]), "{y:?}");
        let (e, ie) = (1f64.exp(), (-1f64).exp());
        let (y, d) = value_and_grad(|v| v[0].sinh(), &[1.0, f64::NEG_INFINITY]);
        assert!(close(&y[..1], &[(e - ie) / 2.0]) && close(&d[..1], &[(e + ie) / 2.0]));
        assert_eq!((y[1], d[1]), (f64::NEG_INFINITY, f64::INFINITY));
        let (y, d) = value_and_grad(|v| v[0].cosh(), &[-1.0, f64::NEG_INFINITY]);
        assert!(close(&y[..1], &[(e + ie) / 2.0]) && close(&d[..1], &[-(e - ie) / 2.0]));
        assert_eq!((y[1], d[1]), (f64::INFINITY, f64::NEG_INFINITY));
        let (y, d) = value_and_grad(|v| v[0].sin(), &[f64::INFINITY]);
        assert!(y[0].is_nan() && d[0].is_nan());
    }

    #[test]
    fn atan2_follows_ieee_in_every_quadrant_and_on_the_signed_zeros() {
        use std::f64::consts::{FRAC_PI_4, PI};
        let g = Graph::<f64>::new();
        let y = g.var(Tensor::from_vec(
            vec![1.0, 1.0, -1.0, -1.0, 0.0, -0.0, 0.0],
            &[7],
        ));
        let x = g.var(Tensor::from_vec(
            vec![1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 2.0],
            &[7],
        ));
        let want = [
            FRAC_PI_4,
            3.0 * FRAC_PI_4,
            -3.0 * FRAC_PI_4,
            -FRAC_PI_4,
            PI,
            -PI,
            0.0,
        ];
        let got = y.atan2(x).value().to_vec();
        assert!(
            got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15),
            "{got:?}"
        );
        y.atan2(x).sum().backward();
        // x / r² and −y / r².
        assert_eq!(
            y.grad().unwrap().to_vec(),
            vec![0.5, -0.5, -0.5, 0.5, -1.0, -1.0, 0.5]
        );
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![-0.5, -0.5, 0.5, 0.5, -0.0, 0.0, -0.0]
        );
    }

    #[test]
    fn atan2_grad_at_the_origin_is_zero_as_pytorch() {
        // Also where r² underflows (1e-200² = 0), and at second order.
        let g = Graph::<f64>::new();
        let y = g.var(Tensor::from_vec(vec![0.0, 1e-200, 1.0], &[3]));
        let x = g.var(Tensor::from_vec(vec![0.0, -1e-200, 1.0], &[3]));
        let angle = y.atan2(x);
        assert_eq!(angle.value().get(&[0]), 0.0);
        let dy = g.grad(&[angle.sum()], &[y], true)[0].unwrap();
        assert_eq!(dy.value().to_vec(), vec![0.0, 0.0, 0.5]);
        let [dyy, dyx] = g.grad(&[dy.sum()], &[y, x], false)[..] else {
            unreachable!()
        };
        assert_eq!(dyy.unwrap().value().to_vec(), vec![0.0, 0.0, -0.5]);
        assert_eq!(dyx.unwrap().value().to_vec(), vec![0.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "atan2: lhs [2] and rhs [3] cannot be broadcast together")]
    fn atan2_panics_on_incompatible_shapes() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2])).atan2(g.var(Tensor::zeros(&[3])));
    }
}
