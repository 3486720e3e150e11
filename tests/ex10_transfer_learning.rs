//! Example 10, run in its fast mode (`Run::test`: bundled data, a few seconds), with the
//! figures it promises checked: task A is learnt, and the frozen task-A body with a new
//! head learns task B from five labelled images per digit.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/10_transfer_learning.rs"]
#[allow(dead_code)]
mod ex10;

#[test]
fn ex10_transfer_learning_reuses_the_task_a_body() {
    let r = ex10::run(&ex10::common::Run::test("10_transfer_learning"));
    // Ten digits: chance is 0.1.
    assert!(r.get("task_a_accuracy") > 0.8, "{r:?}");
    // Odd or even: chance is 0.5; the frozen body must carry what task B needs.
    assert!(r.get("transfer_k5") > 0.7, "{r:?}");
    assert!(r.get("scratch_k5") > 0.6, "{r:?}");
}
