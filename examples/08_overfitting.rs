//! # 08 · Fighting overfitting
//!
//! What it teaches: how to recognise overfitting (the training loss keeps falling while the
//! validation loss turns and rises) and five classic remedies, each tried on the same data
//! from the same initial weights: an L1 penalty and an L2 penalty (`Penalty`, on the
//! optimizer and on a `ParamGroup`), `Dropout`, `EarlyStopping` with restore-best, and
//! learning-rate decay (`LrScheduler` with an `ExponentialLr` schedule).
//!
//! The data: 10 features drawn uniformly from [−1, 1]; the target is `x₀ + ½·x₁²` plus
//! Gaussian noise of σ = 0.5, so the other 8 features are irrelevant and no model can beat
//! a mean squared error of σ² = 0.25 (the noise floor). There are 100 training samples and
//! 100 validation samples: small data. A wide MLP, 10 → 256 → 256 → 1 with ReLU (68,000
//! weights for 100 samples), trained with Adam (lr 3·10⁻⁴, batches of 20, 200 epochs), learns
//! the noise by heart.
//!
//! Each remedy has a strength (the penalty's coefficient, the dropout rate, the decay
//! factor). It is a choice, so it is made on the validation data: each remedy is trained
//! with three strengths and the one whose final model has the lowest validation loss is
//! kept (example 09 does such searches properly, with cross-validation). Early stopping
//! uses a patience of 20 epochs. The test set (2,000 fresh samples from the same source,
//! large so that its figure is precise) is scored once per remedy at the end and chooses
//! nothing.
//!
//! Expect (full mode, about 15–30 s on 2 cores; the last digits move a little from machine
//! to machine). Epochs count from 1, as `fit` prints them; the train MSE is the final
//! model's, in eval mode (dropout off); |w| irr. is the first layer's mean |weight| on the
//! 8 irrelevant inputs over that on the 2 relevant ones (1.00 at initialisation):
//!
//! | remedy         | kept setting | train MSE | best val (epoch) | final val | test MSE | \|w\| irr. |
//! |----------------|--------------|-----------|------------------|-----------|----------|----------|
//! | none           | —            | 0.000     | 0.277 (22)       | 0.407     | 0.492    | 1.00     |
//! | L1 penalty     | l1 = 0.003   | 0.225     | 0.273 (106)      | 0.275     | 0.315    | 0.41     |
//! | L2 penalty     | l2 = 0.1     | 0.248     | 0.276 (82)       | 0.277     | 0.324    | 0.70     |
//! | dropout        | p = 0.7      | 0.183     | 0.272 (191)      | 0.272     | 0.336    | 0.89     |
//! | early stopping | patience 20  | 0.176     | 0.277 (22)       | 0.277     | 0.330    | 0.98     |
//! | lr decay       | gamma = 0.95 | 0.182     | 0.279 (101)      | 0.279     | 0.330    | 0.98     |
//!
//! The unregularised model drives its training MSE to zero, far below the noise floor that
//! no honest fit can beat: it has memorised the 100 samples, noise included. Its validation
//! MSE bottoms out at 0.277 in epoch 22 and climbs to 0.41; on the test set it scores 0.49,
//! twice the floor. Every remedy stops the climb and cuts the test MSE to 0.32–0.34, and
//! their training MSEs stay near the floor (0.18–0.25) instead of at zero. On the test
//! set L1 does best (a reading after the fact, not a choice: on validation the remedies lie
//! within 0.007 of each other), because the data rewards it: it shrinks the weights on the
//! 8 irrelevant inputs to 41% of those on the relevant ones, where the other remedies leave
//! them almost as they were. Early stopping gets its result for a fraction of the training (it stops at epoch
//! 42 and puts back epoch 22's weights, the circle in the picture); lr decay freezes the
//! model at about the same point by shrinking the steps (lr·0.95^epoch) instead. Dropout
//! needs a high rate on so little data: the highest rate tried, 0.7, won.
//!
//! None reaches the floor: 100 samples cannot pin the function down exactly. And each
//! validation figure is lower than its test figure: the 100 validation samples are a noisy
//! measure, and every kept setting was picked for doing well on them. That optimism is why
//! the test set is kept apart and scored last.
//!
//! Run: `cargo run --release --example 08_overfitting` (`--fast` for a few seconds: a
//! narrower model, fewer epochs, one strength per remedy). The per-epoch log of the first
//! (unregularised) run is printed so you can watch it overfit; the other runs print one
//! line each. Writes `target/examples/08_overfitting/val_loss.svg` (every remedy's
//! validation curve, with the unregularised training curve and the noise floor) and
//! `val_loss.csv` (the same curves as numbers).

