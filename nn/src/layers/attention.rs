//! `MultiheadAttention`, as `torch.nn.MultiheadAttention` with `batch_first=True`.

use ferrograd_autograd::{Attention, AttnMask, Float, Param, Var};
use rand::{Rng, RngExt};

use super::attention_options::{KeyPadding, MhaOptions, merge};
use super::linear::Linear;
use crate::init::{Init, constant_param};
use crate::module::{Mode, Module, Slot, visit_child};
use crate::rng::LayerRng;

/// How the queries, keys and values are projected: one packed `[3E, E]` weight (PyTorch's
/// `in_proj_weight`) when keys and values have `embed_dim` features, else three.
enum InProj<T: Float> {
    Packed(Param<T>),
    Separate {
        q: Param<T>,
        k: Param<T>,
        v: Param<T>,
    },
}

/// Multi-head attention, as `torch.nn.MultiheadAttention(embed_dim, num_heads,
/// batch_first=True)`: the queries, keys and values are projected, split into `num_heads`
/// heads of `embed_dim / num_heads` features, attended ([`Var::scaled_dot_product_attention`])
/// and the heads' outputs concatenated and projected by `out_proj`.
///
/// Parameters have PyTorch's names and layouts, so a PyTorch `state_dict` (saved as
/// safetensors) loads as it is: `in_proj_weight [3E, E]` (packed q, k, v), or
/// `q_proj_weight [E, E]`, `k_proj_weight [E, kdim]`, `v_proj_weight [E, vdim]` when
/// [`MhaBuilder::kdim_vdim`] differ from `E`; `in_proj_bias [3E]`, `out_proj.weight [E, E]`,
/// `out_proj.bias [E]`. PyTorch's initialisation: Xavier uniform in-projection weights (the
/// packed one as one `[3E, E]` matrix), a `Linear`'s `out_proj.weight`, zero biases.
///
/// Dropout (on the attention weights) is active in training mode only
/// ([`ModuleExt::eval`](crate::ModuleExt::eval) turns it off), drawing from the layer's own
/// seeded stream, as [`Dropout`](crate::Dropout). PyTorch's `add_bias_kv` and `add_zero_attn`
/// are not supported.
///
/// As a [`Module`], `forward(x)` is self-attention (`x` the queries, keys and values) and
/// `forward_inputs` takes `[x]` or `[query, key, value]`; [`MultiheadAttention::attend`]
/// takes masks and returns the weights.
///
/// # Shapes
/// - query `[N, L, E]`, key `[N, S, kdim]`, value `[N, S, vdim]` (batch first)
/// - output `[N, L, E]`; weights `[N, L, S]` (averaged) or `[N, num_heads, L, S]`
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{KeyPadding, MhaOptions, ModuleExt, MultiheadAttention, init};
///
/// let mha = MultiheadAttention::<f32>::new(8, 2, &mut init::rng(0));
/// assert_eq!(mha.num_params(), 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8); // as PyTorch: 288
/// let g = Graph::new();
/// let x = g.constant(Tensor::rand_normal(&[2, 3, 8], 0.0, 1.0, &mut init::rng(1)));
/// // The last key of the second sequence is padding.
/// let pad = g.constant(Tensor::from_vec(vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]));
/// let opts = MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad)).need_weights();
/// let (y, weights) = mha.attend(x, x, x, opts);
/// assert_eq!(y.shape(), vec![2, 3, 8]);
/// let weights = weights.unwrap().value();
/// assert_eq!(weights.shape(), &[2, 3, 3]);
/// assert_eq!(weights.get(&[1, 0, 2]), 0.0);
/// ```
pub struct MultiheadAttention<T: Float = f32> {
    embed_dim: usize,
    num_heads: usize,
    kdim: usize,
    vdim: usize,
    in_proj: InProj<T>,
    in_proj_bias: Option<Param<T>>,
    out_proj: Linear<T>,
    dropout: f64,
    mode: Mode,
    rng: LayerRng,
}

/// The configuration of a [`MultiheadAttention`], from [`MultiheadAttention::builder`].
#[derive(Clone, Copy, Debug)]
pub struct MhaBuilder {
    embed_dim: usize,
    num_heads: usize,
    kdim: usize,
    vdim: usize,
    bias: bool,
    dropout: f64,
}

