//! `TransformerDecoderLayer` and `TransformerDecoder` (a stack of them), as `torch.nn`'s.

use ferrograd_autograd::{Float, Var};
use rand::Rng;

use super::attention::MultiheadAttention;
use super::attention_options::MhaOptions;
use super::dropout::Dropout;
use super::norm::LayerNorm;
use super::transformer::{FeedForward, TransformerConfig, masks_only, residual};
use crate::module::{Module, Slot, visit_child};

/// A Transformer decoder layer, as `torch.nn.TransformerDecoderLayer(..., batch_first=True)`:
/// self-attention over the target, cross-attention of the target over the encoder's
/// output (the memory), then a feed-forward network, each in a residual block with a layer
/// norm (pre- or post-norm, see [`TransformerConfig::norm_first`]).
///
/// Parameters as PyTorch names them: `self_attn.*`, `multihead_attn.*` (the
/// cross-attention), `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`, `norm3.*`.
///
/// As a [`Module`], `forward_inputs(&[tgt, memory])` runs the layer with causal
/// self-attention (each target position sees itself and the positions before it) and no
/// other mask; [`TransformerDecoderLayer::forward_masked`] takes any masks.
///
/// # Shapes
/// - target `[N, T, d_model]`, memory `[N, S, d_model]` (batch first)
/// - output `[N, T, d_model]`
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Module, ModuleExt, TransformerConfig, TransformerDecoderLayer, init};
///
/// let layer = TransformerDecoderLayer::<f32>::new(TransformerConfig::new(8, 2).dim_feedforward(16), &mut init::rng(0));
/// assert_eq!(layer.num_params(), 904); // as PyTorch's TransformerDecoderLayer(8, 2, 16)
/// let g = Graph::new();
/// let tgt = g.constant(Tensor::zeros(&[2, 3, 8]));
/// let memory = g.constant(Tensor::zeros(&[2, 7, 8]));
/// assert_eq!(layer.forward_inputs(&[tgt, memory]).shape(), vec![2, 3, 8]);
/// ```
pub struct TransformerDecoderLayer<T: Float = f32> {
    self_attn: MultiheadAttention<T>,
    multihead_attn: MultiheadAttention<T>,
    ff: FeedForward<T>,
    norm1: LayerNorm<T>,
    norm2: LayerNorm<T>,
    norm3: LayerNorm<T>,
    dropout1: Dropout,
    dropout2: Dropout,
    dropout3: Dropout,
    norm_first: bool,
}

impl<T: Float> TransformerDecoderLayer<T> {
    /// A layer of `config`'s sizes, with PyTorch's initialisation drawn from `rng` (which
    /// also seeds the dropout streams).
    ///
    /// # Panics
    /// If `d_model` is 0 or not divisible by `nhead`.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(config: TransformerConfig, rng: &mut R) -> Self {
        TransformerDecoderLayer {
            self_attn: config.attention(rng),
            multihead_attn: config.attention(rng),
            ff: FeedForward::new(&config, rng),
            norm1: config.norm(),
            norm2: config.norm(),
            norm3: config.norm(),
            dropout1: config.dropout_layer(rng),
            dropout2: config.dropout_layer(rng),
            dropout3: config.dropout_layer(rng),
            norm_first: config.norm_first,
        }
    }

    /// The forward pass of target `tgt` over `memory`: `tgt_masks` mask the self-attention
    /// (PyTorch's `tgt_mask`, `tgt_key_padding_mask`, `tgt_is_causal`; use
    /// [`MhaOptions::causal`] for the usual causal decoder), `memory_masks` the
    /// cross-attention (`memory_mask`, `memory_key_padding_mask`). Weights asked for in the
    /// masks are not computed.
    ///
    /// # Panics
    /// If the inputs are not `[N, T, d_model]` and `[N, S, d_model]` or a mask has the
    /// wrong shape.
    #[track_caller]
    pub fn forward_masked<'g>(
        &self,
        tgt: Var<'g, T>,
        memory: Var<'g, T>,
        tgt_masks: MhaOptions<'g, T>,
        memory_masks: MhaOptions<'g, T>,
    ) -> Var<'g, T> {
        let (tgt_masks, memory_masks) = (masks_only(tgt_masks), masks_only(memory_masks));
        let x = residual(tgt, self.norm_first, &self.norm1, &self.dropout1, |x| {
            self.self_attn.attend(x, x, x, tgt_masks).0
        });
        let x = residual(x, self.norm_first, &self.norm2, &self.dropout2, |x| {
            self.multihead_attn
                .attend(x, memory, memory, memory_masks)
                .0
        });
        let y = residual(x, self.norm_first, &self.norm3, &self.dropout3, |x| {
            self.ff.forward(x)
        });
        crate::module_ext::traced(self, y)
    }
}

