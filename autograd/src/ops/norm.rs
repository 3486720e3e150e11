//! Vector norms: norm, and the ops built on it, normalize and cosine_similarity.

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::{broadcast_shapes, checked_axis};
use crate::ops::reduce::reduction_axes;

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
    /// If `p < 1` (or NaN), an axis is out of range or repeated, or `p = ∞` over an empty
    /// axis.
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
        check_norm_args("norm", &self.shape_for("norm"), p, axes);
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

    /// `x / max(‖x‖_p, eps)` along `axis`, as `F.normalize(x, p, axis, eps)` (PyTorch's
    /// defaults are `p = 2`, `axis = 1`, `eps = 1e-12`): unit vectors, with lanes of norm
    /// below `eps` divided by `eps` instead.
    ///
    /// Backward: by composition (norm, clamp, division); where the norm is below `eps` the
    /// clamped denominator is a constant, so no gradient flows through it. At a zero vector
    /// the second derivatives are 0 ([`Var::norm`]'s selected 0), where PyTorch's double
    /// backward gives NaN.
    ///
    /// # Panics
    /// If `p < 1`, `axis` is out of range, or `p = ∞` and the axis is empty.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![3.0, 4.0, 0.0, 0.0], &[2, 2]));
    /// let y = x.normalize(2.0, 1, 1e-12);
    /// assert_eq!(y.value().to_vec(), vec![0.6, 0.8, 0.0, 0.0]);
    /// y.narrow(1, 0, 1).sum().backward();
    /// // d(x0/‖x‖)/dx = (1/‖x‖ − x0²/‖x‖³, −x0·x1/‖x‖³); 1/eps in the zero lane.
    /// let grad = x.grad().unwrap().to_vec();
    /// assert!((grad[0] - 0.128).abs() < 1e-15 && (grad[1] + 0.096).abs() < 1e-15);
    /// assert_eq!(grad[2..], [1e12, 0.0]);
    /// ```
    #[track_caller]
    pub fn normalize(self, p: T, axis: isize, eps: T) -> Var<'g, T> {
        check_norm_args("normalize", &self.shape_for("normalize"), p, &[axis]);
        let norm = self.norm(p, &[axis], true);
        self / norm.clamp(eps, T::infinity())
    }

    /// The cosine of the angle between `self` and `other` along `axis` (after broadcasting
    /// them to a common shape), as `F.cosine_similarity(x1, x2, axis, eps)` (defaults
    /// `axis = 1`, `eps = 1e-8`): `Σ (x1/‖x1‖) · (x2/‖x2‖)`, each norm taken as at least
    /// `eps`. Normalising first keeps the result within [−1, 1].
    ///
    /// Backward: by composition. As PyTorch, the `eps` floor changes only the value: the
    /// gradient flows through each norm as if it were not clamped (PyTorch clamps in place
    /// under `no_grad`), so a zero vector gets gradient `other/(‖other‖·eps)`. Its second
    /// derivatives at a zero vector are finite (those of [`Var::norm`]'s selected 0), where
    /// PyTorch's double backward gives NaN.
    ///
    /// # Panics
    /// If the shapes do not broadcast, or `axis` is out of range for the broadcast shape.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 0.0, 3.0, 4.0], &[2, 2]));
    /// let b = g.var(Tensor::from_vec(vec![0.0, 2.0, 6.0, 8.0], &[2, 2]));
    /// let c = a.cosine_similarity(b, 1, 1e-8);
    /// assert_eq!(c.value().to_vec(), vec![0.0, 1.0]);
    /// c.sum().backward();
    /// // d cos / da = b/(‖a‖‖b‖) − cos·a/‖a‖²: (0, 1) for the orthogonal pair.
    /// assert_eq!(a.grad().unwrap().to_vec()[..2], [0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn cosine_similarity(self, other: Var<'g, T>, axis: isize, eps: T) -> Var<'g, T> {
        let op = "cosine_similarity";
        let (a, b) = (self.shape_for(op), other.shape_for(op));
        let Some(shape) = broadcast_shapes(&a, &b) else {
            panic!(
                "{op}: shapes {:?} and {:?} do not broadcast",
                a.as_slice(),
                b.as_slice()
            );
        };
        checked_axis(op, axis, &shape);
        let unit = |x: Var<'g, T>| {
            let x = x.broadcast_to(&shape);
            let norm = x.norm(T::from_f64(2.0), &[axis], true);
            // The floor as a value-only change: its backward passes the gradient unchanged.
            let floored = norm.unary(
                "cosine_similarity_floor",
                move |v| if v < eps { eps } else { v },
                |_, g| grads![Some(g)],
            );
            x / floored
        };
        (unit(self) * unit(other)).sum_axes(&[axis], false)
    }
}

