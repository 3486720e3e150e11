//! # 06 · Optimizers compared
//!
//! What it teaches: how the classic optimizers (SGD, SGD with momentum, Nesterov momentum,
//! AdaGrad, RMSprop, Adam, AdamW) differ on one problem, and how to compare them fairly:
//! the same model initialisation, the same data in the same batch order, the same number
//! of epochs, and for each optimizer the learning rate that does best on validation data.
//!
//! The problem: the bundled 8×8 digits, split 80/20 (stratified, seed 42) into training
//! and test data as in the other examples, the training part split again 80/20 into the
//! 1,149 images the optimizers train on and 288 for validation. The model is an MLP,
//! Flatten → Dense(64, relu) → Dense(10), trained with cross-entropy in batches of 32 for
//! 30 epochs. Each optimizer tries the same nine learning rates, 10⁻⁴ to 1 a factor of √10
//! apart, and keeps the one with the lowest validation loss after the last epoch (63
//! runs, about 5 seconds in all). The test data is scored once per optimizer, for the
//! kept run, after every choice was made. (The bundled digits rather than MNIST: 63 runs
//! on MNIST would take many minutes.)
//!
//! Expect (full mode): the kept rates are 0.3 for SGD, 0.03 for momentum and Nesterov
//! (momentum 0.9 makes each step about 1/(1 − 0.9) = 10 times larger, and their curves lie
//! on SGD's), 0.1 for AdaGrad, 0.01 for RMSprop, Adam and AdamW. The final training loss
//! shows the differences: about 0.03 for the SGD family, 0.013 for AdaGrad, 0.0015–0.0035
//! for RMSprop (with spikes), Adam and AdamW. The validation losses all end near 0.09–0.10
//! and the test accuracies at 96–97%: tuned, they generalise alike here. The search shows
//! the other difference: the adaptive methods do well over a wide range of rates (Adam
//! and RMSprop from 10⁻³ to 10⁻²), plain SGD needs a rate 30 times larger than Adam's.
//! Adam and AdamW differ little (a decay of 0.01 over 30 epochs).
//!
//! Run: `cargo run --release --example 06_optimizers` (`--fast` for a few seconds: 300
//! images, 8 epochs, each optimizer at one rate, no search). Writes, in
//! `target/examples/06_optimizers/`, `loss.svg` (training and validation loss of each
//! kept run per epoch, log scale), `lr_search.svg` (final validation loss against the
//! learning rate) and `lr_search.csv` (every run of the search).

#[path = "common/mod.rs"]
pub mod common;

use common::{Report, Run};
use ferrograd::optim::Rule;
use ferrograd::prelude::*;
use ferrograd::train::TrainError;
use plotters::prelude::*;

/// The learning rates every optimizer tries: 10⁻⁴ to 1, a factor of √10 apart.
const RATES: [f64; 9] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0];

/// The optimizers compared.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    RmsProp,
    Adam,
    AdamW,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Sgd,
        Kind::Momentum,
        Kind::Nesterov,
        Kind::Adagrad,
        Kind::RmsProp,
        Kind::Adam,
        Kind::AdamW,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Sgd => "SGD",
            Kind::Momentum => "momentum",
            Kind::Nesterov => "Nesterov",
            Kind::Adagrad => "AdaGrad",
            Kind::RmsProp => "RMSprop",
            Kind::Adam => "Adam",
            Kind::AdamW => "AdamW",
        }
    }

    /// The one rate each optimizer runs at in fast mode (no search): the full search's
    /// usual pick, so the few epochs of a test still train.
    fn fast_rate(self) -> f64 {
        match self {
            Kind::Sgd => 0.3,
            Kind::Momentum | Kind::Nesterov => 0.03,
            Kind::Adagrad => 0.1,
            Kind::RmsProp | Kind::Adam | Kind::AdamW => 0.01,
        }
    }

    fn color(self) -> RGBColor {
        match self {
            Kind::Sgd => RGBColor(120, 120, 120),
            Kind::Momentum => RGBColor(31, 119, 180),
            Kind::Nesterov => RGBColor(23, 190, 207),
            Kind::Adagrad => RGBColor(44, 160, 44),
            Kind::RmsProp => RGBColor(255, 127, 14),
            Kind::Adam => RGBColor(214, 39, 40),
            Kind::AdamW => RGBColor(148, 103, 189),
        }
    }
}

/// One training run's outcome.
struct Outcome {
    lr: f64,
    history: History,
    model: Sequential,
}

/// The data every run sees.
struct Problem {
    train: TensorDataset,
    val: TensorDataset,
    epochs: usize,
}

