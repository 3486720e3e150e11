//! Example 06, run in its fast mode (`Run::test`: bundled data, a few seconds), with the
//! figures it promises checked: every optimizer brings the loss down, and the models
//! classify the digits well above chance (10%).
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/06_optimizers.rs"]
#[allow(dead_code)]
mod ex06;

#[test]
fn ex06_every_optimizer_brings_the_loss_down() {
    let r = ex06::run(&ex06::common::Run::test("06_optimizers"));
    for name in [
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    ] {
        let (first, last) = (
            r.get(&format!("{name}_first_loss")),
            r.get(&format!("{name}_train_loss")),
        );
        assert!(last < 0.7 * first, "{name}: loss {first} -> {last}; {r:?}");
        assert!(
            r.get(&format!("{name}_test_accuracy")) > 0.5,
            "{name}: {r:?}"
        );
    }
}
