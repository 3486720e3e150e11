//! Example 11, run in its fast mode (`Run::test`: bundled data, a few seconds), with the
//! figures it promises checked: the teacher learns, and the student distilled from it
//! learns and copies it more closely than the student trained on its few labels alone.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/11_distillation.rs"]
#[allow(dead_code)]
mod ex11;

#[test]
fn ex11_distillation_student_learns_from_the_teacher() {
    let r = ex11::run(&ex11::common::Run::test("11_distillation"));
    // Ten digits: chance is 0.1.
    assert!(r.get("teacher_accuracy") > 0.7, "{r:?}");
    assert!(r.get("labels_only_accuracy") > 0.3, "{r:?}");
    assert!(r.get("distilled_accuracy") > 0.6, "{r:?}");
    // Trained on the teacher's outputs, the student agrees with it more often.
    assert!(
        r.get("distilled_agreement") > r.get("labels_only_agreement") + 0.1,
        "{r:?}"
    );
}