/// The bundled 8×8 digits as the other examples split them (80/20, stratified, seed 42),
/// the training part split again the same way into the data the optimizers train on and
/// the validation data. Fast mode keeps the first 300 training and 300 test images.
fn digits(run: &Run) -> (TensorDataset, TensorDataset, TensorDataset) {
    let digits = common::bundled_digits(run, 300);
    let s = train_test_split(
        digits.train.len(),
        0.2,
        42,
        Some(digits.train.y().classes()),
    );
    let (train, val) = (digits.train.subset(&s.train), digits.train.subset(&s.test));
    (train, val, digits.test)
}

/// The model, from the same seed for every optimizer: the same initial weights.
fn model() -> Sequential {
    let mut rng = init::rng(0);
    Sequential::<f32>::new()
        .add(Flatten)
        .add(Linear::new(64, 64, &mut rng))
        .add(ReLU)
        .add(Linear::new(64, 10, &mut rng))
}

/// Trains a fresh model with `rule` (and `penalty`) on the problem; the shuffle seed is
/// fit's default, so every run sees the batches in the same order.
fn train<R: Rule<f32>>(
    problem: &Problem,
    rule: R,
    penalty: Penalty,
) -> Result<Outcome, TrainError> {
    let lr = rule.lr();
    let model = model();
    let mut opt = Optimizer::new(model.parameters(), rule).penalty(penalty);
    // Not verbose: 63 runs of a tenth of a second each; the search table, printed row by
    // row, is the progress.
    let options = FitOptions::new()
        .epochs(problem.epochs)
        .batch_size(32)
        .validation(Validation::Data(problem.val.clone()));
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &problem.train,
        options,
        &mut [],
    )?;
    Ok(Outcome { lr, history, model })
}

/// One run of optimizer `kind` at learning rate `lr`; an error if the loss diverged.
fn train_with(problem: &Problem, kind: Kind, lr: f64) -> Result<Outcome, TrainError> {
    match kind {
        Kind::Sgd => train(problem, Sgd::new(lr), Penalty::none()),
        Kind::Momentum => train(problem, Sgd::new(lr).momentum(0.9), Penalty::none()),
        Kind::Nesterov => train(
            problem,
            Sgd::new(lr).momentum(0.9).nesterov(true),
            Penalty::none(),
        ),
        Kind::Adagrad => train(problem, Adagrad::new(lr), Penalty::none()),
        Kind::RmsProp => train(problem, RmsProp::new(lr), Penalty::none()),
        Kind::Adam => train(problem, Adam::new(lr), Penalty::none()),
        // AdamW = Adam's rule with a decoupled weight decay (PyTorch's default 0.01).
        Kind::AdamW => train(problem, Adam::adamw(lr), Penalty::l2(0.01).decoupled()),
    }
}

/// The last value of a history's series.
fn last(history: &History, key: &str) -> f64 {
    *history.get(key).last().expect("at least one epoch")
}

