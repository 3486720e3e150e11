//! `Conv1d`, `Conv2d`, `ConvTranspose1d` and `ConvTranspose2d` layers over the autograd
//! convolutions.

use ferrograd_autograd::{ConvOptions, Float, Param, Size2, Var};
use rand::Rng;

use crate::init::{Init, default_bias};
use crate::module::{Module, Slot};

/// A convolution's weight and bias, shared by the 1-D and 2-D layers.
struct ConvParams<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    options: ConvOptions,
}

impl<T: Float> ConvParams<T> {
    /// PyTorch's default initialisation for a weight of `shape` (`[out, in / groups, ..k]`,
    /// or `[in, out / groups, ..k]` for a transposed convolution: either way the fan in is
    /// the product of all but the first dimension, as PyTorch computes it).
    #[track_caller]
    fn new<R: Rng + ?Sized>(
        op: &str,
        shape: &[usize],
        [in_channels, out_channels]: [usize; 2],
        options: ConvOptions,
        rng: &mut R,
    ) -> Self {
        let groups = options.group_count();
        assert!(
            groups > 0 && in_channels.is_multiple_of(groups) && out_channels.is_multiple_of(groups),
            "{op}: groups {groups} must divide the input channels {in_channels} and the output channels {out_channels}"
        );
        let new = format!("{op}::new");
        let weight = Init::pytorch_default().param(&new, "weight", shape, rng);
        // PyTorch leaves the bias uninitialised when the fan in is 0; zeros are the defined
        // equivalent. The weight exists, so its dimensions' product cannot overflow.
        let fan_in = shape[1..].iter().product();
        let bias = Some(default_bias(&new, out_channels, fan_in, rng));
        ConvParams {
            weight,
            bias,
            options,
        }
    }

    /// The weight and the bias as variables of `x`'s graph.
    #[allow(clippy::type_complexity)]
    fn vars<'g>(&self, x: Var<'g, T>) -> (Var<'g, T>, Option<Var<'g, T>>) {
        let g = x.graph();
        (
            g.param(&self.weight),
            self.bias.as_ref().map(|b| g.param(b)),
        )
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
        if let Some(b) = &self.bias {
            f("bias", Slot::Param(b));
        }
    }
}

/// 2-D convolution, as `torch.nn.Conv2d` (Keras' `Conv2D` with `data_format="channels_first"`).
/// Stride, padding, dilation and groups come from [`ConvOptions`]; weight and bias default
/// to PyTorch's `U(±1/√fan_in)`.
///
/// # Shapes
/// - input `[N, C_in, H, W]`
/// - weight `[C_out, C_in / groups, kH, kW]`, bias `[C_out]`
/// - output `[N, C_out, H_out, W_out]`, `H_out = ⌊(H + 2p − d·(kH − 1) − 1) / s⌋ + 1`
///
/// ```
/// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
/// use ferrograd::nn::{Conv2d, Module, init};
/// let conv = Conv2d::<f32>::new(1, 32, 3, ConvOptions::new(), &mut init::rng(0));
/// let g = Graph::new();
/// let y = conv.forward(g.constant(Tensor::zeros(&[8, 1, 28, 28])));
/// assert_eq!(y.shape(), vec![8, 32, 26, 26]);
/// ```
pub struct Conv2d<T: Float = f32> {
    params: ConvParams<T>,
}

impl<T: Float> Conv2d<T> {
    /// A layer from `in_channels` to `out_channels` with a `kernel` (one size or `(h, w)`).
    ///
    /// # Panics
    /// If `options`' groups do not divide both channel counts, or the weight is too large
    /// to allocate (the message names the layer and the shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Into<Size2>,
        options: ConvOptions,
        rng: &mut R,
    ) -> Self {
        let Size2(kh, kw) = kernel.into();
        let groups = options.group_count();
        let shape = [out_channels, in_channels / groups.max(1), kh, kw];
        Conv2d {
            params: ConvParams::new("Conv2d", &shape, [in_channels, out_channels], options, rng),
        }
    }

    /// The same layer without a bias.
    pub fn without_bias(mut self) -> Self {
        self.params.bias = None;
        self
    }

    /// The weight, `[C_out, C_in / groups, kH, kW]`.
    pub fn weight(&self) -> &Param<T> {
        &self.params.weight
    }
}

impl<T: Float> Module<T> for Conv2d<T> {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let (w, b) = self.params.vars(x);
        crate::module_ext::traced(self, x.conv2d(w, b, self.params.options))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        self.params.visit(f);
    }
}

