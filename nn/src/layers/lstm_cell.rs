//! The LSTM cell as one op: gates, cell state and hidden state of a time step in one pass
//! forward and (at first order) one pass backward, instead of some twenty element-wise ops
//! each way per step.

use ferrograd_autograd::ndarray::{Array2, Array3, ArrayView2, ArrayView3, CowArray, Ix2};
use ferrograd_autograd::threads::for_each_part;
use ferrograd_autograd::{Float, Tensor, Var, grads};

/// One LSTM step from the two halves of the gate pre-activations, `xw = x·W_ihᵀ + b`
/// and `hw = h·W_hhᵀ` (each `[N, 4H]`, gates in PyTorch's order i, f, g, o; their sum
/// `pre` is formed inside), and the cell state `c` (`[N, H]`): returns `[2, N, H]`, the new
/// hidden state then the new cell state, with
///
/// ```text
/// i = σ(pre_i), f = σ(pre_f), g = tanh(pre_g), o = σ(pre_o)
/// c' = f·c + i·g,   h' = o·tanh(c')
/// ```
///
/// Backward (a fused kernel at first order; the same formulas in `Var` ops when recording,
/// so the cell is twice differentiable), with `dh`, `dc` the gradients of `h'`, `c'`; `xw`
/// and `hw` both get `dpre`:
///
/// ```text
/// dc_total = dc + dh·o·(1 − tanh²(c'))
/// dpre_i = dc_total·g·i(1 − i),  dpre_f = dc_total·c·f(1 − f)
/// dpre_g = dc_total·i·(1 − g²),  dpre_o = dh·tanh(c')·o(1 − o)
/// dc = dc_total·f
/// ```
///
/// The forward pass keeps the activations (`[N, 5H]`) when a gradient will be needed.
pub(crate) fn lstm_cell<'g, T: Float>(xw: Var<'g, T>, hw: Var<'g, T>, c: Var<'g, T>) -> Var<'g, T> {
    let graph = c.graph();
    // The forward pass computes the gates anyway: when a backward will run, keep them (and
    // tanh(c')) for it, [N, 5H], instead of recomputing five transcendentals per unit.
    let keep = graph.is_grad_enabled() && [xw, hw, c].iter().any(|v| v.requires_grad());
    let (out, saved) = forward(
        &matrix(&xw.value()),
        &matrix(&hw.value()),
        &matrix(&c.value()),
        keep,
    );
    let saved = saved.map(|s| Tensor::from_array(s.into_dyn()));
    graph.custom_op(
        "lstm_cell",
        &[xw, hw, c],
        move |_| Tensor::from_array(out.into_dyn()),
        move |ctx, grad| {
            let c = ctx.input(2);
            if ctx.is_recording() {
                let (dpre, dc) = recorded_backward(ctx.input(0) + ctx.input(1), c, grad);
                return grads![Some(dpre), Some(dpre), Some(dc)];
            }
            let saved = saved.as_ref().expect("kept when a gradient is needed");
            let (dpre, dc) = fused_backward(
                &matrix(&c.value()),
                &matrix(saved),
                &grad
                    .value()
                    .view()
                    .into_dimensionality()
                    .expect("[2, N, H]"),
            );
            let graph = ctx.graph();
            let dpre = graph.constant(Tensor::from_array(dpre.into_dyn()));
            grads![
                Some(dpre),
                Some(dpre),
                Some(graph.constant(Tensor::from_array(dc.into_dyn())))
            ]
        },
    )
}

fn matrix<T: Float>(t: &Tensor<T>) -> ArrayView2<'_, T> {
    t.view().into_dimensionality::<Ix2>().expect("a matrix")
}

/// `m` with each row contiguous: a view when it already is (the step's slice of the
/// input projection `[N, T, 4H]` is strided between rows only), a copy otherwise.
fn with_contiguous_rows<'a, T: Float>(m: &'a ArrayView2<'_, T>) -> CowArray<'a, T, Ix2> {
    if m.ncols() <= 1 || m.strides()[1] == 1 {
        CowArray::from(m.view())
    } else {
        m.as_standard_layout()
    }
}

/// Row `r` of a matrix whose rows are contiguous, as a slice.
fn row<'a, T: Float>(m: &'a ArrayView2<'_, T>, r: usize) -> &'a [T] {
    m.row(r).to_slice().expect("contiguous rows")
}

/// The fewest units (`N·H`, each five transcendentals forward) a cell step splits across
/// threads by rows: W4's 64×128 step takes about 60 µs forward on one core.
const PAR_MIN_UNITS: usize = 1 << 12;

/// The rows per part of a cell step over `n` rows of `h` units: all of them below
/// [`PAR_MIN_UNITS`], else an even share per thread. Each row is computed alone, so the
/// result does not depend on the split.
fn rows_per_part(n: usize, h: usize) -> usize {
    let parts = if n * h >= PAR_MIN_UNITS {
        ferrograd_autograd::num_threads().clamp(1, n.max(1))
    } else {
        1
    };
    n.div_ceil(parts).max(1)
}

