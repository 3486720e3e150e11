//! Activation layers: thin [`Module`] wrappers over the autograd activations, for
//! [`Sequential`](crate::Sequential) stacks.

use ferrograd_autograd::{Float, Param, Tensor, Var};

use crate::module::{Module, Slot};

/// Defines a parameterless activation layer applying `$f` to its input.
macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident, $s:ident| $body:expr) => {
        $(#[$doc])*
        ///
        /// # Shapes
        /// - input: any
        /// - output: the input's shape
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name;

        impl<T: Float> Module<T> for $name {
            #[track_caller]
            fn forward<'g>(&self, $x: Var<'g, T>) -> Var<'g, T> {
                let $s = self;
                let _ = $s;
                crate::module_ext::traced(self, $body)
            }

            fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
        }
    };
}

/// A layer of any parameterless function of its input, as Keras' `Lambda`: a custom op or
/// a few `Var` ops in a [`Sequential`](crate::Sequential) without a struct of their own.
/// `name` is its row in [`summary`](crate::ModuleExt::summary).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Lambda, Linear, Module, ModuleExt, Sequential, init};
/// let mut rng = init::rng(0);
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(2, 4, &mut rng))
///     .add(Lambda::new("mish", |x| x * x.softplus().tanh()))
///     .add(Linear::new(4, 1, &mut rng));
/// let g = Graph::new();
/// assert_eq!(model.forward(g.constant(Tensor::zeros(&[3, 2]))).shape(), vec![3, 1]);
/// assert_eq!(model.summary(&[3, 2]).rows[1].layer, "mish");
/// ```
///
/// # Shapes
/// What the function makes of them.
pub struct Lambda<F, T: Float = f32> {
    name: &'static str,
    f: F,
    float: std::marker::PhantomData<fn(T) -> T>,
}

impl<T: Float, F: for<'g> Fn(Var<'g, T>) -> Var<'g, T>> Lambda<F, T> {
    /// The layer applying `f`, named `name`.
    pub fn new(name: &'static str, f: F) -> Self {
        Lambda {
            name,
            f,
            float: std::marker::PhantomData,
        }
    }
}

impl<F, T: Float> std::fmt::Debug for Lambda<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Lambda").field(&self.name).finish()
    }
}

impl<T: Float, F: for<'g> Fn(Var<'g, T>) -> Var<'g, T>> Module<T> for Lambda<F, T> {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, (self.f)(x))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}

    fn name(&self) -> String {
        self.name.to_string()
    }
}

activation!(
    /// `max(x, 0)`, as `torch.nn.ReLU`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Module, ReLU};
    /// let g = Graph::<f32>::new();
    /// let y = ReLU.forward(g.constant(Tensor::from_vec(vec![-1.0, 2.0], &[2])));
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0]);
    /// ```
    ReLU, |x, s| x.relu()
);
activation!(
    /// `1 / (1 + e^−x)`, as `torch.nn.Sigmoid`.
    Sigmoid, |x, s| x.sigmoid()
);
activation!(
    /// The hyperbolic tangent, as `torch.nn.Tanh`.
    Tanh, |x, s| x.tanh()
);
activation!(
    /// The exact (erf) GELU, as `torch.nn.GELU()`.
    GELU, |x, s| x.gelu()
);
activation!(
    /// `x·sigmoid(x)`, as `torch.nn.SiLU` (Swish).
    SiLU, |x, s| x.silu()
);

activation!(
    /// `min(max(x, 0), 6)`, as `torch.nn.ReLU6`; the gradient is 0 at 0 and at 6.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Module, ReLU6};
    /// let g = Graph::<f32>::new();
    /// let y = ReLU6.forward(g.constant(Tensor::from_vec(vec![-1.0, 2.0, 9.0], &[3])));
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0, 6.0]);
    /// ```
    ReLU6, |x, s| x.relu6()
);
activation!(
    /// The scaled ELU with PyTorch's constants, as `torch.nn.SELU`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Module, SELU};
    /// let g = Graph::<f64>::new();
    /// let y = SELU.forward(g.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]))).value();
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0507009873554805]); // scale · x for x > 0
    /// ```
    SELU, |x, s| x.selu()
);
activation!(
    /// `x · tanh(softplus(x))`, as `torch.nn.Mish`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Mish, Module};
    /// let g = Graph::<f64>::new();
    /// let y = Mish.forward(g.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]))).value();
    /// assert_eq!(y.get(&[0]), 0.0);
    /// assert!((y.get(&[1]) - 0.8650983882673103).abs() < 1e-15); // tanh(ln(1 + e))
    /// ```
    Mish, |x, s| x.mish()
);
activation!(
    /// `x · min(max(x + 3, 0), 6) / 6`, as `torch.nn.Hardswish`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Hardswish, Module};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec(vec![-4.0, 3.0, 4.0], &[3]));
    /// assert_eq!(Hardswish.forward(x).value().to_vec(), vec![0.0, 3.0, 4.0]);
    /// ```
    Hardswish, |x, s| x.hardswish()
);
activation!(
    /// `ln(sigmoid(x))`, computed stably, as `torch.nn.LogSigmoid`.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{LogSigmoid, Module};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec(vec![0.0, -800.0], &[2]));
    /// // -ln 2, and -800 where e^800 would overflow.
    /// assert_eq!(LogSigmoid.forward(x).value().to_vec(), vec![-std::f64::consts::LN_2, -800.0]);
    /// ```
    LogSigmoid, |x, s| x.logsigmoid()
);

