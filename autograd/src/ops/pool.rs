//! Pooling over NCHW: max_pool2d, avg_pool2d, adaptive_avg_pool2d, and global pooling.
//!
//! None has backward code of its own. max_pool2d finds each window's maximum and then
//! gathers it (so its gradient is a scatter to the winning positions), avg_pool2d is a
//! convolution with a constant kernel, and adaptive average pooling is a product with two
//! constant averaging matrices.

use std::hint::select_unpredictable;
use std::rc::Rc;

use ndarray::{ArrayD, IxDyn};

use crate::alloc::{OpScope, checked_numel, full_array};
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::ops::conv::ConvOptions;
use crate::ops::im2col::{Size2, Window};
use crate::tensor::Tensor;

/// The `[N, C, H, W]` sizes of a pooling input; as PyTorch, only the batch may be empty.
#[track_caller]
fn nchw<T: Float>(op: &str, x: Var<'_, T>) -> [usize; 4] {
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

/// The pooling window, checked as PyTorch checks it: padding at most half the kernel, so
/// every window holds at least one input element.
#[track_caller]
fn pool_window(op: &str, kernel: Size2, stride: Size2, padding: Size2) -> Window {
    let win = Window::pool(kernel, stride, padding);
    win.check_positive(op);
    assert!(
        win.padding.0 <= win.kernel.0 / 2 && win.padding.1 <= win.kernel.1 / 2,
        "{op}: padding {:?} must be at most half the kernel {:?}",
        win.padding,
        win.kernel
    );
    win
}

/// The kernel taps `lo..hi` whose input position `o·s + k − p` lies in `0..n`.
/// The outputs `lo..hi` along an axis of size `n` whose tap `k` lands inside the input
/// (`o·s + k − p` in `0..n`).
fn valid_outputs(k: usize, s: usize, p: usize, n: usize, out: usize) -> (usize, usize) {
    let lo = p.saturating_sub(k).div_ceil(s);
    let hi = if n + p > k {
        ((n + p - k - 1) / s + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// For each window of each plane, the flat in-plane position of its maximum: the first one
/// in row-major order on ties, the first NaN if there is one.
///
/// Runs tap by tap over a whole output row (a long, branch-free inner loop over the output
/// columns) rather than window by window (a loop of kH·kW steps per output).
fn argmax_windows<T: Float>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    win: &Window,
    out: Size2,
) -> Vec<usize> {
    let (k, s, p) = (win.kernel, win.stride, win.padding);
    let rows: Vec<_> = (0..k.0)
        .map(|ki| valid_outputs(ki, s.0, p.0, h, out.0))
        .collect();
    let cols: Vec<_> = (0..k.1)
        .map(|kj| valid_outputs(kj, s.1, p.1, w, out.1))
        .collect();
    // The first tap of each output column that lands inside the input.
    let first_kj: Vec<usize> = (0..out.1)
        .map(|ox| {
            (0..k.1)
                .find(|&kj| (cols[kj].0..cols[kj].1).contains(&ox))
                .expect("padding is at most half the kernel")
        })
        .collect();
    let mut idx = crate::alloc::alloc::<usize>("max_pool2d", &[n, c, out.0, out.1]);
    let (mut best, mut best_at, mut nan) = (
        vec![T::neg_infinity(); out.1],
        vec![0usize; out.1],
        vec![false; out.1],
    );
    for plane in x.chunks_exact(h * w) {
        for oy in 0..out.0 {
            let taps_y = (0..k.0).filter(|&ki| (rows[ki].0..rows[ki].1).contains(&oy));
            let first_ki = taps_y
                .clone()
                .next()
                .expect("padding is at most half the kernel");
            let row_of = |ki: usize| (oy * s.0 + ki - p.0) * w;
            best.fill(T::neg_infinity());
            nan.fill(false);
            for (ox, at) in best_at.iter_mut().enumerate() {
                *at = row_of(first_ki) + ox * s.1 + first_kj[ox] - p.1;
            }
            for ki in taps_y {
                let row = row_of(ki);
                for (kj, &(lo, hi)) in cols.iter().enumerate() {
                    for ox in lo..hi {
                        let at = row + ox * s.1 + kj - p.1;
                        let v = plane[at];
                        // Random data would mispredict a branch half the time.
                        let take = v > best[ox];
                        best_at[ox] = select_unpredictable(take, at, best_at[ox]);
                        best[ox] = best[ox].max(v); // maxss, not a branch
                        nan[ox] |= v.is_nan();
                    }
                }
            }
            let cols = &cols;
            for ox in 0..out.1 {
                if nan[ox] {
                    best_at[ox] = (0..k.0)
                        .filter(|&ki| (rows[ki].0..rows[ki].1).contains(&oy))
                        .flat_map(|ki| {
                            (0..k.1)
                                .filter(move |&kj| (cols[kj].0..cols[kj].1).contains(&ox))
                                .map(move |kj| row_of(ki) + ox * s.1 + kj - p.1)
                        })
                        .find(|&at| plane[at].is_nan())
                        .expect("the window holds a NaN");
                }
            }
            idx.extend_from_slice(&best_at);
        }
    }
    idx
}

/// Each window's maximum and its flat in-plane position (the rules of [`argmax_windows`]).
///
/// Without padding every window lies inside the input, and one search finds both: the
/// first tap starts, a later tap takes over if it is larger, or NaN where the best so far
/// is not (so the first NaN wins).
fn max_windows<T: Float>(
    x: &[T],
    shape @ [n, c, h, w]: [usize; 4],
    win: &Window,
    out: Size2,
) -> (Vec<T>, Vec<usize>) {
    let len = n * c * out.0 * out.1;
    if win.padding != Size2(0, 0) {
        let idx = argmax_windows(x, shape, win, out);
        let values = idx
            .chunks(out.0 * out.1)
            .zip(x.chunks_exact(h * w))
            .flat_map(|(idx, plane)| idx.iter().map(|&i| plane[i]))
            .collect();
        return (values, idx);
    }
    let (k, s) = (win.kernel, win.stride);
    let mut values = crate::alloc::alloc::<T>("max_pool2d", &[len]);
    let mut idx = crate::alloc::alloc::<usize>("max_pool2d", &[len]);
    if len == 0 {
        return (values, idx);
    }
    if k == Size2(2, 2) && s == Size2(2, 2) {
        max_windows_2x2(x, [h, w], out, &mut values, &mut idx);
        return (values, idx);
    }
    // Tap by tap over a whole output row: a loop over the output columns without a
    // data-dependent branch (random data would mispredict half of them). `best` ignores
    // NaN (maxss); `nan` records one, after which the winner stays.
    let mut best = vec![T::zero(); out.1];
    let mut at = vec![0usize; out.1];
    let mut nan = vec![false; out.1];
    for plane in x.chunks_exact(h * w) {
        for oy in 0..out.0 {
            let top = oy * s.0 * w;
            for (ox, ((b, a), n)) in best.iter_mut().zip(&mut at).zip(&mut nan).enumerate() {
                *a = top + ox * s.1;
                *b = plane[*a];
                *n = b.is_nan();
            }
            for ki in 0..k.0 {
                for kj in (0..k.1).skip(usize::from(ki == 0)) {
                    let base = top + ki * w + kj;
                    let row = best.iter_mut().zip(&mut at).zip(&mut nan);
                    for (ox, ((b, a), n)) in row.enumerate() {
                        let i = base + ox * s.1;
                        let v = plane[i];
                        let take = !*n & ((v > *b) | v.is_nan());
                        *a = select_unpredictable(take, i, *a);
                        *b = b.max(v);
                        *n |= v.is_nan();
                    }
                }
            }
            values.extend(at.iter().map(|&i| plane[i]));
            idx.extend_from_slice(&at);
        }
    }
    (values, idx)
}

/// [`max_windows`] for the common 2×2 windows at stride 2: each window is two pairs, and
/// each pick between two candidates selects a position on flags (the later one wins if it
/// is larger, or NaN where the earlier is not) and reloads the value from there: the
/// compiler turns an integer select into a `cmov`, but a float select into a branch,
/// which random data mispredicts half the time.
fn max_windows_2x2<T: Float>(
    x: &[T],
    [h, w]: [usize; 2],
    out: Size2,
    values: &mut Vec<T>,
    idx: &mut Vec<usize>,
) {
    for plane in x.chunks_exact(h * w) {
        // The position, of `i` and `j`, that the search keeps.
        let pick = |i: usize, j: usize| {
            let (a, b) = (plane[i], plane[j]);
            select_unpredictable(!a.is_nan() & ((b > a) | b.is_nan()), j, i)
        };
        for oy in 0..out.0 {
            let top = 2 * oy * w;
            for ox in 0..out.1 {
                let at = top + 2 * ox;
                let i = pick(pick(at, at + 1), pick(at + w, at + w + 1));
                values.push(plane[i]);
                idx.push(i);
            }
        }
    }
}

/// max_pool2d's first-order input gradient: `planes` planes of `plane` zeros, each window's
/// gradient added at its winner (`index`, `positions` per plane).
fn scatter_to_winners<T: Float>(
    g: &[T],
    index: &[usize],
    plane: usize,
    positions: usize,
    planes: usize,
) -> Vec<T> {
    let mut dx = crate::alloc::alloc::<T>("max_pool2d_backward", &[planes, plane]);
    if positions == 0 {
        dx.resize(planes * plane, T::zero());
        return dx;
    }
    // Plane by plane: each is zeroed and scattered into while it is in cache, instead of
    // a memset of the whole gradient followed by a scatter over it.
    for (g, i) in g.chunks_exact(positions).zip(index.chunks_exact(positions)) {
        let start = dx.len();
        dx.resize(start + plane, T::zero());
        let d = &mut dx[start..];
        for (&g, &i) in g.iter().zip(i) {
            d[i] += g;
        }
    }
    dx
}

impl<'g, T: Float> Var<'g, T> {
    /// 2-D max pooling of `[N, C, H, W]` with windows of `kernel`, moved by `stride`, over
    /// the input padded by `padding` (padding never wins), as
    /// `torch.nn.functional.max_pool2d`; the output size is
    /// `⌊(H + 2p − kH) / s⌋ + 1`. `kernel` and `stride` may differ (overlapping windows).
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
        let op = "max_pool2d";
        let _scope = OpScope::enter(op);
        let [n, c, h, w] = nchw(op, self);
        let win = pool_window(op, kernel.into(), stride.into(), padding.into());
        let out = win.checked_out(op, h, w);
        checked_numel::<T>(op, &[n, c, out.0, out.1]);
        let (values, idx) = {
            let x = self.value();
            let x = x.array().as_standard_layout();
            max_windows(x.as_slice().expect("standard"), [n, c, h, w], &win, out)
        };
        let index =
            Rc::new(ArrayD::from_shape_vec(IxDyn(&[n, c, out.0 * out.1]), idx).expect("sizes"));
        let plane = h * w;
        self.graph().custom_op(
            op,
            &[self],
            move |_| Tensor::from_vec(values, &[n, c, out.0, out.1]),
            move |ctx, g| {
                if ctx.is_recording() {
                    // Gather's backward: the gradient scattered into zeros, differentiable.
                    let zeros = ctx
                        .graph()
                        .constant_named("max_pool2d_backward_zeros", Tensor::zeros(&[n, c, plane]));
                    let g = g.reshape(&[n as isize, c as isize, -1]);
                    let dx = zeros.scatter_add_checked(2, index.clone(), g);
                    return grads![Some(
                        dx.reshape(&[n as isize, c as isize, h as isize, w as isize])
                    )];
                }
                // First order: one pass adding each gradient at its window's winner.
                let g = g.value();
                let g = g.array().as_standard_layout();
                let dx = scatter_to_winners(
                    g.as_slice().expect("standard layout"),
                    index.as_slice().expect("standard layout"),
                    plane,
                    out.0 * out.1,
                    n * c,
                );
                let dx = Tensor::from_vec(dx, &[n, c, h, w]);
                grads![Some(ctx.graph().constant_named("max_pool2d_backward", dx))]
            },
        )
    }

    /// 2-D average pooling of `[N, C, H, W]`, as `torch.nn.functional.avg_pool2d` with its
    /// defaults: padding counts as zeros in the average (`count_include_pad`), and the output
    /// size is `⌊(H + 2p − kH) / s⌋ + 1`.
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
        let op = "avg_pool2d";
        let _scope = OpScope::enter(op);
        let [n, c, h, w] = nchw(op, self);
        let win = pool_window(op, kernel.into(), stride.into(), padding.into());
        let out = win.checked_out(op, h, w);
        checked_numel::<T>(op, &[n, c, out.0, out.1]);
        let k = win.kernel;
        let weight = self.graph().constant_named(
            "avg_pool2d_kernel",
            Tensor::full(
                &[1, 1, k.0, k.1],
                T::one() / (T::from_usize(k.0) * T::from_usize(k.1)),
            ),
        );
        let opts = ConvOptions::new().stride(win.stride).padding(win.padding);
        self.reshape(&[(n * c) as isize, 1, h as isize, w as isize])
            .conv2d(weight, None, opts)
            .reshape(&[n as isize, c as isize, out.0 as isize, out.1 as isize])
    }

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
        let Size2(oh, ow) = output.into();
        assert!(
            oh > 0 && ow > 0,
            "{op}: output size must be positive, got {:?}",
            Size2(oh, ow)
        );
        checked_numel::<T>(op, &[n, c, oh, ow]);
        let graph = self.graph();
        let rows = graph.constant_named(op, averaging_matrix(op, oh, h));
        let cols = graph
            .constant_named(op, averaging_matrix(op, ow, w))
            .transpose(0, 1);
        rows.matmul(self).matmul(cols)
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

/// The `[out, input]` matrix whose row `i` averages PyTorch's adaptive bin `i`.
#[track_caller]
fn averaging_matrix<T: Float>(op: &'static str, out: usize, input: usize) -> Tensor<T> {
    let mut m = full_array(op, &[out, input], T::zero());
    let m_flat = m.as_slice_mut().expect("standard layout");
    for i in 0..out {
        let (start, end) = (i * input / out, ((i + 1) * input).div_ceil(out));
        let weight = T::one() / T::from_usize(end - start);
        m_flat[i * input + start..i * input + end].fill(weight);
    }
    Tensor::from_array(m)
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
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
            check_grads(|v| v[0].avg_pool2d(k, s, p).square(), &[x])?;
        }

        #[test]
        fn adaptive_and_global_pool_grads_match_finite_diff(
            x in (1usize..=2, 1usize..=2, 1usize..=7, 1usize..=7).prop_flat_map(|(n, c, h, w)| tensor_of(vec![n, c, h, w], -1.0..1.0)),
            oh in 1usize..=4,
            ow in 1usize..=4,
        ) {
            check_grads(|v| v[0].adaptive_avg_pool2d((oh, ow)).square(), std::slice::from_ref(&x))?;
            check_grads(|v| v[0].global_avg_pool2d().square(), &[x])?;
        }
    }

    #[test]
    fn max_pool2d_unpadded_pass_agrees_with_the_general_one() {
        // Ties, NaNs and -inf in overlapping and tiling windows: the one-pass search without
        // padding picks the same winners as the tap-by-tap search.
        let mut rng = rand::rng();
        let mut x =
            Tensor::<f64>::rand_uniform(&[2, 3, 7, 8], -2.0, 2.0, &mut rng).map(|v| v.round());
        for (i, v) in x.view_mut().iter_mut().enumerate() {
            match i % 23 {
                5 => *v = f64::NAN,
                11 => *v = f64::NEG_INFINITY,
                _ => {}
            }
        }
        let xs = x.to_vec();
        for (k, s) in [
            ((2, 2), (2, 2)),
            ((3, 3), (2, 2)),
            ((2, 2), (1, 1)),
            ((1, 3), (2, 3)),
        ] {
            let win = super::Window::pool(k.into(), s.into(), 0.into());
            let out = win.checked_out("test", 7, 8);
            let (values, idx) = super::max_windows(&xs, [2, 3, 7, 8], &win, out);
            assert_eq!(
                idx,
                super::argmax_windows(&xs, [2, 3, 7, 8], &win, out),
                "{k:?} {s:?}"
            );
            let plane = out.0 * out.1;
            for (j, (&v, &i)) in values.iter().zip(&idx).enumerate() {
                let want = xs[(j / plane) * 56 + i];
                assert!(v == want || (v.is_nan() && want.is_nan()));
            }
        }
    }

    #[test]
    fn max_pool2d_fused_backward_matches_the_recorded_one() {
        let mut rng = rand::rng();
        let x = Tensor::<f64>::rand_normal(&[2, 3, 6, 7], 0.0, 1.0, &mut rng);
        for (k, s, p) in [(2, 2, 0), (3, 2, 1), (3, 1, 0)] {
            let grads = [false, true].map(|create_graph| {
                let g = Graph::new();
                let v = g.var(x.clone());
                let y = v.max_pool2d(k, s, p);
                let seed = Tensor::from_vec(
                    (0..y.value().numel()).map(|i| (i as f64).sin()).collect(),
                    &y.shape(),
                );
                g.grad_with(&[y], &[seed], &[v], create_graph)[0]
                    .unwrap()
                    .value()
            });
            assert_eq!(grads[0].to_vec(), grads[1].to_vec(), "{k} {s} {p}");
        }
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
    fn adaptive_avg_pool2d_matches_pytorch_bins() {
        // torch.nn.functional.adaptive_avg_pool2d(torch.arange(5.).reshape(1, 1, 1, 5), (1, 3))
        // -> [0.5, 2.0, 3.5]: bins {0, 1}, {1, 2, 3}, {3, 4}.
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 5.0, 1.0)).reshape(&[1, 1, 1, 5]);
        let y = x.adaptive_avg_pool2d((1, 3));
        assert_eq!(y.value().to_vec(), vec![0.5, 2.0, 3.5]);
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
