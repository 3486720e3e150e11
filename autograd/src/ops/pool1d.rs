//! 1-D pooling over NCL: max_pool1d and avg_pool1d, each the 2-D op over a plane of height 1.

use crate::float::Float;
use crate::graph::Var;
use crate::ops::im2col::Size2;
use crate::ops::pool::PoolOptions;

/// Panics, naming `op`, unless `x` is `[N, C, L]` with only the batch possibly empty.
#[track_caller]
fn check_ncl<T: Float>(op: &str, x: Var<'_, T>) {
    let s = x.shape_for(op);
    match s.as_slice() {
        &[_, c, l] if c > 0 && l > 0 => {}
        &[_, _, _] => panic!(
            "{op}: the input [N, C, L] may only have an empty batch, got shape {:?}",
            s.as_slice()
        ),
        other => panic!("{op}: the input must be [N, C, L], got shape {other:?}"),
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// 1-D max pooling of `[N, C, L]`, as `torch.nn.functional.max_pool1d`: windows of
    /// `kernel` moved by `stride` over the input padded by `padding`; the output length is
    /// `⌊(L + 2p − k) / s⌋ + 1`. Ties, NaN and the backward as [`Var::max_pool2d`], which it
    /// runs with a height of 1. [`Var::max_pool1d_with`] takes dilation and `ceil_mode`.
    ///
    /// # Panics
    /// If the input is not 3-D, a kernel or stride is 0, the padding exceeds half the
    /// kernel, or the kernel does not fit the padded input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 2.0, 5.0, 4.0], &[1, 1, 5]));
    /// let y = x.max_pool1d(2, 2, 0);
    /// assert_eq!(y.value().to_vec(), vec![3.0, 5.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn max_pool1d(self, kernel: usize, stride: usize, padding: usize) -> Var<'g, T> {
        self.max_pool1d_with(kernel, PoolOptions::new().stride(stride).padding(padding))
    }

    /// [`Var::max_pool1d`] with all of PyTorch's window options (see [`PoolOptions`]; the
    /// width components are used).
    ///
    /// # Panics
    /// As [`Var::max_pool2d_with`], for a 3-D input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, PoolOptions, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 2.0, 5.0, 4.0], &[1, 1, 5]));
    /// let y = x.max_pool1d_with(2, PoolOptions::new().ceil_mode(true));
    /// assert_eq!(y.value().to_vec(), vec![3.0, 5.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn max_pool1d_with(self, kernel: usize, options: PoolOptions) -> Var<'g, T> {
        let op = "max_pool1d";
        check_ncl(op, self);
        self.unsqueeze(2)
            .max_pool_named(op, Size2(1, kernel), options.as_1d())
            .squeeze(2)
    }

    /// 1-D average pooling of `[N, C, L]`, as `torch.nn.functional.avg_pool1d` with its
    /// defaults (padding counted in the average); runs as [`Var::avg_pool2d`] with a height
    /// of 1. [`Var::avg_pool1d_with`] takes `ceil_mode` and `count_include_pad`.
    ///
    /// # Panics
    /// If the input is not 3-D, a kernel or stride is 0, the padding exceeds half the
    /// kernel, or the kernel does not fit the padded input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 3.0, 2.0, 5.0], &[1, 1, 4]));
    /// assert_eq!(x.avg_pool1d(2, 2, 0).value().to_vec(), vec![2.0, 3.5]);
    /// ```
    #[track_caller]
    pub fn avg_pool1d(self, kernel: usize, stride: usize, padding: usize) -> Var<'g, T> {
        self.avg_pool1d_with(kernel, PoolOptions::new().stride(stride).padding(padding))
    }

    /// [`Var::avg_pool1d`] with PyTorch's options (see [`PoolOptions`] and
    /// [`Var::avg_pool2d_with`]; the width components are used).
    ///
    /// # Panics
    /// As [`Var::avg_pool2d_with`], for a 3-D input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, PoolOptions, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![2.0, 4.0], &[1, 1, 2]));
    /// let opts = PoolOptions::new().stride(1).padding(1).count_include_pad(false);
    /// assert_eq!(x.avg_pool1d_with(2, opts).value().to_vec(), vec![2.0, 3.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn avg_pool1d_with(self, kernel: usize, options: PoolOptions) -> Var<'g, T> {
        let op = "avg_pool1d";
        check_ncl(op, self);
        self.unsqueeze(2)
            .avg_pool_named(op, Size2(1, kernel), options.as_1d())
            .squeeze(2)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads};
    use crate::{Graph, PoolOptions, Tensor};
    use proptest::prelude::*;

    /// An NCL tensor of distinct values, a kernel, stride, padding and dilation that fit it,
    /// and ceil_mode / count_include_pad flags.
    #[allow(clippy::type_complexity)]
    fn pool1d_case() -> impl Strategy<Value = (Tensor<f64>, usize, PoolOptions)> {
        (
            (1usize..=2, 1usize..=2, 2usize..=7),
            (1usize..=3, 1usize..=3, 0usize..=1, 1usize..=2),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_filter("fits", |&((_, _, l), (k, _, p, d), ..)| {
                d * (k - 1) < l + 2 * p && 2 * p <= k
            })
            .prop_flat_map(|((n, c, l), win, ceil, incl)| {
                (
                    Just(((n, c, l), win, ceil, incl)),
                    Just((0..n * c * l).collect::<Vec<_>>()).prop_shuffle(),
                )
            })
            .prop_map(|(((n, c, l), (k, s, p, d), ceil, incl), perm)| {
                let v = perm.iter().map(|&i| i as f64 * 0.1 - 1.0).collect();
                let opts = PoolOptions::new()
                    .stride(s)
                    .padding(p)
                    .dilation(d)
                    .ceil_mode(ceil)
                    .count_include_pad(incl);
                (Tensor::from_vec(v, &[n, c, l]), k, opts)
            })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn max_pool1d_grad_matches_finite_diff((x, k, opts) in pool1d_case()) {
            check_grads(|v| v[0].max_pool1d_with(k, opts).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].max_pool1d_with(k, opts).square(), &[x])?;
        }

        #[test]
        fn avg_pool1d_grad_matches_finite_diff((x, k, opts) in pool1d_case()) {
            let opts = opts.dilation(1);
            check_grads(|v| v[0].avg_pool1d_with(k, opts).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].avg_pool1d_with(k, opts).square(), &[x])?;
        }
    }

    #[test]
    fn pool1d_matches_pool2d_of_height_one() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 14.0, 1.0).map(|v: f64| (v * 1.7).sin()));
        let (x1, x2) = (x.reshape(&[2, 1, 7]), x.reshape(&[2, 1, 1, 7]));
        let opts = PoolOptions::new().stride(2).padding(1).ceil_mode(true);
        assert_eq!(
            x1.max_pool1d_with(3, opts).value().to_vec(),
            x2.max_pool2d_with((1, 3), opts.padding((0, 1)))
                .value()
                .to_vec()
        );
        assert_eq!(
            x1.avg_pool1d(3, 2, 1).value().to_vec(),
            x2.avg_pool2d((1, 3), (1, 2), (0, 1)).value().to_vec()
        );
    }

    #[test]
    #[should_panic(expected = "max_pool1d: the input must be [N, C, L], got shape [1, 1, 4, 4]")]
    fn max_pool1d_panics_on_4d_input() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 4, 4]))
            .max_pool1d(2, 2, 0);
    }

    #[test]
    #[should_panic(
        expected = "avg_pool1d: padding Size2(0, 2) must be at most half the kernel Size2(1, 2)"
    )]
    fn avg_pool1d_panics_on_large_padding() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 4]))
            .avg_pool1d(2, 1, 2);
    }
}
