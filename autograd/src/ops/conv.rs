//! Convolutions over NCHW / NCL: conv2d and conv1d, and [`ConvOptions`], which the
//! transposed convolutions of [`conv_transpose`](super::conv_transpose) share.
//!
//! conv2d (and conv1d, a conv2d of height 1) is one op over the kernels of
//! [`conv_gemm`](super::conv_gemm): im2col and one GEMM per group, image by image (parts of
//! the batch in parallel), with a fused first-order backward. Under `create_graph` its
//! backward is recorded from [`im2col`](super::im2col) / `col2im` and matrix products (the
//! input gradient a transposed convolution, the weight gradient a product with the input's
//! columns, as PyTorch computes them), so it is differentiable to any order.

use crate::alloc::{OpScope, checked_numel};
use crate::float::Float;
use crate::graph::{BackwardCtx, Grads, Var};
use crate::ops::conv_gemm::{ConvPlan, MIN_COLS, conv2d_backward, conv2d_forward};
use crate::ops::im2col::{Geometry, Size2, Window};
use crate::ops::reduce::as_isize;
use crate::tensor::Tensor;

/// Stride, padding, dilation, groups and (for transposed convolutions) output padding, as
/// in `torch.nn.functional.conv2d`. The defaults are 1, 0, 1, 1 and 0.
///
/// Each size setter takes one number for both spatial axes or an `(h, w)` pair; conv1d
/// uses the width component.
///
/// ```
/// use ferrograd::autograd::ConvOptions;
/// let opts = ConvOptions::new().stride(2).padding((1, 0)).groups(2);
/// assert_eq!(opts, ConvOptions::new().stride((2, 2)).padding((1, 0)).groups(2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    pub(super) stride: Size2,
    pub(super) padding: Size2,
    pub(super) dilation: Size2,
    pub(super) groups: usize,
    pub(super) output_padding: Size2,
}

impl Default for ConvOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ConvOptions {
    /// Stride 1, no padding, no dilation, one group.
    pub fn new() -> Self {
        ConvOptions {
            stride: Size2(1, 1),
            padding: Size2(0, 0),
            dilation: Size2(1, 1),
            groups: 1,
            output_padding: Size2(0, 0),
        }
    }

    /// The step between window positions.
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = stride.into();
        self
    }

    /// Zeros added on both sides of each spatial axis.
    pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
        self.padding = padding.into();
        self
    }

    /// The spacing between kernel taps (1: adjacent).
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// Channels split into `groups` independent convolutions (`groups == channels` is a
    /// depthwise convolution).
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The number of groups set (1 unless [`ConvOptions::groups`] changed it).
    pub fn group_count(&self) -> usize {
        self.groups
    }

    /// Extra rows and columns added to one side of a transposed convolution's output, to
    /// pick among the sizes that a strided convolution maps to the same size.
    pub fn output_padding(mut self, output_padding: impl Into<Size2>) -> Self {
        self.output_padding = output_padding.into();
        self
    }

    pub(super) fn window(&self, kernel: Size2) -> Window {
        Window {
            kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }

    /// These options with the height components of a 1-D convolution.
    pub(super) fn as_1d(self) -> Self {
        ConvOptions {
            stride: Size2(1, self.stride.1),
            padding: Size2(0, self.padding.1),
            dilation: Size2(1, self.dilation.1),
            groups: self.groups,
            output_padding: Size2(0, self.output_padding.1),
        }
    }
}

/// Checks that `groups` divides both channel counts and returns it.
#[track_caller]
pub(super) fn checked_groups(op: &str, groups: usize, c_in: usize, c_out: usize) -> usize {
    assert!(
        groups > 0 && c_in.is_multiple_of(groups) && c_out.is_multiple_of(groups),
        "{op}: groups {groups} must divide the input channels {c_in} and the output channels {c_out}"
    );
    groups
}

#[track_caller]
pub(super) fn check_bias<T: Float>(op: &str, bias: Option<Var<'_, T>>, channels: usize) {
    if let Some(b) = bias {
        let s = b.shape_for(op);
        assert!(
            s.as_slice() == [channels],
            "{op}: bias of shape {:?} must have shape [{channels}]",
            s.as_slice()
        );
    }
}

