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

use ferrograd_autograd::ndarray::{Dimension, Zip};
use ferrograd_autograd::{Float, Tensor, Var, grads};

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

/// Binary cross-entropy on probabilities, as `F.binary_cross_entropy`:
/// `−(y·ln p + (1 − y)·ln(1 − p))`, each log clamped at −100 as PyTorch does. Prefer
/// [`binary_cross_entropy_with_logits`], which is stable.
///
/// The derivatives are PyTorch's, which stay finite at `p = 0` and `p = 1` (where a
/// saturated sigmoid puts its outputs) and still push a confidently wrong prediction back,
/// where the clamped formula is flat: `(p − y) / max(p(1 − p), 1e−12)` with respect to `p`,
/// `max(ln(1 − p), −100) − max(ln p, −100)` with respect to `y`, and PyTorch's second
/// derivatives `(p² − 2py + y) / max(p(1 − p), 1e−12)²` and `−1 / max(p(1 − p), 1e−12)`.
///
/// # Panics
/// If the shapes differ, or a probability is outside `[0, 1]` or NaN (PyTorch raises too).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, binary_cross_entropy};
/// let g = Graph::<f64>::new();
/// let p = g.var(Tensor::from_vec(vec![0.5, 0.0], &[2]));
/// let y = g.constant(Tensor::from_vec(vec![1.0, 1.0], &[2]));
/// let l = binary_cross_entropy(p, y, Reduction::Sum);
/// assert_eq!(l.item(), 2f64.ln() + 100.0);
/// l.backward();
/// // At p = 0 with y = 1 the gradient is large and finite: about −1 / 1e−12.
/// let d = p.grad().unwrap().to_vec();
/// assert_eq!(d[0], -2.0);
/// assert!((d[1] / -1e12 - 1.0).abs() < 1e-8);
/// ```
#[track_caller]
pub fn binary_cross_entropy<'g, T: Float>(
    probs: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    let op = "binary_cross_entropy";
    same_shape(op, probs, target);
    let p = probs.value();
    let p = p.view();
    let outside = p
        .indexed_iter()
        .find(|&(_, &v)| !(v >= T::zero() && v <= T::one()));
    if let Some((at, v)) = outside {
        panic!(
            "{op}: probability {v} at {:?} is outside [0, 1]",
            at.slice()
        );
    }
    let per_element = probs.graph().custom_op(
        op,
        &[probs, target],
        |v| {
            let floor = T::from_f64(LOG_FLOOR);
            let loss = |&p: &T, &y: &T| {
                -(y * p.ln().max(floor) + (T::one() - y) * (T::one() - p).ln().max(floor))
            };
            Tensor::from_array(Zip::from(&v[0].view()).and(&v[1].view()).map_collect(loss))
        },
        |ctx, grad| {
            let (p, y) = (ctx.input(0), ctx.input(1));
            grads![
                ctx.needs_grad(0).then(|| grad * bce_slope(p, y)),
                ctx.needs_grad(1)
                    .then(|| grad * (clamped_ln(-p + T::one()) - clamped_ln(p))),
            ]
        },
    );
    reduction.apply(per_element)
}

/// PyTorch's floor for the logs of [`binary_cross_entropy`].
const LOG_FLOOR: f64 = -100.0;
/// PyTorch's floor for `p(1 − p)` in the first derivative of [`binary_cross_entropy`]: its
/// kernel holds `1e-12` as an `f32` constant, so in `f64` the floor is `1e-12` rounded to
/// `f32` (the golden test sees the difference at `p = 0`).
const BCE_EPS: f64 = 1e-12_f32 as f64;
/// The same floor in PyTorch's second derivatives, which hold it as an `f64`.
const BCE_EPS2: f64 = 1e-12;

/// `max(ln x, −100)`, differentiable to any order without NaN: `x = 0` is selected away
/// before the log, so no backward sees `0 / 0`.
fn clamped_ln<T: Float>(x: Var<'_, T>) -> Var<'_, T> {
    let g = x.graph();
    let floor = T::from_f64(LOG_FLOOR);
    let positive = x.gt(g.scalar(T::zero()));
    x.where_(positive, g.scalar(T::one()))
        .ln()
        .clamp(floor, T::infinity())
        .where_(positive, g.scalar(floor))
}

/// BCE's derivative with respect to `p`, `(p − y) / max(p(1 − p), ε)`, as an op whose own
/// backward is PyTorch's double backward. (Differentiating the expression instead would give
/// `1/ε` where the floor holds, not PyTorch's value there.)
fn bce_slope<'g, T: Float>(p: Var<'g, T>, y: Var<'g, T>) -> Var<'g, T> {
    let eps = T::from_f64(BCE_EPS);
    p.graph().custom_op(
        "binary_cross_entropy_slope",
        &[p, y],
        move |v| {
            let slope = |&p: &T, &y: &T| (p - y) / (p * (T::one() - p)).max(eps);
            Tensor::from_array(Zip::from(&v[0].view()).and(&v[1].view()).map_collect(slope))
        },
        |ctx, grad| {
            let (p, y) = (ctx.input(0), ctx.input(1));
            let eps2 = ctx.graph().scalar(T::from_f64(BCE_EPS2));
            let denom = (p * (-p + T::one())).maximum(eps2);
            grads![
                ctx.needs_grad(0)
                    .then(|| grad * (p.square() - p * y * T::from_f64(2.0) + y) / denom.square()),
                ctx.needs_grad(1).then(|| -(grad / denom)),
            ]
        },
    )
}

/// Binary cross-entropy on logits, as `F.binary_cross_entropy_with_logits`, in the stable
/// form `softplus(x) − x·y`.
///
/// # Panics
/// If the shapes differ.
#[track_caller]
pub fn binary_cross_entropy_with_logits<'g, T: Float>(
    logits: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("binary_cross_entropy_with_logits", logits, target);
    reduction.apply(logits.softplus() - logits * target)
}

