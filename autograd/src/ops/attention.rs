//! Scaled dot-product attention, as `torch.nn.functional.scaled_dot_product_attention`.

use rand::Rng;

use crate::alloc::{OpScope, alloc};
use crate::float::Float;
use crate::graph::Var;
use crate::kernels::{broadcast_shapes, broadcasts_to};
use crate::tensor::Tensor;

/// Which keys each query may attend to, for [`Var::scaled_dot_product_attention`]. It
/// broadcasts to the scores' shape `[.., L, S]` (queries × keys).
///
/// The two kinds say what they mean, because PyTorch's boolean masks mean opposite things in
/// two places: `F.scaled_dot_product_attention` takes `True` = may attend, while
/// `nn.MultiheadAttention` takes `True` = may not.
#[derive(Clone, Copy, Debug)]
pub enum AttnMask<'g, T: Float> {
    /// Nonzero where the query may attend to the key, 0 where it may not (PyTorch's boolean
    /// `attn_mask` of `F.scaled_dot_product_attention`).
    Allowed(Var<'g, T>),
    /// Added to the scores before the softmax: 0 to attend, `-∞` to block, anything between
    /// to bias (PyTorch's float `attn_mask`).
    Additive(Var<'g, T>),
}

/// The options of [`Var::scaled_dot_product_attention`]: a mask, causal masking, the scale
/// and dropout on the attention weights. `Attention::new()` is PyTorch's defaults (no mask,
/// not causal, scale `1/√E`, no dropout).
#[derive(Default)]
pub struct Attention<'a, 'g, T: Float> {
    mask: Option<AttnMask<'g, T>>,
    causal: bool,
    scale: Option<T>,
    dropout: Option<(f64, &'a mut dyn Rng)>,
}

impl<'a, 'g, T: Float> Attention<'a, 'g, T> {
    /// No mask, not causal, scale `1/√E`, no dropout.
    pub fn new() -> Self {
        Self {
            mask: None,
            causal: false,
            scale: None,
            dropout: None,
        }
    }

    /// Masks the scores (see [`AttnMask`]).
    pub fn mask(mut self, mask: AttnMask<'g, T>) -> Self {
        self.mask = Some(mask);
        self
    }

    /// Query `i` attends to keys `0..=i` only (PyTorch's `is_causal`, aligned to the top
    /// left: the first query sees the first key). Combines with [`Attention::mask`].
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }

    /// Multiplies the scores `q·kᵀ` by `scale` instead of `1/√E`.
    pub fn scale(mut self, scale: T) -> Self {
        self.scale = Some(scale);
        self
    }

    /// Drops each attention weight with probability `p` (inverted dropout, as
    /// [`Var::dropout`]), drawing the mask from `rng`. `p = 0` draws nothing.
    pub fn dropout(mut self, p: f64, rng: &'a mut dyn Rng) -> Self {
        self.dropout = Some((p, rng));
        self
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// Scaled dot-product attention, as `F.scaled_dot_product_attention(q, k, v, ...)`:
    /// `softmax(q·kᵀ·scale + mask)·v` with `self` the queries `[.., L, E]`, `key`
    /// `[.., S, E]` and `value` `[.., S, Ev]`, giving `[.., L, Ev]`; batch dimensions
    /// broadcast. Options (mask, causal, scale, dropout) are in [`Attention`].
    ///
    /// Backward: by composition (matmul, softmax, mask, dropout).
    ///
    /// # Panics
    /// If an input has fewer than 2 dimensions, the queries and keys differ in their last
    /// dimension, the keys and values differ in their number, the batch dimensions do not
    /// broadcast together, the mask does not broadcast to the scores `[.., L, S]`, or the
    /// dropout probability is outside `[0, 1]`.
    ///
    /// ```
    /// use ferrograd::autograd::{Attention, AttnMask, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let q = g.var(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]));
    /// let k = g.var(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]));
    /// let v = g.var(Tensor::from_vec(vec![10.0, 20.0], &[2, 1]));
    /// // Causal: the first query sees only the first key.
    /// let out = q.scaled_dot_product_attention(k, v, Attention::new().causal());
    /// assert_eq!(out.value().get(&[0, 0]), 10.0);
    /// // Unmasked, the second query leans towards the second key.
    /// let out = q.scaled_dot_product_attention(k, v, Attention::new());
    /// assert!(out.value().get(&[1, 0]) > 15.0);
    /// // A mask that lets every query see only the second key.
    /// let only_second = g.constant(Tensor::from_vec(vec![0.0, 1.0], &[1, 2]));
    /// let out = q.scaled_dot_product_attention(k, v, Attention::new().mask(AttnMask::Allowed(only_second)));
    /// assert_eq!(out.value().to_vec(), vec![20.0, 20.0]);
    /// ```
    #[track_caller]
    pub fn scaled_dot_product_attention(
        self,
        key: Var<'g, T>,
        value: Var<'g, T>,
        options: Attention<'_, 'g, T>,
    ) -> Var<'g, T> {
        let op = "scaled_dot_product_attention";
        let (qs, ks, vs) = (self.shape(), key.shape(), value.shape());
        assert!(
            qs.len() >= 2 && ks.len() >= 2 && vs.len() >= 2,
            "{op}: query {qs:?}, key {ks:?} and value {vs:?} must each have at least 2 dimensions"
        );
        let (l, e, s) = (qs[qs.len() - 2], qs[qs.len() - 1], ks[ks.len() - 2]);
        assert!(
            ks[ks.len() - 1] == e,
            "{op}: query {qs:?} and key {ks:?} differ in their last dimension"
        );
        assert!(
            vs[vs.len() - 2] == s,
            "{op}: key {ks:?} and value {vs:?} differ in their number of keys"
        );
        // Checked here, so that the refusal names this op rather than the matmul, add,
        // masked_fill or dropout inside it.
        let batch = |shape: &[usize]| shape[..shape.len() - 2].to_vec();
        let Some(mut scores_shape) = broadcast_shapes(&batch(&qs), &batch(&ks))
            .filter(|b| broadcast_shapes(b, &batch(&vs)).is_some())
        else {
            panic!(
                "{op}: the batch dimensions of query {qs:?}, key {ks:?} and value {vs:?} \
                 cannot be broadcast together"
            );
        };
        scores_shape.extend([l, s]);
        if let Some(AttnMask::Allowed(m) | AttnMask::Additive(m)) = options.mask {
            let ms = m.shape();
            assert!(
                broadcasts_to(&ms, &scores_shape),
                "{op}: mask {ms:?} does not broadcast to the scores {scores_shape:?} (queries × keys)"
            );
        }
        if let Some((p, _)) = &options.dropout {
            assert!(
                (0.0..=1.0).contains(p),
                "{op}: dropout p must be in [0, 1], got {p}"
            );
        }
        // A size or allocation failure inside (the scores, the causal mask) names this op.
        let _scope = OpScope::enter(op);
        let g = self.graph();
        let scale = options
            .scale
            .unwrap_or_else(|| T::one() / T::from_f64(e as f64).sqrt());
        let mut scores = self.matmul(key.transpose(-2, -1)).mul_scalar(scale);
        let blocked = |allowed: Var<'g, T>| allowed.eq(g.scalar(T::zero()));
        match options.mask {
            Some(AttnMask::Allowed(m)) => {
                scores = scores.masked_fill(blocked(m), T::neg_infinity());
            }
            Some(AttnMask::Additive(m)) => scores = scores + m,
            None => {}
        }
        if options.causal {
            let mut lower = alloc::<T>(op, &[l, s]);
            lower.extend((0..l * s).map(|i| if i % s <= i / s { T::one() } else { T::zero() }));
            let lower = Tensor::from_vec(lower, &[l, s]);
            scores = scores.masked_fill(blocked(g.constant(lower)), T::neg_infinity());
        }
        let mut weights = scores.softmax(-1);
        if let Some((p, rng)) = options.dropout {
            weights = weights.dropout(p, rng);
        }
        weights.matmul(value)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use crate::{Attention, AttnMask, Graph, Tensor};

    /// Queries `[2, 1, 2]`, keys `[kb.., 3, 2]` and values `[3, 1]`.
    fn attend(key_batch: &[usize], options: impl FnOnce(&Graph<f64>) -> Attention<'_, '_, f64>) {
        let g = Graph::<f64>::new();
        let q = g.var(Tensor::zeros(&[2, 1, 2]));
        let k = g.var(Tensor::zeros(&[key_batch, &[3, 2]].concat()));
        let v = g.var(Tensor::zeros(&[3, 1]));
        q.scaled_dot_product_attention(k, v, options(&g));
    }

    #[test]
    fn attention_runs_with_a_mask_that_broadcasts() {
        attend(&[1], |g| {
            Attention::new().mask(AttnMask::Additive(g.var(Tensor::zeros(&[2, 1, 3]))))
        });
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: the batch dimensions of query [2, 1, 2], key [3, 3, 2] and value [3, 1] cannot be broadcast together"
    )]
    fn attention_panics_on_batch_dims_that_do_not_broadcast() {
        attend(&[3], |_| Attention::new());
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: mask [2, 3] does not broadcast to the scores [2, 1, 3] (queries × keys)"
    )]
    fn attention_panics_on_an_allowed_mask_that_does_not_broadcast() {
        attend(&[], |g| {
            Attention::new().mask(AttnMask::Allowed(g.constant(Tensor::ones(&[2, 3]))))
        });
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: mask [4, 2, 1, 3] does not broadcast to the scores [2, 1, 3] (queries × keys)"
    )]
    fn attention_panics_on_an_additive_mask_larger_than_the_scores() {
        // `scores + mask` would broadcast the scores up to [4, 2, 1, 3] without a word.
        attend(&[], |g| {
            Attention::new().mask(AttnMask::Additive(g.var(Tensor::zeros(&[4, 2, 1, 3]))))
        });
    }

    #[test]
    #[should_panic(expected = "scaled_dot_product_attention: dropout p must be in [0, 1], got 1.5")]
    fn attention_panics_on_a_dropout_probability_above_one() {
        let mut rng = StdRng::seed_from_u64(0);
        let g = Graph::<f64>::new();
        let q = g.var(Tensor::zeros(&[1, 2]));
        q.scaled_dot_product_attention(q, q, Attention::new().dropout(1.5, &mut rng));
    }
}
