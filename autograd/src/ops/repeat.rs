//! Tiling: repeat (as `torch.Tensor.repeat`) and repeat_interleave.
//!
//! Both are a reshape, a [`broadcast_to`](Var::broadcast_to) and a reshape, so their backward
//! (the copies summed back, by `sum_to`) and every higher order come from those ops.

use super::reduce::as_isize;
use crate::alloc::OpScope;
use crate::float::Float;
use crate::graph::Var;
use crate::kernels::checked_axis;

/// `r · d`, or a panic naming the op when the size overflows.
#[track_caller]
fn times(op: &str, r: usize, d: usize, shape: &[usize]) -> usize {
    r.checked_mul(d)
        .unwrap_or_else(|| panic!("{op}: {r} copies of shape {shape:?} overflow usize"))
}

impl<'g, T: Float> Var<'g, T> {
    /// Tiles the value `reps[i]` times along dimension `i`, as `torch.Tensor.repeat(*reps)`
    /// (NumPy's `tile`): output dimension `i` has size `reps[i] · shape[i]`, and
    /// `out[.., r·n + j, ..] = x[.., j, ..]`. More `reps` than dimensions prepends
    /// dimensions of size 1 first, so `[2, 3].repeat(&[4, 1, 1])` has shape `[4, 2, 3]`; a 0
    /// gives an empty dimension.
    ///
    /// Backward: the gradient's tiles summed back onto the input (by composition: a
    /// reshape, [`Var::broadcast_to`] and a reshape). Saves nothing.
    ///
    /// # Panics
    /// If `reps` has fewer entries than the value has dimensions (as PyTorch), or a size
    /// overflows.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    /// let y = x.repeat(&[2, 2]);
    /// assert_eq!(y.shape(), vec![2, 4]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![4.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn repeat(self, reps: &[usize]) -> Var<'g, T> {
        let shape = self.shape_for("repeat");
        assert!(
            reps.len() >= shape.len(),
            "repeat: {} repeats for shape {:?}: give at least one per dimension",
            reps.len(),
            shape.as_slice()
        );
        let lead = reps.len() - shape.len();
        if lead == 0 && reps.iter().all(|&r| r == 1) {
            return self;
        }
        let dims = std::iter::repeat_n(1, lead).chain(shape.iter().copied());
        let (mut split, mut tiled, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (&r, d) in reps.iter().zip(dims) {
            split.extend([1, d]);
            tiled.extend([r, d]);
            out.push(times("repeat", r, d, &shape));
        }
        let _scope = OpScope::enter("repeat");
        self.reshape(&as_isize(&split))
            .broadcast_to(&tiled)
            .reshape(&as_isize(&out))
    }

    /// Repeats each element `repeats` times in place along `axis` (negative counts from the
    /// end), as `torch.repeat_interleave(x, repeats, axis)` with one count for all:
    /// `out[.., r·j + c, ..] = x[.., j, ..]` for `c < repeats`. Where [`Var::repeat`] tiles
    /// `[a, b]` to `[a, b, a, b]`, this gives `[a, a, b, b]`.
    ///
    /// Backward: the gradient's copies summed back (by composition). Saves nothing.
    ///
    /// # Panics
    /// If `axis` is out of range or a size overflows.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// let y = x.repeat_interleave(2, 0);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
    /// assert_eq!(x.repeat_interleave(3, -1).shape(), vec![2, 6]);
    /// ```
    #[track_caller]
    pub fn repeat_interleave(self, repeats: usize, axis: isize) -> Var<'g, T> {
        let shape = self.shape_for("repeat_interleave");
        let ax = checked_axis("repeat_interleave", axis, &shape);
        if repeats == 1 {
            return self;
        }
        let mut expanded = shape.to_vec();
        expanded.insert(ax + 1, repeats);
        let mut out = shape.to_vec();
        out[ax] = times("repeat_interleave", repeats, shape[ax], &shape);
        let _scope = OpScope::enter("repeat_interleave");
        self.unsqueeze(ax as isize + 1)
            .broadcast_to(&expanded)
            .reshape(&as_isize(&out))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor, tensor_and_axis};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn repeat_grads_match_finite_diff(
            x in tensor(testing::shape_of_rank(3), -2.0..2.0),
            reps in prop::collection::vec(0usize..=3, 0..=4),
        ) {
            let mut reps = reps;
            while reps.len() < x.ndim() {
                reps.push(2);
            }
            check_grads(|v| v[0].repeat(&reps), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].repeat(&reps).square(), &[x])?;
        }

        #[test]
        fn repeat_interleave_grads_match_finite_diff(
            (x, axis) in tensor_and_axis(3, -2.0..2.0),
            repeats in 0usize..=3,
        ) {
            check_grads(|v| v[0].repeat_interleave(repeats, axis), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].repeat_interleave(repeats, axis).square(), &[x])?;
        }
    }

    #[test]
    fn repeat_prepends_dimensions_as_pytorch() {
        // torch.arange(6.).reshape(2, 3).repeat(2, 1, 2)
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec((0..6).map(f64::from).collect(), &[2, 3]));
        let y = x.repeat(&[2, 1, 2]);
        assert_eq!(y.shape(), vec![2, 2, 6]);
        let row0 = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0];
        let row1 = [3.0, 4.0, 5.0, 3.0, 4.0, 5.0];
        assert_eq!(y.value().to_vec(), [row0, row1, row0, row1].concat());
        let w = g.constant(Tensor::from_vec(
            (0..24).map(f64::from).collect(),
            &[2, 2, 6],
        ));
        (y * w).sum().backward();
        // Element (i, j) collects w[r, i, j + 3c] over r, c.
        let want: Vec<f64> = (0..6)
            .map(|e| {
                let (i, j) = (e / 3, e % 3);
                let at = |r: usize, c: usize| (r * 12 + i * 6 + j + 3 * c) as f64;
                at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)
            })
            .collect();
        assert_eq!(x.grad().unwrap().to_vec(), want);
        assert_eq!(x.repeat(&[0, 1]).shape(), vec![0, 3]);
    }

    #[test]
    #[should_panic(
        expected = "repeat: 1 repeats for shape [2, 3]: give at least one per dimension"
    )]
    fn repeat_panics_on_too_few_repeats() {
        Graph::<f32>::new().var(Tensor::zeros(&[2, 3])).repeat(&[2]);
    }

    #[test]
    #[should_panic(expected = "repeat_interleave: axis -3 is out of range for shape [2, 3]")]
    fn repeat_interleave_panics_on_an_axis_out_of_range() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .repeat_interleave(2, -3);
    }
}
