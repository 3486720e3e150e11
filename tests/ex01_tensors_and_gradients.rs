//! Example 01, run in its fast mode (`Run::test`: a few seconds), with the figures it
//! promises checked: exact gradients of the expression, and autograd's derivatives (first
//! to third order, through a loop, a recursion, eight activations) within rounding of
//! their formulas.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/01_tensors_and_gradients.rs"]
#[allow(dead_code)]
mod ex01;

#[test]
fn ex01_tensors_and_gradients_match_the_formulas() {
    let r = ex01::run(&ex01::common::Run::test("01_tensors_and_gradients"));
    // f(x, y) = x²y + y + 2 at (3, 4): small integers, so exact.
    assert_eq!(
        (r.get("f"), r.get("df_dx"), r.get("df_dy")),
        (42.0, 24.0, 10.0),
        "{r:?}"
    );
    for key in [
        "lstsq_grad_err",
        "tanh_d1_err",
        "tanh_d2_err",
        "tanh_d3_err",
        "heron_err",
        "pow_err",
        "max_activation_err",
    ] {
        assert!(r.get(key) < 1e-12, "{key}: {r:?}");
    }
    // The loop ran several steps, and the graph recorded three ops per step.
    assert!(r.get("heron_steps") >= 3.0, "{r:?}");
    assert_eq!(r.get("heron_nodes"), 1.0 + 3.0 * r.get("heron_steps"));
    // 13 = 1101₂: x² (square), x³ (mul), x⁶ and x¹² (square), x¹³ (mul), and the input.
    assert_eq!(r.get("pow_nodes"), 6.0);
    let e = std::f64::consts::E;
    assert!((r.get("full_grad") - 2.0 * e).abs() < 1e-12, "{r:?}");
    assert!((r.get("stop_grad") - e).abs() < 1e-12, "{r:?}");
}
