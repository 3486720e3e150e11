//! The Transformer layers of `torch.nn` (batch first): the configuration and blocks they
//! share, `TransformerEncoderLayer` and `TransformerEncoder` (the decoder is in
//! `transformer_decoder.rs`), pre- or post-norm, ReLU or GELU feed-forward, with PyTorch's
//! parameter names.

use ferrograd_autograd::{Float, Var};
use rand::{Rng, RngExt};

use super::attention::MultiheadAttention;
use super::attention_options::MhaOptions;
use super::dropout::Dropout;
use super::linear::Linear;
use super::norm::LayerNorm;
use crate::module::{Module, Slot, visit_child};

/// The feed-forward activation of a Transformer layer (PyTorch's `activation="relu"` or
/// `"gelu"`; GELU is the exact, erf form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformerActivation {
    /// `max(x, 0)`, PyTorch's default.
    ReLU,
    /// `x·Φ(x)`.
    GELU,
}

/// The hyperparameters of a Transformer layer, with PyTorch's defaults: `dim_feedforward`
/// 2048, `dropout` 0.1, ReLU, `layer_norm_eps` 1e-5, post-norm (`norm_first` false).
///
/// ```
/// use ferrograd::nn::{TransformerActivation, TransformerConfig};
/// let config = TransformerConfig::new(512, 8)
///     .dim_feedforward(1024)
///     .dropout(0.0)
///     .activation(TransformerActivation::GELU)
///     .norm_first(true);
/// assert_eq!(config.d_model(), 512);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerConfig {
    d_model: usize,
    nhead: usize,
    dim_feedforward: usize,
    dropout: f64,
    activation: TransformerActivation,
    layer_norm_eps: f64,
    pub(super) norm_first: bool,
}

impl TransformerConfig {
    /// `d_model` features, `nhead` attention heads, PyTorch's other defaults.
    pub fn new(d_model: usize, nhead: usize) -> Self {
        TransformerConfig {
            d_model,
            nhead,
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: TransformerActivation::ReLU,
            layer_norm_eps: 1e-5,
            norm_first: false,
        }
    }

    /// The feed-forward network's hidden width (default 2048).
    pub fn dim_feedforward(mut self, dim: usize) -> Self {
        self.dim_feedforward = dim;
        self
    }

    /// The dropout probability of the attention weights, the feed-forward network and the
    /// residual branches (default 0.1); active in training mode only.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    #[track_caller]
    pub fn dropout(mut self, p: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "TransformerConfig: dropout must be in [0, 1], got {p}"
        );
        self.dropout = p;
        self
    }

    /// The feed-forward activation (default ReLU).
    pub fn activation(mut self, activation: TransformerActivation) -> Self {
        self.activation = activation;
        self
    }

    /// The `eps` of the layer norms (default 1e-5).
    pub fn layer_norm_eps(mut self, eps: f64) -> Self {
        self.layer_norm_eps = eps;
        self
    }

    /// Pre-norm (`true`: each block normalises its input, `x + f(norm(x))`) or post-norm
    /// (`false`, the default and the original Transformer's: `norm(x + f(x))`).
    pub fn norm_first(mut self, yes: bool) -> Self {
        self.norm_first = yes;
        self
    }

    /// The number of features.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    #[track_caller]
    pub(super) fn attention<T: Float, R: Rng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> MultiheadAttention<T> {
        MultiheadAttention::builder(self.d_model, self.nhead)
            .dropout(self.dropout)
            .build(rng)
    }

    pub(super) fn norm<T: Float>(&self) -> LayerNorm<T> {
        LayerNorm::new(&[self.d_model]).eps(self.layer_norm_eps)
    }

    pub(super) fn dropout_layer<R: Rng + ?Sized>(&self, rng: &mut R) -> Dropout {
        Dropout::new(self.dropout, rng.random())
    }
}

/// The feed-forward block shared by the encoder and decoder layers:
/// `dropout_out(linear2(dropout(activation(linear1(x)))))`.
pub(super) struct FeedForward<T: Float> {
    linear1: Linear<T>,
    dropout: Dropout,
    linear2: Linear<T>,
    activation: TransformerActivation,
}

impl<T: Float> FeedForward<T> {
    #[track_caller]
    pub(super) fn new<R: Rng + ?Sized>(config: &TransformerConfig, rng: &mut R) -> Self {
        FeedForward {
            linear1: Linear::new(config.d_model, config.dim_feedforward, rng),
            dropout: config.dropout_layer(rng),
            linear2: Linear::new(config.dim_feedforward, config.d_model, rng),
            activation: config.activation,
        }
    }

