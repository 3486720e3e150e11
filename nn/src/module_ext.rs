//! [`ModuleExt`]: everything built on a module's visitor (parameters, names, train/eval
//! mode, freezing, saving and loading, the summary table).

use std::cell::RefCell;
use std::fmt;

use ferrograd_autograd::{Float, Graph, Param, Tensor, Var};

use crate::module::{Module, Slot};
use crate::rng::{RngState, RngStateError};
/// What every [`Module`] can do through its visitor.
pub trait ModuleExt<T: Float>: Module<T> {
    /// Every parameter (buffers aside), in visiting order, frozen ones included, as
    /// PyTorch's `parameters()`. An optimizer built over them leaves a frozen parameter
    /// ([`ModuleExt::freeze`], `requires_grad` false) unchanged: it gets no gradient.
    fn parameters(&self) -> Vec<Param<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Every parameter with its dotted name, as [`ModuleExt::parameters`].
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
        crate::module::state(self)
    }

    /// The state of every random stream ([`Slot::Rng`]) with its dotted name
    /// (`1.rng`), in visiting order: what a training checkpoint saves beside the weights.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Dropout, Linear, Module, ModuleExt, Sequential, init};
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
    /// [`RngStateError::Missing`] or [`RngStateError::Unknown`] naming the stream, if
    /// `states` lacks one of this module's streams or names one it does not have; nothing
    /// is changed then.
    fn set_rng_states(&self, states: &[(String, RngState)]) -> Result<(), RngStateError> {
        let mine: Vec<String> = self.rng_states().into_iter().map(|(n, _)| n).collect();
        if let Some((extra, _)) = states.iter().find(|(n, _)| !mine.contains(n)) {
            return Err(RngStateError::Unknown {
                name: extra.clone(),
            });
        }
        if let Some(missing) = mine.iter().find(|n| states.iter().all(|(s, _)| s != *n)) {
            return Err(RngStateError::Missing {
                name: missing.clone(),
            });
        }
        self.visit(&mut |name, slot| {
            if let Slot::Rng(r) = slot {
                let (_, state) = states.iter().find(|(n, _)| n == name).expect("checked");
                r.set_state(*state);
            }
        });
        Ok(())
    }

    /// The number of parameter scalars, frozen ones included (Keras' "Total params";
    /// [`ModuleExt::summary`] also shows the trainable count).
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
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{Linear, Module, ModuleExt, init};
    /// let path = std::env::temp_dir().join("ferrograd-doc-linear.safetensors");
    /// let a = Linear::<f32>::new(3, 2, &mut init::rng(0));
    /// a.save(&path)?;
    /// let b = Linear::<f32>::new(3, 2, &mut init::rng(1));
    /// b.load(&path)?;
    /// assert_eq!(a.weight().value(), b.weight().value());
    /// # Ok::<(), ferrograd::nn::serialize::Error>(())
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

    /// Loads from the safetensors file at `path` as `options` say: under other names (a
    /// prefix map or a function), f32 into f64 or back, strictly or not (see
    /// [`LoadOptions`](crate::serialize::LoadOptions), which has an example). Nothing
    /// changes on an error.
    ///
    /// # Errors
    /// As [`ModuleExt::load`], and
    /// [`serialize::Error::RenameCollision`](crate::serialize::Error::RenameCollision).
    fn load_with(
        &self,
        path: impl AsRef<std::path::Path>,
        options: &crate::serialize::LoadOptions<'_>,
    ) -> crate::serialize::Result<crate::serialize::LoadReport> {
        crate::serialize::TensorFile::open(path)?.load_module_with(self, "", options)
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.parameters().iter().for_each(Param::zero_grad);
    }

    /// A Keras-style summary for an input of `input_shape`: a row per layer that ran, in
    /// the order it ran, with its name in the model (`encoder.fc (Linear)`), its output
    /// shape and parameter count; then the totals. Runs one forward pass without recording
    /// gradients. A module built of no ferrograd layers gets one row for itself.
    ///
    /// ```
    /// use ferrograd::autograd::Var;
    /// use ferrograd::nn::{Linear, Module, ModuleExt, ReLU, init};
    ///
    /// #[derive(Module)]
    /// struct Mlp {
    ///     hidden: Linear,
    ///     act: ReLU,
    ///     out: Linear,
    /// }
    /// impl Mlp {
    ///     fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
    ///         self.out.forward(self.act.forward(self.hidden.forward(x)))
    ///     }
    /// }
    /// let mut rng = init::rng(0);
    /// let mlp = Mlp { hidden: Linear::new(4, 8, &mut rng), act: ReLU, out: Linear::new(8, 2, &mut rng) };
    /// let summary = mlp.summary(&[5, 4]);
    /// let layers: Vec<&str> = summary.rows.iter().map(|r| r.layer.as_str()).collect();
    /// assert_eq!(layers, ["hidden (Linear)", "ReLU", "out (Linear)"]);
    /// assert_eq!(summary.rows[2].output, vec![5, 2]);
    /// assert_eq!(summary.total, 4 * 8 + 8 + 8 * 2 + 2);
    /// ```
    fn summary(&self, input_shape: &[usize]) -> Summary {
        let g = Graph::new();
        let _no_grad = g.no_grad();
        let previous = TRACE.with(|t| t.replace(Some(Vec::new())));
        let y = self.forward(g.constant(Tensor::zeros(input_shape)));
        let traced = TRACE.with(|t| t.replace(previous)).unwrap_or_default();
        if traced.is_empty() {
            let rows = vec![SummaryRow {
                layer: self.name(),
                output: y.shape(),
                params: self.num_params(),
            }];
            return Summary::new(rows, &self.parameters());
        }
        // Each layer's first slot, by identity, to the layer's dotted name in this model.
        let mut names = std::collections::HashMap::new();
        self.visit(&mut |name, slot| {
            let layer = name.rsplit_once('.').map_or("", |(prefix, _)| prefix);
            names
                .entry(anchor(&slot))
                .or_insert_with(|| layer.to_string());
        });
        let rows = traced
            .into_iter()
            .map(|t| SummaryRow {
                layer: match t.anchor.and_then(|a| names.get(&a)) {
                    Some(name) if !name.is_empty() => format!("{name} ({})", t.layer),
                    _ => t.layer,
                },
                output: t.output,
                params: t.params,
            })
            .collect();
        Summary::new(rows, &self.parameters())
    }
}

