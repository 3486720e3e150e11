//! Pooling over NCHW: max_pool2d, avg_pool2d and global pooling, with [`PoolOptions`]
//! (PyTorch's stride, padding, dilation, `ceil_mode` and `count_include_pad`).
//!
//! None has backward code of its own. max_pool2d finds each window's maximum and then
//! gathers it (the kernels of [`pool_max`](super::pool_max), so its gradient is a scatter to
//! the winning positions), and avg_pool2d is a convolution with a constant kernel, divided
//! by each window's element count where that differs between windows.

use crate::alloc::{OpScope, checked_numel};
use crate::float::Float;
use crate::graph::Var;
use crate::ops::conv::ConvOptions;
use crate::ops::im2col::{Size2, Window};
use crate::ops::pool_max::max_windows;
use crate::tensor::Tensor;

/// The window options of the pooling ops, as the keyword arguments of
/// `torch.nn.functional.max_pool2d` / `avg_pool2d`: stride (the kernel by default), padding
/// 0, dilation 1 (max pooling only), `ceil_mode` false and `count_include_pad` true
/// (average pooling only). Size setters take one number for both spatial axes or an
/// `(h, w)` pair; the 1-D ops read the width components.
///
/// With `ceil_mode` the output size rounds up, `⌈(H + 2p − d·(k − 1) − 1) / s⌉ + 1`, less one
/// if the last window would start past the input and its left padding (PyTorch's rule).
///
/// ```
/// use ferrograd::autograd::{Graph, PoolOptions, Tensor};
/// let g = Graph::<f64>::new();
/// let x = g.var(Tensor::arange(0.0, 5.0, 1.0)).reshape(&[1, 1, 1, 5]);
/// // Windows {0, 1}, {2, 3} and, rounding up, {4}.
/// let y = x.avg_pool2d_with((1, 2), PoolOptions::new().ceil_mode(true));
/// assert_eq!(y.value().to_vec(), vec![0.5, 2.5, 4.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    stride: Option<Size2>,
    padding: Size2,
    dilation: Size2,
    ceil_mode: bool,
    count_include_pad: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl PoolOptions {
    /// Stride equal to the kernel, no padding, no dilation, floor rounding, padding counted
    /// in averages (PyTorch's defaults).
    pub fn new() -> Self {
        PoolOptions {
            stride: None,
            padding: Size2(0, 0),
            dilation: Size2(1, 1),
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// The step between windows (the kernel unless set).
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = Some(stride.into());
        self
    }

    /// Padding on both sides of each spatial axis (at most half the kernel).
    pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
        self.padding = padding.into();
        self
    }

    /// The spacing between window taps (1: adjacent); max pooling only, as in PyTorch.
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// Round the output size up rather than down, so a partial last window counts.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// Whether average pooling divides by the whole window, padding included (true, the
    /// default), or by the input elements it covers.
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }

    /// These options with the height components of a 1-D pooling.
    pub(crate) fn as_1d(self) -> Self {
        PoolOptions {
            stride: self.stride.map(|s| Size2(1, s.1)),
            padding: Size2(0, self.padding.1),
            dilation: Size2(1, self.dilation.1),
            ..self
        }
    }

    /// The window for `kernel`, checked as PyTorch checks it (padding at most half the
    /// kernel, so every window holds at least one input element), and its output size over
    /// an `h`×`w` plane.
    #[track_caller]
    fn window(&self, op: &str, kernel: Size2, h: usize, w: usize) -> (Window, Size2) {
        let win = Window {
            kernel,
            stride: self.stride.unwrap_or(kernel),
            padding: self.padding,
            dilation: self.dilation,
        };
        win.check_positive(op);
        assert!(
            win.padding.0 <= win.kernel.0 / 2 && win.padding.1 <= win.kernel.1 / 2,
            "{op}: padding {:?} must be at most half the kernel {:?}",
            win.padding,
            win.kernel
        );
        let floor = win.checked_out(op, h, w);
        if !self.ceil_mode {
            return (win, floor);
        }
        let ceil = |axis: usize, n: usize, floor: usize| {
            let (s, p) = (win.stride.get(axis), win.padding.get(axis));
            let span = win.dilation.get(axis) * (win.kernel.get(axis) - 1) + 1;
            // Checked by checked_out: n + 2p fits and is at least the span.
            let out = (n + 2 * p - span).div_ceil(s) + 1;
            // The last window must start inside the input or its left padding.
            if out > floor && (out - 1) * s >= n + p {
                out - 1
            } else {
                out
            }
        };
        (win, Size2(ceil(0, h, floor.0), ceil(1, w, floor.1)))
    }
}

