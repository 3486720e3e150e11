//! The [`Module`] trait, its one visitor, and everything built on that visitor:
//! parameters, names, train/eval mode, freezing, and the summary table.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrograd_autograd::{Float, Graph, Param, Tensor, Var};

use crate::rng::{LayerRng, RngState};

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
/// [`ModuleExt::train`] and [`ModuleExt::eval`].
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
/// from [`ModuleExt`], implemented for every module.
///
/// ```
/// use ferrograd_autograd::{Graph, Tensor, Var};
/// use ferrograd_nn::{Linear, Module, ModuleExt, Slot, visit_child};
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
/// let mut rng = ferrograd_nn::init::rng(0);
/// let mlp = Mlp { hidden: Linear::new(4, 8, &mut rng), out: Linear::new(8, 2, &mut rng) };
/// assert_eq!(mlp.num_params(), 4 * 8 + 8 + 8 * 2 + 2);
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
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

    /// The layer's name in [`ModuleExt::summary`] (the type name by default).
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

/// What every [`Module`] can do through its visitor.
pub trait ModuleExt<T: Float>: Module<T> {
    /// The trainable parameters, in visiting order.
    fn parameters(&self) -> Vec<Param<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The trainable parameters with their dotted names.
    fn named_parameters(&self) -> Vec<(String, Param<T>)> {
        let mut out = Vec::new();
        self.visit(&mut |name, slot| {
            if let Slot::Param(p) = slot {
                out.push((name.to_string(), p.clone()));
            }
        });
        out
    }

    /// Parameters and buffers with their names: everything a checkpoint holds.
    fn state(&self) -> Vec<(String, Param<T>)> {
        let mut out = Vec::new();
        self.visit(&mut |name, slot| match slot {
            Slot::Param(p) | Slot::Buffer(p) => out.push((name.to_string(), p.clone())),
            Slot::Mode(_) | Slot::Rng(_) => {}
        });
        out
    }

    /// The state of every random stream ([`Slot::Rng`]) with its dotted name
    /// (`1.rng`), in visiting order: what a training checkpoint saves beside the weights.
    ///
    /// ```
    /// use ferrograd_autograd::{Graph, Tensor};
    /// use ferrograd_nn::{Dropout, Linear, Module, ModuleExt, Sequential, init};
    /// let model = Sequential::<f32>::new()
    ///     .add(Linear::new(4, 4, &mut init::rng(0)))
    ///     .add(Dropout::new(0.5, 1));
    /// let saved = model.rng_states();
    /// assert_eq!(saved[0].0, "1.rng");
    /// let g = Graph::new();
    /// let x = g.constant(Tensor::ones(&[2, 4]));
    /// let first = model.forward(x).value();
    /// model.set_rng_states(&saved).unwrap();
    /// assert_eq!(model.forward(x).value(), first); // the same dropout mask again
    /// ```
    fn rng_states(&self) -> Vec<(String, RngState)> {
        let mut out = Vec::new();
        self.visit(&mut |name, slot| {
            if let Slot::Rng(r) = slot {
                out.push((name.to_string(), r.state()));
            }
        });
        out
    }

    /// Restores the random streams from [`ModuleExt::rng_states`].
    ///
    /// # Errors
    /// Naming the stream, if `states` lacks one of this module's streams or names one it
    /// does not have; nothing is changed then.
    fn set_rng_states(&self, states: &[(String, RngState)]) -> Result<(), String> {
        let mine: Vec<String> = self.rng_states().into_iter().map(|(n, _)| n).collect();
        if let Some((extra, _)) = states.iter().find(|(n, _)| !mine.contains(n)) {
            return Err(format!("the module has no random stream `{extra}`"));
        }
        if let Some(missing) = mine.iter().find(|n| states.iter().all(|(s, _)| s != *n)) {
            return Err(format!("no state for the random stream `{missing}`"));
        }
        self.visit(&mut |name, slot| {
            if let Slot::Rng(r) = slot {
                let (_, state) = states.iter().find(|(n, _)| n == name).expect("checked");
                r.set_state(*state);
            }
        });
        Ok(())
    }

    /// The number of trainable scalars.
    fn num_params(&self) -> usize {
        self.parameters().iter().map(Param::numel).sum()
    }

    /// Switches every layer to training mode (dropout active, batch statistics).
    fn train(&self) {
        self.visit(&mut |_, slot| {
            if let Slot::Mode(m) = slot {
                m.set_training(true);
            }
        });
    }

    /// Switches every layer to evaluation mode (dropout off, running statistics).
    fn eval(&self) {
        self.visit(&mut |_, slot| {
            if let Slot::Mode(m) = slot {
                m.set_training(false);
            }
        });
    }

