//! Regression losses: mean squared and absolute error, Huber and smooth L1.

use super::{Reduction, same_shape};
use ferrograd_autograd::{Float, Var};

/// Mean squared error `(x − y)²`, as `F.mse_loss`.
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn mse_loss<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("mse_loss", input, target);
    reduction.apply((input - target).square())
}

/// Mean absolute error `|x − y|`, as `F.l1_loss`.
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn l1_loss<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("l1_loss", input, target);
    reduction.apply((input - target).abs())
}

/// Huber loss, as `F.huber_loss(delta)`: `½d²` for `|d| < delta`, else
/// `delta·(|d| − ½delta)`, with `d = x − y`.
///
/// The branches are selected (`where_`), and the quadratic one is built from `d²`, not
/// `|d|²`: its second derivative is 1 at `x = y`, as PyTorch's (at `|d| = delta` the
/// linear branch holds, second derivative 0, as PyTorch's too).
///
/// # Panics
/// If the shapes differ or `delta` is not positive.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, huber_loss};
/// let g = Graph::<f64>::new();
/// let x = g.var(Tensor::from_vec(vec![0.0, 3.0], &[2]));
/// let y = g.constant(Tensor::zeros(&[2]));
/// let l = huber_loss(x, y, 1.0, Reduction::Sum);
/// assert_eq!(l.item(), 2.5); // ½·0² + 1·(3 − ½)
/// // The curvature at x = y is 1, not 0.
/// let dx = g.grad(&[l], &[x], true)[0].unwrap();
/// let d2x = g.grad(&[dx], &[x], false)[0].unwrap();
/// assert_eq!(d2x.value().to_vec(), vec![1.0, 0.0]);
/// ```
#[track_caller]
pub fn huber_loss<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    delta: f64,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("huber_loss", input, target);
    assert!(
        delta > 0.0,
        "huber_loss: delta must be positive, got {delta}"
    );
    reduction.apply(huber_elementwise(input - target, delta))
}

/// The per-element Huber loss of `d = x − y`.
fn huber_elementwise<T: Float>(d: Var<'_, T>, delta: f64) -> Var<'_, T> {
    let delta_t = T::from_f64(delta);
    let abs = d.abs();
    let quadratic = d.square() * T::from_f64(0.5);
    let linear = (abs - T::from_f64(0.5 * delta)) * delta_t;
    quadratic.where_(abs.lt(d.graph().scalar(delta_t)), linear)
}

/// Smooth L1 loss, as `F.smooth_l1_loss(beta)`: the Huber loss divided by `beta`
/// (`½d²/beta` for `|d| < beta`, else `|d| − ½beta`), so its second derivative at `x = y`
/// is `1/beta`, as PyTorch's.
///
/// # Panics
/// If the shapes differ or `beta` is not positive.
#[track_caller]
pub fn smooth_l1_loss<'g, T: Float>(
    input: Var<'g, T>,
    target: Var<'g, T>,
    beta: f64,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("smooth_l1_loss", input, target);
    assert!(
        beta > 0.0,
        "smooth_l1_loss: beta must be positive, got {beta}"
    );
    reduction.apply(huber_elementwise(input - target, beta).mul_scalar(T::from_f64(1.0 / beta)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_autograd::testing::{self, check_grads, tensor_of};
    use ferrograd_autograd::{Graph, Tensor};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn regression_loss_grads_match_finite_diff(
            (x, y) in testing::shape_of_rank(3).prop_flat_map(|s| (tensor_of::<f64>(s.clone(), -2.0..2.0), tensor_of::<f64>(s, -2.0..2.0)))
        ) {
            // Keep |x − y| away from the kinks of l1 (0) and huber (delta = 1).
            let y = Tensor::from_vec(
                x.to_vec().iter().zip(y.to_vec()).map(|(a, b)| {
                    let d = b - *a;
                    let d = if d.abs() < 1e-3 { 0.5 } else if (d.abs() - 1.0).abs() < 1e-3 { 1.5 } else { d };
                    a + d
                }).collect(),
                y.shape(),
            );
            for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                check_grads(|v| mse_loss(v[0], v[1], r), &[x.clone(), y.clone()])?;
                check_grads(|v| l1_loss(v[0], v[1], r), &[x.clone(), y.clone()])?;
                check_grads(|v| huber_loss(v[0], v[1], 1.0, r), &[x.clone(), y.clone()])?;
                check_grads(|v| smooth_l1_loss(v[0], v[1], 1.0, r), &[x.clone(), y.clone()])?;
            }
        }
    }

    /// The second derivative of `f` at `x` along every element (f applied elementwise).
    fn curvature(f: for<'g> fn(Var<'g, f64>) -> Var<'g, f64>, x: Vec<f64>) -> Vec<f64> {
        let g = Graph::<f64>::new();
        let n = x.len();
        let x = g.var(Tensor::from_vec(x, &[n]));
        let dx = g.grad(&[f(x)], &[x], true)[0].unwrap();
        g.grad(&[dx], &[x], false)[0].unwrap().value().to_vec()
    }

    fn zeros_like(x: Var<'_, f64>) -> Var<'_, f64> {
        x.graph().constant(Tensor::zeros(&x.shape()))
    }

    #[test]
    fn huber_and_smooth_l1_curvature_is_1_and_1_over_beta_at_input_equal_target() {
        // d = 0 (a tie), |d| < delta, |d| = delta (linear branch, as PyTorch), |d| > delta.
        let x = vec![0.0, 0.25, 0.5, 2.0];
        let huber = curvature(
            |x| huber_loss(x, zeros_like(x), 0.5, Reduction::Sum),
            x.clone(),
        );
        assert_eq!(huber, vec![1.0, 1.0, 0.0, 0.0]);
        let smooth = curvature(|x| smooth_l1_loss(x, zeros_like(x), 0.5, Reduction::Sum), x);
        assert_eq!(smooth, vec![2.0, 2.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "mse_loss: input of shape [2] and target of shape [3] differ")]
    fn mse_loss_panics_on_shape_mismatch() {
        let g = Graph::<f32>::new();
        mse_loss(
            g.var(Tensor::zeros(&[2])),
            g.var(Tensor::zeros(&[3])),
            Reduction::Mean,
        );
    }
}
