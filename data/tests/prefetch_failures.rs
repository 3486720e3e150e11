//! A panic in the dataset reaches the consumer of a `DataLoader`, with or without prefetch;
//! an epoch never ends early and silently.

use std::panic::{AssertUnwindSafe, catch_unwind};

use ferrograd_autograd::Tensor;
use ferrograd_data::dataset::{Batch, DataLoader, DatasetExt, Targets, TensorDataset};

/// 100 samples whose `map` panics on sample 30.
fn faulty() -> impl ferrograd_data::dataset::Dataset<f32> {
    let ds = TensorDataset::new(
        Tensor::<f32>::zeros(&[100, 2]),
        Targets::Classes((0..100).collect()),
    );
    ds.map(|b: Batch<f32>| {
        if b.y().classes()[0] == 30 {
            panic!("bad sample 30");
        }
        b
    })
}

/// The samples seen before the epoch failed, and the failure's message.
fn run(
    loader: &DataLoader<impl ferrograd_data::dataset::Dataset<f32> + 'static, f32>,
) -> (usize, String) {
    let mut seen = 0;
    let failure = catch_unwind(AssertUnwindSafe(|| {
        for batch in loader.iter() {
            seen += batch.y().len();
        }
    }))
    .expect_err("the epoch must fail, not end short");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| failure.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    (seen, message)
}

#[test]
fn a_panic_in_map_on_the_prefetch_thread_reaches_the_consumer_every_epoch() {
    let loader = DataLoader::new(faulty(), 10).prefetch(true);
    for epoch in 0..3 {
        let (seen, message) = run(&loader);
        assert_eq!(seen, 30);
        assert_eq!(
            message,
            format!(
                "DataLoader: the dataset panicked on the prefetch thread (epoch {epoch}, batch 3 of 10): bad sample 30"
            )
        );
    }
}

#[test]
fn without_prefetch_the_dataset_panic_is_the_consumer_panic() {
    let loader = DataLoader::new(faulty(), 10);
    assert_eq!(run(&loader), (30, "bad sample 30".to_string()));
}

#[test]
#[should_panic(
    expected = "DataLoader: the dataset panicked on the prefetch thread (epoch 0, batch 3 of 10): bad sample 30"
)]
fn a_training_loop_over_a_faulty_prefetching_loader_panics() {
    let loader = DataLoader::new(faulty(), 10).prefetch(true);
    for batch in loader.iter() {
        assert_eq!(batch.x().shape()[0], 10);
    }
}

#[test]
fn a_healthy_prefetching_epoch_is_complete_and_then_ends() {
    let ds = TensorDataset::new(
        Tensor::<f32>::zeros(&[95, 2]),
        Targets::Classes((0..95).collect()),
    );
    let loader = DataLoader::new(ds, 10).prefetch(true).shuffle(1);
    let mut batches = loader.iter();
    let sizes: Vec<usize> = batches.by_ref().map(|b| b.y().len()).collect();
    assert_eq!(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    assert!(batches.next().is_none());
}