/// Panics, naming `op`, unless the weight and bias belong to the input's graph.
#[track_caller]
pub(super) fn check_graphs<T: Float>(
    op: &str,
    x: Var<'_, T>,
    weight: Var<'_, T>,
    bias: Option<Var<'_, T>>,
) {
    let g = x.graph();
    g.check_owns(op, format_args!("the weight"), weight);
    if let Some(b) = bias {
        g.check_owns(op, format_args!("the bias"), b);
    }
}

/// Panics, naming `op`, unless the input is `[N, C_in, L]`, the weight 3-D (`layout`) and
/// both, and the bias, belong to the input's graph: the checks of a 1-D convolution.
#[track_caller]
pub(super) fn check_1d<T: Float>(
    op: &str,
    x: Var<'_, T>,
    weight: Var<'_, T>,
    bias: Option<Var<'_, T>>,
    layout: &str,
) {
    check_graphs(op, x, weight, bias);
    let (xs, ws) = (x.shape_for(op), weight.shape_for(op));
    assert!(
        xs.len() == 3,
        "{op}: the input must be [N, C_in, L], got shape {:?}",
        xs.as_slice()
    );
    assert!(
        ws.len() == 3,
        "{op}: the weight must be {layout}, got shape {:?}",
        ws.as_slice()
    );
}

#[track_caller]
pub(super) fn shape4<T: Float>(op: &str, what: &str, layout: &str, v: Var<'_, T>) -> [usize; 4] {
    let s = v.shape_for(op);
    match s.as_slice() {
        &[a, b, c, d] => [a, b, c, d],
        other => panic!("{op}: {what} must be {layout}, got shape {other:?}"),
    }
}

