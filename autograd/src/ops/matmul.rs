//! matmul: 2-D, batched (batch dimensions broadcast) and 1-D (promoted, as `torch.matmul`).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix2};

use crate::alloc::{checked_numel, full_array};
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::broadcast_shapes;
use crate::tensor::Tensor;
use crate::threads::{Workers, num_threads};

/// The fewest multiply-adds (`m·n·k`, summed over a batch) a matrix product splits across
/// threads: below it the hand-off and the repeated packing of the shared operand cost more
/// than a second core saves. Measured on a 2-core AMD EPYC VM with f32, the workers kept
/// polling between splits (`examples/thread_thresholds.rs`): 48³ (0.11M) breaks even, 64³
/// (0.26M) takes ×0.65 of the single-threaded time, 128³ ×0.55, 256³ ×0.52.
pub(crate) const PAR_MIN_MACS: usize = 1 << 18;

/// A split product's parts have a multiple of this many rows (or columns), so that the GEMM
/// kernels' register tiles (at most 16 wide) line up as in the undivided product.
const PART_ALIGN: usize = 16;

/// `c = a·b`, overwriting `c`; on several threads when the product is large enough.
fn gemm<T: Float>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>, c: &mut ArrayViewMut2<'_, T>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m.saturating_mul(n).saturating_mul(k) >= PAR_MIN_MACS && num_threads() > 1 {
        gemm_on(&Workers::current(), a, b, c);
    } else {
        general_mat_mul(T::one(), a, b, T::zero(), c);
    }
}

/// `c = a·b` on `w`'s threads: one GEMM per block of `c`'s rows (or, for a wide `c`, of its
/// columns). Each output element is the same dot product, over `k` in the same order, as
/// in the undivided product, so the result is bit-identical for any thread count.
fn gemm_on<T: Float>(
    w: &Workers,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let (m, n) = c.dim();
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    let part = len.div_ceil(w.threads()).next_multiple_of(PART_ALIGN);
    if part >= len {
        general_mat_mul(T::one(), a, b, T::zero(), c);
        return;
    }
    let parts: Vec<_> = if by_rows {
        c.axis_chunks_iter_mut(Axis(0), part)
            .zip(a.axis_chunks_iter(Axis(0), part))
            .map(|(c, a)| (c, a, b.view()))
            .collect()
    } else {
        c.axis_chunks_iter_mut(Axis(1), part)
            .zip(b.axis_chunks_iter(Axis(1), part))
            .map(|(c, b)| (c, a.view(), b))
            .collect()
    };
    w.run_parts(parts, |(mut c, a, b)| {
        general_mat_mul(T::one(), &a, &b, T::zero(), &mut c);
    });
}

