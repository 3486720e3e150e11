//! Normalisation layers: `BatchNorm1d`, `BatchNorm2d`, `LayerNorm`, `GroupNorm`,
//! `InstanceNorm1d`, `InstanceNorm2d`.

use ferrograd_autograd::{Float, Param, Tensor, Var};

use crate::init::constant_param;
use crate::module::{Mode, Module, Slot};

/// The shared batch normalisation over axis 1 (channels).
struct BatchNorm<T: Float> {
    op: &'static str,
    ranks: &'static [usize],
    eps: f64,
    momentum: f64,
    weight: Param<T>,
    bias: Param<T>,
    running_mean: Param<T>,
    running_var: Param<T>,
    mode: Mode,
}

impl<T: Float> BatchNorm<T> {
    #[track_caller]
    fn new(op: &'static str, ranks: &'static [usize], channels: usize) -> Self {
        let new = format!("{op}::new");
        let param = |what: &str, value: f64| constant_param(&new, what, &[channels], value);
        let buffer = |what: &str, value: f64| {
            let p = param(what, value);
            p.set_requires_grad(false);
            p
        };
        BatchNorm {
            op,
            ranks,
            eps: 1e-5,
            momentum: 0.1,
            weight: param("weight", 1.0),
            bias: param("bias", 0.0),
            running_mean: buffer("running_mean", 0.0),
            running_var: buffer("running_var", 1.0),
            mode: Mode::default(),
        }
    }

    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let shape = x.shape();
        let c = self.weight.numel();
        assert!(
            self.ranks.contains(&shape.len()) && shape[1] == c,
            "{}: input of shape {shape:?} must be {} with {c} channels",
            self.op,
            if self.ranks == [4] {
                "[N, C, H, W]"
            } else {
                "[N, C] or [N, C, L]"
            }
        );
        let g = x.graph();
        let axes: Vec<isize> = (0..shape.len() as isize).filter(|&a| a != 1).collect();
        let mut bshape = vec![1isize; shape.len()];
        bshape[1] = c as isize;
        let per_channel = |p: &Param<T>| g.param(p).reshape(&bshape);
        let eps = T::from_f64(self.eps);
        let (mean, var) = if self.mode.is_training() {
            let mean = x.mean_axes(&axes, true);
            let var = x.variance_axes(&axes, 0, true);
            self.update_running(
                mean.value(),
                var.value(),
                shape.iter().product::<usize>() / c,
            );
            (mean, var)
        } else {
            (
                per_channel(&self.running_mean),
                per_channel(&self.running_var),
            )
        };
        let xhat = (x - mean) / (var + eps).sqrt();
        xhat * per_channel(&self.weight) + per_channel(&self.bias)
    }

    /// `running = (1 − momentum)·running + momentum·batch`, with the unbiased batch variance
    /// (as PyTorch).
    fn update_running(&self, mean: Tensor<T>, var: Tensor<T>, count: usize) {
        let m = T::from_f64(self.momentum);
        let unbias = if count > 1 {
            T::from_usize(count) / T::from_usize(count - 1)
        } else {
            T::one()
        };
        let blend = |p: &Param<T>, batch: &Tensor<T>, scale: T| {
            let old = p.value().to_vec();
            let new: Vec<T> = old
                .iter()
                .zip(batch.to_vec())
                .map(|(&r, b)| (T::one() - m) * r + m * b * scale)
                .collect();
            p.set_value(Tensor::from_vec(new, &[old.len()]));
        };
        blend(&self.running_mean, &mean, T::one());
        blend(&self.running_var, &var, unbias);
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
        f("bias", Slot::Param(&self.bias));
        f("running_mean", Slot::Buffer(&self.running_mean));
        f("running_var", Slot::Buffer(&self.running_var));
        f("mode", Slot::Mode(&self.mode));
    }
}

