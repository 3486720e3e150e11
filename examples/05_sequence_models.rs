//! # 05 · Sequence models: why memory matters, and why gates help
//!
//! What it teaches: recurrent layers (`SimpleRnn`, `Lstm`, `Gru`) on batch-first sequences
//! `[N, T, F]`, against a model without memory, on a task that needs memory over a chosen
//! distance: a plain RNN learns a short lag but not a long one (its gradient through the
//! steps vanishes), while the gated cells (LSTM, GRU) carry the information across both.
//!
//! The task, delayed recall: each sequence starts with a cue, one of 4 symbols (one-hot,
//! with a fifth "this is the cue" channel), followed by `lag` random distractor symbols
//! from the same alphabet; the label is the cue. Chance is 25%. A model that sees only the
//! last step cannot beat chance; a recurrent model must keep the cue for `lag` steps while
//! the distractors pour in. It runs twice, with a short lag (10) and a long one (30).
//! (The bundled `parity` task is not used: these models stay at chance on it.)
//!
//! The models, each followed by Dense(4): an MLP on the last step only (Dense(32, relu),
//! the memoryless baseline), SimpleRNN(32, relu), LSTM(32) and GRU(32), the recurrent ones
//! read out at their last hidden state. The gate that keeps a gated cell's state (the
//! LSTM's forget gate, the GRU's update gate) starts with a bias of 3 (`forget_bias`,
//! `update_bias`), so the cells remember until they learn to forget (see
//! [`KEEP_GATE_BIAS`]; with the usual starts, LSTM and GRU learn lag 30 on some seeds
//! only, PyTorch's LSTM too). Each model trains
//! with Adam (lr 3e-3) in batches of 32 for 40 epochs on 2,000 sequences; the weights kept
//! are those of the epoch with the lowest validation loss (on 500 sequences of their own);
//! a test set of 1,000 more is scored once, at the end.
//!
//! Expect (full mode): the last-step MLP at chance (about 25%) at both lags; SimpleRNN
//! 100% at lag 10 after some ten epochs at chance, but at chance at lag 30 (on an
//! occasional seed about 50%: it keeps one of the cue's two bits); LSTM and GRU 100% at
//! both lags, within ten epochs. About half a minute on 2 cores.
//!
//! Run: `cargo run --release --example 05_sequence_models` (`--fast` for a second: lag 3
//! only, 256 sequences, 4 epochs at lr 2e-2). Writes
//! `target/examples/05_sequence_models/accuracy.svg` (validation accuracy per epoch, one
//! panel per lag, one line per model, and chance).

#[path = "common/mod.rs"]
pub mod common;

use common::{Report, Run};
use ferrograd::prelude::*;
use plotters::prelude::*;
use rand::RngExt;

/// The alphabet of cues and distractors.
const SYMBOLS: usize = 4;
/// Features per step: the one-hot symbol and the cue marker.
const FEATURES: usize = SYMBOLS + 1;
/// Hidden units of every model.
const HIDDEN: usize = 32;

/// Delayed recall: `n` sequences `[n, lag + 1, 5]`; step 0 is the cue (a one-hot symbol
/// and the marker channel set), steps 1..=lag are random symbols; the class is the cue.
fn recall(n: usize, lag: usize, seed: u64) -> TensorDataset {
    let mut rng = init::rng(seed);
    let steps = lag + 1;
    let mut x = vec![0.0f32; n * steps * FEATURES];
    let mut y = Vec::with_capacity(n);
    for sequence in x.chunks_exact_mut(steps * FEATURES) {
        for (t, step) in sequence.chunks_exact_mut(FEATURES).enumerate() {
            let symbol = rng.random_range(0..SYMBOLS);
            step[symbol] = 1.0;
            if t == 0 {
                step[SYMBOLS] = 1.0;
                y.push(symbol);
            }
        }
    }
    TensorDataset::new(
        Tensor::from_vec(x, &[n, steps, FEATURES]),
        Targets::Classes(y),
    )
}

/// The models compared.
#[derive(Clone, Copy, Debug)]
enum Arch {
    LastStepMlp,
    SimpleRnn,
    Lstm,
    Gru,
}

