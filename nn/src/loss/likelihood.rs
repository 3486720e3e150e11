//! Likelihoods and divergences: Gaussian and Poisson negative log-likelihood, KL divergence.

use super::{Reduction, same_shape};
use ferrograd_autograd::ndarray::Dimension;
use ferrograd_autograd::{Float, Var};

/// Gaussian negative log-likelihood, as `F.gaussian_nll_loss` with PyTorch's defaults
/// `full = False`, `eps = 1e−6`: `½(ln v + (x − y)²/v)` elementwise, for predicted mean `x`,
/// target `y` and predicted variance `v`. As in PyTorch, `v` is clamped to at least `eps`
/// in value only: the gradient passes to `v` as if unclamped.
///
/// `var` has the input's shape, or that shape with a last axis of 1 (one variance per row,
/// broadcast), as PyTorch's.
///
/// # Panics
/// If the input and target shapes differ, `var`'s shape is neither, or a variance is
/// negative (PyTorch raises too).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, gaussian_nll_loss};
/// let g = Graph::<f64>::new();
/// let x = g.var(Tensor::from_vec(vec![1.0, 0.0], &[2]));
/// let y = g.constant(Tensor::from_vec(vec![3.0, 0.0], &[2]));
/// let v = g.var(Tensor::from_vec(vec![2.0, 1.0], &[2]));
/// let l = gaussian_nll_loss(x, y, v, Reduction::Sum);
/// assert!((l.item() - 0.5 * (2f64.ln() + 2.0)).abs() < 1e-12);
/// ```
#[track_caller]
pub fn gaussian_nll_loss<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    var: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    let op = "gaussian_nll_loss";
    same_shape(op, input, target);
    let (s, v) = (input.shape(), var.shape());
    let last_one = !s.is_empty()
        && v.len() == s.len()
        && v[..s.len() - 1] == s[..s.len() - 1]
        && v[s.len() - 1] == 1;
    assert!(
        v == s || last_one,
        "{op}: var of shape {v:?} for input {s:?} (must be the input's shape or end in 1)"
    );
    let vv = var.value();
    if let Some((at, bad)) = vv.view().indexed_iter().find(|&(_, &x)| x < T::zero()) {
        panic!("{op}: var {bad} at {:?} is negative", at.slice());
    }
    let eps = T::from_f64(1e-6);
    // Clamped in value only, as PyTorch's `var.clamp_(min=eps)` under `no_grad`.
    let fixed = var.detach();
    let var = var + (fixed.clamp(eps, T::infinity()) - fixed);
    let losses = (var.ln() + (input - target).square() / var) * T::from_f64(0.5);
    reduction.apply(losses)
}

/// Poisson negative log-likelihood, as `F.poisson_nll_loss` with `full = False`,
/// `eps = 1e−8`: `exp(x) − y·x` when `log_input` (the input is the log-rate), else
/// `x − y·ln(x + eps)` (the input is the rate).
///
/// # Panics
/// If the shapes differ.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, poisson_nll_loss};
/// let g = Graph::<f64>::new();
/// let x = g.var(Tensor::from_vec(vec![0.0, 2.0], &[2]));
/// let y = g.constant(Tensor::from_vec(vec![1.0, 3.0], &[2]));
/// let l = poisson_nll_loss(x, y, true, Reduction::Sum);
/// assert!((l.item() - (1.0 + 2f64.exp() - 6.0)).abs() < 1e-12);
/// ```
#[track_caller]
pub fn poisson_nll_loss<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    log_input: bool,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("poisson_nll_loss", input, target);
    let losses = if log_input {
        input.exp() - target * input
    } else {
        input - target * input.add_scalar(T::from_f64(1e-8)).ln()
    };
    reduction.apply(losses)
}

