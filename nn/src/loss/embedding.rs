//! Embedding losses on pairs and triplets: cosine embedding, margin ranking, triplet margin.

use super::Reduction;
use ferrograd_autograd::ndarray::Dimension;
use ferrograd_autograd::{Float, Var};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::test_helpers::{check, t};
    use ferrograd_autograd::testing::{self, check_gradgrads, check_grads, tensor_of};
    use ferrograd_autograd::{Graph, Tensor, Var};
    use proptest::prelude::*;

    /// The values each hinge clamps, so a case can keep away from the kinks (where the
    /// finite difference straddles two slopes).
    fn hinge_args(a: &Tensor<f64>, b: &Tensor<f64>, c: &Tensor<f64>, y: &Tensor<f64>) -> Vec<f64> {
        let g = Graph::<f64>::new();
        let (a, b, c) = (g.var(a.clone()), g.var(b.clone()), g.var(c.clone()));
        fn dist<'g>(x: Var<'g, f64>, z: Var<'g, f64>) -> Var<'g, f64> {
            (x - z)
                .add_scalar(1e-6)
                .square()
                .sum_axes(&[1], false)
                .sqrt()
        }
        let triplet = (dist(a, b) - dist(a, c)).add_scalar(1.0).value().to_vec();
        let cos = a.cosine_similarity(b, 1, 1e-8).value().to_vec();
        let ys = y.to_vec();
        let cos_neg = cos
            .iter()
            .zip(&ys)
            .filter(|(_, y)| **y < 0.0)
            .map(|(c, _)| c + 0.2);
        let ranking = (a - c).value().to_vec();
        triplet
            .into_iter()
            .chain(cos_neg)
            .chain(ranking.iter().map(|r| r + 0.5))
            .collect()
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

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn embedding_losses_grads_match_finite_diff_anywhere(
            (a, b, c, y) in (1usize..=3, 2usize..=4).prop_flat_map(|(n, d)| (
                tensor_of(vec![n, d], -2.0..2.0),
                tensor_of(vec![n, d], -2.0..2.0),
                tensor_of(vec![n, d], -2.0..2.0),
                prop::collection::vec(any::<bool>(), n)
                    .prop_map(move |s| Tensor::from_vec(s.iter().map(|&p| if p { 1.0 } else { -1.0 }).collect(), &[n])),
            )),
        ) {
            prop_assume!(hinge_args(&a, &b, &c, &y).iter().all(|v| v.abs() > 1e-3));
            let pair = [a.clone(), b.clone()];
            check_grads(|v| cosine_embedding_loss(v[0], v[1], v[0].graph().constant(y.clone()), -0.2, Reduction::Mean), &pair)?;
            check_gradgrads(|v| cosine_embedding_loss(v[0], v[1], v[0].graph().constant(y.clone()), -0.2, Reduction::Mean), &pair)?;
            let triple = [a.clone(), b, c.clone()];
            check_grads(|v| triplet_margin_loss(v[0], v[1], v[2], 1.0, Reduction::Mean), &triple)?;
            check_gradgrads(|v| triplet_margin_loss(v[0], v[1], v[2], 1.0, Reduction::Mean), &triple)?;
            // Second derivative 0: a first-order check.
            let ones = Tensor::from_vec(vec![1.0; a.numel()], a.shape());
            check_grads(
                |v| margin_ranking_loss(v[0], v[1], v[0].graph().constant(ones.clone()), -0.5, Reduction::Sum),
                &[a, c],
            )?;
        }
    }
}