/// The `[N, C, H, W]` sizes of a pooling input; as PyTorch, only the batch may be empty.
#[track_caller]
pub(crate) fn nchw<T: Float>(op: &str, x: Var<'_, T>) -> [usize; 4] {
    let s = x.shape_for(op);
    match s.as_slice() {
        &[n, c, h, w] if c > 0 && h > 0 && w > 0 => [n, c, h, w],
        &[_, _, _, _] => panic!(
            "{op}: the input [N, C, H, W] may only have an empty batch, got shape {:?}",
            s.as_slice()
        ),
        other => panic!("{op}: the input must be [N, C, H, W], got shape {other:?}"),
    }
}

/// Average pooling's divisors along one axis of size `n`, as PyTorch counts them: the
/// window clipped to the padded input (`count_include_pad`) or to the input itself.
fn divisors(win: &Window, axis: usize, n: usize, out: usize, include_pad: bool) -> Vec<usize> {
    let (k, s, p) = (
        win.kernel.get(axis),
        win.stride.get(axis),
        win.padding.get(axis),
    );
    (0..out)
        .map(|o| {
            // In padded coordinates: the window o·s .. o·s + k, the input p .. p + n.
            let (start, end) = (o * s, (o * s + k).min(n + 2 * p));
            if include_pad {
                end - start
            } else {
                end.min(n + p) - start.max(p)
            }
        })
        .collect()
}

impl<'g, T: Float> Var<'g, T> {
    /// 2-D max pooling of `[N, C, H, W]` with windows of `kernel`, moved by `stride`, over
    /// the input padded by `padding` (padding never wins), as
    /// `torch.nn.functional.max_pool2d`; the output size is
    /// `⌊(H + 2p − kH) / s⌋ + 1`. `kernel` and `stride` may differ (overlapping windows).
    /// [`Var::max_pool2d_with`] takes dilation and `ceil_mode` too.
    ///
    /// Ties: the first maximum in row-major order within the window takes the whole
    /// gradient (as PyTorch). A NaN in a window is its maximum (NaN propagates).
    ///
    /// Backward: the gradient scattered to each window's winning position (gather's
    /// backward), differentiable again; at first order one pass into the zeroed input
    /// gradient.
    ///
    /// # Panics
    /// If the input is not 4-D, a kernel or stride size is 0, the padding exceeds half the
    /// kernel, or the kernel does not fit the padded input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![
    ///     1.0, 2.0, 5.0, 0.0,
    ///     3.0, 4.0, 1.0, 1.0,
    ///     0.0, 0.0, 2.0, 2.0,
    ///     9.0, 0.0, 2.0, 1.0,
    /// ], &[1, 1, 4, 4]));
    /// let y = x.max_pool2d(2, 2, 0);
    /// assert_eq!(y.value().to_vec(), vec![4.0, 5.0, 9.0, 2.0]);
    /// y.sum().backward();
    /// // The tie of 2s in the last window: the first one wins.
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![
    ///     0.0, 0.0, 1.0, 0.0,
    ///     0.0, 1.0, 0.0, 0.0,
    ///     0.0, 0.0, 1.0, 0.0,
    ///     1.0, 0.0, 0.0, 0.0,
    /// ]);
    /// ```
    #[track_caller]
    pub fn max_pool2d(
        self,
        kernel: impl Into<Size2>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
    ) -> Var<'g, T> {
        let opts = PoolOptions::new().stride(stride).padding(padding);
        self.max_pool_named("max_pool2d", kernel.into(), opts)
    }

