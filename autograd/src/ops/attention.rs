//! Scaled dot-product attention, as `torch.nn.functional.scaled_dot_product_attention`.

use rand::Rng;

use super::attention_kernel::{self, Blocked, OP};
use crate::alloc::checked_numel;
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::broadcast_shapes;
use crate::ops::reduce::as_isize;
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
    /// [`Var::dropout`]), drawing the mask from `rng`. `p = 0` draws nothing. With `p > 0`
    /// the weights are materialised and kept on the tape (the fused path does not apply).
    pub fn dropout(mut self, p: f64, rng: &'a mut dyn Rng) -> Self {
        self.dropout = Some((p, rng));
        self
    }
}

impl<'g, T: Float> Var<'g, T> {
    /// Scaled dot-product attention, as `F.scaled_dot_product_attention(q, k, v, ...)`:
    /// `softmax(q·kᵀ·scale + mask)·v` with `self` the queries `[.., L, E]`, `key`
    /// `[.., S, E]` and `value` `[.., S, Ev]`, giving `[.., L, Ev]`; batch dimensions
    /// broadcast (the mask's too). Options (mask, causal, scale, dropout) are in
    /// [`Attention`].
    ///
    /// One fused op: each batch×head slice's scores are computed, masked (the causal
    /// structure and an [`AttnMask::Allowed`] mask inside the kernel, with no `L × S` mask
    /// tensor built), normalised with the row maximum subtracted (scores of ±1e4 and `−∞`
    /// mask entries are fine) and multiplied by the values, one slice at a time on
    /// [`num_threads`](crate::num_threads) threads. The op keeps for its backward only its
    /// inputs, its output and two numbers per query (row maximum and sum of exponentials),
    /// not the `L × S` weights: the composed expression keeps the scores, the masked scores
    /// and the weights, three `[.., L, S]` tensors.
    ///
    /// Backward, written in `Var` ops (so twice differentiable): the weights `P` are
    /// recomputed from `q·kᵀ·scale + mask` and the saved row statistics, then
    /// `dV = Pᵀ·dO`, `dS = P ⊙ (dO·Vᵀ − rowsum(dO ⊙ O))`, `dQ = dS·K·scale`,
    /// `dK = dSᵀ·Q·scale`, each summed over broadcast batch dimensions. An
    /// [`AttnMask::Additive`] mask that requires a gradient gets `dS` summed to its shape
    /// (as PyTorch); an [`AttnMask::Allowed`] mask gets none.
    ///
    /// A query whose every key is blocked (a fully masked row) gets output 0 and gradient 0,
    /// as PyTorch 2.5+ (its `_safe_softmax`); the plain [`Var::softmax`] of such a row is
    /// NaN.
    ///
    /// Dropout (`p > 0`) runs the same weights through [`Var::dropout`] and a matmul, so the
    /// weights are kept on the tape then, with the drawn mask.
    ///
    /// # Panics
    /// If an input has fewer than 2 dimensions, the queries and keys differ in their last
    /// dimension, the keys and values differ in their number, the batch dimensions do not
    /// broadcast, the mask does not broadcast to the scores `[.., L, S]`, or the dropout
    /// probability is outside `[0, 1]`.
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
    /// // The values get the weights' column sums: here all of it, as both queries see key 1.
    /// out.sum().backward();
    /// assert_eq!(v.grad().unwrap().to_vec(), vec![0.0, 2.0]);
    /// // A query that may see no key gets 0, and passes no gradient back.
    /// let none = g.constant(Tensor::from_vec(vec![1.0, 1.0, 0.0, 0.0], &[2, 2]));
    /// let out = q.scaled_dot_product_attention(k, v, Attention::new().mask(AttnMask::Allowed(none)));
    /// assert_eq!(out.value().get(&[1, 0]), 0.0);
    /// ```
    #[track_caller]
    pub fn scaled_dot_product_attention(
        self,
        key: Var<'g, T>,
        value: Var<'g, T>,
        options: Attention<'_, 'g, T>,
    ) -> Var<'g, T> {
        let plan = Plan::new(self, key, value, &options);
        let blocked = Blocked {
            causal: options.causal,
            allowed: match options.mask {
                Some(AttnMask::Allowed(m)) => Some(lift(m).value()),
                _ => None,
            },
        };
        let additive = match options.mask {
            Some(AttnMask::Additive(m)) => Some(lift(m)),
            _ => None,
        };
        if let Some((p, rng)) = options.dropout.filter(|(p, _)| *p != 0.0) {
            let w = weights(
                self,
                key,
                additive,
                &blocked,
                plan.scale,
                &plan.scores,
                None,
            );
            return w.dropout(p, rng).matmul(value);
        }
        let has_additive = additive.is_some();
        let mut inputs = vec![self, key, value];
        inputs.extend(additive);
        let Plan {
            scale,
            scores,
            batch,
        } = plan;
        let saved = std::rc::Rc::new(std::cell::OnceCell::new());
        let stats = std::rc::Rc::clone(&saved);
        let kept = blocked.clone();
        self.graph().custom_op(
            OP,
            &inputs,
            |v| {
                let (out, st) = attention_kernel::forward(
                    &v[0],
                    &v[1],
                    &v[2],
                    v.get(3),
                    &blocked,
                    scale,
                    &batch,
                );
                let _ = stats.set(Tensor::from_array(st));
                Tensor::from_array(out)
            },
            move |ctx, g| {
                let (q, k, v) = (ctx.input(0), ctx.input(1), ctx.input(2));
                let additive = has_additive.then(|| ctx.input(3));
                let p = weights(q, k, additive, &kept, scale, &scores, saved.get());
                let ds =
                    p * (g.matmul(v.transpose(-2, -1)) - (g * ctx.output()).sum_axes(&[-1], true));
                let mut grads = grads![
                    ctx.needs_grad(0)
                        .then(|| ds.matmul(k).mul_scalar(scale).sum_to_like(q)),
                    ctx.needs_grad(1).then(|| ds
                        .transpose(-2, -1)
                        .matmul(q)
                        .mul_scalar(scale)
                        .sum_to_like(k)),
                    ctx.needs_grad(2)
                        .then(|| p.transpose(-2, -1).matmul(g).sum_to_like(v)),
                ];
                if let Some(m) = additive {
                    grads.push(ctx.needs_grad(3).then(|| ds.sum_to_like(m)));
                }
                grads
            },
        )
    }
}