impl MhaBuilder {
    /// Keys of `kdim` and values of `vdim` features (PyTorch's `kdim`, `vdim`; both default
    /// to `embed_dim`). Unless both equal `embed_dim`, the projections are three separate
    /// weights.
    pub fn kdim_vdim(mut self, kdim: usize, vdim: usize) -> Self {
        self.kdim = kdim;
        self.vdim = vdim;
        self
    }

    /// No in- and out-projection biases (PyTorch's `bias=False`).
    pub fn without_bias(mut self) -> Self {
        self.bias = false;
        self
    }

    /// Dropout probability on the attention weights in training mode (PyTorch's `dropout`,
    /// default 0).
    ///
    /// # Panics
    /// If `p` is not in `[0, 1]`.
    #[track_caller]
    pub fn dropout(mut self, p: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "MultiheadAttention: dropout must be in [0, 1], got {p}"
        );
        self.dropout = p;
        self
    }

    /// Builds the layer with PyTorch's initialisation, drawing from `rng` (also the seed of
    /// the dropout stream).
    ///
    /// # Panics
    /// If `embed_dim` is 0 or not divisible by `num_heads`, or a weight is too large to
    /// allocate.
    #[track_caller]
    pub fn build<T: Float, R: Rng + ?Sized>(self, rng: &mut R) -> MultiheadAttention<T> {
        let op = "MultiheadAttention::new";
        let (e, h) = (self.embed_dim, self.num_heads);
        assert!(
            e > 0 && h > 0 && e % h == 0,
            "{op}: embed_dim {e} must be positive and divisible by num_heads {h}"
        );
        let xavier = Init::glorot_uniform();
        let in_proj = if self.kdim == e && self.vdim == e {
            InProj::Packed(xavier.param(op, "in_proj_weight", &[3 * e, e], rng))
        } else {
            InProj::Separate {
                q: xavier.param(op, "q_proj_weight", &[e, e], rng),
                k: xavier.param(op, "k_proj_weight", &[e, self.kdim], rng),
                v: xavier.param(op, "v_proj_weight", &[e, self.vdim], rng),
            }
        };
        let zeros = |what: &str, len: usize| constant_param(op, what, &[len], 0.0);
        let out_weight = Init::pytorch_default().param(op, "out_proj.weight", &[e, e], rng);
        MultiheadAttention {
            embed_dim: e,
            num_heads: h,
            kdim: self.kdim,
            vdim: self.vdim,
            in_proj,
            in_proj_bias: self.bias.then(|| zeros("in_proj_bias", 3 * e)),
            out_proj: Linear::from_params(out_weight, self.bias.then(|| zeros("out_proj.bias", e))),
            dropout: self.dropout,
            mode: Mode::default(),
            rng: LayerRng::new(rng.random()),
        }
    }
}

impl MultiheadAttention {
    /// The configuration of a layer, to set `kdim`/`vdim`, bias and dropout before
    /// [`MhaBuilder::build`] (for any float type: defined on the default `f32` layer only
    /// so that `MultiheadAttention::builder` needs no type annotation).
    ///
    /// ```
    /// use ferrograd::nn::{ModuleExt, MultiheadAttention, init};
    /// let mha = MultiheadAttention::builder(8, 2)
    ///     .kdim_vdim(4, 6)
    ///     .without_bias()
    ///     .dropout(0.1)
    ///     .build::<f32, _>(&mut init::rng(0));
    /// let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]);
    /// assert_eq!(mha.num_params(), 8 * 8 + 8 * 4 + 8 * 6 + 8 * 8);
    /// ```
    pub fn builder(embed_dim: usize, num_heads: usize) -> MhaBuilder {
        MhaBuilder {
            embed_dim,
            num_heads,
            kdim: embed_dim,
            vdim: embed_dim,
            bias: true,
            dropout: 0.0,
        }
    }
}

/// `x·wᵀ (+ b)` over the last axis, without a [`Linear`] layer's summary row.
fn project<'g, T: Float>(x: Var<'g, T>, w: Var<'g, T>, b: Option<Var<'g, T>>) -> Var<'g, T> {
    let y = x.matmul(w.transpose(0, 1));
    match b {
        Some(b) => y + b,
        None => y,
    }
}

