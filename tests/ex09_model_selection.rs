//! Example 09, run in its fast mode (`Run::test`: 200 training images, 3 folds, a 2×2 grid,
//! 3 random settings of width ≤ 64, 3 epochs), with what it promises checked: cross-validation and the
//! searches score settings far apart, and the chosen one clears a floor on the test set.
//!
//! Each example includes `examples/common/mod.rs` as `pub mod common`; a test builds the
//! example's own `Run` through it.

#[path = "../examples/09_model_selection.rs"]
#[allow(dead_code)]
mod ex09;

#[test]
fn ex09_model_selection_picks_a_setting_that_generalises() {
    let r = ex09::run(&ex09::common::Run::test("09_model_selection"));
    // One setting, cross-validated: far above chance (0.1), with a spread over folds.
    assert!(r.get("cv_mean") > 0.5, "{r:?}");
    assert!(r.get("cv_std") > 0.0, "{r:?}");
    // The grid holds good and bad settings, and the search tells them apart.
    assert!(
        r.get("grid_best_cv") > r.get("grid_worst_cv") + 0.2,
        "{r:?}"
    );
    // The chosen setting is the best of both searches...
    assert_eq!(
        r.get("best_cv_mean"),
        r.get("grid_best_cv").max(r.get("random_best_cv")),
        "{r:?}"
    );
    // ... and, retrained on all the training data, it generalises to the test set.
    assert!(r.get("test_accuracy") > 0.6, "{r:?}");
}