/// `[h', c']` as `[2, N, H]`, and with `keep` the activations `[i, f, g, o, tanh(c')]` of
/// each row as `[N, 5H]`. Each row runs as passes over contiguous slices, so the f32
/// logistic and `tanh` kernels ([`Float::sigmoid_in_place`]) vectorise; large steps run
/// their rows in parts on ferrograd's threads.
fn forward<T: Float>(
    xw: &ArrayView2<'_, T>,
    hw: &ArrayView2<'_, T>,
    c: &ArrayView2<'_, T>,
    keep: bool,
) -> (Array3<T>, Option<Array2<T>>) {
    let (n, h) = c.dim();
    let (xw, hw, c) = (
        with_contiguous_rows(xw),
        with_contiguous_rows(hw),
        with_contiguous_rows(c),
    );
    let (xw, hw, c) = (xw.view(), hw.view(), c.view());
    let mut out = Array3::zeros((2, n, h));
    let mut saved = Array2::zeros((n, if keep { 5 * h } else { 0 }));
    let (hc, sv) = (
        out.as_slice_mut().expect("new"),
        saved.as_slice_mut().expect("new"),
    );
    let (h_out, c_out) = hc.split_at_mut(n * h);
    let rows = rows_per_part(n, h);
    let saved_parts: Vec<Option<&mut [T]>> = if keep {
        sv.chunks_mut(rows * 5 * h).map(Some).collect()
    } else {
        (0..n.div_ceil(rows)).map(|_| None).collect()
    };
    let parts: Vec<_> = (h_out.chunks_mut(rows * h).zip(c_out.chunks_mut(rows * h)))
        .zip(saved_parts)
        .enumerate()
        .map(|(p, rest)| (p * rows, rest))
        .collect();
    for_each_part(parts, |(first, ((h_out, c_out), saved))| {
        let mut scratch = if saved.is_some() {
            Vec::new()
        } else {
            vec![T::zero(); 5 * h]
        };
        let mut saved = saved;
        for (k, (h_row, c_row)) in h_out.chunks_mut(h).zip(c_out.chunks_mut(h)).enumerate() {
            let r = first + k;
            let (x, y, c0) = (row(&xw, r), row(&hw, r), row(&c, r));
            let a = match saved.as_deref_mut() {
                Some(sv) => &mut sv[k * 5 * h..][..5 * h],
                None => &mut scratch[..],
            };
            for ((a, &x), &y) in a.iter_mut().zip(x).zip(y) {
                *a = x + y;
            }
            let (ifg, rest) = a.split_at_mut(2 * h);
            let (g, rest) = rest.split_at_mut(h);
            let (o, tc) = rest.split_at_mut(h);
            T::sigmoid_in_place(ifg);
            T::tanh_in_place(g);
            T::sigmoid_in_place(o);
            let (i, f) = ifg.split_at(h);
            for j in 0..h {
                c_row[j] = f[j] * c0[j] + i[j] * g[j];
            }
            tc.copy_from_slice(c_row);
            T::tanh_in_place(tc);
            for ((h_new, &o), &t) in h_row.iter_mut().zip(&*o).zip(&*tc) {
                *h_new = o * t;
            }
        }
    });
    (out, keep.then_some(saved))
}

/// The first-order gradients of `pre` and `c` from the kept activations.
fn fused_backward<T: Float>(
    c: &ArrayView2<'_, T>,
    saved: &ArrayView2<'_, T>,
    grad: &ArrayView3<'_, T>,
) -> (Array2<T>, Array2<T>) {
    let (n, h) = c.dim();
    let one = T::one();
    let (c, grad) = (with_contiguous_rows(c), grad.as_standard_layout());
    let c = c.view();
    let grad = grad.as_slice().expect("standard layout");
    let (dh_all, dc_all) = grad.split_at(n * h);
    let mut dpre = Array2::zeros((n, 4 * h));
    let mut dc_prev = Array2::zeros((n, h));
    let (dp, dcp) = (
        dpre.as_slice_mut().expect("new"),
        dc_prev.as_slice_mut().expect("new"),
    );
    let rows = rows_per_part(n, h);
    let parts: Vec<_> = (dp.chunks_mut(rows * 4 * h).zip(dcp.chunks_mut(rows * h)))
        .enumerate()
        .map(|(p, rest)| (p * rows, rest))
        .collect();
    for_each_part(parts, |(first, (dp, dcp))| {
        for (k, (d, dcp)) in dp.chunks_mut(4 * h).zip(dcp.chunks_mut(h)).enumerate() {
            let r = first + k;
            let (s, c0) = (row(saved, r), row(&c, r));
            let (dh, dc) = (&dh_all[r * h..][..h], &dc_all[r * h..][..h]);
            for j in 0..h {
                let [i, f, g, o, tc] = std::array::from_fn(|k| s[k * h + j]);
                let dct = dc[j] + dh[j] * o * (one - tc * tc);
                d[j] = dct * g * i * (one - i);
                d[h + j] = dct * c0[j] * f * (one - f);
                d[2 * h + j] = dct * i * (one - g * g);
                d[3 * h + j] = dh[j] * tc * o * (one - o);
                dcp[j] = dct * f;
            }
        }
    });
    (dpre, dc_prev)
}