/// The checked shapes of one attention call.
struct Plan<T> {
    scale: T,
    /// The broadcast batch dimensions of the inputs and the mask.
    batch: Vec<usize>,
    /// `[batch.., L, S]`.
    scores: Vec<usize>,
}

impl<T: Float> Plan<T> {
    #[track_caller]
    fn new<'g>(
        q: Var<'g, T>,
        k: Var<'g, T>,
        v: Var<'g, T>,
        options: &Attention<'_, 'g, T>,
    ) -> Self {
        let (qs, ks, vs) = (q.shape_for(OP), k.shape_for(OP), v.shape_for(OP));
        let (qs, ks, vs) = (qs.as_slice(), ks.as_slice(), vs.as_slice());
        assert!(
            qs.len() >= 2 && ks.len() >= 2 && vs.len() >= 2,
            "{OP}: query {qs:?}, key {ks:?} and value {vs:?} must each have at least 2 dimensions"
        );
        let (l, e, s) = (qs[qs.len() - 2], qs[qs.len() - 1], ks[ks.len() - 2]);
        assert!(
            ks[ks.len() - 1] == e,
            "{OP}: query {qs:?} and key {ks:?} differ in their last dimension"
        );
        assert!(
            vs[vs.len() - 2] == s,
            "{OP}: key {ks:?} and value {vs:?} differ in their number of keys"
        );
        let Some(batch) = broadcast_shapes(&qs[..qs.len() - 2], &ks[..ks.len() - 2])
            .and_then(|b| broadcast_shapes(&b, &vs[..vs.len() - 2]))
        else {
            panic!(
                "{OP}: the batch dimensions of query {qs:?}, key {ks:?} and value {vs:?} do not broadcast together"
            );
        };
        if let Some(AttnMask::Allowed(m) | AttnMask::Additive(m)) = options.mask {
            let ms = m.shape_for(OP);
            let lifted = lifted_shape(&ms);
            let r = lifted.len();
            let fits = (lifted[r - 2] == 1 || lifted[r - 2] == l)
                && (lifted[r - 1] == 1 || lifted[r - 1] == s);
            // The mask broadcasts to the scores, not the scores to the mask (as PyTorch:
            // a larger mask would silently multiply the output).
            let fits = fits && broadcast_shapes(&batch, &lifted[..r - 2]).as_ref() == Some(&batch);
            assert!(
                fits,
                "{OP}: mask {:?} does not broadcast to the scores {:?} (queries × keys)",
                ms.as_slice(),
                [batch.as_slice(), &[l, s]].concat()
            );
        }
        if let Some((p, _)) = &options.dropout {
            assert!(
                (0.0..=1.0).contains(p),
                "{OP}: dropout p must be in [0, 1], got {p}"
            );
        }
        let scores = [batch.as_slice(), &[l, s]].concat();
        checked_numel::<T>(OP, &[batch.as_slice(), &[l, vs[vs.len() - 1]]].concat());
        let scale = options
            .scale
            .unwrap_or_else(|| T::one() / T::from_f64(e as f64).sqrt());
        Self {
            scale,
            batch,
            scores,
        }
    }
}