/// Refuses, naming `op` (norm, or the op built on it), an order below 1, a bad or repeated
/// axis, and the ∞-norm over an empty axis (the max of nothing; PyTorch refuses it too), so
/// that no op inside it names itself instead.
#[track_caller]
fn check_norm_args<T: Float>(op: &str, shape: &[usize], p: T, axes: &[isize]) {
    assert!(
        p >= T::one(),
        "{op}: the order p must be at least 1 (the orders that are norms), got {p:?}"
    );
    let axes = reduction_axes(op, shape, axes);
    assert!(
        p != T::infinity() || axes.iter().all(|&a| shape[a] > 0),
        "{op}: the ∞-norm over an empty axis is undefined (shape {shape:?})"
    );
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
            check_grads(|v| v[0].norm(2.0, &[], false), std::slice::from_ref(&x))?;
            // The ∞-norm's derivative jumps where two magnitudes tie, so a finite difference
            // across a near-tie is wrong: the same order of magnitudes, spaced 0.01 apart.
            let values = x.to_vec();
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()));
            let mut spaced = values.clone();
            for (rank, &i) in order.iter().enumerate() {
                spaced[i] = values[i].signum() * (0.2 + 0.01 * rank as f64);
            }
            let spaced = Tensor::from_vec(spaced, x.shape());
            check_grads(|v| v[0].norm(f64::INFINITY, &[axis], keepdim), &[spaced])?;
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

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn normalize_and_cosine_similarity_grads_match_finite_diff(
            (x, axis) in testing::tensor_and_axis(3, 0.2..2.0),
            signs in prop::collection::vec(any::<bool>(), 250),
        ) {
            let flip = |t: &Tensor<f64>, s: &[bool]| {
                let d: Vec<f64> = t.to_vec().iter().zip(s).map(|(&v, &s)| if s { -v } else { v }).collect();
                Tensor::from_vec(d, t.shape())
            };
            let a = flip(&x, &signs[..125]);
            let b = flip(&x.map(|v| 2.2 - v), &signs[125..]);
            check_grads(|v| v[0].normalize(2.0, axis, 1e-12), std::slice::from_ref(&a))?;
            check_grads(|v| v[0].normalize(3.0, axis, 1e-12), std::slice::from_ref(&a))?;
            check_gradgrads(|v| v[0].normalize(2.0, axis, 1e-12), std::slice::from_ref(&a))?;
            check_grads(|v| v[0].cosine_similarity(v[1], axis, 1e-8), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].cosine_similarity(v[1], axis, 1e-8), &[a, b])?;
        }
    }

    #[test]
    fn cosine_similarity_broadcasts_and_floors_a_zero_vector() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(vec![0.0, 0.0], &[2]));
        let b = g.var(Tensor::from_vec(vec![3.0, 4.0, 6.0, 8.0], &[2, 2]));
        let c = a.cosine_similarity(b, -1, 1e-8);
        assert_eq!(c.value().to_vec(), vec![0.0, 0.0]);
        c.sum().backward();
        // As PyTorch: b/(‖b‖·eps) for each row, summed over the broadcast rows.
        let grad = a.grad().unwrap().to_vec();
        assert!((grad[0] / 1.2e8 - 1.0).abs() < 1e-12 && (grad[1] / 1.6e8 - 1.0).abs() < 1e-12);
    }

    #[test]
    #[should_panic(expected = "cosine_similarity: shapes [2] and [3] do not broadcast")]
    fn cosine_similarity_panics_on_shapes_that_do_not_broadcast() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2]))
            .cosine_similarity(g.var(Tensor::zeros(&[3])), 0, 1e-8);
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
    #[should_panic(expected = "norm: axis 1 is out of range for shape [2]")]
    fn norm_panics_on_an_out_of_range_axis_naming_itself() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2]))
            .norm(2.0, &[1], false);
    }

    #[test]
    #[should_panic(expected = "normalize: axis 2 is out of range for shape [2, 2]")]
    fn normalize_panics_on_an_out_of_range_axis_naming_itself() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2, 2]))
            .normalize(2.0, 2, 1e-12);
    }

    #[test]
    #[should_panic(
        expected = "normalize: the order p must be at least 1 (the orders that are norms), got 0.0"
    )]
    fn normalize_panics_on_a_zero_order_naming_itself() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2]))
            .normalize(0.0, 0, 1e-12);
    }

    #[test]
    #[should_panic(
        expected = "norm: the order p must be at least 1 (the orders that are norms), got 0.0"
    )]
    fn norm_panics_on_a_zero_order() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[3]))
            .norm(0.0, &[], false);
    }

    #[test]
    #[should_panic(
        expected = "normalize: the ∞-norm over an empty axis is undefined (shape [2, 0])"
    )]
    fn normalize_refuses_the_inf_norm_of_an_empty_axis_naming_itself() {
        let g = Graph::<f64>::new();
        g.var(Tensor::zeros(&[2, 0]))
            .normalize(f64::INFINITY, 1, 1e-12);
    }

    #[test]
    fn finite_norms_over_an_empty_axis_are_zero() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2, 0]));
        assert_eq!(x.norm(2.0, &[1], false).value().to_vec(), vec![0.0, 0.0]);
        assert_eq!(x.norm(f64::INFINITY, &[0], false).shape(), vec![0]);
    }
}