/// The backward formulas in `Var` ops, for a gradient that will be differentiated again:
/// the gradients of `pre` and of `c`.
fn recorded_backward<'g, T: Float>(
    pre: Var<'g, T>,
    c: Var<'g, T>,
    grad: Var<'g, T>,
) -> (Var<'g, T>, Var<'g, T>) {
    let h = c.shape()[1];
    let gate = |k: usize| pre.narrow(1, k * h, h);
    let (i, f, g, o) = (
        gate(0).sigmoid(),
        gate(1).sigmoid(),
        gate(2).tanh(),
        gate(3).sigmoid(),
    );
    let tc = (f * c + i * g).tanh();
    let (dh, dc) = (
        grad.narrow(0, 0, 1).squeeze(0),
        grad.narrow(0, 1, 1).squeeze(0),
    );
    let dsig = |s: Var<'g, T>| s * (-s).add_scalar(T::one());
    let dct = dc + dh * o * (-tc.square()).add_scalar(T::one());
    let dpre = pre.graph().concat(
        &[
            dct * g * dsig(i),
            dct * c * dsig(f),
            dct * i * (-g.square()).add_scalar(T::one()),
            dh * tc * dsig(o),
        ],
        1,
    );
    (dpre, dct * f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrograd_autograd::Graph;
    use ferrograd_autograd::gradcheck::{GradcheckOptions, gradcheck, gradgradcheck};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn inputs(seed: u64) -> Vec<Tensor<f64>> {
        let mut rng = StdRng::seed_from_u64(seed);
        vec![
            Tensor::rand_uniform(&[3, 8], -1.5, 1.5, &mut rng),
            Tensor::rand_uniform(&[3, 8], -1.0, 1.0, &mut rng),
            Tensor::rand_uniform(&[3, 2], -1.5, 1.5, &mut rng),
        ]
    }

    /// The cell composed of ordinary ops, as the layer used to run it.
    fn composed<'g>(pre: Var<'g, f64>, c: Var<'g, f64>) -> Var<'g, f64> {
        let gates = pre.chunk(4, 1);
        let (i, f) = (gates[0].sigmoid(), gates[1].sigmoid());
        let (g, o) = (gates[2].tanh(), gates[3].sigmoid());
        let c = f * c + i * g;
        pre.graph().stack(&[o * c.tanh(), c], 0)
    }

    #[test]
    fn a_step_split_across_threads_matches_one_thread_exactly() {
        // 40 rows of 128 units: above PAR_MIN_UNITS, so two threads split the rows.
        let mut rng = StdRng::seed_from_u64(3);
        let inputs = [&[40, 512][..], &[40, 512], &[40, 128], &[2, 40, 128]]
            .map(|shape| Tensor::<f32>::rand_uniform(shape, -2.0, 2.0, &mut rng));
        let run = |threads: usize| {
            ferrograd_autograd::set_num_threads(threads);
            let g = Graph::<f32>::new();
            let [xw, hw, c, w] = inputs.clone().map(|t| g.var(t));
            let out = lstm_cell(xw, hw, c);
            let grads = g.grad(&[(out * w).sum()], &[xw, c], false);
            let bits = |t: Tensor<f32>| t.to_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            [
                out.value(),
                grads[0].unwrap().value(),
                grads[1].unwrap().value(),
            ]
            .map(bits)
        };
        let (two, one) = (run(2), run(1));
        assert!(two == one);
    }

    #[test]
    fn lstm_cell_matches_the_composed_cell_forward_and_backward() {
        let [xw, hw, c] = inputs(1).try_into().unwrap();
        let g = Graph::<f64>::new();
        let (xw, hw, cv) = (g.var(xw), g.var(hw), g.var(c));
        let w = g.constant(Tensor::rand_uniform(
            &[2, 3, 2],
            -1.0,
            1.0,
            &mut StdRng::seed_from_u64(9),
        ));
        let fused = (lstm_cell(xw, hw, cv) * w).sum();
        let reference = (composed(xw + hw, cv) * w).sum();
        assert!(fused.value().allclose(&reference.value(), 1e-12, 1e-12));
        // Both backward paths: the fused kernel and the recorded `Var` formulas.
        for create_graph in [false, true] {
            let a = g.grad(&[fused], &[xw, hw, cv], create_graph);
            let b = g.grad(&[reference], &[xw, hw, cv], false);
            for (a, b) in a.iter().zip(&b) {
                let (a, b) = (a.unwrap().value(), b.unwrap().value());
                assert!(
                    a.allclose(&b, 1e-12, 1e-12),
                    "{create_graph}: {a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn lstm_cell_grad_and_gradgrad_match_finite_diff() {
        for seed in 0..4 {
            let xs = inputs(seed);
            fn f<'g>(v: &[Var<'g, f64>]) -> Var<'g, f64> {
                lstm_cell(v[0], v[1], v[2])
            }
            gradcheck(f, &xs, &GradcheckOptions::default()).unwrap();
            gradgradcheck(f, &xs, &GradcheckOptions::default()).unwrap();
        }
    }
}