/// The shape `[Π rows, Π cols]` of a matrix (im2col's columns), or the factors side by side
/// if a product overflows, for the size check to report.
pub(super) fn matrix_shape(rows: &[usize], cols: &[usize]) -> Vec<usize> {
    let product = |d: &[usize]| d.iter().try_fold(1usize, |n, &x| n.checked_mul(x));
    match (product(rows), product(cols)) {
        (Some(r), Some(c)) => vec![r, c],
        _ => [rows, cols].concat(),
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// 2-D convolution (cross-correlation, as in every deep-learning library) of an input
    /// `[N, C_in, H, W]` with a weight `[C_out, C_in / groups, kH, kW]` and an optional bias
    /// `[C_out]`, as `torch.nn.functional.conv2d`.
    ///
    /// `out[n, o, y, x] = bias[o] + Σ_{c, i, j} w[o, c, i, j] · in[n, g·C_in/G + c,
    /// y·s + i·d − p, x·s + j·d − p]` (zero outside the input), with output size
    /// `⌊(H + 2p − d·(kH − 1) − 1) / s⌋ + 1`.
    ///
    /// Runs image by image (a few small images at a time) as `im2col` into a reused buffer
    /// and one matrix product per group, written straight into the output with the bias.
    /// Backward: the input gradient is a transposed convolution of the output gradient,
    /// the weight gradient its product with the input's columns (recomputed, not kept),
    /// the bias gradient its sum. At first order they run as fused kernels over the same
    /// image loop; under `create_graph` they are recorded ops, so grad-of-grad works.
    /// The forward pass and the fused backward of a large layer run parts of the batch on
    /// [`num_threads`](crate::num_threads) threads, with results identical for any thread
    /// count (the weight and bias gradients are summed per part of a partition fixed by
    /// the shapes, then over the parts in order).
    ///
    /// # Panics
    /// If the input or weight is not 4-D, the channels do not match (`C_in` must equal the
    /// weight's second dimension times `groups`), `groups` does not divide both channel
    /// counts, the bias is not `[C_out]`, a stride, dilation or kernel size is 0, the
    /// kernel does not fit the padded input, or the output (or the im2col buffer) is too
    /// large to allocate. All size arithmetic is checked, so absurd paddings or dilations
    /// panic naming the op instead of wrapping.
    ///
    /// ```
    /// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::arange(0.0, 16.0, 1.0)).reshape(&[1, 1, 4, 4]);
    /// let w = g.var(Tensor::ones(&[1, 1, 2, 2]));
    /// let y = x.conv2d(w, None, ConvOptions::new().stride(2));
    /// // Each output is the sum of one 2x2 block.
    /// assert_eq!(y.value().to_vec(), vec![10.0, 18.0, 42.0, 50.0]);
    /// y.sum().backward();
    /// // Each weight tap sees one pixel of every block.
    /// assert_eq!(w.grad().unwrap().to_vec(), vec![20.0, 24.0, 36.0, 40.0]);
    /// ```
    #[track_caller]
    pub fn conv2d(
        self,
        weight: Var<'g, T>,
        bias: Option<Var<'g, T>>,
        options: ConvOptions,
    ) -> Var<'g, T> {
        self.conv2d_named("conv2d", weight, bias, options)
    }

    #[track_caller]
    fn conv2d_named(
        self,
        op: &'static str,
        weight: Var<'g, T>,
        bias: Option<Var<'g, T>>,
        options: ConvOptions,
    ) -> Var<'g, T> {
        check_graphs(op, self, weight, bias);
        let [n, c, h, w] = shape4(op, "the input", "[N, C_in, H, W]", self);
        let [o, cg, kh, kw] = shape4(op, "the weight", "[C_out, C_in / groups, kH, kW]", weight);
        let groups = checked_groups(op, options.groups, c, o);
        assert!(
            cg * groups == c,
            "{op}: weight of shape {:?} expects {} input channels with groups {groups}, but the input of shape {:?} has {c}",
            [o, cg, kh, kw],
            cg * groups,
            [n, c, h, w]
        );
        check_bias(op, bias, o);
        let window = options.window(Size2(kh, kw));
        let out = window.checked_out(op, h, w);
        checked_numel::<T>(op, &[n, o, out.0, out.1]);
        checked_numel::<T>(op, &matrix_shape(&[c, kh, kw], &[n, out.0, out.1]));
        let _scope = OpScope::enter(op);
        let plan = ConvPlan {
            geo: Geometry {
                window,
                image: [n, c, h, w],
                out,
            },
            groups,
            out_channels: o,
            min_cols: MIN_COLS,
        };
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let has_bias = bias.is_some();
        self.graph().custom_op(
            op,
            &inputs,
            move |v| {
                let (x, w) = (
                    v[0].array().as_standard_layout(),
                    v[1].array().as_standard_layout(),
                );
                let b = v.get(2).map(|b| b.array().as_standard_layout());
                let data = conv2d_forward(
                    x.as_slice().expect("standard layout"),
                    w.as_slice().expect("standard layout"),
                    b.as_ref().map(|b| b.as_slice().expect("standard layout")),
                    &plan,
                );
                Tensor::from_vec(data, &plan.output_shape())
            },
            move |ctx, g| {
                if ctx.is_recording() {
                    recorded_conv2d_backward(ctx, g, &plan, has_bias)
                } else {
                    fused_conv2d_backward(ctx, g, &plan, has_bias)
                }
            },
        )
    }
    /// 1-D convolution of an input `[N, C_in, L]` with a weight `[C_out, C_in / groups, k]`
    /// and an optional bias `[C_out]`, as `torch.nn.functional.conv1d`; `options` are read
    /// from their width components. Runs as a conv2d of height 1.
    ///
    /// # Panics
    /// As [`Var::conv2d`], for 3-D input and weight.
    ///
    /// ```
    /// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 4]));
    /// let w = g.var(Tensor::from_vec(vec![1.0, -1.0], &[1, 1, 2]));
    /// let y = x.conv1d(w, None, ConvOptions::new().padding(1));
    /// assert_eq!(y.value().to_vec(), vec![-1.0, -1.0, -1.0, -1.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn conv1d(
        self,
        weight: Var<'g, T>,
        bias: Option<Var<'g, T>>,
        options: ConvOptions,
    ) -> Var<'g, T> {
        check_1d("conv1d", self, weight, bias, "[C_out, C_in / groups, k]");
        self.unsqueeze(2)
            .conv2d_named("conv1d", weight.unsqueeze(2), bias, options.as_1d())
            .squeeze(2)
    }
}

