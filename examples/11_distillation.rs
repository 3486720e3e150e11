//! # 11 · Knowledge distillation
//!
//! What it teaches: training a small student network from a larger teacher's softened
//! outputs (Hinton et al.'s knowledge distillation), against the same student trained on
//! labels alone. The teacher's logits go beside the labels as a second target
//! (`TensorDataset::with_target(Targets::Values(logits))`) and the student trains with
//! `Loss::distillation(temperature, alpha)`: `alpha` times the cross-entropy on the labels
//! plus `1 − alpha` times `T²·KL(softmax(teacher/T) ‖ softmax(student/T))`.
//!
//! The story: someone trained a teacher on their labelled digits; you have digit images
//! of your own, only 10 of each digit labelled, and want a model 10 times smaller. The
//! data are digit images (the bundled 8×8 digits; MNIST with `--mnist DIR`) split 80/20
//! with seed 42 into training and test images. 20% of the training images are held out
//! for validation (early stopping, and choosing the temperature and `alpha`); half of the
//! rest is the teacher's labelled set, the other half yours, the transfer set, of which
//! the first 10 images of each digit are labelled. The teacher is a CNN, Conv(16, 3×3) →
//! MaxPool → Conv(32, 3×3) → MaxPool → Dense(64) → Dense(10) (13,706 parameters on 8×8
//! images); the student an MLP, Dense(16, relu) → Dense(10) (1,210). Each trains with
//! Adam(3e-3) in batches of 32 and stops when its validation accuracy has not improved
//! for a while (8 epochs for the teacher, 20 for a student, at most 100 and 400 epochs),
//! keeping its best weights. Every student starts from the same initial weights for a
//! given seed. Three students, each trained from 5 seeds:
//!
//! 1. labels only: the 100 labelled images and their labels;
//! 2. the teacher's top class: every transfer image, labelled with its label where you
//!    have one and with the teacher's top class elsewhere (plain cross-entropy);
//! 3. distilled: the same labels plus the teacher's logits, `Loss::distillation(T,
//!    alpha)` with `T` in {1, 2, 4, 8} and `alpha` in {0, 0.5} chosen by the mean
//!    validation accuracy over the seeds.
//!
//! For reference, a fourth student sees every transfer image with its true label, which
//! this story does not have. (The validation images carry labels too, as any honest
//! choice needs; no student trains on them, so they count for choosing, not for learning.) The test images are scored once per trained model; accuracies
//! are means over the seeds, and "agreement" is how often a student's top class on the
//! test images is the teacher's.
//!
//! Expect, on the bundled digits: the teacher about 0.96; the student on labels alone
//! about 0.88; with the teacher's top class about 0.95; distilled about 0.95 (validation
//! picks T = 1, alpha = 0.5), next to the reference student with every label (about
//! 0.96). Distillation beats labels alone by about 7 points, but be clear where that comes
//! from: almost all of it is the teacher labelling the images you could not label. Its
//! softened outputs add under a point over its top class (0.953 against 0.946), within
//! the noise of a 360-image test set (one image is 0.28 points). With MNIST (the
//! 10,000-image test set in a directory) they add nothing: labels alone 0.76, the top
//! class 0.92, distilled 0.92 (T = 2), the reference 0.91, the teacher 0.97; this student
//! is too small to copy more of its teacher. The full run takes about 10 s on 2 cores on
//! the bundled digits, about 3 minutes on that MNIST set (far longer with MNIST's 60,000
//! training images, not measured), and prints how long it took.
//!
//! Run: `cargo run --release --example 11_distillation` (`--fast` for a few seconds;
//! `--mnist DIR` or `MNIST_DIR=DIR` for MNIST).
//! Writes, in `target/examples/11_distillation/`: `teacher.svg` (the teacher's training
//! curves) and `students.svg` (each student's validation accuracy per epoch, first seed).

#[path = "common/mod.rs"]
pub mod common;

use std::time::Instant;

use common::{Report, Run};
use ferrograd::prelude::*;

