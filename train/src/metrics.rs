//! Metrics with streaming state, as Keras' `keras.metrics`: each [`Metric`] is updated
//! batch by batch and gives its value over everything seen since the last reset, so an
//! epoch's outputs are never kept. The built-ins are [`Accuracy`] (top-1 and top-k),
//! [`BinaryAccuracy`], [`Mse`], [`Mae`], [`Precision`], [`Recall`] and [`F1`]; a metric of
//! your own implements the trait.
//!
//! ```
//! use ferrograd::autograd::Tensor;
//! use ferrograd::data::dataset::Targets;
//! use ferrograd::train::metrics::Accuracy;
//!
//! let mut accuracy = Accuracy::new();
//! // Two batches: 1 of 2 right, then 2 of 2.
//! accuracy.update(&Tensor::from_vec(vec![2.0f32, 0.1, 0.2, 0.9], &[2, 2]), &Targets::Classes(vec![0, 0]));
//! accuracy.update(&Tensor::from_vec(vec![0.5f32, 0.4, 0.0, 1.0], &[2, 2]), &Targets::Classes(vec![0, 1]));
//! assert_eq!(accuracy.result(), 0.75);
//! accuracy.reset();
//! assert!(accuracy.result().is_nan()); // nothing seen
//! ```

use ferrograd_autograd::{Float, Tensor};
use ferrograd_data::dataset::Targets;

/// A metric over a stream of batches: [`update`](Metric::update) with each batch's outputs
/// and targets, [`result`](Metric::result) for the value over all of them, and
/// [`reset`](Metric::reset) to start again. [`fit`](crate::fit) resets each metric before
/// every epoch and every validation pass; [`evaluate`](crate::evaluate) before it starts.
///
/// With several targets per batch (distillation), a metric sees the first, the labels.
///
/// A metric of your own, the mean of the first output:
///
/// ```
/// use ferrograd::autograd::{Float, Tensor};
/// use ferrograd::data::dataset::{Targets, TensorDataset};
/// use ferrograd::nn::{Linear, init};
/// use ferrograd::train::{Loss, Metric, evaluate, predict};
///
/// #[derive(Default)]
/// struct MeanOutput { sum: f64, seen: usize }
///
/// impl<T: Float> Metric<T> for MeanOutput {
///     fn name(&self) -> String { "mean_output".into() }
///     fn reset(&mut self) { *self = MeanOutput::default(); }
///     fn update(&mut self, outputs: &Tensor<T>, _: &Targets<T>) {
///         let rows = outputs.shape()[0];
///         let cols = outputs.numel() / rows.max(1);
///         self.sum += outputs.to_vec().iter().step_by(cols).map(|v| v.as_f64()).sum::<f64>();
///         self.seen += rows;
///     }
///     fn result(&self) -> f64 { self.sum / self.seen as f64 }
/// }
///
/// let model = Linear::<f32>::new(2, 1, &mut init::rng(0));
/// let data = TensorDataset::new(Tensor::zeros(&[5, 2]), Targets::Values(Tensor::zeros(&[5, 1])));
/// let logs = evaluate(&model, Loss::mse(), &data, &mut [&mut MeanOutput::default()], 2);
/// // Zero inputs: every output is the bias.
/// let bias = predict(&model, &Tensor::zeros(&[1, 2]), 1).to_vec()[0];
/// assert!((logs["mean_output"] - bias as f64).abs() < 1e-6);
/// ```
pub trait Metric<T: Float = f32> {
    /// The log name (`accuracy`; `fit` logs the validation value as `val_accuracy`).
    fn name(&self) -> String;

    /// Forgets every batch seen.
    fn reset(&mut self);

    /// Adds a batch: `outputs` (`[N, C]`, or `[N, 1]` / `[N]` for one output per row) and
    /// its `N` targets.
    fn update(&mut self, outputs: &Tensor<T>, targets: &Targets<T>);

    /// The value over every batch since the last reset; NaN before the first sample.
    fn result(&self) -> f64;
}