/// Trains every optimizer at each of its learning rates, keeps the rate with the lowest
/// final validation loss, then scores the kept models once on the test data. Reports, per
/// optimizer, the final training and validation loss and the test accuracy.
pub fn run(run: &Run) -> Report {
    let (train, val, test) = digits(run);
    let problem = Problem {
        train,
        val,
        epochs: run.pick(30, 8),
    };
    run.say(format!(
        "the bundled 8x8 digits: {} training, {} validation, {} test images; \
         MLP 64-64-10, batch 32, {} epochs",
        problem.train.len(),
        problem.val.len(),
        test.len(),
        problem.epochs
    ));

    // The learning-rate search, on validation data only: per optimizer, the rate with
    // the lowest validation loss after the last epoch. Each row prints as its search ends.
    if run.fast {
        run.say("fast mode: each optimizer at one learning rate, no search");
    } else {
        run.say("\nfinal validation loss by learning rate (* kept, - diverged)");
        let header: Vec<String> = RATES.iter().map(|r| format!("{r:>7}")).collect();
        run.say(format!("{:<9} {}", "lr", header.join(" ")));
    }
    let mut search = String::from("optimizer,lr,final_train_loss,final_val_loss\n");
    let mut sweeps: Vec<(Kind, Vec<(f64, f64)>)> = Vec::new();
    let mut kept: Vec<(Kind, Outcome)> = Vec::new();
    for kind in Kind::ALL {
        let mut best: Option<Outcome> = None;
        let mut sweep = Vec::new();
        let fast = [kind.fast_rate()];
        for &lr in run.pick(&RATES[..], &fast[..]) {
            // A run whose loss became NaN or infinite stopped with an error: diverged.
            let (loss, val) = match train_with(&problem, kind, lr) {
                Ok(outcome) => {
                    let (loss, val) = (
                        last(&outcome.history, "loss"),
                        last(&outcome.history, "val_loss"),
                    );
                    if best
                        .as_ref()
                        .is_none_or(|b| val < last(&b.history, "val_loss"))
                    {
                        best = Some(outcome);
                    }
                    (loss, val)
                }
                Err(_) => (f64::NAN, f64::NAN),
            };
            search += &format!("{},{lr},{loss:.6},{val:.6}\n", kind.name());
            sweep.push((lr, val));
        }
        let best = best.expect("some learning rate trains");
        if !run.fast {
            let cells: Vec<String> = sweep
                .iter()
                .map(|&(lr, val)| match (val.is_finite(), lr == best.lr) {
                    (false, _) => format!("{:>7}", "-"),
                    (true, true) => format!("{:>7}", format!("*{val:.3}")),
                    (true, false) => format!("{val:>7.3}"),
                })
                .collect();
            run.say(format!("{:<9} {}", kind.name(), cells.join(" ")));
        }
        kept.push((kind, best));
        sweeps.push((kind, sweep));
    }
    let csv = run.path("lr_search.csv");
    std::fs::write(&csv, search).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));

    // The table: final losses in evaluation mode, and the test set, scored once.
    let mut report = Report::default();
    run.say(format!(
        "\n{:<9} {:>7} {:>11} {:>9} {:>9}",
        "optimizer", "lr", "train loss", "val loss", "test acc"
    ));
    for (kind, outcome) in &kept {
        let on = |data: &TensorDataset| {
            let mut accuracy = metrics::Accuracy::new();
            evaluate(
                &outcome.model,
                CrossEntropy::new(),
                data,
                &mut [&mut accuracy],
                256,
            )
        };
        let (train, val, test) = (on(&problem.train), on(&problem.val), on(&test));
        run.say(format!(
            "{:<9} {:>7} {:>11.4} {:>9.4} {:>8.1}%",
            kind.name(),
            outcome.lr,
            train["loss"],
            val["loss"],
            100.0 * test["accuracy"]
        ));
        let key = kind.name().to_lowercase();
        report.set(&format!("{key}_first_loss"), outcome.history.get("loss")[0]);
        report.set(&format!("{key}_train_loss"), train["loss"]);
        report.set(&format!("{key}_val_loss"), val["loss"]);
        report.set(&format!("{key}_test_accuracy"), test["accuracy"]);
    }

    let picture = run.path("loss.svg");
    plot(&picture, &kept).unwrap_or_else(|e| panic!("{}: {e}", picture.display()));
    let search_picture = run.path("lr_search.svg");
    plot_search(&search_picture, &sweeps)
        .unwrap_or_else(|e| panic!("{}: {e}", search_picture.display()));
    run.say(format!(
        "\ncurves in {}, the learning-rate search in {} and {}",
        picture.display(),
        search_picture.display(),
        csv.display()
    ));
    report
}

/// Two panels, training and validation loss per epoch, one line per optimizer, log scale.
fn plot(
    path: &std::path::Path,
    kept: &[(Kind, Outcome)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let epochs = kept[0].1.history.epochs.len();
    let all = |key: &str| -> Vec<f64> {
        kept.iter()
            .flat_map(|(_, o)| o.history.get(key))
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect()
    };
    // One y range for both panels, so they compare at a glance.
    let values: Vec<f64> = [all("loss"), all("val_loss")].concat();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min) * 0.8;
    let hi = values.iter().copied().fold(0.0, f64::max) * 1.25;
    for (area, (key, title)) in panels.iter().zip([
        ("loss", "training loss (log scale)"),
        ("val_loss", "validation loss (log scale)"),
    ]) {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(1f64..epochs as f64, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy")
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| format!("{v:.3}"))
            .draw()?;
        for (kind, outcome) in kept {
            let color = kind.color();
            let points = outcome
                .history
                .get(key)
                .into_iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite() && *v > 0.0)
                .map(|(e, v)| (e as f64 + 1.0, v));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(format!("{} (lr {})", kind.name(), outcome.lr))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 2), (x + 16, y + 2)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The search: final validation loss against learning rate, one line per optimizer,
/// both axes log scale; diverged runs are left out.
fn plot_search(
    path: &std::path::Path,
    sweeps: &[(Kind, Vec<(f64, f64)>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let finite = || {
        sweeps
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
    };
    let lo = finite().map(|p| p.1).fold(f64::INFINITY, f64::min) * 0.8;
    // Headroom above the curves for the legend.
    let hi = finite().map(|p| p.1).fold(0.0, f64::max) * 4.0;
    let (left, right) = (
        finite().map(|p| p.0).fold(f64::INFINITY, f64::min),
        finite().map(|p| p.0).fold(0.0, f64::max),
    );
    let mut chart = ChartBuilder::on(&root)
        .caption("final validation loss by learning rate", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d((left * 0.8..right * 1.25).log_scale(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("learning rate")
        .y_desc("cross-entropy")
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .draw()?;
    for (kind, sweep) in sweeps {
        let color = kind.color();
        let points: Vec<(f64, f64)> = sweep
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(kind.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 2), (x + 16, y + 2)], color.filled()));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    run(&Run::from_args("06_optimizers"));
}