    /// Stops gradients to every parameter (for fine-tuning: freeze a backbone, train a
    /// head). Frozen parameters enter graphs as constants.
    fn freeze(&self) {
        self.parameters()
            .iter()
            .for_each(|p| p.set_requires_grad(false));
    }

    /// Undoes [`ModuleExt::freeze`].
    fn unfreeze(&self) {
        self.parameters()
            .iter()
            .for_each(|p| p.set_requires_grad(true));
    }

    /// Saves every parameter and buffer to `path` as safetensors (see [`crate::serialize`]),
    /// atomically.
    ///
    /// # Errors
    /// [`serialize::Error::Io`](crate::serialize::Error::Io) if the file cannot be written.
    fn save(&self, path: impl AsRef<std::path::Path>) -> crate::serialize::Result<()> {
        crate::serialize::save(self, path)
    }

    /// Loads every parameter and buffer from the safetensors file at `path`, strictly: the
    /// file must hold exactly this module's names, shapes and element type. On an error the
    /// module is unchanged.
    ///
    /// # Errors
    /// A [`serialize::Error`](crate::serialize::Error) naming the file and the parameter or
    /// byte offset.
    ///
    /// ```
    /// use ferrograd_autograd::{Graph, Tensor};
    /// use ferrograd_nn::{Linear, Module, ModuleExt, init};
    /// let path = std::env::temp_dir().join("ferrograd-doc-linear.safetensors");
    /// let a = Linear::<f32>::new(3, 2, &mut init::rng(0));
    /// a.save(&path)?;
    /// let b = Linear::<f32>::new(3, 2, &mut init::rng(1));
    /// b.load(&path)?;
    /// assert_eq!(a.weight().value(), b.weight().value());
    /// # Ok::<(), ferrograd_nn::serialize::Error>(())
    /// ```
    fn load(&self, path: impl AsRef<std::path::Path>) -> crate::serialize::Result<()> {
        crate::serialize::load(self, path, true).map(|_| ())
    }

    /// Loads the tensors of the file that match this module's names, leaving the others
    /// (PyTorch's `strict=False`); the report lists what was missing and what was extra.
    ///
    /// # Errors
    /// As [`ModuleExt::load`], except for missing and unexpected names.
    fn load_non_strict(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> crate::serialize::Result<crate::serialize::LoadReport> {
        crate::serialize::load(self, path, false)
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.parameters().iter().for_each(Param::zero_grad);
    }

    /// A Keras-style summary: output shape for an input of `input_shape` and parameter
    /// counts, in one row for the whole module ([`Sequential::summary`] gives a row per
    /// layer). Runs one forward pass without recording gradients.
    fn summary(&self, input_shape: &[usize]) -> Summary {
        let g = Graph::new();
        let _no_grad = g.no_grad();
        let y = self.forward(g.constant(Tensor::zeros(input_shape)));
        let rows = vec![SummaryRow {
            layer: self.name(),
            output: y.shape(),
            params: self.num_params(),
        }];
        Summary::new(rows, &self.parameters())
    }
}

impl<T: Float, M: Module<T> + ?Sized> ModuleExt<T> for M {}

/// One row of a [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// The layer's name.
    pub layer: String,
    /// Its output shape.
    pub output: Vec<usize>,
    /// Its parameter count.
    pub params: usize,
}

/// The result of [`ModuleExt::summary`]; `Display` prints the Keras-style table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// One row per layer.
    pub rows: Vec<SummaryRow>,
    /// All parameters.
    pub total: usize,
    /// Parameters that are not frozen.
    pub trainable: usize,
}