/// conv2d's first-order gradients from the fused kernels of
/// [`conv_gemm`](super::conv_gemm), returned as constants.
fn fused_conv2d_backward<'h, T: Float>(
    ctx: &BackwardCtx<'_, 'h, T>,
    g: Var<'h, T>,
    plan: &ConvPlan,
    has_bias: bool,
) -> Grads<'h, T> {
    let graph = ctx.graph();
    let (x, w, gv) = (ctx.input(0).value(), ctx.input(1).value(), g.value());
    let (xa, wa, ga) = (
        x.array().as_standard_layout(),
        w.array().as_standard_layout(),
        gv.array().as_standard_layout(),
    );
    let grads = conv2d_backward(
        xa.as_slice().expect("standard layout"),
        wa.as_slice().expect("standard layout"),
        ga.as_slice().expect("standard layout"),
        plan,
        [
            ctx.needs_grad(0),
            ctx.needs_grad(1),
            has_bias && ctx.needs_grad(2),
        ],
    );
    let constant = |data: Vec<T>, shape: &[usize]| {
        graph.constant_named("conv2d_backward", Tensor::from_vec(data, shape))
    };
    let mut out: Grads<'h, T> = smallvec::smallvec![
        grads.input.map(|d| constant(d, x.shape())),
        grads.weight.map(|d| constant(d, w.shape())),
    ];
    if has_bias {
        out.push(grads.bias.map(|d| constant(d, &[plan.out_channels])));
    }
    out
}