    pub(super) fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        let h = self.linear1.forward(x);
        let h = match self.activation {
            TransformerActivation::ReLU => h.relu(),
            TransformerActivation::GELU => h.gelu(),
        };
        self.linear2.forward(self.dropout.forward(h))
    }

    /// Visits the three layers under PyTorch's names (`linear1`, `dropout`, `linear2`).
    pub(super) fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        visit_child("linear1", &self.linear1, f);
        visit_child("dropout", &self.dropout, f);
        visit_child("linear2", &self.linear2, f);
    }
}

/// `x + dropout(block(norm(x)))` (pre-norm) or `norm(x + dropout(block(x)))` (post-norm).
pub(super) fn residual<'g, T: Float>(
    x: Var<'g, T>,
    norm_first: bool,
    norm: &LayerNorm<T>,
    dropout: &Dropout,
    block: impl FnOnce(Var<'g, T>) -> Var<'g, T>,
) -> Var<'g, T> {
    if norm_first {
        x + dropout.forward(block(norm.forward(x)))
    } else {
        norm.forward(x + dropout.forward(block(x)))
    }
}

/// The masks of a self-attention block, without the weights (`forward_masked` does not
/// return them).
pub(super) fn masks_only<'g, T: Float>(mut masks: MhaOptions<'g, T>) -> MhaOptions<'g, T> {
    masks.weights = None;
    masks
}

/// The masks, asking for the head-averaged weights unless per-head ones are asked for.
fn with_weights<'g, T: Float>(mut masks: MhaOptions<'g, T>) -> MhaOptions<'g, T> {
    masks.weights.get_or_insert(true);
    masks
}

/// A Transformer encoder layer, as `torch.nn.TransformerEncoderLayer(..., batch_first=True)`:
/// self-attention then a feed-forward network, each in a residual block with a layer norm
/// (after the residual sum, or before the block with
/// [`norm_first`](TransformerConfig::norm_first)).
///
/// Parameters as PyTorch names them: `self_attn.*` (see [`MultiheadAttention`]),
/// `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`. PyTorch's initialisation.
///
/// # Shapes
/// - input `[N, L, d_model]` (batch first); output the same
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{KeyPadding, MhaOptions, Module, ModuleExt, TransformerConfig, TransformerEncoderLayer, init};
///
/// let layer = TransformerEncoderLayer::<f32>::new(TransformerConfig::new(8, 2).dim_feedforward(16), &mut init::rng(0));
/// assert_eq!(layer.num_params(), 600); // as PyTorch's TransformerEncoderLayer(8, 2, 16)
/// layer.eval();
/// let g = Graph::new();
/// let src = g.constant(Tensor::rand_normal(&[2, 5, 8], 0.0, 1.0, &mut init::rng(1)));
/// assert_eq!(layer.forward(src).shape(), vec![2, 5, 8]);
/// // The last two positions of every sequence are padding.
/// let pad = g.constant(Tensor::from_vec([0.0, 0.0, 0.0, 1.0, 1.0].repeat(2), &[2, 5]));
/// let masks = MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad));
/// assert_eq!(layer.forward_masked(src, masks).shape(), vec![2, 5, 8]);
/// ```
pub struct TransformerEncoderLayer<T: Float = f32> {
    self_attn: MultiheadAttention<T>,
    ff: FeedForward<T>,
    norm1: LayerNorm<T>,
    norm2: LayerNorm<T>,
    dropout1: Dropout,
    dropout2: Dropout,
    norm_first: bool,
}

