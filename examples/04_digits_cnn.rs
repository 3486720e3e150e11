//! # 04 · Digit classification with a CNN
//!
//! What it teaches: a convolutional network in ferrograd: `Conv2d`, `MaxPool2d` and
//! `Flatten` in a `Sequential`, the model summary (each layer's output shape and parameter
//! count, as Keras' `model.summary()`), training with `fit`, and the test set scored once at
//! the end with `evaluate` (accuracy and macro F1), then `predict` on a few test images.
//!
//! The model is Keras' MNIST convnet from its "Convolutional Neural Network" tutorial:
//! Conv(32, 3×3, relu) → MaxPool(2) → Conv(64, 3×3, relu) → MaxPool(2) → Conv(64, 3×3, relu)
//! → Flatten → Dense(64, relu) → Dense(10), trained with Adam (lr 1e-3) for 5 epochs in
//! batches of 32, on logits with sparse categorical cross-entropy (`CrossEntropy::new()`).
//! Pixels are in [0, 1]. The data is split 80/20 into training and test data with seed 42
//! (stratified); `fit` holds the last 10% of the training rows out for validation, watched
//! every epoch and used for no choice.
//!
//! On MNIST's 28×28 images this is Keras' stack exactly (28 → 26 → 13 → 11 → 5 → 3, then
//! 3·3·64 = 576 features). The bundled digits are 8×8, too small for three unpadded 3×3
//! convolutions and two poolings (8 → 6 → 3 → 1 → 0): there every convolution pads by one
//! pixel (Keras' `padding="same"`), so the sizes go 8 → 8 → 4 → 4 → 2 → 2 and the dense
//! layer sees 2·2·64 = 256 features. Same layers, same widths, same training.
//!
//! Data: MNIST when you point to it (`--mnist DIR`, or the environment variable `MNIST_DIR`;
//! with only the 10,000-image test files there, as in the project's `shared/data/mnist`, that
//! set is split 80/20), else the bundled 1,797 8×8 digits. It prints which one it used.
//! `--seed N` (default 0) seeds the weights and the batch order; the split is always seed 42.
//!
//! Expect, on the bundled digits: test accuracy 90.6% with the default seed (86.9–90.6% over
//! seeds 0–2), in a second or two. That is below the MLP of example 03 for want of steps,
//! not of capacity: 5 epochs of 1,294 images are 205 steps of Adam at 1e-3, and the curves
//! in `curves.svg` are still falling; 20 epochs reach 96.5–98.6% validation accuracy
//! (choose such things on the validation curve, never on the test set). On the MNIST test
//! set split 80/20 (1,125 steps): 97.20% with the default seed (97.20–97.70% over seeds
//! 0–2; PyTorch's same model on the same rows gets 97.70–97.95%,
//! `bench/tutorials/reference.txt`), in 15–35 s of training on 2 cores. The summary counts
//! 93,322 parameters on 28×28 images, as Keras' tutorial does, and 72,842 on 8×8.
//!
//! Run: `cargo run --release --example 04_digits_cnn [-- --mnist ../shared/data/mnist]
//! [--seed N]` (`--fast` for a few seconds).
//! Writes `target/examples/04_digits_cnn/curves.svg` (loss and accuracy, training and
//! validation, per epoch) and `history.csv`; on the split MNIST test set also
//! `split_{train,val,test}.txt`, the row indices (into the `t10k` files) of the images `fit`
//! trained on, validated on and the test images, which `bench/tutorials/reference.py` reads
//! to train PyTorch's model on exactly the same rows.

#[path = "common/mod.rs"]
pub mod common;

use std::time::Instant;

use common::{Report, Run};
use ferrograd::prelude::*;

/// The fraction of the training data `fit` holds out for validation.
const VALIDATION: f64 = 0.1;

