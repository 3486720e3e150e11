//! Products and running sums: prod (over everything or given axes, with `keepdim`), cumsum
//! and cumprod, exact where elements are 0.

use ndarray::{ArrayD, Axis, IxDyn};

use super::reduce::{as_isize, fold_axes, reduced_shape, reduction_axes};
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::checked_axis;
use crate::tensor::Tensor;

/// `Π_{m < k} l[.., m]` along the last axis (of size `n`): the lane shifted right by one with
/// 1 in front, then a running product. Differentiable (pad, narrow and cumprod).
fn exclusive_cumprod<T: Float>(l: Var<'_, T>, n: usize) -> Var<'_, T> {
    l.pad(&[(1, 0)], T::one()).narrow(-1, 0, n).cumprod(-1)
}

impl<'g, T: Float> Var<'g, T> {
    /// The product of all elements, as a scalar (`torch.prod(x)`).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.var(Tensor::arange(1.0, 5.0, 1.0)).prod().item(), 24.0);
    /// ```
    #[track_caller]
    pub fn prod(self) -> Var<'g, T> {
        self.prod_axes(&[], false)
    }

    /// The product over `axes` (all if empty), keeping them as size 1 if `keepdim`, as
    /// `torch.prod` (which takes one dimension; several here, as [`Var::sum_axes`]). The
    /// product of an empty lane is 1.
    ///
    /// Backward: `grad_x = grad · Π_{m ≠ k} x[m]` over each lane. Without a zero in the input
    /// that is `grad · out / x`; with one, as PyTorch's `prod_safe_zeros_backward`, the
    /// products leaving out each element are an exclusive running product from each end
    /// (`cumprod` of the shifted lane, forwards and backwards), so a lone zero gets the
    /// product of the others and two zeros give 0, exactly, at every order. Saves the input
    /// and the output.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![2.0, 0.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let p = x.prod_axes(&[1], false);
    /// assert_eq!(p.value().to_vec(), vec![0.0, 120.0]);
    /// p.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 6.0, 0.0, 30.0, 24.0, 20.0]);
    /// ```
    #[track_caller]
    pub fn prod_axes(self, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        let shape = self.shape_for("prod");
        let axes = reduction_axes("prod", &shape, axes);
        let kept = reduced_shape(&shape, &axes, true);
        let out = reduced_shape(&shape, &axes, keepdim);
        let (kept_dims, in_shape) = (as_isize(&kept), shape.to_vec());
        // The lane layout: kept axes first, reduced axes last, then flattened to [.., n].
        let mut order: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
        order.extend(axes.iter().copied());
        let mut inverse = vec![0; order.len()];
        for (i, &a) in order.iter().enumerate() {
            inverse[a] = i;
        }
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        let permuted: Vec<isize> = order.iter().map(|&a| shape[a] as isize).collect();
        let mut lanes: Vec<isize> = permuted[..shape.len() - axes.len()].to_vec();
        lanes.push(n as isize);
        self.graph().custom_op(
            "prod",
            &[self],
            move |v| {
                let p = if v[0].numel() == 0 {
                    ArrayD::ones(IxDyn(&kept))
                } else {
                    fold_axes(&v[0].view(), &axes, T::one(), |a, b| a * b)
                };
                Tensor::from_array(p.into_shape_with_order(IxDyn(&out)).expect("same count"))
            },
            move |ctx, g| {
                let (x, y) = (ctx.input(0), ctx.output());
                let g = g.reshape(&kept_dims).broadcast_to(&in_shape);
                if x.value().view().iter().all(|&v| v != T::zero()) {
                    return grads![Some(g * y.reshape(&kept_dims) / x)];
                }
                let l = x.permute(&order).reshape(&lanes);
                let after = exclusive_cumprod(l.flip(&[-1]), n).flip(&[-1]);
                let others = (exclusive_cumprod(l, n) * after)
                    .reshape(&permuted)
                    .permute(&inverse);
                grads![Some(g * others)]
            },
        )
    }

    /// The running sum along `axis` (negative counts from the end), as `torch.cumsum`:
    /// `out[.., i, ..] = Σ_{j ≤ i} x[.., j, ..]`, same shape as the input.
    ///
    /// Backward: the reverse running sum of the gradient, `grad_x[i] = Σ_{j ≥ i} grad[j]`
    /// (flip, cumsum, flip), so it is differentiable again. Saves nothing.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.cumsum(1);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    /// let w = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 0.0, 1.0, 0.0], &[2, 3]));
    /// (y * w).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![6.0, 5.0, 3.0, 1.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn cumsum(self, axis: isize) -> Var<'g, T> {
        let ax = checked_axis("cumsum", axis, &self.shape_for("cumsum"));
        self.graph().custom_op(
            "cumsum",
            &[self],
            move |v| {
                let mut a = v[0].array().to_owned();
                a.accumulate_axis_inplace(Axis(ax), |&prev, cur| *cur += prev);
                Tensor::from_array(a)
            },
            move |_, g| {
                let a = ax as isize;
                grads![Some(g.flip(&[a]).cumsum(a).flip(&[a]))]
            },
        )
    }

    /// The running product along `axis` (negative counts from the end), as `torch.cumprod`:
    /// `out[.., i, ..] = Π_{j ≤ i} x[.., j, ..]`, same shape as the input.
    ///
    /// Backward: `grad_x[k] = Σ_{j ≥ k} grad[j] · Π_{m ≤ j, m ≠ k} x[m]`. Without a zero in
    /// the input that is `revcumsum(grad · out) / x`; with one, as PyTorch's double-backward
    /// path, the products leaving out `x[k]` are formed directly (a `[.., n, n, ..]`
    /// intermediate, O(n²) per lane), so the gradient at and after a zero is exact and so are
    /// its derivatives. Saves the input and the output.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![2.0, 0.0, 3.0, 4.0], &[4]));
    /// let y = x.cumprod(0);
    /// assert_eq!(y.value().to_vec(), vec![2.0, 0.0, 0.0, 0.0]);
    /// y.sum().backward();
    /// // d/dx0 = 1 + x1 + x1·x2 + x1·x2·x3; d/dx1 = x0·(1 + x2 + x2·x3); 0 after the zero.
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 32.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn cumprod(self, axis: isize) -> Var<'g, T> {
        let shape = self.shape_for("cumprod");
        let ax = checked_axis("cumprod", axis, &shape);
        let (n, trailing) = (shape[ax], shape.len() - ax - 1);
        self.graph().custom_op(
            "cumprod",
            &[self],
            move |v| {
                let mut a = v[0].array().to_owned();
                a.accumulate_axis_inplace(Axis(ax), |&prev, cur| *cur *= prev);
                Tensor::from_array(a)
            },
            move |ctx, g| {
                let (x, out) = (ctx.input(0), ctx.output());
                let a = ax as isize;
                if x.value().view().iter().all(|&v| v != T::zero()) {
                    return grads![Some((g * out).flip(&[a]).cumsum(a).flip(&[a]) / x)];
                }
                // pairs[k, j] over the lane, followed by size-1 dims for the trailing axes.
                let mut pair_shape = vec![n, n];
                pair_shape.extend(std::iter::repeat_n(1, trailing));
                let pairs = |keep: fn(usize, usize) -> bool| {
                    let mut m = Vec::with_capacity(n * n);
                    for k in 0..n {
                        m.extend((0..n).map(|j| if keep(k, j) { T::one() } else { T::zero() }));
                    }
                    Tensor::from_vec(m, &pair_shape)
                };
                let graph = ctx.graph();
                let off_diagonal =
                    graph.constant_named("cumprod_off_diagonal", pairs(|k, j| k != j));
                let upper = graph.constant_named("cumprod_upper", pairs(|k, j| j >= k));
                // left_out[.., k, j, ..] = Π_{m ≤ j, m ≠ k} x[m]: x with x[k] set to 1.
                let left_out = x
                    .unsqueeze(a)
                    .where_(off_diagonal, graph.scalar(T::one()))
                    .cumprod(a + 1);
                let terms = (left_out * g.unsqueeze(a)).keep_where(upper);
                grads![Some(terms.sum_axes(&[a + 1], false))]
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
        fn cumsum_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0)) {
            check_grads(|v| v[0].cumsum(axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].cumsum(axis).square(), &[x])?;
        }
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn cumprod_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0)) {
            check_grads(|v| v[0].cumprod(axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].cumprod(axis), &[x])?;
        }

        #[test]
        fn cumprod_grads_with_zeros_match_finite_diff(
            (x, axis) in testing::tensor_and_axis(3, -2.0..2.0),
            zeros in prop::collection::vec(any::<bool>(), 125),
        ) {
            // Exact zeros take the O(n²) path; cumprod is a polynomial, so finite
            // differences through a zero are still exact up to rounding.
            let data: Vec<f64> = x.to_vec().iter().zip(&zeros)
                .map(|(&v, &z)| if z { 0.0 } else { v }).collect();
            let x = Tensor::from_vec(data, x.shape());
            check_grads(|v| v[0].cumprod(axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].cumprod(axis), &[x])?;
        }
    }

    #[test]
    fn cumprod_gradient_at_and_after_zeros_is_exact() {
        let g = Graph::<f64>::new();
        // Two zeros: only the first zero and the elements before it get a gradient.
        let x = g.var(Tensor::from_vec(vec![2.0, 0.0, 3.0, 0.0, 5.0], &[5]));
        let w = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0], &[5]));
        (x.cumprod(0) * w).sum().backward();
        // d/dx0 = 1 (later products hold x1 = 0); d/dx1 = x0·(2 + 3·x2) = 22;
        // d/dx3 = x0·x1·x2·(4 + 5·x4) = 0.
        assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 22.0, 0.0, 0.0, 0.0]);

        // Along an inner axis with a zero in one row only.
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![2.0, 3.0, 4.0, 0.0, 3.0, 4.0],
            &[2, 3],
        ));
        let y = x.cumprod(1);
        assert_eq!(y.value().to_vec(), vec![2.0, 6.0, 24.0, 0.0, 0.0, 0.0]);
        y.sum().backward();
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![1.0 + 3.0 + 12.0, 2.0 + 8.0, 6.0, 1.0 + 3.0 + 12.0, 0.0, 0.0]
        );
    }

    #[test]
    #[should_panic(expected = "cumprod: axis 1 is out of range for shape [3]")]
    fn cumprod_panics_on_bad_axis() {
        Graph::<f32>::new().var(Tensor::zeros(&[3])).cumprod(1);
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn prod_grads_match_finite_diff(
            (x, axis) in testing::tensor_and_axis(3, -2.0..2.0),
            keepdim in any::<bool>(),
            zeros in prop::collection::vec(prop::bool::weighted(0.2), 125),
        ) {
            check_grads(|v| v[0].prod_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].prod_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            // Exact zeros: the exclusive-product path. A product is a polynomial, so
            // finite differences through a zero are exact up to rounding.
            let data: Vec<f64> = x.to_vec().iter().zip(&zeros)
                .map(|(&v, &z)| if z { 0.0 } else { v }).collect();
            let z = Tensor::from_vec(data, x.shape());
            check_grads(|v| v[0].prod_axes(&[axis], keepdim), std::slice::from_ref(&z))?;
            check_gradgrads(|v| v[0].prod_axes(&[axis], keepdim), std::slice::from_ref(&z))?;
            check_grads(|v| v[0].prod(), std::slice::from_ref(&z))?;
            check_gradgrads(|v| v[0].prod(), &[z])?;
        }
    }

    #[test]
    fn prod_gradient_with_one_and_two_zeros() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![2.0, 0.0, 3.0, 4.0], &[4]));
        x.prod().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 24.0, 0.0, 0.0]);

        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![2.0, 0.0, 3.0, 0.0, 5.0, 6.0],
            &[3, 2],
        ));
        // Over both axes of a transposed layout: two zeros, so every gradient is 0.
        let p = x.transpose(0, 1).prod_axes(&[0, 1], true);
        assert_eq!(p.shape(), vec![1, 1]);
        p.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 6]);

        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![2.0, 0.0, 3.0, 0.0, 5.0, 6.0],
            &[3, 2],
        ));
        let p = x.prod_axes(&[0], false);
        assert_eq!(p.value().to_vec(), vec![30.0, 0.0]);
        p.sum().backward();
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![15.0, 0.0, 10.0, 0.0, 6.0, 0.0]
        );
    }

    #[test]
    fn prod_of_an_empty_lane_is_one() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2, 0]));
        assert_eq!(x.prod_axes(&[1], false).value().to_vec(), vec![1.0, 1.0]);
        assert_eq!(x.prod().item(), 1.0);
    }

    #[test]
    #[should_panic(expected = "prod: axis -2 is given twice")]
    fn prod_panics_on_repeated_axis() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .prod_axes(&[0, -2], false);
    }

    #[test]
    fn cumsum_known_values_along_the_first_axis() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[3, 2],
        ));
        let y = x.cumsum(0);
        assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 4.0, 6.0, 9.0, 12.0]);
        y.sum().backward();
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![3.0, 3.0, 2.0, 2.0, 1.0, 1.0]
        );
    }

    #[test]
    fn cumsum_propagates_nan_and_inf_forward() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![1.0, f64::INFINITY, f64::NAN, 2.0],
            &[4],
        ));
        let y = x.cumsum(-1).value().to_vec();
        assert_eq!(&y[..2], &[1.0, f64::INFINITY]);
        assert!(y[2].is_nan() && y[3].is_nan());
    }

    #[test]
    #[should_panic(expected = "cumsum: axis 2 is out of range for shape [2, 3]")]
    fn cumsum_panics_on_bad_axis() {
        Graph::<f32>::new().var(Tensor::zeros(&[2, 3])).cumsum(2);
    }
}