/// conv2d's gradients in recorded `Var` ops (differentiable again): the input gradient a
/// product with the weight and `col2im` (a transposed convolution), the weight gradient a
/// product with the input's columns, the bias gradient a sum.
fn recorded_conv2d_backward<'h, T: Float>(
    ctx: &BackwardCtx<'_, 'h, T>,
    g: Var<'h, T>,
    plan: &ConvPlan,
    has_bias: bool,
) -> Grads<'h, T> {
    let (x, weight) = (ctx.input(0), ctx.input(1));
    let [n, c, ..] = plan.geo.image;
    let (o, groups) = (plan.out_channels, plan.groups);
    let positions = plan.geo.out.0 * plan.geo.out.1;
    let kernel = plan.geo.window.kernel;
    let k = c / groups * kernel.0 * kernel.1;
    let cols = n * positions;
    // The output gradient as [G, O/G, N·oH·oW].
    let gm = g
        .reshape(&as_isize(&[n, o, positions]))
        .swap_leading_axes()
        .reshape(&as_isize(&[groups, o / groups, cols]));
    let w3 = weight.reshape(&as_isize(&[groups, o / groups, k]));
    let mut grads: Grads<'h, T> = smallvec::smallvec![
        ctx.needs_grad(0).then(|| {
            w3.transpose(-1, -2)
                .matmul(gm)
                .reshape(&as_isize(&[groups * k, cols]))
                .col2im(plan.geo)
        }),
        ctx.needs_grad(1).then(|| {
            let columns = x.im2col(plan.geo).reshape(&as_isize(&[groups, k, cols]));
            gm.matmul(columns.transpose(-1, -2))
                .reshape(&as_isize(&weight.shape()))
        }),
    ];
    if has_bias {
        grads.push(ctx.needs_grad(2).then(|| g.sum_axes(&[0, 2, 3], false)));
    }
    grads
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    /// A direct (loop) convolution to test against.
    fn reference_conv2d(x: &Tensor<f64>, w: &Tensor<f64>, opts: ConvOptions) -> Tensor<f64> {
        let ([n, _, h, wd], [o, cg, kh, kw]) = (
            <[usize; 4]>::try_from(x.shape()).unwrap(),
            <[usize; 4]>::try_from(w.shape()).unwrap(),
        );
        let (s, p, d, g) = (opts.stride, opts.padding, opts.dilation, opts.groups);
        let oh = (h + 2 * p.0 - d.0 * (kh - 1) - 1) / s.0 + 1;
        let ow = (wd + 2 * p.1 - d.1 * (kw - 1) - 1) / s.1 + 1;
        let mut out = vec![0.0; n * o * oh * ow];
        for b in 0..n {
            for oc in 0..o {
                let group = oc / (o / g);
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut acc = 0.0;
                        for ci in 0..cg {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = (y * s.0 + i * d.0) as isize - p.0 as isize;
                                    let ix = (xx * s.1 + j * d.1) as isize - p.1 as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd
                                    {
                                        acc += w.get(&[oc, ci, i, j])
                                            * x.get(&[
                                                b,
                                                group * cg + ci,
                                                iy as usize,
                                                ix as usize,
                                            ]);
                                    }
                                }
                            }
                        }
                        out[((b * o + oc) * oh + y) * ow + xx] = acc;
                    }
                }
            }
        }
        Tensor::from_vec(out, &[n, o, oh, ow])
    }

    /// Input, weight and options of a valid grouped, strided, padded, dilated conv2d.
    fn conv_case() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, ConvOptions)> {
        (
            1usize..=2,
            1usize..=2,
            1usize..=2,
            1usize..=2,
            1usize..=3,
            1usize..=2,
            0usize..=1,
            1usize..=2,
            3usize..=6,
            3usize..=6,
        )
            .prop_filter("kernel fits", |&(.., k, _, p, d, h, w)| {
                d * (k - 1) < h + 2 * p && d * (k - 1) < w + 2 * p
            })
            .prop_flat_map(|(n, groups, cg, og, k, s, p, d, h, w)| {
                let opts = ConvOptions::new()
                    .stride(s)
                    .padding(p)
                    .dilation(d)
                    .groups(groups);
                (
                    tensor_of(vec![n, cg * groups, h, w], -1.0..1.0),
                    tensor_of(vec![og * groups, cg, k, k], -1.0..1.0),
                    Just(opts),
                )
            })
    }

    #[test]
    fn conv2d_matches_a_direct_convolution() {
        let mut rng = rand::rng();
        for opts in [
            ConvOptions::new(),
            ConvOptions::new().stride((2, 1)).padding((1, 2)),
            ConvOptions::new().dilation(2).padding(2).groups(2),
            ConvOptions::new().groups(4),
        ] {
            let x = Tensor::<f64>::rand_normal(&[2, 4, 7, 6], 0.0, 1.0, &mut rng);
            let w = Tensor::<f64>::rand_normal(&[4, 4 / opts.groups, 3, 2], 0.0, 1.0, &mut rng);
            let g = Graph::new();
            let y = g
                .constant(x.clone())
                .conv2d(g.constant(w.clone()), None, opts);
            assert!(
                y.value()
                    .allclose(&reference_conv2d(&x, &w, opts), 1e-12, 1e-12),
                "{opts:?}"
            );
        }
    }

    #[test]
    fn conv2d_fused_backward_matches_the_recorded_one() {
        // Padded 18x17 images have 306 positions: the kernels run two chunks of two images
        // (one GEMM over both; the reused column buffer must keep its padding zeros); the
        // second options give 144 positions, one chunk of four. The third layer (4.1M
        // multiply-adds) is cut into parts of the batch, whose weight and bias gradients
        // are summed per part: 11 images of 324 positions in chunks of two and a last one.
        let mut rng = rand::rng();
        let small = [4, 4, 18, 17];
        for (image, o, opts) in [
            (small, 6, ConvOptions::new().padding(1)),
            (
                small,
                6,
                ConvOptions::new()
                    .stride((1, 2))
                    .padding((2, 0))
                    .dilation((2, 1))
                    .groups(2),
            ),
            ([11, 8, 20, 20], 16, ConvOptions::new()),
        ] {
            let x = Tensor::<f64>::rand_normal(&image, 0.0, 1.0, &mut rng);
            let cg = image[1] / opts.groups;
            let w = Tensor::<f64>::rand_normal(&[o, cg, 3, 3], 0.0, 1.0, &mut rng);
            let b = Tensor::<f64>::rand_normal(&[o], 0.0, 1.0, &mut rng);
            let mut want = reference_conv2d(&x, &w, opts);
            let plane = want.shape()[2] * want.shape()[3];
            for (i, v) in want.view_mut().iter_mut().enumerate() {
                *v += b.get(&[(i / plane) % o]);
            }
            let seed = Tensor::<f64>::rand_normal(want.shape(), 0.0, 1.0, &mut rng);
            let grads = [false, true].map(|create_graph| {
                let g = Graph::new();
                let vars = [x.clone(), w.clone(), b.clone()].map(|t| g.var(t));
                let y = vars[0].conv2d(vars[1], Some(vars[2]), opts);
                assert!(y.value().allclose(&want, 1e-12, 1e-12), "{opts:?}");
                g.grad_with(&[y], std::slice::from_ref(&seed), &vars, create_graph)
                    .into_iter()
                    .map(|d| d.unwrap().value())
                    .collect::<Vec<_>>()
            });
            for (fused, recorded) in grads[0].iter().zip(&grads[1]) {
                assert_eq!(fused.shape(), recorded.shape());
                assert!(fused.allclose(recorded, 1e-12, 1e-12), "{opts:?}");
            }
        }
    }

    #[test]
    fn conv_transpose2d_is_the_input_gradient_of_conv2d() {
        // <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same options.
        let mut rng = rand::rng();
        let opts = ConvOptions::new()
            .stride(2)
            .padding(1)
            .dilation((1, 2))
            .groups(2);
        let x = Tensor::<f64>::rand_normal(&[2, 4, 7, 8], 0.0, 1.0, &mut rng);
        let w = Tensor::<f64>::rand_normal(&[6, 2, 3, 3], 0.0, 1.0, &mut rng);
        let g = Graph::new();
        let conv = g
            .constant(x.clone())
            .conv2d(g.constant(w.clone()), None, opts);
        let y = Tensor::<f64>::rand_normal(&conv.shape(), 0.0, 1.0, &mut rng);
        let t = g.constant(y.clone()).conv_transpose2d(
            g.constant(w),
            None,
            opts.output_padding((0, 1)),
        );
        assert_eq!(t.shape(), x.shape());
        let lhs = (conv * g.constant(y)).sum().item();
        let rhs = (t * g.constant(x)).sum().item();
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
    }

    #[test]
    fn conv1d_matches_conv2d_of_height_one() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0f64, 12.0, 1.0).map(f64::sin));
        let x = x.reshape(&[1, 2, 6]);
        let w = g.var(Tensor::from_vec(
            vec![1.0, 0.5, -1.0, 2.0, 0.0, 1.0],
            &[1, 2, 3],
        ));
        let opts = ConvOptions::new().stride(2).padding(1);
        let y = x.conv1d(w, None, opts);
        let y2 = x.unsqueeze(2).conv2d(
            w.unsqueeze(2),
            None,
            ConvOptions::new().stride((1, 2)).padding((0, 1)),
        );
        assert_eq!(y.shape(), vec![1, 1, 3]);
        assert_eq!(y.value().to_vec(), y2.value().to_vec());
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn conv2d_grad_and_gradgrad_match_finite_diff((x, w, opts) in conv_case()) {
            let o = w.shape()[0];
            let b = Tensor::from_vec((0..o).map(|i| i as f64 * 0.1).collect(), &[o]);
            check_grads(|v| v[0].conv2d(v[1], Some(v[2]), opts), &[x.clone(), w.clone(), b])?;
            check_gradgrads(|v| v[0].conv2d(v[1], None, opts), &[x, w])?;
        }

        #[test]
        fn conv_transpose2d_grad_and_gradgrad_match_finite_diff((x, w, opts) in conv_case()) {
            // Reuse a conv2d case: its weight [O, C/G, k, k] is a transposed weight from O channels.
            let g = Graph::<f64>::new();
            let y = g.constant(x).conv2d(g.constant(w.clone()), None, opts).value();
            let b = Tensor::from_vec(vec![0.5; x_channels(&w, opts)], &[x_channels(&w, opts)]);
            check_grads(|v| v[0].conv_transpose2d(v[1], Some(v[2]), opts), &[y.clone(), w.clone(), b])?;
            check_gradgrads(|v| v[0].conv_transpose2d(v[1], None, opts), &[y, w])?;
        }

        #[test]
        fn conv1d_grad_and_gradgrad_match_finite_diff(
            (x, w, s, p) in (1usize..=2, 1usize..=3, 1usize..=2, 1usize..=3, 3usize..=7, 1usize..=2, 0usize..=1)
                .prop_flat_map(|(n, c, o, k, l, s, p)| (tensor_of(vec![n, c, l], -1.0..1.0), tensor_of(vec![o, c, k], -1.0..1.0), Just(s), Just(p)))
        ) {
            let opts = ConvOptions::new().stride(s).padding(p);
            check_grads(|v| v[0].conv1d(v[1], None, opts), &[x.clone(), w.clone()])?;
            check_gradgrads(|v| v[0].conv1d(v[1], None, opts), &[x, w])?;
        }
    }

    /// The output channels of conv_transpose2d with weight `w` used as a transposed weight.
    fn x_channels(w: &Tensor<f64>, opts: ConvOptions) -> usize {
        w.shape()[1] * opts.groups
    }

    #[test]
    #[should_panic(
        expected = "conv2d: weight of shape [4, 3, 3, 3] expects 3 input channels with groups 1, but the input of shape [1, 2, 5, 5] has 2"
    )]
    fn conv2d_panics_on_channel_mismatch() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 2, 5, 5])).conv2d(
            g.var(Tensor::zeros(&[4, 3, 3, 3])),
            None,
            ConvOptions::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "conv2d: kernel Size2(5, 5) with dilation Size2(1, 1) does not fit the input 3x3 padded by Size2(0, 0)"
    )]
    fn conv2d_panics_when_the_kernel_does_not_fit() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 1, 3, 3])).conv2d(
            g.var(Tensor::zeros(&[1, 1, 5, 5])),
            None,
            ConvOptions::new(),
        );
    }

    #[test]
    #[should_panic(expected = "conv2d: the input must be [N, C_in, H, W], got shape [3, 5, 5]")]
    fn conv2d_panics_on_3d_input() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[3, 5, 5])).conv2d(
            g.var(Tensor::zeros(&[1, 3, 3, 3])),
            None,
            ConvOptions::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "conv2d: groups 2 must divide the input channels 3 and the output channels 4"
    )]
    fn conv2d_panics_on_bad_groups() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 3, 5, 5])).conv2d(
            g.var(Tensor::zeros(&[4, 1, 3, 3])),
            None,
            ConvOptions::new().groups(2),
        );
    }

    #[test]
    #[should_panic(expected = "conv2d: bias of shape [3] must have shape [4]")]
    fn conv2d_panics_on_bad_bias() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 3, 5, 5])).conv2d(
            g.var(Tensor::zeros(&[4, 3, 3, 3])),
            Some(g.var(Tensor::zeros(&[3]))),
            ConvOptions::new(),
        );
    }

    #[test]
    #[should_panic(expected = "conv2d: stride must be positive, got Size2(0, 1)")]
    fn conv2d_panics_on_zero_stride() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 3, 5, 5])).conv2d(
            g.var(Tensor::zeros(&[4, 3, 3, 3])),
            None,
            ConvOptions::new().stride((0, 1)),
        );
    }

    #[test]
    #[should_panic(
        expected = "conv_transpose2d: output_padding Size2(2, 2) must be smaller than the stride Size2(2, 2) or the dilation Size2(1, 1)"
    )]
    fn conv_transpose2d_panics_on_large_output_padding() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 1, 3, 3])).conv_transpose2d(
            g.var(Tensor::zeros(&[1, 1, 3, 3])),
            None,
            ConvOptions::new().stride(2).output_padding(2),
        );
    }
}

