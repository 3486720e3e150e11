//! Sorting along an axis: sort, argsort and topk, as `torch.sort`, `torch.argsort` and
//! `torch.topk`.
//!
//! The order is stable (tied elements keep their order along the axis, in both directions)
//! and NaN counts as larger than everything, as in PyTorch. The values are a
//! [`gather`](Var::gather) of the input at the sorted indices, so their backward (the
//! gradient scattered back to the source positions) and every higher order come from
//! gather's; the indices are plain `usize`s, not differentiable, as from
//! [`Var::argmax`].

use std::cmp::Ordering;
use std::rc::Rc;

use ndarray::{ArrayD, Axis};

use crate::float::Float;
use crate::graph::Var;
use crate::kernels::checked_axis;
use crate::tensor::Tensor;

/// The total order of the sort: NaN after every number (and equal to NaN), as PyTorch.
fn nan_last<T: Float>(a: T, b: T) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// For each lane along `ax`, the positions of its first `k` elements in the stable order
/// (ascending, or descending with ties still in position order); `sorted = false` lists
/// those `k` positions in position order instead. A standard-layout array of the input's
/// shape with `k` along `ax`.
fn lane_order<T: Float>(
    x: &Tensor<T>,
    ax: usize,
    k: usize,
    descending: bool,
    sorted: bool,
) -> ArrayD<usize> {
    let mut shape = x.shape().to_vec();
    let n = shape[ax];
    shape[ax] = k;
    let mut out = ArrayD::<usize>::zeros(shape);
    let view = x.view();
    let mut idx: Vec<usize> = Vec::with_capacity(n);
    for (lane, mut dst) in view
        .lanes(Axis(ax))
        .into_iter()
        .zip(out.lanes_mut(Axis(ax)))
    {
        // Ties broken by position: the stable order, also from an unstable selection.
        let cmp = |&a: &usize, &b: &usize| {
            let by_value = if descending {
                nan_last(lane[b], lane[a])
            } else {
                nan_last(lane[a], lane[b])
            };
            by_value.then(a.cmp(&b))
        };
        idx.clear();
        idx.extend(0..n);
        if k < n {
            idx.select_nth_unstable_by(k, cmp);
            idx.truncate(k);
        }
        if sorted {
            idx.sort_unstable_by(cmp);
        } else {
            idx.sort_unstable();
        }
        for (d, &i) in dst.iter_mut().zip(&idx) {
            *d = i;
        }
    }
    out
}

impl<T: Float> Tensor<T> {
    /// The positions that sort each lane along `axis` (negative counts from the end), as
    /// `torch.argsort(x, axis, descending, stable=True)`: stable (ties keep their order in
    /// both directions), NaN larger than everything. An array of the input's shape.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let t = Tensor::from_vec(vec![3.0f64, 1.0, f64::NAN, 1.0], &[4]);
    /// assert_eq!(t.argsort(0, false).into_raw_vec_and_offset().0, vec![1, 3, 0, 2]);
    /// assert_eq!(t.argsort(0, true).into_raw_vec_and_offset().0, vec![2, 0, 1, 3]);
    /// ```
    #[track_caller]
    pub fn argsort(&self, axis: isize, descending: bool) -> ArrayD<usize> {
        let ax = checked_axis("argsort", axis, self.shape());
        lane_order(self, ax, self.shape()[ax], descending, true)
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// The elements of each lane along `axis` in order, and where each came from, as
    /// `torch.sort(x, axis, descending, stable=True)`: `values = x.gather(axis, &indices)`.
    /// The sort is stable (tied elements keep their order along the axis, ascending and
    /// descending alike) and NaN counts as larger than everything (last ascending, first
    /// descending), as in PyTorch.
    ///
    /// Backward: each gradient element goes back to the position its value came from (the
    /// backward of [`Var::gather`], differentiable to any order). The indices are not
    /// differentiable. Saves the indices.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![3.0, 1.0, 2.0, 1.0], &[4]));
    /// let (values, indices) = x.sort(0, false);
    /// assert_eq!(values.value().to_vec(), vec![1.0, 1.0, 2.0, 3.0]);
    /// assert_eq!(indices.into_raw_vec_and_offset().0, vec![1, 3, 2, 0]);
    /// let w = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    /// (values * w).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![4.0, 1.0, 3.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn sort(self, axis: isize, descending: bool) -> (Var<'g, T>, ArrayD<usize>) {
        let shape = self.shape_for("sort");
        let ax = checked_axis("sort", axis, &shape);
        self.take_lane_order(ax, shape[ax], descending, true)
    }

    /// The positions that sort each lane along `axis`, as `torch.argsort(x, axis,
    /// descending, stable=True)` ([`Tensor::argsort`] on the value). Not differentiable.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.0], &[2, 2]));
    /// assert_eq!(x.argsort(-1, true).into_raw_vec_and_offset().0, vec![0, 1, 0, 1]);
    /// ```
    #[track_caller]
    pub fn argsort(self, axis: isize, descending: bool) -> ArrayD<usize> {
        self.value().argsort(axis, descending)
    }