/// The batch's outputs as f64 rows: the row count and the row length. Panics naming
/// `metric` if the outputs and targets differ in sample count.
#[track_caller]
fn rows<T: Float>(metric: &str, outputs: &Tensor<T>, targets: &Targets<T>) -> (Vec<f64>, usize) {
    let n = outputs.shape().first().copied().unwrap_or(1);
    assert!(
        n == targets.len(),
        "{metric}: {n} outputs for {} targets",
        targets.len()
    );
    let out = outputs.to_vec().iter().map(|v| v.as_f64()).collect();
    (out, outputs.numel().checked_div(n).unwrap_or(0))
}

/// A running mean: the sum of per-sample values and their count.
#[derive(Clone, Copy, Debug, Default)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn add(&mut self, values: impl Iterator<Item = f64>) {
        for v in values {
            self.sum += v;
            self.count += 1;
        }
    }

    fn value(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }
}

/// The share of rows whose label is among the `k` largest outputs; `k = 1` is Keras'
/// sparse categorical accuracy. Outputs tied at the boundary count as in, as
/// `tf.math.in_top_k`.
///
/// ```
/// use ferrograd::autograd::Tensor;
/// use ferrograd::data::dataset::Targets;
/// use ferrograd::train::metrics::Accuracy;
/// let scores = Tensor::from_vec(vec![0.1f32, 0.5, 0.4, 0.9, 0.05, 0.06], &[2, 3]);
/// let labels = Targets::Classes(vec![2, 1]);
/// let mut top2 = Accuracy::top_k(2);
/// top2.update(&scores, &labels);
/// assert_eq!(top2.result(), 0.5); // class 2 is second in row 0; class 1 is last in row 1
/// assert_eq!(top2.name(), "top_2_accuracy");
/// ```
#[derive(Clone, Debug)]
pub struct Accuracy {
    k: usize,
    hits: Mean,
}

impl Default for Accuracy {
    fn default() -> Self {
        Self::new()
    }
}

impl Accuracy {
    /// Top-1 accuracy against class labels, logged as `accuracy`.
    pub fn new() -> Self {
        Accuracy::top_k(1)
    }

    /// Top-`k` accuracy, logged as `top_{k}_accuracy`.
    ///
    /// # Panics
    /// If `k` is 0.
    pub fn top_k(k: usize) -> Self {
        assert!(k > 0, "Accuracy::top_k: k must be positive");
        Accuracy {
            k,
            hits: Mean::default(),
        }
    }
}

impl Accuracy {
    /// The log name.
    pub fn name(&self) -> String {
        match self.k {
            1 => "accuracy".into(),
            k => format!("top_{k}_accuracy"),
        }
    }

    /// Forgets every batch seen.
    pub fn reset(&mut self) {
        self.hits = Mean::default();
    }

    /// Adds a batch, as [`Metric::update`].
    #[track_caller]
    pub fn update<T: Float>(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
        let name = self.name();
        let (out, cols) = rows(&name, outputs, targets);
        let k = self.k;
        let hits = out
            .chunks_exact(cols.max(1))
            .zip(targets.classes())
            .map(|(row, &label)| {
                assert!(
                    label < row.len(),
                    "{name}: label {label} for {} outputs per row",
                    row.len()
                );
                // The label is among the top k if fewer than k outputs beat it.
                f64::from(u8::from(
                    row.iter().filter(|&&v| v > row[label]).count() < k,
                ))
            });
        self.hits.add(hits);
    }

    /// The value over every batch since the last reset; NaN before the first sample.
    pub fn result(&self) -> f64 {
        self.hits.value()
    }
}

/// For one output per row (a logit): the share of rows where `output > 0` matches the
/// label (class 1, or a value of at least 0.5). Logged as `binary_accuracy`.
#[derive(Clone, Debug, Default)]
pub struct BinaryAccuracy {
    hits: Mean,
}

impl BinaryAccuracy {
    /// A binary accuracy with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }
}

