//! Example 14, run in its fast mode on 2 thread workers and on 1: the same training.

#[path = "../examples/14_data_parallel.rs"]
#[allow(dead_code)]
mod ex14;

#[test]
fn ex14_two_workers_train_as_one() {
    let run = ex14::ex04::common::Run::test("14_data_parallel");
    let two = ex14::run_threads(&run, 2);
    let one = ex14::run_threads(&run, 1);
    assert!(
        two.get("final_loss") < two.get("first_loss") - 0.03,
        "{two:?}"
    );
    // The same steps up to the order of the additions.
    assert!(
        (two.get("final_loss") - one.get("final_loss")).abs() < 1e-4,
        "{two:?} {one:?}"
    );
    let gap = (two.get("weight_sum") - one.get("weight_sum")).abs();
    assert!(gap < 1e-4, "sum of the weights: {two:?} vs {one:?}");
}
