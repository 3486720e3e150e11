//! The kernels of max pooling: each window's maximum and where it is, and the gradient's
//! scatter back to the winners. [`Var::max_pool2d`] and [`Var::adaptive_max_pool2d`] find
//! their windows' winners here and record the result with [`Var::gather_winners`], so
//! their gradient is a scatter to the winning positions (gather's backward), differentiable
//! again.

use std::hint::select_unpredictable;
use std::rc::Rc;

use ndarray::{ArrayD, IxDyn};

use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::ops::im2col::{Size2, Window};
use crate::tensor::Tensor;

/// The outputs `lo..hi` along an axis of size `n` whose tap at offset `k` (the tap's index
/// times the dilation) lands inside the input (`o·s + k − p` in `0..n`).
fn valid_outputs(k: usize, s: usize, p: usize, n: usize, out: usize) -> (usize, usize) {
    let lo = p.saturating_sub(k).div_ceil(s);
    let hi = if n + p > k {
        ((n + p - k - 1) / s + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// For each window of each plane, the flat in-plane position of its maximum: the first one
/// in row-major order on ties, the first NaN if there is one.
///
/// Runs tap by tap over a whole output row (a long, branch-free inner loop over the output
/// columns) rather than window by window (a loop of kH·kW steps per output).
pub(crate) fn argmax_windows<T: Float>(
    op: &'static str,
    x: &[T],
    [n, c, h, w]: [usize; 4],
    win: &Window,
    out: Size2,
) -> Vec<usize> {
    let (k, s, p, d) = (win.kernel, win.stride, win.padding, win.dilation);
    let rows: Vec<_> = (0..k.0)
        .map(|ki| valid_outputs(ki * d.0, s.0, p.0, h, out.0))
        .collect();
    let cols: Vec<_> = (0..k.1)
        .map(|kj| valid_outputs(kj * d.1, s.1, p.1, w, out.1))
        .collect();
    // The first tap of each output column that lands inside the input.
    let first_kj: Vec<usize> = (0..out.1)
        .map(|ox| {
            (0..k.1)
                .find(|&kj| (cols[kj].0..cols[kj].1).contains(&ox))
                .unwrap_or_else(|| panic!("{op}: the window of output column {ox} holds no input element (dilation {:?})", d))
        })
        .collect();
    let mut idx = crate::alloc::alloc::<usize>(op, &[n, c, out.0, out.1]);
    let (mut best, mut best_at, mut nan) = (
        vec![T::neg_infinity(); out.1],
        vec![0usize; out.1],
        vec![false; out.1],
    );
    for plane in x.chunks_exact(h * w) {
        for oy in 0..out.0 {
            let taps_y = (0..k.0).filter(|&ki| (rows[ki].0..rows[ki].1).contains(&oy));
            let first_ki = taps_y.clone().next().unwrap_or_else(|| {
                panic!(
                    "{op}: the window of output row {oy} holds no input element (dilation {:?})",
                    d
                )
            });
            let row_of = |ki: usize| (oy * s.0 + ki * d.0 - p.0) * w;
            best.fill(T::neg_infinity());
            nan.fill(false);
            for (ox, at) in best_at.iter_mut().enumerate() {
                *at = row_of(first_ki) + ox * s.1 + first_kj[ox] * d.1 - p.1;
            }
            for ki in taps_y {
                let row = row_of(ki);
                for (kj, &(lo, hi)) in cols.iter().enumerate() {
                    for ox in lo..hi {
                        let at = row + ox * s.1 + kj * d.1 - p.1;
                        let v = plane[at];
                        // Random data would mispredict a branch half the time.
                        let take = v > best[ox];
                        best_at[ox] = select_unpredictable(take, at, best_at[ox]);
                        best[ox] = best[ox].max(v); // maxss, not a branch
                        nan[ox] |= v.is_nan();
                    }
                }
            }
            let cols = &cols;
            for ox in 0..out.1 {
                if nan[ox] {
                    best_at[ox] = (0..k.0)
                        .filter(|&ki| (rows[ki].0..rows[ki].1).contains(&oy))
                        .flat_map(|ki| {
                            (0..k.1)
                                .filter(move |&kj| (cols[kj].0..cols[kj].1).contains(&ox))
                                .map(move |kj| row_of(ki) + ox * s.1 + kj * d.1 - p.1)
                        })
                        .find(|&at| plane[at].is_nan())
                        .expect("the window holds a NaN");
                }
            }
            idx.extend_from_slice(&best_at);
        }
    }
    idx
}

/// Each window's maximum and its flat in-plane position (the rules of [`argmax_windows`]).
///
/// Without padding, dilation or windows past the input's end (`ceil_mode`) every window
/// lies inside the input, and one search finds both: the first tap starts, a later tap
/// takes over if it is larger, or NaN where the best so far is not (so the first NaN wins).
pub(crate) fn max_windows<T: Float>(
    op: &'static str,
    x: &[T],
    shape @ [n, c, h, w]: [usize; 4],
    win: &Window,
    out: Size2,
) -> (Vec<T>, Vec<usize>) {
    let len = n * c * out.0 * out.1;
    let inside = |axis: usize, size: usize, out: usize| {
        (out.max(1) - 1) * win.stride.get(axis) + win.kernel.get(axis) <= size
    };
    if win.padding != Size2(0, 0)
        || win.dilation != Size2(1, 1)
        || !inside(0, h, out.0)
        || !inside(1, w, out.1)
    {
        let idx = argmax_windows(op, x, shape, win, out);
        let values = idx
            .chunks(out.0 * out.1)
            .zip(x.chunks_exact(h * w))
            .flat_map(|(idx, plane)| idx.iter().map(|&i| plane[i]))
            .collect();
        return (values, idx);
    }
    let (k, s) = (win.kernel, win.stride);
    let mut values = crate::alloc::alloc::<T>(op, &[len]);
    let mut idx = crate::alloc::alloc::<usize>(op, &[len]);
    if len == 0 {
        return (values, idx);
    }
    if k == Size2(2, 2) && s == Size2(2, 2) {
        max_windows_2x2(x, [h, w], out, &mut values, &mut idx);
        return (values, idx);
    }
    // Tap by tap over a whole output row: a loop over the output columns without a
    // data-dependent branch (random data would mispredict half of them). `best` ignores
    // NaN (maxss); `nan` records one, after which the winner stays.
    let mut best = vec![T::zero(); out.1];
    let mut at = vec![0usize; out.1];
    let mut nan = vec![false; out.1];
    for plane in x.chunks_exact(h * w) {
        for oy in 0..out.0 {
            let top = oy * s.0 * w;
            for (ox, ((b, a), n)) in best.iter_mut().zip(&mut at).zip(&mut nan).enumerate() {
                *a = top + ox * s.1;
                *b = plane[*a];
                *n = b.is_nan();
            }
            for ki in 0..k.0 {
                for kj in (0..k.1).skip(usize::from(ki == 0)) {
                    let base = top + ki * w + kj;
                    let row = best.iter_mut().zip(&mut at).zip(&mut nan);
                    for (ox, ((b, a), n)) in row.enumerate() {
                        let i = base + ox * s.1;
                        let v = plane[i];
                        let take = !*n & ((v > *b) | v.is_nan());
                        *a = select_unpredictable(take, i, *a);
                        *b = b.max(v);
                        *n |= v.is_nan();
                    }
                }
            }
            values.extend(at.iter().map(|&i| plane[i]));
            idx.extend_from_slice(&at);
        }
    }
    (values, idx)
}

/// [`max_windows`] for the common 2×2 windows at stride 2: each window is two pairs, and
/// each pick between two candidates selects a position on flags (the later one wins if it
/// is larger, or NaN where the earlier is not) and reloads the value from there: the
/// compiler turns an integer select into a `cmov`, but a float select into a branch,
/// which random data mispredicts half the time.
fn max_windows_2x2<T: Float>(
    x: &[T],
    [h, w]: [usize; 2],
    out: Size2,
    values: &mut Vec<T>,
    idx: &mut Vec<usize>,
) {
    for plane in x.chunks_exact(h * w) {
        // The position, of `i` and `j`, that the search keeps.
        let pick = |i: usize, j: usize| {
            let (a, b) = (plane[i], plane[j]);
            select_unpredictable(!a.is_nan() & ((b > a) | b.is_nan()), j, i)
        };
        for oy in 0..out.0 {
            let top = 2 * oy * w;
            for ox in 0..out.1 {
                let at = top + 2 * ox;
                let i = pick(pick(at, at + 1), pick(at + w, at + w + 1));
                values.push(plane[i]);
                idx.push(i);
            }
        }
    }
}

/// A max pooling's first-order input gradient: `planes` planes of `plane` zeros, each window's
/// gradient added at its winner (`index`, `positions` per plane).
pub(crate) fn scatter_to_winners<T: Float>(
    g: &[T],
    index: &[usize],
    plane: usize,
    positions: usize,
    planes: usize,
) -> Vec<T> {
    let mut dx = crate::alloc::alloc::<T>("max_pool_backward", &[planes, plane]);
    if positions == 0 {
        dx.resize(planes * plane, T::zero());
        return dx;
    }
    // Plane by plane: each is zeroed and scattered into while it is in cache, instead of
    // a memset of the whole gradient followed by a scatter over it.
    for (g, i) in g.chunks_exact(positions).zip(index.chunks_exact(positions)) {
        let start = dx.len();
        dx.resize(start + plane, T::zero());
        let d = &mut dx[start..];
        for (&g, &i) in g.iter().zip(i) {
            d[i] += g;
        }
    }
    dx
}

impl<'g, T: Float> Var<'g, T> {
    /// Records a max pooling of this `[N, C, H, W]` input whose output `[N, C, oH, oW]` is
    /// `values`, taken from the in-plane positions `idx` (one per output, plane by plane).
    ///
    /// Backward: the gradient scattered to the winners: at first order one pass into the
    /// zeroed input gradient, under `create_graph` a recorded `scatter_add` (gather's
    /// backward), differentiable again. Keeps only the positions.
    pub(crate) fn gather_winners(
        self,
        op: &'static str,
        [n, c, h, w]: [usize; 4],
        out: Size2,
        values: Vec<T>,
        idx: Vec<usize>,
    ) -> Var<'g, T> {
        let index =
            Rc::new(ArrayD::from_shape_vec(IxDyn(&[n, c, out.0 * out.1]), idx).expect("sizes"));
        let plane = h * w;
        self.graph().custom_op(
            op,
            &[self],
            move |_| Tensor::from_vec(values, &[n, c, out.0, out.1]),
            move |ctx, g| {
                if ctx.is_recording() {
                    // Gather's backward: the gradient scattered into zeros, differentiable.
                    let zeros = ctx
                        .graph()
                        .constant_named("max_pool_backward_zeros", Tensor::zeros(&[n, c, plane]));
                    let g = g.reshape(&[n as isize, c as isize, -1]);
                    let dx = zeros.scatter_add_checked(2, index.clone(), g);
                    return grads![Some(
                        dx.reshape(&[n as isize, c as isize, h as isize, w as isize])
                    )];
                }
                // First order: one pass adding each gradient at its window's winner.
                let g = g.value();
                let g = g.array().as_standard_layout();
                let dx = scatter_to_winners(
                    g.as_slice().expect("standard layout"),
                    index.as_slice().expect("standard layout"),
                    plane,
                    out.0 * out.1,
                    n * c,
                );
                let dx = Tensor::from_vec(dx, &[n, c, h, w]);
                grads![Some(ctx.graph().constant_named("max_pool_backward", dx))]
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Graph;

    #[test]
    fn max_pool2d_unpadded_pass_agrees_with_the_general_one() {
        // Ties, NaNs and -inf in overlapping and tiling windows: the one-pass search without
        // padding picks the same winners as the tap-by-tap search.
        let mut rng = rand::rng();
        let mut x =
            Tensor::<f64>::rand_uniform(&[2, 3, 7, 8], -2.0, 2.0, &mut rng).map(|v| v.round());
        for (i, v) in x.view_mut().iter_mut().enumerate() {
            match i % 23 {
                5 => *v = f64::NAN,
                11 => *v = f64::NEG_INFINITY,
                _ => {}
            }
        }
        let xs = x.to_vec();
        for (k, s) in [
            ((2, 2), (2, 2)),
            ((3, 3), (2, 2)),
            ((2, 2), (1, 1)),
            ((1, 3), (2, 3)),
        ] {
            let win = Window::pool(k.into(), s.into(), 0.into());
            let out = win.checked_out("test", 7, 8);
            let (values, idx) = max_windows("test", &xs, [2, 3, 7, 8], &win, out);
            assert_eq!(
                idx,
                argmax_windows("test", &xs, [2, 3, 7, 8], &win, out),
                "{k:?} {s:?}"
            );
            let plane = out.0 * out.1;
            for (j, (&v, &i)) in values.iter().zip(&idx).enumerate() {
                let want = xs[(j / plane) * 56 + i];
                assert!(v == want || (v.is_nan() && want.is_nan()));
            }
        }
    }

    #[test]
    fn max_pool2d_fused_backward_matches_the_recorded_one() {
        let mut rng = rand::rng();
        let x = Tensor::<f64>::rand_normal(&[2, 3, 6, 7], 0.0, 1.0, &mut rng);
        for (k, s, p) in [(2, 2, 0), (3, 2, 1), (3, 1, 0)] {
            let grads = [false, true].map(|create_graph| {
                let g = Graph::new();
                let v = g.var(x.clone());
                let y = v.max_pool2d(k, s, p);
                let seed = Tensor::from_vec(
                    (0..y.value().numel()).map(|i| (i as f64).sin()).collect(),
                    &y.shape(),
                );
                g.grad_with(&[y], &[seed], &[v], create_graph)[0]
                    .unwrap()
                    .value()
            });
            assert_eq!(grads[0].to_vec(), grads[1].to_vec(), "{k} {s} {p}");
        }
    }

    #[test]
    fn dilated_and_ceil_windows_agree_with_a_direct_search() {
        // A 1x1x5x7 ramp of distinct values, windows 2x3 dilated (2, 2) at stride (1, 2),
        // padded by (1, 1), with the last window past the end (a ceil_mode output).
        let xs: Vec<f64> = (0..35).map(|i| ((i * 17) % 35) as f64).collect();
        let win = Window {
            kernel: Size2(2, 3),
            stride: Size2(1, 2),
            padding: Size2(1, 1),
            dilation: Size2(2, 2),
        };
        let out = Size2(5, 4);
        let (values, idx) = max_windows("test", &xs, [1, 1, 5, 7], &win, out);
        for oy in 0..out.0 {
            for ox in 0..out.1 {
                let taps = (0..2).flat_map(|ki| (0..3).map(move |kj| (ki, kj)));
                let best = taps
                    .filter_map(|(ki, kj)| {
                        let y = (oy + 2 * ki).checked_sub(1).filter(|&y| y < 5)?;
                        let x = (2 * ox + 2 * kj).checked_sub(1).filter(|&x| x < 7)?;
                        Some(y * 7 + x)
                    })
                    .max_by(|&a, &b| xs[a].total_cmp(&xs[b]))
                    .unwrap();
                assert_eq!(idx[oy * out.1 + ox], best, "({oy}, {ox})");
                assert_eq!(values[oy * out.1 + ox], xs[best]);
            }
        }
    }
}
