//! Metrics over a whole epoch's outputs: accuracy (top-1, top-k), binary accuracy, MSE,
//! MAE, precision, recall and F1.

use ferrograd_autograd::{Float, Tensor};
use ferrograd_data::dataset::Targets;

/// A metric, named in logs as Keras names it (`accuracy`, `val_accuracy`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The share of rows whose largest output is the label.
    Accuracy,
    /// The share of rows whose label is among the `k` largest outputs (outputs tied at the
    /// boundary count as in, as `tf.math.in_top_k`).
    TopK(usize),
    /// For one output per row (a logit): the share where `output > 0` matches the label
    /// (class 1, or a value of at least 0.5).
    BinaryAccuracy,
    /// Mean squared error against value targets.
    Mse,
    /// Mean absolute error against value targets.
    Mae,
    /// Precision of the predicted classes: of class 1 for a binary problem, the mean over
    /// classes (macro) otherwise.
    Precision,
    /// Recall, as [`Metric::Precision`].
    Recall,
    /// The harmonic mean of precision and recall, as [`Metric::Precision`].
    F1,
}

impl Metric {
    /// The log name.
    pub fn name(&self) -> String {
        match self {
            Metric::Accuracy => "accuracy".into(),
            Metric::TopK(k) => format!("top_{k}_accuracy"),
            Metric::BinaryAccuracy => "binary_accuracy".into(),
            Metric::Mse => "mse".into(),
            Metric::Mae => "mae".into(),
            Metric::Precision => "precision".into(),
            Metric::Recall => "recall".into(),
            Metric::F1 => "f1".into(),
        }
    }

