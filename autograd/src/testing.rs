//! Property-test helpers for checking ops (feature `testing`): `proptest` strategies for
//! shapes and tensors, and gradient checks that report as proptest failures.
//!
//! A custom op is checked the way ferrograd checks its own:
//!
//! ```
//! use ferrograd::autograd::testing::{self, check_grads};
//! use ferrograd::autograd::{Graph, Var, grads};
//! use proptest::prelude::*;
//!
//! /// softsign written as one op: x / (1 + |x|), derivative 1 / (1 + |x|)².
//! fn my_softsign<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
//!     x.graph().custom_op(
//!         "my_softsign",
//!         &[x],
//!         |v| v[0].map(|a| a / (1.0 + a.abs())),
//!         |ctx, g| grads![Some(g / (ctx.input(0).abs() + 1.0).square())],
//!     )
//! }
//!
//! proptest!(ProptestConfig::with_cases(16), |(x in testing::tensor_away_from(testing::shape(), -3.0..3.0, &[0.0], 1e-3))| {
//!     check_grads(|v| my_softsign(v[0]), &[x])?;
//! });
//! ```

use std::ops::Range;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use crate::float::Float;
use crate::gradcheck::{GradcheckOptions, gradcheck, gradgradcheck};
use crate::graph::Var;
use crate::tensor::Tensor;

pub mod program;

/// Dimension sizes drawn by the shape strategies (size 1 included, to exercise broadcasting).
pub const DIMS: std::ops::RangeInclusive<usize> = 1..=4;

/// A function of `f64` `Var`s, as the checks take it; lets a test list several ops in an
/// array: `let ops: [OpFn; 2] = [|v| v[0].exp(), |v| v[0].tanh()];`.
pub type OpFn = for<'g> fn(&[Var<'g, f64>]) -> Var<'g, f64>;

/// The proptest configuration ferrograd's own op tests use: 64 cases.
pub fn config() -> Config {
    Config::with_cases(64)
}

/// Shapes of rank `0..=max_rank` with dimensions in [`DIMS`].
pub fn shape_of_rank(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(DIMS, 0..=max_rank)
}

/// Shapes of rank 0 to 4 with dimensions in [`DIMS`].
pub fn shape() -> impl Strategy<Value = Vec<usize>> {
    shape_of_rank(4)
}

/// A pair of shapes that broadcast together under NumPy rules: either may have fewer
/// dimensions, and any dimension may be 1 on one side.
pub fn broadcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape().prop_flat_map(|full| {
        let n = full.len();
        (
            Just(full),
            0..=n,
            0..=n,
            prop::collection::vec(any::<(bool, bool)>(), n),
        )
            .prop_map(|(full, drop_a, drop_b, ones)| {
                let pick = |drop: usize, side: bool| {
                    full.iter()
                        .zip(&ones)
                        .skip(drop)
                        .map(|(&d, &(a, b))| {
                            if (if side { a } else { b }) && !(a && b) {
                                1
                            } else {
                                d
                            }
                        })
                        .collect::<Vec<_>>()
                };
                (pick(drop_a, true), pick(drop_b, false))
            })
    })
}

/// Shapes `([.., m, k], [.., k, n])` for `matmul`, with batch dimensions (rank 0 to 2) that
/// broadcast together.
pub fn matmul_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (shape_of_rank(2), DIMS, DIMS, DIMS, any::<(bool, bool)>()).prop_map(
        |(batch, m, k, n, (a1, b1))| {
            let batch_a: Vec<usize> = batch.iter().map(|&d| if a1 { 1 } else { d }).collect();
            let batch_b: Vec<usize> = batch
                .iter()
                .map(|&d| if b1 && !a1 { 1 } else { d })
                .collect();
            (
                [batch_a, vec![m, k]].concat(),
                [batch_b, vec![k, n]].concat(),
            )
        },
    )
}

/// Tensors of `shape` with values drawn from `range`.
pub fn tensor_of<T: Float>(
    shape: Vec<usize>,
    range: Range<f64>,
) -> impl Strategy<Value = Tensor<T>> {
    let n: usize = shape.iter().product();
    prop::collection::vec(range, n)
        .prop_map(move |v| Tensor::from_vec(v.into_iter().map(T::from_f64).collect(), &shape))
}

/// `f64` tensors whose shape is drawn from `shapes` and values from `range`.
pub fn tensor(
    shapes: impl Strategy<Value = Vec<usize>>,
    range: Range<f64>,
) -> impl Strategy<Value = Tensor<f64>> {
    shapes.prop_flat_map(move |s| tensor_of(s, range.clone()))
}

/// An `f64` tensor of rank `1..=max_rank` with values from `range`, and one of its axes,
/// negative half the time: the input of an op along an axis (a reduction, softmax).
pub fn tensor_and_axis(
    max_rank: usize,
    range: Range<f64>,
) -> impl Strategy<Value = (Tensor<f64>, isize)> {
    prop::collection::vec(DIMS, 1..=max_rank.max(1)).prop_flat_map(move |s| {
        let n = s.len() as isize;
        (tensor_of(s, range.clone()), -n..n)
    })
}

/// Like [`tensor`], with every value at least `margin` away from each point in `kinks`
/// (where an op is not differentiable, e.g. 0 for `relu` and `abs`), so that finite
/// differences do not straddle a kink.
pub fn tensor_away_from(
    shapes: impl Strategy<Value = Vec<usize>>,
    range: Range<f64>,
    kinks: &[f64],
    margin: f64,
) -> impl Strategy<Value = Tensor<f64>> {
    let kinks = kinks.to_vec();
    tensor(shapes, range).prop_map(move |t| {
        t.map(|x| {
            kinks.iter().fold(x, |x, &k| {
                if (x - k).abs() < margin {
                    if x >= k { k + margin } else { k - margin }
                } else {
                    x
                }
            })
        })
    })
}

/// Runs [`gradcheck`] with the default `f64` tolerances, as a proptest assertion.
///
/// # Errors
/// A failing test case carrying the [`GradcheckError`](crate::GradcheckError) message.
pub fn check_grads<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), TestCaseError>
where
    F: for<'g> Fn(&[Var<'g, f64>]) -> Var<'g, f64>,
{
    gradcheck(f, inputs, &GradcheckOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

/// Runs [`gradgradcheck`] with the default `f64` tolerances, as a proptest assertion.
///
/// # Errors
/// A failing test case carrying the [`GradcheckError`](crate::GradcheckError) message.
pub fn check_gradgrads<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), TestCaseError>
where
    F: for<'g> Fn(&[Var<'g, f64>]) -> Var<'g, f64>,
{
    gradgradcheck(f, inputs, &GradcheckOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::broadcast_shapes as bcast;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn broadcast_shapes_are_compatible((a, b) in broadcast_shapes()) {
            prop_assert!(bcast(&a, &b).is_some(), "{a:?} and {b:?}");
        }

        #[test]
        fn matmul_shapes_are_compatible((a, b) in matmul_shapes()) {
            prop_assert_eq!(a[a.len() - 1], b[b.len() - 2]);
            prop_assert!(bcast(&a[..a.len() - 2], &b[..b.len() - 2]).is_some());
        }

        #[test]
        fn tensor_away_from_keeps_the_margin(t in tensor_away_from(shape(), -1.0..1.0, &[0.0], 0.1)) {
            prop_assert!(t.to_vec().iter().all(|x| x.abs() >= 0.1));
        }
    }
}
