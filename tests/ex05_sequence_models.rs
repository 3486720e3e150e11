//! Example 05, run in its fast mode (`Run::test`: lag 3, small data, a few seconds),
//! with the figures it promises checked: the recurrent models learn what the memoryless
//! one cannot.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/05_sequence_models.rs"]
#[allow(dead_code)]
mod ex05;

#[test]
fn ex05_recurrent_models_remember_what_the_last_step_mlp_cannot() {
    let r = ex05::run(&ex05::common::Run::test("05_sequence_models"));
    assert_eq!(r.get("chance"), 0.25);
    // Without memory: chance (25% ± a few points on 128 test sequences).
    assert!(r.get("mlp_lag3") < 0.45, "{r:?}");
    // With memory: the gated models learn the short lag within the fast budget.
    assert!(r.get("lstm_lag3") > 0.8, "{r:?}");
    assert!(r.get("gru_lag3") > 0.8, "{r:?}");
}
