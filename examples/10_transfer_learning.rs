//! # 10 · Transfer learning
//!
//! What it teaches: reusing what a network learned on one task for another with little
//! data. Train a model on task A, save it to a safetensors file, load it into a fresh
//! model, freeze its lower layers (the body), put a new head in place of the old one and
//! train the head on task B from a few labelled images; then compare with the same
//! architecture trained from scratch on the same images with the same settings.
//!
//! The data: digit images (the bundled 8×8 digits, or MNIST with `--mnist DIR`), split
//! 80/20 with seed 42 into training and test images; the training images are split again,
//! 80% for task A and 20% as the pool task B draws its few labelled images from. Task A:
//! which digit is it (10 classes, every image labelled)? Task B: is the digit odd or
//! even, learnt from only `k` labelled images of each digit. The model is a `Sequential`
//! of two `Sequential`s: the body Flatten → Dense(128, relu) at position 0, and the head
//! Dense(64, relu) → Dense(classes) at position 1. For task B the body is frozen and a
//! new head with 2 outputs replaces task A's. Task A trains for 30 epochs (10 on MNIST)
//! with Adam(3e-3) in batches of 32; on task B both contenders train for 100 epochs with
//! Adam(3e-3) in batches of 16. Nothing is tuned (every setting is fixed in advance), so
//! task B needs no validation data; the test images are scored once per trained model.
//! Each `k` in 1, 2, 5, 10, 20 is drawn 10 times (other images, other initial weights)
//! and the accuracies are averaged.
//!
//! Expect, on the bundled digits: task A test accuracy about 0.97. On task B the
//! transferred body beats the model from scratch at every `k`, by about 6 points with one
//! labelled image per digit (0.86 against 0.80) and about 2 with twenty (0.96 against
//! 0.94): the fewer the labels, the more what the body learnt on task A is worth. With
//! MNIST (the 10,000-image test set in a directory, so 8,000 training images) the gap is
//! wider: task A 0.95, then 0.82 against 0.72 with one image per digit and 0.94 against
//! 0.88 with twenty. The full run takes 5–10 s on 2 cores on the bundled digits and
//! about 50 s on that MNIST set (more with the 60,000 training images); it prints how
//! long it took.
//!
//! Not every split transfers. We also tried task A = digits 0–4 and task B = digits 5–9
//! (the split of Keras' old `mnist_transfer_cnn` example), with this MLP and with a small
//! CNN: on the 8×8 digits the frozen body lost to training from scratch at every `k`; on
//! MNIST the CNN's body gained at most 4 points and the MLP's lost. Features learnt to
//! tell 0–4 apart need not keep what tells 5–9 apart. A body helps when task B needs what
//! task A had to learn; here, which digit it is.
//!
//! Run: `cargo run --release --example 10_transfer_learning` (`--fast` for a few seconds;
//! `--mnist DIR` or `MNIST_DIR=DIR` for MNIST).
//! Writes, in `target/examples/10_transfer_learning/`: `task_a.svg` (task A's training
//! curves), `task_a.safetensors` (the trained task-A model), `shots.svg` (task B's test
//! accuracy against labelled images per digit, both contenders) and `shots.csv` (every
//! draw's accuracies).

#[path = "common/mod.rs"]
pub mod common;

use std::time::Instant;

use common::{Report, Run, accuracy};
use ferrograd::prelude::*;
use rand::seq::SliceRandom;

/// The width of the body's output: the features a head sees.
const FEATURES: usize = 128;

/// The body, the layers task B reuses frozen: Flatten → Dense(128, relu), for
/// `side`×`side` images.
fn body(side: usize, rng: &mut init::StdRng) -> Sequential<f32> {
    Sequential::new()
        .add(Flatten)
        .add(Linear::new(side * side, FEATURES, rng))
        .add(ReLU)
}

/// A head, the layers each task trains for itself: Dense(64, relu) → Dense(`classes`).
fn head(classes: usize, rng: &mut init::StdRng) -> Sequential<f32> {
    Sequential::new()
        .add(Linear::new(FEATURES, 64, rng))
        .add(ReLU)
        .add(Linear::new(64, classes, rng))
}

/// A body at position 0 and a head of `classes` outputs at position 1, from `seed`.
fn model(side: usize, classes: usize, seed: u64) -> Sequential<f32> {
    let mut rng = init::rng(seed);
    let body = body(side, &mut rng);
    Sequential::new().add(body).add(head(classes, &mut rng))
}

/// Task B's labels: 1 for an odd digit, 0 for an even one.
fn odd_or_even(data: &TensorDataset) -> TensorDataset {
    let parity = data.y().classes().iter().map(|d| d % 2).collect();
    TensorDataset::new(data.x().clone(), Targets::Classes(parity))
}

