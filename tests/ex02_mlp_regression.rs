//! Example 02, run in its fast mode (`Run::test`: 30 epochs, a few seconds),
//! with the figures it promises checked: its validation loss falls at least fivefold, and
//! its predictions on new inputs beat the mean's (MSE about 0.34) by far.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/02_mlp_regression.rs"]
#[allow(dead_code)]
mod ex02;

#[test]
fn ex02_mlp_regression_learns_the_linear_target() {
    let r = ex02::run(&ex02::common::Run::test("02_mlp_regression"));
    assert!(
        r.get("final_val_mse") < r.get("first_val_mse") / 5.0,
        "{r:?}"
    );
    assert!(r.get("new_mse") < 0.05, "{r:?}");
}