/// `ln(1 + e^(beta·x)) / beta`, and `x` itself where `beta·x > threshold`, as
/// `torch.nn.Softplus(beta, threshold)`; the defaults are PyTorch's, `beta = 1` and
/// `threshold = 20`. Applies [`Var::softplus_with`], whose derivatives are PyTorch's
/// (the second is 0 in the linear region).
///
/// # Panics
/// [`Softplus::beta`] if `beta` is 0 or not finite.
///
/// # Shapes
/// - input: any
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Module, Softplus};
/// let g = Graph::<f64>::new();
/// let x = g.constant(Tensor::from_vec(vec![0.0, 15.0], &[2]));
/// // beta·x = 30 > 20 at 15: the linear region.
/// let y = Softplus::new().beta(2.0).forward(x);
/// assert_eq!(y.value().to_vec(), vec![2f64.ln() / 2.0, 15.0]);
/// // With a higher threshold, 15 is on the smooth curve.
/// let y = Softplus::new().beta(2.0).threshold(40.0).forward(x);
/// assert_eq!(y.value().to_vec()[1], 30f64.exp().ln_1p() / 2.0);
/// assert_eq!(Softplus::default(), Softplus::new().beta(1.0).threshold(20.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Softplus {
    beta: f64,
    threshold: f64,
}

impl Softplus {
    /// PyTorch's defaults, `beta = 1` and `threshold = 20`.
    pub fn new() -> Self {
        Softplus {
            beta: 1.0,
            threshold: 20.0,
        }
    }

    /// The sharpness `beta` (PyTorch's default 1): larger is closer to ReLU.
    ///
    /// # Panics
    /// If `beta` is 0 or not finite (the function would be NaN everywhere).
    #[track_caller]
    pub fn beta(mut self, beta: f64) -> Self {
        assert!(
            beta != 0.0 && beta.is_finite(),
            "Softplus: beta must be non-zero and finite, got {beta}"
        );
        self.beta = beta;
        self
    }

    /// Above `beta·x > threshold` the layer is the identity (PyTorch's default 20).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
}

impl Default for Softplus {
    fn default() -> Self {
        Softplus::new()
    }
}

impl<T: Float> Module<T> for Softplus {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let (beta, threshold) = (T::from_f64(self.beta), T::from_f64(self.threshold));
        crate::module_ext::traced(self, x.softplus_with(beta, threshold))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// `min(max(x, min), max)`, as `torch.nn.Hardtanh(min_val, max_val)`; the default is
/// PyTorch's `(−1, 1)`. The gradient passes strictly inside the bounds.
///
/// # Panics
/// From `forward`, if `min > max`.
///
/// # Shapes
/// - input: any
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Hardtanh, Module};
/// let g = Graph::<f64>::new();
/// let y = Hardtanh(-2.0, 2.0).forward(g.constant(Tensor::from_vec(vec![-3.0, 1.0], &[2])));
/// assert_eq!(y.value().to_vec(), vec![-2.0, 1.0]);
/// assert_eq!(Hardtanh::default(), Hardtanh(-1.0, 1.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hardtanh(pub f64, pub f64);

impl Default for Hardtanh {
    fn default() -> Self {
        Hardtanh(-1.0, 1.0)
    }
}