/// `k` images of each digit of `digits`, drawn at random with `seed`, labelled odd or even.
fn few_shot(digits: &TensorDataset, k: usize, seed: u64) -> TensorDataset {
    let labels = digits.y().classes();
    let mut rng = init::rng(seed);
    let mut chosen = Vec::new();
    for digit in 0..10 {
        let mut members: Vec<usize> = (0..digits.len()).filter(|&i| labels[i] == digit).collect();
        members.shuffle(&mut rng);
        chosen.extend_from_slice(&members[..k.min(members.len())]);
    }
    chosen.shuffle(&mut rng);
    odd_or_even(&digits.subset(&chosen))
}

/// Task B's training, the same for both contenders: Adam(3e-3), batches of 16.
fn train_b(model: &Sequential<f32>, data: &TensorDataset, epochs: usize) {
    let mut opt = Optimizer::new(model.parameters(), Adam::new(3e-3));
    let options = FitOptions::new().epochs(epochs).batch_size(16);
    fit(model, CrossEntropy::new(), &mut opt, data, options, &mut []).unwrap();
}

/// The values of every parameter of `module`.
fn values(module: &dyn Module<f32>) -> Vec<Tensor<f32>> {
    module.parameters().iter().map(Param::value).collect()
}

/// One task-B contest with `k` labelled images per digit (draw `draw`): the test
/// accuracies of the task-A body with a new head, and of the same model from scratch.
fn contest(
    saved: &std::path::Path,
    (b_pool, b_test): (&TensorDataset, &TensorDataset),
    (side, k, draw, epochs): (usize, usize, u64, usize),
) -> (f64, f64) {
    let few = few_shot(b_pool, k, 100 + draw);
    let new_head = || head(2, &mut init::rng(200 + draw));

    // Transfer: a fresh model, task A's weights loaded into it (strictly: every name and
    // shape must match the file), the body frozen and a 2-class head in place of the
    // 10-class one. The optimizer is built after `replace`: the new head's parameters are
    // new ones.
    let mut transfer = model(side, 10, 300 + draw);
    transfer.load(saved).unwrap();
    transfer[0].freeze();
    transfer.replace(1, new_head());
    let body_before = values(&transfer[0]);
    train_b(&transfer, &few, epochs);
    assert_eq!(values(&transfer[0]), body_before, "the frozen body moved");

    // Scratch: the same architecture with a random body (and the same new head).
    let mut scratch = model(side, 10, 400 + draw);
    scratch.replace(1, new_head());
    train_b(&scratch, &few, epochs);

    (accuracy(&transfer, b_test), accuracy(&scratch, b_test))
}

/// Task B's test accuracies at one `k`, one per draw.
struct Shots {
    /// Labelled images per digit.
    k: usize,
    /// The frozen task-A body with a new head.
    transfer: Vec<f64>,
    /// The same model from scratch.
    scratch: Vec<f64>,
}

impl Shots {
    /// The transfer accuracies, or the scratch ones.
    fn of(&self, transfer: bool) -> &[f64] {
        if transfer {
            &self.transfer
        } else {
            &self.scratch
        }
    }
}

