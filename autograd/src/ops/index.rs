//! Indexing by integer indices: index_select / index_add, gather / scatter_add, embedding
//! lookup, and one_hot.
//!
//! index_select and index_add are each other's backward, as are gather and scatter_add, so
//! every op here is differentiable to any order. Indices usually come from data (labels,
//! token ids), so each op has a `try_` form returning [`Error::Index`] for an index out of
//! range; the plain form panics with the same message. A wrong rank or shape is a caller
//! bug and panics in both.

use std::rc::Rc;

use ndarray::{ArrayD, Axis};

use crate::alloc::{OpScope, alloc, try_alloc, try_numel};
use crate::error::{Error, Result, or_panic};
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::kernels::checked_axis;
use crate::tensor::Tensor;

/// Checks that every index is below `size`.
fn check_indices<'a>(
    op: &'static str,
    axis: usize,
    size: usize,
    indices: impl IntoIterator<Item = &'a usize>,
) -> Result<()> {
    match indices.into_iter().find(|&&i| i >= size) {
        Some(&index) => Err(Error::Index {
            op,
            index,
            axis,
            size,
        }),
        None => Ok(()),
    }
}

/// `shape` seen as `(outer, shape[axis], inner)`.
fn split3(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// Panics unless `index` has the rank of `shape` and the same sizes outside `axis`.
#[track_caller]
fn check_index_shape(op: &str, what: &str, index: &[usize], shape: &[usize], axis: usize) {
    let ok = index.len() == shape.len()
        && index
            .iter()
            .zip(shape)
            .enumerate()
            .all(|(d, (a, b))| d == axis || a == b);
    assert!(
        ok,
        "{op}: {what} of shape {index:?} must match the input of shape {shape:?} outside axis {axis}"
    );
}

impl<'g, T: Float> Var<'g, T> {
    /// The slices at `indices` along `axis`, in that order (repeats allowed), as
    /// `torch.index_select`.
    ///
    /// Backward: the gradient slices added back at their indices ([`Var::index_add`] into
    /// zeros).
    ///
    /// # Panics
    /// If `axis` is out of range or an index is; [`Var::try_index_select`] returns the
    /// latter as an error.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]));
    /// let rows = x.index_select(0, &[2, 0, 2]);
    /// assert_eq!(rows.value().to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// rows.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn index_select(self, axis: isize, indices: &[usize]) -> Var<'g, T> {
        or_panic(self.try_index_select(axis, indices))
    }

    /// [`Var::index_select`], returning an error for an index out of range.
    ///
    /// # Errors
    /// [`Error::Index`] naming the first index out of range; [`Error::Alloc`] if the result
    /// is too large to allocate.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// let err = g.var(Tensor::zeros(&[3, 2])).try_index_select(0, &[1, 3]).unwrap_err();
    /// assert_eq!(err.to_string(), "index_select: index 3 is out of range for axis 0 of size 3");
    /// ```
    #[track_caller]
    pub fn try_index_select(self, axis: isize, indices: &[usize]) -> Result<Var<'g, T>> {
        let shape = self.shape_for("index_select");
        let ax = checked_axis("index_select", axis, &shape);
        check_indices("index_select", ax, shape[ax], indices)?;
        let mut out = shape.to_vec();
        out[ax] = indices.len();
        let buffer = try_alloc::<T>("index_select", &out)?;
        Ok(self.index_select_with(ax, indices.into(), Some(buffer)))
    }

    /// index_select with indices already checked against axis `ax`.
    #[track_caller]
    pub(crate) fn index_select_checked(self, ax: usize, indices: Rc<[usize]>) -> Var<'g, T> {
        self.index_select_with(ax, indices, None)
    }

    /// index_select into `buffer`, allocated by a `try_` form to return its error, or
    /// allocated here.
    #[track_caller]
    fn index_select_with(
        self,
        ax: usize,
        indices: Rc<[usize]>,
        buffer: Option<Vec<T>>,
    ) -> Var<'g, T> {
        let size = self.shape_for("index_select")[ax];
        let idx = indices.clone();
        self.graph().custom_op(
            "index_select",
            &[self],
            move |v| select_rows(&v[0], ax, &idx, buffer),
            move |ctx, g| {
                let mut shape = g.shape();
                shape[ax] = size;
                let zeros = ctx
                    .graph()
                    .constant_named("index_select_backward_zeros", Tensor::zeros(&shape));
                grads![Some(zeros.index_add_checked(ax, indices.clone(), g))]
            },
        )
    }

    /// Adds the slices of `source` along `axis` to this value's slices at `indices`
    /// (repeated indices accumulate), as `torch.index_add`: `out[.., indices[j], ..] +=
    /// source[.., j, ..]`. `source` has this shape except `indices.len()` along `axis`.
    ///
    /// Backward: the gradient to `self`; its slices at `indices` to `source`.
    ///
    /// # Panics
    /// If `axis` is out of range, `source` has the wrong shape, or an index is out of range
    /// ([`Var::try_index_add`] returns the latter as an error).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::zeros(&[3]));
    /// let y = x.index_add(0, &[0, 2, 0], g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])));
    /// assert_eq!(y.value().to_vec(), vec![4.0, 0.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn index_add(self, axis: isize, indices: &[usize], source: Var<'g, T>) -> Var<'g, T> {
        or_panic(self.try_index_add(axis, indices, source))
    }

    /// [`Var::index_add`], returning an error for an index out of range.
    ///
    /// # Errors
    /// [`Error::Index`] naming the first index out of range.
    #[track_caller]
    pub fn try_index_add(
        self,
        axis: isize,
        indices: &[usize],
        source: Var<'g, T>,
    ) -> Result<Var<'g, T>> {
        let shape = self.shape_for("index_add");
        let ax = checked_axis("index_add", axis, &shape);
        let src = source.shape_for("index_add");
        let mut want = shape.clone();
        want[ax] = indices.len();
        assert!(
            src == want,
            "index_add: source of shape {:?} must have shape {:?} for {} indices along axis {ax}",
            src.as_slice(),
            want.as_slice(),
            indices.len()
        );
        check_indices("index_add", ax, shape[ax], indices)?;
        Ok(self.index_add_checked(ax, indices.into(), source))
    }

    #[track_caller]
    fn index_add_checked(self, ax: usize, indices: Rc<[usize]>, source: Var<'g, T>) -> Var<'g, T> {
        let idx = indices.clone();
        self.graph().custom_op(
            "index_add",
            &[self, source],
            move |v| {
                let mut out = v[0].view().to_owned();
                let src = v[1].view();
                for (j, &i) in idx.iter().enumerate() {
                    let mut dst = out.index_axis_mut(Axis(ax), i);
                    dst += &src.index_axis(Axis(ax), j);
                }
                Tensor::from_array(out)
            },
            move |ctx, g| {
                grads![
                    ctx.needs_grad(0).then_some(g),
                    ctx.needs_grad(1)
                        .then(|| g.index_select_checked(ax, indices.clone())),
                ]
            },
        )
    }

    /// Picks along `axis` the elements that `index` names, as `torch.gather`:
    /// `out[i][j][k] = self[i][index[i][j][k]][k]` for axis 1. `index` has this value's rank
    /// and its sizes outside `axis`; the output has `index`'s shape.
    ///
    /// Backward: the gradient added back at the gathered positions ([`Var::scatter_add`]
    /// into zeros).
    ///
    /// # Panics
    /// If `axis` is out of range, `index` has the wrong shape, or an index is out of range
    /// ([`Var::try_gather`] returns the latter as an error).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::autograd::ndarray::{ArrayD, IxDyn};
    /// let g = Graph::<f64>::new();
    /// // The probability each row gives its label.
    /// let p = g.var(Tensor::from_vec(vec![0.1, 0.9, 0.7, 0.3], &[2, 2]));
    /// let labels = ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![1, 0]).unwrap();
    /// let picked = p.gather(1, &labels);
    /// assert_eq!(picked.value().to_vec(), vec![0.9, 0.7]);
    /// picked.sum().backward();
    /// assert_eq!(p.grad().unwrap().to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn gather(self, axis: isize, index: &ArrayD<usize>) -> Var<'g, T> {
        or_panic(self.try_gather(axis, index))
    }

    /// [`Var::gather`], returning an error for an index out of range.
    ///
    /// # Errors
    /// [`Error::Index`] naming the first index out of range.
    #[track_caller]
    pub fn try_gather(self, axis: isize, index: &ArrayD<usize>) -> Result<Var<'g, T>> {
        let shape = self.shape_for("gather");
        let ax = checked_axis("gather", axis, &shape);
        check_index_shape("gather", "index", index.shape(), &shape, ax);
        check_indices("gather", ax, shape[ax], index)?;
        Ok(self.gather_checked(ax, Rc::new(index.as_standard_layout().into_owned())))
    }

    /// gather with a standard-layout index already checked against axis `ax`.
    #[track_caller]
    pub(crate) fn gather_checked(self, ax: usize, index: Rc<ArrayD<usize>>) -> Var<'g, T> {
        let idx = index.clone();
        self.graph().custom_op(
            "gather",
            &[self],
            move |v| {
                let x = v[0].array().as_standard_layout();
                let (xs, is) = (x.as_slice().expect("standard"), idx_slice(&idx));
                let (_, n, inner) = split3(x.shape(), ax);
                let mut data = Vec::with_capacity(is.len());
                for_each_index(is, idx.shape()[ax], inner, |o, i, k, _| {
                    data.push(xs[(o * n + k) * inner + i]);
                });
                Tensor::from_vec(data, idx.shape())
            },
            move |ctx, g| {
                let shape = ctx.input(0).shape();
                let zeros = ctx
                    .graph()
                    .constant_named("gather_backward_zeros", Tensor::zeros(&shape));
                grads![Some(zeros.scatter_add_checked(ax, index.clone(), g))]
            },
        )
    }

    /// Adds the elements of `source` into this value at the positions `index` names along
    /// `axis`, as `torch.scatter_add`: `out[i][index[i][j][k]][k] += source[i][j][k]` for
    /// axis 1. `index` and `source` have the same shape, which matches this value outside
    /// `axis`.
    ///
    /// Backward: the gradient to `self`; the gradient gathered at `index` to `source`.
    ///
    /// # Panics
    /// If `axis` is out of range, a shape is wrong, or an index is out of range
    /// ([`Var::try_scatter_add`] returns the latter as an error).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::autograd::ndarray::{ArrayD, IxDyn};
    /// let g = Graph::<f64>::new();
    /// let counts = g.var(Tensor::zeros(&[3]));
    /// let index = ArrayD::from_shape_vec(IxDyn(&[4]), vec![0, 2, 2, 1]).unwrap();
    /// let y = counts.scatter_add(0, &index, g.var(Tensor::ones(&[4])));
    /// assert_eq!(y.value().to_vec(), vec![1.0, 1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn scatter_add(self, axis: isize, index: &ArrayD<usize>, source: Var<'g, T>) -> Var<'g, T> {
        or_panic(self.try_scatter_add(axis, index, source))
    }

    /// [`Var::scatter_add`], returning an error for an index out of range.
    ///
    /// # Errors
    /// [`Error::Index`] naming the first index out of range.
    #[track_caller]
    pub fn try_scatter_add(
        self,
        axis: isize,
        index: &ArrayD<usize>,
        source: Var<'g, T>,
    ) -> Result<Var<'g, T>> {
        let shape = self.shape_for("scatter_add");
        let ax = checked_axis("scatter_add", axis, &shape);
        let src = source.shape_for("scatter_add");
        assert!(
            src.as_slice() == index.shape(),
            "scatter_add: source of shape {:?} must have the shape of the index {:?}",
            src.as_slice(),
            index.shape()
        );
        check_index_shape("scatter_add", "index", index.shape(), &shape, ax);
        check_indices("scatter_add", ax, shape[ax], index)?;
        let index = Rc::new(index.as_standard_layout().into_owned());
        Ok(self.scatter_add_checked(ax, index, source))
    }

    #[track_caller]
    pub(crate) fn scatter_add_checked(
        self,
        ax: usize,
        index: Rc<ArrayD<usize>>,
        source: Var<'g, T>,
    ) -> Var<'g, T> {
        let idx = index.clone();
        self.graph().custom_op(
            "scatter_add",
            &[self, source],
            move |v| {
                let mut out = v[0].view().as_standard_layout().into_owned();
                let (_, n, inner) = split3(out.shape(), ax);
                let src = v[1].array().as_standard_layout();
                let (os, ss) = (
                    out.as_slice_mut().expect("standard"),
                    src.as_slice().expect("standard"),
                );
                for_each_index(idx_slice(&idx), idx.shape()[ax], inner, |o, i, k, p| {
                    os[(o * n + k) * inner + i] += ss[p];
                });
                Tensor::from_array(out)
            },
            move |ctx, g| {
                grads![
                    ctx.needs_grad(0).then_some(g),
                    ctx.needs_grad(1)
                        .then(|| g.gather_checked(ax, index.clone())),
                ]
            },
        )
    }

    /// Looks up rows of this embedding table `[num_embeddings, dim]`: the output has shape
    /// `[..indices.shape(), dim]`, as `torch.nn.functional.embedding(indices, weight)`.
    ///
    /// Backward: each row's gradient is the sum of the gradients of its lookups.
    ///
    /// # Panics
    /// If this value is not 2-D or an index is out of range ([`Var::try_embedding`] returns
    /// the latter as an error).
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::autograd::ndarray::{ArrayD, IxDyn};
    /// let g = Graph::<f32>::new();
    /// let table = g.var(Tensor::from_vec(vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0], &[3, 2]));
    /// let tokens = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![2, 1, 1, 0]).unwrap();
    /// let e = table.embedding(&tokens);
    /// assert_eq!(e.shape(), vec![2, 2, 2]);
    /// e.sum().backward();
    /// assert_eq!(table.grad().unwrap().to_vec(), vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn embedding(self, indices: &ArrayD<usize>) -> Var<'g, T> {
        or_panic(self.try_embedding(indices))
    }

    /// [`Var::embedding`], returning an error for an index out of range.
    ///
    /// # Errors
    /// [`Error::Index`] naming the first index out of range; [`Error::Alloc`] if the result
    /// is too large to allocate.
    #[track_caller]
    pub fn try_embedding(self, indices: &ArrayD<usize>) -> Result<Var<'g, T>> {
        let shape = self.shape_for("embedding");
        let &[rows, dim] = shape.as_slice() else {
            panic!(
                "embedding: the weight must be [num_embeddings, dim], got shape {:?}",
                shape.as_slice()
            );
        };
        let flat: Rc<[usize]> = indices.iter().copied().collect();
        check_indices("embedding", 0, rows, flat.iter())?;
        let mut out = indices.shape().to_vec();
        out.push(dim);
        let buffer = try_alloc::<T>("embedding", &out)?;
        let _scope = OpScope::enter("embedding");
        let out: Vec<isize> = out.iter().map(|&d| d as isize).collect();
        Ok(self.index_select_with(0, flat, Some(buffer)).reshape(&out))
    }
}