impl Summary {
    fn new<T: Float>(rows: Vec<SummaryRow>, params: &[Param<T>]) -> Self {
        Summary {
            rows,
            total: params.iter().map(Param::numel).sum(),
            trainable: params
                .iter()
                .filter(|p| p.requires_grad())
                .map(Param::numel)
                .sum(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = "-".repeat(64);
        writeln!(f, "{:<28}{:<24}{:>12}", "Layer", "Output shape", "Params")?;
        writeln!(f, "{rule}")?;
        for row in &self.rows {
            let shape = format!("{:?}", row.output);
            writeln!(f, "{:<28}{:<24}{:>12}", row.layer, shape, row.params)?;
        }
        writeln!(f, "{rule}")?;
        writeln!(f, "Total params: {}", self.total)?;
        writeln!(f, "Trainable params: {}", self.trainable)?;
        writeln!(f, "Non-trainable params: {}", self.total - self.trainable)
    }
}

/// Layers applied one after another, as `torch.nn.Sequential` / Keras' `Sequential`.
/// Parameter names are the layer's index: `0.weight`, `2.bias`.
///
/// ```
/// use ferrograd_autograd::{Graph, Tensor};
/// use ferrograd_nn::{Linear, ModuleExt, ReLU, Sequential, Module};
/// let mut rng = ferrograd_nn::init::rng(0);
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(3, 16, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(16, 1, &mut rng));
/// let g = Graph::new();
/// let y = model.forward(g.constant(Tensor::zeros(&[5, 3])));
/// assert_eq!(y.shape(), vec![5, 1]);
/// let summary = model.summary(&[5, 3]);
/// assert_eq!(summary.total, 3 * 16 + 16 + 16 + 1);
/// println!("{summary}");
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T> + Send + Sync>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack (its forward is the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer (Keras' `model.add`; not an arithmetic `+`).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + Send + Sync + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True if there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.layers.iter().fold(x, |x, layer| layer.forward(x))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        for (i, layer) in self.layers.iter().enumerate() {
            visit_child(&i.to_string(), layer.as_ref(), f);
        }
    }
}

impl<T: Float> Sequential<T> {
    /// The forward pass, recording one summary row per layer.
    fn traced<'g>(&self, mut x: Var<'g, T>, rows: &mut Vec<SummaryRow>) -> Var<'g, T> {
        for layer in &self.layers {
            x = layer.forward(x);
            let mut params = 0;
            layer.visit(&mut |_, slot| {
                if let Slot::Param(p) = slot {
                    params += p.numel();
                }
            });
            rows.push(SummaryRow {
                layer: layer.name(),
                output: x.shape(),
                params,
            });
        }
        x
    }

    /// [`ModuleExt::summary`] with one row per layer.
    pub fn summary(&self, input_shape: &[usize]) -> Summary {
        let g = Graph::new();
        let _no_grad = g.no_grad();
        let mut rows = Vec::new();
        self.traced(g.constant(Tensor::zeros(input_shape)), &mut rows);
        Summary::new(rows, &self.parameters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dropout, Linear, ReLU, init};

    struct Encoder {
        fc: Linear,
        drop: Dropout,
    }

    impl Module for Encoder {
        fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
            self.drop.forward(self.fc.forward(x))
        }
        fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, f32>)) {
            visit_child("fc", &self.fc, f);
            visit_child("drop", &self.drop, f);
        }
    }

    struct Model {
        encoder: Encoder,
        head: Sequential,
    }

    impl Module for Model {
        fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
            self.head.forward(self.encoder.forward(x))
        }
        fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, f32>)) {
            visit_child("encoder", &self.encoder, f);
            visit_child("head", &self.head, f);
        }
    }

    fn model() -> Model {
        let mut rng = init::rng(0);
        Model {
            encoder: Encoder {
                fc: Linear::new(4, 8, &mut rng),
                drop: Dropout::new(0.5, 1),
            },
            head: Sequential::new().add(ReLU).add(Linear::new(8, 3, &mut rng)),
        }
    }

    #[test]
    fn nested_names_are_dotted_paths() {
        let names: Vec<String> = model()
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "encoder.fc.weight",
                "encoder.fc.bias",
                "head.1.weight",
                "head.1.bias"
            ]
        );
    }

    #[test]
    fn eval_and_train_reach_nested_layers() {
        let m = model();
        let g = Graph::new();
        let x = g.constant(Tensor::ones(&[16, 4]));
        m.eval();
        let a = m.forward(x).value();
        let b = m.forward(x).value();
        assert_eq!(a, b, "dropout is off in eval mode");
        m.train();
        assert_ne!(m.forward(x).value(), m.forward(x).value());
    }

    #[test]
    fn frozen_parameters_get_no_gradient() {
        let m = model();
        m.encoder.freeze();
        let g = Graph::new();
        m.forward(g.constant(Tensor::ones(&[2, 4])))
            .sum()
            .backward();
        assert!(m.encoder.fc.weight().grad().is_none());
        assert!(m.head.parameters()[0].grad().is_some());
        let s = m.summary(&[2, 4]);
        assert_eq!((s.total, s.trainable), (4 * 8 + 8 + 8 * 3 + 3, 8 * 3 + 3));
        m.encoder.unfreeze();
        assert_eq!(m.summary(&[2, 4]).trainable, s.total);
    }

    #[test]
    fn sequential_summary_has_a_row_per_layer() {
        let m = model();
        let s = m.head.summary(&[5, 8]);
        assert_eq!(
            s.rows,
            vec![
                SummaryRow {
                    layer: "ReLU".into(),
                    output: vec![5, 8],
                    params: 0
                },
                SummaryRow {
                    layer: "Linear".into(),
                    output: vec![5, 3],
                    params: 27
                },
            ]
        );
        let text = s.to_string();
        assert!(
            text.contains("Linear                      [5, 3]                            27"),
            "{text}"
        );
        assert!(
            text.ends_with("Total params: 27\nTrainable params: 27\nNon-trainable params: 0\n")
        );
    }
}