/// Binary cross-entropy on logits with a weight on the positive term per class, as
/// `F.binary_cross_entropy_with_logits(pos_weight=…)`:
/// `−(p_c·y·ln σ(x) + (1 − y)·ln(1 − σ(x)))`, computed as PyTorch does in the stable form
/// `(1 − y)·x + (1 + (p_c − 1)·y)·softplus(−x)`. `pos_weight` has one entry per class, the
/// last axis of `logits` (`p_c > 1` raises recall, `< 1` precision); all ones give
/// [`binary_cross_entropy_with_logits`].
///
/// # Panics
/// If the shapes differ, the input is 0-D, `pos_weight` does not have one entry per entry
/// of the last axis, or an entry is negative or not finite (PyTorch does not check).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, binary_cross_entropy_with_logits_pos_weight};
/// let g = Graph::<f64>::new();
/// let x = g.var(Tensor::zeros(&[2, 2]));
/// let y = g.constant(Tensor::from_vec(vec![1.0, 1.0, 0.0, 0.0], &[2, 2]));
/// // Column 0's positives count 3 times: 3·ln 2 + ln 2 + ln 2 + ln 2.
/// let l = binary_cross_entropy_with_logits_pos_weight(x, y, &[3.0, 1.0], Reduction::Sum);
/// assert!((l.item() - 6.0 * 2f64.ln()).abs() < 1e-12);
/// ```
#[track_caller]
pub fn binary_cross_entropy_with_logits_pos_weight<'g, T: Float>(
    logits: Var<'g, T>,
    target: Var<'g, T>,
    pos_weight: &[f64],
    reduction: Reduction,
) -> Var<'g, T> {
    let op = "binary_cross_entropy_with_logits_pos_weight";
    same_shape(op, logits, target);
    let s = logits.shape();
    let Some(&c) = s.last() else {
        panic!("{op}: input must have a class axis, got shape []");
    };
    assert!(
        pos_weight.len() == c,
        "{op}: {} pos_weight entries for the last axis of input {s:?}",
        pos_weight.len()
    );
    check_class_weights(op, "pos_weight", pos_weight);
    let g = logits.graph();
    let pw_minus_1 = g.constant(Tensor::from_vec(
        pos_weight.iter().map(|&p| T::from_f64(p - 1.0)).collect(),
        &[c],
    ));
    let log_weight = (target * pw_minus_1).add_scalar(T::one());
    let losses = (-target).add_scalar(T::one()) * logits + log_weight * (-logits).softplus();
    reduction.apply(losses)
}

/// Cosine embedding loss, as `F.cosine_embedding_loss(margin)`: per row of `x1, x2`
/// (`[N, D]`) with target `y ∈ {1, −1}` (`[N]`), `1 − cos` for `y = 1` and
/// `max(0, cos − margin)` for `y = −1`, where
/// `cos = x1·x2 / √((|x1|² + ε)(|x2|² + ε))` with PyTorch's `ε`, an `f32` `1e−12` (so a
/// zero row gives `cos = 0`, not NaN).
///
/// At the hinge `cos = margin` the gradient is 0 (`relu'(0) = 0`). Deviations: 1-D inputs
/// are not accepted, and a target other than ±1 panics (PyTorch gives it loss 0).
///
/// # Panics
/// If `x1` and `x2` differ in shape or are not 2-D, the target is not `[N]`, or a target is
/// not 1 or −1.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, cosine_embedding_loss};
/// let g = Graph::<f64>::new();
/// let a = g.var(Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[2, 2]));
/// let b = g.var(Tensor::from_vec(vec![0.0, 2.0, 3.0, 3.0], &[2, 2]));
/// let y = g.constant(Tensor::from_vec(vec![1.0, -1.0], &[2]));
/// // Row 0: orthogonal, similar wanted: 1 − 0. Row 1: cos = 1/√2, dissimilar wanted.
/// let l = cosine_embedding_loss(a, b, y, 0.0, Reduction::None);
/// let v = l.value().to_vec();
/// assert_eq!(v[0], 1.0);
/// assert!((v[1] - 0.5f64.sqrt()).abs() < 1e-12);
/// ```
#[track_caller]
pub fn cosine_embedding_loss<'g, T: Float>(
    x1: Var<'g, T>,
    x2: Var<'g, T>,
    target: Var<'g, T>,
    margin: f64,
    reduction: Reduction,
) -> Var<'g, T> {
    let op = "cosine_embedding_loss";
    let (a, b, t) = (x1.shape(), x2.shape(), target.shape());
    assert!(
        a == b && a.len() == 2,
        "{op}: inputs must be two [N, D] of one shape, got {a:?} and {b:?}"
    );
    assert!(
        t == [a[0]],
        "{op}: target of shape {t:?} for inputs {a:?} (must be [{}])",
        a[0]
    );
    let tv = target.value();
    if let Some((at, v)) = tv
        .view()
        .indexed_iter()
        .find(|&(_, &v)| v != T::one() && v != -T::one())
    {
        panic!("{op}: target {v} at {:?} is not 1 or -1", at.slice());
    }
    // PyTorch's kernel holds ε as an `f32` constant; the golden test sees the difference
    // at a zero row.
    let eps = T::from_f64(f64::from(1e-12_f32));
    let dot = (x1 * x2).sum_axes(&[1], false);
    let m1 = x1.square().sum_axes(&[1], false).add_scalar(eps);
    let m2 = x2.square().sum_axes(&[1], false).add_scalar(eps);
    let cos = dot / (m1 * m2).sqrt();
    let similar = (-cos).add_scalar(T::one());
    let dissimilar = cos.add_scalar(T::from_f64(-margin)).relu();
    let zero = x1.graph().scalar(T::zero());
    reduction.apply(similar.where_(target.gt(zero), dissimilar))
}