/// A layer's output as [`ModuleExt::summary`] saw it.
struct Traced {
    anchor: Option<Anchor>,
    layer: String,
    output: Vec<usize>,
    params: usize,
}

/// The identity of a module's slot: a parameter's id, or the address of a mode switch or
/// random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Anchor {
    Param(u64),
    Address(usize),
}

fn anchor<T: Float>(slot: &Slot<'_, T>) -> Anchor {
    match slot {
        Slot::Param(p) | Slot::Buffer(p) => Anchor::Param(p.id()),
        Slot::Mode(m) => Anchor::Address(std::ptr::from_ref(*m) as usize),
        Slot::Rng(r) => Anchor::Address(std::ptr::from_ref(*r) as usize),
    }
}

thread_local! {
    /// The layers run so far while a [`ModuleExt::summary`] runs on this thread.
    static TRACE: RefCell<Option<Vec<Traced>>> = const { RefCell::new(None) };
}

/// The number of rows noted so far while a [`ModuleExt::summary`] runs; `None` otherwise.
pub(crate) fn traced_rows() -> Option<usize> {
    TRACE.with(|t| t.try_borrow().ok().and_then(|t| t.as_ref().map(Vec::len)))
}

/// Returns `y`, first noting it as `layer`'s output when a [`ModuleExt::summary`] is
/// running: every ferrograd layer's `forward` ends here, so a struct model's summary has a
/// row per layer.
pub(crate) fn traced<'g, T: Float, M: Module<T> + ?Sized>(layer: &M, y: Var<'g, T>) -> Var<'g, T> {
    TRACE.with(|t| {
        if let Ok(mut trace) = t.try_borrow_mut()
            && let Some(rows) = trace.as_mut()
        {
            let (mut first, mut params) = (None, 0);
            layer.visit(&mut |_, slot| {
                first.get_or_insert(anchor(&slot));
                if let Slot::Param(p) = slot {
                    params += p.numel();
                }
            });
            rows.push(Traced {
                anchor: first,
                layer: layer.name(),
                output: y.shape(),
                params,
            });
        }
    });
    y
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
    pub(crate) fn new<T: Float>(rows: Vec<SummaryRow>, params: &[Param<T>]) -> Self {
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
            let params = grouped(row.params);
            writeln!(f, "{:<28}{:<24}{:>12}", row.layer, shape, params)?;
        }
        writeln!(f, "{rule}")?;
        writeln!(f, "Total params: {}", grouped(self.total))?;
        writeln!(f, "Trainable params: {}", grouped(self.trainable))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            grouped(self.total - self.trainable)
        )
    }
}

