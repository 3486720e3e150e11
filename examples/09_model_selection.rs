//! # 09 · Model selection
//!
//! What it teaches: how to choose hyperparameters without fooling yourself. Stratified
//! k-fold cross-validation (`StratifiedKFold`, `cross_validate`) estimates how well one
//! setting generalises, as a mean ± standard deviation over folds; a grid search and a
//! random search (`ferrograd::data::search`) compare settings of the learning rate and the
//! hidden width by that estimate; the chosen setting is retrained on all the training data
//! and scored once on a test set that no choice saw.
//!
//! The data: the bundled 8×8 digits (1,797 images), split 80/20 with seed 42 and
//! stratified, as the other digit examples: 1,437 training images (everything below is
//! chosen on them) and 360 test images (scored once, at the end). It always uses the
//! bundled digits, even given `--mnist`: cross-validated search trains over a hundred
//! models, which on MNIST would take far longer than a tutorial should.
//!
//! The model: Flatten → Dense(width, relu) → Dense(10), Adam, cross-entropy, 10 epochs in
//! batches of 32, from the same initial weights (seed 0) in every fit. Each setting is
//! scored by its accuracy on the held-out fold of each of 5 stratified folds (seed 0), so
//! every setting sees the same folds.
//!
//! 1. Cross-validation of one setting (lr 10⁻², width 64): five fold accuracies and their
//!    mean ± std.
//! 2. Grid search: every combination of lr ∈ {10⁻³, 3·10⁻³, 10⁻², 3·10⁻²} and width ∈
//!    {16, 64, 256}, 12 settings, each cross-validated.
//! 3. Random search: 12 settings drawn with lr log-uniform in [10⁻⁴, 10⁻¹) and width uniform
//!    in 8..=256, each cross-validated. With the same budget it tries 12 learning rates and
//!    12 widths where the grid tries 4 and 3 (Bergstra & Bengio, 2012).
//! 4. The best setting of either search (highest mean cross-validated accuracy) is
//!    retrained on all 1,437 training images and scored once on the 360 test images.
//!
//! Expect (full mode; about 10–20 s on 2 cores; the last digits move a little from machine
//! to machine):
//!
//! - one setting: 0.963 ± 0.016 over 5 folds (fold accuracies from 0.937 to 0.983);
//! - the grid: from 0.891 (lr 10⁻³, width 16) to 0.968 ± 0.014 (lr 3·10⁻³, width 256);
//!   wide layers win, a small rate starves a 10-epoch run, and the top three settings lie
//!   within 0.002 of each other: a tie, far inside the ± (the spread over folds);
//! - the random search: from 0.863 to 0.965 ± 0.008 (lr 1.8·10⁻², width 249); most of its
//!   draws land on small rates, so its best is about as good as the grid's, not better;
//! - the choice: lr 3·10⁻³, width 256 (the grid's best), retrained on all 1,437 images:
//!   test accuracy about 0.969, in line with the cross-validated estimate (the final model
//!   has 25% more data than each fold's, so it may come out a little higher).
//!
//! The ± is the spread of the fold scores. Every setting sees the same folds, and some folds
//! are harder than others (fold 4 is the hardest for almost every setting), so compare settings
//! fold by fold (the columns of the table), not only by whether their ± ranges overlap.
//!
//! Run: `cargo run --release --example 09_model_selection` (`--fast` for a few seconds: 200
//! training images, 3 folds, a 2×2 grid, 3 random settings of width ≤ 64, 3 epochs). Writes,
//! in `target/examples/09_model_selection/`, `search.csv` (every setting tried, with its
//! fold scores) and `search.svg` (each setting's cross-validated accuracy against its
//! learning rate: a line per width of the grid, a dot per random setting).

#[path = "common/mod.rs"]
pub mod common;

use std::fmt::Write as _;

use common::{Report, Run, accuracy};
use ferrograd::data::search::{
    Dist, Grid, Params, SearchResults, SearchRow, grid_search_cv, random_search_cv,
};
use ferrograd::prelude::*;

/// The size of the experiment: full or fast.
struct Setup {
    folds: usize,
    epochs: usize,
}

/// A fresh MLP of the given hidden width, from seed 0.
fn mlp(width: usize) -> Sequential {
    let mut rng = init::rng(0);
    Sequential::new()
        .add(Flatten)
        .add(Linear::new(64, width, &mut rng))
        .add(ReLU)
        .add(Linear::new(width, 10, &mut rng))
}

