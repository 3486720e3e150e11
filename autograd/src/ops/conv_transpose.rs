//! Transposed convolutions: conv_transpose2d and conv_transpose1d (a conv_transpose2d of
//! height 1), composed from a matrix product and `col2im`, so they need no backward code of
//! their own and are differentiable to any order.

use crate::alloc::{OpScope, checked_numel};
use crate::float::Float;
use crate::graph::Var;
use crate::ops::conv::{
    ConvOptions, check_1d, check_bias, check_graphs, checked_groups, matrix_shape, shape4,
};
use crate::ops::im2col::{Geometry, Size2};
use crate::ops::reduce::as_isize;

impl<'g, T: Float> Var<'g, T> {
    /// 2-D transposed convolution (the gradient of conv2d with respect to its input, also
    /// called a fractionally strided convolution) of an input `[N, C_in, H, W]` with a weight
    /// `[C_in, C_out / groups, kH, kW]` and an optional bias `[C_out]`, as
    /// `torch.nn.functional.conv_transpose2d`. The output size is
    /// `(H − 1)·s − 2p + d·(kH − 1) + output_padding + 1`.
    ///
    /// Runs as one matrix product per group and `col2im`; differentiable to any order.
    ///
    /// # Panics
    /// As [`Var::conv2d`]; also if `output_padding` is not smaller than the stride or the
    /// dilation, or the output would be empty.
    ///
    /// ```
    /// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[1, 1, 1, 2]));
    /// let w = g.var(Tensor::ones(&[1, 1, 2, 2]));
    /// // Each input pixel paints a 2x2 block; stride 2 places the blocks side by side.
    /// let y = x.conv_transpose2d(w, None, ConvOptions::new().stride(2));
    /// assert_eq!(y.shape(), vec![1, 1, 2, 4]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn conv_transpose2d(
        self,
        weight: Var<'g, T>,
        bias: Option<Var<'g, T>>,
        options: ConvOptions,
    ) -> Var<'g, T> {
        self.conv_transpose_named("conv_transpose2d", weight, bias, options)
    }

    /// 1-D transposed convolution of an input `[N, C_in, L]` with a weight
    /// `[C_in, C_out / groups, k]` (PyTorch's layout) and an optional bias `[C_out]`, as
    /// `torch.nn.functional.conv_transpose1d`; `options` are read from their width
    /// components. The output length is `(L − 1)·s − 2p + d·(k − 1) + output_padding + 1`.
    /// Runs as a conv_transpose2d of height 1; differentiable to any order.
    ///
    /// # Panics
    /// As [`Var::conv_transpose2d`], for 3-D input and weight.
    ///
    /// ```
    /// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[1, 1, 2]));
    /// let w = g.var(Tensor::from_vec(vec![1.0, 10.0, 100.0], &[1, 1, 3]));
    /// // Each input element paints the kernel, scaled, at its position times the stride.
    /// let y = x.conv_transpose1d(w, None, ConvOptions::new().stride(2));
    /// assert_eq!(y.value().to_vec(), vec![1.0, 10.0, 102.0, 20.0, 200.0]);
    /// y.sum().backward();
    /// assert_eq!(w.grad().unwrap().to_vec(), vec![3.0, 3.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn conv_transpose1d(
        self,
        weight: Var<'g, T>,
        bias: Option<Var<'g, T>>,
        options: ConvOptions,
    ) -> Var<'g, T> {
        let op = "conv_transpose1d";
        check_1d(op, self, weight, bias, "[C_in, C_out / groups, k]");
        self.unsqueeze(2)
            .conv_transpose_named(op, weight.unsqueeze(2), bias, options.as_1d())
            .squeeze(2)
    }

    #[track_caller]
    fn conv_transpose_named(
        self,
        op: &'static str,
        weight: Var<'g, T>,
        bias: Option<Var<'g, T>>,
        options: ConvOptions,
    ) -> Var<'g, T> {
        check_graphs(op, self, weight, bias);
        let [n, c, h, w] = shape4(op, "the input", "[N, C_in, H, W]", self);
        let [wc, og, kh, kw] = shape4(op, "the weight", "[C_in, C_out / groups, kH, kW]", weight);
        assert!(
            wc == c,
            "{op}: weight of shape {:?} expects {wc} input channels, but the input of shape {:?} has {c}",
            [wc, og, kh, kw],
            [n, c, h, w]
        );
        let groups = checked_groups(op, options.groups, c, og * options.groups);
        let o = og * groups;
        check_bias(op, bias, o);
        let window = options.window(Size2(kh, kw));
        window.check_positive(op);
        let size = |axis: usize, input: usize| {
            let (s, p, d, k, extra) = (
                options.stride.get(axis),
                options.padding.get(axis),
                options.dilation.get(axis),
                window.kernel.get(axis),
                options.output_padding.get(axis),
            );
            assert!(
                extra < s.max(d),
                "{op}: output_padding {:?} must be smaller than the stride {:?} or the dilation {:?}",
                options.output_padding,
                options.stride,
                options.dilation
            );
            // (input − 1)·s + d·(k − 1) + extra + 1 − 2p, checked: a release build wrapped.
            let full = input
                .checked_sub(1)
                .and_then(|i| i.checked_mul(s))
                .and_then(|n| n.checked_add(d.checked_mul(k - 1)?))
                .and_then(|n| n.checked_add(extra + 1));
            let Some(full) = full else {
                panic!(
                    "{op}: stride {:?} and dilation {:?} make the output of the input {h}x{w} overflow",
                    options.stride, options.dilation
                )
            };
            p.checked_mul(2)
                .and_then(|p2| full.checked_sub(p2))
                .filter(|&n| n > 0)
                .unwrap_or_else(|| {
                    panic!(
                        "{op}: padding {:?} leaves no output for the input {h}x{w}",
                        options.padding
                    )
                })
        };
        let (oh, ow) = (size(0, h), size(1, w));
        checked_numel::<T>(op, &[n, o, oh, ow]);
        checked_numel::<T>(op, &matrix_shape(&[o, kh, kw], &[n, h, w]));
        let _scope = OpScope::enter(op);
        let geo = Geometry {
            window,
            image: [n, o, oh, ow],
            out: Size2(h, w),
        };
        let (k, hw) = (og * kh * kw, n * h * w);
        let x = self.swap_leading_axes();
        let columns = if groups == 1 {
            let wt = weight.reshape(&as_isize(&[c, k])).transpose(0, 1);
            wt.matmul(x.reshape(&as_isize(&[c, hw])))
        } else {
            let cg = c / groups;
            let wt = weight
                .reshape(&as_isize(&[groups, cg, k]))
                .transpose(-1, -2);
            wt.matmul(x.reshape(&as_isize(&[groups, cg, hw])))
                .reshape(&as_isize(&[o * kh * kw, hw]))
        };
        let y = columns.col2im(geo);
        match bias {
            Some(b) => y + b.reshape(&as_isize(&[1, o, 1, 1])),
            None => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{ConvOptions, Graph, Tensor};
    use proptest::prelude::*;

    #[test]
    fn conv_transpose1d_matches_conv_transpose2d_of_height_one() {
        let g = Graph::<f64>::new();
        let x = g
            .var(Tensor::arange(0.0f64, 10.0, 1.0).map(f64::sin))
            .reshape(&[1, 2, 5]);
        let w = g
            .var(Tensor::arange(0.0f64, 12.0, 1.0).map(f64::cos))
            .reshape(&[2, 2, 3]);
        let opts = ConvOptions::new()
            .stride(2)
            .padding(1)
            .output_padding(1)
            .groups(2);
        let y = x.conv_transpose1d(w, None, opts);
        let y2 = x.unsqueeze(2).conv_transpose2d(
            w.unsqueeze(2),
            None,
            ConvOptions::new()
                .stride((1, 2))
                .padding((0, 1))
                .output_padding((0, 1))
                .groups(2),
        );
        // (5 − 1)·2 − 2 + 2 + 1 + 1 = 10
        assert_eq!(y.shape(), vec![1, 4, 10]);
        assert_eq!(y.value().to_vec(), y2.value().to_vec());
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn conv_transpose1d_grad_and_gradgrad_match_finite_diff(
            (x, w, b, s, p, d) in (1usize..=2, 1usize..=3, 1usize..=2, 1usize..=3, 1usize..=5, 1usize..=2, 0usize..=1, 1usize..=2)
                .prop_filter("output", |&(_, _, _, k, l, s, p, d)| (l - 1) * s + d * (k - 1) + 1 > 2 * p)
                .prop_flat_map(|(n, c, o, k, l, s, p, d)| (
                    tensor_of(vec![n, c, l], -1.0..1.0),
                    tensor_of(vec![c, o, k], -1.0..1.0),
                    tensor_of(vec![o], -1.0..1.0),
                    Just(s), Just(p), Just(d),
                ))
        ) {
            let opts = ConvOptions::new().stride(s).padding(p).dilation(d);
            check_grads(|v| v[0].conv_transpose1d(v[1], Some(v[2]), opts), &[x.clone(), w.clone(), b])?;
            check_gradgrads(|v| v[0].conv_transpose1d(v[1], None, opts), &[x, w])?;
        }
    }

    #[test]
    #[should_panic(
        expected = "conv_transpose1d: the weight must be [C_in, C_out / groups, k], got shape [1, 1, 2, 2]"
    )]
    fn conv_transpose1d_panics_on_a_4d_weight() {
        let g = Graph::<f64>::new();
        let w = g.var(Tensor::zeros(&[1, 1, 2, 2]));
        g.var(Tensor::zeros(&[1, 1, 4]))
            .conv_transpose1d(w, None, ConvOptions::new());
    }

    #[test]
    #[should_panic(
        expected = "conv_transpose1d: groups 2 must divide the input channels 3 and the output channels 2"
    )]
    fn conv_transpose1d_panics_when_groups_do_not_divide_the_channels() {
        let g = Graph::<f64>::new();
        let w = g.var(Tensor::zeros(&[3, 1, 2]));
        g.var(Tensor::zeros(&[1, 3, 4]))
            .conv_transpose1d(w, None, ConvOptions::new().groups(2));
    }
}