/// 1-D convolution, as `torch.nn.Conv1d`; options are read from their width components.
///
/// # Shapes
/// - input `[N, C_in, L]`
/// - weight `[C_out, C_in / groups, k]`, bias `[C_out]`
/// - output `[N, C_out, L_out]`, `L_out = ⌊(L + 2p − d·(k − 1) − 1) / s⌋ + 1`
///
/// ```
/// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
/// use ferrograd::nn::{Conv1d, Module, init};
/// let conv = Conv1d::<f32>::new(4, 8, 3, ConvOptions::new().padding(1), &mut init::rng(0));
/// let g = Graph::new();
/// assert_eq!(conv.forward(g.constant(Tensor::zeros(&[2, 4, 10]))).shape(), vec![2, 8, 10]);
/// ```
pub struct Conv1d<T: Float = f32> {
    params: ConvParams<T>,
}

impl<T: Float> Conv1d<T> {
    /// A layer from `in_channels` to `out_channels` with a kernel of `kernel` taps.
    ///
    /// # Panics
    /// If `options`' groups do not divide both channel counts, or the weight is too large
    /// to allocate (the message names the layer and the shape).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        options: ConvOptions,
        rng: &mut R,
    ) -> Self {
        let groups = options.group_count();
        let shape = [out_channels, in_channels / groups.max(1), kernel];
        Conv1d {
            params: ConvParams::new("Conv1d", &shape, [in_channels, out_channels], options, rng),
        }
    }

    /// The weight, `[C_out, C_in / groups, k]`.
    pub fn weight(&self) -> &Param<T> {
        &self.params.weight
    }
}

impl<T: Float> Module<T> for Conv1d<T> {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let (w, b) = self.params.vars(x);
        crate::module_ext::traced(self, x.conv1d(w, b, self.params.options))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        self.params.visit(f);
    }
}

/// The kernel's dimensions in a weight's shape.
trait KernelDims {
    fn dims(self) -> Vec<usize>;
}

impl KernelDims for Size2 {
    fn dims(self) -> Vec<usize> {
        vec![self.0, self.1]
    }
}

impl KernelDims for usize {
    fn dims(self) -> Vec<usize> {
        vec![self]
    }
}

/// Defines a transposed convolution layer over the autograd op `$op`.
macro_rules! conv_transpose_layer {
    ($(#[$doc:meta])* $name:ident, $kernel:ty, $dims:ty, $op:ident, $weight:literal) => {
        $(#[$doc])*
        pub struct $name<T: Float = f32> {
            params: ConvParams<T>,
        }

        impl<T: Float> $name<T> {
            /// A layer from `in_channels` to `out_channels` with a `kernel`; weight and bias
            /// `U(±1/√fan_in)` with PyTorch's fan in, `C_out / groups · kernel size`.
            ///
            /// # Panics
            /// If `options`' groups do not divide both channel counts, or the weight is too
            /// large to allocate (the message names the layer and the shape).
            #[track_caller]
            pub fn new<R: Rng + ?Sized>(
                in_channels: usize,
                out_channels: usize,
                kernel: $kernel,
                options: ConvOptions,
                rng: &mut R,
            ) -> Self {
                let groups = options.group_count().max(1);
                let mut shape = vec![in_channels, out_channels / groups];
                let kernel: $dims = kernel.into();
                shape.extend(kernel.dims());
                let channels = [in_channels, out_channels];
                $name {
                    params: ConvParams::new(stringify!($name), &shape, channels, options, rng),
                }
            }

            /// The same layer without a bias.
            pub fn without_bias(mut self) -> Self {
                self.params.bias = None;
                self
            }

            #[doc = concat!("The weight, `", $weight, "`.")]
            pub fn weight(&self) -> &Param<T> {
                &self.params.weight
            }
        }

        impl<T: Float> Module<T> for $name<T> {
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                let (w, b) = self.params.vars(x);
                crate::module_ext::traced(self, x.$op(w, b, self.params.options))
            }

            fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
                self.params.visit(f);
            }
        }
    };
}

conv_transpose_layer!(
    /// 2-D transposed convolution, as `torch.nn.ConvTranspose2d`: stride, padding,
    /// output padding, dilation and groups come from [`ConvOptions`]; see
    /// [`Var::conv_transpose2d`].
    ///
    /// # Shapes
    /// - input `[N, C_in, H, W]`
    /// - weight `[C_in, C_out / groups, kH, kW]` (PyTorch's layout), bias `[C_out]`
    /// - output `[N, C_out, H_out, W_out]`,
    ///   `H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1`
    ///
    /// ```
    /// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
    /// use ferrograd::nn::{ConvTranspose2d, Module, init};
    /// let up = ConvTranspose2d::<f32>::new(8, 4, 2, ConvOptions::new().stride(2), &mut init::rng(0));
    /// let g = Graph::new();
    /// assert_eq!(up.forward(g.constant(Tensor::zeros(&[1, 8, 5, 5]))).shape(), vec![1, 4, 10, 10]);
    /// assert_eq!(up.weight().shape(), vec![8, 4, 2, 2]);
    /// ```
    ConvTranspose2d,
    impl Into<Size2>,
    Size2,
    conv_transpose2d,
    "[C_in, C_out / groups, kH, kW]"
);