/// Margin ranking loss, as `F.margin_ranking_loss(margin)`: `max(0, −y·(x1 − x2) + margin)`
/// elementwise, for targets `y` (1: `x1` should rank higher, −1: `x2` should).
///
/// At the hinge the gradient is 0 (`relu'(0) = 0`); the second derivative is 0 everywhere.
///
/// # Panics
/// If the three shapes differ (PyTorch broadcasts the target).
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, margin_ranking_loss};
/// let g = Graph::<f64>::new();
/// let x1 = g.var(Tensor::from_vec(vec![1.0, 1.0], &[2]));
/// let x2 = g.var(Tensor::from_vec(vec![0.5, 0.5], &[2]));
/// let y = g.constant(Tensor::from_vec(vec![1.0, -1.0], &[2]));
/// let l = margin_ranking_loss(x1, x2, y, 1.0, Reduction::None);
/// assert_eq!(l.value().to_vec(), vec![0.5, 1.5]);
/// ```
#[track_caller]
pub fn margin_ranking_loss<'g, T: Float>(
    x1: Var<'g, T>,
    x2: Var<'g, T>,
    target: Var<'g, T>,
    margin: f64,
    reduction: Reduction,
) -> Var<'g, T> {
    let op = "margin_ranking_loss";
    let (a, b, t) = (x1.shape(), x2.shape(), target.shape());
    assert!(
        a == b && a == t,
        "{op}: input1 {a:?}, input2 {b:?} and target {t:?} must have one shape"
    );
    reduction.apply(
        (-(target * (x1 - x2)))
            .add_scalar(T::from_f64(margin))
            .relu(),
    )
}

/// Triplet margin loss, as `F.triplet_margin_loss(margin)` with PyTorch's defaults `p = 2`,
/// `eps = 1e−6`, `swap = False`: `max(0, margin + d(a, p) − d(a, n))` per row, where
/// `d(u, v) = ‖u − v + eps‖₂` (`F.pairwise_distance`, which adds `eps` to the difference).
///
/// At the hinge the gradient is 0 (`relu'(0) = 0`).
///
/// # Panics
/// If the three shapes differ or are not `[N, D]`.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{Reduction, triplet_margin_loss};
/// let g = Graph::<f64>::new();
/// let a = g.var(Tensor::from_vec(vec![0.0, 0.0], &[1, 2]));
/// let p = g.var(Tensor::from_vec(vec![3.0, 4.0], &[1, 2]));
/// let n = g.var(Tensor::from_vec(vec![0.0, 1.0], &[1, 2]));
/// // d(a, p) ≈ 5, d(a, n) ≈ 1: 1 + 5 − 1.
/// let l = triplet_margin_loss(a, p, n, 1.0, Reduction::Mean);
/// assert!((l.item() - 5.0).abs() < 1e-5);
/// ```
#[track_caller]
pub fn triplet_margin_loss<'g, T: Float>(
    anchor: Var<'g, T>,
    positive: Var<'g, T>,
    negative: Var<'g, T>,
    margin: f64,
    reduction: Reduction,
) -> Var<'g, T> {
    let op = "triplet_margin_loss";
    let (a, p, n) = (anchor.shape(), positive.shape(), negative.shape());
    assert!(
        a == p && a == n && a.len() == 2,
        "{op}: anchor {a:?}, positive {p:?} and negative {n:?} must be [N, D] of one shape"
    );
    let eps = T::from_f64(1e-6);
    let dist = |u: Var<'g, T>, v: Var<'g, T>| {
        (u - v)
            .add_scalar(eps)
            .square()
            .sum_axes(&[1], false)
            .sqrt()
    };
    let d_ap = dist(anchor, positive);
    let d_an = dist(anchor, negative);
    reduction.apply((d_ap - d_an).add_scalar(T::from_f64(margin)).relu())
}

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

/// Options of [`cross_entropy`] and [`nll_loss`]: class weights, label smoothing and the
/// reduction, as the keyword arguments of `F.cross_entropy`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossEntropy {
    weight: Option<Vec<f64>>,
    label_smoothing: f64,
    reduction: Reduction,
    ignore_index: Option<usize>,
}