/// Defines a batch-norm layer for the given input ranks.
macro_rules! batch_norm {
    ($(#[$doc:meta])* $name:ident, $ranks:expr) => {
        $(#[$doc])*
        pub struct $name<T: Float = f32>(BatchNorm<T>);

        impl<T: Float> $name<T> {
            /// A layer over `channels` channels: weight 1, bias 0, running mean 0 and
            /// variance 1, eps 1e-5, momentum 0.1 (PyTorch's defaults).
            ///
            /// # Panics
            /// If the parameters are too large to allocate (the message names the layer).
            #[track_caller]
            pub fn new(channels: usize) -> Self {
                $name(BatchNorm::new(stringify!($name), $ranks, channels))
            }

            /// The `eps` added to the variance.
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }

            /// The weight of the newest batch in the running statistics (PyTorch's
            /// convention; Keras' `momentum` is `1 −` this).
            pub fn momentum(mut self, momentum: f64) -> Self {
                self.0.momentum = momentum;
                self
            }

            /// The running mean, a buffer.
            pub fn running_mean(&self) -> &Param<T> {
                &self.0.running_mean
            }

            /// The running (unbiased) variance, a buffer.
            pub fn running_var(&self) -> &Param<T> {
                &self.0.running_var
            }
        }

        impl<T: Float> Module<T> for $name<T> {
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                crate::module_ext::traced(self, self.0.forward(x))
            }

            fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
                self.0.visit(f);
            }
        }
    };
}

batch_norm!(
    /// Batch normalisation over `[N, C]` or `[N, C, L]`, as `torch.nn.BatchNorm1d`: in
    /// training mode each channel is normalised with the batch's mean and (biased) variance
    /// and the running statistics are updated; in eval mode the running statistics are used.
    /// Then `y = x̂·weight + bias`.
    ///
    /// # Shapes
    /// - input `[N, C]` or `[N, C, L]`
    /// - output: the input's shape
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{BatchNorm1d, Module, ModuleExt};
    /// let bn = BatchNorm1d::<f64>::new(2);
    /// let g = Graph::new();
    /// let x = g.constant(Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]));
    /// // Each channel comes out with mean 0 and variance 1 over the batch.
    /// let y = bn.forward(x).value().to_vec();
    /// for (v, want) in y.iter().zip([-1.0, -1.0, 1.0, 1.0]) {
    ///     assert!((v - want).abs() < 1e-4);
    /// }
    /// // Running mean moved 10% towards the batch mean [2, 20].
    /// let rm = bn.running_mean().value().to_vec();
    /// assert!((rm[0] - 0.2).abs() < 1e-12 && (rm[1] - 2.0).abs() < 1e-12);
    /// ```
    BatchNorm1d,
    &[2, 3]
);

batch_norm!(
    /// Batch normalisation over `[N, C, H, W]`, as `torch.nn.BatchNorm2d`; see
    /// [`BatchNorm1d`].
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output: the input's shape
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{BatchNorm2d, Module};
    /// let bn = BatchNorm2d::<f32>::new(3);
    /// let g = Graph::new();
    /// assert_eq!(bn.forward(g.constant(Tensor::ones(&[2, 3, 4, 4]))).shape(), vec![2, 3, 4, 4]);
    /// ```
    BatchNorm2d,
    &[4]
);

/// Layer normalisation over the trailing `normalized_shape` dimensions, as
/// `torch.nn.LayerNorm`: `(x − mean) / √(var + eps)·weight + bias`, mean and (biased)
/// variance per sample; weight 1 and bias 0 of shape `normalized_shape`, eps 1e-5.
///
/// # Shapes
/// - input `[.., *normalized_shape]`
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{LayerNorm, Module};
/// let ln = LayerNorm::<f64>::new(&[2]).eps(0.0);
/// let g = Graph::new();
/// let y = ln.forward(g.constant(Tensor::from_vec(vec![1.0, 3.0, -2.0, 8.0], &[2, 2])));
/// assert_eq!(y.value().to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
/// ```
pub struct LayerNorm<T: Float = f32> {
    shape: Vec<usize>,
    eps: f64,
    weight: Param<T>,
    bias: Param<T>,
}

impl<T: Float> LayerNorm<T> {
    /// A layer normalising the trailing dimensions `normalized_shape`.
    ///
    /// # Panics
    /// If the parameters are too large to allocate (the message names the layer and the
    /// shape).
    #[track_caller]
    pub fn new(normalized_shape: &[usize]) -> Self {
        let param = |what: &str, value: f64| {
            constant_param("LayerNorm::new", what, normalized_shape, value)
        };
        LayerNorm {
            shape: normalized_shape.to_vec(),
            eps: 1e-5,
            weight: param("weight", 1.0),
            bias: param("bias", 0.0),
        }
    }