impl<T: Float> TransformerEncoderLayer<T> {
    /// A layer of `config`'s sizes, with PyTorch's initialisation drawn from `rng` (which
    /// also seeds the dropout streams).
    ///
    /// # Panics
    /// If `d_model` is 0 or not divisible by `nhead`.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(config: TransformerConfig, rng: &mut R) -> Self {
        TransformerEncoderLayer {
            self_attn: config.attention(rng),
            ff: FeedForward::new(&config, rng),
            norm1: config.norm(),
            norm2: config.norm(),
            dropout1: config.dropout_layer(rng),
            dropout2: config.dropout_layer(rng),
            norm_first: config.norm_first,
        }
    }

    /// The forward pass with the self-attention's masks: `masks`' attention mask is
    /// PyTorch's `src_mask`, its key padding mask `src_key_padding_mask`, its
    /// [`causal`](MhaOptions::causal) `is_causal` (which here needs no `src_mask`). Weights
    /// asked for in `masks` are not computed.
    ///
    /// # Panics
    /// If the input is not `[N, L, d_model]` or a mask has the wrong shape.
    #[track_caller]
    pub fn forward_masked<'g>(&self, src: Var<'g, T>, masks: MhaOptions<'g, T>) -> Var<'g, T> {
        self.forward_with_weights(src, masks_only(masks)).0
    }

    /// The forward pass and its self-attention weights: head-averaged `[N, L, L]` unless
    /// `masks` asks for [`per_head_weights`](MhaOptions::per_head_weights) `[N, nhead, L, L]`
    /// (what PyTorch users read with a hook on `self_attn`). The output is
    /// [`forward_masked`](Self::forward_masked)'s; the weights are the explicit softmax
    /// instead of the fused attention op.
    ///
    /// # Panics
    /// As [`forward_masked`](Self::forward_masked).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{MhaOptions, ModuleExt, TransformerConfig, TransformerEncoderLayer, init};
    ///
    /// let layer = TransformerEncoderLayer::<f64>::new(TransformerConfig::new(8, 2), &mut init::rng(0));
    /// layer.eval(); // in training, dropout (0.1 by default) acts on the weights, as PyTorch
    /// let g = Graph::new();
    /// let src = g.constant(Tensor::rand_normal(&[1, 3, 8], 0.0, 1.0, &mut init::rng(1)));
    /// let (_, weights) = layer.forward_with_weights(src, MhaOptions::new().causal());
    /// let w = weights.value();
    /// assert_eq!(w.shape(), &[1, 3, 3]);
    /// assert_eq!(w.get(&[0, 0, 1]), 0.0); // causal: the first position sees only itself
    /// assert!((w.get(&[0, 2, 0]) + w.get(&[0, 2, 1]) + w.get(&[0, 2, 2]) - 1.0).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn forward_with_weights<'g>(
        &self,
        src: Var<'g, T>,
        masks: MhaOptions<'g, T>,
    ) -> (Var<'g, T>, Var<'g, T>) {
        let (y, weights) = self.attend_and_feed_forward(src, with_weights(masks));
        (y, weights.expect("weights were asked for"))
    }

    /// The layer's forward pass; the weights are returned when `masks` asks for them.
    #[track_caller]
    fn attend_and_feed_forward<'g>(
        &self,
        src: Var<'g, T>,
        masks: MhaOptions<'g, T>,
    ) -> (Var<'g, T>, Option<Var<'g, T>>) {
        let mut weights = None;
        let x = residual(src, self.norm_first, &self.norm1, &self.dropout1, |x| {
            let (out, w) = self.self_attn.attend(x, x, x, masks);
            weights = w;
            out
        });
        let y = residual(x, self.norm_first, &self.norm2, &self.dropout2, |x| {
            self.ff.forward(x)
        });
        (crate::module_ext::traced(self, y), weights)
    }
}

impl<T: Float> Module<T> for TransformerEncoderLayer<T> {
    /// The layer without masks.
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.forward_masked(x, MhaOptions::new())
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        visit_child("self_attn", &self.self_attn, f);
        self.ff.visit(f);
        visit_child("norm1", &self.norm1, f);
        visit_child("norm2", &self.norm2, f);
        visit_child("dropout1", &self.dropout1, f);
        visit_child("dropout2", &self.dropout2, f);
    }
}

/// A stack of [`TransformerEncoderLayer`]s with an optional final layer norm, as
/// `torch.nn.TransformerEncoder(encoder_layer, num_layers, norm)`. Parameters are named
/// `layers.0.self_attn.in_proj_weight`, …, `norm.weight`, as PyTorch's.
///
/// PyTorch deep-copies one layer, so its layers start with equal weights; here each layer
/// is drawn afresh from the generator ([`TransformerEncoder::from_layers`] takes layers
/// built any other way). Weights loaded from PyTorch are the same either way.
///
/// # Shapes
/// - input `[N, L, d_model]` (batch first); output the same
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{MhaOptions, Module, ModuleExt, TransformerConfig, TransformerEncoder, init};
///
/// let config = TransformerConfig::new(512, 8);
/// let encoder = TransformerEncoder::<f32>::new(config, 6, &mut init::rng(0)).with_final_norm();
/// // PyTorch: TransformerEncoder(TransformerEncoderLayer(512, 8), 6, norm=LayerNorm(512)).
/// assert_eq!(encoder.num_params(), 18_915_328);
/// let small = TransformerEncoder::<f32>::new(TransformerConfig::new(8, 2).dim_feedforward(16), 2, &mut init::rng(0));
/// let g = Graph::new();
/// let src = g.constant(Tensor::zeros(&[3, 4, 8]));
/// assert_eq!(small.forward_masked(src, MhaOptions::new().causal()).shape(), vec![3, 4, 8]);
/// ```
pub struct TransformerEncoder<T: Float = f32> {
    layers: Vec<TransformerEncoderLayer<T>>,
    norm: Option<LayerNorm<T>>,
}

