//! Gradient clipping, as `torch.nn.utils.clip_grad_value_` / `clip_grad_norm_`.

use ferrograd_autograd::{Float, Param};

/// Clamps every gradient element into `[−clip, clip]`.
///
/// # Panics
/// If `clip` is negative or NaN.
///
/// ```
/// use ferrograd_autograd::{Param, Tensor};
/// use ferrograd_optim::clip_grad_value;
/// let p = Param::new(Tensor::<f32>::zeros(&[2]));
/// p.set_grad(Some(Tensor::from_vec(vec![-5.0, 0.5], &[2])));
/// clip_grad_value(&[p.clone()], 1.0);
/// assert_eq!(p.grad().unwrap().to_vec(), vec![-1.0, 0.5]);
/// ```
pub fn clip_grad_value<T: Float>(params: &[Param<T>], clip: f64) {
    assert!(
        clip >= 0.0,
        "clip_grad_value: clip must be non-negative, got {clip}"
    );
    let c = T::from_f64(clip);
    for p in params {
        if let Some(g) = p.grad() {
            p.set_grad(Some(g.map(|v| v.max(-c).min(c))));
        }
    }
}

/// Scales all gradients together so that their global L2 norm is at most `max_norm`, and
/// returns the norm before clipping (as PyTorch, which scales by
/// `max_norm / (norm + 1e-6)` when the norm exceeds `max_norm`).
///
/// # Panics
/// If `max_norm` is negative or NaN.
///
/// ```
/// use ferrograd_autograd::{Param, Tensor};
/// use ferrograd_optim::clip_grad_norm;
/// let p = Param::new(Tensor::<f64>::zeros(&[2]));
/// p.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0], &[2])));
/// assert_eq!(clip_grad_norm(&[p.clone()], 1.0), 5.0);
/// let g = p.grad().unwrap().to_vec();
/// assert!(((g[0] * g[0] + g[1] * g[1]).sqrt() - 1.0).abs() < 1e-6);
/// ```
pub fn clip_grad_norm<T: Float>(params: &[Param<T>], max_norm: f64) -> f64 {
    assert!(
        max_norm >= 0.0,
        "clip_grad_norm: max_norm must be non-negative, got {max_norm}"
    );
    let norm = params
        .iter()
        .filter_map(Param::grad)
        .map(|g| g.to_vec().iter().map(|v| v.as_f64().powi(2)).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if norm > max_norm {
        let k = T::from_f64(max_norm / (norm + 1e-6));
        for p in params {
            if let Some(g) = p.grad() {
                p.set_grad(Some(g.map(|v| v * k)));
            }
        }
    }
    norm
}