impl BinaryAccuracy {
    /// The log name.
    pub fn name(&self) -> String {
        "binary_accuracy".into()
    }

    /// Forgets every batch seen.
    pub fn reset(&mut self) {
        self.hits = Mean::default();
    }

    /// Adds a batch, as [`Metric::update`].
    #[track_caller]
    pub fn update<T: Float>(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
        let (out, _) = rows("binary_accuracy", outputs, targets);
        let truth: Vec<bool> = match targets {
            Targets::Classes(c) => c.iter().map(|&c| c == 1).collect(),
            Targets::Values(v) => v.to_vec().iter().map(|v| v.as_f64() >= 0.5).collect(),
        };
        assert!(
            truth.len() == out.len(),
            "binary_accuracy: {} outputs for {} targets (one output per row expected)",
            out.len(),
            truth.len()
        );
        let hits = out
            .iter()
            .zip(&truth)
            .map(|(&o, &t)| f64::from(u8::from((o > 0.0) == t)));
        self.hits.add(hits);
    }

    /// The value over every batch since the last reset; NaN before the first sample.
    pub fn result(&self) -> f64 {
        self.hits.value()
    }
}

/// The mean of `error(output, target)` over every element, against value targets.
#[track_caller]
fn add_errors<T: Float>(
    mean: &mut Mean,
    name: &str,
    outputs: &Tensor<T>,
    targets: &Targets<T>,
    error: fn(f64) -> f64,
) {
    let (out, _) = rows(name, outputs, targets);
    let t = targets.values().to_vec();
    assert!(
        t.len() == out.len(),
        "{name}: outputs and targets differ in size ({} and {} elements)",
        out.len(),
        t.len()
    );
    mean.add(out.iter().zip(&t).map(|(a, b)| error(a - b.as_f64())));
}

/// Mean squared error against value targets, logged as `mse`.
#[derive(Clone, Debug, Default)]
pub struct Mse {
    error: Mean,
}

impl Mse {
    /// A mean squared error with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Mse {
    /// The log name.
    pub fn name(&self) -> String {
        "mse".into()
    }

    /// Forgets every batch seen.
    pub fn reset(&mut self) {
        self.error = Mean::default();
    }

    /// Adds a batch, as [`Metric::update`].
    #[track_caller]
    pub fn update<T: Float>(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
        add_errors(&mut self.error, "mse", outputs, targets, |d| d * d);
    }

    /// The value over every batch since the last reset; NaN before the first sample.
    pub fn result(&self) -> f64 {
        self.error.value()
    }
}

/// Mean absolute error against value targets, logged as `mae`.
#[derive(Clone, Debug, Default)]
pub struct Mae {
    error: Mean,
}

impl Mae {
    /// A mean absolute error with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Mae {
    /// The log name.
    pub fn name(&self) -> String {
        "mae".into()
    }

    /// Forgets every batch seen.
    pub fn reset(&mut self) {
        self.error = Mean::default();
    }

    /// Adds a batch, as [`Metric::update`].
    #[track_caller]
    pub fn update<T: Float>(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
        add_errors(&mut self.error, "mae", outputs, targets, f64::abs);
    }

    /// The value over every batch since the last reset; NaN before the first sample.
    pub fn result(&self) -> f64 {
        self.error.value()
    }
}

/// Per-class counts of the predicted classes against the labels: the state behind
/// [`Precision`], [`Recall`] and [`F1`].
#[derive(Clone, Debug, Default)]
struct Confusion {
    /// `[true positives, predicted positives, actual positives]` per class.
    counts: Vec<[usize; 3]>,
    seen: usize,
}

