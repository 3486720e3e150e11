//! Reductions: sum, mean, max, min, var, std, logsumexp — over everything or given axes,
//! with `keepdim` — and argmax/argmin. Products and running sums (prod, cumsum, cumprod)
//! are in `product.rs`.
//!
//! Axes may be negative (`-1` is the last); an empty axis list reduces every axis, as in
//! PyTorch. `sum`, `max` and `min` have backward rules; the others are composed from them.
//! `max`/`min` split the gradient evenly between tied elements.

use ndarray::{ArrayD, Axis, IxDyn};
use smallvec::SmallVec;

use crate::alloc::{OpScope, full_array};
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::checked_axis;
use crate::tensor::Tensor;

type Axes = SmallVec<[usize; 4]>;

/// Validates and normalises reduction axes (all of them when `axes` is empty).
#[track_caller]
pub(crate) fn reduction_axes(op: &str, shape: &[usize], axes: &[isize]) -> Axes {
    if axes.is_empty() {
        return (0..shape.len()).collect();
    }
    let mut out = Axes::new();
    for &a in axes {
        let n = checked_axis(op, a, shape);
        assert!(!out.contains(&n), "{op}: axis {a} is given twice");
        out.push(n);
    }
    out.sort_unstable();
    out
}

/// The shape after reducing `axes`, keeping them as size 1 when `keepdim`.
pub(super) fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keepdim) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// A shape as the `isize` dimensions `reshape` takes.
pub(super) fn as_isize(shape: &[usize]) -> Vec<isize> {
    shape.iter().map(|&d| d as isize).collect()
}

/// Folds `axes` of `a` with `f`, starting from `init`; the result keeps the axes as size 1.
pub(super) fn fold_axes<T: Float>(
    a: &ndarray::ArrayViewD<'_, T>,
    axes: &[usize],
    init: T,
    f: impl Fn(T, T) -> T + Copy,
) -> ArrayD<T> {
    let mut out = a.to_owned();
    for &ax in axes {
        out = out
            .fold_axis(Axis(ax), init, |&acc, &x| f(acc, x))
            .insert_axis(Axis(ax));
    }
    out
}

/// The first element along each of `axes` of `x` (zeros if there is none), with `kept` shape:
/// the shift that makes a constant lane centre to exactly 0.
fn first_along<T: Float>(x: &Tensor<T>, axes: &[usize], kept: &[usize]) -> Tensor<T> {
    if axes.iter().any(|&a| x.shape()[a] == 0) {
        return Tensor::zeros(kept);
    }
    let mut v = x.view();
    for &a in axes {
        v.slice_axis_inplace(Axis(a), ndarray::Slice::from(0..1));
    }
    Tensor::from_array(v.to_owned())
}

