//! [`Loss`]: what [`fit`](crate::fit) minimises and [`evaluate`](crate::evaluate) reports,
//! a function of the model's outputs and a batch's targets.

use ferrograd_autograd::{Float, Tensor, Var};
use ferrograd_data::dataset::Targets;
use ferrograd_nn::loss::{self, CrossEntropy, Reduction};

/// `loss(outputs, targets)`, the function a [`Loss`] holds.
type LossFn<T> = Box<dyn for<'g> Fn(Var<'g, T>, &Targets<T>) -> Var<'g, T>>;

/// A training loss: a function of the model's outputs and a batch's targets.
pub struct Loss<T: Float = f32> {
    name: &'static str,
    f: LossFn<T>,
}

impl<T: Float> Loss<T> {
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
                    Tensor::from_vec(c.iter().map(|&c| T::from_f64(c as f64)).collect(), &shape)
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
        f: impl for<'g> Fn(Var<'g, T>, &Targets<T>) -> Var<'g, T> + 'static,
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

    /// The loss of `outputs` against `targets`, recorded on their graph.
    pub(crate) fn apply<'g>(&self, outputs: Var<'g, T>, targets: &Targets<T>) -> Var<'g, T> {
        (self.f)(outputs, targets)
    }
}
