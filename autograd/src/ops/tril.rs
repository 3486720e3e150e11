//! Triangular parts of the matrices in the last two axes: tril, triu.
//!
//! Each keeps the elements on one side of diagonal `k` and sets the rest to exactly 0
//! (selected, so an infinite or NaN element above a lower triangle gives 0, as PyTorch). The
//! backward is the same triangle of the gradient, so it is differentiable to any order.

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::tensor::Tensor;

impl<'g, T: Float> Var<'g, T> {
    /// The lower triangle of the matrices in the last two axes, as `torch.tril(x, k)`: element
    /// `(i, j)` is kept where `j − i ≤ k` and is 0 elsewhere. `k = 0` keeps the main diagonal,
    /// `k = −1` starts below it, `k = 1` keeps one diagonal above it.
    ///
    /// Backward: `tril(grad, k)`. Saves nothing.
    ///
    /// # Panics
    /// If the value has fewer than 2 dimensions.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.tril(0);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 0.0, 0.0, 4.0, 5.0, 0.0]);
    /// (y * 3.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![3.0, 0.0, 0.0, 3.0, 3.0, 0.0]);
    /// assert_eq!(x.tril(-1).value().to_vec(), vec![0.0, 0.0, 0.0, 4.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn tril(self, k: isize) -> Var<'g, T> {
        self.triangle("tril", k, |d, k| d <= k)
    }

    /// The upper triangle of the matrices in the last two axes, as `torch.triu(x, k)`: element
    /// `(i, j)` is kept where `j − i ≥ k` and is 0 elsewhere.
    ///
    /// Backward: `triu(grad, k)`. Saves nothing.
    ///
    /// # Panics
    /// If the value has fewer than 2 dimensions.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.triu(1);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0, 3.0, 0.0, 0.0, 6.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn triu(self, k: isize) -> Var<'g, T> {
        self.triangle("triu", k, |d, k| d >= k)
    }

    /// Keeps the elements whose diagonal offset `j − i` satisfies `keep(j − i, k)`.
    #[track_caller]
    fn triangle(self, op: &'static str, k: isize, keep: fn(isize, isize) -> bool) -> Var<'g, T> {
        let shape = self.shape_for(op);
        assert!(
            shape.len() >= 2,
            "{op}: needs at least 2 dimensions, got shape {:?}",
            shape.as_slice()
        );
        let rows = shape[shape.len() - 2];
        self.graph().custom_op(
            op,
            &[self],
            move |v| {
                let mut a = v[0].array().as_standard_layout().into_owned();
                // Lanes along the last axis, in row-major order: lane n is row n mod rows.
                for (n, mut row) in a.rows_mut().into_iter().enumerate() {
                    let i = (n % rows) as isize;
                    for (j, e) in row.iter_mut().enumerate() {
                        if !keep(j as isize - i, k) {
                            *e = T::zero();
                        }
                    }
                }
                Tensor::from_array(a)
            },
            move |_, g| grads![Some(g.triangle(op, k, keep))],
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
        fn tril_triu_grads_match_finite_diff(
            x in tensor(testing::shape_of_rank(4).prop_filter("two axes", |s| s.len() >= 2), -2.0..2.0),
            k in -3isize..3,
        ) {
            check_grads(|v| v[0].tril(k), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].triu(k), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].tril(k).square() + v[0].triu(k).square(), &[x])?;
        }
    }

    #[test]
    fn tril_and_triu_of_a_batch_select_zero_over_inf_and_nan() {
        let g = Graph::<f64>::new();
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        // Two 2×2 matrices.
        let x = g.var(Tensor::from_vec(
            vec![1.0, inf, 2.0, 3.0, 4.0, nan, -inf, 5.0],
            &[2, 2, 2],
        ));
        assert_eq!(
            x.tril(0).value().to_vec(),
            vec![1.0, 0.0, 2.0, 3.0, 4.0, 0.0, -inf, 5.0]
        );
        let upper = x.triu(1).value().to_vec();
        assert!(upper[5].is_nan()); // kept: above the diagonal
        assert_eq!(
            upper
                .iter()
                .map(|v| if v.is_nan() { -1.0 } else { *v })
                .collect::<Vec<_>>(),
            vec![0.0, inf, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0]
        );
        // Past the corners: all kept, or all zero.
        assert_eq!(x.tril(5).value().to_vec()[1], inf);
        assert_eq!(x.triu(5).value().to_vec(), vec![0.0; 8]);
        assert_eq!(g.var(Tensor::zeros(&[0, 3])).tril(0).shape(), vec![0, 3]);
    }

    #[test]
    #[should_panic(expected = "triu: needs at least 2 dimensions, got shape [3]")]
    fn triu_panics_on_a_vector() {
        Graph::<f32>::new().var(Tensor::zeros(&[3])).triu(0);
    }
}