impl<'g, T: Float> Var<'g, T> {
    /// The sum of all elements, as a scalar (shape `[]`). Backward: `grad` broadcast to the
    /// input's shape.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!(g.var(Tensor::arange(1.0, 5.0, 1.0)).sum().item(), 10.0);
    /// ```
    #[track_caller]
    pub fn sum(self) -> Var<'g, T> {
        self.sum_axes(&[], false)
    }

    /// The sum over `axes` (all if empty), keeping them as size 1 if `keepdim`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// assert_eq!(x.sum_axes(&[1], false).value().to_vec(), vec![6.0, 15.0]);
    /// assert_eq!(x.sum_axes(&[0], true).shape(), vec![1, 3]);
    /// ```
    #[track_caller]
    pub fn sum_axes(self, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        let shape = self.shape_for("sum");
        let axes = reduction_axes("sum", &shape, axes);
        let kept = reduced_shape(&shape, &axes, true);
        let out = reduced_shape(&shape, &axes, keepdim);
        // Computed once here, not on every backward pass.
        let (kept_dims, in_shape) = (as_isize(&kept), shape.to_vec());
        self.graph().custom_op(
            "sum",
            &[self],
            |v| {
                let s = if v[0].numel() == 0 {
                    // Checked: an empty input can have a huge output ([2⁴⁰, 0] summed over
                    // its last axis), which must be refused, not abort the process.
                    full_array("sum", &kept, T::zero())
                } else {
                    fold_axes(&v[0].view(), &axes, T::zero(), |a, b| a + b)
                };
                Tensor::from_array(s.into_shape_with_order(IxDyn(&out)).expect("same count"))
            },
            move |_, g| grads![Some(g.reshape(&kept_dims).broadcast_to(&in_shape))],
        )
    }

    /// The mean of all elements, as a scalar.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.var(Tensor::arange(1.0, 5.0, 1.0)).mean().item(), 2.5);
    /// ```
    #[track_caller]
    pub fn mean(self) -> Var<'g, T> {
        self.mean_axes(&[], false)
    }

    /// The mean over `axes` (all if empty), keeping them as size 1 if `keepdim`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// assert_eq!(x.mean_axes(&[0], false).value().to_vec(), vec![2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn mean_axes(self, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        let n = self.reduced_count("mean", axes);
        let _scope = OpScope::enter("mean");
        self.sum_axes(axes, keepdim)
            .mul_scalar(T::one() / T::from_usize(n))
    }

    #[track_caller]
    fn reduced_count(self, op: &str, axes: &[isize]) -> usize {
        let shape = self.shape_for(op);
        reduction_axes(op, &shape, axes)
            .iter()
            .map(|&a| shape[a])
            .product()
    }

    /// The variance over `axes` (all if empty) with Bessel's `correction` (1 gives the
    /// unbiased estimate, PyTorch's default; 0 the population variance):
    /// `Σ(x − mean)² / max(n − correction, 0)`.
    ///
    /// As PyTorch, `n ≤ correction` divides by 0: ∞ for data that varies, NaN for a constant
    /// or empty lane (never a negative variance). The data are shifted by their first element
    /// before centring, so a constant lane has a variance of exactly 0, and a large common
    /// offset loses no precision.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    /// assert!((x.variance_axes(&[], 1, false).item() - 5.0 / 3.0).abs() < 1e-15);
    /// assert_eq!(x.variance_axes(&[], 0, false).item(), 1.25);
    /// assert_eq!(x.variance_axes(&[], 4, false).item(), f64::INFINITY);
    /// ```
    #[track_caller]
    #[doc(alias = "var")]
    pub fn variance_axes(self, axes: &[isize], correction: usize, keepdim: bool) -> Var<'g, T> {
        let shape = self.shape_for("var");
        let reduced = reduction_axes("var", &shape, axes);
        let n: usize = reduced.iter().map(|&a| shape[a]).product();
        let kept = reduced_shape(&shape, &reduced, true);
        let shift = self
            .graph()
            .constant_named("var_shift", first_along(&self.value(), &reduced, &kept));
        let shifted = self - shift;
        let centered = shifted - shifted.mean_axes(axes, true);
        let dof = T::from_usize(n.saturating_sub(correction));
        centered
            .square()
            .sum_axes(axes, keepdim)
            .mul_scalar(T::one() / dof)
    }

    /// The unbiased variance of all elements (`correction = 1`): PyTorch's `var`, named
    /// apart from [`Graph::var`](crate::Graph::var), which enters a value into the graph.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.var(Tensor::from_vec(vec![1.0, 3.0], &[2])).variance().item(), 2.0);
    /// assert!(g.var(Tensor::zeros(&[0])).variance().item().is_nan());
    /// ```
    #[doc(alias = "var")]
    #[track_caller]
    pub fn variance(self) -> Var<'g, T> {
        self.variance_axes(&[], 1, false)
    }

    /// The standard deviation over `axes`: the square root of [`Var::variance_axes`].
    ///
    /// Backward: `grad / (2·out)` into the variance's backward, taken as 0 where `out = 0`
    /// (a constant lane), as PyTorch's `std_backward`: the gradient and the Hessian of the
    /// standard deviation of identical samples are 0, not NaN. Saves the output.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], &[8]));
    /// assert_eq!(x.std_axes(&[0], 0, false).item(), 2.0);
    ///
    /// let same = g.var(Tensor::full(&[3], 0.1));
    /// same.std().backward();
    /// assert_eq!(same.grad().unwrap().to_vec(), vec![0.0; 3]);
    /// ```
    #[track_caller]
    pub fn std_axes(self, axes: &[isize], correction: usize, keepdim: bool) -> Var<'g, T> {
        reduction_axes("std", &self.shape_for("std"), axes);
        self.variance_axes(axes, correction, keepdim)
            .unary("std", T::sqrt, |ctx, g| {
                let y = ctx.output();
                let nonzero = y.derive_mask("std_mask", |v| v != T::zero());
                // The denominator masked too, so no 0/0 reaches a second derivative.
                let y_safe = y.where_(nonzero, ctx.graph().scalar(T::one()));
                grads![Some(
                    (g / y_safe)
                        .mul_scalar(T::from_f64(0.5))
                        .keep_where(nonzero)
                )]
            })
    }

    /// The unbiased standard deviation of all elements.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.var(Tensor::from_vec(vec![1.0, 3.0], &[2])).std().item(), 2f64.sqrt());
    /// ```
    #[track_caller]
    pub fn std(self) -> Var<'g, T> {
        self.std_axes(&[], 1, false)
    }

    /// The largest element, as a scalar.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!(g.var(Tensor::from_vec(vec![1.0, 7.0, 3.0], &[3])).max().item(), 7.0);
    /// ```
    #[track_caller]
    pub fn max(self) -> Var<'g, T> {
        self.max_axes(&[], false)
    }

    /// The maximum over `axes` (all if empty), as `torch.amax`; NaN propagates (a lane
    /// holding NaN has maximum NaN).
    ///
    /// Backward: the gradient goes to the maximal elements, split evenly between ties
    /// (`torch.amax`, and `torch.max()` over everything; `torch.max(dim)` instead gives it all
    /// to the one index it returns). In a NaN lane the NaNs share it, as `torch.max()`
    /// (`torch.amax` gives the whole lane NaN). Elsewhere the gradient is exactly 0,
    /// selected, so an infinite gradient arriving gives 0 there, not NaN (as `torch.max()`;
    /// `torch.amax` multiplies and gives NaN). Saves the input and the output.
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or the tensor has no elements.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 3.0, 0.0], &[2, 2]));
    /// let m = x.max_axes(&[1], false);
    /// assert_eq!(m.value().to_vec(), vec![3.0, 3.0]);
    /// m.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn max_axes(self, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        self.extremum("max", axes, keepdim, T::neg_infinity(), |a, b| {
            if b > a || b.is_nan() { b } else { a }
        })
    }

    /// The smallest element, as a scalar.
    #[track_caller]
    pub fn min(self) -> Var<'g, T> {
        self.min_axes(&[], false)
    }

    /// The minimum over `axes` (all if empty), as `torch.amin`; NaN propagates. Ties split
    /// the gradient evenly; the rules of [`Var::max_axes`].
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or the tensor has no elements.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 2.0, 0.0], &[2, 2]));
    /// assert_eq!(x.min_axes(&[0], true).value().to_vec(), vec![1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn min_axes(self, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        self.extremum("min", axes, keepdim, T::infinity(), |a, b| {
            if b < a || b.is_nan() { b } else { a }
        })
    }

    #[track_caller]
    fn extremum(
        self,
        op: &'static str,
        axes: &[isize],
        keepdim: bool,
        init: T,
        pick: fn(T, T) -> T, // the new accumulator; keeps a NaN accumulator
    ) -> Var<'g, T> {
        let shape = self.shape_for(op);
        let axes = reduction_axes(op, &shape, axes);
        // As torch.amax: empty lanes have no extremum, but no lanes at all is fine.
        assert!(
            axes.iter().all(|&a| shape[a] > 0),
            "{op}: cannot reduce over an empty axis of shape {:?}",
            shape.as_slice()
        );
        let out = reduced_shape(&shape, &axes, keepdim);
        let kept = reduced_shape(&shape, &axes, true);
        let kept_dims = as_isize(&kept);
        let fold_axes_ = axes.clone();
        self.graph().custom_op(
            op,
            &[self],
            move |v| {
                let m = fold_axes(&v[0].view(), &fold_axes_, init, pick);
                Tensor::from_array(m.into_shape_with_order(IxDyn(&out)).expect("same count"))
            },
            move |ctx, g| {
                // Share of each element: 1/count where it equals the extremum, else 0.
                let x = ctx.input(0).value();
                let m = ctx.output().value();
                let m = m
                    .array()
                    .clone()
                    .into_shape_with_order(IxDyn(&kept))
                    .expect("same count");
                let mask = ndarray::Zip::from(&x.view())
                    .and_broadcast(&m)
                    .map_collect(|&a, &b| {
                        if a == b || (a.is_nan() && b.is_nan()) {
                            T::one()
                        } else {
                            T::zero()
                        }
                    });
                let counts = fold_axes(&mask.view(), &axes, T::zero(), |a, b| a + b);
                let share = ndarray::Zip::from(&mask)
                    .and_broadcast(&counts)
                    .map_collect(|&a, &c| a / c);
                let share = ctx
                    .graph()
                    .constant_named("extremum_share", Tensor::from_array(share));
                grads![Some(
                    g.reshape(&kept_dims)
                        .broadcast_to(x.shape())
                        .scale_or_zero(share)
                )]
            },
        )
    }

    /// `ln Σ exp(x)` over `axes` (all if empty), computed stably by subtracting the maximum.
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or the tensor has no elements.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1000.0, 1000.0], &[2]));
    /// assert_eq!(x.logsumexp_axes(&[0], false).item(), 1000.0 + 2f64.ln());
    /// ```
    #[track_caller]
    pub fn logsumexp_axes(self, axes: &[isize], keepdim: bool) -> Var<'g, T> {
        let shape = self.shape_for("logsumexp");
        let axes_n = reduction_axes("logsumexp", &shape, axes);
        // The shift m is a constant: the result does not depend on it mathematically, so no
        // gradient needs to flow through it. An infinite maximum is replaced by 0, and so is
        // the maximum of an empty lane (whose sum of exponentials is 0: −∞, as PyTorch).
        let m = if axes_n.iter().all(|&a| shape[a] > 0) {
            self.max_axes(axes, true)
                .detach()
                .derive_const(
                    "logsumexp_shift",
                    |a| if a.is_finite() { a } else { T::zero() },
                )
        } else {
            self.graph().scalar(T::zero())
        };
        let lse = (self - m).exp().sum_axes(axes, true).ln() + m;
        if keepdim {
            lse
        } else {
            lse.reshape(&as_isize(&reduced_shape(&shape, &axes_n, false)))
        }
    }

    /// `ln Σ exp(x)` over all elements, as a scalar.
    #[track_caller]
    pub fn logsumexp(self) -> Var<'g, T> {
        self.logsumexp_axes(&[], false)
    }

    /// The index of the largest element along `axis` (the first on ties), as `torch.argmax`;
    /// NaN counts as the largest, so a lane holding NaN gives its first NaN. Not
    /// differentiable: returns plain indices ([`Tensor::argmax`] on the value).
    ///
    /// # Panics
    /// If `axis` is out of range or has size 0.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![0.1, 0.7, 0.2, 0.9, 0.05, 0.05], &[2, 3]));
    /// assert_eq!(x.argmax(-1).into_raw_vec_and_offset().0, vec![1, 0]);
    /// ```
    #[track_caller]
    pub fn argmax(self, axis: isize) -> ArrayD<usize> {
        self.value().argmax(axis)
    }

    /// The index of the smallest element along `axis` (the first on ties), as
    /// `torch.argmin`; a lane holding NaN gives its first NaN ([`Tensor::argmin`] on the
    /// value).
    ///
    /// # Panics
    /// If `axis` is out of range or has size 0.
    #[track_caller]
    pub fn argmin(self, axis: isize) -> ArrayD<usize> {
        self.value().argmin(axis)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, shape, tensor};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn sum_mean_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0), keepdim in any::<bool>()) {
            check_grads(|v| v[0].sum_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].mean_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].sum() * v[0].mean(), &[x])?;
        }

        #[test]
        fn var_std_logsumexp_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0), keepdim in any::<bool>()) {
            prop_assume!(x.shape()[axis.rem_euclid(x.ndim() as isize) as usize] > 1);
            check_grads(|v| v[0].variance_axes(&[axis], 1, keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].std_axes(&[axis], 0, keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].logsumexp_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].logsumexp_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].variance_axes(&[axis], 1, keepdim), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].std_axes(&[axis], 0, keepdim), &[x])?;
        }

        #[test]
        fn max_min_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0), keepdim in any::<bool>()) {
            // Random reals have no ties; ties are tested exactly below.
            check_grads(|v| v[0].max_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].min_axes(&[axis], keepdim), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].max() + v[0].min(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].max_axes(&[axis], keepdim).square(), &[x])?;
        }

        #[test]
        fn full_reductions_of_any_rank_match_finite_diff(x in tensor(shape(), -2.0..2.0)) {
            check_grads(|v| v[0].sum_axes(&[], true), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].logsumexp(), &[x])?;
        }
    }

    #[test]
    fn max_ties_split_the_gradient() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![2.0, 2.0, 2.0, 1.0], &[4]));
        x.max().backward();
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0]
        );
    }

    #[test]
    fn logsumexp_handles_infinities() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![f64::NEG_INFINITY, f64::NEG_INFINITY],
            &[2],
        ));
        assert_eq!(x.logsumexp().item(), f64::NEG_INFINITY);
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 3.0], &[3]));
        assert_eq!(x.argmax(0).into_raw_vec_and_offset().0, vec![1]);
        assert_eq!(x.argmin(0).into_raw_vec_and_offset().0, vec![0]);
    }

    #[test]
    #[should_panic(expected = "sum: axis 2 is out of range for shape [2, 3]")]
    fn sum_panics_on_bad_axis() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .sum_axes(&[2], false);
    }

    #[test]
    #[should_panic(expected = "mean: axis -1 is given twice")]
    fn mean_panics_on_repeated_axis() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .mean_axes(&[1, -1], false);
    }

    #[test]
    #[should_panic(expected = "max: cannot reduce over an empty axis of shape [0]")]
    fn max_panics_on_empty_tensor() {
        Graph::<f32>::new().var(Tensor::zeros(&[0])).max();
    }

    #[test]
    fn max_over_nonempty_lanes_of_an_empty_batch_is_empty() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[0, 3]));
        assert_eq!(x.max_axes(&[1], false).shape(), vec![0]);
        assert_eq!(x.logsumexp_axes(&[1], true).shape(), vec![0, 1]);
    }

    #[test]
    fn logsumexp_of_an_empty_lane_is_minus_infinity() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2, 0]));
        let y = x.logsumexp_axes(&[1], false);
        assert_eq!(y.value().to_vec(), vec![f64::NEG_INFINITY; 2]);
    }

    #[test]
    #[should_panic(expected = "std: axis 1 is out of range for shape [3]")]
    fn std_panics_naming_itself_on_a_bad_axis() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[3]))
            .std_axes(&[1], 1, false);
    }

    #[test]
    #[should_panic(expected = "logsumexp: axis -2 is out of range for shape [3]")]
    fn logsumexp_panics_naming_itself_on_a_bad_axis() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[3]))
            .logsumexp_axes(&[-2], false);
    }

    #[test]
    #[should_panic(expected = "mean: cannot allocate shape [1099511627776, 1]")]
    fn mean_of_an_empty_input_with_a_huge_output_is_refused_naming_mean() {
        // Found by the op-program table: the zeros of an empty sum were made by ndarray,
        // which aborts the process when the allocator refuses.
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1 << 40, 0]))
            .mean_axes(&[1], false);
    }
}
