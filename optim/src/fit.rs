//! Keras-style training: [`fit`], [`evaluate`] and [`predict`], with a [`History`] of the
//! per-epoch logs and [`Callback`]s.

use std::collections::BTreeMap;
use std::path::Path;

use ferrograd_autograd::{Graph, Tensor, Var};
use ferrograd_data::dataset::{DataLoader, Dataset, Targets, TensorDataset};
use ferrograd_nn::loss::{self, CrossEntropy, Reduction};
use ferrograd_nn::{Module, ModuleExt};

use crate::metrics::Metric;
use crate::optimizer::{Optimizer, Rule};

/// One epoch's logs: `loss`, the metrics, `val_`-prefixed validation values, and `lr`.
pub type Logs = BTreeMap<String, f64>;

/// An error that ends training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error("the loss is {value} at epoch {epoch}, batch {batch}: training stopped")]
    NonFinite {
        /// The epoch (from 0).
        epoch: usize,
        /// The batch within the epoch (from 0).
        batch: usize,
        /// The loss value.
        value: f64,
    },
    /// A callback failed (e.g. a checkpoint could not be written).
    #[error("callback at epoch {epoch}: {message}")]
    Callback {
        /// The epoch.
        epoch: usize,
        /// What went wrong.
        message: String,
    },
}

/// `loss(outputs, targets)`, the function a [`Loss`] holds.
type LossFn = Box<dyn for<'g> Fn(Var<'g, f32>, &Targets<f32>) -> Var<'g, f32>>;

/// A training loss: a function of the model's outputs and a batch's targets.
pub struct Loss {
    name: &'static str,
    f: LossFn,
}

impl Loss {
    /// Cross-entropy of logits against class labels (Keras' sparse categorical).
    pub fn cross_entropy() -> Self {
        Loss::custom("cross_entropy", |out, y| {
            loss::cross_entropy(out, y.classes(), &CrossEntropy::new())
        })
    }

    /// Mean squared error against value targets.
    pub fn mse() -> Self {
        Loss::custom("mse", |out, y| {
            let target = out.graph().constant(y.values().clone());
            loss::mse_loss(out, target, Reduction::Mean)
        })
    }

    /// Binary cross-entropy of logits `[N, 1]` against 0/1 labels or values.
    pub fn bce_with_logits() -> Self {
        Loss::custom("bce_with_logits", |out, y| {
            let shape = out.shape();
            let target = match y {
                Targets::Classes(c) => {
                    Tensor::from_vec(c.iter().map(|&c| c as f32).collect(), &shape)
                }
                Targets::Values(v) => v.clone(),
            };
            let target = out.graph().constant(target);
            loss::binary_cross_entropy_with_logits(out, target, Reduction::Mean)
        })
    }

    /// Any loss: `f(outputs, targets)` returning a scalar.
    pub fn custom(
        name: &'static str,
        f: impl for<'g> Fn(Var<'g, f32>, &Targets<f32>) -> Var<'g, f32> + 'static,
    ) -> Self {
        Loss {
            name,
            f: Box::new(f),
        }
    }

    /// The loss's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// What a callback may read and change at the end of an epoch.
pub struct Context<'a> {
    model: &'a dyn Module<f32>,
    lr: f64,
    stop: bool,
}

impl Context<'_> {
    /// The model being trained.
    pub fn model(&self) -> &dyn Module<f32> {
        self.model
    }

    /// The optimizer's learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the optimizer's learning rate from the next batch on.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Ends training after this epoch.
    pub fn stop_training(&mut self) {
        self.stop = true;
    }
}

/// Hooks into [`fit`], as Keras callbacks.
pub trait Callback {
    /// Before epoch `epoch` (a schedule sets the learning rate here).
    fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut Context<'_>) -> Result<(), String> {
        Ok(())
    }

    /// After epoch `epoch`, with its logs.
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut Context<'_>,
    ) -> Result<(), String>;
}

/// Where validation data comes from.
#[derive(Clone, Debug, Default)]
pub enum Validation {
    /// No validation.
    #[default]
    None,
    /// The last `fraction` of the training data, before shuffling (Keras'
    /// `validation_split`).
    Split(f64),
    /// A separate dataset.
    Data(TensorDataset<f32>),
}

