//! A user-defined op, written outside the crate through the public recording API and
//! checked with the public strategies, exactly as the README shows.

use ferrograd_autograd::testing::{self, check_gradgrads, check_grads};
use ferrograd_autograd::{Graph, Tensor, Var, grads};
use proptest::prelude::*;

/// `signed_square(x) = x·|x|` as one op: derivative `2|x|`.
fn signed_square<'g>(x: Var<'g, f64>) -> Var<'g, f64> {
    x.graph().custom_op(
        "signed_square",
        &[x],
        |v| v[0].map(|a| a * a.abs()),
        |ctx, g| grads![Some(g * ctx.input(0).abs() * 2.0)],
    )
}

proptest! {
    #![proptest_config(testing::config())]

    #[test]
    fn signed_square_grad_matches_finite_diff(x in testing::tensor_away_from(testing::shape(), -2.0..2.0, &[0.0], 1e-3)) {
        check_grads(|v| signed_square(v[0]), std::slice::from_ref(&x))?;
        check_gradgrads(|v| signed_square(v[0]), &[x])?;
    }
}

#[test]
fn signed_square_known_values() {
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![-3.0, 0.5], &[2]));
    let y = signed_square(x);
    assert_eq!(y.value().to_vec(), vec![-9.0, 0.25]);
    assert_eq!(y.op_name(), "signed_square");
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![6.0, 1.0]);
}
