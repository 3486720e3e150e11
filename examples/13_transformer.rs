//! # 13 · Attention: a small Transformer learns to sort
//!
//! What it teaches: a Transformer encoder (`TransformerEncoder`: layers of self-attention
//! and a feed-forward network, each in a residual block behind a `LayerNorm`), token
//! embeddings plus learned positional embeddings (`LearnedPositionalEncoding`), and why
//! attention needs them; per-position classification with cross-entropy over `[N·T, C]`
//! logits; AdamW with a linear warm-up and a cosine decay stepped per batch, in a
//! hand-written loop; and what attention looks at, read from each layer's returned
//! weights (`TransformerEncoder::forward_with_weights`) and drawn as a heatmap.
//!
//! The task, sorting: the input is a sequence of 10 digits drawn uniformly from 0–9 (with
//! repeats); the target at output position `i` is the `i`-th smallest digit. Every output
//! position is a 10-way classification. Chance is 10% per digit and 10⁻¹⁰ per sequence. A
//! baseline that sees no input digits and predicts, at each position, the digit most often
//! there in the training data (small digits first, large last) scores 35.9% of the test
//! digits.
//!
//! The model: Embedding(10, 64) of the digits plus a LearnedPositionalEncoding(10, 64) →
//! a TransformerEncoder of 2 pre-norm layers (`norm_first`: self-attention with 4 heads of
//! 16 features, a feed-forward network of 128 ReLU units, no dropout) and a final
//! LayerNorm → Linear(64, 10) at each position; 69,002 parameters. Self-attention alone
//! cannot tell positions apart (it treats its input as a set), so the same model is
//! trained a second time without the positional embedding: each output is then a function
//! of its own input digit and the set of all of them, and cannot know which sorted
//! position it is asked for. Each model trains with AdamW (lr
//! 3e-3, weight decay 0.01, a linear warm-up over the first 5% of the steps, then a cosine
//! decay to 0, stepped per batch) in batches of 64 for 5 epochs of 20,000 random
//! sequences; the weights kept are those of the epoch with the best exact-match accuracy on
//! 1,000 validation sequences; 2,000 test sequences are scored once, at the end.
//!
//! Expect (full mode, measured with seeds 0, 1 and 2): with positions, 100.0% of the test
//! digits and 99.9–100% of the test sequences exactly right (validation is at 97–98% of
//! sequences after the first epoch); without positions, 27.6–27.7% of the digits and 0% of
//! the sequences: worse than the baseline that ignores the input but knows the position,
//! since the best such a model can do is name the most common digit of the set. About
//! 1½ minutes for both models on 2 cores (84 s wall, 80 s user, seed 0, with other work
//! at a load average of 3 on the machine).
//!
//! Run: `cargo run --release --example 13_transformer` (`--seed N`, default 0, seeds the
//! weights and the batch order; the data is always the same; `--fast` for a few seconds:
//! sequences of 4 digits, a model of 16 features, 960 training sequences, 5 epochs).
//! Writes `target/examples/13_transformer/attention.svg` (SVG only: the workspace's
//! plotters has no bitmap backend; `rsvg-convert -o attention.png attention.svg` makes a
//! PNG): each layer's attention weights, averaged over the heads, on the first test
//! sequence, rows the output positions labelled with the predicted digit, columns the input
//! positions labelled with the input digit, the inputs holding each row's digit outlined.
//! In the second layer each row puts its largest weight on the inputs holding its digit
//! (a repeated digit shares it among its copies) and the rest on digits close in value:
//! each output looks up the digit that belongs there. The first layer's weights are spread
//! almost evenly.

#[path = "common/mod.rs"]
pub mod common;

use std::time::Instant;

use common::{Report, Run};
use ferrograd::prelude::*;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rand::RngExt;

/// The alphabet: digits 0–9.
const DIGITS: usize = 10;

/// The sizes of one run (full or fast).
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Digits per sequence.
    len: usize,
    /// Features per position (`d_model`).
    d_model: usize,
    /// Attention heads per layer.
    heads: usize,
    /// Hidden units of the feed-forward networks.
    ff: usize,
    /// Encoder layers.
    layers: usize,
    /// Training, validation and test sequences.
    n_train: usize,
    n_val: usize,
    n_test: usize,
    /// Epochs and batch size.
    epochs: usize,
    batch: usize,
    /// AdamW's peak learning rate.
    lr: f64,
}

