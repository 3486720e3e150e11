//! Diagonals: diagonal (as `torch.diagonal`) and its inverse placement diag_embed (as
//! `torch.diag_embed`).
//!
//! Each is a permute and reshape around an index op: diagonal picks the diagonal's flat
//! positions with [`index_select`](Var::index_select), diag_embed adds into them with
//! [`index_add`](Var::index_add). Those two are each other's backward, so diagonal's
//! backward is a diag_embed of the gradient, diag_embed's a diagonal, to any order.

use crate::alloc::OpScope;
use crate::float::Float;
use crate::graph::Var;
use crate::kernels::{checked_axis, normalize_axis};
use crate::ops::reduce::as_isize;
use crate::tensor::Tensor;

/// The length of diagonal `offset` of an `n1 × n2` matrix (0 past a corner).
fn diagonal_len(n1: usize, n2: usize, offset: isize) -> usize {
    let k = offset.unsigned_abs();
    if offset >= 0 {
        n1.min(n2.saturating_sub(k))
    } else {
        n1.saturating_sub(k).min(n2)
    }
}

/// The row-major flat positions in an `n1 × n2` matrix of the `len` elements of diagonal
/// `offset`: element `k` is `(k + max(−offset, 0), k + max(offset, 0))`.
fn diagonal_positions(n2: usize, offset: isize, len: usize) -> Vec<usize> {
    let (i0, j0) = if offset >= 0 {
        (0, offset.unsigned_abs())
    } else {
        (offset.unsigned_abs(), 0)
    };
    (0..len).map(|k| (i0 + k) * n2 + j0 + k).collect()
}

