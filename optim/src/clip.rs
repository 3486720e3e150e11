//! Gradient clipping, as `torch.nn.utils.clip_grad_value_` / `clip_grad_norm_`.
//!
//! Clipping never hides a NaN: a NaN gradient element stays NaN (as PyTorch's `clamp`), and a
//! non-finite total norm is returned as it is, with the gradients left unscaled, so the
//! training loop's check (or [`ClipGradNorm::error_if_nonfinite`]) still sees it.

use ferrograd_autograd::{Float, Param};

use crate::error::OptimizerError;

/// Clamps every gradient element into `[−clip, clip]`; NaN stays NaN (PyTorch's `clamp`
/// propagates NaN), so clipping cannot turn a broken gradient into a plausible one.
///
/// # Panics
/// If `clip` is negative or NaN.
///
/// ```
/// use ferrograd::autograd::{Param, Tensor};
/// use ferrograd::optim::clip_grad_value;
/// let p = Param::new(Tensor::<f32>::zeros(&[3]));
/// p.set_grad(Some(Tensor::from_vec(vec![-5.0, 0.5, f32::NAN], &[3])));
/// clip_grad_value(std::slice::from_ref(&p), 1.0);
/// let g = p.grad().unwrap().to_vec();
/// assert_eq!(g[..2], [-1.0, 0.5]);
/// assert!(g[2].is_nan());
/// ```
#[track_caller]
pub fn clip_grad_value<T: Float>(params: &[Param<T>], clip: f64) {
    assert!(
        clip >= 0.0,
        "clip_grad_value: clip must be non-negative, got {clip}"
    );
    let c = T::from_f64(clip);
    for p in params {
        if let Some(g) = p.grad() {
            p.set_grad(Some(
                g.map(|v| if v.is_nan() { v } else { v.max(-c).min(c) }),
            ));
        }
    }
}

/// Scales all gradients together so that their global L2 norm is at most `max_norm`, and
/// returns the norm before clipping (as PyTorch, which scales by
/// `max_norm / (norm + 1e-6)` when the norm exceeds `max_norm`).
///
/// A NaN or infinite norm is returned as it is and the gradients are left unscaled (PyTorch
/// would multiply them by `0` or NaN, turning an infinity into NaN and every finite gradient
/// into 0 or NaN); check the returned norm, or use [`ClipGradNorm::error_if_nonfinite`] to
/// get an error.
///
/// # Panics
/// If `max_norm` is negative or NaN.
///
/// ```
/// use ferrograd::autograd::{Param, Tensor};
/// use ferrograd::optim::clip_grad_norm;
/// let p = Param::new(Tensor::<f64>::zeros(&[2]));
/// p.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0], &[2])));
/// assert_eq!(clip_grad_norm(std::slice::from_ref(&p), 1.0), 5.0);
/// let g = p.grad().unwrap().to_vec();
/// assert!(((g[0] * g[0] + g[1] * g[1]).sqrt() - 1.0).abs() < 1e-6);
///
/// // A NaN anywhere makes the norm NaN, and nothing is scaled.
/// let q = Param::new(Tensor::<f64>::zeros(&[2]));
/// q.set_grad(Some(Tensor::from_vec(vec![f64::NAN, 4.0], &[2])));
/// assert!(clip_grad_norm(&[q.clone()], 1.0).is_nan());
/// assert_eq!(q.grad().unwrap().to_vec()[1], 4.0);
/// ```
#[track_caller]
pub fn clip_grad_norm<T: Float>(params: &[Param<T>], max_norm: f64) -> f64 {
    let clip = ClipGradNorm::new(max_norm);
    let norm = clip.total_norm(params);
    clip.scale(params, norm);
    norm
}

/// Clipping by the global L2 norm with options: PyTorch's `clip_grad_norm_` with its
/// `error_if_nonfinite` argument as a builder method. [`clip_grad_norm`] is
/// `ClipGradNorm::new(max_norm)` without the error.
///
/// ```
/// use ferrograd::autograd::{Param, Tensor};
/// use ferrograd::optim::ClipGradNorm;
/// let p = Param::new(Tensor::<f32>::zeros(&[2]));
/// p.set_grad(Some(Tensor::from_vec(vec![f32::INFINITY, 1.0], &[2])));
/// let err = ClipGradNorm::new(1.0).error_if_nonfinite(true).apply(std::slice::from_ref(&p)).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "clip_grad_norm: the total gradient norm is inf, so it cannot be clipped; the gradients are left as they were"
/// );
/// assert_eq!(p.grad().unwrap().to_vec(), vec![f32::INFINITY, 1.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipGradNorm {
    max_norm: f64,
    error_if_nonfinite: bool,
}

impl ClipGradNorm {
    /// Clips to a global L2 norm of at most `max_norm`.
    ///
    /// # Panics
    /// If `max_norm` is negative or NaN.
    #[track_caller]
    pub fn new(max_norm: f64) -> Self {
        assert!(
            max_norm >= 0.0,
            "clip_grad_norm: max_norm must be non-negative, got {max_norm}"
        );
        ClipGradNorm {
            max_norm,
            error_if_nonfinite: false,
        }
    }