impl<T: Float> TransformerEncoder<T> {
    /// `num_layers` layers of `config`, each initialised from `rng`; no final norm.
    ///
    /// # Panics
    /// If `d_model` is 0 or not divisible by `nhead`.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(config: TransformerConfig, num_layers: usize, rng: &mut R) -> Self {
        let layers = (0..num_layers)
            .map(|_| TransformerEncoderLayer::new(config, rng))
            .collect();
        TransformerEncoder { layers, norm: None }
    }

    /// An encoder of the given layers and optional final norm.
    pub fn from_layers(
        layers: Vec<TransformerEncoderLayer<T>>,
        norm: Option<LayerNorm<T>>,
    ) -> Self {
        TransformerEncoder { layers, norm }
    }

    /// Adds a final layer norm over `d_model` features (eps 1e-5), PyTorch's `norm`
    /// argument; the usual companion of pre-norm layers.
    pub fn with_final_norm(mut self) -> Self {
        let d = self.layers.first().map_or(0, |l| l.self_attn.embed_dim());
        self.norm = Some(LayerNorm::new(&[d]));
        self
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerEncoderLayer<T>] {
        &self.layers
    }

    /// The forward pass with every layer's self-attention masked by `masks` (see
    /// [`TransformerEncoderLayer::forward_masked`]): PyTorch's `mask`,
    /// `src_key_padding_mask`, `is_causal`.
    ///
    /// # Panics
    /// If the input is not `[N, L, d_model]` or a mask has the wrong shape.
    #[track_caller]
    pub fn forward_masked<'g>(&self, src: Var<'g, T>, masks: MhaOptions<'g, T>) -> Var<'g, T> {
        let x = self
            .layers
            .iter()
            .fold(src, |x, layer| layer.forward_masked(x, masks));
        self.final_norm(x)
    }

    /// The forward pass and every layer's self-attention weights, first layer first (see
    /// [`TransformerEncoderLayer::forward_with_weights`]): what to draw to see what the
    /// model attends to.
    ///
    /// # Panics
    /// As [`forward_masked`](Self::forward_masked).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{MhaOptions, TransformerConfig, TransformerEncoder, init};
    ///
    /// let config = TransformerConfig::new(8, 2).dim_feedforward(16);
    /// let encoder = TransformerEncoder::<f32>::new(config, 3, &mut init::rng(0));
    /// let g = Graph::new();
    /// let src = g.constant(Tensor::zeros(&[2, 5, 8]));
    /// let (out, weights) = encoder.forward_with_weights(src, MhaOptions::new().per_head_weights());
    /// assert_eq!(out.shape(), vec![2, 5, 8]);
    /// assert_eq!(weights.len(), 3);
    /// assert_eq!(weights[0].shape(), vec![2, 2, 5, 5]);
    /// ```
    #[track_caller]
    pub fn forward_with_weights<'g>(
        &self,
        src: Var<'g, T>,
        masks: MhaOptions<'g, T>,
    ) -> (Var<'g, T>, Vec<Var<'g, T>>) {
        let mut weights = Vec::with_capacity(self.layers.len());
        let x = self.layers.iter().fold(src, |x, layer| {
            let (y, w) = layer.forward_with_weights(x, masks);
            weights.push(w);
            y
        });
        (self.final_norm(x), weights)
    }

    fn final_norm<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}