/// The options of [`fit`], Keras' keyword arguments.
#[derive(Clone, Debug)]
pub struct FitOptions {
    epochs: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    validation: Validation,
    metrics: Vec<Metric>,
    verbose: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl FitOptions {
    /// One epoch, batches of 32, shuffled with seed 0, no validation, no metrics, quiet.
    pub fn new() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: Some(0),
            validation: Validation::None,
            metrics: Vec::new(),
            verbose: false,
        }
    }

    /// The number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The batch size.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        assert!(batch_size > 0, "fit: batch_size must be positive");
        self.batch_size = batch_size;
        self
    }

    /// Shuffles every epoch from `seed` (`None`: keep the data order).
    pub fn shuffle(mut self, seed: Option<u64>) -> Self {
        self.shuffle = seed;
        self
    }

    /// The validation data.
    ///
    /// # Panics
    /// For a split fraction not in `(0, 1)`.
    pub fn validation(mut self, validation: Validation) -> Self {
        if let Validation::Split(f) = validation {
            assert!(
                f > 0.0 && f < 1.0,
                "fit: validation split must be in (0, 1), got {f}"
            );
        }
        self.validation = validation;
        self
    }

    /// Metrics to log, for training and validation.
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        self.metrics = metrics.to_vec();
        self
    }

    /// Prints a progress bar per epoch with the loss and metrics (hidden when the output is
    /// not a terminal).
    pub fn verbose(mut self, yes: bool) -> Self {
        self.verbose = yes;
        self
    }
}

/// The per-epoch logs of a [`fit`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<Logs>,
}

impl History {
    /// The values of `key` (`"loss"`, `"val_accuracy"`, ...) per epoch (NaN where absent).
    pub fn get(&self, key: &str) -> Vec<f64> {
        self.epochs
            .iter()
            .map(|l| l.get(key).copied().unwrap_or(f64::NAN))
            .collect()
    }

    /// Every key logged.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.epochs.iter().flat_map(|l| l.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The history as CSV: an `epoch` column and one column per key.
    pub fn to_csv(&self) -> String {
        let keys = self.keys();
        let mut out = format!("epoch,{}\n", keys.join(","));
        for (e, logs) in self.epochs.iter().enumerate() {
            let row: Vec<String> = keys
                .iter()
                .map(|k| logs.get(k).map_or(String::new(), |v| v.to_string()))
                .collect();
            out.push_str(&format!("{e},{}\n", row.join(",")));
        }
        out
    }

    /// The history as JSON, `{"loss": [..], "val_loss": [..]}` as Keras' `history.history`
    /// (NaN and infinities become `null`).
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .keys()
            .into_iter()
            .map(|k| {
                let values = self
                    .get(&k)
                    .into_iter()
                    .map(|v| serde_json::json!(v))
                    .collect();
                (k, serde_json::Value::Array(values))
            })
            .collect();
        serde_json::to_string_pretty(&map).expect("a map of numbers serialises")
    }

    /// Writes [`History::to_csv`] or [`History::to_json`] to `path`, by its extension
    /// (`.json`, else CSV).
    ///
    /// # Errors
    /// The I/O error, if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        let text = if path.extension().is_some_and(|e| e == "json") {
            self.to_json()
        } else {
            self.to_csv()
        };
        std::fs::write(path, text)
    }
}