    /// Return an error, instead of the norm, when the total norm is NaN or infinite
    /// (PyTorch's `error_if_nonfinite=True`). Either way the gradients are not scaled then.
    pub fn error_if_nonfinite(mut self, on: bool) -> Self {
        self.error_if_nonfinite = on;
        self
    }

    /// Clips the gradients of `params` and returns their total norm before clipping.
    ///
    /// # Errors
    /// [`OptimizerError::NonFiniteNorm`] if the norm is NaN or infinite and
    /// [`error_if_nonfinite`](ClipGradNorm::error_if_nonfinite) is on; the gradients are
    /// then unchanged.
    pub fn apply<T: Float>(&self, params: &[Param<T>]) -> Result<f64, OptimizerError> {
        let norm = self.total_norm(params);
        if self.error_if_nonfinite && !norm.is_finite() {
            return Err(OptimizerError::NonFiniteNorm { norm });
        }
        self.scale(params, norm);
        Ok(norm)
    }

    /// The global L2 norm of every gradient, accumulated in `f64`.
    fn total_norm<T: Float>(&self, params: &[Param<T>]) -> f64 {
        params
            .iter()
            .filter_map(Param::grad)
            .map(|g| g.to_vec().iter().map(|v| v.as_f64().powi(2)).sum::<f64>())
            .sum::<f64>()
            .sqrt()
    }

    /// Scales the gradients down to `max_norm` if the finite `norm` exceeds it.
    fn scale<T: Float>(&self, params: &[Param<T>], norm: f64) {
        if !norm.is_finite() || norm <= self.max_norm {
            return;
        }
        let k = T::from_f64(self.max_norm / (norm + 1e-6));
        for p in params {
            if let Some(g) = p.grad() {
                p.set_grad(Some(g.map(|v| v * k)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrograd_autograd::Tensor;

    use super::*;

    fn param(grad: &[f64]) -> Param<f64> {
        let p = Param::new(Tensor::zeros(&[grad.len()]));
        p.set_grad(Some(Tensor::from_vec(grad.to_vec(), &[grad.len()])));
        p
    }

    fn grad(p: &Param<f64>) -> Vec<f64> {
        p.grad().unwrap().to_vec()
    }

    #[test]
    fn clip_grad_value_keeps_nan_and_clamps_infinities() {
        let p = param(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -3.0, 0.25]);
        clip_grad_value(std::slice::from_ref(&p), 1.0);
        let g = grad(&p);
        assert!(g[0].is_nan(), "NaN must stay NaN, got {}", g[0]);
        assert_eq!(g[1..], [1.0, -1.0, -1.0, 0.25]);
    }

    #[test]
    fn clip_grad_norm_returns_a_nan_norm_and_scales_nothing() {
        let (p, q) = (param(&[f64::NAN, 3.0]), param(&[4.0]));
        assert!(clip_grad_norm(&[p.clone(), q.clone()], 1.0).is_nan());
        assert!(grad(&p)[0].is_nan());
        assert_eq!((grad(&p)[1], grad(&q)[0]), (3.0, 4.0));
    }

    #[test]
    fn clip_grad_norm_returns_an_infinite_norm_and_leaves_the_gradients() {
        // Scaling by max_norm / inf = 0 would turn the infinity into NaN (inf · 0) and
        // every finite gradient into 0, hiding which one was infinite.
        let (p, q) = (param(&[f64::INFINITY, 3.0]), param(&[4.0]));
        assert_eq!(clip_grad_norm(&[p.clone(), q.clone()], 1.0), f64::INFINITY);
        assert_eq!(grad(&p), vec![f64::INFINITY, 3.0]);
        assert_eq!(grad(&q), vec![4.0]);
    }

    #[test]
    fn error_if_nonfinite_names_the_norm_and_finite_norms_still_clip() {
        let p = param(&[f64::NAN, 3.0]);
        let err = ClipGradNorm::new(1.0)
            .error_if_nonfinite(true)
            .apply(std::slice::from_ref(&p))
            .unwrap_err();
        assert!(matches!(err, OptimizerError::NonFiniteNorm { norm } if norm.is_nan()));
        assert_eq!(
            err.to_string(),
            "clip_grad_norm: the total gradient norm is NaN, so it cannot be clipped; the gradients are left as they were"
        );
        assert_eq!(grad(&p)[1], 3.0);
        let q = param(&[3.0, 4.0]);
        let norm = ClipGradNorm::new(2.5)
            .error_if_nonfinite(true)
            .apply(std::slice::from_ref(&q));
        assert_eq!(norm, Ok(5.0));
        let g = grad(&q);
        assert!(
            (g[0] - 1.5).abs() < 1e-6 && (g[1] - 2.0).abs() < 1e-6,
            "{g:?}"
        );
    }

    #[test]
    #[should_panic(expected = "clip_grad_norm: max_norm must be non-negative, got NaN")]
    fn clip_grad_norm_rejects_a_nan_max_norm() {
        clip_grad_norm(&[param(&[1.0])], f64::NAN);
    }

    #[test]
    #[should_panic(expected = "clip_grad_value: clip must be non-negative, got -1")]
    fn clip_grad_value_rejects_a_negative_clip() {
        clip_grad_value(&[param(&[1.0])], -1.0);
    }
}
