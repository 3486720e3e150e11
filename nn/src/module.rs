//! The [`Module`] trait and its one visitor: what a module exposes ([`Slot`]), its
//! train/eval switch ([`Mode`]) and how a composite visits its children
//! ([`visit_child`]). Everything built on the visitor is in `module_ext.rs`.

use std::sync::atomic::{AtomicBool, Ordering};

use ferrograd_autograd::{Float, Param, Var};

use crate::rng::LayerRng;

/// What a module exposes to its visitor.
pub enum Slot<'a, T: Float> {
    /// A trainable parameter (a weight or a bias).
    Param(&'a Param<T>),
    /// State that is saved with the model but not trained, such as BatchNorm's running
    /// statistics.
    Buffer(&'a Param<T>),
    /// The module's train/eval switch.
    Mode(&'a Mode),
    /// A random stream the module draws from (Dropout's masks): not saved with the
    /// weights, but its position is part of a training checkpoint, so a resumed run draws
    /// what the uninterrupted one would have.
    Rng(&'a LayerRng),
}

/// A train/eval switch (train by default), held by the layers that behave differently in
/// the two modes (Dropout, BatchNorm) and flipped through the visitor by
/// [`ModuleExt::train`](crate::ModuleExt::train) and [`ModuleExt::eval`](crate::ModuleExt::eval).
#[derive(Debug)]
pub struct Mode(AtomicBool);

impl Default for Mode {
    fn default() -> Self {
        Mode(AtomicBool::new(true))
    }
}

impl Mode {
    /// Whether the module is in training mode.
    pub fn is_training(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets training (`true`) or evaluation (`false`) mode.
    pub fn set_training(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// A layer or a model: a forward function plus a visitor over its named state.
///
/// A model is an ordinary struct of layers. Its `visit` hands each field to
/// [`visit_child`] under the field's name, so parameter names come out dotted
/// (`encoder.fc.weight`), as in PyTorch's `state_dict`. Everything else — listing and
/// counting parameters, train/eval mode, freezing, the summary, saving and loading — comes
/// from [`ModuleExt`](crate::ModuleExt), implemented for every module.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor, Var};
/// use ferrograd::nn::{Linear, Module, ModuleExt, Slot, visit_child};
///
/// struct Mlp {
///     hidden: Linear,
///     out: Linear,
/// }
///
/// impl Module for Mlp {
///     fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
///         self.out.forward(self.hidden.forward(x).relu())
///     }
///     fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, f32>)) {
///         visit_child("hidden", &self.hidden, f);
///         visit_child("out", &self.out, f);
///     }
/// }
///
/// let mut rng = ferrograd::nn::init::rng(0);
/// let mlp = Mlp { hidden: Linear::new(4, 8, &mut rng), out: Linear::new(8, 2, &mut rng) };
/// assert_eq!(mlp.num_params(), 4 * 8 + 8 + 8 * 2 + 2);
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
/// let g = Graph::new();
/// assert_eq!(mlp.forward(g.constant(Tensor::zeros(&[3, 4]))).shape(), vec![3, 2]);
/// ```
///
/// # Deriving
/// `#[derive(Module)]` writes the impl from the struct: `visit` from its fields, `forward`
/// calling the struct's own (inherent) `forward` method, which you write. Every field is
/// visited under its name, so a new field's parameters cannot be forgotten:
/// - a `Param` is a parameter (`#[module(buffer)]`: a buffer, saved but not trained), a
///   [`Mode`] the train/eval switch, a [`LayerRng`](crate::LayerRng) a random stream;
/// - a `Vec` of them or of modules is visited as `name.0`, `name.1`, …, an `Option` under
///   its name when it is `Some`;
/// - any other field must be a module (a compile error otherwise), unless marked
///   `#[module(skip)]`.
///
/// The float type is the struct's type parameter bounded by `Float`, else
/// `#[module(float = f64)]`, else `f32`. Without an inherent `forward` the derive does not
/// compile (`multiple applicable items in scope`).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor, Var};
/// use ferrograd::nn::{Dropout, Linear, Module, ModuleExt, init};
///
/// #[derive(Module)]
/// struct Mlp {
///     hidden: Vec<Linear>,
///     drop: Dropout,
///     out: Linear,
///     #[module(skip)]
///     label: &'static str,
/// }
///
/// impl Mlp {
///     fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
///         let h = self.hidden.iter().fold(x, |h, layer| layer.forward(h).relu());
///         self.out.forward(self.drop.forward(h))
///     }
/// }
///
/// let mut rng = init::rng(0);
/// let mlp = Mlp {
///     hidden: vec![Linear::new(4, 8, &mut rng), Linear::new(8, 8, &mut rng)],
///     drop: Dropout::new(0.2, 0),
///     out: Linear::new(8, 2, &mut rng),
///     label: "mlp",
/// };
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[..2], ["hidden.0.weight", "hidden.0.bias"]);
/// assert_eq!(names.last().unwrap(), "out.bias");
/// mlp.eval();
/// let g = Graph::new();
/// assert_eq!(mlp.forward(g.constant(Tensor::zeros(&[3, 4]))).shape(), vec![3, 2]);
/// ```
pub trait Module<T: Float = f32> {
    /// The forward pass; parameters enter `x`'s graph with
    /// [`Graph::param`](ferrograd_autograd::Graph::param).
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T>;

    /// Calls `f` with the name and slot of every parameter, buffer and mode switch this
    /// module holds, its children's under their dotted names (see [`visit_child`]).
    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>));

    /// The forward pass over several inputs, one per tensor of a batch (a model of two
    /// inputs: an image and its metadata). `fit`, `evaluate` and `predict` call this with
    /// a batch's inputs. The default takes exactly one input and calls
    /// [`forward`](Module::forward); a model of several inputs overrides it, or, with
    /// `#[derive(Module)]`, says `#[module(inputs = 2)]` and writes an inherent `forward` of
    /// two inputs.
    ///
    /// # Panics
    /// The default, if `inputs` is not one input.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor, Var};
    /// use ferrograd::nn::{Linear, Module, ModuleExt, init};
    ///
    /// /// Two towers, joined: `inputs = 2` makes `forward_inputs` call the inherent
    /// /// `forward` with the two inputs.
    /// #[derive(Module)]
    /// #[module(inputs = 2)]
    /// struct TwoTower {
    ///     image: Linear,
    ///     meta: Linear,
    ///     head: Linear,
    /// }
    ///
    /// impl TwoTower {
    ///     fn forward<'g>(&self, image: Var<'g>, meta: Var<'g>) -> Var<'g> {
    ///         let h = self.image.forward(image).relu() + self.meta.forward(meta).relu();
    ///         self.head.forward(h)
    ///     }
    /// }
    ///
    /// let mut rng = init::rng(0);
    /// let model = TwoTower {
    ///     image: Linear::new(16, 8, &mut rng),
    ///     meta: Linear::new(3, 8, &mut rng),
    ///     head: Linear::new(8, 2, &mut rng),
    /// };
    /// let g = Graph::new();
    /// let (image, meta) = (g.constant(Tensor::zeros(&[4, 16])), g.constant(Tensor::zeros(&[4, 3])));
    /// assert_eq!(model.forward_inputs(&[image, meta]).shape(), vec![4, 2]);
    /// assert_eq!(model.num_params(), 16 * 8 + 8 + 3 * 8 + 8 + 8 * 2 + 2);
    /// ```
    #[track_caller]
    fn forward_inputs<'g>(&self, inputs: &[Var<'g, T>]) -> Var<'g, T> {
        match inputs {
            [x] => self.forward(*x),
            _ => panic!(
                "{}: forward takes one input, the batch has {}; a model of several inputs overrides Module::forward_inputs",
                self.name(),
                inputs.len()
            ),
        }
    }

    /// The layer's name in [`ModuleExt::summary`](crate::ModuleExt::summary) (the type name by default).
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }
}

/// Visits `child` with its names prefixed by `prefix.`; the building block of a composite
/// module's [`Module::visit`].
pub fn visit_child<T: Float, M: Module<T> + ?Sized>(
    prefix: &str,
    child: &M,
    f: &mut dyn FnMut(&str, Slot<'_, T>),
) {
    child.visit(&mut |name, slot| f(&format!("{prefix}.{name}"), slot));
}

/// `module`'s parameters and buffers with their dotted names, in visiting order
/// ([`ModuleExt::state`](crate::ModuleExt::state), and what a weights file holds).
pub(crate) fn state<T: Float, M: Module<T> + ?Sized>(module: &M) -> Vec<(String, Param<T>)> {
    let mut out = Vec::new();
    module.visit(&mut |name, slot| match slot {
        Slot::Param(p) | Slot::Buffer(p) => out.push((name.to_string(), p.clone())),
        Slot::Mode(_) | Slot::Rng(_) => {}
    });
    out
}