impl<T: Float> Module<T> for Hardtanh {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.hardtanh(T::from_f64(self.0), T::from_f64(self.1)))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// `max(0, x) + min(0, alpha·(e^(x/alpha) − 1))`, as `torch.nn.CELU(alpha)`; the default
/// is PyTorch's `alpha = 1`.
///
/// # Panics
/// From `forward`, if `alpha` is 0.
///
/// # Shapes
/// - input: any
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{CELU, Module};
/// let g = Graph::<f64>::new();
/// let x = g.constant(Tensor::from_vec(vec![2.0, -1000.0], &[2]));
/// // x for x > 0; towards -alpha far below 0.
/// assert_eq!(CELU(0.5).forward(x).value().to_vec(), vec![2.0, -0.5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CELU(pub f64);

impl Default for CELU {
    fn default() -> Self {
        CELU(1.0)
    }
}

impl<T: Float> Module<T> for CELU {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.celu(T::from_f64(self.0)))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// The gated linear unit along an axis (negative counts from the end), as
/// `torch.nn.GLU(dim)`: `a · sigmoid(b)` for the two halves `a`, `b` of the axis; the
/// default is PyTorch's last axis.
///
/// # Panics
/// From `forward`, if the axis is out of range or its size is odd.
///
/// # Shapes
/// - input: any with the axis, of even size `2n`
/// - output: the input's shape with that axis of size `n`
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{GLU, Module};
/// let g = Graph::<f32>::new();
/// let y = GLU::default().forward(g.constant(Tensor::zeros(&[3, 8])));
/// assert_eq!(y.shape(), vec![3, 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GLU(pub isize);

impl Default for GLU {
    fn default() -> Self {
        GLU(-1)
    }
}

impl<T: Float> Module<T> for GLU {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.glu(self.0))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// The parametric ReLU, as `torch.nn.PReLU(num_parameters, init)`: `x` for `x > 0`,
/// `a·x` otherwise, with a learnable slope `a` (parameter `weight`) shared by all elements
/// or one per channel (axis 1): [`Var::prelu`] with the layer's slopes. Its gradient at 0
/// is `a`, as PyTorch's.
///
/// # Panics
/// [`PReLU::new`] if `num_parameters` is 0; `forward` if there is more than one slope and
/// the input's axis 1 does not have that many channels.
///
/// # Shapes
/// - input: any; `[N, C, ...]` with `C = num_parameters` when that is more than 1
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Module, PReLU};
/// let layer = PReLU::<f64>::new(2, 0.25);
/// let g = Graph::new();
/// let x = g.constant(Tensor::from_vec(vec![-4.0, 1.0, -4.0, 3.0], &[2, 2]));
/// let y = layer.forward(x);
/// assert_eq!(y.value().to_vec(), vec![-1.0, 1.0, -1.0, 3.0]);
/// y.sum().backward();
/// // Each slope's gradient is the sum of its channel's negative inputs.
/// assert_eq!(layer.weight().grad().unwrap().to_vec(), vec![-8.0, 0.0]);
/// ```
#[derive(Clone, Debug)]
pub struct PReLU<T: Float = f32> {
    weight: Param<T>,
}

impl<T: Float> PReLU<T> {
    /// `num_parameters` slopes (1, or the number of channels), each starting at `init`
    /// (PyTorch's defaults: 1 and 0.25, which [`Default`] gives).
    ///
    /// # Panics
    /// If `num_parameters` is 0.
    #[track_caller]
    pub fn new(num_parameters: usize, init: f64) -> Self {
        assert!(num_parameters > 0, "PReLU: num_parameters must be positive");
        PReLU {
            weight: Param::new(Tensor::full(&[num_parameters], T::from_f64(init))),
        }
    }

    /// The slopes, of shape `[num_parameters]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }
}

impl<T: Float> Default for PReLU<T> {
    fn default() -> Self {
        PReLU::new(1, 0.25)
    }
}

impl<T: Float> Module<T> for PReLU<T> {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.prelu(x.graph().param(&self.weight)))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
    }
}

/// `x` for `x > 0`, `slope·x` otherwise, as `torch.nn.LeakyReLU(slope)` (PyTorch's default
/// slope is 0.01).
///
/// # Shapes
/// - input: any
/// - output: the input's shape
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU(pub f64);

impl<T: Float> Module<T> for LeakyReLU {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.leaky_relu(T::from_f64(self.0)))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// `x` for `x > 0`, `alpha·(eˣ − 1)` otherwise, as `torch.nn.ELU(alpha)`.
///
/// # Shapes
/// - input: any
/// - output: the input's shape
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ELU(pub f64);