/// Mean and standard deviation.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Test accuracy on task B against labelled images per digit, both contenders: the mean
/// over the draws, and a band from the worst draw to the best.
fn plot_shots(path: &std::path::Path, rows: &[Shots]) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let lo = rows
        .iter()
        .flat_map(|r| r.transfer.iter().chain(&r.scratch))
        .fold(1.0f64, |a, &b| a.min(b));
    // One column per k, evenly spaced (k = 1, 2, 5, 10, 20).
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "task B (odd or even?): test accuracy against labelled images per digit",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3..n - 0.7, (lo - 0.05).max(0.0)..1.0)?;
    let label = |x: &f64| {
        let i = x.round();
        match rows.get(i as usize) {
            Some(r) if (x - i).abs() < 1e-6 && i >= 0.0 => r.k.to_string(),
            _ => String::new(),
        }
    };
    chart
        .configure_mesh()
        .x_labels(rows.len())
        .x_label_formatter(&label)
        .disable_x_mesh()
        .x_desc("labelled images per digit")
        .y_desc("test accuracy")
        .draw()?;
    let contenders = [
        ("frozen task-A body + new head", true, BLUE),
        ("same model from scratch", false, RED),
    ];
    for (name, transfer, color) in contenders {
        let worst = rows.iter().enumerate().map(|(i, r)| {
            (
                i as f64,
                r.of(transfer).iter().copied().fold(f64::MAX, f64::min),
            )
        });
        let best = rows.iter().enumerate().rev().map(|(i, r)| {
            (
                i as f64,
                r.of(transfer).iter().copied().fold(f64::MIN, f64::max),
            )
        });
        let band: Vec<(f64, f64)> = worst.chain(best).collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.15))))?;
        let means: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i as f64, mean_std(r.of(transfer)).0))
            .collect();
        chart
            .draw_series(LineSeries::new(means.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(means.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Trains task A, saves the model and loads it back, then runs the task-B contests; reports
/// task A's test accuracy and, for each `k`, both contenders' mean task-B test accuracy
/// (`transfer_k10`, `scratch_k10`, ...).
pub fn run(run: &Run) -> Report {
    let start = Instant::now();
    let digits = common::digits(run, 500);
    let side = digits.side;
    // 80% of the training images for task A, 20% as the pool task B draws from.
    let pool_split = train_test_split(digits.train.len(), 0.2, 7, Some(digits.train.y().classes()));
    let a_train = digits.train.subset(&pool_split.train);
    let b_pool = digits.train.subset(&pool_split.test);
    let b_test = odd_or_even(&digits.test);
    run.say(format!(
        "task A (which digit?): {} training images; task B (odd or even?): a few of {} \
         other training images; {} test images for both",
        a_train.len(),
        b_pool.len(),
        digits.test.len()
    ));

    // 1. Task A, with all its labelled images (the last 10% held out to watch).
    let model_a = model(side, 10, 0);
    run.say(model_a.summary(&[1, 1, side, side]));
    let mut opt = Optimizer::new(model_a.parameters(), Adam::new(3e-3));
    let options = FitOptions::new()
        .epochs(run.pick(if side == 8 { 30 } else { 10 }, 5))
        .batch_size(32)
        .metric(metrics::Accuracy::new())
        .validation(Validation::Split(0.1))
        .verbose(run.verbose);
    let history = fit(
        &model_a,
        CrossEntropy::new(),
        &mut opt,
        &a_train,
        options,
        &mut [],
    )
    .unwrap();
    let curves = run.path("task_a.svg");
    history.plot(&curves).unwrap();

    // 2. Save it; 3. load it into a fresh model (other random weights): the same outputs.
    let saved = run.path("task_a.safetensors");
    model_a.save(&saved).unwrap();
    let loaded = model(side, 10, 1);
    loaded.load(&saved).unwrap();
    assert_eq!(
        predict(&loaded, digits.test.x(), 256),
        predict(&model_a, digits.test.x(), 256)
    );
    let a_accuracy = accuracy(&loaded, &digits.test);
    run.say(format!(
        "task A test accuracy {a_accuracy:.3} (the model loaded from {})",
        saved.display()
    ));

    // The model task B trains: the summary counts the frozen body as non-trainable.
    let mut shown = model(side, 10, 1);
    shown.load(&saved).unwrap();
    shown[0].freeze();
    shown.replace(1, head(2, &mut init::rng(1)));
    run.say(shown.summary(&[1, 1, side, side]));

    // 4. Task B: the frozen body with a new head against the same model from scratch.
    let shots: Vec<usize> = run.pick(vec![1, 2, 5, 10, 20], vec![5]);
    let draws = run.pick(10, 1);
    let epochs = run.pick(100, 20);
    run.say(format!(
        "task B: {epochs} epochs of Adam(3e-3) in batches of 16 for both; the labelled \
         images (and the initial weights) drawn {draws} times per k"
    ));
    run.say("labelled per digit   transfer (mean ± std)   scratch (mean ± std)");
    let mut rows = Vec::new();
    let mut report = Report::default();
    report.set("task_a_accuracy", a_accuracy);
    for &k in &shots {
        let (mut transfer, mut scratch) = (Vec::new(), Vec::new());
        for draw in 0..draws as u64 {
            let (t, s) = contest(&saved, (&b_pool, &b_test), (side, k, draw, epochs));
            transfer.push(t);
            scratch.push(s);
        }
        let ((tm, ts), (sm, ss)) = (mean_std(&transfer), mean_std(&scratch));
        run.say(format!(
            "{k:18}   {tm:13.3} ± {ts:.3}   {sm:12.3} ± {ss:.3}"
        ));
        report.set(&format!("transfer_k{k}"), tm);
        report.set(&format!("scratch_k{k}"), sm);
        rows.push(Shots {
            k,
            transfer,
            scratch,
        });
    }

    let mut csv = String::from("k,draw,transfer_accuracy,scratch_accuracy\n");
    for row in &rows {
        for (draw, (t, s)) in row.transfer.iter().zip(&row.scratch).enumerate() {
            csv.push_str(&format!("{},{draw},{t:.4},{s:.4}\n", row.k));
        }
    }
    let table = run.path("shots.csv");
    std::fs::write(&table, csv).unwrap();
    let picture = run.path("shots.svg");
    plot_shots(&picture, &rows).unwrap();
    run.say(format!(
        "\ndata: {}\ntook {:.1} s; task A curves in {}, task B in {} and {}",
        digits.source,
        start.elapsed().as_secs_f64(),
        curves.display(),
        picture.display(),
        table.display()
    ));
    report
}

fn main() {
    run(&Run::from_args("10_transfer_learning"));
}