impl<T: Float> MultiheadAttention<T> {
    /// A layer of `num_heads` heads over `embed_dim` features, packed projections with
    /// biases, no dropout: PyTorch's `MultiheadAttention(embed_dim, num_heads,
    /// batch_first=True)`. See [`MultiheadAttention::builder`] for the options.
    ///
    /// # Panics
    /// If `embed_dim` is 0 or not divisible by `num_heads`
    /// (`MultiheadAttention::new: embed_dim 10 must be positive and divisible by num_heads 3`).
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(embed_dim: usize, num_heads: usize, rng: &mut R) -> Self {
        MultiheadAttention::builder(embed_dim, num_heads).build(rng)
    }

    /// The number of features of the queries and the output (`E`).
    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// Whether the layer is in training mode (dropout active).
    pub fn is_training(&self) -> bool {
        self.mode.is_training()
    }

    /// Attention of `query` `[N, L, E]` over `key` `[N, S, kdim]` and `value`
    /// `[N, S, vdim]`, with the masks in `options`: the output `[N, L, E]` and, if asked for
    /// ([`MhaOptions::need_weights`], [`MhaOptions::per_head_weights`]), the attention
    /// weights (after dropout, as PyTorch returns them). PyTorch's
    /// `mha(query, key, value, key_padding_mask, need_weights, attn_mask,
    /// average_attn_weights, is_causal)`.
    ///
    /// A query whose keys are all masked gets NaN, as in PyTorch.
    ///
    /// # Panics
    /// If an input is not 3-D, the batch sizes or key and value lengths differ, a feature
    /// dimension does not match the layer, or a mask has the wrong shape; the message names
    /// the layer and the shapes.
    #[track_caller]
    pub fn attend<'g>(
        &self,
        query: Var<'g, T>,
        key: Var<'g, T>,
        value: Var<'g, T>,
        options: MhaOptions<'g, T>,
    ) -> (Var<'g, T>, Option<Var<'g, T>>) {
        let (n, l, s) = self.check_inputs(query, key, value);
        let mask = merge(
            self.attn_mask(options.attn_mask, n, l, s),
            self.key_padding(options.key_padding, n, s),
        );
        let g = query.graph();
        let bias = self.in_proj_bias.as_ref().map(|b| g.param(b).chunk(3, 0));
        let bias = |i: usize| bias.as_ref().map(|b| b[i]);
        let (wq, wk, wv) = match &self.in_proj {
            InProj::Packed(w) => {
                let w = g.param(w).chunk(3, 0);
                (w[0], w[1], w[2])
            }
            InProj::Separate { q, k, v } => (g.param(q), g.param(k), g.param(v)),
        };
        let heads = self.num_heads as isize;
        // [N, len, E] → [N, heads, len, E / heads]
        let split = |x: Var<'g, T>| {
            x.reshape(&[
                n as isize,
                -1,
                heads,
                (self.embed_dim / self.num_heads) as isize,
            ])
            .permute(&[0, 2, 1, 3])
        };
        let q = split(project(query, wq, bias(0)));
        let k = split(project(key, wk, bias(1)));
        let v = split(project(value, wv, bias(2)));
        let p = if self.mode.is_training() {
            self.dropout
        } else {
            0.0
        };
        let (attended, weights) = self.rng.with(|rng| match options.weights {
            None => {
                let mut opts = Attention::new();
                if let Some(m) = mask {
                    opts = opts.mask(m);
                }
                if options.causal {
                    opts = opts.causal();
                }
                if p > 0.0 {
                    opts = opts.dropout(p, rng);
                }
                (q.scaled_dot_product_attention(k, v, opts), None)
            }
            Some(average) => {
                let w = attention_weights(q, k, mask, options.causal);
                let w = if p > 0.0 { w.dropout(p, rng) } else { w };
                let returned = if average { w.mean_axes(&[1], false) } else { w };
                (w.matmul(v), Some(returned))
            }
        });
        let merged = attended.permute(&[0, 2, 1, 3]).reshape(&[
            n as isize,
            l as isize,
            self.embed_dim as isize,
        ]);
        let out = project(
            merged,
            g.param(self.out_proj.weight()),
            self.out_proj.bias().map(|b| g.param(b)),
        );
        (crate::module_ext::traced(self, out), weights)
    }

    /// Checks the inputs' shapes; returns `(N, L, S)`.
    #[track_caller]
    fn check_inputs<'g>(
        &self,
        q: Var<'g, T>,
        k: Var<'g, T>,
        v: Var<'g, T>,
    ) -> (usize, usize, usize) {
        let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
        let ok = qs.len() == 3
            && ks.len() == 3
            && vs.len() == 3
            && qs[0] == ks[0]
            && ks[0] == vs[0]
            && ks[1] == vs[1]
            && qs[2] == self.embed_dim
            && ks[2] == self.kdim
            && vs[2] == self.vdim;
        assert!(
            ok,
            "MultiheadAttention: query {qs:?}, key {ks:?} and value {vs:?} must be [N, L, {}], [N, S, {}] and [N, S, {}] (batch first)",
            self.embed_dim, self.kdim, self.vdim
        );
        (qs[0], qs[1], ks[1])
    }

    /// The attention mask as a mask of the scores `[N, heads, L, S]`.
    #[track_caller]
    fn attn_mask<'g>(
        &self,
        mask: Option<AttnMask<'g, T>>,
        n: usize,
        l: usize,
        s: usize,
    ) -> Option<AttnMask<'g, T>> {
        let mask = mask?;
        let (AttnMask::Allowed(m) | AttnMask::Additive(m)) = mask;
        let shape = m.shape();
        let h = self.num_heads;
        let to_heads = |m: Var<'g, T>| match shape.len() {
            2 => m,
            _ => m.reshape(&[n as isize, h as isize, l as isize, s as isize]),
        };
        assert!(
            shape == [l, s] || shape == [n * h, l, s],
            "MultiheadAttention: attn_mask {shape:?} must be [L, S] = [{l}, {s}] or [N·num_heads, L, S] = [{}, {l}, {s}]",
            n * h
        );
        Some(match mask {
            AttnMask::Allowed(m) => AttnMask::Allowed(to_heads(m)),
            AttnMask::Additive(m) => AttnMask::Additive(to_heads(m)),
        })
    }

    /// The key padding mask as a mask of the scores `[N, 1, 1, S]`.
    #[track_caller]
    fn key_padding<'g>(
        &self,
        mask: Option<KeyPadding<'g, T>>,
        n: usize,
        s: usize,
    ) -> Option<AttnMask<'g, T>> {
        let mask = mask?;
        let (KeyPadding::Ignore(m) | KeyPadding::Additive(m)) = mask;
        let shape = m.shape();
        assert!(
            shape == [n, s],
            "MultiheadAttention: key_padding_mask {shape:?} must be [N, S] = [{n}, {s}]"
        );
        let m = m.reshape(&[n as isize, 1, 1, s as isize]);
        Some(match mask {
            KeyPadding::Ignore(_) => AttnMask::Allowed(m.eq(m.graph().scalar(T::zero()))),
            KeyPadding::Additive(_) => AttnMask::Additive(m),
        })
    }
}

