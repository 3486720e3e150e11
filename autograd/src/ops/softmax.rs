//! softmax and log_softmax along an axis: stable forward, fused backward.
//!
//! Both subtract the maximum before exponentiating, so logits of ±1e4 are fine. Their
//! backward rules are fused (one expression instead of the chain through exp, sum and div)
//! for stability and speed; being written with `Var` ops they are twice differentiable.

use ndarray::Axis;

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::checked_axis;
use crate::tensor::Tensor;

impl<'g, T: Float> Var<'g, T> {
    /// `exp(x) / Σ exp(x)` along `axis`. Backward: `out · (grad − Σ(grad · out))`, saving
    /// the output.
    ///
    /// A lane holding NaN or +∞, or only −∞ (every position masked out), is NaN, as in
    /// PyTorch.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let p = g.var(Tensor::from_vec(vec![1e4, 1e4, -1e4], &[3])).softmax(-1);
    /// assert_eq!(p.value().to_vec(), vec![0.5, 0.5, 0.0]);
    /// ```
    #[track_caller]
    pub fn softmax(self, axis: isize) -> Var<'g, T> {
        let ax = checked_axis("softmax", axis, &self.shape_for("softmax"));
        self.graph().custom_op(
            "softmax",
            &[self],
            |v| normalize_lanes(&v[0], ax, false),
            move |ctx, g| {
                let y = ctx.output();
                grads![Some(y * (g - (g * y).sum_axes(&[axis], true)))]
            },
        )
    }

    /// `x − ln Σ exp(x)` along `axis`: log-probabilities, exact where `softmax(x).ln()`
    /// underflows. Backward: `grad − exp(out) · Σ grad`, saving the output.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let lp = g.var(Tensor::from_vec(vec![0.0, -1e4], &[2])).log_softmax(0);
    /// assert_eq!(lp.value().to_vec(), vec![0.0, -1e4]);
    /// ```
    #[track_caller]
    pub fn log_softmax(self, axis: isize) -> Var<'g, T> {
        let ax = checked_axis("log_softmax", axis, &self.shape_for("log_softmax"));
        self.graph().custom_op(
            "log_softmax",
            &[self],
            |v| normalize_lanes(&v[0], ax, true),
            move |ctx, g| grads![Some(g - ctx.output().exp() * g.sum_axes(&[axis], true))],
        )
    }
}

/// Softmax (or log-softmax) of every lane along `axis`, shifting by the lane maximum.
fn normalize_lanes<T: Float>(x: &Tensor<T>, axis: usize, log: bool) -> Tensor<T> {
    let mut out = x.view().to_owned();
    for mut lane in out.lanes_mut(Axis(axis)) {
        // A NaN or +∞ logit, or a lane of −∞ only, gives a NaN lane (x − m is NaN), as
        // PyTorch: NaN is never hidden.
        let m = lane.fold(
            T::neg_infinity(),
            |m, &v| if v > m || v.is_nan() { v } else { m },
        );
        let mut sum = T::zero();
        for v in lane.iter_mut() {
            *v -= m;
            sum += v.exp();
        }
        if log {
            let ln_sum = sum.ln();
            lane.mapv_inplace(|v| v - ln_sum);
        } else {
            let inv = T::one() / sum;
            lane.mapv_inplace(|v| v.exp() * inv);
        }
    }
    Tensor::from_array(out)
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn softmax_grad_and_gradgrad_match_finite_diff((x, axis) in testing::tensor_and_axis(3, -3.0..3.0)) {
            check_grads(|v| v[0].softmax(axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].softmax(axis), &[x])?;
        }

        #[test]
        fn log_softmax_grad_and_gradgrad_match_finite_diff((x, axis) in testing::tensor_and_axis(3, -3.0..3.0)) {
            check_grads(|v| v[0].log_softmax(axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].log_softmax(axis), &[x])?;
        }

        #[test]
        fn log_softmax_equals_ln_of_softmax((x, axis) in testing::tensor_and_axis(3, -3.0..3.0)) {
            let g = Graph::<f64>::new();
            let v = g.var(x);
            prop_assert!(v.log_softmax(axis).value().allclose(&v.softmax(axis).ln().value(), 1e-12, 1e-12));
        }
    }

    #[test]
    fn log_softmax_is_finite_for_extreme_logits() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(vec![1e4, -1e4, 0.0, 0.0], &[2, 2]));
        let lp = x.log_softmax(1);
        assert_eq!(
            lp.value().to_vec(),
            vec![0.0, -2e4, -std::f32::consts::LN_2, -std::f32::consts::LN_2]
        );
        (lp * g.constant(Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[2, 2])))
            .sum()
            .backward();
        assert!(x.grad().unwrap().to_vec().iter().all(|v| v.is_finite()));
    }

    #[test]
    #[should_panic(expected = "softmax: axis 1 is out of range for shape [3]")]
    fn softmax_panics_on_bad_axis() {
        Graph::<f32>::new().var(Tensor::zeros(&[3])).softmax(1);
    }
}