    /// [`Var::max_pool2d`] with all of PyTorch's window options: stride, padding, dilation
    /// (taps `d` apart, the output size `⌊(H + 2p − d·(kH − 1) − 1) / s⌋ + 1`) and
    /// `ceil_mode` (see [`PoolOptions`]). Windows past the input's end hold only the taps
    /// inside it.
    ///
    /// # Panics
    /// As [`Var::max_pool2d`]; also if a dilation is 0 or a dilated window holds no input
    /// element at all (PyTorch returns `-inf` there).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, PoolOptions, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![3.0, 1.0, 4.0, 1.0, 5.0], &[1, 1, 1, 5]));
    /// // Taps two apart: {0, 2}, {1, 3}, {2, 4}.
    /// let y = x.max_pool2d_with((1, 2), PoolOptions::new().stride(1).dilation((1, 2)));
    /// assert_eq!(y.value().to_vec(), vec![4.0, 1.0, 5.0]);
    /// ```
    #[track_caller]
    pub fn max_pool2d_with(self, kernel: impl Into<Size2>, options: PoolOptions) -> Var<'g, T> {
        self.max_pool_named("max_pool2d", kernel.into(), options)
    }

    #[track_caller]
    pub(crate) fn max_pool_named(
        self,
        op: &'static str,
        kernel: Size2,
        options: PoolOptions,
    ) -> Var<'g, T> {
        let _scope = OpScope::enter(op);
        let [n, c, h, w] = nchw(op, self);
        let (win, out) = options.window(op, kernel, h, w);
        checked_numel::<T>(op, &[n, c, out.0, out.1]);
        let (values, idx) = {
            let x = self.value();
            let x = x.array().as_standard_layout();
            max_windows(op, x.as_slice().expect("standard"), [n, c, h, w], &win, out)
        };
        self.gather_winners(op, [n, c, h, w], out, values, idx)
    }

    /// 2-D average pooling of `[N, C, H, W]`, as `torch.nn.functional.avg_pool2d` with its
    /// defaults: padding counts as zeros in the average (`count_include_pad`), and the output
    /// size is `⌊(H + 2p − kH) / s⌋ + 1`. [`Var::avg_pool2d_with`] takes `ceil_mode` and
    /// `count_include_pad` too.
    ///
    /// Runs as a convolution of every channel with a constant `1 / (kH·kW)` kernel, so the
    /// backward spreads each gradient evenly over its window.
    ///
    /// # Panics
    /// If the input is not 4-D, a kernel or stride size is 0, the padding exceeds half the
    /// kernel (a window could then hold only padding), or the kernel does not fit the padded
    /// input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::arange(0.0, 16.0, 1.0)).reshape(&[1, 1, 4, 4]);
    /// let y = x.avg_pool2d(2, 2, 0);
    /// assert_eq!(y.value().to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    #[track_caller]
    pub fn avg_pool2d(
        self,
        kernel: impl Into<Size2>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
    ) -> Var<'g, T> {
        let opts = PoolOptions::new().stride(stride).padding(padding);
        self.avg_pool_named("avg_pool2d", kernel.into(), opts)
    }

    /// [`Var::avg_pool2d`] with PyTorch's options (see [`PoolOptions`]): with
    /// `count_include_pad(false)` each window divides by the input elements it covers; with
    /// `ceil_mode` a window past the input's end divides by its part inside the padded
    /// input (or inside the input, without `count_include_pad`), as PyTorch.
    ///
    /// Runs as a convolution with a ones kernel (over the input padded at the end for
    /// `ceil_mode`) times the constant reciprocal counts; backward follows.
    ///
    /// # Panics
    /// As [`Var::avg_pool2d`]; also if a dilation other than 1 is set (PyTorch's
    /// avg_pool2d has none).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, PoolOptions, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::ones(&[1, 1, 2, 2]));
    /// let opts = PoolOptions::new().padding(1).count_include_pad(false);
    /// // Each 2x2 window holds one real pixel and three of padding, now not counted.
    /// assert_eq!(x.avg_pool2d_with(2, opts).value().to_vec(), vec![1.0; 4]);
    /// ```
    #[track_caller]
    pub fn avg_pool2d_with(self, kernel: impl Into<Size2>, options: PoolOptions) -> Var<'g, T> {
        self.avg_pool_named("avg_pool2d", kernel.into(), options)
    }

    #[track_caller]
    pub(crate) fn avg_pool_named(
        self,
        op: &'static str,
        kernel: Size2,
        options: PoolOptions,
    ) -> Var<'g, T> {
        let _scope = OpScope::enter(op);
        let [n, c, h, w] = nchw(op, self);
        assert!(
            options.dilation == Size2(1, 1),
            "{op}: average pooling has no dilation, got {:?}",
            options.dilation
        );
        let (win, out) = options.window(op, kernel, h, w);
        checked_numel::<T>(op, &[n, c, out.0, out.1]);
        let (k, s, p) = (win.kernel, win.stride, win.padding);
        let include = options.count_include_pad;
        let (rows, cols) = (
            divisors(&win, 0, h, out.0, include),
            divisors(&win, 1, w, out.1, include),
        );
        let uniform = rows.iter().all(|&d| d == k.0) && cols.iter().all(|&d| d == k.1);
        let tap = if uniform {
            T::one() / (T::from_usize(k.0) * T::from_usize(k.1))
        } else {
            T::one()
        };
        let graph = self.graph();
        let weight =
            graph.constant_named("avg_pool2d_kernel", Tensor::full(&[1, 1, k.0, k.1], tap));
        // ceil_mode: zeros past the end so the last (partial) window fits the convolution.
        let extra = |axis: usize, size: usize, out: usize| {
            ((out - 1) * s.get(axis) + k.get(axis)).saturating_sub(size + 2 * p.get(axis))
        };
        let (eh, ew) = (extra(0, h, out.0), extra(1, w, out.1));
        let planes = self.reshape(&[(n * c) as isize, 1, h as isize, w as isize]);
        let planes = if eh + ew > 0 {
            planes.pad(&[(0, eh), (0, ew)], T::zero())
        } else {
            planes
        };
        let opts = ConvOptions::new().stride(s).padding(p);
        let y = planes.conv2d(weight, None, opts);
        let y = if uniform {
            y
        } else {
            let counts = rows
                .iter()
                .flat_map(|&r| cols.iter().map(move |&c| T::one() / T::from_usize(r * c)))
                .collect();
            y * graph.constant_named(
                "avg_pool2d_counts",
                Tensor::from_vec(counts, &[out.0, out.1]),
            )
        };
        y.reshape(&[n as isize, c as isize, out.0 as isize, out.1 as isize])
    }

    /// The mean over the spatial axes: `[N, C, H, W] → [N, C]`, as Keras'
    /// `GlobalAveragePooling2D`.
    ///
    /// # Panics
    /// If the input is not 4-D.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::ones(&[2, 3, 4, 4]));
    /// assert_eq!(x.global_avg_pool2d().shape(), vec![2, 3]);
    /// ```
    #[track_caller]
    pub fn global_avg_pool2d(self) -> Var<'g, T> {
        nchw("global_avg_pool2d", self);
        self.mean_axes(&[2, 3], false)
    }

    /// The maximum over the spatial axes: `[N, C, H, W] → [N, C]`, as Keras'
    /// `GlobalMaxPooling2D`. NaN propagates; ties split the gradient evenly (the rules of
    /// [`Var::max_axes`]).
    ///
    /// # Panics
    /// If the input is not 4-D.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let x = g.var(Tensor::arange(0.0, 8.0, 1.0)).reshape(&[1, 2, 2, 2]);
    /// assert_eq!(x.global_max_pool2d().value().to_vec(), vec![3.0, 7.0]);
    /// ```
    #[track_caller]
    pub fn global_max_pool2d(self) -> Var<'g, T> {
        nchw("global_max_pool2d", self);
        self.max_axes(&[2, 3], false)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads};
    use crate::{Graph, PoolOptions, Tensor};
    use proptest::prelude::*;

    /// An NCHW tensor of distinct values (no ties, so max pooling is differentiable), with a
    /// kernel, stride and padding that fit it.
    fn pool_case() -> impl Strategy<Value = (Tensor<f64>, usize, usize, usize)> {
        (
            1usize..=2,
            1usize..=2,
            2usize..=6,
            2usize..=6,
            1usize..=3,
            1usize..=3,
            0usize..=1,
        )
            .prop_filter("fits", |&(_, _, h, w, k, _, p)| {
                k <= h + 2 * p && k <= w + 2 * p && 2 * p <= k
            })
            .prop_flat_map(|case| {
                let (n, c, h, w, ..) = case;
                (
                    Just(case),
                    Just((0..n * c * h * w).collect::<Vec<_>>()).prop_shuffle(),
                )
            })
            .prop_map(|((n, c, h, w, k, s, p), perm)| {
                let v = perm.iter().map(|&i| i as f64 * 0.1 - 1.0).collect();
                (Tensor::from_vec(v, &[n, c, h, w]), k, s, p)
            })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn max_pool2d_grad_matches_finite_diff((x, k, s, p) in pool_case()) {
            check_grads(|v| v[0].max_pool2d(k, s, p).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].max_pool2d(k, s, p).square(), &[x])?;
        }

        #[test]
        fn avg_pool2d_grad_matches_finite_diff((x, k, s, p) in pool_case()) {
            check_grads(|v| v[0].avg_pool2d(k, s, p).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].avg_pool2d(k, s, p).square(), &[x])?;
        }

        #[test]
        fn pool_options_grads_match_finite_diff(
            (x, k, s, p) in pool_case(),
            d in 1usize..=2,
            ceil in any::<bool>(),
            include in any::<bool>(),
        ) {
            let [h, w] = [x.shape()[2], x.shape()[3]];
            prop_assume!(d * (k - 1) < h.min(w) + 2 * p);
            let opts = PoolOptions::new().stride(s).padding(p).ceil_mode(ceil);
            let max = opts.dilation(d);
            check_grads(|v| v[0].max_pool2d_with(k, max).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].max_pool2d_with(k, max).square(), std::slice::from_ref(&x))?;
            let avg = opts.count_include_pad(include);
            check_grads(|v| v[0].avg_pool2d_with(k, avg).square(), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].avg_pool2d_with(k, avg).square(), &[x])?;
        }

    }

    #[test]
    fn ceil_mode_follows_pytorch() {
        // 5x5 in 2x2 windows at stride 2: ⌈3/2⌉ + 1 = 3 windows per axis, the last one
        // partial (torch.nn.functional.max_pool2d(x, 2, ceil_mode=True) gives 3x3).
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 25.0, 1.0)).reshape(&[1, 1, 5, 5]);
        let opts = PoolOptions::new().ceil_mode(true);
        let y = x.max_pool2d_with(2, opts);
        assert_eq!(
            y.value().to_vec(),
            vec![6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0]
        );
        let y = x.avg_pool2d_with(2, opts);
        // The last row and column of windows hold 2 and 1 pixels, divided by those counts.
        assert_eq!(y.value().to_vec()[..3], [3.0, 5.0, 6.5]);
        assert_eq!(y.value().to_vec()[8], 24.0);
        let x4 = g.var(Tensor::zeros(&[1, 1, 4, 4]));
        let shape = |k: usize, s: usize, p: usize| {
            x4.max_pool2d_with(k, PoolOptions::new().stride(s).padding(p).ceil_mode(true))
                .shape()
        };
        assert_eq!(shape(2, 2, 1), vec![1, 1, 3, 3]);
        assert_eq!(shape(3, 2, 1), vec![1, 1, 3, 3]);
        assert_eq!(shape(2, 3, 0), vec![1, 1, 2, 2]);
    }

    #[test]
    fn avg_pool2d_count_include_pad_false_divides_by_the_covered_pixels() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(1.0, 10.0, 1.0)).reshape(&[1, 1, 3, 3]);
        let opts = PoolOptions::new()
            .stride(1)
            .padding(1)
            .count_include_pad(false);
        let y = x.avg_pool2d_with(3, opts);
        // Corners average 4 pixels, edges 6, the centre 9.
        let v = y.value().to_vec();
        assert_eq!(v[0], (1.0 + 2.0 + 4.0 + 5.0) / 4.0);
        assert_eq!(v[1], (1.0 + 2.0 + 3.0 + 4.0 + 5.0 + 6.0) / 6.0);
        assert_eq!(v[4], 5.0);
        y.sum().backward();
        // Pixel 0 is in 4 windows: its own corner (1/4), two edges (1/6) and the centre (1/9).
        let g0 = x.grad().unwrap().to_vec()[0];
        assert!((g0 - (0.25 + 2.0 / 6.0 + 1.0 / 9.0)).abs() < 1e-12);
    }

    #[test]
    fn max_pool2d_dilation_spreads_the_taps() {
        let g = Graph::<f64>::new();
        let x = g
            .var(Tensor::arange(0.0, 16.0, 1.0).map(|v: f64| (v * 2.3).sin()))
            .reshape(&[1, 1, 4, 4]);
        let y = x.max_pool2d_with(2, PoolOptions::new().stride(1).dilation(2));
        let xs = x.value().to_vec();
        let want: Vec<f64> = (0..2)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| {
                [0, 2, 8, 10]
                    .iter()
                    .map(|&o| xs[i * 4 + j + o])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        assert_eq!(y.value().to_vec(), want);
    }

    #[test]
    #[should_panic(expected = "avg_pool2d: average pooling has no dilation, got Size2(2, 2)")]
    fn avg_pool2d_panics_on_dilation() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 4, 4]))
            .avg_pool2d_with(2, PoolOptions::new().dilation(2));
    }

    #[test]
    fn max_pool2d_overlapping_windows_with_padding() {
        // kernel 3, stride 2, padding 1 over a 1x1x4x4 ramp: padding never wins.
        let g = Graph::<f64>::new();
        let x = g
            .var(Tensor::arange(0.0, 16.0, 1.0).map(|v| -v))
            .reshape(&[1, 1, 4, 4]);
        let y = x.max_pool2d(3, 2, 1);
        assert_eq!(y.shape(), vec![1, 1, 2, 2]);
        assert_eq!(y.value().to_vec(), vec![0.0, -1.0, -4.0, -5.0]);
    }

    #[test]
    fn max_pool2d_propagates_nan() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            vec![1.0, f64::NAN, 3.0, 2.0],
            &[1, 1, 2, 2],
        ));
        assert!(x.max_pool2d(2, 2, 0).item().is_nan());
    }

    #[test]
    fn avg_pool2d_counts_padding_as_zeros() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::ones(&[1, 1, 2, 2]));
        // 2x2 windows at stride 2 over the 4x4 padded input each hold one real pixel.
        assert_eq!(x.avg_pool2d(2, 2, 1).value().to_vec(), vec![0.25; 4]);
    }

    #[test]
    #[should_panic(
        expected = "max_pool2d: padding Size2(2, 2) must be at most half the kernel Size2(3, 3)"
    )]
    fn max_pool2d_panics_on_large_padding() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[1, 1, 4, 4]))
            .max_pool2d(3, 1, 2);
    }

    #[test]
    #[should_panic(expected = "max_pool2d: the input must be [N, C, H, W], got shape [4, 4]")]
    fn max_pool2d_panics_on_2d_input() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[4, 4]))
            .max_pool2d(2, 2, 0);
    }

    #[test]
    #[should_panic(
        expected = "avg_pool2d: kernel Size2(3, 3) with dilation Size2(1, 1) does not fit the input 2x2 padded by Size2(0, 0)"
    )]
    fn avg_pool2d_panics_when_the_kernel_does_not_fit() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[1, 1, 2, 2]))
            .avg_pool2d(3, 1, 0);
    }

    #[test]
    #[should_panic(
        expected = "max_pool2d: the input [N, C, H, W] may only have an empty batch, got shape [1, 1, 0, 4]"
    )]
    fn max_pool2d_panics_on_an_empty_plane() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 0, 4]))
            .max_pool2d(2, 2, 1);
    }

    #[test]
    fn pooling_an_empty_batch_gives_an_empty_batch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[0, 2, 4, 4]));
        assert_eq!(x.max_pool2d(2, 2, 0).shape(), vec![0, 2, 2, 2]);
        assert_eq!(x.avg_pool2d(2, 2, 0).shape(), vec![0, 2, 2, 2]);
        assert_eq!(x.global_max_pool2d().shape(), vec![0, 2]);
    }
}
