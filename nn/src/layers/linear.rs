//! `Linear`: a fully connected (dense) layer.

use ferrograd_autograd::{Float, Param, Var};
use rand::Rng;

use crate::init::{Init, default_bias};
use crate::module::{Module, Slot};

/// `y = x·Wᵀ + b`, as `torch.nn.Linear` / Keras' `Dense`. The weight is stored as PyTorch
/// stores it, `[out_features, in_features]`, so checkpoints map one to one.
///
/// Defaults as PyTorch: weight and bias `U(±1/√in_features)`.
///
/// # Shapes
/// - input `[.., in_features]` (any number of leading dimensions)
/// - output `[.., out_features]`
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Linear, Module, ModuleExt, init};
/// let layer = Linear::<f32>::new(3, 2, &mut init::rng(0));
/// assert_eq!(layer.num_params(), 3 * 2 + 2);
/// let g = Graph::new();
/// let y = layer.forward(g.constant(Tensor::ones(&[4, 3])));
/// assert_eq!(y.shape(), vec![4, 2]);
/// ```
pub struct Linear<T: Float = f32> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer with PyTorch's default initialisation. With `in_features == 0` the weight is
    /// empty and the bias zero (PyTorch's bias bound is 0 there, not `1/√0`).
    ///
    /// # Panics
    /// If the weight is too large to allocate: the message names the layer and the shape
    /// (`Linear::new: weight of shape [1048576, 1048576] is too large: ...`).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(in_features: usize, out_features: usize, rng: &mut R) -> Self {
        Self::build(
            "Linear::new",
            in_features,
            out_features,
            Init::pytorch_default(),
            true,
            rng,
        )
    }

    /// A layer whose weight is drawn by `init`, with a zero bias if `bias` (Keras' `Dense`
    /// defaults are `with_init(i, o, Init::glorot_uniform(), true, rng)`).
    ///
    /// # Panics
    /// If the weight is too large to allocate, as [`Linear::new`].
    #[track_caller]
    pub fn with_init<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        init: Init,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        Self::build(
            "Linear::with_init",
            in_features,
            out_features,
            init,
            bias,
            rng,
        )
    }

    #[track_caller]
    fn build<R: Rng + ?Sized>(
        op: &str,
        in_features: usize,
        out_features: usize,
        init: Init,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let weight = init.param(op, "weight", &[out_features, in_features], rng);
        let bias = bias.then(|| {
            if init == Init::pytorch_default() {
                default_bias(op, out_features, in_features, rng)
            } else {
                Init::Zeros.param(op, "bias", &[out_features], rng)
            }
        });
        Linear { weight, bias }
    }

    /// A layer over existing parameters: `weight [out, in]`, `bias [out]`.
    ///
    /// # Panics
    /// If the weight is not 2-D or the bias does not match its rows.
    pub fn from_params(weight: Param<T>, bias: Option<Param<T>>) -> Self {
        let w = weight.shape();
        assert!(
            w.len() == 2,
            "Linear: weight must be [out_features, in_features], got {w:?}"
        );
        if let Some(b) = &bias {
            assert!(
                b.shape() == [w[0]],
                "Linear: bias of shape {:?} must be [{}]",
                b.shape(),
                w[0]
            );
        }
        Linear { weight, bias }
    }

    /// The weight, `[out_features, in_features]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias, `[out_features]`, if any.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Module<T> for Linear<T> {
    /// # Panics
    /// If the input's last dimension is not `in_features`.
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let shape = x.shape();
        let w = self.weight.shape();
        assert!(
            shape.last() == Some(&w[1]),
            "Linear: input of shape {shape:?} must end in in_features {}",
            w[1]
        );
        let g = x.graph();
        let y = x.matmul(g.param(&self.weight).transpose(0, 1));
        let y = match &self.bias {
            Some(b) => y + g.param(b),
            None => y,
        };
        crate::module_ext::traced(self, y)
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
        if let Some(b) = &self.bias {
            f("bias", Slot::Param(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init;
    use crate::testing::check_module;
    use ferrograd_autograd::{Graph, Tensor};

    #[test]
    fn linear_matches_the_formula() {
        let layer = Linear::from_params(
            Param::new(Tensor::from_vec(
                vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                &[2, 3],
            )),
            Some(Param::new(Tensor::from_vec(vec![0.5, -0.5], &[2]))),
        );
        let g = Graph::<f64>::new();
        let y = layer.forward(g.constant(Tensor::from_vec(vec![1.0, 0.0, -1.0], &[1, 3])));
        assert_eq!(y.value().to_vec(), vec![1.0 - 3.0 + 0.5, 4.0 - 6.0 - 0.5]);
    }

    #[test]
    fn linear_grads_match_finite_diff() {
        let mut rng = init::rng(1);
        let layer = Linear::<f64>::new(3, 4, &mut rng);
        check_module(&layer, &Tensor::rand_normal(&[2, 5, 3], 0.0, 1.0, &mut rng)).unwrap();
        let no_bias = Linear::<f64>::with_init(3, 2, Init::glorot_uniform(), false, &mut rng);
        check_module(&no_bias, &Tensor::rand_normal(&[4, 3], 0.0, 1.0, &mut rng)).unwrap();
    }

    #[test]
    fn pytorch_default_init_is_bounded_by_one_over_sqrt_fan_in() {
        let layer = Linear::<f32>::new(100, 50, &mut init::rng(2));
        let bound = 0.1;
        assert!(
            layer
                .weight()
                .value()
                .to_vec()
                .iter()
                .all(|v| v.abs() <= bound)
        );
        assert!(
            layer
                .bias()
                .unwrap()
                .value()
                .to_vec()
                .iter()
                .all(|v| v.abs() <= bound)
        );
    }

    #[test]
    #[should_panic(expected = "Linear: input of shape [2, 5] must end in in_features 3")]
    fn linear_panics_on_wrong_features() {
        let layer = Linear::<f32>::new(3, 4, &mut init::rng(0));
        let g = Graph::new();
        layer.forward(g.constant(Tensor::zeros(&[2, 5])));
    }
}
