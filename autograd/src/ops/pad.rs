//! Constant padding: pad.
//!
//! Composed from [`concat`](crate::Graph::concat) with constant blocks, so its backward is
//! a slice (narrow) of the gradient, differentiable to any order.

use crate::float::Float;
use crate::graph::Var;
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
    /// If `pads` has more entries than the value has dimensions.
    ///
    /// ```
    /// use ferrograd_autograd::{Graph, Tensor};
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
        let graph = self.graph();
        let first = shape.len() - pads.len();
        let mut out = self;
        for (i, &(before, after)) in pads.iter().enumerate() {
            if before == 0 && after == 0 {
                continue;
            }
            let axis = first + i;
            let block = |n: usize| {
                let mut s = out.shape();
                s[axis] = n;
                graph.constant_named("pad_value", Tensor::full(&s, value))
            };
            let mut parts = Vec::with_capacity(3);
            if before > 0 {
                parts.push(block(before));
            }
            parts.push(out);
            if after > 0 {
                parts.push(block(after));
            }
            out = graph.concat(&parts, axis as isize);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_grads, tensor};
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
            check_grads(|v| v[0].pad(pads, 0.5).square(), &[x])?;
        }
    }

    #[test]
    #[should_panic(expected = "pad: 3 padding pairs for a value of shape [2, 2]")]
    fn pad_panics_on_too_many_pairs() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 2]))
            .pad(&[(1, 1); 3], 0.0);
    }
}