    /// The `eps` added to the variance.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl<T: Float> Module<T> for LayerNorm<T> {
    /// # Panics
    /// If the input does not end in `normalized_shape`.
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let s = x.shape();
        let k = self.shape.len();
        assert!(
            s.len() >= k && s[s.len() - k..] == self.shape[..],
            "LayerNorm: input of shape {s:?} must end in {:?}",
            self.shape
        );
        let axes: Vec<isize> = (1..=k as isize).map(|i| -i).collect();
        let mean = x.mean_axes(&axes, true);
        let var = x.variance_axes(&axes, 0, true);
        let g = x.graph();
        let xhat = (x - mean) / (var + T::from_f64(self.eps)).sqrt();
        crate::module_ext::traced(self, xhat * g.param(&self.weight) + g.param(&self.bias))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        f("weight", Slot::Param(&self.weight));
        f("bias", Slot::Param(&self.bias));
    }
}

/// An optional per-channel weight (ones) and bias (zeros), as PyTorch's `affine`.
struct Affine<T: Float> {
    weight: Param<T>,
    bias: Param<T>,
}

impl<T: Float> Affine<T> {
    #[track_caller]
    fn new(op: &str, channels: usize) -> Self {
        let new = format!("{op}::new");
        Affine {
            weight: constant_param(&new, "weight", &[channels], 1.0),
            bias: constant_param(&new, "bias", &[channels], 0.0),
        }
    }

    fn visit(this: &Option<Self>, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        if let Some(a) = this {
            f("weight", Slot::Param(&a.weight));
            f("bias", Slot::Param(&a.bias));
        }
    }

    /// The weight and bias as graph variables (each `None` without affine parameters).
    #[allow(clippy::type_complexity)]
    fn vars<'g>(this: &Option<Self>, x: Var<'g, T>) -> (Option<Var<'g, T>>, Option<Var<'g, T>>) {
        let g = x.graph();
        match this {
            Some(a) => (Some(g.param(&a.weight)), Some(g.param(&a.bias))),
            None => (None, None),
        }
    }
}

/// Group normalisation, as `torch.nn.GroupNorm`: the channels of `[N, C, *]` split into
/// `num_groups` groups, each sample's group normalised with its own mean and (biased)
/// variance, then `weight[c]` and `bias[c]` (ones and zeros, PyTorch's `affine=True`;
/// [`GroupNorm::affine`] removes them); eps 1e-5. See [`Var::group_norm`]. Unlike batch
/// normalisation it behaves the same in training and evaluation.
///
/// # Shapes
/// - input `[N, C, *]`
/// - output: the input's shape
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{GroupNorm, Module};
/// let gn = GroupNorm::<f64>::new(2, 4).eps(0.0);
/// let g = Graph::new();
/// let x = g.constant(Tensor::from_vec(vec![1.0, 3.0, 5.0, 7.0], &[1, 4]));
/// // Groups {1, 3} and {5, 7}.
/// assert_eq!(gn.forward(x).value().to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
/// ```
pub struct GroupNorm<T: Float = f32> {
    groups: usize,
    eps: f64,
    affine: Option<Affine<T>>,
}

impl<T: Float> GroupNorm<T> {
    /// `num_channels` channels in `num_groups` groups, with a weight and a bias.
    ///
    /// # Panics
    /// If `num_groups` is 0 or does not divide `num_channels`.
    #[track_caller]
    pub fn new(num_groups: usize, num_channels: usize) -> Self {
        assert!(
            num_groups > 0 && num_channels.is_multiple_of(num_groups),
            "GroupNorm: num_groups {num_groups} must divide num_channels {num_channels}"
        );
        GroupNorm {
            groups: num_groups,
            eps: 1e-5,
            affine: Some(Affine::new("GroupNorm", num_channels)),
        }
    }

    /// The `eps` added to the variance.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// With (true, the default) or without the per-channel weight and bias.
    pub fn affine(mut self, affine: bool) -> Self {
        if !affine {
            self.affine = None;
        }
        self
    }
}