impl<'g, T: Float> Var<'g, T> {
    /// The matrix product, as `torch.matmul`: `[.., m, k] × [.., k, n] → [.., m, n]`, batch
    /// dimensions broadcasting. A 1-D lhs is treated as `[1, k]` and a 1-D rhs as `[k, 1]`,
    /// and the added dimension is removed from the result.
    ///
    /// Backward: `grad · rhsᵀ` to `lhs` and `lhsᵀ · grad` to `rhs`, summed over broadcast
    /// batch dimensions. Saves both inputs. Each product runs matrixmultiply's GEMM
    /// (AVX-512 where available); a large one is split by blocks of output rows or columns
    /// across [`num_threads`](crate::num_threads) threads, and a batch of products runs its
    /// elements in parallel, with results identical for any thread count.
    ///
    /// # Panics
    /// If an operand is 0-D, the inner dimensions differ, the batch dimensions cannot be
    /// broadcast together, or the result is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// let b = g.var(Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]));
    /// let c = a.matmul(b);
    /// assert_eq!(c.value().to_vec(), vec![19.0, 22.0, 43.0, 50.0]);
    /// c.sum().backward();
    /// assert_eq!(a.grad().unwrap().to_vec(), vec![11.0, 15.0, 11.0, 15.0]);
    /// ```
    #[track_caller]
    pub fn matmul(self, rhs: Var<'g, T>) -> Var<'g, T> {
        let (a, b) = (self.shape_for("matmul"), rhs.shape_for("matmul"));
        assert!(
            !a.is_empty() && !b.is_empty(),
            "matmul: operands must have at least 1 dimension, got lhs {:?} and rhs {:?}",
            a.as_slice(),
            b.as_slice()
        );
        match (a.len(), b.len()) {
            (1, 1) => return self.unsqueeze(0).matmul(rhs.unsqueeze(-1)).reshape(&[]),
            (1, _) => return self.unsqueeze(0).matmul(rhs).squeeze(-2),
            (_, 1) => return self.matmul(rhs.unsqueeze(-1)).squeeze(-1),
            _ => {}
        }
        let (m, k, k2, n) = (
            a[a.len() - 2],
            a[a.len() - 1],
            b[b.len() - 2],
            b[b.len() - 1],
        );
        assert!(
            k == k2,
            "matmul: lhs {:?} and rhs {:?} are incompatible ({k} != {k2})",
            a.as_slice(),
            b.as_slice()
        );
        let (ba, bb) = (&a[..a.len() - 2], &b[..b.len() - 2]);
        let Some(batch) = broadcast_shapes(ba, bb) else {
            panic!(
                "matmul: batch dimensions {ba:?} and {bb:?} of lhs {:?} and rhs {:?} cannot be broadcast together",
                a.as_slice(),
                b.as_slice()
            );
        };
        let mut out = batch.clone();
        out.extend([m, n]);
        checked_numel::<T>("matmul", &out);
        self.graph().custom_op(
            "matmul",
            &[self, rhs],
            |v| Tensor::from_array(batched_matmul(&v[0].view(), &v[1].view(), &batch, m, n)),
            // Each gradient comes out in its input's memory order, as PyTorch's
            // `mm_mat2_backward`: for an input stored transposed (Linear's weight enters as
            // `W.transpose(0, 1)`) the rule computes the transposed product, row-major, and
            // returns its transpose, which the transpose's own backward turns back into a
            // row-major gradient of `W`. An optimizer then walks weight, gradient and state
            // in one contiguous pass. Same products, same cost.
            |ctx, g| {
                let (a, b) = (ctx.input(0), ctx.input(1));
                grads![
                    ctx.needs_grad(0).then(|| if is_transposed(a) {
                        b.matmul(g.transpose(-1, -2))
                            .sum_to(&swap_last_two(a))
                            .transpose(-1, -2)
                    } else {
                        g.matmul(b.transpose(-1, -2)).sum_to_like(a)
                    }),
                    ctx.needs_grad(1).then(|| {
                        // A matrix shared by a batch (a layer's weight on [N, T, in]): one
                        // product over all the batch's rows, not a product per batch element
                        // summed afterwards.
                        let (a, g) = if b.ndim() == 2 && a.ndim() > 2 {
                            (rows(a), rows(g))
                        } else {
                            (a, g)
                        };
                        if is_transposed(b) {
                            g.transpose(-1, -2)
                                .matmul(a)
                                .sum_to(&swap_last_two(b))
                                .transpose(-1, -2)
                        } else {
                            a.transpose(-1, -2).matmul(g).sum_to_like(b)
                        }
                    }),
                ]
            },
        )
    }
}

/// Whether `x`'s value is stored with its last two axes swapped (column-major matrices), so
/// that its gradient should be too.
fn is_transposed<T: Float>(x: Var<'_, T>) -> bool {
    let value = x.value();
    let mut v = value.view();
    let n = v.ndim();
    if v.is_standard_layout() {
        return false;
    }
    v.swap_axes(n - 2, n - 1);
    v.is_standard_layout()
}

/// `x [.., k]` as the matrix of its rows, `[∏.., k]`. The row count is given, not `-1`:
/// with `k = 0` a `-1` would be ambiguous, and reshape refuses it.
fn rows<T: Float>(x: Var<'_, T>) -> Var<'_, T> {
    let shape = x.shape();
    let (lead, last) = shape.split_at(shape.len() - 1);
    x.reshape(&[lead.iter().product::<usize>() as isize, last[0] as isize])
}

/// `x`'s shape with its last two dimensions swapped.
fn swap_last_two<T: Float>(x: Var<'_, T>) -> Vec<usize> {
    let mut shape = x.shape();
    let n = shape.len();
    shape.swap(n - 2, n - 1);
    shape
}

fn as2<T: Float>(v: ArrayViewD<'_, T>) -> ArrayView2<'_, T> {
    v.into_dimensionality::<Ix2>().expect("2-D matrix")
}

/// `a [.., m, k] × b [.., k, n]` with the batch dimensions broadcast to `batch`.
fn batched_matmul<T: Float>(
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    batch: &[usize],
    m: usize,
    n: usize,
) -> ArrayD<T> {
    let mut out_shape = batch.to_vec();
    out_shape.extend([m, n]);
    // Allocated through the size check: ndarray's `dot` would abort on a refused request.
    let mut out = full_array("matmul", &out_shape, T::zero());
    let k = a.shape()[a.ndim() - 1];
    // Nothing to compute: an empty result, or an empty contraction (all zeros). A batch of
    // 2⁴⁰ empty products would otherwise loop 2⁴⁰ times.
    if out.is_empty() || k == 0 {
        return out;
    }
    if batch.is_empty() {
        let mut o = out.view_mut().into_dimensionality::<Ix2>().expect("2-D");
        gemm(&as2(a.view()), &as2(b.view()), &mut o);
        return out;
    }
    let count: usize = batch.iter().product();
    // A batch against one matrix, the batch's rows stored one after another: one product of
    // `[count·m, k] × [k, n]` instead of `count` small ones.
    if b.ndim() == 2
        && a.ndim() == batch.len() + 2
        && let Ok(rows) = a.view().into_shape_with_order((count * m, k))
    {
        let mut o = out
            .view_mut()
            .into_shape_with_order((count * m, n))
            .expect("a new array is contiguous");
        gemm(&rows, &as2(b.view()), &mut o);
        return out;
    }
    let workers = (num_threads() > 1
        && count >= num_threads()
        && (count * m).saturating_mul(n).saturating_mul(k) >= PAR_MIN_MACS)
        .then(Workers::current);
    batch_products(workers.as_ref(), a, b, batch, &mut out);
    out
}

/// One product per batch element of `out [batch.., m, n]`; with `workers`, the elements in
/// parallel (each still one undivided GEMM), else one after another, each split if large.
fn batch_products<T: Float>(
    workers: Option<&Workers>,
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    batch: &[usize],
    out: &mut ArrayD<T>,
) {
    let (m, n) = (out.shape()[batch.len()], out.shape()[batch.len() + 1]);
    let count: usize = batch.iter().product();
    let mut o = out
        .view_mut()
        .into_shape_with_order((count, m, n))
        .expect("a new array is contiguous");
    let product = |flat: usize, mut o: ArrayViewMut2<'_, T>, split: bool| {
        let mut index = vec![0; batch.len()];
        let mut rest = flat;
        for (slot, &d) in index.iter_mut().zip(batch).rev() {
            *slot = rest % d;
            rest /= d;
        }
        let (x, y) = (
            matrix(a, batch.len(), &index),
            matrix(b, batch.len(), &index),
        );
        if split {
            gemm(&x, &y, &mut o);
        } else {
            general_mat_mul(T::one(), &x, &y, T::zero(), &mut o);
        }
    };
    match workers {
        Some(w) => {
            let elements: Vec<_> = o.outer_iter_mut().enumerate().collect();
            w.run_parts(elements, |(flat, o)| product(flat, o, false));
        }
        None => {
            for (flat, o) in o.outer_iter_mut().enumerate() {
                product(flat, o, true);
            }
        }
    }
}

/// The matrix of `x` at batch `index`, reading `x`'s size-1 batch dimensions at 0.
pub(crate) fn matrix<'a, T: Float>(
    x: &'a ArrayViewD<'_, T>,
    batch_rank: usize,
    index: &[usize],
) -> ArrayView2<'a, T> {
    let lead = batch_rank - (x.ndim() - 2);
    let mut v = x.view();
    for &i in &index[lead..] {
        let i = if v.shape()[0] == 1 { 0 } else { i };
        v = v.index_axis_move(Axis(0), i);
    }
    as2(v)
}