impl Confusion {
    /// Counts a batch: the predicted class is `output > 0` for one output per row, the
    /// largest output otherwise.
    #[track_caller]
    fn update<T: Float>(&mut self, name: &str, outputs: &Tensor<T>, targets: &Targets<T>) {
        let (out, cols) = rows(name, outputs, targets);
        let classes = cols.max(2);
        if self.counts.len() < classes {
            self.counts.resize(classes, [0; 3]);
        }
        for (row, &label) in out.chunks_exact(cols.max(1)).zip(targets.classes()) {
            let predicted = if cols == 1 {
                usize::from(row[0] > 0.0)
            } else {
                argmax(row)
            };
            assert!(
                label < self.counts.len(),
                "{name}: label {label} for {classes} classes"
            );
            self.counts[predicted][1] += 1;
            self.counts[label][2] += 1;
            if predicted == label {
                self.counts[label][0] += 1;
            }
            self.seen += 1;
        }
    }

    /// `score(precision, recall)` of class 1 for a binary problem, the mean over classes
    /// (macro) otherwise; NaN before the first sample.
    fn macro_score(&self, score: fn(f64, f64) -> f64) -> f64 {
        if self.seen == 0 {
            return f64::NAN;
        }
        let of_class = |&[tp, pp, ap]: &[usize; 3]| {
            let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
            score(ratio(tp, pp), ratio(tp, ap))
        };
        match self.counts.as_slice() {
            [_, positive] => of_class(positive),
            all => all.iter().map(of_class).sum::<f64>() / all.len() as f64,
        }
    }
}

