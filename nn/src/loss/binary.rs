//! Binary cross-entropy: on probabilities, on logits, and on logits with `pos_weight`.

use super::{Reduction, check_class_weights, same_shape};
use ferrograd_autograd::ndarray::{Dimension, Zip};
use ferrograd_autograd::{Float, Tensor, Var, grads};

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

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_autograd::testing::{self, check_gradgrads, check_grads, tensor_of};
    use ferrograd_autograd::{GradcheckOptions, Graph, gradcheck};
    use proptest::prelude::*;

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

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn bce_with_logits_pos_weight_grads_match_finite_diff_anywhere(
            (x, y, pw) in (1usize..=3, 1usize..=4).prop_flat_map(|(n, d)| (
                tensor_of(vec![n, d], -3.0..3.0),
                tensor_of(vec![n, d], 0.0..1.0),
                prop::collection::vec(0.2..3.0f64, d),
            )),
        ) {
            let inputs = [x, y];
            check_grads(|v| binary_cross_entropy_with_logits_pos_weight(v[0], v[1], &pw, Reduction::Mean), &inputs)?;
            check_gradgrads(|v| binary_cross_entropy_with_logits_pos_weight(v[0], v[1], &pw, Reduction::Mean), &inputs)?;
        }
    }
}
