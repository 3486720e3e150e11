//! Adaptive pooling to a fixed output size: adaptive_avg_pool2d and adaptive_max_pool2d,
//! over PyTorch's bins (output cell `i` of `oH` covers input rows `⌊i·H/oH⌋ .. ⌈(i+1)·H/oH⌉`).
//!
//! Average pooling is a product with two constant averaging matrices; max pooling finds
//! each bin's winner and gathers it (the recording of [`pool_max`](super::pool_max)). Neither
//! has backward code of its own.

use std::hint::select_unpredictable;

use crate::alloc::{OpScope, checked_numel, full_array};
use crate::float::Float;
use crate::graph::Var;
use crate::ops::im2col::Size2;
use crate::ops::pool::nchw;
use crate::tensor::Tensor;

/// PyTorch's adaptive bin `i` of `out` over an axis of size `input`.
fn bin(i: usize, out: usize, input: usize) -> std::ops::Range<usize> {
    i * input / out..((i + 1) * input).div_ceil(out)
}

/// The checked output size of an adaptive pooling.
#[track_caller]
fn adaptive_out<T: Float>(op: &'static str, [n, c, ..]: [usize; 4], output: Size2) -> Size2 {
    assert!(
        output.0 > 0 && output.1 > 0,
        "{op}: output size must be positive, got {output:?}"
    );
    checked_numel::<T>(op, &[n, c, output.0, output.1]);
    output
}

/// For each bin of each plane, its maximum and its flat in-plane position: the first one in
/// row-major order on ties, the first NaN if there is one.
fn bin_maxima<T: Float>(x: &[T], [h, w]: [usize; 2], out: Size2) -> (Vec<T>, Vec<usize>) {
    let mut idx = Vec::new();
    for plane in x.chunks_exact(h * w) {
        for oy in 0..out.0 {
            for ox in 0..out.1 {
                let (rows, cols) = (bin(oy, out.0, h), bin(ox, out.1, w));
                let mut at = rows.start * w + cols.start;
                for y in rows {
                    for i in (y * w + cols.start)..(y * w + cols.end) {
                        let (v, best) = (plane[i], plane[at]);
                        let take = !best.is_nan() & ((v > best) | v.is_nan());
                        at = select_unpredictable(take, i, at);
                    }
                }
                idx.push(at);
            }
        }
    }
    let positions = out.0 * out.1;
    let values = x
        .chunks_exact(h * w)
        .zip(idx.chunks(positions.max(1)))
        .flat_map(|(plane, idx)| idx.iter().map(|&i| plane[i]))
        .collect();
    (values, idx)
}

impl<'g, T: Float> Var<'g, T> {
    /// Average pooling to a fixed output size, as `torch.nn.functional.adaptive_avg_pool2d`:
    /// output cell `(i, j)` averages input rows `⌊i·H/oH⌋ .. ⌈(i+1)·H/oH⌉` and the columns
    /// likewise, so any input size maps to `output` (bins may overlap or differ in size).
    ///
    /// Runs as `A_h · x · A_wᵀ` with constant averaging matrices; backward follows.
    ///
    /// # Panics
    /// If the input is not 4-D or an output size is 0.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::arange(0.0, 6.0, 1.0)).reshape(&[1, 1, 2, 3]);
    /// let y = x.adaptive_avg_pool2d((1, 2));
    /// // Columns {0, 1} and {1, 2}, both rows.
    /// assert_eq!(y.value().to_vec(), vec![2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn adaptive_avg_pool2d(self, output: impl Into<Size2>) -> Var<'g, T> {
        let op = "adaptive_avg_pool2d";
        let _scope = OpScope::enter(op);
        let [n, c, h, w] = nchw(op, self);
        let Size2(oh, ow) = adaptive_out::<T>(op, [n, c, h, w], output.into());
        let graph = self.graph();
        let rows = graph.constant_named(op, averaging_matrix(op, oh, h));
        let cols = graph
            .constant_named(op, averaging_matrix(op, ow, w))
            .transpose(0, 1);
        rows.matmul(self).matmul(cols)
    }

    /// Max pooling to a fixed output size, as `torch.nn.functional.adaptive_max_pool2d`:
    /// output cell `(i, j)` is the maximum of input rows `⌊i·H/oH⌋ .. ⌈(i+1)·H/oH⌉` and the
    /// columns likewise. Ties and NaN follow [`Var::max_pool2d`] (the first maximum in
    /// row-major order takes the gradient; NaN propagates).
    ///
    /// Backward: the gradient scattered to each bin's winner, differentiable again.
    ///
    /// # Panics
    /// If the input is not 4-D or an output size is 0.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 5.0, 2.0, 0.0, 3.0], &[1, 1, 1, 5]));
    /// // Bins {0, 1}, {1, 2, 3}, {3, 4}.
    /// let y = x.adaptive_max_pool2d((1, 3));
    /// assert_eq!(y.value().to_vec(), vec![5.0, 5.0, 3.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 2.0, 0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn adaptive_max_pool2d(self, output: impl Into<Size2>) -> Var<'g, T> {
        let op = "adaptive_max_pool2d";
        let _scope = OpScope::enter(op);
        let [n, c, h, w] = nchw(op, self);
        let out = adaptive_out::<T>(op, [n, c, h, w], output.into());
        let (values, idx) = {
            let x = self.value();
            let x = x.array().as_standard_layout();
            bin_maxima(x.as_slice().expect("standard layout"), [h, w], out)
        };
        self.gather_winners(op, [n, c, h, w], out, values, idx)
    }
}

