//! Constant padding: pad.
//!
//! One allocation of the padded shape (checked, so a huge padding fails naming `pad`), the
//! value copied into its interior. The backward narrows the gradient back, axis by axis,
//! so it is differentiable to any order (narrow's backward is concat).

use crate::float::Float;
use crate::graph::Var;
use ndarray::Slice;

use crate::alloc::{checked_numel, full_array};
use crate::grads;
use crate::tensor::Tensor;

impl<'g, T: Float> Var<'g, T> {
    /// Pads the trailing dimensions with `value`: `pads[i] = (before, after)` applies to
    /// dimension `ndim − pads.len() + i`, so `&[(1, 1), (2, 2)]` pads an NCHW batch by 1 row
    /// above and below and 2 columns left and right.
    ///
    /// PyTorch's `F.pad` lists the pairs from the last dimension backwards as a flat list;
    /// here they follow the order of the dimensions.
    ///
    /// Backward: the gradient with the padding cut away.
    ///
    /// # Panics
    /// If `pads` has more entries than the value has dimensions, or the padded value is too
    /// large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]));
    /// let y = x.pad(&[(0, 1), (1, 0)], 0.0);
    /// assert_eq!(y.shape(), vec![2, 3]);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 1.0, 2.0, 0.0, 0.0, 0.0]);
    /// (y * 2.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn pad(self, pads: &[(usize, usize)], value: T) -> Var<'g, T> {
        let shape = self.shape_for("pad");
        assert!(
            pads.len() <= shape.len(),
            "pad: {} padding pairs for a value of shape {:?}",
            pads.len(),
            shape.as_slice()
        );
        let first = shape.len() - pads.len();
        // Checked before any block is built: a padded size that overflows or cannot be
        // allocated names pad and the shape asked for.
        let mut padded = shape.to_vec();
        for (i, &(before, after)) in pads.iter().enumerate() {
            let d = &mut padded[first + i];
            *d = match d.checked_add(before).and_then(|n| n.checked_add(after)) {
                Some(n) => n,
                None => panic!(
                    "pad: padding {:?} of dimension {} overflows its size {d} (shape {:?})",
                    (before, after),
                    first + i,
                    shape.as_slice()
                ),
            };
        }
        checked_numel::<T>("pad", &padded);
        if padded.as_slice() == shape.as_slice() {
            return self;
        }
        let before: Vec<usize> = (0..shape.len())
            .map(|d| d.checked_sub(first).map_or(0, |i| pads[i].0))
            .collect();
        let inner = shape.to_vec();
        let starts = before.clone();
        self.graph().custom_op(
            "pad",
            &[self],
            move |v| {
                let mut out = full_array("pad", &padded, value);
                out.slice_each_axis_mut(|d| {
                    let (b, n) = (starts[d.axis.index()], inner[d.axis.index()]);
                    Slice::from(b..b + n)
                })
                .assign(&v[0].view());
                Tensor::from_array(out)
            },
            move |ctx, g| {
                let shape = ctx.input(0).shape();
                let mut g = g;
                for (axis, (&b, &n)) in before.iter().zip(&shape).enumerate() {
                    if g.shape()[axis] != n {
                        g = g.narrow(axis as isize, b, n);
                    }
                }
                grads![Some(g)]
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn pad_grad_matches_finite_diff(
            x in tensor(testing::shape_of_rank(3), -2.0..2.0),
            pads in prop::collection::vec((0usize..=2, 0usize..=2), 0..=3),
        ) {
            let pads = &pads[..pads.len().min(x.ndim())];
            check_grads(|v| v[0].pad(pads, 0.5).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].pad(pads, 0.5).square(), &[x])?;
        }
    }

    #[test]
    #[should_panic(
        expected = "pad: cannot allocate shape [2, 16777218, 16777218] (5.63e14 elements, 2.25 PB of f32)"
    )]
    fn pad_panics_naming_the_op_when_the_result_cannot_be_allocated() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 2, 2]))
            .pad(&[(1 << 23, 1 << 23), (1 << 23, 1 << 23)], 0.0);
    }

    #[test]
    #[should_panic(
        expected = "pad: cannot allocate shape [2, 2, 9223372036854775810] (3.69e19 elements, 295 EB of f64)"
    )]
    fn pad_panics_naming_the_op_when_the_count_overflows() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2, 2, 2]))
            .pad(&[(1 << 62, 1 << 62)], 0.0);
    }

    #[test]
    #[should_panic(
        expected = "pad: padding (1, 18446744073709551615) of dimension 1 overflows its size 2 (shape [2, 2])"
    )]
    fn pad_panics_naming_the_op_when_a_padded_size_overflows() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 2]))
            .pad(&[(0, 0), (1, usize::MAX)], 0.0);
    }

    #[test]
    #[should_panic(expected = "pad: 3 padding pairs for a value of shape [2, 2]")]
    fn pad_panics_on_too_many_pairs() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 2]))
            .pad(&[(1, 1); 3], 0.0);
    }
}
