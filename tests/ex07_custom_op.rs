//! Example 07, run in its fast mode (`Run::test`: a few seconds), with the figures it
//! promises checked: the custom op's known values, its gradient checks passing, both
//! wrong backward rules caught by the right check, and a model with the op learning.
//!
//! The example's own `tests` module (the property tests as they go in a user's crate)
//! runs in this binary too.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/07_custom_op.rs"]
#[allow(dead_code)]
mod ex07;

#[test]
fn ex07_custom_op_is_checked_and_trains() {
    let r = ex07::run(&ex07::common::Run::test("07_custom_op"));
    assert_eq!(r.get("value_at_0"), 1.0, "{r:?}");
    assert_eq!(r.get("value_at_3_b7"), 3.5, "{r:?}");
    // b / (2(√(x² + b) − x)) at x = −1000, b = 4, to 12 digits: no cancellation.
    let want = 4.0 / (2.0 * ((1e6f64 + 4.0).sqrt() + 1000.0));
    assert!((r.get("value_at_minus_1000") - want).abs() < 1e-15, "{r:?}");
    assert!(r.get("cases_passed") >= 8.0, "{r:?}");
    // The missing ½ fails the first-order check; the constant slope passes it and fails
    // the second-order one.
    assert_eq!(r.get("no_half_caught"), 1.0, "{r:?}");
    assert_eq!(r.get("constant_slope_first_caught"), 0.0, "{r:?}");
    assert_eq!(r.get("constant_slope_second_caught"), 1.0, "{r:?}");
    // Training through the custom rule: the loss falls, the validation accuracy beats a
    // linear boundary's (about 0.85 on the moons).
    assert!(r.get("final_loss") < r.get("first_loss") / 2.0, "{r:?}");
    assert!(r.get("final_val_accuracy") >= 0.85, "{r:?}");
}
