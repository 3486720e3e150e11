//! Example 13, run in its fast mode (`Run::test`: sequences of 4 digits, a small model;
//! under a second in release, about ten seconds of CPU in a debug build), with the figures
//! it promises checked: with positional embeddings the Transformer learns to sort; without
//! them it cannot.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/13_transformer.rs"]
#[allow(dead_code)]
mod ex13;

#[test]
fn ex13_transformer_sorts_with_positions_and_cannot_without() {
    let r = ex13::run(&ex13::common::Run::test("13_transformer"));
    assert_eq!(r.get("chance"), 0.1);
    // Training happened: the loss fell well below its start.
    assert!(r.get("last_loss") < 0.3 * r.get("first_loss"), "{r:?}");
    // With positions: nearly every digit, and most whole sequences, right.
    assert!(r.get("digits_with_positions") > 0.9, "{r:?}");
    assert!(r.get("exact_with_positions") > 0.6, "{r:?}");
    // Without positions: every output position sees the same set, so next to no whole
    // sequence comes out sorted, and at most the set's most common digit is right (about
    // 38% of 4 digits over seeds 0–5).
    assert!(r.get("exact_without_positions") < 0.1, "{r:?}");
    assert!(r.get("digits_without_positions") < 0.5, "{r:?}");
    // The baseline that ignores the input digits but knows the position.
    assert!(r.get("position_baseline") < 0.5, "{r:?}");
}