impl<T: Float> Module<T> for TransformerDecoderLayer<T> {
    /// # Panics
    /// Always: a decoder layer takes a target and a memory (`forward_inputs(&[tgt, memory])`
    /// or [`TransformerDecoderLayer::forward_masked`]).
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.forward_inputs(&[x])
    }

    /// `[tgt, memory]`: the layer with causal self-attention and no other mask.
    ///
    /// # Panics
    /// If `inputs` is not two inputs, or as [`TransformerDecoderLayer::forward_masked`].
    #[track_caller]
    fn forward_inputs<'g>(&self, inputs: &[Var<'g, T>]) -> Var<'g, T> {
        let (tgt, memory) = tgt_and_memory("TransformerDecoderLayer", inputs);
        self.forward_masked(tgt, memory, MhaOptions::new().causal(), MhaOptions::new())
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        visit_child("self_attn", &self.self_attn, f);
        visit_child("multihead_attn", &self.multihead_attn, f);
        self.ff.visit(f);
        visit_child("norm1", &self.norm1, f);
        visit_child("norm2", &self.norm2, f);
        visit_child("norm3", &self.norm3, f);
        visit_child("dropout1", &self.dropout1, f);
        visit_child("dropout2", &self.dropout2, f);
        visit_child("dropout3", &self.dropout3, f);
    }
}

/// A stack of [`TransformerDecoderLayer`]s with an optional final layer norm, as
/// `torch.nn.TransformerDecoder(decoder_layer, num_layers, norm)`. Parameters are named
/// `layers.0.self_attn.in_proj_weight`, …, `norm.weight`, as PyTorch's.
///
/// PyTorch deep-copies one layer, so its layers start with equal weights; here each layer
/// is drawn afresh from the generator ([`TransformerDecoder::from_layers`] takes layers
/// built any other way). As a [`Module`], `forward_inputs(&[tgt, memory])` runs every
/// layer with causal self-attention and no other mask.
///
/// # Shapes
/// - target `[N, T, d_model]`, memory `[N, S, d_model]` (batch first)
/// - output `[N, T, d_model]`
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Module, ModuleExt, TransformerConfig, TransformerDecoder, init};
///
/// let config = TransformerConfig::new(512, 8);
/// let decoder = TransformerDecoder::<f32>::new(config, 6, &mut init::rng(0)).with_final_norm();
/// // PyTorch: TransformerDecoder(TransformerDecoderLayer(512, 8), 6, norm=LayerNorm(512)).
/// assert_eq!(decoder.num_params(), 25_225_216);
/// let small = TransformerDecoder::<f32>::new(TransformerConfig::new(8, 2).dim_feedforward(16), 2, &mut init::rng(0));
/// let g = Graph::new();
/// let (tgt, memory) = (g.constant(Tensor::zeros(&[3, 4, 8])), g.constant(Tensor::zeros(&[3, 6, 8])));
/// assert_eq!(small.forward_inputs(&[tgt, memory]).shape(), vec![3, 4, 8]);
/// ```
pub struct TransformerDecoder<T: Float = f32> {
    layers: Vec<TransformerDecoderLayer<T>>,
    norm: Option<LayerNorm<T>>,
    d_model: usize,
}