/// The slices of `x` at `indices` along `ax`, through the size check (ndarray's `select`
/// aborts when the allocator refuses).
#[track_caller]
fn select_rows<T: Float>(
    x: &Tensor<T>,
    ax: usize,
    indices: &[usize],
    buffer: Option<Vec<T>>,
) -> Tensor<T> {
    let (outer, size, inner) = split3(x.shape(), ax);
    let mut shape = x.shape().to_vec();
    shape[ax] = indices.len();
    let mut data = buffer.unwrap_or_else(|| alloc::<T>("index_select", &shape));
    let x = x.array().as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    for o in 0..outer {
        for &i in indices {
            let start = (o * size + i) * inner;
            data.extend_from_slice(&xs[start..start + inner]);
        }
    }
    Tensor::from_vec(data, &shape)
}

/// Calls `f(outer, inner, index, position)` for every element of a row-major index array
/// seen as `(outer, m, inner)`, without a division per element.
fn for_each_index(
    index: &[usize],
    m: usize,
    inner: usize,
    mut f: impl FnMut(usize, usize, usize, usize),
) {
    if index.is_empty() {
        return;
    }
    let mut p = 0;
    for (o, block) in index.chunks_exact(m * inner).enumerate() {
        for row in block.chunks_exact(inner) {
            for (i, &k) in row.iter().enumerate() {
                f(o, i, k, p);
                p += 1;
            }
        }
    }
}