impl<T: Float> Module<T> for GroupNorm<T> {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let (w, b) = Affine::vars(&self.affine, x);
        crate::module_ext::traced(self, x.group_norm(self.groups, w, b, self.eps))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        Affine::visit(&self.affine, f);
    }
}

/// Defines an instance normalisation layer for inputs of `rank` dimensions.
macro_rules! instance_norm {
    ($(#[$doc:meta])* $name:ident, $rank:literal, $layout:literal) => {
        $(#[$doc])*
        pub struct $name<T: Float = f32> {
            channels: usize,
            eps: f64,
            affine: Option<Affine<T>>,
        }

        impl<T: Float> $name<T> {
            /// A layer over `num_features` channels, without affine parameters (PyTorch's
            /// `affine=False`), eps 1e-5.
            pub fn new(num_features: usize) -> Self {
                $name { channels: num_features, eps: 1e-5, affine: None }
            }

            /// The `eps` added to the variance.
            pub fn eps(mut self, eps: f64) -> Self {
                self.eps = eps;
                self
            }

            /// With a per-channel weight (ones) and bias (zeros), or (false, the default)
            /// without.
            #[track_caller]
            pub fn affine(mut self, affine: bool) -> Self {
                self.affine = affine.then(|| Affine::new(stringify!($name), self.channels));
                self
            }
        }

        impl<T: Float> Module<T> for $name<T> {
            /// # Panics
            /// If the input is not of the layer's rank with its number of channels.
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                let s = x.shape();
                assert!(
                    s.len() == $rank && s[1] == self.channels,
                    "{}: input of shape {s:?} must be {} with {} channels",
                    stringify!($name),
                    $layout,
                    self.channels
                );
                let (w, b) = Affine::vars(&self.affine, x);
                crate::module_ext::traced(self, x.instance_norm(w, b, self.eps))
            }

            fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
                Affine::visit(&self.affine, f);
            }
        }
    };
}

instance_norm!(
    /// Instance normalisation of `[N, C, L]`, as `torch.nn.InstanceNorm1d` with its
    /// defaults (`affine=False`, `track_running_stats=False`; running statistics are not
    /// supported): each sample's channel normalised over its positions. See
    /// [`Var::instance_norm`].
    ///
    /// # Shapes
    /// - input `[N, C, L]`
    /// - output: the input's shape
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{InstanceNorm1d, Module};
    /// let norm = InstanceNorm1d::<f64>::new(1).eps(0.0);
    /// let g = Graph::new();
    /// let x = g.constant(Tensor::from_vec(vec![2.0, 4.0], &[1, 1, 2]));
    /// assert_eq!(norm.forward(x).value().to_vec(), vec![-1.0, 1.0]);
    /// ```
    InstanceNorm1d,
    3,
    "[N, C, L]"
);