impl Arch {
    const ALL: [Arch; 4] = [Arch::LastStepMlp, Arch::SimpleRnn, Arch::Lstm, Arch::Gru];

    fn name(self) -> &'static str {
        match self {
            Arch::LastStepMlp => "MLP (last step)",
            Arch::SimpleRnn => "SimpleRNN (relu)",
            Arch::Lstm => "LSTM",
            Arch::Gru => "GRU",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Arch::LastStepMlp => "mlp",
            Arch::SimpleRnn => "rnn",
            Arch::Lstm => "lstm",
            Arch::Gru => "gru",
        }
    }

    fn color(self) -> RGBColor {
        match self {
            Arch::LastStepMlp => RGBColor(140, 86, 75),
            Arch::SimpleRnn => RGBColor(31, 119, 180),
            Arch::Lstm => RGBColor(214, 39, 40),
            Arch::Gru => RGBColor(44, 160, 44),
        }
    }

    /// The model: a recurrent layer (or the last step and a hidden layer) → Dense(4).
    fn build(self) -> Sequential {
        let mut rng = init::rng(0);
        let body = match self {
            Arch::LastStepMlp => Sequential::new()
                .add(Lambda::new("last step", |x: Var<'_>| {
                    let steps = x.shape()[1];
                    x.narrow(1, steps - 1, 1).squeeze(1)
                }))
                .add(Linear::new(FEATURES, HIDDEN, &mut rng))
                .add(ReLU),
            Arch::SimpleRnn => {
                Sequential::new().add(SimpleRnn::new(FEATURES, HIDDEN, 1, &mut rng).relu())
            }
            // The gated cells start remembering: see `KEEP_GATE_BIAS`.
            Arch::Lstm => Sequential::new()
                .add(Lstm::new(FEATURES, HIDDEN, 1, &mut rng).forget_bias(KEEP_GATE_BIAS)),
            Arch::Gru => Sequential::new()
                .add(Gru::new(FEATURES, HIDDEN, 1, &mut rng).update_bias(KEEP_GATE_BIAS)),
        };
        body.add(Linear::new(HIDDEN, SYMBOLS, &mut rng))
    }
}

/// The bias the gate that keeps a gated cell's state starts with (`Lstm::forget_bias`,
/// `Gru::update_bias`): the LSTM's forget gate `f` and the GRU's update gate `z`
/// (`h' = (1 − z)·n + z·h`) open to `σ(3) ≈ 0.95`, so about `0.95³⁰ ≈ 23%` of the cue
/// survives 30 steps before any training, and its gradient flows back as far. The cells
/// remember until they learn to forget. The usual starts are 1 for the LSTM (Keras'
/// `unit_forget_bias`, `0.73³⁰ ≈ 10⁻⁴`) and about 0 otherwise (PyTorch); the "chrono"
/// initialisation (Tallec & Ollivier, 2018) sets it to about `ln T` for dependencies of `T`
/// steps, `ln 30 ≈ 3.4`.
const KEEP_GATE_BIAS: f64 = 3.0;

/// The data of one lag.
struct Task {
    lag: usize,
    train: TensorDataset,
    val: TensorDataset,
    test: TensorDataset,
}

/// Trains `arch` on `task`, keeps the epoch with the lowest validation loss, and scores
/// the test data once. Returns the history and the test accuracy.
fn train_and_test(run: &Run, arch: Arch, task: &Task, epochs: usize, lr: f64) -> (History, f64) {
    let model = arch.build();
    let mut opt = Optimizer::new(model.parameters(), Adam::new(lr));
    // Never stops (patience = the whole run); keeps the best epoch's weights.
    let mut best = EarlyStopping::new(MonitorMode::Min)
        .monitor("val_loss")
        .patience(epochs)
        .restore_best_weights(true);
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(32)
        .metric(metrics::Accuracy::new())
        .validation(Validation::Data(task.val.clone()))
        .verbose(run.verbose);
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &task.train,
        options,
        &mut [&mut best],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // As in Keras, `fit` puts the best weights back only when it stops early: a run that
    // used every epoch restores them itself.
    best.restore(&model.parameters());
    let mut accuracy = metrics::Accuracy::new();
    evaluate(
        &model,
        CrossEntropy::new(),
        &task.test,
        &mut [&mut accuracy],
        256,
    );
    (history, accuracy.result())
}