    /// The metric of `outputs` (`[N, C]`, or `[N, 1]` / `[N]` for one output per row)
    /// against `targets`.
    ///
    /// # Panics
    /// If the target kind does not suit the metric (classes for the classification metrics,
    /// values for MSE/MAE) or the sample counts differ.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use ferrograd::data::dataset::Targets;
    /// use ferrograd::train::Metric;
    /// let logits = Tensor::from_vec(vec![2.0f32, 0.1, 0.2, 0.9, 0.5, 0.4], &[3, 2]);
    /// let labels = Targets::Classes(vec![0, 1, 1]);
    /// assert!((Metric::Accuracy.compute(&logits, &labels) - 2.0 / 3.0).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn compute<T: Float>(&self, outputs: &Tensor<T>, targets: &Targets<T>) -> f64 {
        let n = outputs.shape().first().copied().unwrap_or(1);
        assert!(
            n == targets.len(),
            "{}: {} outputs for {} targets",
            self.name(),
            n,
            targets.len()
        );
        if n == 0 {
            return f64::NAN;
        }
        let cols = outputs.numel() / n;
        let out: Vec<f64> = outputs.to_vec().iter().map(|v| v.as_f64()).collect();
        let rows = || out.chunks_exact(cols);
        match self {
            Metric::Mse | Metric::Mae => {
                let t: Vec<f64> = targets
                    .values()
                    .to_vec()
                    .iter()
                    .map(|v| v.as_f64())
                    .collect();
                assert!(
                    t.len() == out.len(),
                    "{}: outputs and targets differ in size",
                    self.name()
                );
                let err = out.iter().zip(&t).map(|(a, b)| match self {
                    Metric::Mse => (a - b).powi(2),
                    _ => (a - b).abs(),
                });
                err.sum::<f64>() / out.len() as f64
            }
            Metric::BinaryAccuracy => {
                let truth: Vec<bool> = match targets {
                    Targets::Classes(c) => c.iter().map(|&c| c == 1).collect(),
                    Targets::Values(v) => v.to_vec().iter().map(|v| v.as_f64() >= 0.5).collect(),
                };
                let hits = out
                    .iter()
                    .zip(&truth)
                    .filter(|&(&o, &t)| (o > 0.0) == t)
                    .count();
                hits as f64 / truth.len() as f64
            }
            Metric::Accuracy | Metric::TopK(_) => {
                let k = if let Metric::TopK(k) = self { *k } else { 1 };
                let hits = rows()
                    .zip(targets.classes())
                    .filter(|&(row, &label)| {
                        // The label is among the top k if fewer than k outputs beat it.
                        row.iter().filter(|&&v| v > row[label]).count() < k
                    })
                    .count();
                hits as f64 / n as f64
            }
            Metric::Precision | Metric::Recall | Metric::F1 => {
                let predicted: Vec<usize> = if cols == 1 {
                    out.iter().map(|&o| usize::from(o > 0.0)).collect()
                } else {
                    rows().map(argmax).collect()
                };
                let classes = cols.max(2);
                let per_class = |c: usize| {
                    let tp = predicted
                        .iter()
                        .zip(targets.classes())
                        .filter(|&(&p, &t)| p == c && t == c)
                        .count() as f64;
                    let pp = predicted.iter().filter(|&&p| p == c).count() as f64;
                    let ap = targets.classes().iter().filter(|&&t| t == c).count() as f64;
                    let precision = if pp > 0.0 { tp / pp } else { 0.0 };
                    let recall = if ap > 0.0 { tp / ap } else { 0.0 };
                    let f1 = if precision + recall > 0.0 {
                        2.0 * precision * recall / (precision + recall)
                    } else {
                        0.0
                    };
                    match self {
                        Metric::Precision => precision,
                        Metric::Recall => recall,
                        _ => f1,
                    }
                };
                if classes == 2 {
                    per_class(1)
                } else {
                    (0..classes).map(per_class).sum::<f64>() / classes as f64
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_metrics_on_a_known_case() {
        // Predictions 1, 1, 0, 1 (by logit sign) against labels 1, 0, 0, 1:
        // tp = 2, fp = 1, fn = 0 → precision 2/3, recall 1, F1 0.8, binary accuracy 3/4.
        let logits = Tensor::from_vec(vec![2.0f64, 0.5, -1.0, 3.0], &[4, 1]);
        let labels = Targets::Classes(vec![1, 0, 0, 1]);
        assert!((Metric::Precision.compute(&logits, &labels) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Metric::Recall.compute(&logits, &labels), 1.0);
        assert!((Metric::F1.compute(&logits, &labels) - 0.8).abs() < 1e-12);
        assert_eq!(Metric::BinaryAccuracy.compute(&logits, &labels), 0.75);
    }

    #[test]
    fn top_k_counts_the_label_among_the_largest() {
        let out = Tensor::from_vec(vec![0.1f32, 0.5, 0.4, 0.9, 0.05, 0.06], &[2, 3]);
        let labels = Targets::Classes(vec![2, 1]);
        assert_eq!(Metric::Accuracy.compute(&out, &labels), 0.0);
        assert_eq!(Metric::TopK(2).compute(&out, &labels), 0.5);
        assert_eq!(Metric::TopK(3).compute(&out, &labels), 1.0);
        assert_eq!(Metric::TopK(5).name(), "top_5_accuracy");
    }

    #[test]
    fn regression_metrics() {
        let out = Tensor::from_vec(vec![1.0f64, 2.0, 4.0], &[3, 1]);
        let t = Targets::Values(Tensor::from_vec(vec![1.0, 3.0, 2.0], &[3, 1]));
        assert_eq!(Metric::Mse.compute(&out, &t), 5.0 / 3.0);
        assert_eq!(Metric::Mae.compute(&out, &t), 1.0);
    }

    #[test]
    fn macro_averages_for_more_than_two_classes() {
        let out = Tensor::from_vec(
            vec![1.0f64, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
            &[3, 3],
        );
        let labels = Targets::Classes(vec![0, 1, 2]);
        // Class 0: p 1, r 1; class 1: p 1/2, r 1; class 2: p 0, r 0.
        assert!((Metric::Precision.compute(&out, &labels) - 0.5).abs() < 1e-12);
        assert!((Metric::Recall.compute(&out, &labels) - 2.0 / 3.0).abs() < 1e-12);
    }
}