#[cfg(test)]
mod tests {
    use super::{batch_products, gemm_on};
    use crate::testing::{self, check_gradgrads, check_grads, matmul_shapes, tensor_of};
    use crate::threads::Workers;
    use crate::{Graph, Tensor};
    use ndarray::linalg::general_mat_mul;
    use ndarray::{Array2, ArrayD, IxDyn};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn matmul_grad_matches_finite_diff((a, b) in matmul_shapes().prop_flat_map(|(a, b)| (tensor_of(a, -2.0..2.0), tensor_of(b, -2.0..2.0)))) {
            check_grads(|v| v[0].matmul(v[1]), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].matmul(v[1]), &[a, b])?;
        }

        #[test]
        fn matmul_of_transposed_views_grad_matches_finite_diff((a, b) in matmul_shapes().prop_flat_map(|(mut a, mut b)| {
            // Stored [.., k, m] and [.., n, k], multiplied as transposed (column-major) views.
            let (ra, rb) = (a.len(), b.len());
            a.swap(ra - 2, ra - 1);
            b.swap(rb - 2, rb - 1);
            (tensor_of(a, -2.0..2.0), tensor_of(b, -2.0..2.0))
        })) {
                        check_grads(|v| v[0].transpose(-1, -2).matmul(v[1].transpose(-1, -2)), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].transpose(-1, -2).matmul(v[1].transpose(-1, -2)), &[a, b])?;
        }

        #[test]
        fn a_batch_against_one_matrix_grad_matches_finite_diff((a, b, bt) in matmul_shapes().prop_flat_map(|(mut a, b)| {
            // A layer's weight applied to [N, T, in]: the rhs is one matrix, plain or stored
            // transposed; the lhs has at least one batch dimension.
            if a.len() == 2 {
                a.insert(0, 3);
            }
            let (k, n) = (b[b.len() - 2], b[b.len() - 1]);
            (tensor_of(a, -2.0..2.0), tensor_of(vec![k, n], -2.0..2.0), tensor_of(vec![n, k], -2.0..2.0))
        })) {
            check_grads(|v| v[0].matmul(v[1]), &[a.clone(), b.clone()])?;
            check_gradgrads(|v| v[0].matmul(v[1]), &[a.clone(), b])?;
            check_grads(|v| v[0].matmul(v[1].transpose(0, 1)), &[a.clone(), bt.clone()])?;
            check_gradgrads(|v| v[0].matmul(v[1].transpose(0, 1)), &[a, bt])?;
        }

        #[test]
        fn matmul_of_vectors_grad_matches_finite_diff(
            (a, b, m) in (1usize..4, 1usize..4).prop_flat_map(|(k, n)| (tensor_of(vec![k], -2.0..2.0), tensor_of(vec![k], -2.0..2.0), tensor_of(vec![k, n], -2.0..2.0)))
        ) {
            check_grads(|v| v[0].matmul(v[1]), &[a.clone(), b])?;
            check_grads(|v| v[0].matmul(v[1]), &[a.clone(), m.clone()])?;
            check_grads(|v| v[1].transpose(0, 1).matmul(v[0]), &[a, m])?;
        }
    }

    #[test]
    fn a_batch_against_one_matrix_is_the_per_element_products() {
        use ndarray::Axis;
        let g = Graph::<f64>::new();
        let a = Tensor::from_vec(
            (0..24).map(|i| f64::from(i) * 0.5 - 3.0).collect(),
            &[2, 3, 4],
        );
        let b = g.constant(Tensor::from_vec(
            (0..20).map(|i| f64::from(i % 7) - 2.0).collect(),
            &[4, 5],
        ));
        let element = |n: usize| Tensor::from_array(a.view().index_axis(Axis(0), n).to_owned());
        let expected: Vec<_> = (0..2)
            .map(|n| g.constant(element(n)).matmul(b).value())
            .collect();
        // Contiguous: one [6, 4] × [4, 5] product. The same values stored [2, 4, 3] and seen
        // transposed: a product per element.
        let stored = Tensor::from_array(a.view().permuted_axes(vec![0, 2, 1]).to_owned());
        for lhs in [g.constant(a.clone()), g.constant(stored).transpose(1, 2)] {
            let c = lhs.matmul(b).value();
            for (n, want) in expected.iter().enumerate() {
                let got = Tensor::from_array(c.view().index_axis(Axis(0), n).to_owned());
                assert!(got.allclose(want, 1e-14, 1e-14), "{got:?} vs {want:?}");
            }
        }
    }

    /// A `rows × cols` matrix of distinct, irregular values (stored transposed if `t`).
    fn matrix_of<T: crate::Float>(rows: usize, cols: usize, seed: f64, t: bool) -> Array2<T> {
        let f = |i: usize| T::from_f64((i as f64 * seed).sin() * 3.0);
        if t {
            Array2::from_shape_fn((cols, rows), |(j, i)| f(i * cols + j)).reversed_axes()
        } else {
            Array2::from_shape_fn((rows, cols), |(i, j)| f(i * cols + j))
        }
    }

    fn split_products_match<T: crate::Float>(bits: impl Fn(T) -> u64) {
        // Tall, wide, k past the kernels' depth block (256), sizes off every tile multiple.
        let shapes = [
            (1, 7, 1),
            (37, 19, 5),
            (5, 19, 37),
            (100, 33, 70),
            (70, 33, 100),
            (129, 300, 17),
            (17, 300, 129),
            (200, 64, 200),
        ];
        for (m, k, n) in shapes {
            for t in [false, true] {
                let (a, b) = (
                    matrix_of::<T>(m, k, 0.37, t),
                    matrix_of::<T>(k, n, 0.91, !t),
                );
                let mut one = Array2::<T>::zeros((m, n));
                general_mat_mul(
                    T::one(),
                    &a.view(),
                    &b.view(),
                    T::zero(),
                    &mut one.view_mut(),
                );
                for threads in [2, 3, 4] {
                    let mut many = Array2::from_elem((m, n), T::nan());
                    gemm_on(
                        &Workers::with_threads(threads),
                        &a.view(),
                        &b.view(),
                        &mut many.view_mut(),
                    );
                    let same = one.iter().zip(&many).all(|(&p, &q)| bits(p) == bits(q));
                    assert!(same, "{m}×{k}×{n}, transposed {t}, {threads} threads");
                }
            }
        }
    }

    #[test]
    fn a_product_split_across_threads_is_bit_identical_to_the_undivided_one() {
        split_products_match::<f32>(|x| u64::from(x.to_bits()));
        split_products_match::<f64>(f64::to_bits);
    }

    #[test]
    fn a_batch_of_products_in_parallel_is_bit_identical_to_one_after_another() {
        let a = ArrayD::from_shape_fn(IxDyn(&[3, 1, 40, 50]), |i| {
            ((i[0] * 7 + i[2] * 3 + i[3]) as f32 * 0.37).sin()
        });
        let b = ArrayD::from_shape_fn(IxDyn(&[4, 50, 30]), |i| {
            ((i[0] * 5 + i[1] * 2 + i[2]) as f32 * 0.91).cos()
        });
        let batch = [3, 4];
        let run = |w: Option<&Workers>| {
            let mut out = ArrayD::from_elem(IxDyn(&[3, 4, 40, 30]), f32::NAN);
            batch_products(w, &a.view(), &b.view(), &batch, &mut out);
            out.mapv(f32::to_bits)
        };
        let one = run(None);
        for threads in [2, 3] {
            assert_eq!(
                run(Some(&Workers::with_threads(threads))),
                one,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn batched_by_shared_matrix_backward_with_an_empty_inner_dim() {
        // [2, 3, 0] · [0, 4]: a product of zeros, whose weight gradient flattens the
        // batch's rows to [6, 0]. Found by the op-program table (backward used to ask
        // reshape for [-1, 0], which is ambiguous and refused).
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::zeros(&[2, 3, 0]));
        let b = g.var(Tensor::zeros(&[0, 4]));
        let c = a.matmul(b);
        assert_eq!(c.value().to_vec(), vec![0.0; 24]);
        c.sum().backward();
        assert_eq!(a.grad().unwrap().shape(), &[2, 3, 0]);
        assert_eq!(b.grad().unwrap().shape(), &[0, 4]);
    }

    #[test]
    fn batched_matmul_broadcasts_known_values() {
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::from_vec(
            vec![1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0],
            &[2, 2, 2],
        ));
        let b = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
        let c = a.matmul(b);
        assert_eq!(c.shape(), vec![2, 2, 2]);
        assert_eq!(
            c.value().to_vec(),
            vec![1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.0]
        );
        let dot = g
            .var(Tensor::from_vec(vec![1.0, 2.0], &[2]))
            .matmul(g.var(Tensor::from_vec(vec![3.0, 4.0], &[2])));
        assert_eq!((dot.shape(), dot.item()), (vec![], 11.0));
    }

    #[test]
    fn matmul_grad_of_a_transposed_input_is_row_major_for_the_viewed_tensor_and_unchanged() {
        // Linear's pattern x·Wᵀ, and Wᵀ·z: the gradient of W must be row-major like W and
        // equal, bit for bit, to the gradient through a row-major copy of Wᵀ.
        let values = |shape: &[usize], k: f32| {
            let n = shape.iter().product::<usize>();
            Tensor::from_vec((0..n).map(|i| (i as f32 * k).sin()).collect(), shape)
        };
        let (w, x, z) = (
            values(&[4, 3], 0.91),
            values(&[5, 3], 0.37),
            values(&[4, 5], 0.53),
        );
        let wt = Tensor::from_array(w.view().t().to_owned());
        for lhs in [false, true] {
            let grad_of = |through_view: bool| {
                let g = Graph::new();
                let wv = g.var(if through_view { w.clone() } else { wt.clone() });
                let m = if through_view { wv.transpose(0, 1) } else { wv };
                let y = if lhs {
                    m.matmul(g.constant(z.clone()))
                } else {
                    g.constant(x.clone()).matmul(m)
                };
                (y * g.constant(values(&y.shape(), 1.7))).sum().backward();
                wv.grad().unwrap()
            };
            let (view, copy) = (grad_of(true), grad_of(false));
            assert!(view.view().is_standard_layout(), "lhs: {lhs}");
            assert_eq!(view.view().t(), copy.view(), "lhs: {lhs}");
        }
    }

    #[test]
    #[should_panic(expected = "matmul: lhs [2, 3] and rhs [4, 5] are incompatible (3 != 4)")]
    fn matmul_panics_on_inner_dim_mismatch() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2, 3]))
            .matmul(g.var(Tensor::zeros(&[4, 5])));
    }

    #[test]
    #[should_panic(
        expected = "matmul: batch dimensions [2] and [3] of lhs [2, 1, 1] and rhs [3, 1, 1] cannot be broadcast together"
    )]
    fn matmul_panics_on_batch_mismatch() {
        let g = Graph::<f32>::new();
        g.var(Tensor::zeros(&[2, 1, 1]))
            .matmul(g.var(Tensor::zeros(&[3, 1, 1])));
    }

    /// A zero f32 value of `shape`, without the cost of filling it in a debug build
    /// (ndarray's zeros come from calloc).
    fn big<'g>(g: &'g Graph<f32>, shape: &[usize]) -> crate::Var<'g, f32> {
        g.var(Tensor::from_array(ndarray::ArrayD::zeros(shape)))
    }

    #[test]
    #[should_panic(
        expected = "matmul: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn matmul_panics_naming_the_op_when_the_product_cannot_be_allocated() {
        let g = Graph::<f32>::new();
        big(&g, &[1 << 24, 1]).matmul(big(&g, &[1, 1 << 24]));
    }

    #[test]
    #[should_panic(
        expected = "matmul: cannot allocate shape [16777216, 16777216, 1, 1] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn matmul_panics_naming_the_op_when_the_batch_broadcast_cannot_be_allocated() {
        let g = Graph::<f32>::new();
        big(&g, &[1 << 24, 1, 1, 1]).matmul(big(&g, &[1, 1 << 24, 1, 1]));
    }

    #[test]
    #[should_panic(
        expected = "matmul: operands must have at least 1 dimension, got lhs [] and rhs [3]"
    )]
    fn matmul_panics_on_scalar() {
        let g = Graph::<f32>::new();
        g.scalar(1.0).matmul(g.var(Tensor::zeros(&[3])));
    }

    #[test]
    fn a_huge_batch_of_empty_products_returns_at_once() {
        // [1, 2⁴⁰, 0, 1] · [1, 1, 1]: no element to compute, and the contraction of
        // [2, 0] · [0, 3] is zeros (the op-program scan found the first one hanging).
        let g = Graph::<f64>::new();
        let a = g.var(Tensor::zeros(&[1, 1 << 40, 0, 1]));
        let b = g.var(Tensor::ones(&[1, 1, 1]));
        let c = a.matmul(b);
        assert_eq!(c.shape(), vec![1, 1 << 40, 0, 1]);
        let z = g
            .var(Tensor::zeros(&[2, 0]))
            .matmul(g.var(Tensor::zeros(&[0, 3])));
        assert_eq!(z.value().to_vec(), vec![0.0; 6]);
    }
}
