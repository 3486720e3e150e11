//! Joining and slicing along an axis: concat, stack, narrow, slice, split, chunk.
//!
//! `concat` and `narrow` are each other's backward (a slice's gradient is the gradient
//! padded with zero blocks); `stack`, `split` and `chunk` are composed from them, so every
//! one of these ops is differentiable to any order.

use ndarray::{Axis, Slice};

use crate::alloc::{alloc, checked_numel};
use crate::float::Float;
use crate::grads;
use crate::graph::{Graph, Var};
use crate::kernels::{checked_axis, checked_insert_axis};
use crate::tensor::Tensor;

impl<T: Float> Graph<T> {
    /// Joins `vars` along `axis` (negative counts from the end), as `torch.cat`. All must have
    /// the same shape except along `axis`.
    ///
    /// Backward: each input gets its slice of the gradient.
    ///
    /// # Panics
    /// If `vars` is empty or one belongs to another graph, the ranks or the other dimensions
    /// differ, or `axis` is out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]));
    /// let b = g.var(Tensor::from_vec(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]));
    /// let c = g.concat(&[a, b], 0);
    /// assert_eq!(c.shape(), vec![3, 2]);
    /// let w = g.constant(Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]));
    /// (c * w).sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn concat<'g>(&'g self, vars: &[Var<'g, T>], axis: isize) -> Var<'g, T> {
        assert!(!vars.is_empty(), "concat: no tensors to join");
        for (i, v) in vars.iter().enumerate() {
            self.check_owns("concat", format_args!("input {i}"), *v);
        }
        let first = vars[0].shape_for("concat");
        let ax = checked_axis("concat", axis, &first);
        let mut sizes = Vec::with_capacity(vars.len());
        for (i, v) in vars.iter().enumerate() {
            let s = v.shape_for("concat");
            let compatible = s.len() == first.len()
                && s.iter()
                    .zip(first.iter())
                    .enumerate()
                    .all(|(d, (a, b))| d == ax || a == b);
            assert!(
                compatible,
                "concat: input {i} of shape {:?} does not match input 0 of shape {:?} outside axis {axis}",
                s.as_slice(),
                first.as_slice()
            );
            sizes.push(s[ax]);
        }
        if vars.len() == 1 {
            return vars[0];
        }
        let mut out = first.to_vec();
        out[ax] = sizes
            .iter()
            .try_fold(0usize, |n, &d| n.checked_add(d))
            .unwrap_or_else(|| panic!("concat: the sizes {sizes:?} along axis {axis} overflow"));
        checked_numel::<T>("concat", &out);
        self.custom_op(
            "concat",
            vars,
            move |v| concat_values(v, ax, &out),
            move |_, g| {
                let mut start = 0;
                sizes
                    .iter()
                    .map(|&len| {
                        let part = g.narrow(ax as isize, start, len);
                        start += len;
                        Some(part)
                    })
                    .collect()
            },
        )
    }

    /// Joins `vars`, which must all have the same shape, along a new axis `axis`, as
    /// `torch.stack`.
    ///
    /// # Panics
    /// If `vars` is empty or one belongs to another graph, the shapes differ, or `axis` is
    /// out of range.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let a = g.var(Tensor::zeros(&[3]));
    /// assert_eq!(g.stack(&[a, a], 0).shape(), vec![2, 3]);
    /// assert_eq!(g.stack(&[a, a], -1).shape(), vec![3, 2]);
    /// ```
    #[track_caller]
    pub fn stack<'g>(&'g self, vars: &[Var<'g, T>], axis: isize) -> Var<'g, T> {
        assert!(!vars.is_empty(), "stack: no tensors to join");
        for (i, v) in vars.iter().enumerate() {
            self.check_owns("stack", format_args!("input {i}"), *v);
        }
        let first = vars[0].shape_for("stack");
        for (i, v) in vars.iter().enumerate() {
            let s = v.shape_for("stack");
            assert!(
                s == first,
                "stack: input {i} of shape {:?} differs from input 0 of shape {:?}",
                s.as_slice(),
                first.as_slice()
            );
        }
        let ax = checked_insert_axis("stack", axis, &first);
        let parts: Vec<_> = vars.iter().map(|v| v.unsqueeze(ax as isize)).collect();
        self.concat(&parts, ax as isize)
    }
}

/// Joins row-major copies of `values` along `ax` into one tensor of shape `out`, allocated
/// through the size check (ndarray's `concatenate` aborts when the allocator refuses).
#[track_caller]
fn concat_values<T: Float>(values: &[Tensor<T>], ax: usize, out: &[usize]) -> Tensor<T> {
    let mut data = alloc::<T>("concat", out);
    let outer: usize = out[..ax].iter().product();
    let inner: usize = out[ax + 1..].iter().product();
    let parts: Vec<_> = values
        .iter()
        .map(|v| v.array().as_standard_layout())
        .collect();
    for o in 0..outer {
        for (part, v) in parts.iter().zip(values) {
            let len = v.shape()[ax] * inner;
            let src = part.as_slice().expect("standard layout");
            data.extend_from_slice(&src[o * len..(o + 1) * len]);
        }
    }
    Tensor::from_vec(data, out)
}

