//! Example 04, run in its fast mode (`Run::test`: bundled data, a few seconds),
//! with the figure it promises checked: its loss falls and its test accuracy clears a floor.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/04_digits_cnn.rs"]
#[allow(dead_code)]
mod ex04;

#[test]
fn ex04_digits_cnn_learns_the_digits() {
    let r = ex04::run(&ex04::common::Run::test("04_digits_cnn"));
    // Keras' stack with the convolutions padded for 8×8 images.
    assert_eq!(r.get("params"), 72_842.0, "{r:?}");
    // Fast mode is 18 Adam steps of a debug build, the start of the descent: the loss
    // moves off ln 10 ≈ 2.30 and the accuracy off chance (10%); an untrained model does
    // neither.
    assert!(r.get("final_loss") < r.get("first_loss") - 0.03, "{r:?}");
    assert!(r.get("test_accuracy") > 0.18, "{r:?}");
}