instance_norm!(
    /// Instance normalisation of `[N, C, H, W]`, as `torch.nn.InstanceNorm2d` with its
    /// defaults (`affine=False`, `track_running_stats=False`); see [`InstanceNorm1d`].
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output: the input's shape
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{InstanceNorm2d, Module, ModuleExt};
    /// let norm = InstanceNorm2d::<f32>::new(3).affine(true);
    /// assert_eq!(norm.num_params(), 6);
    /// let g = Graph::new();
    /// assert_eq!(norm.forward(g.constant(Tensor::ones(&[2, 3, 4, 4]))).shape(), vec![2, 3, 4, 4]);
    /// ```
    InstanceNorm2d,
    4,
    "[N, C, H, W]"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use crate::testing::check_module;
    use ferrograd_autograd::Graph;

    fn input(shape: &[usize]) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        Tensor::from_vec(
            (0..n)
                .map(|i| ((i * 7919) % 23) as f64 * 0.1 - 1.0)
                .collect(),
            shape,
        )
    }

    #[test]
    fn norm_layers_grads_match_finite_diff() {
        check_module(&BatchNorm1d::<f64>::new(3), &input(&[4, 3])).unwrap();
        check_module(&BatchNorm1d::<f64>::new(2), &input(&[3, 2, 5])).unwrap();
        check_module(&BatchNorm2d::<f64>::new(2), &input(&[2, 2, 3, 3])).unwrap();
        check_module(&LayerNorm::<f64>::new(&[2, 3]), &input(&[4, 2, 3])).unwrap();
        check_module(&GroupNorm::<f64>::new(2, 4), &input(&[2, 4, 3])).unwrap();
        check_module(
            &GroupNorm::<f64>::new(1, 2).affine(false),
            &input(&[2, 2, 2, 2]),
        )
        .unwrap();
        check_module(
            &InstanceNorm1d::<f64>::new(3).affine(true),
            &input(&[2, 3, 4]),
        )
        .unwrap();
        check_module(&InstanceNorm2d::<f64>::new(2), &input(&[2, 2, 3, 3])).unwrap();
        let bn = BatchNorm2d::<f64>::new(2);
        bn.eval();
        check_module(&bn, &input(&[2, 2, 3, 3])).unwrap();
    }

    #[test]
    fn batch_norm_running_statistics_follow_pytorch() {
        // x = [[1], [3], [5]]: batch mean 3, biased var 8/3, unbiased var 4.
        let bn = BatchNorm1d::<f64>::new(1).momentum(0.5);
        let g = Graph::new();
        let x = g.constant(Tensor::from_vec(vec![1.0, 3.0, 5.0], &[3, 1]));
        bn.forward(x);
        assert_eq!(bn.running_mean().value().to_vec(), vec![1.5]);
        assert_eq!(
            bn.running_var().value().to_vec(),
            vec![0.5 * 1.0 + 0.5 * 4.0]
        );
        // Eval mode normalises with the running statistics and leaves them alone.
        bn.eval();
        let y = bn.forward(x).value().to_vec();
        let sd = (2.5f64 + 1e-5).sqrt();
        assert_eq!(
            y,
            vec![(1.0 - 1.5) / sd, (3.0 - 1.5) / sd, (5.0 - 1.5) / sd]
        );
        assert_eq!(bn.running_mean().value().to_vec(), vec![1.5]);
    }

    #[test]
    fn group_and_instance_norm_parameters_follow_pytorch() {
        // torch.nn.GroupNorm(2, 6): weight [6], bias [6]; InstanceNorm2d(3): none unless
        // affine=True.
        fn names(m: &impl ModuleExt<f32>) -> Vec<String> {
            m.state().into_iter().map(|(n, _)| n).collect()
        }
        assert_eq!(names(&GroupNorm::<f32>::new(2, 6)), ["weight", "bias"]);
        assert_eq!(GroupNorm::<f32>::new(2, 6).num_params(), 12);
        assert!(names(&GroupNorm::<f32>::new(2, 6).affine(false)).is_empty());
        assert!(names(&InstanceNorm2d::<f32>::new(3)).is_empty());
        assert_eq!(
            names(&InstanceNorm1d::<f32>::new(3).affine(true)),
            ["weight", "bias"]
        );
    }

    #[test]
    #[should_panic(expected = "GroupNorm: num_groups 4 must divide num_channels 6")]
    fn group_norm_panics_on_groups_that_do_not_divide_the_channels() {
        GroupNorm::<f32>::new(4, 6);
    }

    #[test]
    #[should_panic(
        expected = "InstanceNorm1d: input of shape [2, 3, 4, 4] must be [N, C, L] with 3 channels"
    )]
    fn instance_norm_1d_panics_on_4d_input() {
        let g = Graph::<f32>::new();
        InstanceNorm1d::<f32>::new(3).forward(g.constant(Tensor::zeros(&[2, 3, 4, 4])));
    }

    #[test]
    fn buffers_are_state_but_not_parameters() {
        let bn = BatchNorm2d::<f32>::new(4);
        assert_eq!(bn.num_params(), 8);
        let names: Vec<String> = bn.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
    }

    #[test]
    #[should_panic(
        expected = "BatchNorm2d: input of shape [2, 3] must be [N, C, H, W] with 3 channels"
    )]
    fn batch_norm_2d_panics_on_2d_input() {
        let g = Graph::<f32>::new();
        BatchNorm2d::<f32>::new(3).forward(g.constant(Tensor::zeros(&[2, 3])));
    }
}