/// The teacher: a small CNN for `side`×`side` images.
fn teacher(side: usize) -> Sequential<f32> {
    let mut rng = init::rng(0);
    let same = ConvOptions::new().padding(1);
    Sequential::new()
        .add(Conv2d::new(1, 16, 3, same, &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(16, 32, 3, same, &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(Linear::new(32 * (side / 4) * (side / 4), 64, &mut rng))
        .add(ReLU)
        .add(Linear::new(64, 10, &mut rng))
}

/// The student: Flatten → Dense(16, relu) → Dense(10), from `seed`.
fn student(side: usize, seed: u64) -> Sequential<f32> {
    let mut rng = init::rng(100 + seed);
    Sequential::new()
        .add(Flatten)
        .add(Linear::new(side * side, 16, &mut rng))
        .add(ReLU)
        .add(Linear::new(16, 10, &mut rng))
}

/// Trains `model` with `loss` on `data` for at most `max_epochs`, stopping when the
/// validation accuracy on `val` has not improved for `patience` epochs, and keeps the best
/// epoch's weights.
fn train(
    model: &Sequential<f32>,
    loss: impl Into<Loss<f32>>,
    (data, val): (&TensorDataset, &TensorDataset),
    (max_epochs, patience): (usize, usize),
    verbose: bool,
) -> History {
    let mut opt = Optimizer::new(model.parameters(), Adam::new(3e-3));
    let mut stop = EarlyStopping::new(MonitorMode::Max)
        .monitor("val_accuracy")
        .patience(patience)
        .restore_best_weights(true);
    let options = FitOptions::new()
        .epochs(max_epochs)
        .batch_size(32)
        .metric(metrics::Accuracy::new())
        .validation(Validation::Data(val.clone()))
        .verbose(verbose);
    let history = fit(model, loss, &mut opt, data, options, &mut [&mut stop]).unwrap();
    // A run that used every epoch keeps its last weights: put the best back.
    stop.restore(&model.parameters());
    history
}

/// The best validation accuracy of a run (the epoch whose weights were kept).
fn best_val(history: &History) -> f64 {
    history.get("val_accuracy").into_iter().fold(0.0, f64::max)
}

/// The top class of each row of `logits`.
fn top_class(logits: &Tensor<f32>) -> Vec<usize> {
    logits.argmax(-1).into_iter().collect()
}

/// A trained student's test figures: accuracy, and agreement with the teacher.
fn score(model: &Sequential<f32>, test: &TensorDataset, teacher_top: &[usize]) -> (f64, f64) {
    let top = top_class(&predict(model, test.x(), 256));
    let n = top.len() as f64;
    let right = top.iter().zip(test.y().classes()).filter(|(a, b)| a == b);
    let agree = top.iter().zip(teacher_top).filter(|(a, b)| a == b);
    (right.count() as f64 / n, agree.count() as f64 / n)
}

/// The mean of `values`.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// One kind of student, trained from every seed.
struct Students {
    /// What it learns from.
    name: String,
    /// One model per seed.
    models: Vec<Sequential<f32>>,
    /// Their training histories.
    histories: Vec<History>,
}

impl Students {
    /// Trains one student per seed with `loss` on `data`.
    fn train(
        name: &str,
        side: usize,
        seeds: usize,
        loss: impl Fn() -> Loss<f32>,
        data: (&TensorDataset, &TensorDataset),
        limits: (usize, usize),
    ) -> Students {
        let (mut models, mut histories) = (Vec::new(), Vec::new());
        for seed in 0..seeds as u64 {
            let model = student(side, seed);
            histories.push(train(&model, loss(), data, limits, false));
            models.push(model);
        }
        Students {
            name: name.to_string(),
            models,
            histories,
        }
    }

    /// The mean best validation accuracy over the seeds.
    fn val_accuracy(&self) -> f64 {
        mean(&self.histories.iter().map(best_val).collect::<Vec<_>>())
    }

    /// Mean test accuracy and mean agreement with the teacher over the seeds: the test
    /// images scored once per model.
    fn test(&self, test: &TensorDataset, teacher_top: &[usize]) -> (f64, f64) {
        let scores: Vec<(f64, f64)> = self
            .models
            .iter()
            .map(|m| score(m, test, teacher_top))
            .collect();
        (
            mean(&scores.iter().map(|s| s.0).collect::<Vec<_>>()),
            mean(&scores.iter().map(|s| s.1).collect::<Vec<_>>()),
        )
    }
}

/// Each student's validation accuracy per epoch (first seed) and the teacher's best as a
/// line.
fn plot_students(
    path: &std::path::Path,
    students: &[&Students],
    teacher_val: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let curves: Vec<Vec<f64>> = students
        .iter()
        .map(|s| s.histories[0].get("val_accuracy"))
        .collect();
    let epochs = curves.iter().map(Vec::len).max().unwrap_or(2).max(2);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "validation accuracy of each student (first seed)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1.0..epochs as f64, 0.5..1.0)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("validation accuracy")
        .draw()?;
    let colors = [RED, GREEN, BLUE, BLACK];
    for ((s, curve), color) in students.iter().zip(&curves).zip(colors) {
        // The first epochs of the slowest student start below the frame.
        let points = curve
            .iter()
            .enumerate()
            .filter(|(_, v)| **v >= 0.5)
            .map(|(e, &v)| (e as f64 + 1.0, v));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    let grey = RGBColor(128, 128, 128);
    chart
        .draw_series(LineSeries::new(
            [(1.0, teacher_val), (epochs as f64, teacher_val)],
            grey.stroke_width(1),
        ))?
        .label("the teacher's best")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Trains the teacher, then the three students (and the reference one) from each seed,
/// choosing the temperature and `alpha` on validation data; reports the test accuracies
/// (`teacher_accuracy`, `labels_only_accuracy`, `top_class_accuracy`,
/// `distilled_accuracy`, `all_labels_accuracy`) and each student's agreement with the
/// teacher (`labels_only_agreement`, `distilled_agreement`, ...).
pub fn run(run: &Run) -> Report {
    let start = Instant::now();
    let digits = common::digits(run, 600);
    let side = digits.side;
    let held_out = train_test_split(digits.train.len(), 0.2, 1, Some(digits.train.y().classes()));
    let val = digits.train.subset(&held_out.test);
    let rest = digits.train.subset(&held_out.train);
    let halves = train_test_split(rest.len(), 0.5, 2, Some(rest.y().classes()));
    let teacher_set = rest.subset(&halves.train);
    let transfer = rest.subset(&halves.test);
    // Your labelled images: the first 10 of each digit in the transfer set.
    let per_digit = 10;
    let truth = transfer.y().classes();
    let labelled_rows: Vec<usize> = (0..10)
        .flat_map(|d| {
            (0..truth.len())
                .filter(move |&i| truth[i] == d)
                .take(per_digit)
        })
        .collect();
    let labelled = transfer.subset(&labelled_rows);
    run.say(format!(
        "teacher's labelled set {}; transfer set {} ({} of them labelled); validation {}; \
         test {}",
        teacher_set.len(),
        transfer.len(),
        labelled.len(),
        val.len(),
        digits.test.len()
    ));

    // 1. The teacher, on its own labelled images.
    let teacher = teacher(side);
    run.say(teacher.summary(&[1, 1, side, side]));
    run.say(student(side, 0).summary(&[1, 1, side, side]));
    let history = train(
        &teacher,
        CrossEntropy::new(),
        (&teacher_set, &val),
        run.pick((100, 8), (6, 3)),
        run.verbose,
    );
    let curves = run.path("teacher.svg");
    history.plot(&curves).unwrap();
    let teacher_top = top_class(&predict(&teacher, digits.test.x(), 256));
    let teacher_accuracy = score(&teacher, &digits.test, &teacher_top).0;

    // 2. Its logits on the transfer set (and on the validation images, for the
    // validation loss) become a second target beside the labels; where you have no label,
    // its top class stands in.
    let logits = predict(&teacher, transfer.x(), 256);
    let mut labels = top_class(&logits);
    for &i in &labelled_rows {
        labels[i] = truth[i];
    }
    let teacher_right = top_class(&logits)
        .iter()
        .zip(truth)
        .filter(|(a, b)| a == b)
        .count();
    run.say(format!(
        "the teacher's top class is right on {teacher_right} of the {} transfer images",
        transfer.len()
    ));
    let top_class_data = TensorDataset::new(transfer.x().clone(), Targets::Classes(labels));
    let distill_data = top_class_data.clone().with_target(Targets::Values(logits));
    let val_logits = predict(&teacher, val.x(), 256);
    let distill_val = val.clone().with_target(Targets::Values(val_logits));

    // 3. The students, every one from the same initial weights for a given seed.
    let seeds = run.pick(5, 1);
    let limits = run.pick((400, 20), (15, 5));
    let ce = || Loss::from(CrossEntropy::new());
    run.say(format!(
        "\ntraining the students, {seeds} of each kind (quietly)..."
    ));
    let labels_only = Students::train(
        "labels only (100 labelled)",
        side,
        seeds,
        ce,
        (&labelled, &val),
        limits,
    );
    let top_class_students = Students::train(
        "the teacher's top class",
        side,
        seeds,
        ce,
        (&top_class_data, &val),
        limits,
    );
    let grid: Vec<(f64, f64)> = run.pick(
        vec![1.0, 2.0, 4.0, 8.0]
            .into_iter()
            .flat_map(|t| [(t, 0.0), (t, 0.5)])
            .collect(),
        vec![(2.0, 0.5)],
    );
    run.say("\ndistillation, chosen on validation accuracy (mean over the seeds):");
    let mut distilled: Option<(f64, f64, Students)> = None;
    for (t, alpha) in grid {
        let students = Students::train(
            &format!("distilled (T = {t}, alpha = {alpha})"),
            side,
            seeds,
            || Loss::distillation(t, alpha),
            (&distill_data, &distill_val),
            limits,
        );
        run.say(format!(
            "  T = {t}, alpha = {alpha}: validation accuracy {:.3}",
            students.val_accuracy()
        ));
        if distilled
            .as_ref()
            .is_none_or(|d| students.val_accuracy() > d.2.val_accuracy())
        {
            distilled = Some((t, alpha, students));
        }
    }
    let (t, alpha, distilled) = distilled.expect("a non-empty grid");
    run.say(format!("chosen: T = {t}, alpha = {alpha}"));
    let all_labels = Students::train(
        "reference: every transfer label",
        side,
        seeds,
        ce,
        (&transfer, &val),
        limits,
    );

    // 4. The test images, scored once per trained model.
    let mut report = Report::default();
    report.set("teacher_accuracy", teacher_accuracy);
    run.say(format!(
        "\ntest accuracy (mean over {seeds} seed(s)); agreement with the teacher's top class\n\
         {:40} {teacher_accuracy:.3}",
        "teacher"
    ));
    for (key, students) in [
        ("labels_only", &labels_only),
        ("top_class", &top_class_students),
        ("distilled", &distilled),
        ("all_labels", &all_labels),
    ] {
        let (accuracy, agreement) = students.test(&digits.test, &teacher_top);
        report.set(&format!("{key}_accuracy"), accuracy);
        report.set(&format!("{key}_agreement"), agreement);
        run.say(format!(
            "{:40} {accuracy:.3}   {agreement:.3}",
            students.name
        ));
    }

    let picture = run.path("students.svg");
    let best_teacher = best_val(&history);
    plot_students(
        &picture,
        &[&labels_only, &top_class_students, &distilled, &all_labels],
        best_teacher,
    )
    .unwrap();
    run.say(format!(
        "\ndata: {}\ntook {:.1} s; curves in {} and {}",
        digits.source,
        start.elapsed().as_secs_f64(),
        curves.display(),
        picture.display()
    ));
    report
}

fn main() {
    run(&Run::from_args("11_distillation"));
}
