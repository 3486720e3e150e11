//! The kernels of scaled dot-product attention: the fused forward, one batch×head slice at
//! a time, and the attention weights recomputed for the backward.
//!
//! Each slice's scores live in one `L × S` scratch matrix while the slice is computed, and
//! are dropped once its output is written: what is kept is the output and two numbers per
//! query (the row maximum and the sum of the shifted exponentials, whose log-sum-exp is
//! `max + ln(sum)`). Keeping the pair rather than their log-sum-exp keeps the recomputed
//! weights bit-identical to the forward's: `exp(s − lse)` loses `|lse|·ε` in the exponent,
//! 5e-4 relative error in f32 at scores of 1e4.
//!
//! No tiling over keys (flash attention's online softmax): at the sizes a small Transformer
//! has (`S ≤ 256`), a slice's scores take at most 256 KiB of f32, which stay in L2 between
//! the two products, so a second pass over them costs little; tiling would trade the two
//! large GEMMs for many small ones, rescaling the output once per tile.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMut3, IxDyn};

use super::matmul::{PAR_MIN_MACS, matrix};
use crate::alloc::full_array;
use crate::float::Float;
use crate::tensor::Tensor;
use crate::threads::{Workers, num_threads};

/// The op's name, in panics and allocation failures.
pub(crate) const OP: &str = "scaled_dot_product_attention";

/// Which scores are blocked, applied inside the kernels: causal structure needs no tensor,
/// and an `Allowed` mask is read where it is zero.
#[derive(Clone)]
pub(crate) struct Blocked<T: Float> {
    /// Query `i` sees keys `0..=i` only.
    pub causal: bool,
    /// Zero where a query may not attend to a key; broadcasts to the scores.
    pub allowed: Option<Tensor<T>>,
}

/// The batch index of flat slice number `flat` in `batch`.
fn batch_index(batch: &[usize], flat: usize) -> Vec<usize> {
    let mut index = vec![0; batch.len()];
    let mut rest = flat;
    for (slot, &d) in index.iter_mut().zip(batch).rev() {
        *slot = rest % d;
        rest /= d;
    }
    index
}

/// The matrix of a mask of rank ≥ 2 at batch `index`: `[l or 1, s or 1]`.
fn mask_at<'a, T: Float>(
    m: &'a ArrayViewD<'_, T>,
    batch: &[usize],
    index: &[usize],
) -> ArrayView2<'a, T> {
    matrix(m, batch.len(), index)
}

/// Turns one slice's scores into attention weights in place, row by row, with `stats`
/// (`[l, 2]`: row maximum, sum of `exp(s − max)`): computed if `given` is false, else read.
/// Blocked scores get weight 0; a row with every score blocked (or `−∞`) is all 0 and has
/// maximum `−∞`. NaN or `+∞` in a row gives a NaN row, as softmax.
fn weights_in_place<T: Float>(
    s: &mut ArrayViewMut2<'_, T>,
    allowed: Option<ArrayView2<'_, T>>,
    causal: bool,
    stats: &mut ArrayViewMut2<'_, T>,
    given: bool,
) {
    for (i, (mut row, mut st)) in s.outer_iter_mut().zip(stats.outer_iter_mut()).enumerate() {
        let blocked = |j: usize| {
            (causal && j > i)
                || allowed.is_some_and(|a| {
                    let (r, c) = (i.min(a.nrows() - 1), j.min(a.ncols() - 1));
                    a[[r, c]] == T::zero()
                })
        };
        if !given {
            let mut m = T::neg_infinity();
            for (j, v) in row.iter_mut().enumerate() {
                if blocked(j) {
                    *v = T::neg_infinity();
                } else if *v > m || v.is_nan() {
                    m = *v;
                }
            }
            let mut sum = T::zero();
            if m != T::neg_infinity() {
                for &v in row.iter() {
                    sum += (v - m).exp();
                }
            }
            st[0] = m;
            st[1] = sum;
        }
        let (m, sum) = (st[0], st[1]);
        if m == T::neg_infinity() {
            row.fill(T::zero());
            continue;
        }
        let inv = T::one() / sum;
        for (j, v) in row.iter_mut().enumerate() {
            *v = if blocked(j) {
                T::zero()
            } else {
                (*v - m).exp() * inv
            };
        }
    }
}

/// A standard-layout `[batch.., m, n]` array as `count` slices `[count, m, n]`.
fn slices<T: Float>(a: &mut ArrayD<T>, count: usize) -> ArrayViewMut3<'_, T> {
    let nd = a.ndim();
    let (m, n) = (a.shape()[nd - 2], a.shape()[nd - 1]);
    a.view_mut()
        .into_shape_with_order((count, m, n))
        .expect("a standard-layout array")
}