#[path = "common/mod.rs"]
pub mod common;

use std::path::Path;

use common::{Report, Run};
use ferrograd::prelude::*;

/// The number of input features (only the first two matter).
const FEATURES: usize = 10;
/// The standard deviation of the target noise: no model beats an MSE of `NOISE²`.
const NOISE: f32 = 0.5;

/// `n` samples of `x ~ U(−1, 1)^10` and `y = x₀ + ½·x₁² + noise`.
fn dataset(n: usize, seed: u64) -> TensorDataset {
    let mut rng = init::rng(seed);
    let x = Tensor::rand_uniform(&[n, FEATURES], -1.0, 1.0, &mut rng);
    let noise = Tensor::rand_normal(&[n, 1], 0.0, NOISE, &mut rng).to_vec();
    let y = x
        .to_vec()
        .chunks(FEATURES)
        .zip(noise)
        .map(|(row, e)| row[0] + 0.5 * row[1] * row[1] + e)
        .collect();
    TensorDataset::new(x, Targets::Values(Tensor::from_vec(y, &[n, 1])))
}

/// A remedy against overfitting, with its strength.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Remedy {
    /// Plain training: the overfitting baseline.
    None,
    /// `l1·sign(w)` added to every gradient (the gradient of `l1·‖w‖₁`).
    L1(f64),
    /// `l2·w` added to the gradients of the weights, not the biases (PyTorch's
    /// `weight_decay`).
    L2(f64),
    /// Dropout with this rate after each hidden layer.
    Dropout(f64),
    /// Stop after this many epochs without a better validation loss; restore the best.
    EarlyStopping(usize),
    /// Multiply the learning rate by this factor every epoch.
    LrDecay(f64),
}

impl Remedy {
    /// The row name in the table.
    fn name(self) -> &'static str {
        match self {
            Remedy::None => "none",
            Remedy::L1(_) => "L1 penalty",
            Remedy::L2(_) => "L2 penalty",
            Remedy::Dropout(_) => "dropout",
            Remedy::EarlyStopping(_) => "early stopping",
            Remedy::LrDecay(_) => "lr decay",
        }
    }

    /// The key prefix in the report.
    fn key(self) -> &'static str {
        match self {
            Remedy::None => "none",
            Remedy::L1(_) => "l1",
            Remedy::L2(_) => "l2",
            Remedy::Dropout(_) => "dropout",
            Remedy::EarlyStopping(_) => "early_stopping",
            Remedy::LrDecay(_) => "lr_decay",
        }
    }

    /// The strength, as the table shows it.
    fn setting(self) -> String {
        match self {
            Remedy::None => "-".into(),
            Remedy::L1(l1) => format!("l1 = {l1}"),
            Remedy::L2(l2) => format!("l2 = {l2}"),
            Remedy::Dropout(p) => format!("p = {p}"),
            Remedy::EarlyStopping(patience) => format!("patience {patience}"),
            Remedy::LrDecay(gamma) => format!("gamma = {gamma}"),
        }
    }
}

/// The size of the experiment: full or fast.
struct Setup {
    width: usize,
    epochs: usize,
    lr: f64,
    batch_size: usize,
}

/// The wide MLP, always from the same initial weights (seed 0); with `dropout > 0`, a
/// `Dropout` after each hidden layer (it has no weights, so the initial weights are the
/// same).
fn mlp(width: usize, dropout: f64) -> Sequential {
    let mut rng = init::rng(0);
    let mut model = Sequential::new()
        .add(Linear::new(FEATURES, width, &mut rng))
        .add(ReLU);
    if dropout > 0.0 {
        model = model.add(Dropout::new(dropout, 1));
    }
    model = model.add(Linear::new(width, width, &mut rng)).add(ReLU);
    if dropout > 0.0 {
        model = model.add(Dropout::new(dropout, 2));
    }
    model.add(Linear::new(width, 1, &mut rng))
}

