//! Shape ops: reshape, flatten, squeeze, unsqueeze, broadcast_to, sum_to, transpose, permute,
//! flip, roll.
//!
//! Reshapes of contiguous values, transposes and permutes copy no elements; their backward is
//! the inverse shape op (flip's is itself, roll's a roll back).

use ndarray::{Axis, IxDyn};

use crate::alloc::{alloc, checked_numel};
use crate::error::{Error, Result, or_panic};
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::{broadcasts_to, checked_axis, checked_insert_axis, normalize_axis, sum_to};
use crate::tensor::Tensor;

/// The value of `t` viewed with `shape` (same element count), copying only if `t` is not
/// contiguous in row-major order.
fn reshaped<T: Float>(t: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    let a = t.array().clone();
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned().into_shared()
    };
    Tensor::from_shared(
        a.into_shape_with_order(IxDyn(shape))
            .expect("element count checked"),
    )
}

impl<'g, T: Float> Var<'g, T> {
    /// Records a reshape to `shape` (already validated) under the name `op`.
    #[track_caller]
    fn view_as(self, op: &'static str, shape: Vec<usize>) -> Var<'g, T> {
        self.graph().custom_op(
            op,
            &[self],
            |v| reshaped(&v[0], &shape),
            |ctx, g| grads![Some(g.reshape_like(ctx.input(0)))],
        )
    }

    #[track_caller]
    fn reshape_like(self, like: Var<'g, T>) -> Var<'g, T> {
        let shape = like.shape_for("reshape");
        if self.shape_for("reshape") == shape {
            self
        } else {
            self.view_as("reshape", shape.to_vec())
        }
    }

    /// The same elements in row-major order with a new `shape`; one dimension may be `-1`,
    /// inferred from the others (as `torch.reshape`).
    ///
    /// Backward: the gradient reshaped back. Copies only a non-contiguous value.
    ///
    /// # Panics
    /// If the element counts differ or the shape is invalid; [`Var::try_reshape`] returns
    /// the error instead.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::arange(0.0, 6.0, 1.0));
    /// assert_eq!(x.reshape(&[2, -1]).shape(), vec![2, 3]);
    /// ```
    #[track_caller]
    pub fn reshape(self, shape: &[isize]) -> Var<'g, T> {
        or_panic(self.try_reshape(shape))
    }

    /// [`Var::reshape`], returning an error for an impossible shape.
    ///
    /// # Errors
    /// [`Error::Shape`] if the element counts differ, more than one dimension is `-1`, or a
    /// dimension is below `-1`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let err = g.var(Tensor::zeros(&[2, 3])).try_reshape(&[4, -1]).unwrap_err();
    /// assert_eq!(err.to_string(), "reshape: cannot reshape [2, 3] (6 elements) into [4, -1]");
    /// ```
    #[track_caller]
    pub fn try_reshape(self, shape: &[isize]) -> Result<Var<'g, T>> {
        let from = self.shape_for("reshape");
        let numel: usize = from.iter().product();
        let err = || {
            Error::shape(
                "reshape",
                format!(
                    "cannot reshape {:?} ({numel} elements) into {shape:?}",
                    from.as_slice()
                ),
            )
        };
        let inferred = shape.iter().filter(|&&d| d == -1).count();
        if inferred > 1 || shape.iter().any(|&d| d < -1) {
            return Err(err());
        }
        // Checked: a product that overflows cannot equal the element count.
        let known = shape
            .iter()
            .filter(|&&d| d >= 0)
            .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
            .ok_or_else(err)?;
        let mut out: Vec<usize> = Vec::with_capacity(shape.len());
        for &d in shape {
            if d == -1 {
                if known == 0 || !numel.is_multiple_of(known) {
                    return Err(err());
                }
                out.push(numel / known);
            } else {
                out.push(d as usize);
            }
        }
        if out.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(numel) {
            return Err(err());
        }
        Ok(self.view_as("reshape", out))
    }