/// `softmax(q·kᵀ/√d + mask)` of `q` `[.., L, d]` and `k` `[.., S, d]`, masked as
/// [`Var::scaled_dot_product_attention`] masks: the weights it does not return.
fn attention_weights<'g, T: Float>(
    q: Var<'g, T>,
    k: Var<'g, T>,
    mask: Option<AttnMask<'g, T>>,
    causal: bool,
) -> Var<'g, T> {
    let g = q.graph();
    let qs = q.shape();
    let (l, d, s) = (
        qs[qs.len() - 2],
        qs[qs.len() - 1],
        k.shape()[k.shape().len() - 2],
    );
    let scale = T::one() / T::from_f64(d as f64).sqrt();
    let mut scores = q.matmul(k.transpose(-2, -1)).mul_scalar(scale);
    let zero = g.scalar(T::zero());
    match mask {
        Some(AttnMask::Allowed(m)) => scores = scores.masked_fill(m.eq(zero), T::neg_infinity()),
        Some(AttnMask::Additive(m)) => scores = scores + m,
        None => {}
    }
    if causal {
        let above = g
            .constant(ferrograd_autograd::Tensor::ones(&[l, s]))
            .triu(1);
        scores = scores.masked_fill(above, T::neg_infinity());
    }
    scores.softmax(-1)
}