impl<T: Float> Module<T> for ELU {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.elu(T::from_f64(self.0)))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// Softmax along an axis (negative counts from the end), as `torch.nn.Softmax(dim)`.
///
/// # Shapes
/// - input: any with the axis
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Module, Softmax};
/// let g = Graph::<f64>::new();
/// let y = Softmax(-1).forward(g.constant(Tensor::zeros(&[2, 4])));
/// assert_eq!(y.value().to_vec(), vec![0.25; 8]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Softmax(pub isize);

impl<T: Float> Module<T> for Softmax {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.softmax(self.0))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

/// Log-softmax along an axis, as `torch.nn.LogSoftmax(dim)`.
///
/// # Shapes
/// - input: any with the axis
/// - output: the input's shape
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSoftmax(pub isize);

impl<T: Float> Module<T> for LogSoftmax {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.log_softmax(self.0))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_module;
    use ferrograd_autograd::Tensor;

    #[test]
    fn activation_layers_grads_match_finite_diff() {
        let x = Tensor::from_vec(vec![-1.3, -0.4, 0.2, 0.9, 1.7, -2.2], &[2, 3]);
        check_module(&ReLU, &x).unwrap();
        check_module(&Sigmoid, &x).unwrap();
        check_module(&Tanh, &x).unwrap();
        check_module(&GELU, &x).unwrap();
        check_module(&SiLU, &x).unwrap();
        check_module(&Softplus::default(), &x).unwrap();
        check_module(&Softplus::new().beta(2.0).threshold(1.0), &x).unwrap();
        check_module(&LeakyReLU(0.1), &x).unwrap();
        check_module(&ELU(1.0), &x).unwrap();
        check_module(&Softmax(-1), &x).unwrap();
        check_module(&LogSoftmax(0), &x).unwrap();
        check_module(&ReLU6, &x).unwrap();
        check_module(&SELU, &x).unwrap();
        check_module(&Mish, &x).unwrap();
        check_module(&Hardswish, &x).unwrap();
        check_module(&LogSigmoid, &x).unwrap();
        check_module(&Hardtanh::default(), &x).unwrap();
        check_module(&CELU(0.5), &x).unwrap();
        check_module(&GLU(0), &x).unwrap();
    }

    #[test]
    fn softplus_matches_pytorch_with_beta_and_threshold() {
        // torch.nn.Softplus(beta=2.0, threshold=3.0) in float64; 1.7 is in the linear
        // region (2·1.7 > 3).
        let x = Tensor::from_vec(vec![-1.3, -0.4, 0.2, 0.9, 1.7, -2.2], &[6]);
        let want = [
            0.03582234598383491,
            0.18555033297388884,
            0.4565076261999763,
            0.976488805263037,
            1.7,
            0.006101292303848047,
        ];
        let g = ferrograd_autograd::Graph::<f64>::new();
        let y = Softplus::new()
            .beta(2.0)
            .threshold(3.0)
            .forward(g.constant(x));
        for (a, b) in y.value().to_vec().iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        // The defaults are PyTorch's: torch.nn.Softplus()(20.0) is on the curve, 25.0 not.
        let x = g.constant(Tensor::from_vec(vec![20.0, 25.0], &[2]));
        let y = Softplus::default().forward(x).value().to_vec();
        assert!((y[0] - 20.000000002061153).abs() < 1e-12);
        assert_eq!(y[1], 25.0);
    }

    #[test]
    #[should_panic(expected = "Softplus: beta must be non-zero and finite, got 0")]
    fn softplus_panics_on_a_zero_beta() {
        let _ = Softplus::new().beta(0.0);
    }

    #[test]
    fn prelu_grads_match_finite_diff() {
        let x = Tensor::from_vec(
            vec![
                -1.3, -0.4, 0.2, 0.9, 1.7, -2.2, 0.6, -0.8, -1.1, 1.4, 0.3, -0.5,
            ],
            &[2, 3, 2],
        );
        check_module(&PReLU::<f64>::default(), &x).unwrap();
        let per_channel = PReLU::<f64>::new(3, 0.1);
        per_channel
            .weight()
            .set_value(Tensor::from_vec(vec![0.1, -0.3, 0.7], &[3]));
        check_module(&per_channel, &x).unwrap();
        let names: Vec<String> = crate::ModuleExt::named_parameters(&per_channel)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["weight"]);
    }

    #[test]
    #[should_panic(expected = "prelu: input of shape [2, 4] must have 3 channels on axis 1")]
    fn prelu_panics_on_a_channel_mismatch() {
        let g = ferrograd_autograd::Graph::<f64>::new();
        PReLU::<f64>::new(3, 0.25).forward(g.constant(Tensor::zeros(&[2, 4])));
    }
}
