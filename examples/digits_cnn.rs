//! A small CNN on the bundled UCI 8×8 digits, trained Keras-style with `fit`: stratified
//! 80/20 split, Adam, learning-rate reduction on plateau, early stopping that restores the
//! best weights, a CSV log, then `evaluate` and `predict` on the held-out images and the
//! loss curves plotted to SVG.
//!
//! Run: `cargo run --release --example digits_cnn`

use ferrograd::data::dataset::Dataset;
use ferrograd::data::digits::load_digits;
use ferrograd::data::split::train_test_split;
use ferrograd::nn::loss::CrossEntropy;
use ferrograd::nn::{Conv2d, Flatten, Linear, MaxPool2d, ModuleExt, ReLU, Sequential, init};
use ferrograd::optim::schedule::{MonitorMode, ReduceLrOnPlateau};
use ferrograd::optim::{Adam, EarlyStopping, Optimizer};
use ferrograd::prelude::ConvOptions;
use ferrograd::train::callbacks::CsvLogger;
use ferrograd::train::metrics::{Accuracy, F1};
use ferrograd::train::{FitOptions, Validation, evaluate, fit, predict};

fn main() {
    let digits = load_digits();
    let split = train_test_split(digits.len(), 0.2, 42, Some(digits.y().classes()));
    let (train, test) = (digits.subset(&split.train), digits.subset(&split.test));
    println!(
        "{} training and {} test images of 8x8 pixels",
        train.len(),
        test.len()
    );

    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Conv2d::new(
            1,
            16,
            3,
            ConvOptions::new().padding(1),
            &mut rng,
        ))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(
            16,
            32,
            3,
            ConvOptions::new().padding(1),
            &mut rng,
        ))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(Linear::new(32 * 2 * 2, 64, &mut rng))
        .add(ReLU)
        .add(Linear::new(64, 10, &mut rng));
    println!("{}", model.summary(&[1, 1, 8, 8]));

    let mut optimizer = Optimizer::new(model.parameters(), Adam::new(3e-3));
    let mut early = EarlyStopping::new(MonitorMode::Min)
        .monitor("val_loss")
        .patience(5)
        .restore_best_weights(true);
    let mut plateau = ReduceLrOnPlateau::new(MonitorMode::Min)
        .monitor("val_loss")
        .factor(0.5)
        .patience(2);
    let log = std::env::temp_dir().join("digits_cnn_log.csv");
    let mut csv = CsvLogger::new(&log);
    let options = FitOptions::new()
        .epochs(40)
        .batch_size(32)
        .metric(Accuracy::new())
        .validation(Validation::Data(test.clone()))
        .verbose(true);
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut optimizer,
        &train,
        options,
        &mut [&mut early, &mut plateau, &mut csv],
    )
    .unwrap_or_else(|e| panic!("training failed: {e}"));
    for (epoch, logs) in history.epochs.iter().enumerate() {
        println!(
            "epoch {:>2}  loss {:.4}  accuracy {:.3}  val_loss {:.4}  val_accuracy {:.3}  lr {:.5}",
            epoch + 1,
            logs["loss"],
            logs["accuracy"],
            logs["val_loss"],
            logs["val_accuracy"],
            logs["lr"]
        );
    }

    let eval = evaluate(
        &model,
        CrossEntropy::new(),
        &test,
        &mut [&mut Accuracy::new(), &mut F1::new()],
        64,
    );
    println!(
        "test loss {:.4}, accuracy {:.3}, macro F1 {:.3}",
        eval["loss"], eval["accuracy"], eval["f1"]
    );
    let logits = predict(&model, &test.x().clone(), 64);
    let first: Vec<usize> = (0..10)
        .map(|i| {
            let row: Vec<f32> = (0..10).map(|c| logits.get(&[i, c])).collect();
            (0..10)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0)
        })
        .collect();
    println!(
        "first ten predictions {first:?}, labels {:?}",
        &test.y().classes()[..10]
    );

    let svg = std::env::temp_dir().join("digits_cnn_history.svg");
    history.plot(&svg).unwrap_or_else(|e| panic!("{e}"));
    println!("loss curves: {}, log: {}", svg.display(), log.display());
    if eval["accuracy"] < 0.9 {
        eprintln!("accuracy below 0.9: something is wrong");
        std::process::exit(1);
    }
}
