//! The options of [`MultiheadAttention::attend`](super::MultiheadAttention::attend): the
//! masks, their meaning, and how two masks become one.

use ferrograd_autograd::{AttnMask, Float, Var};

/// Which keys of each sequence are padding, for [`MhaOptions::key_padding_mask`]: shape
/// `[N, S]`, one row per sequence of the batch, the same for every query and head.
///
/// The variant says what the values mean (PyTorch's `key_padding_mask` takes booleans with
/// `True` = ignore, the opposite of `F.scaled_dot_product_attention`'s boolean mask).
#[derive(Clone, Copy, Debug)]
pub enum KeyPadding<'g, T: Float> {
    /// Nonzero where the key is padding: it gets no attention weight (PyTorch's boolean
    /// `key_padding_mask`, `True` = ignore).
    Ignore(Var<'g, T>),
    /// Added to every query's score for the key (PyTorch's float `key_padding_mask`).
    Additive(Var<'g, T>),
}

/// The options of [`MultiheadAttention::attend`](super::MultiheadAttention::attend): masks,
/// causal masking and whether to return the attention weights. `MhaOptions::new()` masks
/// nothing and returns no weights.
///
/// PyTorch's `need_weights` defaults to `True`; here the weights are asked for with
/// [`MhaOptions::need_weights`], because without them the fused attention op runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct MhaOptions<'g, T: Float> {
    pub(super) key_padding: Option<KeyPadding<'g, T>>,
    pub(super) attn_mask: Option<AttnMask<'g, T>>,
    pub(super) causal: bool,
    /// `Some(average)` when the weights are returned.
    pub(super) weights: Option<bool>,
}

impl<'g, T: Float> MhaOptions<'g, T> {
    /// No mask, not causal, no weights returned.
    pub fn new() -> Self {
        Self {
            key_padding: None,
            attn_mask: None,
            causal: false,
            weights: None,
        }
    }

    /// Masks padding keys, `[N, S]` (see [`KeyPadding`]).
    pub fn key_padding_mask(mut self, mask: KeyPadding<'g, T>) -> Self {
        self.key_padding = Some(mask);
        self
    }

    /// Masks the scores of every sequence, `[L, S]`, or of each sequence and head,
    /// `[N·num_heads, L, S]` (sequence-major, as PyTorch), as PyTorch's `attn_mask` (see
    /// [`AttnMask`] for the two kinds).
    pub fn attn_mask(mut self, mask: AttnMask<'g, T>) -> Self {
        self.attn_mask = Some(mask);
        self
    }

    /// Query `i` attends to keys `0..=i` only. Unlike PyTorch's `is_causal` (a hint that
    /// needs the causal `attn_mask` passed as well), this masks by itself; it combines with
    /// the other masks.
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }

    /// Returns the attention weights averaged over the heads, `[N, L, S]` (PyTorch's
    /// `need_weights=True`, `average_attn_weights=True`).
    pub fn need_weights(mut self) -> Self {
        self.weights = Some(true);
        self
    }

    /// Returns the attention weights of every head, `[N, num_heads, L, S]` (PyTorch's
    /// `need_weights=True`, `average_attn_weights=False`).
    pub fn per_head_weights(mut self) -> Self {
        self.weights = Some(false);
        self
    }
}

/// One mask from two: both boolean (`Allowed`) multiply, else both become additive.
pub(super) fn merge<'g, T: Float>(
    a: Option<AttnMask<'g, T>>,
    b: Option<AttnMask<'g, T>>,
) -> Option<AttnMask<'g, T>> {
    let additive = |m: AttnMask<'g, T>| match m {
        AttnMask::Additive(m) => m,
        AttnMask::Allowed(m) => {
            let g = m.graph();
            let blocked = m.eq(g.scalar(T::zero()));
            g.scalar(T::neg_infinity())
                .where_(blocked, g.scalar(T::zero()))
        }
    };
    match (a, b) {
        (Some(AttnMask::Allowed(x)), Some(AttnMask::Allowed(y))) => {
            let zero = x.graph().scalar(T::zero());
            Some(AttnMask::Allowed(x.ne(zero) * y.ne(zero)))
        }
        (Some(x), Some(y)) => Some(AttnMask::Additive(additive(x) + additive(y))),
        (x, None) => x,
        (None, y) => y,
    }
}