impl CrossEntropy {
    /// No class weights, no smoothing, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// A weight per class; the mean is then taken over the weights of the targets.
    pub fn weight(mut self, weight: Vec<f64>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Label smoothing `ε` in `[0, 1]`: the target is `(1 − ε)` on the label plus `ε / C`
    /// spread over all classes.
    pub fn label_smoothing(mut self, epsilon: f64) -> Self {
        self.label_smoothing = epsilon;
        self
    }

    /// The reduction (per-sample losses for [`Reduction::None`]).
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// A label that contributes nothing, as PyTorch's `ignore_index` (whose default −100
    /// a `usize` cannot hold; here there is none by default). Its rows get loss 0 under
    /// [`Reduction::None`], and the mean is over the other rows (their class weights): if
    /// every label is ignored the mean is `0 / 0`, NaN, as PyTorch's. It may be any
    /// `usize`, inside `0..C` or not; a label equal to it is never out of range.
    pub fn ignore_index(mut self, index: usize) -> Self {
        self.ignore_index = Some(index);
        self
    }
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

/// Checks `[N, C]` or `[N, C, d1, …]` scores against `N·d1·…` labels and returns `C`.
#[track_caller]
fn check_labels<T: Float>(
    op: &str,
    scores: Var<'_, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> usize {
    let s = scores.shape();
    assert!(
        s.len() >= 2,
        "{op}: input must be [N, C] or [N, C, d1, ...], got shape {s:?}"
    );
    let c = s[1];
    let rows: usize = s[0] * s[2..].iter().product::<usize>();
    if s.len() == 2 {
        assert!(
            labels.len() == rows,
            "{op}: {} labels for {rows} rows of input {s:?}",
            labels.len()
        );
    } else {
        assert!(
            labels.len() == rows,
            "{op}: {} labels for input {s:?}, which needs N·d1·… = {rows}",
            labels.len()
        );
    }
    let ignored = |l: usize| options.ignore_index == Some(l);
    if let Some(&bad) = labels.iter().find(|&&l| l >= c && !ignored(l)) {
        panic!("{op}: label {bad} is out of range for {c} classes");
    }
    if let Some(w) = options.weight.as_ref() {
        assert!(
            w.len() == c,
            "{op}: {} class weights for {c} classes",
            w.len()
        );
        check_class_weights(op, "class weight", w);
    }
    c
}

/// `[N, C, d1, …]` as `[N·d1·…, C]`, rows in row-major order of `(n, d1, …)`.
fn classes_last<T: Float>(x: Var<'_, T>) -> Var<'_, T> {
    let s = x.shape();
    if s.len() == 2 {
        return x;
    }
    let mut axes = vec![0];
    axes.extend(2..s.len());
    axes.push(1);
    x.permute(&axes).reshape(&[-1, s[1] as isize])
}

/// Negative log-likelihood of log-probabilities `[N, C]` at integer `labels`, as
/// `F.nll_loss`: `−w[yᵢ]·log_probs[i, yᵢ]`, the mean divided by `Σ w[yᵢ]` over the labels
/// that are not [`CrossEntropy::ignore_index`].
///
/// Extra dimensions are accepted as PyTorch's: log-probabilities `[N, C, d1, …]` take
/// `N·d1·…` labels, flattened in row-major order of `(n, d1, …)` (label `[n, i, j]` of a
/// `[N, d1, d2]` label tensor is `labels[(n·d1 + i)·d2 + j]`), and [`Reduction::None`]
/// returns `[N, d1, …]`.
///
/// A log-probability of −∞ off the label (a masked class) contributes nothing, as in
/// PyTorch.
///
/// # Panics
/// If the input has fewer than 2 dimensions, the label count is not `N·d1·…`, a label
/// other than the ignored one is `C` or more, the class weights are not `C`, or a class
/// weight is negative or not finite.
#[track_caller]
pub fn nll_loss<'g, T: Float>(
    log_probs: Var<'g, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> Var<'g, T> {
    cross_entropy_from_log_probs(
        "nll_loss",
        log_probs,
        labels,
        &options.clone().label_smoothing(0.0),
    )
}

/// Cross-entropy of logits `[N, C]` against integer labels (the "sparse categorical
/// cross-entropy" of the tutorials), as `F.cross_entropy`: `log_softmax` over the class
/// axis 1 then [`nll_loss`], with optional class weights, label smoothing and
/// [`CrossEntropy::ignore_index`]. Stable for any logits.
///
/// Logits `[N, C, d1, …]` (e.g. per-pixel classes `[N, C, H, W]`) take `N·d1·…` labels in
/// row-major order of `(n, d1, …)`, as [`nll_loss`].
///
/// # Panics
/// As [`nll_loss`], and if the label smoothing is outside `[0, 1]`.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::{CrossEntropy, Reduction, cross_entropy};
/// let g = Graph::<f64>::new();
/// let logits = g.var(Tensor::from_vec(vec![1e4, -1e4, 0.0, 0.0], &[2, 2]));
/// let l = cross_entropy(logits, &[1, 0], &CrossEntropy::new());
/// assert_eq!(l.item(), (2e4 + 2f64.ln()) / 2.0);
/// // An ignored label drops its row from the mean.
/// let l = cross_entropy(logits, &[1, 7], &CrossEntropy::new().ignore_index(7));
/// assert_eq!(l.item(), 2e4);
/// // [N, C, d1] logits: N = 1, C = 2, d1 = 2 positions, one label per position.
/// let x = g.var(Tensor::from_vec(vec![0.0, 1e4, 0.0, -1e4], &[1, 2, 2]));
/// let l = cross_entropy(x, &[0, 0], &CrossEntropy::new().reduction(Reduction::None));
/// assert_eq!(l.shape(), vec![1, 2]);
/// assert_eq!(l.value().to_vec(), vec![2f64.ln(), 0.0]);
/// ```
#[track_caller]
pub fn cross_entropy<'g, T: Float>(
    logits: Var<'g, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> Var<'g, T> {
    let op = "cross_entropy";
    check_labels(op, logits, labels, options);
    cross_entropy_from_log_probs(op, logits.log_softmax(1), labels, options)
}

#[track_caller]
fn cross_entropy_from_log_probs<'g, T: Float>(
    op: &str,
    log_probs: Var<'g, T>,
    labels: &[usize],
    options: &CrossEntropy,
) -> Var<'g, T> {
    let c = check_labels(op, log_probs, labels, options);
    let shape = log_probs.shape();
    let log_probs = classes_last(log_probs);
    let eps = options.label_smoothing;
    assert!(
        (0.0..=1.0).contains(&eps),
        "{op}: label_smoothing must be in [0, 1], got {eps}"
    );
    let g = log_probs.graph();
    let n = labels.len();
    let class_w = |c_: usize| options.weight.as_ref().map_or(1.0, |w| w[c_]);
    let kept = |y: usize| options.ignore_index != Some(y);
    // Per-row target weights: (1 − ε)·w[y] on the label, ε/C·w[c] on every class; an
    // ignored row's stay 0.
    let mut target = vec![T::zero(); n * c];
    for (i, &y) in labels.iter().enumerate().filter(|&(_, &y)| kept(y)) {
        for k in 0..c {
            target[i * c + k] = T::from_f64(eps / c as f64 * class_w(k));
        }
        target[i * c + y] += T::from_f64((1.0 - eps) * class_w(y));
    }
    let target = g.constant(Tensor::from_vec(target, &[n, c]));
    // Selected, not multiplied: a −∞ log-probability with target weight 0 contributes 0
    // (0·−∞ would be NaN).
    let zero = g.scalar(T::zero());
    let terms = (log_probs * target).where_(target.ne(zero), zero);
    let per_sample = -terms.sum_axes(&[1], false);
    match options.reduction {
        Reduction::Mean => {
            // 0 / 0 = NaN when every label is ignored, as PyTorch.
            let total: f64 = labels
                .iter()
                .filter(|&&y| kept(y))
                .map(|&y| class_w(y))
                .sum();
            per_sample.sum() / g.scalar(T::from_f64(total))
        }
        Reduction::Sum => per_sample.sum(),
        Reduction::None if shape.len() > 2 => {
            let mut out: Vec<isize> = vec![shape[0] as isize];
            out.extend(shape[2..].iter().map(|&d| d as isize));
            per_sample.reshape(&out)
        }
        Reduction::None => per_sample,
    }
}

/// Cross-entropy of logits `[N, C]` against probability targets `[N, C]` (soft labels), as
/// `F.cross_entropy` with a float target: `−Σ_c target·log_softmax(logits)` per row.
///
/// # Panics
/// If the shapes differ or are not 2-D.
#[track_caller]
pub fn cross_entropy_soft<'g, T: Float>(
    logits: Var<'g, T>,
    target: Var<'g, T>,
    reduction: Reduction,
) -> Var<'g, T> {
    same_shape("cross_entropy_soft", logits, target);
    assert!(
        logits.ndim() == 2,
        "cross_entropy_soft: input must be [N, C], got shape {:?}",
        logits.shape()
    );
    reduction.apply(-(logits.log_softmax(-1) * target).sum_axes(&[1], false))
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