/// `n` random sequences of `len` digits `[n, len]` (as floats, the ids `Embedding` takes)
/// and their sorted digits as the targets `[n, len]`.
fn sorting(n: usize, len: usize, seed: u64) -> TensorDataset {
    let mut rng = init::rng(seed);
    let mut x = Vec::with_capacity(n * len);
    let mut y = Vec::with_capacity(n * len);
    for _ in 0..n {
        let mut digits: Vec<usize> = (0..len).map(|_| rng.random_range(0..DIGITS)).collect();
        x.extend(digits.iter().map(|&d| d as f32));
        digits.sort_unstable();
        y.extend(digits.iter().map(|&d| d as f32));
    }
    TensorDataset::new(
        Tensor::from_vec(x, &[n, len]),
        Targets::Values(Tensor::from_vec(y, &[n, len])),
    )
}

/// The digits of a batch's targets, row after row: the `N·T` labels of `[N·T, C]` logits.
fn labels(y: &Targets) -> Vec<usize> {
    y.values().to_vec().iter().map(|&d| d as usize).collect()
}

/// Digits (and positions) in, a 10-way choice per position out.
#[derive(Module)]
struct Sorter {
    embed: Embedding,
    /// A learned vector per position, added to each digit's; `None` for the model that is
    /// not told where anything is.
    position: Option<LearnedPositionalEncoding>,
    /// Pre-norm layers (`norm_first`), no dropout, a final `LayerNorm`.
    encoder: TransformerEncoder,
    head: Linear,
}

impl Sorter {
    fn new(s: &Sizes, positions: bool, seed: u64) -> Self {
        let mut rng = init::rng(seed);
        let config = TransformerConfig::new(s.d_model, s.heads)
            .dim_feedforward(s.ff)
            .dropout(0.0)
            .norm_first(true);
        Sorter {
            embed: Embedding::new(DIGITS, s.d_model, &mut rng),
            position: positions.then(|| LearnedPositionalEncoding::new(s.d_model, s.len, &mut rng)),
            encoder: TransformerEncoder::new(config, s.layers, &mut rng).with_final_norm(),
            head: Linear::new(s.d_model, DIGITS, &mut rng),
        }
    }

    /// The encoder's input: embedded digits `[N, T]` → `[N, T, d_model]`, plus positions.
    fn embed<'g>(&self, x: Var<'g>) -> Var<'g> {
        let h = self.embed.forward(x);
        match &self.position {
            Some(position) => position.forward(h),
            None => h,
        }
    }

    /// Logits `[N, T, 10]` of digits `[N, T]`.
    fn forward<'g>(&self, x: Var<'g>) -> Var<'g> {
        self.head.forward(self.encoder.forward(self.embed(x)))
    }

    /// Each encoder layer's attention weights on `x`, averaged over the heads, `[N, T, T]`
    /// (PyTorch users read them with a hook on each layer's `self_attn`).
    fn attention<'g>(&self, x: Var<'g>) -> Vec<Var<'g>> {
        let (_, weights) = self
            .encoder
            .forward_with_weights(self.embed(x), MhaOptions::new());
        weights
    }
}

/// Per-digit and exact-match (whole sequence) accuracy of `model` on `data`, and the mean
/// loss; in eval mode, without gradients.
fn score(model: &Sorter, data: &TensorDataset, len: usize) -> (f64, f64, f64) {
    model.eval();
    let (mut loss, mut digits, mut sequences) = (0.0, 0usize, 0usize);
    for batch in DataLoader::new(data.clone(), 500).iter() {
        let g = Graph::new();
        let _no_grad = g.no_grad();
        let logits = model
            .forward(g.constant(batch.x().clone()))
            .reshape(&[-1, DIGITS as isize]);
        let y = labels(batch.y());
        loss += loss::cross_entropy(logits, &y, &CrossEntropy::new()).item() as f64
            * batch.len() as f64;
        let predicted: Vec<usize> = logits.value().argmax(-1).into_iter().collect();
        let right: Vec<bool> = predicted.iter().zip(&y).map(|(p, y)| p == y).collect();
        digits += right.iter().filter(|&&r| r).count();
        sequences += right.chunks(len).filter(|s| s.iter().all(|&r| r)).count();
    }
    model.train();
    let n = data.len() as f64;
    (
        digits as f64 / (n * len as f64),
        sequences as f64 / n,
        loss / n,
    )
}

/// What one training run ends with.
struct Trained {
    model: Sorter,
    /// Training loss per epoch (the mean over its batches).
    train_loss: Vec<f64>,
    /// Test accuracy per digit and per sequence, scored once.
    test_digits: f64,
    test_exact: f64,
    seconds: f64,
}

