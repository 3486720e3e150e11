//! # 02 · MLP regression
//!
//! What it teaches: the Keras workflow in ferrograd: a `Sequential` model, `fit` with a
//! validation split, the loss curves, then `predict` on new inputs.
//!
//! The data: 100 samples of 10 features drawn uniformly from [0, 1); the target is a fixed
//! linear function of them plus a little noise (σ = 0.05), so there is something to learn
//! and a floor to reach. The model is Keras' first example, Dense(10, relu) → Dense(1),
//! trained with Adam on the mean squared error for 100 epochs in batches of 10.
//!
//! Expect: the validation MSE falls from about 0.28 to about 0.0035 (the noise floor is
//! 0.0025); on five new inputs the predictions' MSE is about 0.005: four land within a few
//! hundredths of their targets, one 0.14 off (the noise alone is σ = 0.05).
//!
//! Run: `cargo run --release --example 02_mlp_regression` (`--fast` for a few seconds).
//! Writes `target/examples/02_mlp_regression/loss.svg`.

#[path = "common/mod.rs"]
pub mod common;

use common::{Report, Run};
use ferrograd::prelude::*;

/// `n` rows of 10 uniform features, and `x · w + 0.5 + noise` with fixed weights `w`.
fn dataset(n: usize, seed: u64) -> (Tensor<f32>, Tensor<f32>) {
    let mut rng = init::rng(seed);
    let x = Tensor::rand_uniform(&[n, 10], 0.0, 1.0, &mut rng);
    let noise = Tensor::rand_normal(&[n, 1], 0.0, 0.05, &mut rng).to_vec();
    let w: Vec<f32> = (0..10).map(|j| (j as f32 - 4.5) / 4.5).collect();
    let y = x
        .to_vec()
        .chunks(10)
        .zip(noise)
        .map(|(row, e)| row.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>() + 0.5 + e)
        .collect();
    (x, Tensor::from_vec(y, &[n, 1]))
}

/// Trains the model and reports the validation MSE before and after, and the MSE of five
/// new predictions.
pub fn run(run: &Run) -> Report {
    let (x, y) = dataset(100, 0);
    let data = TensorDataset::new(x, Targets::Values(y));

    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Linear::new(10, 10, &mut rng))
        .add(ReLU)
        .add(Linear::new(10, 1, &mut rng));
    run.say(model.summary(&[1, 10]));

    let epochs = run.pick(100, 30);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.01));
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(10)
        .metric(metrics::Mae::new())
        .validation(Validation::Split(0.2))
        .verbose(run.verbose);
    let history = fit(&model, Loss::mse(), &mut opt, &data, options, &mut []).unwrap();
    let plot = run.path("loss.svg");
    history.plot(&plot).unwrap();

    // Five inputs the model never saw.
    let (new_x, new_y) = dataset(5, 1);
    let predicted = predict(&model, &new_x, 5);
    run.say("\nprediction  target");
    for (p, t) in predicted.to_vec().iter().zip(new_y.to_vec()) {
        run.say(format!("{p:10.3}  {t:6.3}"));
    }

    let val = history.get("val_loss");
    let mut report = Report::default();
    report.set("first_val_mse", val[0]);
    report.set("final_val_mse", val[epochs - 1]);
    report.set(
        "new_mse",
        (&predicted - &new_y)
            .to_vec()
            .iter()
            .map(|d| d * d)
            .sum::<f32>() as f64
            / 5.0,
    );
    run.say(format!(
        "\nvalidation MSE {:.4} -> {:.4}; MSE on 5 new inputs {:.4}; curves in {}",
        report.get("first_val_mse"),
        report.get("final_val_mse"),
        report.get("new_mse"),
        plot.display()
    ));
    report
}

fn main() {
    run(&Run::from_args("02_mlp_regression"));
}