/// Keras' three-convolution stack for `side`×`side` images: unpadded on 28×28 MNIST, padded
/// by one pixel where the images are too small for that (the 8×8 digits).
pub fn cnn(side: usize, seed: u64) -> Sequential<f32> {
    let pad = if side >= 28 { 0 } else { 1 };
    // A 3×3 convolution padded by `pad` maps a side s to s + 2·pad − 2; a pool halves it.
    let conv = |s: usize| s + 2 * pad - 2;
    let last = conv(conv(conv(side) / 2) / 2);
    let mut rng = init::rng(seed);
    let options = || ConvOptions::new().padding(pad);
    Sequential::<f32>::new()
        .add(Conv2d::new(1, 32, 3, options(), &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, 3, options(), &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(64, 64, 3, options(), &mut rng))
        .add(ReLU)
        .add(Flatten)
        .add(Linear::new(64 * last * last, 64, &mut rng))
        .add(ReLU)
        .add(Linear::new(64, 10, &mut rng))
}

/// Trains the CNN with weights and batch order from `run.seed`, then scores it once on the test
/// set; reports `first_loss`, `final_loss`, `val_accuracy` (last epoch), `test_accuracy`,
/// `test_f1`, `params` and `train_seconds`.
pub fn run(run: &Run) -> Report {
    let seed = run.seed;
    let digits = common::digits(run, 200);
    let model = cnn(digits.side, seed);
    let summary = model.summary(&[1, 1, digits.side, digits.side]);
    run.say(&summary);

    let epochs = run.pick(5, 3);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(1e-3));
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(32)
        .shuffle(Some(seed))
        .metric(metrics::Accuracy::new())
        .validation(Validation::Split(VALIDATION))
        .verbose(run.verbose);
    let started = Instant::now();
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &digits.train,
        options,
        &mut [],
    )
    .unwrap_or_else(|e| panic!("training failed: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    let curves = run.path("curves.svg");
    history.plot(&curves).unwrap_or_else(|e| panic!("{e}"));
    history
        .save(run.path("history.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(dir) = common::write_split(run, &digits, VALIDATION) {
        run.say(format!(
            "split indices for bench/tutorials/reference.py in {}",
            dir.display()
        ));
    }

    // The one look at the test set.
    let test = evaluate(
        &model,
        CrossEntropy::new(),
        &digits.test,
        &mut [&mut metrics::Accuracy::new(), &mut metrics::F1::new()],
        256,
    );
    // What the model says about the first ten test images: the largest logit wins.
    let first: Vec<usize> = (0..10.min(digits.test.len())).collect();
    let logits = predict(&model, digits.test.subset(&first).x(), 10);
    let guess: Vec<usize> = logits.argmax(-1).into_iter().collect();
    run.say(format!(
        "\nfirst test images: predicted {guess:?}\n                   labels    {:?}",
        &digits.test.y().classes()[..first.len()]
    ));

    let loss = history.get("loss");
    let mut report = Report::default();
    report.set("first_loss", loss[0]);
    report.set("final_loss", loss[epochs - 1]);
    report.set("val_accuracy", history.get("val_accuracy")[epochs - 1]);
    report.set("test_accuracy", test["accuracy"]);
    report.set("test_f1", test["f1"]);
    report.set("params", summary.total as f64);
    report.set("train_seconds", seconds);
    let fitted = (digits.train.len() as f64 * (1.0 - VALIDATION)).floor();
    run.say(format!(
        "\nseed {seed}: training loss {:.4} -> {:.4}, validation accuracy {:.2}%; \
         test accuracy {:.2}% (macro F1 {:.3}) on {} images\n\
         training took {seconds:.1} s for {epochs} epochs ({:.0} images/s, validation included) \
         on {} threads; curves in {}",
        report.get("first_loss"),
        report.get("final_loss"),
        100.0 * report.get("val_accuracy"),
        100.0 * report.get("test_accuracy"),
        report.get("test_f1"),
        digits.test.len(),
        epochs as f64 * fitted / seconds,
        num_threads(),
        curves.display()
    ));
    report
}

fn main() {
    run(&Run::from_args("04_digits_cnn"));
}