impl<'g, T: Float> Var<'g, T> {
    /// The diagonal `offset` of the matrices in axes `axis1` and `axis2` (negative counts
    /// from the end), as `torch.diagonal(x, offset, axis1, axis2)`: the two axes are removed
    /// and the diagonal becomes the last axis. Element `k` is `x[.., k, .., k + offset, ..]`
    /// for `offset ≥ 0` (above the main diagonal) and `x[.., k − offset, .., k, ..]` below;
    /// past a corner the diagonal is empty. Copies the elements (PyTorch returns a view).
    ///
    /// Backward: the gradient placed on the same diagonal of zeros ([`Var::diag_embed`]'s
    /// placement, by index_add), whose own backward is this diagonal again. Saves nothing.
    ///
    /// # Panics
    /// If an axis is out of range or both name the same axis.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec((1..=6).map(f64::from).collect(), &[2, 3]));
    /// assert_eq!(x.diagonal(0, 0, 1).value().to_vec(), vec![1.0, 5.0]);
    /// assert_eq!(x.diagonal(1, 0, 1).value().to_vec(), vec![2.0, 6.0]);
    /// assert_eq!(x.diagonal(-1, 0, 1).value().to_vec(), vec![4.0]);
    /// x.diagonal(0, 0, 1).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn diagonal(self, offset: isize, axis1: isize, axis2: isize) -> Var<'g, T> {
        let shape = self.shape_for("diagonal");
        let (a1, a2) = (
            checked_axis("diagonal", axis1, &shape),
            checked_axis("diagonal", axis2, &shape),
        );
        assert!(
            a1 != a2,
            "diagonal: axis1 {axis1} and axis2 {axis2} are the same axis of shape {:?}",
            shape.as_slice()
        );
        let (n1, n2) = (shape[a1], shape[a2]);
        let mut order: Vec<usize> = (0..shape.len()).filter(|&a| a != a1 && a != a2).collect();
        let mut flat: Vec<isize> = order.iter().map(|&a| shape[a] as isize).collect();
        flat.push((n1 * n2) as isize);
        order.extend([a1, a2]);
        let positions = diagonal_positions(n2, offset, diagonal_len(n1, n2, offset));
        let _scope = OpScope::enter("diagonal");
        let last = order.len() - 2;
        let moved = if order.iter().enumerate().all(|(i, &a)| i == a) {
            self
        } else {
            self.permute(&order)
        };
        moved
            .reshape(&flat)
            .index_select_checked(last, positions.into())
    }

    /// Places the last axis on diagonal `offset` of new square matrices in output axes
    /// `axis1` and `axis2` (negative counts from the end of the output, which has one more
    /// dimension), zeros elsewhere, as `torch.diag_embed(x, offset, axis1, axis2)` (PyTorch's
    /// defaults: `0, -2, -1`). A last axis of size `n` gives matrices of size
    /// `n + |offset|`. `x.diag_embed(o, a, b).diagonal(o, a, b)` is `x`.
    ///
    /// Backward: the gradient's diagonal ([`Var::diagonal`]). Saves nothing.
    ///
    /// # Panics
    /// If the value is a scalar, an axis is out of range, both name the same axis, or the
    /// matrices' size overflows (an offset near `isize::MAX`); a size that fits but cannot
    /// be allocated panics naming diag_embed too.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    /// let m = x.diag_embed(0, -2, -1);
    /// assert_eq!(m.value().to_vec(), vec![1.0, 0.0, 0.0, 2.0]);
    /// assert_eq!(x.diag_embed(1, 0, 1).value().to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn diag_embed(self, offset: isize, axis1: isize, axis2: isize) -> Var<'g, T> {
        let shape = self.shape_for("diag_embed");
        assert!(
            !shape.is_empty(),
            "diag_embed: needs at least 1 dimension, got a scalar"
        );
        let rank = shape.len() + 1;
        let (Some(a1), Some(a2)) = (normalize_axis(axis1, rank), normalize_axis(axis2, rank))
        else {
            panic!(
                "diag_embed: axes ({axis1}, {axis2}) are out of range for the {rank} dimensions \
                 of the output (input shape {:?})",
                shape.as_slice()
            );
        };
        assert!(
            a1 != a2,
            "diag_embed: axis1 {axis1} and axis2 {axis2} are the same axis of the {rank}-dimensional output"
        );
        let n = shape[shape.len() - 1];
        let Some((m, mm)) = n
            .checked_add(offset.unsigned_abs())
            .and_then(|m| Some((m, m.checked_mul(m)?)))
        else {
            panic!(
                "diag_embed: offset {offset} with a last axis of size {n} makes matrices whose \
                 size overflows usize (input shape {:?})",
                shape.as_slice()
            );
        };
        let mut zeros = shape.to_vec();
        *zeros.last_mut().expect("rank checked") = mm;
        let mut square = as_isize(&zeros);
        square.pop();
        square.extend([m as isize, m as isize]);
        // Output axis a1 is the matrices' row axis (rank − 2), a2 their column axis.
        let mut batch = 0..rank - 2;
        let order: Vec<usize> = (0..rank)
            .map(|a| match a {
                _ if a == a1 => rank - 2,
                _ if a == a2 => rank - 1,
                _ => batch.next().expect("rank − 2 other axes"),
            })
            .collect();
        let positions = diagonal_positions(m, offset, n);
        let _scope = OpScope::enter("diag_embed");
        let base = self
            .graph()
            .constant_named("diag_embed_zeros", Tensor::zeros(&zeros));
        let placed = base.index_add(-1, &positions, self).reshape(&square);
        if order.iter().enumerate().all(|(i, &a)| i == a) {
            placed
        } else {
            placed.permute(&order)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{self, check_gradgrads, check_grads, tensor};
    use crate::{Graph, Tensor};
    use proptest::prelude::*;

    /// A tensor of rank 2..=4 and two distinct axes of it, each negative half the time.
    fn with_two_axes() -> impl Strategy<Value = (Tensor<f64>, isize, isize)> {
        tensor(prop::collection::vec(testing::DIMS, 2..=4), -2.0..2.0).prop_flat_map(|x| {
            let n = x.ndim() as isize;
            (Just(x), 0..n, 1..n, any::<(bool, bool)>()).prop_map(move |(x, a, d, (na, nb))| {
                let b = (a + d) % n;
                (x, if na { a - n } else { a }, if nb { b - n } else { b })
            })
        })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn diagonal_and_diag_embed_grads_match_finite_diff(
            (x, a1, a2) in with_two_axes(),
            offset in -3isize..=3,
        ) {
            check_grads(|v| v[0].diagonal(offset, a1, a2), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].diagonal(offset, a1, a2).square(), std::slice::from_ref(&x))?;
            // Non-negative axes name the same positions in diag_embed's one-larger output.
            let (b1, b2) = (a1.rem_euclid(x.ndim() as isize), a2.rem_euclid(x.ndim() as isize));
            check_grads(|v| v[0].diag_embed(offset, b1, b2), std::slice::from_ref(&x))?;
            check_gradgrads(|v| v[0].diag_embed(offset, b1, b2).square(), &[x])?;
        }

        #[test]
        fn diagonal_inverts_diag_embed((x, a1, a2) in with_two_axes(), offset in -3isize..=3) {
            let g = Graph::<f64>::new();
            let v = g.var(x.clone());
            let (b1, b2) = (a1.rem_euclid(x.ndim() as isize), a2.rem_euclid(x.ndim() as isize));
            prop_assert_eq!(v.diag_embed(offset, b1, b2).diagonal(offset, b1, b2).value(), x);
        }
    }

    #[test]
    fn diagonal_of_a_batch_moves_the_diagonal_last_as_pytorch() {
        // torch.arange(24.).reshape(2, 3, 4).diagonal(-1, 2, 0): shape [3, 2], element
        // (j, k) = x[k, j, k + 1].
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(
            (0..24).map(f64::from).collect(),
            &[2, 3, 4],
        ));
        let d = x.diagonal(-1, 2, 0);
        assert_eq!(d.shape(), vec![3, 2]);
        assert_eq!(d.value().to_vec(), vec![1.0, 14.0, 5.0, 18.0, 9.0, 22.0]);
        assert_eq!(x.diagonal(4, 1, 2).shape(), vec![2, 0]);
        assert_eq!(
            x.diagonal(0, -1, -2).value().to_vec(),
            vec![0.0, 5.0, 10.0, 12.0, 17.0, 22.0]
        );
    }

    #[test]
    fn diag_embed_places_rows_on_diagonals_of_the_chosen_axes() {
        // torch.diag_embed(torch.tensor([[1., 2.], [3., 4.]]), -1, 0, 2): shape [3, 2, 3].
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
        let y = x.diag_embed(-1, 0, 2);
        assert_eq!(y.shape(), vec![3, 2, 3]);
        let mut want = vec![0.0; 18];
        // y[i, b, j] = x[b, j] where i = j + 1.
        for (b, j, v) in [(0, 0, 1.0), (0, 1, 2.0), (1, 0, 3.0), (1, 1, 4.0)] {
            want[(j + 1) * 6 + b * 3 + j] = v;
        }
        assert_eq!(y.value().to_vec(), want);
    }

    #[test]
    #[should_panic(expected = "diagonal: axis1 1 and axis2 -1 are the same axis of shape [2, 3]")]
    fn diagonal_panics_on_the_same_axis_twice() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .diagonal(0, 1, -1);
    }

    #[test]
    #[should_panic(
        expected = "diag_embed: offset 9223372036854775807 with a last axis of size 3 makes matrices whose size overflows usize (input shape [2, 3])"
    )]
    fn diag_embed_panics_on_an_offset_whose_matrices_overflow() {
        // Found by the op-program table: the size used to wrap around in release builds,
        // and index_add refused the wrapped positions under its own name.
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .diag_embed(isize::MAX, -2, -1);
    }

    #[test]
    #[should_panic(expected = "diag_embed: cannot allocate shape [2, 4611686031312289801]")]
    fn diag_embed_panics_naming_itself_on_matrices_too_large_to_allocate() {
        // m = 3 + 2³¹, m² fits in usize, its 8-byte elements do not fit in isize.
        Graph::<f64>::new()
            .var(Tensor::zeros(&[2, 3]))
            .diag_embed(-(1 << 31), -2, -1);
    }

    #[test]
    #[should_panic(
        expected = "diag_embed: axes (0, 3) are out of range for the 3 dimensions of the output (input shape [2, 3])"
    )]
    fn diag_embed_panics_on_an_axis_out_of_range() {
        Graph::<f32>::new()
            .var(Tensor::zeros(&[2, 3]))
            .diag_embed(0, 0, 3);
    }
}
