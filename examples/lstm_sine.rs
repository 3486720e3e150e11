//! Sequence regression with an LSTM: forecast the next value of a noisy sine wave from the
//! 20 before it, trained with `fit` and a cosine learning-rate schedule.
//!
//! Run: `cargo run --release --example lstm_sine`

use ferrograd::data::synthetic::sine_forecast;
use ferrograd::nn::{Linear, Lstm, ModuleExt, Sequential, init};
use ferrograd::optim::schedule::CosineAnnealing;
use ferrograd::optim::{Adam, Optimizer};
use ferrograd::train::callbacks::LrScheduler;
use ferrograd::train::metrics::Mae;
use ferrograd::train::{FitOptions, Loss, Validation, fit};

fn main() {
    let train = sine_forecast::<f32>(512, 20, 0.3, 0.05, 0);
    let test = sine_forecast::<f32>(128, 20, 0.3, 0.05, 1);
    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Lstm::new(1, 32, 1, &mut rng))
        .add(Linear::new(32, 1, &mut rng));
    println!("{}", model.summary(&[1, 20, 1]));
    let epochs = 30;
    let mut opt = Optimizer::new(model.parameters(), Adam::new(1e-2));
    let mut schedule = LrScheduler::new(CosineAnnealing::new(epochs, 1e-4));
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(32)
        .metric(Mae::new())
        .validation(Validation::Data(test));
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        &train,
        options,
        &mut [&mut schedule],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let val = history.get("val_loss");
    for (e, (loss, v)) in history.get("loss").iter().zip(&val).enumerate().step_by(5) {
        println!("epoch {:>2}  mse {loss:.4}  val_mse {v:.4}", e + 1);
    }
    let last = *val.last().unwrap_or(&f64::NAN);
    println!(
        "validation MSE {:.4} -> {last:.4} (the inputs carry noise of std 0.05; the target is the clean next value)",
        val[0]
    );
    if last >= val[0] / 5.0 {
        std::process::exit(1);
    }
}
