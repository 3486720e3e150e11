//! Example 02, run in its fast mode (`Run::test`: bundled data, a few seconds),
//! with the figure it promises checked: its loss falls or its accuracy clears a floor.

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
}