/// `shape` with leading 1s up to rank 2.
fn lifted_shape(shape: &[usize]) -> Vec<usize> {
    let mut lifted = vec![1; 2usize.saturating_sub(shape.len())];
    lifted.extend_from_slice(shape);
    lifted
}

/// A mask of rank below 2 as a rank-2 one (the kernels read masks as matrices).
fn lift<T: Float>(m: Var<'_, T>) -> Var<'_, T> {
    if m.ndim() >= 2 {
        return m;
    }
    m.reshape(&as_isize(&lifted_shape(&m.shape())))
}

/// The attention weights `softmax(q·kᵀ·scale + additive)` over `scores` (the full batch
/// shape) with `blocked` applied, as one op whose backward is softmax's,
/// `P ⊙ (grad − rowsum(grad ⊙ P))` (0 where a weight is 0, so no gradient reaches a blocked
/// score). With the forward's row statistics, the weights are bit-identical to the
/// forward's.
fn weights<'g, T: Float>(
    q: Var<'g, T>,
    k: Var<'g, T>,
    additive: Option<Var<'g, T>>,
    blocked: &Blocked<T>,
    scale: T,
    scores: &[usize],
    stats: Option<&Tensor<T>>,
) -> Var<'g, T> {
    let mut s = q.matmul(k.transpose(-2, -1)).mul_scalar(scale);
    if let Some(m) = additive {
        s = s + m;
    }
    if s.shape() != scores {
        s = s.broadcast_to(scores);
    }
    s.graph().custom_op(
        "scaled_dot_product_attention_weights",
        &[s],
        |v| Tensor::from_array(attention_kernel::weights(&v[0], blocked, stats)),
        |ctx, g| {
            let y = ctx.output();
            grads![Some(y * (g - (g * y).sum_axes(&[-1], true)))]
        },
    )
}

#[cfg(test)]
mod tests {
    use super::{Attention, AttnMask};
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use crate::{Float, Graph, Tensor, Var};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Which mask a property test applies.
    #[derive(Clone, Copy, Debug)]
    enum Kind {
        None,
        Allowed,
        Additive,
    }

