//! Example 03, run in its fast mode (`Run::test`: bundled data, a few seconds),
//! with the figure it promises checked: its loss falls and its test accuracy clears a floor.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/03_digits_mlp.rs"]
#[allow(dead_code)]
mod ex03;

#[test]
fn ex03_digits_mlp_learns_the_digits() {
    let r = ex03::run(&ex03::common::Run::test("03_digits_mlp"));
    assert!(r.get("final_loss") < r.get("first_loss") / 2.0, "{r:?}");
    // Chance is 10%.
    assert!(r.get("test_accuracy") > 0.8, "{r:?}");
}