impl<T: Float> TransformerDecoder<T> {
    /// `num_layers` layers of `config`, each initialised from `rng`; no final norm.
    ///
    /// # Panics
    /// If `d_model` is 0 or not divisible by `nhead`.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(config: TransformerConfig, num_layers: usize, rng: &mut R) -> Self {
        let layers = (0..num_layers)
            .map(|_| TransformerDecoderLayer::new(config, rng))
            .collect();
        TransformerDecoder {
            layers,
            norm: None,
            d_model: config.d_model(),
        }
    }

    /// A decoder of the given layers (of `d_model` features) and optional final norm.
    pub fn from_layers(
        layers: Vec<TransformerDecoderLayer<T>>,
        d_model: usize,
        norm: Option<LayerNorm<T>>,
    ) -> Self {
        TransformerDecoder {
            layers,
            norm,
            d_model,
        }
    }

    /// Adds a final layer norm over `d_model` features (eps 1e-5), PyTorch's `norm`
    /// argument.
    pub fn with_final_norm(mut self) -> Self {
        self.norm = Some(LayerNorm::new(&[self.d_model]));
        self
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerDecoderLayer<T>] {
        &self.layers
    }

    /// The forward pass with every layer masked as
    /// [`TransformerDecoderLayer::forward_masked`] (PyTorch's `tgt_mask`,
    /// `tgt_key_padding_mask`, `tgt_is_causal`; `memory_mask`, `memory_key_padding_mask`).
    ///
    /// # Panics
    /// If the inputs are not `[N, T, d_model]` and `[N, S, d_model]` or a mask has the
    /// wrong shape.
    #[track_caller]
    pub fn forward_masked<'g>(
        &self,
        tgt: Var<'g, T>,
        memory: Var<'g, T>,
        tgt_masks: MhaOptions<'g, T>,
        memory_masks: MhaOptions<'g, T>,
    ) -> Var<'g, T> {
        let x = self.layers.iter().fold(tgt, |x, layer| {
            layer.forward_masked(x, memory, tgt_masks, memory_masks)
        });
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}

impl<T: Float> Module<T> for TransformerDecoder<T> {
    /// # Panics
    /// Always: a decoder takes a target and a memory (`forward_inputs(&[tgt, memory])` or
    /// [`TransformerDecoder::forward_masked`]).
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.forward_inputs(&[x])
    }

    /// `[tgt, memory]`: every layer with causal self-attention and no other mask.
    ///
    /// # Panics
    /// If `inputs` is not two inputs, or as [`TransformerDecoder::forward_masked`].
    #[track_caller]
    fn forward_inputs<'g>(&self, inputs: &[Var<'g, T>]) -> Var<'g, T> {
        let (tgt, memory) = tgt_and_memory("TransformerDecoder", inputs);
        self.forward_masked(tgt, memory, MhaOptions::new().causal(), MhaOptions::new())
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

/// The target and memory of a decoder's `forward_inputs`.
///
/// # Panics
/// If there are not exactly two inputs (the message names `layer`).
#[track_caller]
fn tgt_and_memory<'g, T: Float>(layer: &str, inputs: &[Var<'g, T>]) -> (Var<'g, T>, Var<'g, T>) {
    let &[tgt, memory] = inputs else {
        panic!(
            "{layer}: forward takes 2 inputs (tgt, memory), got {}",
            inputs.len()
        );
    };
    (tgt, memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use crate::init;
    use ferrograd_autograd::{GradcheckOptions, Graph, Tensor, gradcheck};

    #[test]
    fn decoder_grads_match_finite_diff() {
        let config = TransformerConfig::new(4, 2).dim_feedforward(6);
        let decoder =
            TransformerDecoder::<f64>::new(config, 2, &mut init::rng(0)).with_final_norm();
        decoder.eval();
        let mut rng = init::rng(1);
        let inputs = [
            Tensor::rand_normal(&[2, 3, 4], 0.0, 1.0, &mut rng),
            Tensor::rand_normal(&[2, 2, 4], 0.0, 1.0, &mut rng),
        ];
        gradcheck(
            |v| decoder.forward_inputs(v),
            &inputs,
            &GradcheckOptions::default(),
        )
        .unwrap();
        let names: Vec<String> = decoder.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "layers.0.self_attn.in_proj_weight");
        assert_eq!(names[names.len() - 1], "norm.bias");
    }

    #[test]
    #[should_panic(expected = "TransformerDecoder: forward takes 2 inputs (tgt, memory), got 3")]
    fn decoder_panics_on_three_inputs() {
        let config = TransformerConfig::new(4, 2).dim_feedforward(6);
        let decoder = TransformerDecoder::<f32>::new(config, 1, &mut init::rng(0));
        let g = Graph::new();
        let x = g.constant(Tensor::zeros(&[1, 2, 4]));
        decoder.forward_inputs(&[x, x, x]);
    }
}