/// Trains a `Sorter` (with or without positions), keeps the epoch with the best validation
/// exact match, scores the test data once.
fn train(run: &Run, s: &Sizes, positions: bool, data: [&TensorDataset; 3]) -> Trained {
    let [train, val, test] = data;
    let started = Instant::now();
    let model = Sorter::new(s, positions, run.seed);
    let params = model.parameters();
    let mut opt =
        Optimizer::new(params.clone(), Adam::adamw(s.lr)).penalty(Penalty::l2(0.01).decoupled());
    let loader = DataLoader::new(train.clone(), s.batch).shuffle(run.seed);
    let steps = s.epochs * train.len().div_ceil(s.batch);
    let warmup = steps / 20;
    let schedule = Warmup::new(warmup, 0.0, CosineAnnealing::new(steps - warmup, 0.0));
    // Never stops early (patience = the whole run): keeps the best epoch's weights.
    let mut best = EarlyStopping::new(MonitorMode::Max)
        .patience(s.epochs)
        .restore_best_weights(true);
    let mut train_loss = Vec::new();
    let ce = CrossEntropy::new();
    let mut step = 0;
    for epoch in 0..s.epochs {
        let mut total = 0.0;
        let mut batches = 0;
        for batch in loader.iter() {
            opt.set_lr_from(&schedule, step);
            step += 1;
            let g = Graph::new();
            let logits = model
                .forward(g.constant(batch.x().clone()))
                .reshape(&[-1, DIGITS as isize]);
            let loss = loss::cross_entropy(logits, &labels(batch.y()), &ce);
            loss.backward();
            total += loss.item() as f64;
            batches += 1;
            drop(g);
            opt.step();
            opt.zero_grad();
        }
        let (digits, exact, _) = score(&model, val, s.len);
        train_loss.push(total / batches as f64);
        run.say(format!(
            "  epoch {:>2}: training loss {:.4}, validation {:.1}% of digits, {:.1}% of sequences ({:.0} s)",
            epoch + 1,
            total / batches as f64,
            100.0 * digits,
            100.0 * exact,
            started.elapsed().as_secs_f64()
        ));
        best.update(epoch, exact, &params);
    }
    best.restore(&params);
    let (test_digits, test_exact, _) = score(&model, test, s.len);
    Trained {
        model,
        train_loss,
        test_digits,
        test_exact,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The baseline that sees no digits: at each position, the digit most often there in the
/// training targets. Returns its accuracy per digit on `test`.
fn position_baseline(train: &TensorDataset, test: &TensorDataset, len: usize) -> f64 {
    let mut counts = vec![[0usize; DIGITS]; len];
    for (i, d) in labels(train.y()).into_iter().enumerate() {
        counts[i % len][d] += 1;
    }
    let guess: Vec<usize> = counts
        .iter()
        .map(|c| (0..DIGITS).max_by_key(|&d| c[d]).unwrap_or(0))
        .collect();
    let y = labels(test.y());
    let right = y
        .iter()
        .enumerate()
        .filter(|&(i, &d)| guess[i % len] == d)
        .count();
    right as f64 / y.len() as f64
}

/// Trains the model with and without positions, prints the comparison, draws the
/// attention of the first on a test sequence, and reports `digits_with_positions`,
/// `exact_with_positions`, `digits_without_positions`, `exact_without_positions`,
/// `position_baseline`, `chance`, and the first and last epoch's training loss
/// (`first_loss`, `last_loss`) of the model with positions.
pub fn run(run: &Run) -> Report {
    let s = run.pick(
        Sizes {
            len: 10,
            d_model: 64,
            heads: 4,
            ff: 128,
            layers: 2,
            n_train: 20_000,
            n_val: 1_000,
            n_test: 2_000,
            epochs: 5,
            batch: 64,
            lr: 3e-3,
        },
        Sizes {
            len: 4,
            d_model: 16,
            heads: 2,
            ff: 32,
            layers: 2,
            n_train: 960,
            n_val: 100,
            n_test: 200,
            epochs: 5,
            batch: 32,
            lr: 1.5e-2,
        },
    );
    let (train_data, val, test) = (
        sorting(s.n_train, s.len, 1),
        sorting(s.n_val, s.len, 2),
        sorting(s.n_test, s.len, 3),
    );
    run.say(format!(
        "sorting {} digits; {} training, {} validation, {} test sequences; {} epochs; \
         chance 10% per digit",
        s.len, s.n_train, s.n_val, s.n_test, s.epochs
    ));
    let baseline = position_baseline(&train_data, &test, s.len);
    run.say(format!(
        "baseline without the input (the most common digit at each position): {:.1}% of test digits",
        100.0 * baseline
    ));

    let mut report = Report::default();
    report.set("chance", 1.0 / DIGITS as f64);
    report.set("position_baseline", baseline);
    let mut trained = Vec::new();
    for positions in [true, false] {
        let name = if positions {
            "with positions"
        } else {
            "without positions"
        };
        run.say(format!("\nthe Transformer {name}"));
        let t = train(run, &s, positions, [&train_data, &val, &test]);
        run.say(format!(
            "{name}: {} parameters; test {:.1}% of digits, {:.1}% of sequences ({:.0} s)",
            t.model.num_params(),
            100.0 * t.test_digits,
            100.0 * t.test_exact,
            t.seconds
        ));
        let key = name.replace(' ', "_");
        report.set(&format!("digits_{key}"), t.test_digits);
        report.set(&format!("exact_{key}"), t.test_exact);
        report.set(&format!("seconds_{key}"), t.seconds);
        trained.push(t);
    }
    let with = &trained[0];
    report.set("first_loss", with.train_loss[0]);
    report.set("last_loss", with.train_loss[with.train_loss.len() - 1]);
    run.say(format!(
        "\ntest accuracy (chance 10% per digit; position baseline {:.1}%)\n\
         {:>20} {:>8} {:>10}\n{:>20} {:>7.1}% {:>9.1}%\n{:>20} {:>7.1}% {:>9.1}%",
        100.0 * baseline,
        "",
        "digits",
        "sequences",
        "with positions",
        100.0 * with.test_digits,
        100.0 * with.test_exact,
        "without positions",
        100.0 * trained[1].test_digits,
        100.0 * trained[1].test_exact,
    ));

    let picture = run.path("attention.svg");
    draw_attention(&picture, &with.model, &test, &s)
        .unwrap_or_else(|e| panic!("{}: {e}", picture.display()));
    run.say(format!("\nattention weights in {}", picture.display()));
    report
}

/// Each encoder layer's head-averaged attention on the first test sequence, one panel per
/// layer.
fn draw_attention(
    path: &std::path::Path,
    model: &Sorter,
    test: &TensorDataset,
    s: &Sizes,
) -> Result<(), Box<dyn std::error::Error>> {
    let len = s.len;
    let example = test.subset(&[0]);
    model.eval();
    let g = Graph::new();
    let _no_grad = g.no_grad();
    let x = g.constant(example.x().clone());
    let (logits, weights) = (model.forward(x), model.attention(x));
    model.train();
    let input: Vec<usize> = example.x().to_vec().iter().map(|&d| d as usize).collect();
    let output: Vec<usize> = logits.value().argmax(-1).into_iter().collect();
    let panels = weights.len() as u32;
    let root = SVGBackend::new(path, (460 * panels, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    for (b, (area, w)) in root
        .split_evenly((1, weights.len()))
        .iter()
        .zip(&weights)
        .enumerate()
    {
        let w = w.value();
        let t = len as i32;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("layer {} attention (mean of heads)", b + 1),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((0..t - 1).into_segmented(), (0..t - 1).into_segmented())?;
        // Cells of an integer range `0..=t − 1` (plotters includes the end); row i (output
        // position i) is drawn at y = len − 1 − i, so position 0 is on top.
        let centre = |v: &SegmentValue<i32>| match *v {
            SegmentValue::CenterOf(c) if (0..t).contains(&c) => Some(c as usize),
            _ => None,
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(len)
            .y_labels(len)
            .x_label_formatter(&|v| centre(v).map_or(String::new(), |j| input[j].to_string()))
            .y_label_formatter(&|v| {
                centre(v).map_or(String::new(), |y| {
                    let i = len - 1 - y;
                    format!("{i}: {}", output[i])
                })
            })
            .x_desc("input digits, in order")
            .y_desc("output position: predicted digit")
            .draw()?;
        let cells = (0..len).flat_map(|i| (0..len).map(move |j| (i, j)));
        for (i, j) in cells {
            let v = w.get(&[0, i, j]) as f64;
            let shade = (255.0 * (1.0 - v)).round() as u8;
            let (x, y) = (j as i32, (len - 1 - i) as i32);
            let corners = [
                (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
            ];
            chart.draw_series([Rectangle::new(
                corners.clone(),
                RGBColor(shade, shade, 255).filled(),
            )])?;
            // Outlined: the inputs holding the digit this output predicts.
            if input[j] == output[i] {
                chart.draw_series([Rectangle::new(corners, BLACK.stroke_width(2))])?;
            }
            let ink = if v > 0.5 { WHITE } else { BLACK };
            chart.draw_series([Text::new(
                format!("{v:.2}"),
                (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                ("sans-serif", 11)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )])?;
        }
    }
    root.present()?;
    Ok(())
}

fn main() {
    run(&Run::from_args("13_transformer"));
}