impl<T: Float> Module<T> for MultiheadAttention<T> {
    /// Self-attention: `x` `[N, L, E]` is the queries, keys and values; no mask.
    ///
    /// # Panics
    /// As [`MultiheadAttention::attend`].
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        self.attend(x, x, x, MhaOptions::new()).0
    }

    /// `[x]`: self-attention; `[query, key, value]`: attention of the queries over the keys
    /// and values. No mask.
    ///
    /// # Panics
    /// If `inputs` is neither one nor three inputs, or as [`MultiheadAttention::attend`].
    #[track_caller]
    fn forward_inputs<'g>(&self, inputs: &[Var<'g, T>]) -> Var<'g, T> {
        match *inputs {
            [x] => self.forward(x),
            [q, k, v] => self.attend(q, k, v, MhaOptions::new()).0,
            _ => panic!(
                "MultiheadAttention: forward takes 1 input (self-attention) or 3 (query, key, value), got {}",
                inputs.len()
            ),
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot<'_, T>)) {
        match &self.in_proj {
            InProj::Packed(w) => f("in_proj_weight", Slot::Param(w)),
            InProj::Separate { q, k, v } => {
                f("q_proj_weight", Slot::Param(q));
                f("k_proj_weight", Slot::Param(k));
                f("v_proj_weight", Slot::Param(v));
            }
        }
        if let Some(b) = &self.in_proj_bias {
            f("in_proj_bias", Slot::Param(b));
        }
        visit_child("out_proj", &self.out_proj, f);
        f("mode", Slot::Mode(&self.mode));
        f("rng", Slot::Rng(&self.rng));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use crate::init;
    use crate::testing::check_module;
    use ferrograd_autograd::{GradcheckOptions, Graph, Tensor, gradcheck};

    fn normal(shape: &[usize], seed: u64) -> Tensor<f64> {
        Tensor::rand_normal(shape, 0.0, 1.0, &mut init::rng(seed))
    }

    #[test]
    fn parameter_counts_and_names_match_pytorch() {
        // sum(p.numel() for p in nn.MultiheadAttention(...).parameters()), torch 2.15.
        let mut rng = init::rng(0);
        let count = |b: MhaBuilder, rng: &mut init::StdRng| b.build::<f32, _>(rng).num_params();
        assert_eq!(count(MultiheadAttention::builder(8, 2), &mut rng), 288);
        assert_eq!(
            count(MultiheadAttention::builder(512, 8), &mut rng),
            1_050_624
        );
        assert_eq!(
            count(MultiheadAttention::builder(8, 2).kdim_vdim(4, 6), &mut rng),
            240
        );
        assert_eq!(
            count(MultiheadAttention::builder(8, 2).without_bias(), &mut rng),
            256
        );
        let mha = MultiheadAttention::<f32>::new(8, 2, &mut rng);
        let names: Vec<String> = mha.state().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "in_proj_weight",
                "in_proj_bias",
                "out_proj.weight",
                "out_proj.bias"
            ]
        );
    }

    #[test]
    fn initialisation_is_pytorchs() {
        let mha = MultiheadAttention::<f64>::new(16, 4, &mut init::rng(3));
        let state: Vec<(String, Vec<f64>)> = mha
            .state()
            .into_iter()
            .map(|(n, p)| (n, p.value().to_vec()))
            .collect();
        // Xavier uniform over the packed [3E, E] weight: bound √(6 / (E + 3E)).
        let xavier = (6.0f64 / 64.0).sqrt();
        let max = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(max(&state[0].1) <= xavier && max(&state[0].1) > 0.9 * xavier);
        // out_proj.weight as a Linear's: U(±1/√E).
        assert!(max(&state[2].1) <= 0.25 && max(&state[2].1) > 0.2);
        // Both biases zero.
        assert!(state[1].1.iter().chain(&state[3].1).all(|&b| b == 0.0));
    }

    #[test]
    fn padding_keys_get_no_weight_and_causal_weights_are_lower_triangular() {
        let mha = MultiheadAttention::<f64>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        let x = g.var(normal(&[2, 3, 4], 1));
        let pad = g.constant(Tensor::from_vec(
            vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
            &[2, 3],
        ));
        let opts = MhaOptions::new()
            .key_padding_mask(KeyPadding::Ignore(pad))
            .per_head_weights();
        let w = mha.attend(x, x, x, opts).1.unwrap().value();
        assert_eq!(w.shape(), &[2, 2, 3, 3]);
        for (n, h, l) in
            (0..2).flat_map(|n| (0..2).flat_map(move |h| (0..3).map(move |l| (n, h, l))))
        {
            let padded = if n == 0 { 2 } else { 1 };
            assert_eq!(w.get(&[n, h, l, padded]), 0.0);
            let row: f64 = (0..3).map(|s| w.get(&[n, h, l, s])).sum();
            assert!((row - 1.0).abs() < 1e-12);
        }
        let w = mha
            .attend(x, x, x, MhaOptions::new().causal().per_head_weights())
            .1
            .unwrap()
            .value();
        for (n, h) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            assert_eq!(w.get(&[n, h, 0, 1]), 0.0);
            assert_eq!(w.get(&[n, h, 0, 2]), 0.0);
            assert_eq!(w.get(&[n, h, 1, 2]), 0.0);
            assert_eq!(w.get(&[n, h, 0, 0]), 1.0);
        }
    }

    #[test]
    fn averaged_weights_are_the_mean_of_the_heads_and_outputs_agree_with_the_fused_path() {
        let mha = MultiheadAttention::<f64>::new(6, 3, &mut init::rng(0));
        let g = Graph::new();
        let (q, kv) = (g.var(normal(&[2, 2, 6], 1)), g.var(normal(&[2, 5, 6], 2)));
        let additive = g.constant(normal(&[2, 5], 3));
        let allowed = g.constant(Tensor::from_vec(
            vec![1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0],
            &[2, 5],
        ));
        let opts = MhaOptions::new()
            .key_padding_mask(KeyPadding::Additive(additive))
            .attn_mask(AttnMask::Allowed(allowed));
        let (fused, _) = mha.attend(q, kv, kv, opts);
        let (avg_out, avg) = mha.attend(q, kv, kv, opts.need_weights());
        let (_, per_head) = mha.attend(q, kv, kv, opts.per_head_weights());
        assert!(fused.value().allclose(&avg_out.value(), 1e-12, 1e-12));
        let mean = per_head.unwrap().mean_axes(&[1], false).value();
        assert!(avg.unwrap().value().allclose(&mean, 1e-12, 1e-12));
    }

    #[test]
    fn attn_mask_per_sequence_and_head_is_sequence_major() {
        let mha = MultiheadAttention::<f64>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        let x = g.var(normal(&[2, 3, 4], 1));
        // Block key 0 for sequence 1, head 0 only (row 1·2 + 0 of [N·heads, L, S]).
        let mut m = vec![1.0; 4 * 9];
        for l in 0..3 {
            m[2 * 9 + l * 3] = 0.0;
        }
        let mask = g.constant(Tensor::from_vec(m, &[4, 3, 3]));
        let opts = MhaOptions::new()
            .attn_mask(AttnMask::Allowed(mask))
            .per_head_weights();
        let w = mha.attend(x, x, x, opts).1.unwrap().value();
        assert_eq!(w.get(&[1, 0, 2, 0]), 0.0);
        assert!(w.get(&[1, 1, 2, 0]) > 0.0 && w.get(&[0, 0, 2, 0]) > 0.0);
    }

    #[test]
    fn dropout_drops_weights_in_training_only() {
        let mha = MultiheadAttention::builder(4, 2)
            .dropout(0.5)
            .build::<f64, _>(&mut init::rng(0));
        let g = Graph::new();
        let x = g.var(normal(&[2, 8, 4], 1));
        let opts = MhaOptions::new().per_head_weights();
        let w = mha.attend(x, x, x, opts).1.unwrap().value().to_vec();
        assert!(w.contains(&0.0), "training mode drops weights");
        // Kept weights are scaled by 1 / (1 − p): rows no longer sum to 1.
        assert!(w.iter().any(|&v| v > 1.0 / 8.0 * 1.5));
        mha.eval();
        assert!(!mha.is_training());
        let (a, w) = mha.attend(x, x, x, opts);
        assert!(!w.unwrap().value().to_vec().contains(&0.0));
        assert_eq!(mha.forward(x).value(), a.value());
        assert_eq!(mha.forward(x).value(), mha.forward(x).value());
    }

    #[test]
    fn mha_grads_match_finite_diff() {
        let mha = MultiheadAttention::<f64>::new(4, 2, &mut init::rng(0));
        check_module(&mha, &normal(&[2, 3, 4], 1)).unwrap();
        let cross = MultiheadAttention::builder(4, 2)
            .kdim_vdim(3, 5)
            .build::<f64, _>(&mut init::rng(2));
        let inputs = [
            normal(&[2, 2, 4], 3),
            normal(&[2, 3, 3], 4),
            normal(&[2, 3, 5], 5),
        ];
        let opts = GradcheckOptions::default();
        let pad = Tensor::from_vec(vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0], &[2, 3]);
        gradcheck(
            |v| {
                let pad = v[0].graph().constant(pad.clone());
                let opts = MhaOptions::new()
                    .key_padding_mask(KeyPadding::Ignore(pad))
                    .need_weights();
                let (out, w) = cross.attend(v[0], v[1], v[2], opts);
                out.sum_axes(&[2], false) * 0.3 + w.unwrap().sum_axes(&[2], false).narrow(1, 0, 1)
            },
            &inputs,
            &opts,
        )
        .unwrap();
        gradcheck(|v| cross.forward_inputs(v), &inputs, &opts).unwrap();
    }

    #[test]
    fn forward_inputs_takes_one_or_three_inputs() {
        let mha = MultiheadAttention::<f32>::new(4, 1, &mut init::rng(0));
        let g = Graph::new();
        let x = g.constant(Tensor::ones(&[1, 2, 4]));
        assert_eq!(mha.forward_inputs(&[x]).shape(), vec![1, 2, 4]);
        assert_eq!(
            mha.forward_inputs(&[x, x, x]).value(),
            mha.forward(x).value()
        );
        assert_eq!(mha.summary(&[3, 5, 4]).rows[0].params, 4 * 4 * 4 + 4 * 4);
    }

    #[test]
    #[should_panic(
        expected = "MultiheadAttention: forward takes 1 input (self-attention) or 3 (query, key, value), got 2"
    )]
    fn forward_inputs_panics_on_two_inputs() {
        let mha = MultiheadAttention::<f32>::new(4, 1, &mut init::rng(0));
        let g = Graph::new();
        let x = g.constant(Tensor::ones(&[1, 2, 4]));
        mha.forward_inputs(&[x, x]);
    }

    #[test]
    #[should_panic(
        expected = "MultiheadAttention::new: embed_dim 10 must be positive and divisible by num_heads 3"
    )]
    fn new_panics_when_heads_do_not_divide_embed_dim() {
        MultiheadAttention::<f32>::new(10, 3, &mut init::rng(0));
    }

    #[test]
    #[should_panic(
        expected = "MultiheadAttention: query [2, 3, 5], key [2, 3, 5] and value [2, 3, 5] must be [N, L, 4], [N, S, 4] and [N, S, 4] (batch first)"
    )]
    fn attend_panics_on_wrong_features() {
        let mha = MultiheadAttention::<f32>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        mha.forward(g.constant(Tensor::zeros(&[2, 3, 5])));
    }

    #[test]
    #[should_panic(
        expected = "MultiheadAttention: key_padding_mask [3, 2] must be [N, S] = [2, 3]"
    )]
    fn attend_panics_on_a_transposed_key_padding_mask() {
        let mha = MultiheadAttention::<f32>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        let x = g.constant(Tensor::zeros(&[2, 3, 4]));
        let pad = g.constant(Tensor::zeros(&[3, 2]));
        mha.attend(
            x,
            x,
            x,
            MhaOptions::new().key_padding_mask(KeyPadding::Ignore(pad)),
        );
    }

    #[test]
    #[should_panic(
        expected = "MultiheadAttention: attn_mask [2, 3, 3] must be [L, S] = [3, 3] or [N·num_heads, L, S] = [4, 3, 3]"
    )]
    fn attend_panics_on_an_attn_mask_without_heads() {
        let mha = MultiheadAttention::<f32>::new(4, 2, &mut init::rng(0));
        let g = Graph::new();
        let x = g.constant(Tensor::zeros(&[2, 3, 4]));
        let mask = g.constant(Tensor::zeros(&[2, 3, 3]));
        mha.attend(
            x,
            x,
            x,
            MhaOptions::new().attn_mask(AttnMask::Additive(mask)),
        );
    }
}