/// Arguments the ops reject by name: absurd sizes (every size is computed with checked
/// arithmetic, so these panic in any build; a release build used to wrap and compute garbage
/// sizes) and `Var`s from another graph.
#[cfg(test)]
mod argument_tests {
    use super::*;
    use crate::{Graph, Tensor};

    /// `op(x [1, 1, 4, 4], w [1, 1, 3, 3], options)` on a fresh graph.
    fn run(transpose: bool, options: ConvOptions) {
        let g = Graph::<f32>::new();
        let (x, w) = (
            g.var(Tensor::zeros(&[1, 1, 4, 4])),
            g.var(Tensor::zeros(&[1, 1, 3, 3])),
        );
        if transpose {
            x.conv_transpose2d(w, None, options);
        } else {
            x.conv2d(w, None, options);
        }
    }

    #[test]
    #[should_panic(
        expected = "conv2d: padding Size2(9223372036854775808, 9223372036854775808) is too large for the input 4x4 (the padded size overflows)"
    )]
    fn conv2d_panics_naming_the_op_on_padding_of_2_pow_63() {
        run(false, ConvOptions::new().padding(1 << 63));
    }

    #[test]
    #[should_panic(
        expected = "conv2d: kernel Size2(3, 3) with dilation Size2(9223372036854775808, 9223372036854775808) does not fit the input 4x4 padded by Size2(0, 0)"
    )]
    fn conv2d_panics_naming_the_op_on_dilation_of_2_pow_63() {
        run(false, ConvOptions::new().dilation(1 << 63));
    }

    #[test]
    #[should_panic(
        expected = "conv2d: cannot allocate shape [1, 1, 4611686018427387906, 4611686018427387906] (2.13e37 elements, 8.51e37 bytes of f32)"
    )]
    fn conv2d_panics_naming_the_op_when_the_output_cannot_be_allocated() {
        // 4 + 2·2^61 − 3 + 1 = 2^62 + 2 positions per axis.
        run(false, ConvOptions::new().padding(1 << 61));
    }

    #[test]
    #[should_panic(
        expected = "conv2d: cannot allocate shape [9, 17592202821636] (1.58e14 elements, 633 TB of f32)"
    )]
    fn conv2d_panics_naming_the_op_when_the_im2col_buffer_cannot_be_allocated() {
        // The output [1, 1, 2^22 + 2, 2^22 + 2] passes the size check (70 TB); its columns,
        // 9 times larger and the first allocation, exceed any address space.
        run(false, ConvOptions::new().padding(1 << 21));
    }

    #[test]
    #[should_panic(
        expected = "conv_transpose2d: stride Size2(9223372036854775808, 9223372036854775808) and dilation Size2(1, 1) make the output of the input 4x4 overflow"
    )]
    fn conv_transpose2d_panics_naming_the_op_on_stride_of_2_pow_63() {
        run(true, ConvOptions::new().stride(1 << 63));
    }

    #[test]
    #[should_panic(
        expected = "conv_transpose2d: padding Size2(9223372036854775808, 9223372036854775808) leaves no output for the input 4x4"
    )]
    fn conv_transpose2d_panics_naming_the_op_on_padding_of_2_pow_63() {
        run(true, ConvOptions::new().padding(1 << 63));
    }

    #[test]
    #[should_panic(
        expected = "conv_transpose2d: stride Size2(1, 1) and dilation Size2(9223372036854775808, 9223372036854775808) make the output of the input 4x4 overflow"
    )]
    fn conv_transpose2d_panics_naming_the_op_on_dilation_of_2_pow_63() {
        run(true, ConvOptions::new().dilation(1 << 63));
    }

    #[test]
    #[should_panic(expected = "conv2d: the bias belongs to a different graph")]
    fn conv2d_names_a_bias_from_another_graph() {
        let (g, other) = (Graph::<f32>::new(), Graph::<f32>::new());
        g.var(Tensor::zeros(&[1, 1, 4, 4])).conv2d(
            g.var(Tensor::zeros(&[1, 1, 3, 3])),
            Some(other.var(Tensor::zeros(&[1]))),
            ConvOptions::new(),
        );
    }

    #[test]
    #[should_panic(expected = "conv_transpose2d: the weight belongs to a different graph")]
    fn conv_transpose2d_names_a_weight_from_another_graph() {
        let (g, other) = (Graph::<f32>::new(), Graph::<f32>::new());
        g.var(Tensor::zeros(&[1, 1, 4, 4])).conv_transpose2d(
            other.var(Tensor::zeros(&[1, 1, 3, 3])),
            None,
            ConvOptions::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "conv1d: padding Size2(0, 9223372036854775808) is too large for the input 1x4 (the padded size overflows)"
    )]
    fn conv1d_panics_naming_the_op_on_padding_of_2_pow_63() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[1, 1, 4])).conv1d(
            g.var(Tensor::zeros(&[1, 1, 3])),
            None,
            ConvOptions::new().padding(1 << 63),
        );
    }
}