/// Trains the four models at each lag, prints a table of test accuracies, plots the
/// validation accuracy curves and reports `<model>_lag<lag>` test accuracies (`mlp`,
/// `rnn`, `lstm`, `gru`) and `chance`.
pub fn run(run: &Run) -> Report {
    let lags = run.pick(vec![10, 30], vec![3]);
    let (n_train, n_val, n_test) = run.pick((2000, 500, 1000), (256, 128, 128));
    let epochs = run.pick(40, 4);
    // Fast mode takes larger steps, to learn in its few.
    let lr = run.pick(3e-3, 2e-2);
    run.say(format!(
        "delayed recall of one of {SYMBOLS} symbols; {n_train} training, {n_val} validation, \
         {n_test} test sequences per lag; {epochs} epochs; chance 25%"
    ));

    let mut report = Report::default();
    report.set("chance", 1.0 / SYMBOLS as f64);
    let mut curves = Vec::new();
    let mut table = Vec::new();
    for &lag in &lags {
        let seed = 1000 * lag as u64 + 7;
        let task = Task {
            lag,
            train: recall(n_train, lag, seed),
            val: recall(n_val, lag, seed + 1),
            test: recall(n_test, lag, seed + 2),
        };
        let mut row = Vec::new();
        for arch in Arch::ALL {
            run.say(format!("\n{} at lag {}", arch.name(), task.lag));
            let started = std::time::Instant::now();
            let (history, accuracy) = train_and_test(run, arch, &task, epochs, lr);
            run.say(format!(
                "{} at lag {}: test accuracy {:.1}% ({:.1} s)",
                arch.name(),
                task.lag,
                100.0 * accuracy,
                started.elapsed().as_secs_f64()
            ));
            report.set(&format!("{}_lag{lag}", arch.key()), accuracy);
            row.push(accuracy);
            curves.push((lag, arch, history.get("val_accuracy")));
        }
        table.push((lag, row));
    }

    run.say(format!(
        "\ntest accuracy (chance {:.0}%)\n{:>4}  {}",
        100.0 / SYMBOLS as f64,
        "lag",
        Arch::ALL.map(|a| format!("{:>16}", a.name())).join(" ")
    ));
    for (lag, row) in &table {
        let cells: Vec<String> = row
            .iter()
            .map(|a| format!("{:>15.1}%", 100.0 * a))
            .collect();
        run.say(format!("{lag:>4}  {}", cells.join(" ")));
    }

    let picture = run.path("accuracy.svg");
    plot(&picture, &lags, &curves).unwrap_or_else(|e| panic!("{}: {e}", picture.display()));
    run.say(format!("\nvalidation curves in {}", picture.display()));
    report
}

/// One panel per lag: each model's validation accuracy per epoch, and chance.
fn plot(
    path: &std::path::Path,
    lags: &[usize],
    curves: &[(usize, Arch, Vec<f64>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (520 * lags.len() as u32, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, &lag) in root.split_evenly((1, lags.len())).iter().zip(lags) {
        let epochs = curves.iter().map(|c| c.2.len()).max().unwrap_or(1).max(2);
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("validation accuracy, lag {lag}"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(1f64..epochs as f64, 0f64..1.05)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| format!("{:.0}%", 100.0 * v))
            .draw()?;
        let (chance, grey) = (1.0 / SYMBOLS as f64, RGBColor(150, 150, 150));
        chart
            .draw_series(LineSeries::new(
                [(1.0, chance), (epochs as f64, chance)],
                grey.stroke_width(1),
            ))?
            .label("chance")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey));
        for (_, arch, values) in curves.iter().filter(|c| c.0 == lag) {
            let color = arch.color();
            let points = values.iter().enumerate().map(|(e, &v)| (e as f64 + 1.0, v));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(arch.name())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 2), (x + 16, y + 2)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::MiddleRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn main() {
    run(&Run::from_args("05_sequence_models"));
}