    /// The composed formula (the op's previous implementation): the reference.
    fn composed<'g, T: Float>(
        q: Var<'g, T>,
        k: Var<'g, T>,
        v: Var<'g, T>,
        mask: Option<AttnMask<'g, T>>,
        causal: bool,
        scale: T,
    ) -> Var<'g, T> {
        let g = q.graph();
        let mut s = q.matmul(k.transpose(-2, -1)).mul_scalar(scale);
        let blocked = |allowed: Var<'g, T>| allowed.eq(g.scalar(T::zero()));
        match mask {
            Some(AttnMask::Allowed(m)) => {
                let full = crate::kernels::broadcast_shapes(&s.shape(), &m.shape()).unwrap();
                s = s
                    .broadcast_to(&full)
                    .masked_fill(blocked(m), T::neg_infinity());
            }
            Some(AttnMask::Additive(m)) => s = s + m,
            None => {}
        }
        if causal {
            let (l, n) = (q.shape()[q.ndim() - 2], k.shape()[k.ndim() - 2]);
            let lower = (0..l * n)
                .map(|i| if i % n <= i / n { T::one() } else { T::zero() })
                .collect();
            let lower = g.constant(Tensor::from_vec(lower, &[l, n]));
            s = s.masked_fill(blocked(lower), T::neg_infinity());
        }
        s.softmax(-1).matmul(v)
    }

    /// Shapes `(q, k, v, mask)` with broadcasting batch dimensions (rank 0 to 2, a side
    /// sometimes missing one or holding a 1) and `L`, `S`, `E`, `Ev` in 1..=3.
    fn shapes() -> impl Strategy<Value = [Vec<usize>; 4]> {
        (
            testing::shape_of_rank(2)
                .prop_map(|b| b.into_iter().map(|d| d.min(2)).collect::<Vec<_>>()),
            (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3),
            any::<(u8, u8, u8, u8)>(),
        )
            .prop_map(|(batch, (l, s, e, ev), (a, b, c, d))| {
                let squeeze = |from: &[usize], bits: u8, last: [usize; 2]| {
                    let drop = usize::from(bits & 1).min(from.len());
                    let mut shape: Vec<usize> = from[drop..]
                        .iter()
                        .enumerate()
                        .map(|(i, &n)| if bits >> (i + 1) & 1 == 1 { 1 } else { n })
                        .collect();
                    shape.extend(last);
                    shape
                };
                let (q, k, v) = (
                    squeeze(&batch, a, [l, e]),
                    squeeze(&batch, b, [s, e]),
                    squeeze(&batch, c, [s, ev]),
                );
                // The mask broadcasts to the scores, whose batch is that of q, k and v
                // together, and sometimes over queries or keys too.
                let batch_of = |x: &[usize]| x[..x.len() - 2].to_vec();
                let scores = crate::kernels::broadcast_shapes(&batch_of(&q), &batch_of(&k))
                    .and_then(|b| crate::kernels::broadcast_shapes(&b, &batch_of(&v)))
                    .expect("squeezed from one batch");
                let ml = if d & 8 == 0 { l } else { 1 };
                let ms = if d & 16 == 0 { s } else { 1 };
                [q, k, v, squeeze(&scores, d & 7, [ml, ms])]
            })
    }

    fn inputs() -> impl Strategy<Value = (Vec<Tensor<f64>>, Tensor<f64>)> {
        shapes().prop_flat_map(|[q, k, v, m]| {
            let allowed = m.clone();
            (
                (
                    tensor_of(q, -2.0..2.0),
                    tensor_of(k, -2.0..2.0),
                    tensor_of(v, -2.0..2.0),
                    tensor_of(m, -2.0..2.0),
                )
                    .prop_map(|(q, k, v, m)| vec![q, k, v, m]),
                // 0/1 entries, mostly 1.
                tensor_of::<f64>(allowed, 0.0..1.0)
                    .prop_map(|t| t.map(|x| f64::from(u8::from(x > 0.3)))),
            )
        })
    }

    /// The op under test on `v = [q, k, v, additive mask]`.
    fn attend<'g>(
        v: &[Var<'g, f64>],
        kind: Kind,
        allowed: &Tensor<f64>,
        causal: bool,
        scale: Option<f64>,
    ) -> Var<'g, f64> {
        let mut o = Attention::new();
        o = match kind {
            Kind::None => o,
            Kind::Allowed => o.mask(AttnMask::Allowed(v[0].graph().constant(allowed.clone()))),
            Kind::Additive => o.mask(AttnMask::Additive(v[3])),
        };
        if causal {
            o = o.causal();
        }
        if let Some(s) = scale {
            o = o.scale(s);
        }
        v[0].scaled_dot_product_attention(v[1], v[2], o)
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![Just(Kind::None), Just(Kind::Allowed), Just(Kind::Additive)]
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn attention_grad_and_gradgrad_match_finite_diff(
            (x, allowed) in inputs(),
            kind in kind(),
            causal in any::<bool>(),
            scale in prop::option::of(-1.5f64..1.5),
        ) {
            check_grads(|v| attend(v, kind, &allowed, causal, scale), &x)?;
            check_gradgrads(|v| attend(v, kind, &allowed, causal, scale), &x)?;
        }

        #[test]
        fn attention_matches_the_composed_formula_in_f32_and_f64(
            (x, allowed) in inputs(),
            kind in kind(),
            causal in any::<bool>(),
        ) {
            let g = Graph::<f64>::new();
            let v: Vec<_> = x.iter().map(|t| g.var(t.clone())).collect();
            let fused = attend(&v, kind, &allowed, causal, None);
            let e = x[0].shape()[x[0].ndim() - 1] as f64;
            let mask = match kind {
                Kind::None => None,
                Kind::Allowed => Some(AttnMask::Allowed(g.constant(allowed.clone()))),
                Kind::Additive => Some(AttnMask::Additive(v[3])),
            };
            let reference = composed(v[0], v[1], v[2], mask, causal, 1.0 / e.sqrt());
            // The composed softmax gives NaN for a fully masked row (and NaN gradients), the
            // op 0: such cases are checked by value only (their gradients by the gradcheck).
            let fully_masked = reference.value().to_vec().iter().any(|x| x.is_nan());
            let want = reference.value().map(|x| if x.is_nan() { 0.0 } else { x });
            prop_assert!(fused.value().allclose(&want, 1e-12, 1e-12), "{:?} vs {:?}", fused.value(), want);
            if !fully_masked {
                // Gradients, with random weights (a softmax's plain sum is constant).
                let w = g.constant(Tensor::from_vec((0..want.numel()).map(|i| (i as f64 * 0.7).sin()).collect(), want.shape()));
                let grads = g.grad(&[(fused * w).sum()], &v, false);
                let wanted = g.grad(&[(reference * w).sum()], &v, false);
                for (i, (a, b)) in grads.iter().zip(&wanted).enumerate() {
                    if let (Some(a), Some(b)) = (a, b) {
                        prop_assert!(a.value().allclose(&b.value(), 1e-10, 1e-10), "input {i}: {:?} vs {:?}", a.value(), b.value());
                    }
                }
            }
            // f32 agrees with f64.
            let g32 = Graph::<f32>::new();
            let v32: Vec<_> = x.iter().map(|t| g32.var(t.cast())).collect();
            let mut o = Attention::new();
            o = match kind {
                Kind::None => o,
                Kind::Allowed => o.mask(AttnMask::Allowed(g32.constant(allowed.cast()))),
                Kind::Additive => o.mask(AttnMask::Additive(v32[3])),
            };
            if causal {
                o = o.causal();
            }
            let out32 = v32[0].scaled_dot_product_attention(v32[1], v32[2], o);
            prop_assert!(out32.value().cast::<f64>().allclose(&fused.value(), 1e-5, 1e-5));
        }
    }

    #[test]
    fn attention_known_values() {
        // Scores [[1, 0], [0, 1]] (scale 1): weights e/(e+1) on the matching key.
        let g = Graph::<f64>::new();
        let eye = || Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]);
        let (q, k) = (g.var(eye()), g.var(eye()));
        let v = g.var(Tensor::from_vec(vec![10.0, 20.0], &[2, 1]));
        let out = q.scaled_dot_product_attention(k, v, Attention::new().scale(1.0));
        let p = std::f64::consts::E / (std::f64::consts::E + 1.0);
        let want = [10.0 * p + 20.0 * (1.0 - p), 10.0 * (1.0 - p) + 20.0 * p];
        let got = out.value().to_vec();
        assert!((got[0] - want[0]).abs() < 1e-13 && (got[1] - want[1]).abs() < 1e-13);
        out.sum().backward();
        // dV = column sums of the weights: 1 each by symmetry.
        let dv = v.grad().unwrap().to_vec();
        assert!((dv[0] - 1.0).abs() < 1e-14 && (dv[1] - 1.0).abs() < 1e-14);
        // dq row 0 = Σ_j p_j (v_j − o_0) k_j: (p(10 − o0), (1−p)(20 − o0)).
        let dq = q.grad().unwrap().to_vec();
        assert!((dq[0] - p * (10.0 - got[0])).abs() < 1e-13);
        assert!((dq[1] - (1.0 - p) * (20.0 - got[0])).abs() < 1e-13);
    }

    #[test]
    fn a_fully_masked_row_gives_zero_output_and_zero_gradient() {
        for additive in [false, true] {
            let g = Graph::<f64>::new();
            let q = g.var(Tensor::from_vec(vec![0.3, -0.2, 0.5, 0.1], &[2, 2]));
            let k = g.var(Tensor::from_vec(
                vec![0.7, 0.1, -0.4, 0.9, 0.2, 0.2],
                &[3, 2],
            ));
            let v = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]));
            let mask = if additive {
                let inf = f64::NEG_INFINITY;
                AttnMask::Additive(g.var(Tensor::from_vec(
                    vec![0.0, 0.5, 0.0, inf, inf, inf],
                    &[2, 3],
                )))
            } else {
                AttnMask::Allowed(g.constant(Tensor::from_vec(
                    vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
                    &[2, 3],
                )))
            };
            let out = q.scaled_dot_product_attention(k, v, Attention::new().mask(mask));
            assert_eq!(out.value().get(&[1, 0]), 0.0);
            assert!(out.value().get(&[0, 0]).is_finite());
            out.sum().backward();
            let dq = q.grad().unwrap().to_vec();
            assert_eq!(dq[2..], [0.0, 0.0]);
            assert!(dq[..2].iter().all(|x| x.is_finite()));
            assert!(k.grad().unwrap().to_vec().iter().all(|x| x.is_finite()));
            if let AttnMask::Additive(m) = mask {
                let dm = m.grad().unwrap().to_vec();
                assert_eq!(dm[3..], [0.0, 0.0, 0.0]);
                assert!(dm.iter().all(|x| x.is_finite()));
            }
        }
    }

    #[test]
    fn large_scores_and_infinite_mask_entries_do_not_overflow_in_f32() {
        let g = Graph::<f32>::new();
        let q = g.var(Tensor::from_vec(vec![100.0, -100.0, 50.0, 0.0], &[2, 2]));
        let k = g.var(Tensor::from_vec(
            vec![100.0, 0.0, -100.0, 0.0, 0.0, 100.0],
            &[3, 2],
        ));
        let v = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]));
        let m = g.var(Tensor::from_vec(
            vec![0.0, f32::NEG_INFINITY, 0.0, 0.0, 0.0, 0.0],
            &[2, 3],
        ));
        // Scores of ±1e4 (scale 1).
        let out = q.scaled_dot_product_attention(
            k,
            v,
            Attention::new().scale(1.0).mask(AttnMask::Additive(m)),
        );
        assert_eq!(out.value().to_vec(), vec![1.0, 1.0]);
        (out * g.constant(Tensor::from_vec(vec![0.3, 0.7], &[2, 1])))
            .sum()
            .backward();
        for x in [q, k, v, m] {
            assert!(
                x.grad().unwrap().to_vec().iter().all(|x| x.is_finite()),
                "{:?}",
                x.grad()
            );
        }
    }

    #[test]
    fn causal_with_more_keys_than_queries_is_the_top_left_lower_triangle() {
        let g = Graph::<f64>::new();
        let q = g.var(Tensor::zeros(&[2, 1]));
        let k = g.var(Tensor::zeros(&[3, 1]));
        let v = g.var(Tensor::from_vec(vec![3.0, 6.0, 9.0], &[3, 1]));
        let out = q.scaled_dot_product_attention(k, v, Attention::new().causal());
        // Equal scores: query 0 averages key 0, query 1 keys 0 and 1.
        assert_eq!(out.value().to_vec(), vec![3.0, 4.5]);
    }

    #[test]
    fn the_fused_op_keeps_no_scores_on_the_tape() {
        let g = Graph::<f32>::new();
        let (b, h, l, e) = (2, 3, 16, 4);
        let x = || g.var(Tensor::ones(&[b, h, l, e]));
        let (q, k, v) = (x(), x(), x());
        let out = q.scaled_dot_product_attention(k, v, Attention::new().causal());
        // Only q, k, v and the output: no [b, h, l, l] value.
        assert_eq!(g.len(), 4);
        assert_eq!(g.summary().value_bytes, 4 * b * h * l * e * 4);
        out.sum().backward();
        assert!(q.grad().is_some());
    }

    #[test]
    fn dropout_drops_weights_with_the_drawn_mask_in_backward_too() {
        let x = Tensor::from_vec(
            (0..24).map(|i| (f64::from(i) * 0.37).sin()).collect(),
            &[2, 3, 4],
        );
        check_grads(
            |v| {
                let mut rng = StdRng::seed_from_u64(7);
                v[0].scaled_dot_product_attention(
                    v[1],
                    v[2],
                    Attention::new().dropout(0.5, &mut rng),
                )
            },
            &[x.clone(), x.clone(), x.clone()],
        )
        .unwrap();
        let g = Graph::<f64>::new();
        let q = g.var(x.clone());
        let mut rng = StdRng::seed_from_u64(7);
        let dropped = q.scaled_dot_product_attention(q, q, Attention::new().dropout(1.0, &mut rng));
        assert!(dropped.value().to_vec().iter().all(|&v| v == 0.0));
        let mut rng = StdRng::seed_from_u64(7);
        let none = q.scaled_dot_product_attention(q, q, Attention::new().dropout(0.0, &mut rng));
        assert_eq!(
            none.value(),
            q.scaled_dot_product_attention(q, q, Attention::new())
                .value()
        );
    }

    fn zeros<'g>(g: &'g Graph<f32>, shape: &[usize]) -> Var<'g, f32> {
        g.var(Tensor::zeros(shape))
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: query [2, 3] and key [4, 5] differ in their last dimension"
    )]
    fn attention_panics_on_mismatched_embedding() {
        let g = Graph::<f32>::new();
        zeros(&g, &[2, 3]).scaled_dot_product_attention(
            zeros(&g, &[4, 5]),
            zeros(&g, &[4, 5]),
            Attention::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: key [4, 3] and value [5, 3] differ in their number of keys"
    )]
    fn attention_panics_on_mismatched_keys_and_values() {
        let g = Graph::<f32>::new();
        zeros(&g, &[2, 3]).scaled_dot_product_attention(
            zeros(&g, &[4, 3]),
            zeros(&g, &[5, 3]),
            Attention::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: query [3], key [4, 3] and value [4, 3] must each have at least 2 dimensions"
    )]
    fn attention_panics_on_a_vector_query() {
        let g = Graph::<f32>::new();
        zeros(&g, &[3]).scaled_dot_product_attention(
            zeros(&g, &[4, 3]),
            zeros(&g, &[4, 3]),
            Attention::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: the batch dimensions of query [2, 1, 3], key [3, 4, 3] and value [4, 3] do not broadcast together"
    )]
    fn attention_panics_on_batch_mismatch() {
        let g = Graph::<f32>::new();
        zeros(&g, &[2, 1, 3]).scaled_dot_product_attention(
            zeros(&g, &[3, 4, 3]),
            zeros(&g, &[4, 3]),
            Attention::new(),
        );
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: mask [2, 3] does not broadcast to the scores [2, 4]"
    )]
    fn attention_panics_on_a_mask_of_the_wrong_shape() {
        let g = Graph::<f32>::new();
        let m = AttnMask::Additive(zeros(&g, &[2, 3]));
        zeros(&g, &[2, 3]).scaled_dot_product_attention(
            zeros(&g, &[4, 3]),
            zeros(&g, &[4, 3]),
            Attention::new().mask(m),
        );
    }

    #[test]
    #[should_panic(
        expected = "scaled_dot_product_attention: mask [4, 2, 1, 3] does not broadcast to the scores [2, 1, 3] (queries × keys)"
    )]
    fn panics_on_an_additive_mask_larger_than_the_scores() {
        // `scores + mask` would broadcast the scores up to [4, 2, 1, 3] without a word.
        let g = Graph::<f64>::new();
        let q = g.var(Tensor::zeros(&[2, 1, 2]));
        let (k, v) = (g.var(Tensor::zeros(&[3, 2])), g.var(Tensor::zeros(&[3, 1])));
        let mask = AttnMask::Additive(g.var(Tensor::zeros(&[4, 2, 1, 3])));
        q.scaled_dot_product_attention(k, v, Attention::new().mask(mask));
    }

    #[test]
    #[should_panic(expected = "scaled_dot_product_attention: dropout p must be in [0, 1], got 1.5")]
    fn panics_on_a_dropout_probability_above_one() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let g = Graph::<f64>::new();
        let q = g.var(Tensor::zeros(&[1, 2]));
        q.scaled_dot_product_attention(q, q, Attention::new().dropout(1.5, &mut rng));
    }
}