/// The `[out, input]` matrix whose row `i` averages PyTorch's adaptive bin `i`.
#[track_caller]
fn averaging_matrix<T: Float>(op: &'static str, out: usize, input: usize) -> Tensor<T> {
    let mut m = full_array(op, &[out, input], T::zero());
    let m_flat = m.as_slice_mut().expect("standard layout");
    for i in 0..out {
        let b = bin(i, out, input);
        let weight = T::one() / T::from_usize(b.len());
        m_flat[i * input + b.start..i * input + b.end].fill(weight);
    }
    Tensor::from_array(m)
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    /// An NCHW tensor of distinct values (no ties, so max pooling is differentiable).
    fn distinct(n: usize, c: usize, h: usize, w: usize) -> impl Strategy<Value = Tensor<f64>> {
        Just((0..n * c * h * w).collect::<Vec<_>>())
            .prop_shuffle()
            .prop_map(move |perm| {
                let v = perm.iter().map(|&i| i as f64 * 0.1 - 1.0).collect();
                Tensor::from_vec(v, &[n, c, h, w])
            })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn adaptive_and_global_pool_grads_match_finite_diff(
            x in (1usize..=2, 1usize..=2, 1usize..=7, 1usize..=7).prop_flat_map(|(n, c, h, w)| tensor_of(vec![n, c, h, w], -1.0..1.0)),
            oh in 1usize..=4,
            ow in 1usize..=4,
        ) {
            check_grads(|v| v[0].adaptive_avg_pool2d((oh, ow)).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].adaptive_avg_pool2d((oh, ow)).square(), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].global_avg_pool2d().square(), &[x])?;
        }

        #[test]
        fn adaptive_max_pool2d_grads_match_finite_diff(
            x in (1usize..=2, 1usize..=2, 1usize..=7, 1usize..=7).prop_flat_map(|(n, c, h, w)| distinct(n, c, h, w)),
            oh in 1usize..=4,
            ow in 1usize..=4,
        ) {
            check_grads(|v| v[0].adaptive_max_pool2d((oh, ow)).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].adaptive_max_pool2d((oh, ow)).square(), &[x])?;
        }
    }

    #[test]
    fn adaptive_avg_pool2d_matches_pytorch_bins() {
        // torch.nn.functional.adaptive_avg_pool2d(torch.arange(5.).reshape(1, 1, 1, 5), (1, 3))
        // -> [0.5, 2.0, 3.5]: bins {0, 1}, {1, 2, 3}, {3, 4}.
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 5.0, 1.0)).reshape(&[1, 1, 1, 5]);
        let y = x.adaptive_avg_pool2d((1, 3));
        assert_eq!(y.value().to_vec(), vec![0.5, 2.0, 3.5]);
    }

    #[test]
    fn adaptive_max_pool2d_propagates_nan_and_takes_the_first_tie() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![2.0, 2.0, 1.0, f64::NAN, 0.0, 3.0],
            &[1, 1, 2, 3],
        ));
        // Bins of one row each, over columns {0, 1} and {1, 2}.
        let y = x.adaptive_max_pool2d((2, 2));
        let v = y.value().to_vec();
        assert_eq!(v[..2], [2.0, 2.0]);
        assert!(v[2].is_nan() && v[3] == 3.0);
        y.sum().backward();
        assert_eq!(
            x.grad().unwrap().to_vec(),
            vec![1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
        );
    }

    #[test]
    #[should_panic(expected = "adaptive_max_pool2d: output size must be positive, got Size2(0, 2)")]
    fn adaptive_max_pool2d_panics_on_an_empty_output() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 4, 4]))
            .adaptive_max_pool2d((0, 2));
    }

    #[test]
    fn adaptive_pooling_an_empty_batch_gives_an_empty_batch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[0, 2, 4, 4]));
        assert_eq!(x.adaptive_max_pool2d(3).shape(), vec![0, 2, 3, 3]);
        assert_eq!(x.adaptive_avg_pool2d(3).shape(), vec![0, 2, 3, 3]);
    }
}