fn argmax(row: &[f64]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// The three scores over [`Confusion`] counts, one type each as Keras has.
macro_rules! confusion_metric {
    ($(#[$doc:meta])* $name:ident, $log:literal, $score:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $name {
            counts: Confusion,
        }

        impl $name {
            #[doc = concat!("A `", $log, "` metric with nothing seen.")]
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl $name {
            /// The log name.
            pub fn name(&self) -> String {
                $log.into()
            }

            /// Forgets every batch seen.
            pub fn reset(&mut self) {
                self.counts = Confusion::default();
            }

            /// Adds a batch, as [`Metric::update`].
            #[track_caller]
            pub fn update<T: Float>(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
                self.counts.update($log, outputs, targets);
            }

            /// The value over every batch since the last reset; NaN before the first
            /// sample.
            pub fn result(&self) -> f64 {
                self.counts.macro_score($score)
            }
        }
    };
}

confusion_metric!(
    /// Precision of the predicted classes (`output > 0` for one output per row, the
    /// largest output otherwise) against class labels: of class 1 for a binary problem,
    /// the mean over classes (macro) otherwise. Logged as `precision`.
    Precision,
    "precision",
    |precision, _| precision
);

confusion_metric!(
    /// Recall, as [`Precision`]. Logged as `recall`.
    Recall,
    "recall",
    |_, recall| recall
);

confusion_metric!(
    /// The harmonic mean of precision and recall, as [`Precision`]. Logged as `f1`.
    F1,
    "f1",
    |p, r| if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
);

/// [`Metric`] for the built-ins, through their inherent methods (which need no float
/// type spelled out: `accuracy.result()`).
macro_rules! builtin_metrics {
    ($($name:ident),*) => {$(
        impl<T: Float> Metric<T> for $name {
            fn name(&self) -> String {
                $name::name(self)
            }

            fn reset(&mut self) {
                $name::reset(self)
            }

            #[track_caller]
            fn update(&mut self, outputs: &Tensor<T>, targets: &Targets<T>) {
                $name::update(self, outputs, targets)
            }

            fn result(&self) -> f64 {
                $name::result(self)
            }
        }
    )*};
}

builtin_metrics!(Accuracy, BinaryAccuracy, Mse, Mae, Precision, Recall, F1);

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric's value over `batches`, fed one by one.
    fn over<T: Float>(metric: &mut dyn Metric<T>, batches: &[(Tensor<T>, Targets<T>)]) -> f64 {
        metric.reset();
        for (out, y) in batches {
            metric.update(out, y);
        }
        metric.result()
    }

    #[test]
    fn classification_metrics_on_a_known_case() {
        // Predictions 1, 1, 0, 1 (by logit sign) against labels 1, 0, 0, 1:
        // tp = 2, fp = 1, fn = 0 → precision 2/3, recall 1, F1 0.8, binary accuracy 3/4.
        let batch = [(
            Tensor::from_vec(vec![2.0f64, 0.5, -1.0, 3.0], &[4, 1]),
            Targets::Classes(vec![1, 0, 0, 1]),
        )];
        assert!((over(&mut Precision::new(), &batch) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(over(&mut Recall::new(), &batch), 1.0);
        assert!((over(&mut F1::new(), &batch) - 0.8).abs() < 1e-12);
        assert_eq!(over(&mut BinaryAccuracy::new(), &batch), 0.75);
    }

    #[test]
    fn streaming_equals_one_batch() {
        // The same four rows, in one batch and in two: every metric agrees.
        let out = vec![2.0f32, 0.1, 0.2, 0.9, 0.5, 0.4, -1.0, 3.0];
        let labels = vec![0, 0, 1, 1];
        let whole = [(
            Tensor::from_vec(out.clone(), &[4, 2]),
            Targets::Classes(labels.clone()),
        )];
        let halves = [
            (
                Tensor::from_vec(out[..4].to_vec(), &[2, 2]),
                Targets::Classes(labels[..2].to_vec()),
            ),
            (
                Tensor::from_vec(out[4..].to_vec(), &[2, 2]),
                Targets::Classes(labels[2..].to_vec()),
            ),
        ];
        let metrics: Vec<Box<dyn Metric<f32>>> = vec![
            Box::new(Accuracy::new()),
            Box::new(Precision::new()),
            Box::new(Recall::new()),
            Box::new(F1::new()),
        ];
        for mut m in metrics {
            let (a, b) = (over(&mut *m, &whole), over(&mut *m, &halves));
            assert_eq!(a, b, "{}", m.name());
        }
    }

    #[test]
    fn top_k_counts_the_label_among_the_largest() {
        let batch = [(
            Tensor::from_vec(vec![0.1f32, 0.5, 0.4, 0.9, 0.05, 0.06], &[2, 3]),
            Targets::Classes(vec![2, 1]),
        )];
        assert_eq!(over(&mut Accuracy::new(), &batch), 0.0);
        assert_eq!(over(&mut Accuracy::top_k(2), &batch), 0.5);
        assert_eq!(over(&mut Accuracy::top_k(3), &batch), 1.0);
        assert_eq!(Accuracy::top_k(5).name(), "top_5_accuracy");
    }

    #[test]
    fn regression_metrics() {
        let batch = [(
            Tensor::from_vec(vec![1.0f64, 2.0, 4.0], &[3, 1]),
            Targets::Values(Tensor::from_vec(vec![1.0, 3.0, 2.0], &[3, 1])),
        )];
        assert_eq!(over(&mut Mse::new(), &batch), 5.0 / 3.0);
        assert_eq!(over(&mut Mae::new(), &batch), 1.0);
    }

    #[test]
    fn macro_averages_for_more_than_two_classes() {
        let batch = [(
            Tensor::from_vec(
                vec![1.0f64, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
                &[3, 3],
            ),
            Targets::Classes(vec![0, 1, 2]),
        )];
        // Class 0: p 1, r 1; class 1: p 1/2, r 1; class 2: p 0, r 0.
        assert!((over(&mut Precision::new(), &batch) - 0.5).abs() < 1e-12);
        assert!((over(&mut Recall::new(), &batch) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn nothing_seen_is_nan_and_bad_labels_are_named() {
        assert!(Mae::new().result().is_nan());
        assert!(F1::new().result().is_nan());
        let bad = std::panic::catch_unwind(|| {
            let mut acc = Accuracy::new();
            acc.update(
                &Tensor::from_vec(vec![0.0f32, 1.0], &[1, 2]),
                &Targets::Classes(vec![5]),
            );
        })
        .unwrap_err();
        let message = bad.downcast_ref::<String>().unwrap();
        assert_eq!(message, "accuracy: label 5 for 2 outputs per row");
    }
}
