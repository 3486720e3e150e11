//! Model selection on the bundled digits: 5-fold stratified cross-validation of an MLP,
//! reported as mean ± std, and a cross-validated grid search over the learning rate and
//! the hidden width, printed as a ranked table.
//!
//! Run: `cargo run --release --example cross_validation`

use ferrograd::data::digits::load_digits;
use ferrograd::data::search::{Grid, grid_search_cv};
use ferrograd::data::split::{Fold, StratifiedKFold, cross_validate};
use ferrograd::nn::loss::CrossEntropy;
use ferrograd::nn::{Flatten, Linear, ModuleExt, ReLU, Sequential, init};
use ferrograd::optim::{Adam, Optimizer};
use ferrograd::train::metrics::Accuracy;
use ferrograd::train::{FitOptions, evaluate, fit};

/// Trains a fresh MLP on `split.train` and returns its accuracy on `split.test`.
fn fit_and_score(
    data: &ferrograd::data::dataset::TensorDataset<f32>,
    split: &Fold,
    lr: f64,
    width: usize,
) -> f64 {
    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Flatten)
        .add(Linear::new(64, width, &mut rng))
        .add(ReLU)
        .add(Linear::new(width, 10, &mut rng));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(lr));
    let options = FitOptions::new().epochs(10).batch_size(32);
    fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &data.subset(&split.train),
        options,
        &mut [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    evaluate(
        &model,
        CrossEntropy::new(),
        &data.subset(&split.test),
        &mut [&mut Accuracy::new()],
        256,
    )["accuracy"]
}

fn main() {
    let digits = load_digits();
    let folds = StratifiedKFold::new(5)
        .shuffle(0)
        .folds(digits.y().classes());

    let cv = cross_validate(&folds, |i, split| {
        let acc = fit_and_score(&digits, split, 1e-2, 64);
        println!("fold {i}: accuracy {acc:.3}");
        acc
    });
    println!("5-fold accuracy: {cv}");

    let grid = Grid::new()
        .add("lr", [1e-3, 1e-2])
        .add("width", [16usize, 64]);
    let results = grid_search_cv(&grid, &folds[..3], |p, split| {
        fit_and_score(&digits, split, p.f64("lr"), p.usize("width"))
    });
    println!("grid search (3 folds):\n{results}");
    println!("best: {}", results.best().params);
    if cv.mean < 0.9 {
        std::process::exit(1);
    }
}