impl<T: Float> Module<T> for TransformerEncoder<T> {
    /// The encoder without masks.
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.forward_masked(x, MhaOptions::new())
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        for (i, layer) in self.layers.iter().enumerate() {
            visit_child(&format!("layers.{i}"), layer, f);
        }
        if let Some(norm) = &self.norm {
            visit_child("norm", norm, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransformerDecoderLayer;
    use crate::init;
    use crate::testing::check_module;
    use crate::{KeyPadding, ModuleExt};
    use ferrograd_autograd::{GradcheckOptions, Graph, Tensor, gradcheck};

    fn small(norm_first: bool, activation: TransformerActivation) -> TransformerConfig {
        TransformerConfig::new(4, 2)
            .dim_feedforward(6)
            .norm_first(norm_first)
            .activation(activation)
    }

    fn normal(shape: &[usize], seed: u64) -> Tensor<f64> {
        Tensor::rand_normal(shape, 0.0, 1.0, &mut init::rng(seed))
    }

    #[test]
    fn parameter_counts_match_pytorch() {
        // sum(p.numel() for p in m.parameters()), torch 2.15.
        let mut rng = init::rng(0);
        let (big, tiny) = (
            TransformerConfig::new(512, 8),
            TransformerConfig::new(8, 2).dim_feedforward(16),
        );
        assert_eq!(
            TransformerEncoderLayer::<f32>::new(big, &mut rng).num_params(),
            3_152_384
        );
        assert_eq!(
            TransformerDecoderLayer::<f32>::new(big, &mut rng).num_params(),
            4_204_032
        );
        assert_eq!(
            TransformerEncoderLayer::<f32>::new(tiny, &mut rng).num_params(),
            600
        );
        assert_eq!(
            TransformerDecoderLayer::<f32>::new(tiny, &mut rng).num_params(),
            904
        );
    }

    #[test]
    fn parameter_names_are_pytorchs() {
        let encoder = TransformerEncoder::<f32>::new(
            small(false, TransformerActivation::ReLU),
            2,
            &mut init::rng(0),
        )
        .with_final_norm();
        let names: Vec<String> = encoder.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names[..8],
            [
                "layers.0.self_attn.in_proj_weight",
                "layers.0.self_attn.in_proj_bias",
                "layers.0.self_attn.out_proj.weight",
                "layers.0.self_attn.out_proj.bias",
                "layers.0.linear1.weight",
                "layers.0.linear1.bias",
                "layers.0.linear2.weight",
                "layers.0.linear2.bias",
            ]
        );
        assert_eq!(names[names.len() - 2..], ["norm.weight", "norm.bias"]);
        let decoder = TransformerDecoderLayer::<f32>::new(
            small(true, TransformerActivation::GELU),
            &mut init::rng(0),
        );
        let names: Vec<String> = decoder.state().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"multihead_attn.in_proj_weight".to_string()));
        assert_eq!(names.last().unwrap(), "norm3.bias");
    }

    #[test]
    fn dropout_is_active_in_training_only() {
        let layer = TransformerEncoderLayer::<f64>::new(
            small(false, TransformerActivation::ReLU).dropout(0.5),
            &mut init::rng(0),
        );
        let g = Graph::new();
        let x = g.constant(normal(&[2, 5, 4], 1));
        assert_ne!(layer.forward(x).value(), layer.forward(x).value());
        layer.eval();
        assert_eq!(layer.forward(x).value(), layer.forward(x).value());
        let no_dropout = TransformerEncoderLayer::<f64>::new(
            small(false, TransformerActivation::ReLU).dropout(0.0),
            &mut init::rng(0),
        );
        no_dropout.eval();
        // The same weights (the dropout seeds come after them from the generator).
        assert!(
            layer
                .forward(x)
                .value()
                .allclose(&no_dropout.forward(x).value(), 0.0, 0.0)
        );
    }

    #[test]
    fn padding_keys_do_not_change_the_other_positions() {
        let layer = TransformerEncoderLayer::<f64>::new(
            small(true, TransformerActivation::GELU),
            &mut init::rng(0),
        );
        layer.eval();
        let g = Graph::new();
        let pad = g.constant(Tensor::from_vec(vec![0.0, 0.0, 1.0], &[1, 3]));
        let masks = MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad));
        let a = normal(&[1, 3, 4], 1);
        let mut b = a.clone();
        b.view_mut()[[0, 2, 1].as_slice()] += 5.0;
        let ya = layer.forward_masked(g.constant(a), masks).value();
        let yb = layer.forward_masked(g.constant(b), masks).value();
        for i in 0..8 {
            assert!((ya.to_vec()[i] - yb.to_vec()[i]).abs() < 1e-12);
        }
        assert_ne!(ya.to_vec()[8..], yb.to_vec()[8..]);
    }

    #[test]
    fn the_weights_returned_are_those_of_the_output_computed() {
        // forward_with_weights takes the explicit-softmax path, forward_masked the fused
        // op: the outputs agree, and padding keys get no weight in any layer.
        let encoder = TransformerEncoder::<f64>::new(
            small(false, TransformerActivation::ReLU),
            2,
            &mut init::rng(0),
        )
        .with_final_norm();
        encoder.eval();
        let g = Graph::new();
        let pad = g.constant(Tensor::from_vec(vec![0.0, 0.0, 1.0], &[1, 3]));
        let masks = MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad));
        let src = g.constant(normal(&[1, 3, 4], 1));
        let fused = encoder.forward_masked(src, masks).value().to_vec();
        let (out, weights) = encoder.forward_with_weights(src, masks.per_head_weights());
        for (a, b) in fused.iter().zip(out.value().to_vec()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert_eq!(weights.len(), 2);
        for w in weights {
            let w = w.value();
            assert_eq!(w.shape(), &[1, 2, 3, 3]);
            assert!((0..2).all(|h| (0..3).all(|q| w.get(&[0, h, q, 2]) == 0.0)));
        }
    }

    #[test]
    fn the_decoder_is_causal_in_its_target() {
        let layer = TransformerDecoderLayer::<f64>::new(
            small(false, TransformerActivation::ReLU),
            &mut init::rng(0),
        );
        layer.eval();
        let g = Graph::new();
        let memory = g.constant(normal(&[1, 2, 4], 2));
        let a = normal(&[1, 3, 4], 1);
        let mut b = a.clone();
        b.view_mut()[[0, 2, 0].as_slice()] -= 3.0;
        let ya = layer
            .forward_inputs(&[g.constant(a), memory])
            .value()
            .to_vec();
        let yb = layer
            .forward_inputs(&[g.constant(b), memory])
            .value()
            .to_vec();
        for i in 0..8 {
            assert!(
                (ya[i] - yb[i]).abs() < 1e-12,
                "position {} saw the future",
                i / 4
            );
        }
        assert_ne!(ya[8..], yb[8..]);
    }

    #[test]
    fn encoder_grads_match_finite_diff() {
        for (norm_first, activation) in [
            (false, TransformerActivation::ReLU),
            (true, TransformerActivation::GELU),
        ] {
            let encoder =
                TransformerEncoder::<f64>::new(small(norm_first, activation), 2, &mut init::rng(3))
                    .with_final_norm();
            encoder.eval();
            check_module(&encoder, &normal(&[2, 3, 4], 4)).unwrap();
        }
    }

    #[test]
    fn decoder_grads_match_finite_diff() {
        let layer = TransformerDecoderLayer::<f64>::new(
            small(true, TransformerActivation::GELU),
            &mut init::rng(5),
        );
        layer.eval();
        let inputs = [normal(&[2, 3, 4], 6), normal(&[2, 2, 4], 7)];
        gradcheck(
            |v| layer.forward_inputs(v),
            &inputs,
            &GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn a_character_model_stacks_in_a_sequential_and_has_a_summary() {
        use crate::{Embedding, Linear, Sequential, SinusoidalPositionalEncoding};
        let mut rng = init::rng(0);
        let config = TransformerConfig::new(8, 2)
            .dim_feedforward(16)
            .dropout(0.0);
        let model = Sequential::<f32>::new()
            .add(Embedding::new(20, 8, &mut rng))
            .add(SinusoidalPositionalEncoding::new(8, 32))
            .add(TransformerEncoder::new(config.norm_first(true), 2, &mut rng).with_final_norm())
            .add(Linear::new(8, 20, &mut rng));
        assert_eq!(model.num_params(), 20 * 8 + 2 * 600 + 16 + 8 * 20 + 20);
        let summary = model.summary(&[3, 10]);
        assert_eq!(summary.rows.last().unwrap().output, vec![3, 10, 20]);
        assert!(
            summary
                .rows
                .iter()
                .any(|r| r.layer.contains("TransformerEncoderLayer"))
        );
    }

    #[test]
    #[should_panic(
        expected = "TransformerDecoderLayer: forward takes 2 inputs (tgt, memory), got 1"
    )]
    fn decoder_forward_panics_without_memory() {
        let layer = TransformerDecoderLayer::<f32>::new(
            small(false, TransformerActivation::ReLU),
            &mut init::rng(0),
        );
        let g = Graph::new();
        layer.forward(g.constant(Tensor::zeros(&[1, 3, 4])));
    }

    #[test]
    #[should_panic(expected = "TransformerConfig: dropout must be in [0, 1], got 1.5")]
    fn config_panics_on_bad_dropout() {
        TransformerConfig::new(4, 2).dropout(1.5);
    }
}
