//! [`Loss`]: what [`fit`](crate::fit) minimises and [`evaluate`](crate::evaluate) reports,
//! a function of the model's outputs and a batch's targets.

use std::rc::Rc;

use ferrograd_autograd::{Float, Tensor, Var};
use ferrograd_data::dataset::Targets;
use ferrograd_nn::loss::{self, CrossEntropy, Reduction};

/// `loss(outputs, targets)`, the function a [`Loss`] holds: every target of the batch.
type LossFn<T> = Rc<dyn for<'g> Fn(Var<'g, T>, &[Targets<T>]) -> Var<'g, T>>;

/// A training loss: a function of the model's outputs and a batch's targets, recorded on
/// the outputs' graph.
///
/// Cross-entropy is the one of the hand loop, [`CrossEntropy`] (class weights, label
/// smoothing), converted: `fit` and `evaluate` take anything that is `Into<Loss>`, so
/// `CrossEntropy::new()` goes where a `Loss` does.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::data::dataset::Targets;
/// use ferrograd::nn::loss::{self, CrossEntropy};
/// use ferrograd::train::Loss;
///
/// let g = Graph::<f32>::new();
/// let logits = g.constant(Tensor::from_vec(vec![2.0, 0.5, 0.1, 1.0], &[2, 2]));
/// let smoothed = CrossEntropy::new().label_smoothing(0.1);
/// // The same number in a hand loop and through the `Loss` that `fit` uses.
/// let hand = loss::cross_entropy(logits, &[0, 1], &smoothed).item();
/// let fit = Loss::from(smoothed).value(logits, &[Targets::Classes(vec![0, 1])]).item();
/// assert_eq!(hand, fit);
/// ```
pub struct Loss<T: Float = f32> {
    name: &'static str,
    f: LossFn<T>,
}

impl<T: Float> Clone for Loss<T> {
    fn clone(&self) -> Self {
        Loss {
            name: self.name,
            f: Rc::clone(&self.f),
        }
    }
}

impl<T: Float> std::fmt::Debug for Loss<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loss").field("name", &self.name).finish()
    }
}

impl<T: Float> From<CrossEntropy> for Loss<T> {
    /// Cross-entropy of logits against class labels (Keras' sparse categorical), with the
    /// options' class weights, smoothing and reduction; named `cross_entropy`.
    fn from(options: CrossEntropy) -> Self {
        Loss::custom("cross_entropy", move |out, y| {
            loss::cross_entropy(out, y.classes(), &options)
        })
    }
}

impl<T: Float> From<&CrossEntropy> for Loss<T> {
    fn from(options: &CrossEntropy) -> Self {
        options.clone().into()
    }
}

impl<T: Float> From<&Loss<T>> for Loss<T> {
    fn from(loss: &Loss<T>) -> Self {
        loss.clone()
    }
}

impl<T: Float> Loss<T> {
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
                    Tensor::from_vec(c.iter().map(|&c| T::from_f64(c as f64)).collect(), &shape)
                }
                Targets::Values(v) => v.clone(),
            };
            let target = out.graph().constant(target);
            loss::binary_cross_entropy_with_logits(out, target, Reduction::Mean)
        })
    }

    /// Knowledge distillation (Hinton et al.; Keras' `Distiller`): for a batch whose first
    /// target is the class labels and whose second is a teacher's logits,
    /// `alpha · cross_entropy(outputs, labels) + (1 − alpha) · distillation_loss(outputs,
    /// teacher, temperature)` (see [`loss::distillation_loss`], which scales by `T²`).
    ///
    /// # Panics
    /// When applied to a batch without the two targets, with the message naming them;
    /// here, if `alpha` is not in `[0, 1]` or the temperature is not positive.
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// use ferrograd::data::dataset::{Targets, TensorDataset};
    /// use ferrograd::nn::{Linear, ModuleExt, init};
    /// use ferrograd::optim::{Adam, Optimizer};
    /// use ferrograd::train::{FitOptions, Loss, fit, predict};
    ///
    /// let x = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.5], &[4, 2]);
    /// let teacher = Linear::new(2, 3, &mut init::rng(1));
    /// let teacher_logits = predict(&teacher, &x, 4);
    /// let labels: Vec<usize> = teacher_logits.argmax(-1).into_iter().collect();
    /// let data = TensorDataset::new(x.clone(), Targets::Classes(labels.clone()))
    ///     .with_target(Targets::Values(teacher_logits.clone()));
    ///
    /// let student = Linear::new(2, 3, &mut init::rng(2));
    /// let mut opt = Optimizer::new(student.parameters(), Adam::new(0.05));
    /// let options = FitOptions::new().epochs(200).batch_size(4);
    /// fit(&student, Loss::distillation(2.0, 0.1), &mut opt, &data, options, &mut []).unwrap();
    /// // The student learned the teacher's logits (up to a shift), not only its classes.
    /// let student_logits = predict(&student, &x, 4);
    /// let gap = (&student_logits - &teacher_logits).to_vec();
    /// let spread = |row: &[f32]| row.iter().fold(f32::MIN, |a, &b| a.max(b)) - row.iter().fold(f32::MAX, |a, &b| a.min(b));
    /// assert!(gap.chunks(3).all(|row| spread(row) < 0.4), "{gap:?}");
    /// assert_eq!(student_logits.argmax(-1).into_iter().collect::<Vec<usize>>(), labels);
    /// ```
    pub fn distillation(temperature: f64, alpha: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&alpha),
            "Loss::distillation: alpha must be in [0, 1], got {alpha}"
        );
        assert!(
            temperature > 0.0,
            "Loss::distillation: temperature must be positive, got {temperature}"
        );
        Loss::custom_targets("distillation", move |out, targets| {
            let [labels, teacher, ..] = targets else {
                panic!(
                    "Loss::distillation: a batch needs two targets, the labels and the teacher's logits; it has {}",
                    targets.len()
                )
            };
            let g = out.graph();
            let hard = loss::cross_entropy(out, labels.classes(), &CrossEntropy::new());
            let soft =
                loss::distillation_loss(out, g.constant(teacher.values().clone()), temperature);
            hard * g.scalar(T::from_f64(alpha)) + soft * g.scalar(T::from_f64(1.0 - alpha))
        })
    }

    /// Any loss of the outputs and the batch's first (often only) target, returning a
    /// scalar.
    pub fn custom(
        name: &'static str,
        f: impl for<'g> Fn(Var<'g, T>, &Targets<T>) -> Var<'g, T> + 'static,
    ) -> Self {
        Loss::custom_targets(name, move |out, targets| f(out, &targets[0]))
    }

    /// Any loss of the outputs and every target of the batch (see
    /// [`TensorDataset::with_target`](ferrograd_data::dataset::TensorDataset::with_target)),
    /// returning a scalar.
    pub fn custom_targets(
        name: &'static str,
        f: impl for<'g> Fn(Var<'g, T>, &[Targets<T>]) -> Var<'g, T> + 'static,
    ) -> Self {
        Loss {
            name,
            f: Rc::new(f),
        }
    }

    /// The loss's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The loss of `outputs` against a batch's `targets`, recorded on the outputs' graph.
    pub fn value<'g>(&self, outputs: Var<'g, T>, targets: &[Targets<T>]) -> Var<'g, T> {
        (self.f)(outputs, targets)
    }
}