/// `n` with its thousands grouped by commas, as Keras prints counts: `34,826`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dropout, Linear, ReLU, Sequential, init, visit_child};

    #[test]
    fn counts_are_grouped_by_thousands() {
        let cases = [(0, "0"), (999, "999"), (1_000, "1,000"), (34_826, "34,826")];
        for (n, text) in cases {
            assert_eq!(grouped(n), text);
        }
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
    use ferrograd_autograd::Var;

    #[test]
    fn mismatched_rng_states_are_refused_naming_the_stream() {
        let model = Sequential::<f32>::new()
            .add(Linear::new(2, 2, &mut init::rng(0)))
            .add(Dropout::new(0.5, 1));
        let saved = model.rng_states();
        assert_eq!(
            model.set_rng_states(&[]),
            Err(crate::RngStateError::Missing {
                name: "1.rng".into()
            })
        );
        let mut extra = saved.clone();
        extra.push(("2.rng".into(), saved[0].1));
        assert_eq!(
            model.set_rng_states(&extra),
            Err(crate::RngStateError::Unknown {
                name: "2.rng".into()
            })
        );
        assert_eq!(model.set_rng_states(&saved), Ok(()));
    }

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

    /// A module of raw ops and a parameter: no ferrograd layer inside to note a row.
    struct Scale(Param<f32>);

    impl Module for Scale {
        fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
            x * x.graph().param(&self.0)
        }
        fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, f32>)) {
            f("scale", Slot::Param(&self.0));
        }
    }

    #[test]
    fn nested_stacks_expand_and_opaque_layers_get_a_row_of_their_own() {
        let mut rng = init::rng(0);
        let body = Sequential::new()
            .add(Linear::new(4, 300, &mut rng))
            .add(ReLU);
        let model = Sequential::new()
            .add(body)
            .add(Scale(Param::new(ferrograd_autograd::Tensor::ones(&[300]))))
            .add(Linear::new(300, 2, &mut rng));
        let s = model.summary(&[1, 4]);
        let rows: Vec<(&str, usize)> = s
            .rows
            .iter()
            .map(|r| (r.layer.as_str(), r.params))
            .collect();
        assert_eq!(
            rows,
            [
                ("0.0 (Linear)", 1500),
                ("ReLU", 0),
                ("1 (Scale)", 300),
                ("2 (Linear)", 602)
            ]
        );
        assert!(s.to_string().contains("Total params: 2,402\n"), "{s}");
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
                    layer: "1 (Linear)".into(),
                    output: vec![5, 3],
                    params: 27
                },
            ]
        );
        let text = s.to_string();
        assert!(
            text.contains("1 (Linear)                  [5, 3]                            27"),
            "{text}"
        );
        assert!(
            text.ends_with("Total params: 27\nTrainable params: 27\nNon-trainable params: 0\n")
        );
    }
}
