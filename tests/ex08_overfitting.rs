//! Example 08, run in its fast mode (`Run::test`: a narrower model, fewer epochs, one
//! strength per remedy), with what it promises checked: the unregularised model's
//! validation loss turns while its training loss falls, the penalties end lower, and early
//! stopping hands back its best epoch's weights.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/08_overfitting.rs"]
#[allow(dead_code)]
mod ex08;

#[test]
fn ex08_overfitting_shows_the_gap_and_the_remedies_close_it() {
    let r = ex08::run(&ex08::common::Run::test("08_overfitting"));
    // Training works, and the plain model starts to overfit: its training loss falls far
    // below its validation loss, which has passed its best.
    assert!(
        r.get("none_train_mse") < r.get("none_first_train_mse") / 3.0,
        "{r:?}"
    );
    assert!(
        r.get("none_train_mse") < r.get("none_final_val_mse") / 2.0,
        "{r:?}"
    );
    assert!(
        r.get("none_final_val_mse") > r.get("none_best_val_mse") + 0.005,
        "{r:?}"
    );
    // The penalties keep the final validation loss lower.
    for remedy in ["l1", "l2"] {
        assert!(
            r.get(&format!("{remedy}_final_val_mse")) < r.get("none_final_val_mse"),
            "{remedy}: {r:?}"
        );
    }
    // Early stopping stopped and restored the best epoch's weights.
    assert!(
        r.get("early_stopping_epochs") < r.get("none_epochs"),
        "{r:?}"
    );
    assert!(
        (r.get("early_stopping_final_val_mse") - r.get("early_stopping_best_val_mse")).abs() < 1e-5,
        "{r:?}"
    );
    // Every kept model learned something: its test loss is well below the untrained
    // model's first validation loss, and above nothing.
    for remedy in ["none", "l1", "l2", "dropout", "early_stopping", "lr_decay"] {
        let test = r.get(&format!("{remedy}_test_mse"));
        assert!(
            test > 0.0 && test < r.get("none_first_val_mse"),
            "{remedy}: {r:?}"
        );
    }
}
