//! Vector norms: norm.

use crate::float::Float;
use crate::grads;
use crate::graph::Var;

impl<'g, T: Float> Var<'g, T> {
    /// The vector `p`-norm over `axes` (all if empty), keeping them as size 1 if `keepdim`,
    /// as `torch.linalg.vector_norm(x, p, axes, keepdim)`: `(Σ |x|^p)^(1/p)`; `p = 1` is
    /// `Σ |x|`, `p = 2` `√(Σ x²)`, `p = ∞` `max |x|`. Takes `p ≥ 1`, the orders that are
    /// norms (PyTorch also allows `0 ≤ p < 1` and negative orders, whose second derivatives
    /// at a zero element are not finite).
    ///
    /// Backward, by composition: `p = 1` is `sign(x)·grad` (0 at x = 0), `p = ∞` sends the
    /// gradient to the largest `|x|`, ties split evenly, and otherwise
    /// `grad · x·|x|^(p−2) / norm^(p−1)`. Where the norm is 0 the gradient is exactly 0,
    /// selected (PyTorch's convention for `p = 2`, and its `masked_fill` for other `p`), and
    /// so are its second derivatives there, and at a zero element for `1 < p < 2` (where
    /// `|x|^(p−2)` is infinite); PyTorch's double backward gives NaN in both places. Saves
    /// the output for the root.
    ///
    /// # Panics
    /// If `p < 1` (or NaN), or an axis is out of range or repeated.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![3.0, -4.0, 0.0, 0.0], &[2, 2]));
    /// let n = x.norm(2.0, &[1], false);
    /// assert_eq!(n.value().to_vec(), vec![5.0, 0.0]);
    /// n.sum().backward();
    /// let grad = x.grad().unwrap().to_vec(); // x/‖x‖, and 0 for the zero row
    /// assert!((grad[0] - 0.6).abs() < 1e-15 && (grad[1] + 0.8).abs() < 1e-15);
    /// assert_eq!(grad[2..], [0.0, 0.0]);
    /// assert_eq!(x.norm(1.0, &[], false).item(), 7.0);
    /// assert_eq!(x.norm(f64::INFINITY, &[0], false).value().to_vec(), vec![3.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn norm(self, p: T, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        assert!(
            p > T::zero(),
            "norm: the order p must be positive, got {p:?}"
        );
        if p == T::infinity() {
            return self.abs().max_axes(axes, keepdim);
        }
        if p == T::one() {
            return self.abs().sum_axes(axes, keepdim);
        }
        let powered = if p == T::from_f64(2.0) {
            self.square()
        } else {
            self.abs().powf(p)
        };
        let inv = T::one() / p;
        powered.sum_axes(axes, keepdim).unary(
            "norm",
            move |s| s.powf(inv),
            move |ctx, g| {
                // d s^(1/p)/ds = y^(1−p)/p, selected 0 where y = 0 (no 0·∞ at any order).
                let y = ctx.output();
                let nonzero = y.derive_mask("norm_mask", |v| v != T::zero());
                let y_safe = y.where_(nonzero, ctx.graph().scalar(T::one()));
                grads![Some(
                    (g * y_safe.powf(T::one() - p))
                        .mul_scalar(inv)
                        .keep_where(nonzero)
                )]
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn norm_grads_match_finite_diff(
            (x, axis) in testing::tensor_and_axis(3, 0.2..2.0),
            signs in prop::collection::vec(any::<bool>(), 125),
            keepdim in any::<bool>(),
        ) {
            // Away from the kink at 0 (magnitudes in 0.2..2, random signs).
            let data: Vec<f64> = x.to_vec().iter().zip(&signs)
                .map(|(&v, &s)| if s { -v } else { v }).collect();
            let x = Tensor::from_vec(data, x.shape());
            for p in [1.0, 2.0, 3.0, 1.5] {
                check_grads(move |v| v[0].norm(p, &[axis], keepdim), std::slice::from_ref(&x))?;
                check_gradgrads(move |v| v[0].norm(p, &[axis], keepdim), std::slice::from_ref(&x))?;
            }
            check_grads(|v| v[0].norm(f64::INFINITY, &[axis], keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].norm(2.0, &[], false), &[x])?;
        }
    }

    #[test]
    fn norm_gradient_at_a_zero_vector_is_zero_at_every_order() {
        for p in [1.0, 2.0, 3.0, 1.5, f64::INFINITY] {
            let g = Graph::<f64>::new();
            let x = g.var(Tensor::zeros(&[3]));
            let n = x.norm(p, &[], false);
            assert_eq!(n.item(), 0.0);
            let gx = g.grad(&[n], &[x], true)[0].unwrap();
            assert_eq!(gx.value().to_vec(), vec![0.0; 3], "p = {p}");
            let w = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
            if let Some(h) = g.grad(&[(gx * w).sum()], &[x], false)[0] {
                assert_eq!(h.value().to_vec(), vec![0.0; 3], "p = {p}");
            }
        }
    }

    #[test]
    fn norm_known_values() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![1.0, -2.0, 2.0], &[3]));
        assert!((x.norm(3.0, &[], false).item() - 17f64.cbrt()).abs() < 1e-15);
        assert_eq!(x.norm(2.0, &[0], true).value().to_vec(), vec![3.0]);
        // p = ∞ splits the gradient between the tied largest magnitudes, with their signs.
        x.norm(f64::INFINITY, &[], false).backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, -0.5, 0.5]);
    }

    #[test]
    #[should_panic(expected = "norm: the order p must be positive, got 0.0")]
    fn norm_panics_on_a_zero_order() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[3]))
            .norm(0.0, &[], false);
    }
}