impl<'g, T: Float> Var<'g, T> {
    /// The elements `start..start + len` along `axis`, as `torch.narrow`.
    ///
    /// Backward: the gradient placed back between zero blocks.
    ///
    /// # Panics
    /// If `axis` is out of range or `start + len` exceeds its size.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::arange(0.0, 5.0, 1.0));
    /// let y = x.narrow(0, 1, 3);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 3.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn narrow(self, axis: isize, start: usize, len: usize) -> Var<'g, T> {
        let shape = self.shape_for("narrow");
        let ax = checked_axis("narrow", axis, &shape);
        // Checked: a wrapped `start + len` would pass the bound and slice nothing.
        match start.checked_add(len) {
            Some(end) => assert!(
                end <= shape[ax],
                "narrow: {start}..{end} is out of range for dimension {axis} of shape {:?}",
                shape.as_slice()
            ),
            None => panic!(
                "narrow: {start}..{start} + {len} is out of range for dimension {axis} of shape {:?}",
                shape.as_slice()
            ),
        }
        if start == 0 && len == shape[ax] {
            return self;
        }
        let size = shape[ax];
        self.graph().custom_op(
            "narrow",
            &[self],
            |v| {
                let slice = Slice::from(start..start + len);
                Tensor::from_shared(v[0].array().clone().slice_axis_move(Axis(ax), slice))
            },
            move |ctx, g| {
                if !ctx.is_recording() {
                    // First order: add into the input's gradient in place, so the slices of
                    // one value share one full-size gradient.
                    ctx.add_to_slice(0, ax, start, g);
                    return grads![None];
                }
                let graph = ctx.graph();
                let zeros = |n: usize| {
                    let mut s = g.shape();
                    s[ax] = n;
                    graph.constant_named("narrow_backward_zeros", Tensor::zeros(&s))
                };
                let mut parts = Vec::with_capacity(3);
                if start > 0 {
                    parts.push(zeros(start));
                }
                parts.push(g);
                if start + len < size {
                    parts.push(zeros(size - start - len));
                }
                grads![Some(graph.concat(&parts, ax as isize))]
            },
        )
    }

    /// The elements `start, start + step, ..` below `end` along `axis`: Python's
    /// `x[start:end:step]` on one axis.
    ///
    /// Backward: the gradient placed back at the picked positions, zeros between. A step of
    /// 1 is [`Var::narrow`]; a larger step runs as [`Var::index_select`].
    ///
    /// # Panics
    /// If `axis` is out of range, `step` is 0, or `start..end` does not lie within the axis.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::arange(0.0, 6.0, 1.0));
    /// let y = x.slice(0, 1, 6, 2);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 3.0, 5.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn slice(self, axis: isize, start: usize, end: usize, step: usize) -> Var<'g, T> {
        let shape = self.shape_for("slice");
        let ax = checked_axis("slice", axis, &shape);
        assert!(step > 0, "slice: step must be positive");
        assert!(
            start <= end && end <= shape[ax],
            "slice: {start}..{end} is out of range for dimension {axis} of shape {:?}",
            shape.as_slice()
        );
        if step == 1 {
            return self.narrow(axis, start, end - start);
        }
        self.index_select_checked(ax, (start..end).step_by(step).collect())
    }

    /// Splits along `axis` into pieces of `size` (the last may be smaller), as `torch.split`.
    ///
    /// # Panics
    /// If `axis` is out of range or `size` is 0.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let parts = g.var(Tensor::zeros(&[5, 2])).split(2, 0);
    /// let sizes: Vec<_> = parts.iter().map(|p| p.shape()[0]).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// ```
    #[track_caller]
    pub fn split(self, size: usize, axis: isize) -> Vec<Var<'g, T>> {
        assert!(size > 0, "split: size must be positive");
        let shape = self.shape_for("split");
        let ax = checked_axis("split", axis, &shape);
        (0..shape[ax])
            .step_by(size)
            .map(|start| self.narrow(axis, start, size.min(shape[ax] - start)))
            .collect()
    }

    /// Splits along `axis` into `chunks` pieces of (nearly) equal size, as `torch.chunk`:
    /// every piece but the last has `ceil(n / chunks)` elements, so fewer pieces may result.
    ///
    /// # Panics
    /// If `axis` is out of range or `chunks` is 0.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// assert_eq!(g.var(Tensor::zeros(&[6])).chunk(3, 0).len(), 3);
    /// ```
    #[track_caller]
    pub fn chunk(self, chunks: usize, axis: isize) -> Vec<Var<'g, T>> {
        assert!(chunks > 0, "chunk: chunks must be positive");
        let shape = self.shape_for("chunk");
        let ax = checked_axis("chunk", axis, &shape);
        self.split(shape[ax].div_ceil(chunks).max(1), axis)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    /// A shape with at least one dimension, an axis, and a second size for that axis.
    fn parts() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, isize)> {
        testing::shape_of_rank(3)
            .prop_filter("rank >= 1", |s| !s.is_empty())
            .prop_flat_map(|s| {
                let n = s.len();
                (Just(s), 0..n, testing::DIMS)
            })
            .prop_flat_map(|(s, ax, other)| {
                let mut t = s.clone();
                t[ax] = other;
                (
                    tensor_of(s, -2.0..2.0),
                    tensor_of(t, -2.0..2.0),
                    Just(ax as isize),
                )
            })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn concat_grad_and_gradgrad_match_finite_diff((a, b, ax) in parts()) {
            check_grads(|v| v[0].graph().concat(&[v[0], v[1], v[0]], ax).square(), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].graph().concat(&[v[0], v[1]], ax).square(), &[a, b])?;
        }

        #[test]
        fn narrow_split_chunk_stack_grads_match_finite_diff((a, _b, ax) in parts()) {
            let n = a.shape()[ax as usize];
            check_grads(|v| v[0].narrow(ax, n / 2, n - n / 2).square(), std::slice::from_ref(&a))?;
            check_grads(|v| { let p = v[0].split(2, ax); v[0].graph().stack(&[p[0], p[0]], 0) * p[0] }, std::slice::from_ref(&a))?;
            check_grads(|v| { let p = v[0].chunk(2, ax); p[p.len() - 1].exp() }, std::slice::from_ref(&a))?;
            check_grads(|v| v[0].slice(ax, n / 3, n, 2).square(), &[a])?;
        }
    }

    #[test]
    fn split_then_concat_round_trips() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 12.0, 1.0)).reshape(&[3, 4]);
        let back = g.concat(&x.split(3, 1), 1);
        assert_eq!(back.value(), x.value());
    }

    #[test]
    #[should_panic(
        expected = "concat: input 1 of shape [2, 3] does not match input 0 of shape [2, 2] outside axis 0"
    )]
    fn concat_panics_on_mismatched_shapes() {
        let g = Graph::<f32>::new();
        g.concat(
            &[g.var(Tensor::zeros(&[2, 2])), g.var(Tensor::zeros(&[2, 3]))],
            0,
        );
    }

    #[test]
    #[should_panic(expected = "narrow: 2..5 is out of range for dimension -1 of shape [2, 4]")]
    fn narrow_panics_past_the_end() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 4]))
            .narrow(-1, 2, 3);
    }

    #[test]
    #[should_panic(
        expected = "narrow: 18446744073709551615..18446744073709551615 + 2 is out of range for dimension 0 of shape [3]"
    )]
    fn narrow_panics_naming_the_op_when_start_plus_len_overflows() {
        // In a release build the sum wrapped to 1 and narrow returned shape [0].
        Graph::<f32>::new()
            .var(Tensor::zeros(&[3]))
            .narrow(0, usize::MAX, 2);
    }

    #[test]
    fn concat_copies_row_major_blocks_of_any_layout() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
        let b = g.var(Tensor::from_vec(vec![5.0, 6.0], &[2, 1]));
        let c = g.concat(&[a.transpose(0, 1), b, g.var(Tensor::zeros(&[2, 0]))], 1);
        assert_eq!(c.value().to_vec(), vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    #[should_panic(expected = "concat: input 0 belongs to a different graph")]
    fn concat_of_one_var_from_another_graph_panics() {
        // A single input used to be returned as is: a Var of the other graph.
        let (g, other) = (Graph::<f32>::new(), Graph::<f32>::new());
        g.concat(&[other.var(Tensor::zeros(&[2]))], 0);
    }

    #[test]
    #[should_panic(expected = "stack: input 1 belongs to a different graph")]
    fn stack_names_the_input_from_another_graph() {
        let (g, other) = (Graph::<f32>::new(), Graph::<f32>::new());
        g.stack(
            &[g.var(Tensor::zeros(&[2])), other.var(Tensor::zeros(&[2]))],
            0,
        );
    }

    #[test]
    #[should_panic(expected = "slice: 2..5 is out of range for dimension 0 of shape [4]")]
    fn slice_panics_past_the_end() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[4]))
            .slice(0, 2, 5, 2);
    }

    #[test]
    #[should_panic(expected = "stack: input 1 of shape [3] differs from input 0 of shape [2]")]
    fn stack_panics_on_different_shapes() {
        let g = Graph::<f32>::new();
        g.stack(&[g.var(Tensor::zeros(&[2])), g.var(Tensor::zeros(&[3]))], 0);
    }
}