/// Adam, with the remedy's penalty: L1 on the whole optimizer, L2 on a parameter group of
/// the weights only (weight decay usually spares the biases).
fn optimizer(model: &Sequential, remedy: Remedy, lr: f64) -> Optimizer<Adam> {
    match remedy {
        Remedy::L1(l1) => {
            Optimizer::new(model.parameters(), Adam::new(lr)).penalty(Penalty::l1(l1))
        }
        Remedy::L2(l2) => {
            let (weights, biases): (Vec<_>, Vec<_>) = model
                .named_parameters()
                .into_iter()
                .partition(|(name, _)| name.ends_with(".weight"));
            let params =
                |named: Vec<(String, Param<f32>)>| named.into_iter().map(|(_, p)| p).collect();
            let groups = vec![
                ParamGroup::new(params(weights)).penalty(Penalty::l2(l2)),
                ParamGroup::new(params(biases)),
            ];
            Optimizer::with_groups(groups, Adam::new(lr))
        }
        _ => Optimizer::new(model.parameters(), Adam::new(lr)),
    }
}

/// How much the first layer listens to the 8 irrelevant features: the mean |weight| on
/// their columns over the mean |weight| on the 2 relevant ones (about 1 at initialisation).
fn irrelevant_weight_ratio(model: &Sequential) -> f64 {
    let (_, first) = model
        .named_parameters()
        .into_iter()
        .find(|(name, _)| name == "0.weight")
        .expect("the first layer is `0`");
    let w = first.value().to_vec();
    let (mut relevant, mut irrelevant) = (0.0, 0.0);
    for (i, v) in w.iter().enumerate() {
        if i % FEATURES < 2 {
            relevant += f64::from(v.abs()) / 2.0;
        } else {
            irrelevant += f64::from(v.abs()) / (FEATURES - 2) as f64;
        }
    }
    irrelevant / relevant
}

/// One trained model and its figures.
struct Trained {
    remedy: Remedy,
    /// The validation MSE after every epoch run.
    val_curve: Vec<f64>,
    /// The training MSE logged by `fit` after every epoch (with dropout on, if any).
    train_curve: Vec<f64>,
    /// The final model's MSE on the training data, in eval mode (dropout off).
    train: f64,
    /// The final model's validation MSE (for early stopping: the restored best epoch's).
    val: f64,
}

impl Trained {
    /// The lowest validation MSE of any epoch, and that epoch, counted from 1 as `fit`
    /// prints them.
    fn best_val(&self) -> (f64, usize) {
        self.val_curve
            .iter()
            .copied()
            .enumerate()
            .map(|(e, v)| (v, e + 1))
            .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a })
    }
}