/// Knowledge-distillation loss (Hinton et al.): the KL divergence of the student's
/// temperature-softened distribution from the teacher's, times `T²` so its gradients keep
/// their scale: `T²·KL(softmax(teacher/T) ‖ softmax(student/T))`, averaged over the batch.
/// The teacher gets no gradient.
///
/// # Panics
/// If the shapes differ or are not 2-D, or the temperature is not positive.
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::loss::distillation_loss;
/// let g = Graph::<f64>::new();
/// let teacher = g.constant(Tensor::from_vec(vec![3.0, 1.0, 0.0], &[1, 3]));
/// // A student that matches the teacher has zero loss.
/// assert!(distillation_loss(teacher, teacher, 4.0).item().abs() < 1e-12);
/// ```
#[track_caller]
pub fn distillation_loss<'g, T: Float>(
    student_logits: Var<'g, T>,
    teacher_logits: Var<'g, T>,
    temperature: f64,
) -> Var<'g, T> {
    same_shape("distillation_loss", student_logits, teacher_logits);
    assert!(
        student_logits.ndim() == 2,
        "distillation_loss: logits must be [N, C], got shape {:?}",
        student_logits.shape()
    );
    assert!(
        temperature > 0.0,
        "distillation_loss: temperature must be positive, got {temperature}"
    );
    let t = T::from_f64(temperature);
    let teacher = (teacher_logits.detach() / student_logits.graph().scalar(t)).softmax(-1);
    let student = (student_logits / student_logits.graph().scalar(t)).log_softmax(-1);
    kl_div(student, teacher, Reduction::Mean) * (t * t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_autograd::testing::{self, check_grads, tensor_of};
    use ferrograd_autograd::{GradcheckOptions, Graph, gradcheck};
    use proptest::prelude::*;

    fn logits_and_labels() -> impl Strategy<Value = (Tensor<f64>, Vec<usize>)> {
        (1usize..=4, 2usize..=5).prop_flat_map(|(n, c)| {
            (
                tensor_of(vec![n, c], -3.0..3.0),
                prop::collection::vec(0..c, n),
            )
        })
    }

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

        #[test]
        fn classification_loss_grads_match_finite_diff((x, labels) in logits_and_labels()) {
            let c = x.shape()[1];
            let w: Vec<f64> = (0..c).map(|k| 0.5 + k as f64 * 0.3).collect();
            let opts = CrossEntropy::new().weight(w).label_smoothing(0.1);
            check_grads(|v| cross_entropy(v[0], &labels, &opts), std::slice::from_ref(&x))?;
            check_grads(|v| cross_entropy(v[0], &labels, &CrossEntropy::new().reduction(Reduction::None)), std::slice::from_ref(&x))?;
            let probs = x.map(|v| 1.0 / (1.0 + (-v).exp()));
            let targets = x.map(|v| if v > 0.0 { 1.0 } else { 0.2 });
            check_grads(|v| binary_cross_entropy_with_logits(v[0], v[0].graph().constant(targets.clone()), Reduction::Mean), std::slice::from_ref(&x))?;
            check_grads(|v| binary_cross_entropy(v[0], v[0].graph().constant(targets.clone()), Reduction::Sum), &[probs])?;
            let soft = x.map(|v| v.abs() + 0.1);
            check_grads(|v| cross_entropy_soft(v[0], v[0].graph().constant(soft.clone()), Reduction::Mean), std::slice::from_ref(&x))?;
            check_grads(|v| distillation_loss(v[0], v[0].graph().constant(soft.clone()), 2.0), &[x])?;
        }
    }

    /// Cross-entropy computed directly in f64 from the formula, for comparison.
    fn reference_ce(logits: &[f64], c: usize, labels: &[usize], w: &[f64], eps: f64) -> f64 {
        let mut total = 0.0;
        let mut wsum = 0.0;
        for (i, &y) in labels.iter().enumerate() {
            let row = &logits[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let nll = -(row[y] - lse);
            let smooth: f64 = (0..c).map(|k| w[k] * -(row[k] - lse)).sum::<f64>() / c as f64;
            total += (1.0 - eps) * w[y] * nll + eps * smooth;
            wsum += w[y];
        }
        total / wsum
    }

    #[test]
    fn cross_entropy_matches_the_formula_with_weights_and_smoothing() {
        let logits = vec![0.2, -1.0, 2.5, 0.0, 1.0, -0.5];
        let w = vec![1.0, 2.0, 0.5];
        let g = Graph::<f64>::new();
        let x = g.constant(Tensor::from_vec(logits.clone(), &[2, 3]));
        let got = cross_entropy(
            x,
            &[2, 1],
            &CrossEntropy::new().weight(w.clone()).label_smoothing(0.2),
        )
        .item();
        let want = reference_ce(&logits, 3, &[2, 1], &w, 0.2);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn losses_are_finite_for_extreme_logits() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::from_vec(vec![1e4, -1e4, -1e4, 1e4], &[2, 2]));
        let ce = cross_entropy(x, &[1, 1], &CrossEntropy::new().label_smoothing(0.1));
        let bce = binary_cross_entropy_with_logits(
            x,
            g.constant(Tensor::from_vec(vec![0.0, 1.0, 1.0, 1.0], &[2, 2])),
            Reduction::Mean,
        );
        let kd = distillation_loss(
            x,
            g.constant(Tensor::from_vec(vec![-1e4, 1e4, 1e4, -1e4], &[2, 2])),
            2.0,
        );
        for l in [ce, bce, kd] {
            assert!(l.item().is_finite(), "{l:?} = {}", l.item());
            g.grad(&[l], &[x], false)[0]
                .unwrap()
                .value()
                .to_vec()
                .iter()
                .for_each(|v| assert!(v.is_finite()));
        }
        // Three of the four logits are 1e4 on the wrong side (loss 1e4 each), one is right.
        assert_eq!(bce.item(), 7500.0);
    }

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
    fn nll_loss_reads_the_label_column() {
        gradcheck(
            |v| {
                nll_loss(
                    v[0].log_softmax(-1),
                    &[1, 0],
                    &CrossEntropy::new().reduction(Reduction::Sum),
                )
            },
            &[Tensor::from_vec(vec![0.3, -0.2, 1.0, 0.4], &[2, 2])],
            &GradcheckOptions::default(),
        )
        .unwrap();
        let g = Graph::<f64>::new();
        let lp = g.constant(Tensor::from_vec(vec![-0.1, -2.0, -3.0, -0.05], &[2, 2]));
        assert_eq!(nll_loss(lp, &[1, 0], &CrossEntropy::new()).item(), 2.5);
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
    fn binary_cross_entropy_has_pytorchs_finite_gradients_at_probabilities_0_and_1() {
        let g = Graph::<f64>::new();
        let p = g.var(Tensor::from_vec(vec![0.0, 1.0, 0.0, 1.0, 0.3], &[5]));
        let y = g.constant(Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0, 0.3], &[5]));
        let l = binary_cross_entropy(p, y, Reduction::Sum);
        assert_eq!(l.item(), 200.0 - 0.3 * 0.3f64.ln() - 0.7 * 0.7f64.ln());
        l.backward();
        let eps = f64::from(1e-12_f32);
        assert_eq!(
            p.grad().unwrap().to_vec(),
            vec![0.0, 0.0, -1.0 / eps, 1.0 / eps, 0.0]
        );
    }

    #[test]
    #[should_panic(expected = "binary_cross_entropy: probability 1.5 at [1] is outside [0, 1]")]
    fn binary_cross_entropy_panics_on_a_probability_above_1() {
        let g = Graph::<f64>::new();
        let p = g.var(Tensor::from_vec(vec![0.5, 1.5], &[2]));
        binary_cross_entropy(p, g.constant(Tensor::zeros(&[2])), Reduction::Mean);
    }

    #[test]
    #[should_panic(expected = "binary_cross_entropy: probability NaN at [0, 1] is outside [0, 1]")]
    fn binary_cross_entropy_panics_on_a_nan_probability() {
        let g = Graph::<f32>::new();
        let p = g.var(Tensor::from_vec(vec![0.5, f32::NAN], &[1, 2]));
        binary_cross_entropy(p, g.constant(Tensor::zeros(&[1, 2])), Reduction::Mean);
    }

    #[test]
    #[should_panic(
        expected = "cross_entropy: class weight -1 of class 2 must be finite and non-negative"
    )]
    fn cross_entropy_panics_on_a_negative_class_weight() {
        let g = Graph::<f32>::new();
        let opts = CrossEntropy::new().weight(vec![1.0, 0.5, -1.0]);
        cross_entropy(g.var(Tensor::zeros(&[2, 3])), &[0, 2], &opts);
    }

    #[test]
    #[should_panic(
        expected = "nll_loss: class weight inf of class 0 must be finite and non-negative"
    )]
    fn nll_loss_panics_on_an_infinite_class_weight() {
        let g = Graph::<f64>::new();
        let opts = CrossEntropy::new().weight(vec![f64::INFINITY, 1.0]);
        nll_loss(g.var(Tensor::zeros(&[1, 2])), &[1], &opts);
    }

    #[test]
    fn cross_entropy_ignores_a_minus_infinity_logit_off_the_label() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![f64::NEG_INFINITY, 0.0, 0.0], &[1, 3]));
        let l = cross_entropy(x, &[1], &CrossEntropy::new());
        assert_eq!(l.item(), 2f64.ln());
        l.backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, -0.5, 0.5]);
    }

    #[test]
    fn bce_with_logits_pos_weight_matches_the_formula_and_is_plain_bce_at_ones() {
        let (x, y) = (vec![-1.3, 0.4, 2.0, -0.2], vec![0.0, 1.0, 0.3, 1.0]);
        let pw = [2.5, 0.5];
        let g = Graph::<f64>::new();
        let xv = g.var(Tensor::from_vec(x.clone(), &[2, 2]));
        let yv = g.constant(Tensor::from_vec(y.clone(), &[2, 2]));
        let got = binary_cross_entropy_with_logits_pos_weight(xv, yv, &pw, Reduction::Sum).item();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let want: f64 = (0..4)
            .map(|i| -(pw[i % 2] * y[i] * sig(x[i]).ln() + (1.0 - y[i]) * (1.0 - sig(x[i])).ln()))
            .sum();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        let ones =
            binary_cross_entropy_with_logits_pos_weight(xv, yv, &[1.0, 1.0], Reduction::None);
        let plain = binary_cross_entropy_with_logits(xv, yv, Reduction::None);
        for (a, b) in ones.value().to_vec().iter().zip(plain.value().to_vec()) {
            assert!((a - b).abs() < 1e-12);
        }
        // Stable at saturating logits.
        let big = g.var(Tensor::from_vec(vec![1e4, -1e4], &[1, 2]));
        let t = g.constant(Tensor::from_vec(vec![0.0, 1.0], &[1, 2]));
        let l = binary_cross_entropy_with_logits_pos_weight(big, t, &[2.0, 3.0], Reduction::Sum);
        assert_eq!(l.item(), 1e4 + 3e4);
    }

    #[test]
    fn bce_with_logits_pos_weight_grads_and_gradgrads_match_finite_diff() {
        let x = Tensor::from_vec(vec![-1.3, 0.4, 2.0, -0.2, 0.7, -2.2], &[2, 3]);
        let y = Tensor::from_vec(vec![0.0, 1.0, 0.3, 1.0, 0.6, 0.0], &[2, 3]);
        let pw = [2.5, 0.5, 1.0];
        let o = GradcheckOptions::default();
        for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let inputs = [x.clone(), y.clone()];
            gradcheck(
                |v| binary_cross_entropy_with_logits_pos_weight(v[0], v[1], &pw, r),
                &inputs,
                &o,
            )
            .unwrap();
            ferrograd_autograd::gradgradcheck(
                |v| binary_cross_entropy_with_logits_pos_weight(v[0], v[1], &pw, r),
                &inputs,
                &o,
            )
            .unwrap();
        }
    }

    #[test]
    #[should_panic(
        expected = "binary_cross_entropy_with_logits_pos_weight: 2 pos_weight entries for the last axis of input [2, 3]"
    )]
    fn bce_with_logits_pos_weight_panics_on_a_pos_weight_length_mismatch() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[2, 3]));
        binary_cross_entropy_with_logits_pos_weight(x, x, &[1.0, 2.0], Reduction::Mean);
    }

    #[test]
    #[should_panic(
        expected = "binary_cross_entropy_with_logits_pos_weight: pos_weight NaN of class 1 must be finite and non-negative"
    )]
    fn bce_with_logits_pos_weight_panics_on_a_nan_pos_weight() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[2]));
        binary_cross_entropy_with_logits_pos_weight(x, x, &[1.0, f64::NAN], Reduction::Mean);
    }

    /// gradcheck, and gradgradcheck if `twice`, with PyTorch's default tolerances.
    fn check<F>(f: F, inputs: &[Tensor<f64>], twice: bool)
    where
        F: for<'g> Fn(&[Var<'g, f64>]) -> Var<'g, f64>,
    {
        let o = GradcheckOptions::default();
        gradcheck(&f, inputs, &o).unwrap();
        if twice {
            ferrograd_autograd::gradgradcheck(&f, inputs, &o).unwrap();
        }
    }

    fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), shape)
    }

    #[test]
    fn embedding_losses_grads_and_gradgrads_match_finite_diff() {
        let a = t(&[0.5, -1.2, 2.0, 1.5, 0.25, -0.75, -0.3, 0.8, 0.2], &[3, 3]);
        let b = t(&[0.1, 0.3, -1.0, 1.25, 0.25, 0.5, 0.9, -0.4, 1.1], &[3, 3]);
        let c = t(&[0.7, -0.9, 1.6, -1.0, 2.0, 0.3, 0.2, 0.1, -0.6], &[3, 3]);
        let y = t(&[1.0, -1.0, -1.0], &[3]);
        let signs = b.map(|x| if x > 0.0 { 1.0 } else { -1.0 });
        for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            check(
                |v| {
                    let yv = v[0].graph().constant(y.clone());
                    cosine_embedding_loss(v[0], v[1], yv, -0.5, r)
                },
                &[a.clone(), b.clone()],
                true,
            );
            check(
                |v| triplet_margin_loss(v[0], v[1], v[2], 3.0, r),
                &[a.clone(), b.clone(), c.clone()],
                true,
            );
            // Second derivative 0: a first-order check suffices.
            check(
                |v| {
                    let yv = v[0].graph().constant(signs.clone());
                    margin_ranking_loss(v[0], v[1], yv, 0.5, r)
                },
                &[a.clone(), c.clone()],
                false,
            );
        }
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
        expected = "cosine_embedding_loss: target of shape [2] for inputs [3, 2] (must be [3])"
    )]
    fn cosine_embedding_loss_panics_on_a_target_shape_mismatch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[3, 2]));
        cosine_embedding_loss(x, x, g.constant(t(&[1.0, 1.0], &[2])), 0.0, Reduction::Mean);
    }

    #[test]
    #[should_panic(expected = "cosine_embedding_loss: target 0 at [1] is not 1 or -1")]
    fn cosine_embedding_loss_panics_on_a_target_not_plus_or_minus_1() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2, 2]));
        cosine_embedding_loss(x, x, g.constant(t(&[1.0, 0.0], &[2])), 0.0, Reduction::Mean);
    }

    #[test]
    #[should_panic(
        expected = "margin_ranking_loss: input1 [2], input2 [2] and target [3] must have one shape"
    )]
    fn margin_ranking_loss_panics_on_a_shape_mismatch() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::zeros(&[2]));
        margin_ranking_loss(x, x, g.constant(Tensor::zeros(&[3])), 0.0, Reduction::Mean);
    }

    #[test]
    #[should_panic(
        expected = "triplet_margin_loss: anchor [2, 3], positive [2, 3] and negative [2, 2] must be [N, D] of one shape"
    )]
    fn triplet_margin_loss_panics_on_a_shape_mismatch() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::zeros(&[2, 3]));
        triplet_margin_loss(a, a, g.var(Tensor::zeros(&[2, 2])), 1.0, Reduction::Mean);
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

    #[test]
    fn cross_entropy_ignore_index_drops_rows_from_the_mean_and_all_ignored_is_nan() {
        let logits = vec![0.2, -1.0, 2.5, 0.0, 1.0, -0.5, 0.3, 0.3, -2.0];
        let w = vec![1.0, 2.0, 0.5];
        let g = Graph::<f64>::new();
        let x = g.constant(Tensor::from_vec(logits.clone(), &[3, 3]));
        let opts = CrossEntropy::new().weight(w.clone()).ignore_index(1);
        let got = cross_entropy(x, &[2, 1, 0], &opts).item();
        let kept: Vec<f64> = [&logits[..3], &logits[6..]].concat();
        let want = reference_ce(&kept, 3, &[2, 0], &w, 0.0);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        let none = cross_entropy(x, &[2, 1, 0], &opts.clone().reduction(Reduction::None));
        assert_eq!(none.value().to_vec()[1], 0.0);
        let all = CrossEntropy::new().ignore_index(1);
        assert!(cross_entropy(x, &[1, 1, 1], &all).item().is_nan());
        assert_eq!(
            cross_entropy(x, &[1, 1, 1], &all.reduction(Reduction::Sum)).item(),
            0.0
        );
        // An ignore_index outside 0..C is no out-of-range label.
        let outside = CrossEntropy::new().ignore_index(usize::MAX);
        assert!(
            cross_entropy(x, &[0, usize::MAX, 2], &outside)
                .item()
                .is_finite()
        );
    }

    #[test]
    fn cross_entropy_on_spatial_logits_equals_it_on_the_flattened_rows() {
        // [N=2, C=3, d1=2]: position (n, i) has logits x[n, :, i] and label labels[n·2 + i].
        let data: Vec<f64> = (0..12).map(|k| ((k * 7 % 5) as f64 - 2.0) * 0.6).collect();
        let labels = [2, 0, 1, 1];
        let g = Graph::<f64>::new();
        let x = g.constant(Tensor::from_vec(data.clone(), &[2, 3, 2]));
        let mut rows = vec![];
        for n in 0..2 {
            for i in 0..2 {
                rows.extend((0..3).map(|c| data[n * 6 + c * 2 + i]));
            }
        }
        let flat = g.constant(Tensor::from_vec(rows, &[4, 3]));
        let opts = CrossEntropy::new().label_smoothing(0.1).ignore_index(0);
        let a = cross_entropy(x, &labels, &opts).item();
        let b = cross_entropy(flat, &labels, &opts).item();
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let none = opts.reduction(Reduction::None);
        let per = cross_entropy(x, &labels, &none);
        assert_eq!(per.shape(), vec![2, 2]);
        let per_flat = cross_entropy(flat, &labels, &none).value().to_vec();
        for (u, v) in per.value().to_vec().iter().zip(per_flat) {
            assert!((u - v).abs() < 1e-12);
        }
    }

    #[test]
    fn cross_entropy_spatial_and_ignore_index_grads_and_gradgrads_match_finite_diff() {
        let x = Tensor::from_vec(
            (0..24).map(|k| ((k * 5 % 7) as f64 - 3.0) * 0.4).collect(),
            &[2, 3, 2, 2],
        );
        let labels = [0, 2, 1, 1, 2, 0, 1, 2];
        let opts = CrossEntropy::new()
            .weight(vec![0.5, 1.5, 1.0])
            .label_smoothing(0.1)
            .ignore_index(1);
        let o = GradcheckOptions::default();
        gradcheck(
            |v| cross_entropy(v[0], &labels, &opts),
            std::slice::from_ref(&x),
            &o,
        )
        .unwrap();
        ferrograd_autograd::gradgradcheck(|v| cross_entropy(v[0], &labels, &opts), &[x], &o)
            .unwrap();
    }

    #[test]
    #[should_panic(
        expected = "cross_entropy: 3 labels for input [2, 3, 2], which needs N·d1·… = 4"
    )]
    fn cross_entropy_panics_on_a_spatial_label_count_mismatch() {
        let g = Graph::<f32>::new();
        cross_entropy(
            g.var(Tensor::zeros(&[2, 3, 2])),
            &[0, 1, 2],
            &CrossEntropy::new(),
        );
    }

    #[test]
    #[should_panic(expected = "nll_loss: input must be [N, C] or [N, C, d1, ...], got shape [3]")]
    fn nll_loss_panics_on_a_1d_input() {
        let g = Graph::<f32>::new();
        nll_loss(g.var(Tensor::zeros(&[3])), &[0, 1, 2], &CrossEntropy::new());
    }

    #[test]
    #[should_panic(expected = "cross_entropy: label 3 is out of range for 3 classes")]
    fn cross_entropy_panics_on_a_bad_label() {
        let g = Graph::<f32>::new();
        cross_entropy(g.var(Tensor::zeros(&[2, 3])), &[0, 3], &CrossEntropy::new());
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
