//! Scaled dot-product attention, as `torch.nn.functional.scaled_dot_product_attention`.

use rand::Rng;

use crate::float::Float;
use crate::graph::Var;
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
    /// dimension, the keys and values differ in their number, or the mask does not broadcast
    /// to the scores `[.., L, S]`.
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
            let lower = Tensor::from_vec(
                (0..l * s)
                    .map(|i| if i % s <= i / s { T::one() } else { T::zero() })
                    .collect(),
                &[l, s],
            );
            scores = scores.masked_fill(blocked(g.constant(lower)), T::neg_infinity());
        }
        let mut weights = scores.softmax(-1);
        if let Some((p, rng)) = options.dropout {
            weights = weights.dropout(p, rng);
        }
        weights.matmul(value)
    }
}