impl History {
    /// Plots the curves to an SVG file a browser opens: one panel per quantity (`loss`,
    /// each metric, `lr`), its training curve in blue and its `val_` curve in red.
    ///
    /// # Errors
    /// A message naming the file if it cannot be written, or if there is nothing to plot.
    ///
    /// ```
    /// use ferrograd_optim::{History, Logs};
    /// let mut history = History::default();
    /// for (loss, val) in [(1.0, 1.2), (0.5, 0.7), (0.3, 0.6)] {
    ///     history.epochs.push(Logs::from([("loss".to_string(), loss), ("val_loss".to_string(), val)]));
    /// }
    /// let path = std::env::temp_dir().join("ferrograd-doc-history.svg");
    /// history.plot(&path).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
    /// ```
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<(), String> {
        use plotters::prelude::*;
        let path = path.as_ref();
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let keys = self.keys();
        let panels: Vec<&String> = keys.iter().filter(|k| !k.starts_with("val_")).collect();
        if panels.is_empty() || self.epochs.is_empty() {
            return Err(err(&"the history is empty"));
        }
        let height = 260 * panels.len() as u32;
        let root = SVGBackend::new(path, (720, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let areas = root.split_evenly((panels.len(), 1));
        for (area, key) in areas.iter().zip(panels) {
            let series: Vec<(String, Vec<f64>, RGBColor)> =
                [(key.clone(), BLUE), (format!("val_{key}"), RED)]
                    .into_iter()
                    .filter(|(k, _)| keys.contains(k))
                    .map(|(k, c)| {
                        let v = self.get(&k);
                        (k, v, c)
                    })
                    .collect();
            let finite = series
                .iter()
                .flat_map(|(_, v, _)| v.iter().copied())
                .filter(|v| v.is_finite());
            let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            let (lo, hi) = if lo.is_finite() {
                (lo, if hi > lo { hi } else { lo + 1.0 })
            } else {
                (0.0, 1.0)
            };
            let pad = (hi - lo) * 0.05;
            let epochs = self.epochs.len().max(2) - 1;
            let mut chart = ChartBuilder::on(area)
                .caption(key.as_str(), ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..epochs as f64, (lo - pad)..(hi + pad))
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .draw()
                .map_err(|e| err(&e))?;
            for (name, values, color) in series {
                let points = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(e, &v)| (e as f64, v));
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(|e| err(&e))?
                    .label(name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))
    }
}

/// Runs the model over `data` without gradients; returns the outputs and the mean loss.
fn run_eval<M: Module<f32> + ?Sized>(
    model: &M,
    loss: &Loss,
    data: &TensorDataset<f32>,
    batch_size: usize,
) -> (Tensor<f32>, f64) {
    let g = Graph::new();
    let mut outputs = Vec::new();
    let mut total = 0.0;
    for batch in DataLoader::new(data.clone(), batch_size).iter() {
        g.clear();
        let _no_grad = g.no_grad();
        let out = model.forward(g.constant(batch.x.clone()));
        total += f64::from(loss_value(loss, out, &batch.y)) * batch.y.len() as f64;
        outputs.push(out.value());
    }
    (concat_rows(&outputs), total / data.len().max(1) as f64)
}

fn loss_value(loss: &Loss, out: Var<'_, f32>, y: &Targets<f32>) -> f32 {
    (loss.f)(out, y).item()
}

fn concat_rows(parts: &[Tensor<f32>]) -> Tensor<f32> {
    if parts.is_empty() {
        return Tensor::zeros(&[0]);
    }
    let views: Vec<_> = parts.iter().map(Tensor::view).collect();
    Tensor::from_array(
        ferrograd_autograd::ndarray::concatenate(ferrograd_autograd::ndarray::Axis(0), &views)
            .expect("same row shape"),
    )
}

/// The loss and metrics of `model` on `data`, in evaluation mode (Keras' `evaluate`).
///
/// ```
/// use ferrograd_autograd::Tensor;
/// use ferrograd_data::dataset::{Targets, TensorDataset};
/// use ferrograd_nn::{Linear, init};
/// use ferrograd_optim::{Loss, Metric, evaluate};
/// let model = Linear::<f32>::new(2, 3, &mut init::rng(0));
/// let data = TensorDataset::new(Tensor::zeros(&[4, 2]), Targets::Classes(vec![0, 1, 2, 0]));
/// let logs = evaluate(&model, &Loss::cross_entropy(), &data, &[Metric::Accuracy], 2);
/// assert!(logs["loss"] > 0.0 && logs.contains_key("accuracy"));
/// ```
pub fn evaluate<M: Module<f32> + ?Sized>(
    model: &M,
    loss: &Loss,
    data: &TensorDataset<f32>,
    metrics: &[Metric],
    batch_size: usize,
) -> Logs {
    model.eval();
    let (outputs, mean_loss) = run_eval(model, loss, data, batch_size);
    let mut logs = Logs::new();
    logs.insert("loss".into(), mean_loss);
    for m in metrics {
        logs.insert(m.name(), m.compute(&outputs, data.targets()));
    }
    logs
}

/// The model's outputs for `inputs` (`[N, ..]`), in evaluation mode, in batches (Keras'
/// `predict`).
pub fn predict<M: Module<f32> + ?Sized>(
    model: &M,
    inputs: &Tensor<f32>,
    batch_size: usize,
) -> Tensor<f32> {
    model.eval();
    let n = inputs.shape()[0];
    let data = TensorDataset::new(inputs.clone(), Targets::Classes(vec![0; n]));
    let g = Graph::new();
    let mut outputs = Vec::new();
    for batch in DataLoader::new(data, batch_size).iter() {
        g.clear();
        let _no_grad = g.no_grad();
        outputs.push(model.forward(g.constant(batch.x)).value());
    }
    concat_rows(&outputs)
}

/// Trains `model` on `train` with `optimizer` (Keras' `fit`): each epoch runs every batch
/// forward, backward and through the optimizer in training mode, logs the mean `loss`,
/// the metrics, `lr`, and (with validation data) `val_loss` and `val_<metric>` in
/// evaluation mode, then calls the callbacks, which may change the learning rate or stop.
///
/// # Errors
/// [`TrainError::NonFinite`] naming the epoch and batch where the loss became NaN or
/// infinite (the parameters are left as they were before that batch's update);
/// [`TrainError::Callback`] if a callback fails.
///
/// ```
/// use ferrograd_data::split::train_test_split;
/// use ferrograd_data::synthetic::make_moons;
/// use ferrograd_nn::{Linear, ModuleExt, ReLU, Sequential, init};
/// use ferrograd_optim::{Adam, FitOptions, Loss, Metric, Optimizer, Validation, fit};
///
/// // make_moons lists one class after the other: split at random, not Keras-style from the end.
/// let data = make_moons(400, 0.1, 0);
/// let split = train_test_split(400, 0.2, 0, None);
/// let mut rng = init::rng(0);
/// let model = Sequential::<f32>::new()
///     .add(Linear::new(2, 32, &mut rng))
///     .add(ReLU)
///     .add(Linear::new(32, 2, &mut rng));
/// let mut opt = Optimizer::new(model.parameters(), Adam::new(0.02));
/// let options = FitOptions::new()
///     .epochs(40)
///     .batch_size(32)
///     .metrics(&[Metric::Accuracy])
///     .validation(Validation::Data(data.subset(&split.test)));
/// let history = fit(&model, &Loss::cross_entropy(), &mut opt, &data.subset(&split.train), options, &mut []).unwrap();
/// assert!(*history.get("val_accuracy").last().unwrap() > 0.9);
/// ```
pub fn fit<M: Module<f32>, R: Rule<f32>>(
    model: &M,
    loss: &Loss,
    optimizer: &mut Optimizer<R, f32>,
    train: &TensorDataset<f32>,
    options: FitOptions,
    callbacks: &mut [&mut dyn Callback],
) -> Result<History, TrainError> {
    let (train, validation) = match &options.validation {
        Validation::None => (train.clone(), None),
        Validation::Data(d) => (train.clone(), Some(d.clone())),
        Validation::Split(f) => {
            let n = train.len();
            let split_at = ((1.0 - f) * n as f64) as usize;
            let all: Vec<usize> = (0..n).collect();
            (
                train.subset(&all[..split_at]),
                Some(train.subset(&all[split_at..])),
            )
        }
    };
    let mut loader = DataLoader::new(train.clone(), options.batch_size);
    if let Some(seed) = options.shuffle {
        loader = loader.shuffle(seed);
    }
    let mut history = History::default();
    let g = Graph::new();
    for epoch in 0..options.epochs {
        let mut ctx = Context {
            model,
            lr: optimizer.lr(),
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            cb.on_epoch_begin(epoch, &mut ctx)
                .map_err(|message| TrainError::Callback { epoch, message })?;
        }
        optimizer.set_lr(ctx.lr);
        model.train();
        let bar = progress(&options, loader.len(), epoch);
        let (mut total, mut seen, mut outputs) = (0.0, 0, Vec::new());
        for (b, batch) in loader.epoch(epoch as u64).enumerate() {
            g.clear();
            let out = model.forward(g.constant(batch.x.clone()));
            let l = (loss.f)(out, &batch.y);
            let value = f64::from(l.item());
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch,
                    batch: b,
                    value,
                });
            }
            l.backward();
            if !options.metrics.is_empty() {
                outputs.push(out.value());
            }
            g.clear();
            optimizer.step();
            optimizer.zero_grad();
            total += value * batch.y.len() as f64;
            seen += batch.y.len();
            if let Some(bar) = &bar {
                bar.set_message(format!("loss {:.4}", total / seen as f64));
                bar.inc(1);
            }
        }
        let mut logs = Logs::new();
        logs.insert("loss".into(), total / seen.max(1) as f64);
        logs.insert("lr".into(), optimizer.lr());
        if !options.metrics.is_empty() {
            // Training metrics over the epoch's outputs, in the order the batches came.
            let order = loader.order(epoch as u64);
            let targets = train.targets().select(&order[..seen]);
            let outputs = concat_rows(&outputs);
            for m in &options.metrics {
                logs.insert(m.name(), m.compute(&outputs, &targets));
            }
        }
        if let Some(val) = &validation {
            for (k, v) in evaluate(model, loss, val, &options.metrics, options.batch_size) {
                logs.insert(format!("val_{k}"), v);
            }
        }
        if let Some(bar) = bar {
            let text: Vec<String> = logs.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
            bar.finish_with_message(text.join("  "));
        }
        history.epochs.push(logs);
        let logs = history.epochs.last().expect("just pushed");
        let mut ctx = Context {
            model,
            lr: optimizer.lr(),
            stop: false,
        };
        for cb in callbacks.iter_mut() {
            cb.on_epoch_end(epoch, logs, &mut ctx)
                .map_err(|message| TrainError::Callback { epoch, message })?;
        }
        optimizer.set_lr(ctx.lr);
        if ctx.stop {
            break;
        }
    }
    Ok(history)
}

fn progress(options: &FitOptions, batches: usize, epoch: usize) -> Option<indicatif::ProgressBar> {
    if !options.verbose {
        return None;
    }
    let bar = indicatif::ProgressBar::new(batches as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix((epoch + 1).to_string());
    Some(bar)
}