/// The fused forward: `q [.., l, e]`, `k [.., s, e]`, `v [.., s, ev]` and an additive mask
/// (rank ≥ 2), broadcast over `batch`. Returns the output `[batch.., l, ev]` and the row
/// statistics `[batch.., l, 2]`. Slices run in parallel when there is enough work.
pub(crate) fn forward<T: Float>(
    q: &Tensor<T>,
    k: &Tensor<T>,
    v: &Tensor<T>,
    additive: Option<&Tensor<T>>,
    blocked: &Blocked<T>,
    scale: T,
    batch: &[usize],
) -> (ArrayD<T>, ArrayD<T>) {
    let (qv, kv, vv) = (q.view(), k.view(), v.view());
    let (l, e) = (qv.shape()[qv.ndim() - 2], qv.shape()[qv.ndim() - 1]);
    let (s, ev) = (kv.shape()[kv.ndim() - 2], vv.shape()[vv.ndim() - 1]);
    let count: usize = batch.iter().product();
    let shape = |last: usize| [batch, &[l, last]].concat();
    let mut out = full_array(OP, &shape(ev), T::zero());
    let mut stats = full_array(OP, &shape(2), T::zero());
    let additive = additive.map(Tensor::view);
    let allowed = blocked.allowed.as_ref().map(Tensor::view);
    let slice = |flat: usize, mut o: ArrayViewMut2<'_, T>, mut st: ArrayViewMut2<'_, T>| {
        let index = batch_index(batch, flat);
        let (qi, ki, vi) = (
            matrix(&qv, batch.len(), &index),
            matrix(&kv, batch.len(), &index),
            matrix(&vv, batch.len(), &index),
        );
        let mut scores = Array2::zeros((l, s));
        // Scaled after the product, as the backward's `matmul(..).mul_scalar(scale)`.
        general_mat_mul(T::one(), &qi, &ki.t(), T::zero(), &mut scores);
        scores.mapv_inplace(|x| x * scale);
        if let Some(m) = &additive {
            scores += &mask_at(m, batch, &index);
        }
        let a = allowed.as_ref().map(|m| mask_at(m, batch, &index));
        weights_in_place(&mut scores.view_mut(), a, blocked.causal, &mut st, false);
        general_mat_mul(T::one(), &scores, &vi, T::zero(), &mut o);
    };
    let (mut o3, mut st3) = (slices(&mut out, count), slices(&mut stats, count));
    let parts: Vec<_> = o3
        .outer_iter_mut()
        .zip(st3.outer_iter_mut())
        .enumerate()
        .collect();
    let macs = count
        .saturating_mul(l)
        .saturating_mul(s)
        .saturating_mul(e + ev);
    if count > 1 && num_threads() > 1 && macs >= PAR_MIN_MACS {
        Workers::current().run_parts(parts, |(flat, (o, st))| slice(flat, o, st));
    } else {
        parts
            .into_iter()
            .for_each(|(flat, (o, st))| slice(flat, o, st));
    }
    (out, stats)
}

/// The attention weights from `scores [batch.., l, s]` (the full batch), with the row
/// statistics of the forward if `stats` is given (then bit-identical to the forward's
/// weights), else computed here.
pub(crate) fn weights<T: Float>(
    scores: &Tensor<T>,
    blocked: &Blocked<T>,
    stats: Option<&Tensor<T>>,
) -> ArrayD<T> {
    let mut p = scores.view().as_standard_layout().into_owned();
    let nd = p.ndim();
    let l = p.shape()[nd - 2];
    let batch = p.shape()[..nd - 2].to_vec();
    let count: usize = batch.iter().product();
    let mut st = match stats {
        Some(t) => t.view().as_standard_layout().into_owned(),
        None => ArrayD::zeros(IxDyn(&[count, l, 2])),
    };
    let (mut p3, mut st3) = (slices(&mut p, count), slices(&mut st, count));
    let allowed = blocked.allowed.as_ref().map(Tensor::view);
    for (flat, (mut pi, mut sti)) in p3.outer_iter_mut().zip(st3.outer_iter_mut()).enumerate() {
        let index = batch_index(&batch, flat);
        let a = allowed.as_ref().map(|m| mask_at(m, &batch, &index));
        weights_in_place(&mut pi, a, blocked.causal, &mut sti, stats.is_some());
    }
    p
}