fn idx_slice(index: &ArrayD<usize>) -> &[usize] {
    index
        .as_slice()
        .expect("indices are kept in standard layout")
}

impl<T: Float> Tensor<T> {
    /// One row per label, with 1 in the label's column and 0 elsewhere: shape
    /// `[labels.len(), classes]`. A constant: enter it with
    /// [`Graph::constant`](crate::Graph::constant).
    ///
    /// # Panics
    /// If a label is `classes` or more, or the tensor is too large to allocate
    /// ([`Tensor::try_one_hot`] returns these errors instead).
    ///
    /// ```
    /// use ferrograd::autograd::Tensor;
    /// let t = Tensor::<f32>::one_hot(&[2, 0], 3);
    /// assert_eq!(t.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn one_hot(labels: &[usize], classes: usize) -> Self {
        or_panic(Self::try_one_hot(labels, classes))
    }

    /// [`Tensor::one_hot`], returning an error for a label out of range.
    ///
    /// # Errors
    /// [`Error::Index`] naming the first label that is not below `classes`;
    /// [`Error::Alloc`] if `[labels.len(), classes]` is too large to allocate.
    pub fn try_one_hot(labels: &[usize], classes: usize) -> Result<Self> {
        check_indices("one_hot", 1, classes, labels)?;
        let shape = [labels.len(), classes];
        let n = try_numel::<T>("one_hot", &shape)?;
        let mut data = try_alloc::<T>("one_hot", &shape)?;
        data.resize(n, T::zero());
        for (row, &l) in labels.iter().enumerate() {
            data[row * classes + l] = T::one();
        }
        Ok(Tensor::from_vec(data, &shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Graph;
    use crate::testing::{self, check_grads, tensor_and_axis};
    use ndarray::IxDyn;
    use proptest::prelude::*;

    /// A tensor, an axis, and an index array of the tensor's shape with `m` along the axis.
    fn gather_case() -> impl Strategy<Value = (Tensor<f64>, isize, ArrayD<usize>)> {
        tensor_and_axis(3, -2.0..2.0).prop_flat_map(|(x, axis)| {
            let ax = crate::kernels::normalize_axis(axis, x.ndim()).unwrap();
            let size = x.shape()[ax];
            let shape = x.shape().to_vec();
            (Just(x), Just(axis), testing::DIMS).prop_flat_map(move |(x, axis, m)| {
                let mut s = shape.clone();
                s[ax] = m;
                let n: usize = s.iter().product();
                (
                    Just(x),
                    Just(axis),
                    prop::collection::vec(0..size, n)
                        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&s), v).unwrap()),
                )
            })
        })
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn gather_and_scatter_add_grads_match_finite_diff((x, axis, index) in gather_case()) {
            check_grads(|v| v[0].gather(axis, &index).square(), std::slice::from_ref(&x))?;
            let src = Graph::<f64>::new().constant(x.clone()).gather(axis, &index).value();
            check_grads(|v| v[0].scatter_add(axis, &index, v[1]).square(), &[x, src])?;
        }

        #[test]
        fn index_select_and_index_add_grads_match_finite_diff((x, axis, index) in gather_case()) {
            let ax = crate::kernels::normalize_axis(axis, x.ndim()).unwrap();
            let picks: Vec<usize> = index.index_axis(Axis(ax), 0).iter().copied().take(3).collect();
            check_grads(|v| v[0].index_select(axis, &picks).square(), std::slice::from_ref(&x))?;
            let src = Graph::<f64>::new().constant(x.clone()).index_select(axis, &picks).value();
            check_grads(|v| v[0].index_add(axis, &picks, v[1]).square(), &[x, src])?;
        }

        #[test]
        fn embedding_grad_matches_finite_diff(
            table in testing::tensor(prop::collection::vec(testing::DIMS, 2..=2), -1.0..1.0),
            raw in prop::collection::vec(0usize..100, 1..=6),
        ) {
            let rows = table.shape()[0];
            let ids = ArrayD::from_shape_vec(IxDyn(&[raw.len()]), raw.iter().map(|i| i % rows).collect()).unwrap();
            check_grads(|v| v[0].embedding(&ids).square(), &[table])?;
        }
    }

    #[test]
    fn gather_grad_of_grad_is_recorded() {
        // d/dx Σ w·gather(x)² = scatter(2·w·gather(x)); its derivative needs gather's
        // backward (scatter_add) to be differentiable in turn.
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]));
        let index = ArrayD::from_shape_vec(IxDyn(&[2]), vec![2, 2]).unwrap();
        let y = x.gather(0, &index).square().sum(); // 2·x₂²
        let dy = g.grad(&[y], &[x], true)[0].unwrap(); // [0, 0, 4·x₂]
        assert_eq!(dy.value().to_vec(), vec![0.0, 0.0, 12.0]);
        let d2 = g.grad(&[dy], &[x], false)[0].unwrap();
        assert_eq!(d2.value().to_vec(), vec![0.0, 0.0, 4.0]);
    }

    #[test]
    fn index_errors_name_the_op_and_the_index() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[2, 3]));
        let index = ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![0, 7]).unwrap();
        assert_eq!(
            x.try_gather(1, &index).unwrap_err().to_string(),
            "gather: index 7 is out of range for axis 1 of size 3"
        );
        let ids = ArrayD::from_shape_vec(IxDyn(&[1]), vec![5]).unwrap();
        assert_eq!(
            x.try_embedding(&ids).unwrap_err().to_string(),
            "embedding: index 5 is out of range for axis 0 of size 2"
        );
        assert_eq!(
            Tensor::<f32>::try_one_hot(&[0, 3], 3)
                .unwrap_err()
                .to_string(),
            "one_hot: index 3 is out of range for axis 1 of size 3"
        );
    }

    #[test]
    #[should_panic(
        expected = "one_hot: cannot allocate shape [2, 18446744073709551615] (3.69e19 elements, 148 EB of f32)"
    )]
    fn one_hot_panics_naming_the_op_when_the_size_overflows() {
        // Before: "capacity overflow" in a debug build, an index error in a release build.
        Tensor::<f32>::one_hot(&[0, 1], usize::MAX);
    }

    #[test]
    fn try_one_hot_returns_the_size_error() {
        let err = Tensor::<f64>::try_one_hot(&[0; 3], 1 << 62).unwrap_err();
        assert!(matches!(err, Error::Alloc { op: "one_hot", .. }), "{err}");
    }

    /// A zero value of `shape` and `n` zero indices, cheap in a debug build (calloc).
    fn lookup_case<'g>(g: &'g Graph<f32>, shape: &[usize], n: usize) -> (Var<'g, f32>, Vec<usize>) {
        let x = g.var(Tensor::from_array(ArrayD::zeros(IxDyn(shape))));
        (x, vec![0; n])
    }

    #[test]
    fn try_index_select_returns_an_error_when_the_result_cannot_be_allocated() {
        let g = Graph::<f32>::new();
        let (x, idx) = lookup_case(&g, &[1, 1 << 24], 1 << 24);
        let err = x.try_index_select(0, &idx).unwrap_err();
        assert_eq!(
            err.to_string(),
            "index_select: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
        );
    }

    #[test]
    #[should_panic(
        expected = "embedding: cannot allocate shape [16777216, 16777216] (2.81e14 elements, 1.13 PB of f32)"
    )]
    fn embedding_panics_naming_the_op_when_the_result_cannot_be_allocated() {
        let g = Graph::<f32>::new();
        let (table, idx) = lookup_case(&g, &[1, 1 << 24], 1 << 24);
        table.embedding(&ArrayD::from_shape_vec(IxDyn(&[1 << 24]), idx).unwrap());
    }

    #[test]
    #[should_panic(expected = "gather: index 4 is out of range for axis 0 of size 2")]
    fn gather_panics_on_an_index_out_of_range() {
        let g = Graph::<f32>::new();
        let index = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![0, 4, 1]).unwrap();
        g.var(Tensor::zeros(&[2, 3])).gather(0, &index);
    }

    #[test]
    #[should_panic(
        expected = "gather: index of shape [2, 2] must match the input of shape [2, 3] outside axis 0"
    )]
    fn gather_panics_on_a_mismatched_index_shape() {
        let g = Graph::<f32>::new();
        let index = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![0; 4]).unwrap();
        g.var(Tensor::zeros(&[2, 3])).gather(0, &index);
    }

    #[test]
    #[should_panic(
        expected = "index_add: source of shape [2, 2] must have shape [1, 2] for 1 indices along axis 0"
    )]
    fn index_add_panics_on_a_mismatched_source() {
        let g = Graph::<f32>::new();
        let x = g.var(Tensor::zeros(&[3, 2]));
        x.index_add(0, &[1], g.var(Tensor::zeros(&[2, 2])));
    }

    #[test]
    #[should_panic(expected = "embedding: the weight must be [num_embeddings, dim], got shape [4]")]
    fn embedding_panics_on_a_1d_table() {
        let g = Graph::<f32>::new();
        let ids = ArrayD::from_shape_vec(IxDyn(&[1]), vec![0]).unwrap();
        g.var(Tensor::zeros(&[4])).embedding(&ids);
    }
}