/// Trains the MLP with `remedy` on `train`, validating on `val` after every epoch.
fn train_with(
    remedy: Remedy,
    setup: &Setup,
    train: &TensorDataset,
    val: &TensorDataset,
    verbose: bool,
) -> (Trained, Sequential) {
    let dropout = if let Remedy::Dropout(p) = remedy {
        p
    } else {
        0.0
    };
    let model = mlp(setup.width, dropout);
    let mut opt = optimizer(&model, remedy, setup.lr);
    // The two remedies that act during training are callbacks.
    let mut stop = match remedy {
        Remedy::EarlyStopping(patience) => Some(
            EarlyStopping::new(MonitorMode::Min)
                .patience(patience)
                .restore_best_weights(true),
        ),
        _ => None,
    };
    // The schedule scales the optimizer's own rate: lr · gamma^epoch.
    let mut decay = match remedy {
        Remedy::LrDecay(gamma) => Some(LrScheduler::new(ExponentialLr { gamma })),
        _ => None,
    };
    let mut callbacks: Vec<&mut dyn Callback> = Vec::new();
    if let Some(stop) = &mut stop {
        callbacks.push(stop);
    }
    if let Some(decay) = &mut decay {
        callbacks.push(decay);
    }
    let options = FitOptions::new()
        .epochs(setup.epochs)
        .batch_size(setup.batch_size)
        .validation(Validation::Data(val.clone()))
        .verbose(verbose);
    let history = fit(
        &model,
        Loss::mse(),
        &mut opt,
        train,
        options,
        &mut callbacks,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // `fit` puts the best weights back when early stopping stops the run; should it run
    // every epoch instead, restore them here (as Keras, it would keep the last ones).
    if let Some(stop) = &stop {
        stop.restore(&model.parameters());
    }
    let mse = |data: &TensorDataset| evaluate(&model, Loss::mse(), data, &mut [], 256)["loss"];
    let trained = Trained {
        remedy,
        val_curve: history.get("val_loss"),
        train_curve: history.get("loss"),
        train: mse(train),
        val: mse(val),
    };
    (trained, model)
}

/// Trains the MLP with the overfitting baseline and each remedy, keeps each remedy's
/// strength with the lowest final validation loss, then scores every kept model once on
/// the test set; plots the validation curves.
pub fn run(run: &Run) -> Report {
    let train = dataset(100, 1);
    let val = dataset(100, 2);
    let test = dataset(run.pick(2000, 200), 3);
    let setup = Setup {
        width: run.pick(256, 32),
        epochs: run.pick(200, 30),
        lr: run.pick(3e-4, 3e-3),
        batch_size: run.pick(20, 25),
    };
    run.say(format!(
        "data: y = x0 + x1^2/2 + N(0, {NOISE}^2) on {FEATURES} uniform features; {} training, \
         {} validation, {} test samples; noise floor (best possible MSE) {:.3}",
        train.len(),
        val.len(),
        test.len(),
        NOISE * NOISE
    ));
    run.say(mlp(setup.width, 0.0).summary(&[1, FEATURES]));

    // The strengths to try, per remedy (fast mode: the middle one only).
    let candidates: Vec<Vec<Remedy>> = vec![
        vec![Remedy::None],
        vec![Remedy::L1(1e-3), Remedy::L1(3e-3), Remedy::L1(1e-2)],
        vec![Remedy::L2(3e-2), Remedy::L2(1e-1), Remedy::L2(3e-1)],
        vec![
            Remedy::Dropout(0.3),
            Remedy::Dropout(0.5),
            Remedy::Dropout(0.7),
        ],
        vec![Remedy::EarlyStopping(run.pick(20, 5))],
        vec![
            Remedy::LrDecay(0.9),
            Remedy::LrDecay(0.95),
            Remedy::LrDecay(0.98),
        ],
    ];
    let mut kept: Vec<(Trained, Sequential)> = Vec::new();
    for options in candidates {
        let options = if run.fast {
            vec![options[options.len() / 2]]
        } else {
            options
        };
        let mut best: Option<(Trained, Sequential)> = None;
        for remedy in options {
            let verbose = run.verbose && remedy == Remedy::None;
            if verbose {
                run.say(
                    "\nthe unregularised model, epoch by epoch: loss keeps falling while \
                     val_loss turns and climbs",
                );
            }
            let (trained, model) = train_with(remedy, &setup, &train, &val, verbose);
            let (best_val, best_epoch) = trained.best_val();
            let ran = trained.val_curve.len();
            let stopped = if ran < setup.epochs {
                format!(" (stopped after epoch {ran})")
            } else {
                String::new()
            };
            run.say(format!(
                "{:<15} {:<15} train MSE {:.4}  val MSE best {best_val:.4} (epoch {best_epoch}), \
                 final {:.4}{stopped}",
                remedy.name(),
                remedy.setting(),
                trained.train,
                trained.val
            ));
            if best.as_ref().is_none_or(|(b, _)| trained.val < b.val) {
                best = Some((trained, model));
            }
        }
        kept.push(best.expect("every remedy has a strength to try"));
    }

    // The choices are made: now, and only now, the test set.
    let mut report = Report::default();
    report.set("noise_floor", f64::from(NOISE * NOISE));
    run.say(format!(
        "\n{:<15} {:<15} {:>9} {:>17} {:>9} {:>9} {:>8}",
        "remedy",
        "kept setting",
        "train MSE",
        "best val (epoch)",
        "final val",
        "test MSE",
        "|w| irr."
    ));
    for (trained, model) in &kept {
        let test_mse = evaluate(model, Loss::mse(), &test, &mut [], 256)["loss"];
        let (best_val, best_epoch) = trained.best_val();
        let ratio = irrelevant_weight_ratio(model);
        run.say(format!(
            "{:<15} {:<15} {:>9.4} {:>9.4} ({best_epoch:>4}) {:>9.4} {test_mse:>9.4} {ratio:>8.2}",
            trained.remedy.name(),
            trained.remedy.setting(),
            trained.train,
            best_val,
            trained.val
        ));
        let key = trained.remedy.key();
        report.set(&format!("{key}_train_mse"), trained.train);
        report.set(&format!("{key}_first_train_mse"), trained.train_curve[0]);
        report.set(&format!("{key}_first_val_mse"), trained.val_curve[0]);
        report.set(&format!("{key}_best_val_mse"), best_val);
        report.set(&format!("{key}_final_val_mse"), trained.val);
        report.set(&format!("{key}_test_mse"), test_mse);
        report.set(&format!("{key}_epochs"), trained.val_curve.len() as f64);
        report.set(&format!("{key}_irrelevant_weight_ratio"), ratio);
    }
    run.say(format!(
        "(|w| irr.: the first layer's mean |weight| on the 8 irrelevant inputs over that on \
         the 2 relevant ones; {:.2} at initialisation)",
        irrelevant_weight_ratio(&mlp(setup.width, 0.0))
    ));

    let trained: Vec<&Trained> = kept.iter().map(|(t, _)| t).collect();
    let svg = run.path("val_loss.svg");
    plot(&svg, &trained, setup.epochs, f64::from(NOISE * NOISE))
        .unwrap_or_else(|e| panic!("cannot draw {}: {e}", svg.display()));
    let csv = run.path("val_loss.csv");
    std::fs::write(&csv, curves_csv(&trained))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", csv.display()));
    run.say(format!(
        "\nnoise floor {:.3}; curves in {} and {}",
        NOISE * NOISE,
        svg.display(),
        csv.display()
    ));
    report
}

/// The validation curves (and the baseline's training curve) as CSV, one row per epoch;
/// empty where a run had stopped.
fn curves_csv(runs: &[&Trained]) -> String {
    let mut out = String::from("epoch,none_train");
    for r in runs {
        out.push_str(&format!(",{}_val", r.remedy.key()));
    }
    out.push('\n');
    let epochs = runs.iter().map(|r| r.val_curve.len()).max().unwrap_or(0);
    for e in 0..epochs {
        out.push_str(&(e + 1).to_string());
        let cell = |v: Option<&f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        out.push_str(&format!(",{}", cell(runs[0].train_curve.get(e))));
        for r in runs {
            out.push_str(&format!(",{}", cell(r.val_curve.get(e))));
        }
        out.push('\n');
    }
    out
}

/// Every run's validation MSE per epoch in one chart, the baseline's training MSE and the
/// noise floor dashed, a circle where early stopping restored the weights.
fn plot(
    path: &Path,
    runs: &[&Trained],
    epochs: usize,
    floor: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let colors = [BLACK, BLUE, RED, GREEN, MAGENTA, RGBColor(230, 140, 0)];
    // Leave out the first few epochs' large losses so the differences show.
    let top = runs
        .iter()
        .flat_map(|r| r.val_curve.iter().skip(epochs / 20 + 1))
        .fold(floor, |a, &b| a.max(b))
        * 1.15;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "validation MSE per epoch: overfitting and five remedies",
            ("sans-serif", 20),
        )
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(1f64..epochs as f64, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("mean squared error")
        .draw()?;
    let points = |v: &[f64]| {
        v.iter()
            .enumerate()
            .map(|(e, &y)| ((e + 1) as f64, y.min(top)))
            .collect::<Vec<_>>()
    };
    chart
        .draw_series(DashedLineSeries::new(
            points(&runs[0].train_curve),
            6,
            4,
            BLACK.stroke_width(1),
        ))?
        .label("none: training MSE (dashed)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    chart
        .draw_series(DashedLineSeries::new(
            vec![(1.0, floor), (epochs as f64, floor)],
            2,
            4,
            RGBColor(120, 120, 120).stroke_width(1),
        ))?
        .label("noise floor (dashed)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(120, 120, 120)));
    for (r, color) in runs.iter().zip(colors) {
        chart
            .draw_series(LineSeries::new(points(&r.val_curve), color.stroke_width(2)))?
            .label(match r.remedy {
                Remedy::None => "none".to_string(),
                remedy => format!("{} ({})", remedy.name(), remedy.setting()),
            })
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        // Early stopping went back to its best epoch: mark the weights it restored.
        if let Remedy::EarlyStopping(_) = r.remedy {
            let (best, epoch) = r.best_val();
            chart.draw_series(std::iter::once(Circle::new(
                (epoch as f64, best),
                6,
                color.stroke_width(2),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    run(&Run::from_args("08_overfitting"));
}
