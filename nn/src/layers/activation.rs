//! Activation layers: thin [`Module`] wrappers over the autograd activations, for
//! [`Sequential`](crate::Sequential) stacks.

use ferrograd_autograd::{Float, Var};

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
    /// `ln(1 + eˣ)`, as `torch.nn.Softplus()`.
    Softplus, |x, s| x.softplus()
);

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
        check_module(&Softplus, &x).unwrap();
        check_module(&LeakyReLU(0.1), &x).unwrap();
        check_module(&ELU(1.0), &x).unwrap();
        check_module(&Softmax(-1), &x).unwrap();
        check_module(&LogSoftmax(0), &x).unwrap();
    }
}