/// Trains a fresh MLP with learning rate `lr` and hidden width `width` on `train`; returns
/// the model.
fn train_mlp(train: &TensorDataset, lr: f64, width: usize, epochs: usize) -> Sequential {
    let model = mlp(width);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(lr));
    let options = FitOptions::new().epochs(epochs).batch_size(32);
    fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        train,
        options,
        &mut [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    model
}

/// Trains on `fold.train` (indices into `data`) with the setting `params` and returns the
/// accuracy on `fold.test`, the held-out part of the fold: what cross-validation averages.
fn fit_and_score(data: &TensorDataset, params: &Params, fold: &Fold, epochs: usize) -> f64 {
    let model = train_mlp(
        &data.subset(&fold.train),
        params.f64("lr"),
        params.usize("width"),
        epochs,
    );
    accuracy(&model, &data.subset(&fold.test))
}

/// A search's table, best first: each setting's mean accuracy ± its standard deviation over
/// the folds, and the fold accuracies.
fn table(results: &SearchResults) -> String {
    let mut out = format!(
        "{:>4}  {:>9}  {:>5}  {:>17}  fold accuracies\n",
        "rank", "lr", "width", "accuracy"
    );
    for (i, row) in results.rows.iter().enumerate() {
        let cv = row.cv.as_ref().expect("the searches are cross-validated");
        let folds: Vec<String> = cv.scores.iter().map(|s| format!("{s:.3}")).collect();
        writeln!(
            out,
            "{:>4}  {:>9.2e}  {:>5}  {:.4} ± {:.4}  {}",
            i + 1,
            row.params.f64("lr"),
            row.params.usize("width"),
            cv.mean,
            cv.std,
            folds.join(" ")
        )
        .expect("writing to a String cannot fail");
    }
    out
}

/// Every row of a search as CSV: the search, the setting, the mean, std and fold scores.
fn write_rows(csv: &mut String, search: &str, results: &SearchResults) {
    for row in &results.rows {
        let cv = row.cv.as_ref().expect("the searches are cross-validated");
        let folds: Vec<String> = cv.scores.iter().map(|s| format!("{s:.4}")).collect();
        writeln!(
            csv,
            "{search},{},{},{:.4},{:.4},{}",
            row.params.f64("lr"),
            row.params.usize("width"),
            cv.mean,
            cv.std,
            folds.join(";")
        )
        .expect("writing to a String cannot fail");
    }
}

