//! Loss functions, as `torch.nn.functional`'s, with mean, sum or no reduction.
//!
//! Losses on logits go through `log_softmax` / `softplus`, so they stay finite for logits of
//! ±1e4 (tested). Class labels are `usize` indices, one per row.
//!
//! ```
//! use ferrograd::autograd::{Graph, Tensor};
//! use ferrograd::nn::loss::{self, Reduction};
//! let g = Graph::<f64>::new();
//! let logits = g.var(Tensor::from_vec(vec![2.0, 0.0, 0.0, 0.0, 3.0, 0.0], &[2, 3]));
//! let ce = loss::cross_entropy(logits, &[0, 1], &loss::CrossEntropy::new());
//! ce.backward();
//! assert!(ce.item() < 0.2);
//! let mse = loss::mse_loss(logits, g.constant(Tensor::zeros(&[2, 3])), Reduction::Sum);
//! assert_eq!(mse.item(), 13.0);
//! ```
//!
//! The files hold one topic each, all re-exported here: regression (MSE, L1, Huber, smooth
//! L1), binary cross-entropy (on probabilities, on logits, with `pos_weight`),
//! classification (cross-entropy, NLL, soft targets, distillation), embedding (cosine
//! embedding, margin ranking, triplet margin) and likelihood (Gaussian and Poisson NLL, KL).

mod binary;
mod classification;
mod embedding;
mod likelihood;
mod regression;

pub use binary::{
    binary_cross_entropy, binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_pos_weight,
};
pub use classification::{
    CrossEntropy, cross_entropy, cross_entropy_soft, distillation_loss, nll_loss,
};
pub use embedding::{cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss};
pub use likelihood::{gaussian_nll_loss, kl_div, poisson_nll_loss};
pub use regression::{huber_loss, l1_loss, mse_loss, smooth_l1_loss};

use ferrograd_autograd::{Float, Var};

/// How per-element losses are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The mean (the default, as PyTorch).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one loss per element (per sample for the classification losses).
    None,
}

impl Reduction {
    fn apply<'g, T: Float>(self, losses: Var<'g, T>) -> Var<'g, T> {
        match self {
            Reduction::Mean => losses.mean(),
            Reduction::Sum => losses.sum(),
            Reduction::None => losses,
        }
    }
}

#[track_caller]
fn same_shape<T: Float>(op: &str, input: Var<'_, T>, target: Var<'_, T>) {
    let (a, b) = (input.shape(), target.shape());
    assert!(
        a == b,
        "{op}: input of shape {a:?} and target of shape {b:?} differ"
    );
}

/// Panics naming `op`, `what` and the class unless every weight is finite and
/// non-negative: the check of cross-entropy's class weights and BCE's `pos_weight`.
#[track_caller]
fn check_class_weights(op: &str, what: &str, weights: &[f64]) {
    if let Some((k, bad)) = weights
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        panic!("{op}: {what} {bad} of class {k} must be finite and non-negative");
    }
}

/// Test helpers shared by the loss files.
#[cfg(test)]
mod test_helpers {
    use ferrograd_autograd::{GradcheckOptions, Tensor, Var, gradcheck};

    /// gradcheck, and gradgradcheck if `twice`, with PyTorch's default tolerances.
    pub(super) fn check<F>(f: F, inputs: &[Tensor<f64>], twice: bool)
    where
        F: for<'g> Fn(&[Var<'g, f64>]) -> Var<'g, f64>,
    {
        let o = GradcheckOptions::default();
        gradcheck(&f, inputs, &o).unwrap();
        if twice {
            ferrograd_autograd::gradgradcheck(&f, inputs, &o).unwrap();
        }
    }

    pub(super) fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), shape)
    }
}