conv_transpose_layer!(
    /// 1-D transposed convolution, as `torch.nn.ConvTranspose1d`; options are read from
    /// their width components. See [`Var::conv_transpose1d`].
    ///
    /// # Shapes
    /// - input `[N, C_in, L]`
    /// - weight `[C_in, C_out / groups, k]` (PyTorch's layout), bias `[C_out]`
    /// - output `[N, C_out, (L − 1)·s − 2p + d·(k − 1) + output_padding + 1]`
    ///
    /// ```
    /// use ferrograd::autograd::{ConvOptions, Graph, Tensor};
    /// use ferrograd::nn::{ConvTranspose1d, Module, init};
    /// let up = ConvTranspose1d::<f32>::new(3, 6, 4, ConvOptions::new().stride(2).padding(1), &mut init::rng(0));
    /// let g = Graph::new();
    /// assert_eq!(up.forward(g.constant(Tensor::zeros(&[2, 3, 7]))).shape(), vec![2, 6, 14]);
    /// assert_eq!(up.weight().shape(), vec![3, 6, 4]);
    /// ```
    ConvTranspose1d,
    usize,
    usize,
    conv_transpose1d,
    "[C_in, C_out / groups, k]"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init;
    use crate::testing::check_module;
    use ferrograd_autograd::Tensor;

    #[test]
    fn conv_layers_grads_match_finite_diff() {
        let mut rng = init::rng(3);
        let conv = Conv2d::<f64>::new(
            2,
            4,
            (3, 2),
            ConvOptions::new().stride(2).padding(1).groups(2),
            &mut rng,
        );
        check_module(
            &conv,
            &Tensor::rand_normal(&[2, 2, 5, 4], 0.0, 1.0, &mut rng),
        )
        .unwrap();
        let conv1 = Conv1d::<f64>::new(3, 2, 3, ConvOptions::new().dilation(2), &mut rng);
        check_module(&conv1, &Tensor::rand_normal(&[2, 3, 7], 0.0, 1.0, &mut rng)).unwrap();
    }

    #[test]
    fn conv_transpose_layers_grads_match_finite_diff() {
        let mut rng = init::rng(4);
        let opts = ConvOptions::new()
            .stride(2)
            .padding(1)
            .output_padding(1)
            .groups(2);
        let up = ConvTranspose2d::<f64>::new(2, 4, (3, 2), opts, &mut rng);
        let x = Tensor::rand_normal(&[2, 2, 3, 2], 0.0, 1.0, &mut rng);
        check_module(&up, &x).unwrap();
        let up1 = ConvTranspose1d::<f64>::new(3, 2, 3, ConvOptions::new().dilation(2), &mut rng);
        check_module(&up1, &Tensor::rand_normal(&[2, 3, 4], 0.0, 1.0, &mut rng)).unwrap();
    }

    #[test]
    fn conv_transpose_layers_follow_pytorch_names_shapes_and_init_bounds() {
        // torch.nn.ConvTranspose2d(4, 6, 3, groups=2): weight [4, 3, 3, 3], bias [6], fan in
        // 3·3·3 = 27, so both lie in ±1/√27.
        let opts = ConvOptions::new().groups(2);
        let up = ConvTranspose2d::<f64>::new(4, 6, 3, opts, &mut init::rng(0));
        let mut names = Vec::new();
        up.visit(&mut |name, slot| {
            if let Slot::Param(p) = slot {
                names.push((name.to_string(), p.shape()));
                let bound = 1.0 / 27f64.sqrt();
                assert!(p.value().to_vec().iter().all(|v| v.abs() <= bound));
            }
        });
        assert_eq!(
            names,
            vec![
                ("weight".to_string(), vec![4, 3, 3, 3]),
                ("bias".to_string(), vec![6])
            ]
        );
        use crate::ModuleExt;
        assert_eq!(up.without_bias().num_params(), 108);
    }

    #[test]
    #[should_panic(
        expected = "ConvTranspose1d: groups 2 must divide the input channels 3 and the output channels 4"
    )]
    fn conv_transpose1d_panics_on_bad_groups() {
        ConvTranspose1d::<f32>::new(3, 4, 3, ConvOptions::new().groups(2), &mut init::rng(0));
    }

    #[test]
    fn conv2d_counts_parameters_as_pytorch() {
        use crate::ModuleExt;
        // torch.nn.Conv2d(32, 64, 3): 64·32·3·3 + 64 = 18496
        let conv = Conv2d::<f32>::new(32, 64, 3, ConvOptions::new(), &mut init::rng(0));
        assert_eq!(conv.num_params(), 18496);
        assert_eq!(conv.without_bias().num_params(), 18432);
    }

    #[test]
    #[should_panic(
        expected = "Conv2d: groups 2 must divide the input channels 3 and the output channels 4"
    )]
    fn conv2d_panics_on_bad_groups() {
        Conv2d::<f32>::new(3, 4, 3, ConvOptions::new().groups(2), &mut init::rng(0));
    }
}