    /// The `k` largest (or, with `largest = false`, smallest) elements of each lane along
    /// `axis`, and their positions, as `torch.topk(x, k, axis, largest, sorted)`: the first
    /// `k` of [`Var::sort`] (descending for `largest`). With `sorted = false` the `k`
    /// elements come in the order of their positions along the axis (PyTorch leaves that
    /// order unspecified).
    ///
    /// Ties at the cut are taken in position order (the first of equal elements is chosen
    /// first), so the result is deterministic. PyTorch picks among tied elements in an
    /// order of its selection algorithm: the values agree, but with ties the indices (and
    /// so which tied element gets the gradient) can differ. NaN counts as the largest.
    ///
    /// Backward: as [`Var::sort`], the gradient to the chosen positions, 0 elsewhere.
    ///
    /// # Panics
    /// If `axis` is out of range or `k` exceeds its size.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![0.1, 0.9, 0.5, 0.3, 0.2, 0.8], &[2, 3]));
    /// let (top, idx) = x.topk(2, -1, true, true);
    /// assert_eq!(top.value().to_vec(), vec![0.9, 0.5, 0.8, 0.3]);
    /// assert_eq!(idx.into_raw_vec_and_offset().0, vec![1, 2, 2, 0]);
    /// top.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 1.0, 0.0, 1.0]);
    /// let (low, _) = x.topk(1, 1, false, true);
    /// assert_eq!(low.value().to_vec(), vec![0.1, 0.2]);
    /// ```
    #[track_caller]
    pub fn topk(
        self,
        k: usize,
        axis: isize,
        largest: bool,
        sorted: bool,
    ) -> (Var<'g, T>, ArrayD<usize>) {
        let shape = self.shape_for("topk");
        let ax = checked_axis("topk", axis, &shape);
        assert!(
            k <= shape[ax],
            "topk: k = {k} is larger than axis {axis} of size {} (shape {:?})",
            shape[ax],
            shape.as_slice()
        );
        self.take_lane_order(ax, k, largest, sorted)
    }

    /// The first `k` of each lane's order (see [`lane_order`]), gathered.
    #[track_caller]
    fn take_lane_order(
        self,
        ax: usize,
        k: usize,
        descending: bool,
        sorted: bool,
    ) -> (Var<'g, T>, ArrayD<usize>) {
        let idx = lane_order(&self.value(), ax, k, descending, sorted);
        let values = self.gather_checked(ax, Rc::new(idx.clone()));
        (values, idx)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_and_axis};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    fn ids(a: ndarray::ArrayD<usize>) -> Vec<usize> {
        a.into_raw_vec_and_offset().0
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn sort_and_topk_grads_match_finite_diff(
            (x, axis) in tensor_and_axis(3, -2.0..2.0),
            descending in any::<bool>(),
            k_frac in 0.0..1.0f64,
        ) {
            // Distinct values almost surely, so a finite step does not reorder the lane.
            let n = x.shape()[crate::kernels::normalize_axis(axis, x.ndim()).unwrap()];
            let k = (k_frac * (n + 1) as f64) as usize;
            check_grads(|v| v[0].sort(axis, descending).0, std::slice::from_ref(&x))?;
            check_grads(|v| v[0].topk(k, axis, descending, false).0, std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].sort(axis, descending).0.square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].topk(k, axis, !descending, true).0.square(), &[x])?;
        }

        #[test]
        fn sorted_lanes_are_ordered_permutations((x, axis) in tensor_and_axis(3, -2.0..2.0)) {
            let g = Graph::<f64>::new();
            let (v, idx) = g.var(x.clone()).sort(axis, false);
            let ax = crate::kernels::normalize_axis(axis, x.ndim()).unwrap();
            let v = v.value();
            for lane in v.view().lanes(ndarray::Axis(ax)) {
                prop_assert!(lane.windows(2).into_iter().all(|w| w[0] <= w[1]));
            }
            for lane in idx.lanes(ndarray::Axis(ax)) {
                let mut l = lane.to_vec();
                l.sort_unstable();
                prop_assert_eq!(l, (0..x.shape()[ax]).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn sort_is_stable_and_puts_nan_last_as_pytorch() {
        // torch.sort([1, 3, nan, 3, 1, nan, 2]) and with descending=True.
        let nan = f64::NAN;
        let t = Tensor::from_vec(vec![1.0, 3.0, nan, 3.0, 1.0, nan, 2.0], &[7]);
        assert_eq!(ids(t.argsort(0, false)), vec![0, 4, 6, 1, 3, 2, 5]);
        assert_eq!(ids(t.argsort(0, true)), vec![2, 5, 1, 3, 6, 0, 4]);
        let g = Graph::<f64>::new();
        let (v, _) = g.var(t).sort(-1, true);
        let v = v.value().to_vec();
        assert!(v[0].is_nan() && v[1].is_nan());
        assert_eq!(v[2..], [3.0, 3.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn tied_elements_get_their_own_gradient_in_position_order() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![2.0, 2.0, 1.0, 2.0], &[4]));
        let (top, idx) = x.topk(2, 0, true, true);
        assert_eq!(ids(idx), vec![0, 1]);
        let w = g.constant(Tensor::from_vec(vec![10.0, 20.0], &[2]));
        (top * w).sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![10.0, 20.0, 0.0, 0.0]);
        let (_, unsorted) = x.topk(3, 0, false, false);
        assert_eq!(ids(unsorted), vec![0, 1, 2]);
        let (none, idx) = x.topk(0, 0, true, true);
        assert_eq!((none.shape(), idx.len()), (vec![0], 0));
    }

    #[test]
    fn sort_of_a_matrix_sorts_each_column() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(
            vec![3.0, 0.0, 1.0, 5.0, 2.0, -1.0],
            &[3, 2],
        ));
        let (v, idx) = x.sort(0, true);
        assert_eq!(v.value().to_vec(), vec![3.0, 5.0, 2.0, 0.0, 1.0, -1.0]);
        assert_eq!(ids(idx), vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    #[should_panic(expected = "topk: k = 4 is larger than axis -1 of size 3 (shape [2, 3])")]
    fn topk_panics_when_k_exceeds_the_axis() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .topk(4, -1, true, true);
    }

    #[test]
    #[should_panic(expected = "sort: axis 2 is out of range")]
    fn sort_panics_on_an_axis_out_of_range() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .sort(2, false);
    }
}