/// Cross-validated accuracy against the learning rate (log scale): one line per width of
/// the grid, and the random search's settings as dots labelled with their width.
fn plot_search(
    path: &std::path::Path,
    grid: &SearchResults,
    random: &SearchResults,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let point = |row: &SearchRow| (row.params.f64("lr"), row.score);
    let all: Vec<(f64, f64)> = grid.rows.iter().chain(&random.rows).map(point).collect();
    let (left, right) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, r), p| (l.min(p.0), r.max(p.0)));
    let low = all.iter().map(|p| p.1).fold(1.0, f64::min);
    let root = SVGBackend::new(path, (760, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "cross-validated accuracy by learning rate and width",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (left / 1.5..right * 1.5).log_scale(),
            (low - 0.02).max(0.0)..1.0,
        )?;
    chart
        .configure_mesh()
        .x_desc("learning rate")
        .y_desc("mean accuracy over the folds")
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    let mut widths: Vec<usize> = grid.rows.iter().map(|r| r.params.usize("width")).collect();
    widths.sort_unstable();
    widths.dedup();
    for (&width, color) in widths.iter().zip([RED, GREEN, BLUE, MAGENTA, CYAN]) {
        let mut line: Vec<(f64, f64)> = grid
            .rows
            .iter()
            .filter(|r| r.params.usize("width") == width)
            .map(point)
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(format!("grid, width {width}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(line.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .draw_series(random.rows.iter().map(|r| {
            let at = point(r);
            EmptyElement::at(at)
                + Circle::new((0, 0), 4, BLACK.stroke_width(1))
                + Text::new(
                    r.params.usize("width").to_string(),
                    (6, -12),
                    ("sans-serif", 12),
                )
        }))?
        .label("random search (labelled with its width)")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, BLACK.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Cross-validates one setting, runs a grid and a random search over the learning rate and
/// the width, retrains the best setting on all the training data and scores it once on the
/// test set.
pub fn run(run: &Run) -> Report {
    // The bundled digits even if `--mnist` was given (see the header).
    let digits = common::bundled_digits(run, 200);
    let (train, test) = (digits.train, digits.test);
    let setup = Setup {
        folds: run.pick(5, 3),
        epochs: run.pick(10, 3),
    };
    // The same stratified folds for every setting: each keeps the digits' proportions.
    let folds = StratifiedKFold::new(setup.folds)
        .shuffle(0)
        .folds(train.y().classes());
    let score = |params: &Params, fold: &Fold| fit_and_score(&train, params, fold, setup.epochs);
    let mut report = Report::default();

    // 1. One setting, cross-validated.
    let one = Grid::new()
        .add("lr", [1e-2])
        .add("width", [64usize])
        .points();
    run.say(format!(
        "\n1. {}-fold stratified cross-validation of lr = 0.01, width = 64",
        setup.folds
    ));
    let cv = cross_validate(&folds, |i, fold| {
        let acc = score(&one[0], fold);
        run.say(format!(
            "   fold {i}: trained on {}, accuracy {acc:.4} on the other {}",
            fold.train.len(),
            fold.test.len()
        ));
        acc
    });
    run.say(format!("   accuracy {cv}"));
    report.set("cv_mean", cv.mean);
    report.set("cv_std", cv.std);

    // 2. A grid search.
    let grid = if run.fast {
        Grid::new()
            .add("lr", [1e-3, 1e-2])
            .add("width", [16usize, 64])
    } else {
        Grid::new()
            .add("lr", [1e-3, 3e-3, 1e-2, 3e-2])
            .add("width", [16usize, 64, 256])
    };
    let n_grid = grid.points().len();
    run.say(format!(
        "\n2. grid search: {n_grid} settings x {} folds",
        setup.folds
    ));
    let grid_results = grid_search_cv(&grid, &folds, score);
    run.say(table(&grid_results));

    // 3. A random search with the same budget (fast mode: a little less, narrower).
    let max_width = run.pick(256, 64);
    let space = [
        ("lr", Dist::LogUniform(1e-4, 1e-1)),
        ("width", Dist::IntRange(8, max_width as i64)),
    ];
    let n_random = run.pick(n_grid, 3);
    run.say(format!(
        "3. random search: {n_random} settings x {} folds (lr log-uniform in [1e-4, 1e-1), \
         width in 8..={max_width}, seed 0)",
        setup.folds
    ));
    let random_results = random_search_cv(&space, n_random, 0, &folds, score);
    run.say(table(&random_results));

    let mut csv = String::from("search,lr,width,mean_accuracy,std,fold_accuracies\n");
    write_rows(&mut csv, "grid", &grid_results);
    write_rows(&mut csv, "random", &random_results);
    let csv_path = run.path("search.csv");
    std::fs::write(&csv_path, csv)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", csv_path.display()));
    let picture = run.path("search.svg");
    plot_search(&picture, &grid_results, &random_results)
        .unwrap_or_else(|e| panic!("cannot draw {}: {e}", picture.display()));

    // 4. The choice, made on cross-validation alone; then the test set, once.
    let (grid_best, random_best) = (grid_results.best(), random_results.best());
    let (winner, best) = if random_best.score > grid_best.score {
        ("random", random_best)
    } else {
        ("grid", grid_best)
    };
    let best_cv = best.cv.as_ref().expect("cross-validated");
    let (lr, width) = (best.params.f64("lr"), best.params.usize("width"));
    run.say(format!(
        "4. best setting: lr = {lr:.2e}, width = {width} from the {winner} search, \
         cross-validated accuracy {best_cv}"
    ));
    let model = train_mlp(&train, lr, width, setup.epochs);
    let test_accuracy = accuracy(&model, &test);
    run.say(format!(
        "   retrained on all {} training images: test accuracy {test_accuracy:.4} on {} images \
         never used for a choice",
        train.len(),
        test.len()
    ));
    run.say(format!(
        "   every setting tried, with its fold scores: {}; plotted in {}",
        csv_path.display(),
        picture.display()
    ));

    report.set("grid_best_cv", grid_best.score);
    report.set("random_best_cv", random_best.score);
    report.set(
        "grid_worst_cv",
        grid_results.rows.last().map_or(f64::NAN, |r| r.score),
    );
    report.set("best_lr", lr);
    report.set("best_width", width as f64);
    report.set("best_cv_mean", best_cv.mean);
    report.set("best_cv_std", best_cv.std);
    report.set("test_accuracy", test_accuracy);
    report
}

fn main() {
    run(&Run::from_args("09_model_selection"));
}