/// Kullback–Leibler divergence `Σ target·(ln target − input)` of log-probabilities `input`
/// from probabilities `target`, as `F.kl_div(input, target, reduction="batchmean")` with
/// [`Reduction::Mean`] meaning the sum divided by the batch size (the mathematically
/// correct KL; PyTorch's plain "mean" divides by every element). `0·ln 0` counts as 0.
///
/// A zero target contributes 0 whatever the input, even an input of −∞ (a log-probability
/// of 0), where PyTorch computes `0·(0 − (−∞))` and returns NaN.
///
/// # Panics
/// If the shapes differ or the input is 0-D.
#[track_caller]
pub fn kl_div<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("kl_div", input, target);
    let shape = input.shape();
    assert!(
        !shape.is_empty(),
        "kl_div: input must have a batch dimension, got shape []"
    );
    let g = input.graph();
    let zero = g.scalar(T::zero());
    let positive = target.gt(zero);
    // ln of the target only where it is positive, so 0·ln 0 contributes 0 (and no NaN).
    let log_t = target.where_(positive, g.scalar(T::one())).ln();
    let terms = (target * (log_t - input)).where_(positive, zero);
    match reduction {
        Reduction::Mean => terms.sum() / g.scalar(T::from_usize(shape[0])),
        Reduction::Sum => terms.sum(),
        Reduction::None => terms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::test_helpers::{check, t};
    use ferrograd_autograd::testing::{self, check_gradgrads, check_grads, tensor_of};
    use ferrograd_autograd::{Graph, Tensor};
    use proptest::prelude::*;

    #[test]
    fn kl_div_treats_zero_targets_as_zero() {
        let g = Graph::<f64>::new();
        let target = g.constant(Tensor::from_vec(vec![0.0, 1.0], &[1, 2]));
        let log_p = g.var(Tensor::from_vec(vec![0.5f64.ln(), 0.5f64.ln()], &[1, 2]));
        let kl = kl_div(log_p, target, Reduction::Mean);
        assert!((kl.item() - 2f64.ln()).abs() < 1e-12);
        kl.backward();
        assert_eq!(log_p.grad().unwrap().to_vec(), vec![0.0, -1.0]);
    }

    #[test]
    fn likelihood_losses_grads_and_gradgrads_match_finite_diff() {
        let x = t(&[0.5, -1.2, 2.0, 1.5, 0.25, -0.75], &[2, 3]);
        let y = t(&[0.1, 0.3, -1.0, 1.25, 0.25, 0.5], &[2, 3]);
        let var = t(&[0.5, 1.2, 2.0, 0.3, 0.25, 0.75], &[2, 3]);
        let counts = t(&[1.0, 0.0, 4.0, 3.0, 2.0, 0.0], &[2, 3]);
        let rates = x.map(|v| v.abs() + 0.1);
        for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let three = [x.clone(), y.clone(), var.clone()];
            check(|v| gaussian_nll_loss(v[0], v[1], v[2], r), &three, true);
            let per_row = [x.clone(), y.clone(), t(&[0.5, 1.2], &[2, 1])];
            check(|v| gaussian_nll_loss(v[0], v[1], v[2], r), &per_row, true);
            for (log_input, input) in [(true, &x), (false, &rates)] {
                check(
                    |v| poisson_nll_loss(v[0], v[1], log_input, r),
                    &[input.clone(), counts.clone()],
                    true,
                );
            }
        }
    }

    #[test]
    fn gaussian_nll_loss_clamps_var_in_value_only() {
        let g = Graph::<f64>::new();
        let x = g.var(t(&[1.0], &[1]));
        let y = g.constant(t(&[0.0], &[1]));
        let v = g.var(t(&[0.0], &[1]));
        let l = gaussian_nll_loss(x, y, v, Reduction::Sum);
        assert_eq!(l.item(), 0.5 * (1e-6f64.ln() + 1e6));
        l.backward();
        // d/dv ½(ln v + 1/v) at the clamped v = 1e-6, passed to v unclamped.
        assert!((v.grad().unwrap().to_vec()[0] - 0.5 * (1e6 - 1e12)).abs() < 1e-3);
    }

    #[test]
    #[should_panic(
        expected = "gaussian_nll_loss: var of shape [2, 2] for input [2, 3] (must be the input's shape or end in 1)"
    )]
    fn gaussian_nll_loss_panics_on_a_var_shape_mismatch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2, 3]));
        gaussian_nll_loss(x, x, g.var(Tensor::ones(&[2, 2])), Reduction::Mean);
    }

    #[test]
    #[should_panic(expected = "gaussian_nll_loss: var -1 at [1] is negative")]
    fn gaussian_nll_loss_panics_on_a_negative_var() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2]));
        gaussian_nll_loss(x, x, g.var(t(&[1.0, -1.0], &[2])), Reduction::Mean);
    }

    #[test]
    #[should_panic(
        expected = "poisson_nll_loss: input of shape [2] and target of shape [3] differ"
    )]
    fn poisson_nll_loss_panics_on_a_shape_mismatch() {
        let g = Graph::<f64>::new();
        poisson_nll_loss(
            g.var(Tensor::zeros(&[2])),
            g.var(Tensor::zeros(&[3])),
            true,
            Reduction::Mean,
        );
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn likelihood_losses_grads_and_gradgrads_match_finite_diff_anywhere(
            (x, y, var, counts) in (1usize..=3, 1usize..=4).prop_flat_map(|(n, d)| (
                tensor_of(vec![n, d], -2.0..2.0),
                tensor_of(vec![n, d], -2.0..2.0),
                tensor_of(vec![n, d], 0.2..2.0),
                tensor_of(vec![n, d], 0.0..4.0),
            )),
        ) {
            let three = [x.clone(), y, var];
            check_grads(|v| gaussian_nll_loss(v[0], v[1], v[2], Reduction::Mean), &three)?;
            check_gradgrads(|v| gaussian_nll_loss(v[0], v[1], v[2], Reduction::Mean), &three)?;
            let rates = x.map(|v| v.abs() + 0.2);
            for (log_input, input) in [(true, x), (false, rates)] {
                let inputs = [input, counts.clone()];
                check_grads(|v| poisson_nll_loss(v[0], v[1], log_input, Reduction::Sum), &inputs)?;
                check_gradgrads(|v| poisson_nll_loss(v[0], v[1], log_input, Reduction::Sum), &inputs)?;
            }
        }
    }
}