    /// Merges dimensions `start..=end` (negative counts from the end) into one, as
    /// `torch.flatten`. `x.flatten(1, -1)` turns a batch of images into a batch of vectors.
    ///
    /// # Panics
    /// If an axis is out of range or `start > end`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::zeros(&[8, 1, 28, 28]));
    /// assert_eq!(x.flatten(1, -1).shape(), vec![8, 784]);
    /// ```
    #[track_caller]
    pub fn flatten(self, start: isize, end: isize) -> Var<'g, T> {
        let shape = self.shape_for("flatten");
        let n = shape.len().max(1);
        let (Some(s), Some(e)) = (normalize_axis(start, n), normalize_axis(end, n)) else {
            panic!(
                "flatten: axes {start}..={end} are out of range for shape {:?}",
                shape.as_slice()
            );
        };
        assert!(
            s <= e,
            "flatten: start axis {start} comes after end axis {end}"
        );
        if shape.is_empty() {
            return self.view_as("flatten", vec![1]);
        }
        let mut out: Vec<usize> = shape[..s].to_vec();
        out.push(shape[s..=e].iter().product());
        out.extend_from_slice(&shape[e + 1..]);
        self.view_as("flatten", out)
    }

    /// Removes dimension `axis`, which must have size 1 (negative counts from the end).
    ///
    /// # Panics
    /// If `axis` is out of range or its size is not 1.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!(g.var(Tensor::zeros(&[3, 1])).squeeze(-1).shape(), vec![3]);
    /// ```
    #[track_caller]
    pub fn squeeze(self, axis: isize) -> Var<'g, T> {
        let shape = self.shape_for("squeeze").to_vec();
        let a = checked_axis("squeeze", axis, &shape);
        assert!(
            shape[a] == 1,
            "squeeze: dimension {axis} of shape {shape:?} has size {}, not 1",
            shape[a]
        );
        self.graph().custom_op(
            "squeeze",
            &[self],
            // Dropping a size-1 axis is a view of any layout: nothing is copied.
            move |v| Tensor::from_shared(v[0].array().clone().index_axis_move(Axis(a), 0)),
            move |_, g| grads![Some(g.unsqueeze(a as isize))],
        )
    }

    /// Inserts a dimension of size 1 at `axis` (`0..=ndim`; negative counts from the end).
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!(g.var(Tensor::zeros(&[3])).unsqueeze(0).shape(), vec![1, 3]);
    /// assert_eq!(g.var(Tensor::zeros(&[3])).unsqueeze(-1).shape(), vec![3, 1]);
    /// ```
    #[track_caller]
    pub fn unsqueeze(self, axis: isize) -> Var<'g, T> {
        let shape = self.shape_for("unsqueeze").to_vec();
        let a = checked_insert_axis("unsqueeze", axis, &shape);
        self.graph().custom_op(
            "unsqueeze",
            &[self],
            // A new size-1 axis is a view of any layout: nothing is copied.
            move |v| Tensor::from_shared(v[0].array().clone().insert_axis(Axis(a))),
            move |_, g| grads![Some(g.squeeze(a as isize))],
        )
    }

    /// Repeats the value along broadcast dimensions to `shape` (NumPy rules).
    ///
    /// Backward: the gradient summed back over the broadcast axes ([`Var::sum_to`]).
    ///
    /// # Panics
    /// If the value's shape does not broadcast to `shape`, or the result is too large to
    /// allocate.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2, 1]));
    /// assert_eq!(x.broadcast_to(&[2, 3]).value().to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn broadcast_to(self, shape: &[usize]) -> Var<'g, T> {
        let op = "broadcast_to";
        let from = self.shape_for(op);
        assert!(
            broadcasts_to(&from, shape),
            "broadcast_to: shape {:?} cannot be broadcast to {shape:?}",
            from.as_slice()
        );
        if from.as_slice() == shape {
            return self;
        }
        let to = shape.to_vec();
        let mut data = alloc::<T>(op, shape);
        self.graph().custom_op(
            op,
            &[self],
            move |v| {
                let view = v[0].view();
                let n = checked_numel::<T>(op, &to);
                if let (1, Some(&x)) = (view.len(), view.iter().next()) {
                    // One value everywhere (the backward of `sum` and `mean`): a fill.
                    data.resize(n, x);
                    return Tensor::from_vec(data, &to);
                }
                // Zip's assign walks whole rows; an element iterator over a broadcast view
                // of dynamic rank steps a multi-index per element (30 ns each).
                data.resize(n, T::zero());
                let mut out = ndarray::ArrayViewMutD::from_shape(IxDyn(&to), &mut data)
                    .expect("size checked");
                out.assign(&view.broadcast(IxDyn(&to)).expect("size checked"));
                Tensor::from_vec(data, &to)
            },
            |ctx, g| grads![Some(g.sum_to_like(ctx.input(0)))],
        )
    }

    /// Sums over the axes along which `shape` broadcasts to this value's shape: the inverse
    /// of [`Var::broadcast_to`], and how gradients return to broadcast inputs.
    ///
    /// # Panics
    /// If `shape` does not broadcast to the value's shape.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::ones(&[4, 2, 3]));
    /// assert_eq!(x.sum_to(&[2, 1]).value().to_vec(), vec![12.0, 12.0]);
    /// ```
    #[track_caller]
    pub fn sum_to(self, shape: &[usize]) -> Var<'g, T> {
        let from = self.shape_for("sum_to");
        assert!(
            broadcasts_to(shape, &from),
            "sum_to: shape {shape:?} does not broadcast to {:?}",
            from.as_slice()
        );
        if from.as_slice() == shape {
            return self;
        }
        let to = shape.to_vec();
        self.graph().custom_op(
            "sum_to",
            &[self],
            |v| Tensor::from_array(sum_to(&v[0].view(), &to)),
            |ctx, g| grads![Some(g.broadcast_to(&ctx.input(0).shape()))],
        )
    }

    /// [`Var::sum_to`] the shape of `like`.
    #[track_caller]
    pub(crate) fn sum_to_like(self, like: Var<'g, T>) -> Var<'g, T> {
        let shape = like.shape_for("sum_to");
        self.sum_to(&shape)
    }

    /// Swaps dimensions `a` and `b` (negative counts from the end). Copies nothing.
    ///
    /// # Panics
    /// If an axis is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let t = x.transpose(0, 1);
    /// assert_eq!(t.shape(), vec![3, 2]);
    /// assert_eq!(t.value().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn transpose(self, a: isize, b: isize) -> Var<'g, T> {
        let n = self.shape_for("transpose").len();
        let (Some(i), Some(j)) = (normalize_axis(a, n), normalize_axis(b, n)) else {
            panic!("transpose: axes ({a}, {b}) are out of range for {n} dimensions");
        };
        let mut axes: Vec<usize> = (0..n).collect();
        axes.swap(i, j);
        self.permute_checked("transpose", axes)
    }

    /// Reorders the dimensions: output dimension `i` is input dimension `axes[i]`, as
    /// `torch.permute`. Copies nothing.
    ///
    /// Backward: the gradient permuted by the inverse permutation.
    ///
    /// # Panics
    /// If `axes` is not a permutation of `0..ndim`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::zeros(&[2, 3, 4]));
    /// assert_eq!(x.permute(&[2, 0, 1]).shape(), vec![4, 2, 3]);
    /// ```
    #[track_caller]
    pub fn permute(self, axes: &[usize]) -> Var<'g, T> {
        let n = self.shape_for("permute").len();
        let mut seen = vec![false; n];
        let valid = axes.len() == n
            && axes
                .iter()
                .all(|&a| a < n && !std::mem::replace(&mut seen[a], true));
        assert!(
            valid,
            "permute: {axes:?} is not a permutation of the {n} dimensions"
        );
        self.permute_checked("permute", axes.to_vec())
    }

    /// Swaps the first two axes into a row-major result: `[A, B, ..] → [B, A, ..]`, copying
    /// contiguous runs of the trailing axes (convolution's layout change between the GEMM's
    /// `[C, N, ..]` and NCHW). Its own backward.
    #[track_caller]
    pub(crate) fn swap_leading_axes(self) -> Var<'g, T> {
        self.graph().custom_op(
            "swap_leading_axes",
            &[self],
            |v| {
                let x = v[0].array().as_standard_layout();
                let shape = x.shape();
                let (a, b) = (shape[0], shape[1]);
                let inner: usize = shape[2..].iter().product();
                let xs = x.as_slice().expect("standard layout");
                let mut data = Vec::with_capacity(xs.len());
                for j in 0..b {
                    for i in 0..a {
                        let start = (i * b + j) * inner;
                        data.extend_from_slice(&xs[start..start + inner]);
                    }
                }
                let mut out = shape.to_vec();
                out.swap(0, 1);
                Tensor::from_vec(data, &out)
            },
            |_, g| grads![Some(g.swap_leading_axes())],
        )
    }

    /// Reverses the order of the elements along each of `axes` (negative counts from the
    /// end), as `torch.flip`: `out[.., i, ..] = x[.., n − 1 − i, ..]`. An empty list flips
    /// nothing. Copies into row-major order, as PyTorch (kernels never see negative strides).
    ///
    /// Backward: the gradient flipped along the same axes. Saves nothing.
    ///
    /// # Panics
    /// If an axis is out of range or given twice.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.flip(&[-1]);
    /// assert_eq!(y.value().to_vec(), vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
    /// let w = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// (y * w).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
    /// assert_eq!(x.flip(&[0, 1]).value().to_vec(), vec![6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn flip(self, axes: &[isize]) -> Var<'g, T> {
        let shape = self.shape_for("flip");
        let mut flipped: Vec<usize> = Vec::with_capacity(axes.len());
        for &a in axes {
            let n = checked_axis("flip", a, &shape);
            assert!(!flipped.contains(&n), "flip: axis {a} is given twice");
            flipped.push(n);
        }
        if flipped.is_empty() {
            return self;
        }
        let back: Vec<isize> = flipped.iter().map(|&a| a as isize).collect();
        self.graph().custom_op(
            "flip",
            &[self],
            move |v| {
                let mut a = v[0].array().clone();
                for &ax in &flipped {
                    a.invert_axis(Axis(ax));
                }
                Tensor::from_array(a.as_standard_layout().into_owned())
            },
            move |_, g| grads![Some(g.flip(&back))],
        )
    }

    /// Shifts the elements along `axis` (negative counts from the end) by `shift` places,
    /// wrapping around, as `torch.roll(x, shift, axis)`:
    /// `out[.., i, ..] = x[.., (i − shift) mod n, ..]`. A negative `shift` rolls the other
    /// way. PyTorch's form without a dimension (roll the flattened value) is
    /// `x.flatten(0, -1).roll(shift, 0).reshape(..)`.
    ///
    /// Backward: the gradient rolled back by `shift`. Saves nothing.
    ///
    /// # Panics
    /// If `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    /// let y = x.roll(1, 0);
    /// assert_eq!(y.value().to_vec(), vec![4.0, 1.0, 2.0, 3.0]);
    /// assert_eq!(x.roll(-5, -1).value().to_vec(), vec![2.0, 3.0, 4.0, 1.0]);
    /// let w = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    /// (y * w).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 3.0, 4.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn roll(self, shift: isize, axis: isize) -> Var<'g, T> {
        let shape = self.shape_for("roll");
        let ax = checked_axis("roll", axis, &shape);
        let n = shape[ax];
        // The shift as 0..n, so rolling back by n − k never negates isize::MIN.
        let k = if n == 0 {
            0
        } else {
            shift.rem_euclid(n as isize) as usize
        };
        if k == 0 {
            return self;
        }
        self.graph().custom_op(
            "roll",
            &[self],
            move |v| {
                let x = v[0].view();
                let tail = x.slice_axis(Axis(ax), ndarray::Slice::from(n - k..));
                let head = x.slice_axis(Axis(ax), ndarray::Slice::from(..n - k));
                Tensor::from_array(
                    ndarray::concatenate(Axis(ax), &[tail, head]).expect("same other dims"),
                )
            },
            move |_, g| grads![Some(g.roll((n - k) as isize, ax as isize))],
        )
    }

    #[track_caller]
    fn permute_checked(self, op: &'static str, axes: Vec<usize>) -> Var<'g, T> {
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        self.graph().custom_op(
            op,
            &[self],
            |v| Tensor::from_shared(v[0].array().clone().permuted_axes(IxDyn(&axes))),
            move |_, g| grads![Some(g.permute(&inverse))],
        )
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
        fn reshape_flatten_squeeze_grad_match_finite_diff(x in tensor(shape(), -2.0..2.0)) {
            // Weighting by position makes a misplaced gradient element visible.
            check_grads(|v| v[0].reshape(&[-1]).unsqueeze(0).squeeze(0).reshape(&[1, -1]).flatten(0, -1), &[x])?;
        }

        #[test]
        fn broadcast_to_and_sum_to_grad_match_finite_diff(x in tensor(testing::shape_of_rank(2), -2.0..2.0)) {
            let mut target = vec![3];
            target.extend(x.shape().iter().map(|&d| if d == 1 { 2 } else { d }));
            let t2 = target.clone();
            check_grads(move |v| v[0].broadcast_to(&t2), std::slice::from_ref(&x))?;
            let shape = x.shape().to_vec();
            check_grads(move |v| v[0].broadcast_to(&target).square().sum_to(&shape), &[x])?;
        }

        #[test]
        fn permute_grad_matches_finite_diff(x in tensor(testing::shape_of_rank(4), -2.0..2.0)) {
            let n = x.ndim();
            let axes: Vec<usize> = (0..n).rev().collect();
            check_grads(move |v| v[0].permute(&axes), std::slice::from_ref(&x))?;
            if n >= 2 {
                check_grads(|v| v[0].transpose(0, -1) * 2.0, &[x])?;
            }
        }
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn flip_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0)) {
            check_grads(|v| v[0].flip(&[axis]), std::slice::from_ref(&x))?;
            let all: Vec<isize> = (0..x.ndim() as isize).collect();
            check_grads(move |v| v[0].flip(&all), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].flip(&[axis]).square(), &[x])?;
        }
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn roll_grads_match_finite_diff((x, axis) in testing::tensor_and_axis(4, -2.0..2.0), shift in -7isize..7) {
            check_grads(|v| v[0].roll(shift, axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].roll(shift, axis).square(), &[x])?;
        }
    }

    #[test]
    fn roll_along_an_inner_axis_and_by_extreme_shifts() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2, 3],
        ));
        assert_eq!(
            x.roll(1, 1).value().to_vec(),
            vec![3.0, 1.0, 2.0, 6.0, 4.0, 5.0]
        );
        assert_eq!(
            x.roll(1, 0).value().to_vec(),
            vec![4.0, 5.0, 6.0, 1.0, 2.0, 3.0]
        );
        // isize::MIN = −2^63 ≡ 1 (mod 3); the backward rolls by 2, not by −isize::MIN.
        let y = x.roll(isize::MIN, 1);
        assert_eq!(y.value().to_vec(), vec![3.0, 1.0, 2.0, 6.0, 4.0, 5.0]);
        let w = g.constant(Tensor::from_vec(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2, 3],
        ));
        (y * w).sum().backward();
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![2.0, 3.0, 1.0, 5.0, 6.0, 4.0]
        );
        let empty = g.var(Tensor::zeros(&[0, 2]));
        assert_eq!(empty.roll(3, 0).shape(), vec![0, 2]);
    }

    #[test]
    #[should_panic(expected = "roll: axis -3 is out of range for shape [2, 3]")]
    fn roll_panics_on_bad_axis() {
        Graph::<f32>::new().var(Tensor::zeros(&[2, 3])).roll(1, -3);
    }

    #[test]
    fn flip_of_a_transpose_and_an_empty_axis_list() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2, 3],
        ));
        assert_eq!(
            x.transpose(0, 1).flip(&[0]).value().to_vec(),
            vec![3.0, 6.0, 2.0, 5.0, 1.0, 4.0]
        );
        assert_eq!(x.flip(&[]).value().to_vec(), x.value().to_vec());
        assert!(x.flip(&[0]).value().array().is_standard_layout());
    }

    #[test]
    #[should_panic(expected = "flip: axis -2 is given twice")]
    fn flip_panics_on_repeated_axis() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .flip(&[0, -2]);
    }

    #[test]
    #[should_panic(expected = "flip: axis 2 is out of range for shape [2, 3]")]
    fn flip_panics_on_bad_axis() {
        Graph::<f32>::new().var(Tensor::zeros(&[2, 3])).flip(&[2]);
    }

    #[test]
    fn reshape_of_a_transpose_is_row_major() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2, 3],
        ));
        assert_eq!(
            x.transpose(0, 1).reshape(&[6]).value().to_vec(),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn try_reshape_rejects_two_inferred_dims() {
        let g = Graph::<f32>::new();
        let err = g
            .var(Tensor::zeros(&[4]))
            .try_reshape(&[-1, -1])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reshape: cannot reshape [4] (4 elements) into [-1, -1]"
        );
    }

    #[test]
    #[should_panic(expected = "reshape: cannot reshape [2, 3] (6 elements) into [5]")]
    fn reshape_panics_on_count_mismatch() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .reshape(&[5]);
    }

    #[test]
    fn try_reshape_returns_an_error_when_the_shape_product_overflows() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[2]));
        let err = x.try_reshape(&[1 << 32, 1 << 32, -1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "reshape: cannot reshape [2] (2 elements) into [4294967296, 4294967296, -1]"
        );
        // Wrapping would make this product 0, the element count of an empty value.
        let empty = g.var(Tensor::zeros(&[0]));
        let err = empty
            .try_reshape(&[1 << 32, 1 << 32, 1 << 32, 0])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reshape: cannot reshape [0] (0 elements) into [4294967296, 4294967296, 4294967296, 0]"
        );
    }

    #[test]
    #[should_panic(
        expected = "broadcast_to: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn broadcast_to_panics_naming_the_op_when_the_result_cannot_be_allocated() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[1]))
            .broadcast_to(&[1 << 24, 1 << 24]);
    }

    #[test]
    #[should_panic(
        expected = "broadcast_to: cannot allocate shape [4294967296, 4294967296] (1.84e19 elements, 148 EB of f64)"
    )]
    fn broadcast_to_panics_naming_the_op_when_the_count_overflows() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1]))
            .broadcast_to(&[1 << 32, 1 << 32]);
    }

    #[test]
    #[should_panic(expected = "squeeze: dimension 0 of shape [2, 1] has size 2, not 1")]
    fn squeeze_panics_on_non_unit_dim() {
        Graph::<f32>::new().var(Tensor::zeros(&[2, 1])).squeeze(0);
    }

    #[test]
    #[should_panic(expected = "broadcast_to: shape [3] cannot be broadcast to [2, 4]")]
    fn broadcast_to_panics_on_incompatible_shape() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[3]))
            .broadcast_to(&[2, 4]);
    }

    #[test]
    #[should_panic(expected = "permute: [0, 0] is not a permutation of the 2 dimensions")]
    fn permute_panics_on_repeated_axis() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 2]))
            .permute(&[0, 0]);
    }
}
