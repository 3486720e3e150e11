//! # 07 · A custom op
//!
//! What it teaches: how to add a differentiable op of your own, outside the library, and
//! prove its backward rule right, the way ferrograd checks its own ops. The example to copy
//! when you need an op ferrograd does not have.
//!
//! The op is squareplus (Barron, 2021), a smooth ReLU built from a square root instead of
//! an exponential: `squareplus(x) = (x + √(x² + b)) / 2`, with derivative
//! `(1 + x/√(x² + b)) / 2`. In order:
//!
//! 1. the op, written with `Graph::custom_op`: a forward function on tensors (computed
//!    stably) and a backward rule written with `Var` ops, so it can be differentiated twice;
//! 2. its checks: known values, then `gradcheck` (first derivatives) and `gradgradcheck`
//!    (second derivatives) against finite differences in f64, inside `proptest!` on random
//!    shapes and values drawn with the strategies of `ferrograd::autograd::testing`;
//! 3. the checks catching two deliberately wrong rules: one that drops the factor ½
//!    (`gradcheck` fails), and one that computes the right slope on plain tensors, so its
//!    first derivative is right but its second is lost (`gradcheck` passes, `gradgradcheck`
//!    fails); proptest shrinks each failure to a small input;
//! 4. the op as a layer (`Lambda`) in a classifier on the two-moons data, trained by `fit`
//!    through the custom backward rule, and scored once on a held-out test set.
//!
//! Expect: squareplus(0) = 1 (b = 4) and squareplus(3) = 3.5 (b = 7); 64 random cases pass
//! both checks; both wrong rules are caught and shrunk to a single number (without the ½,
//! `gradcheck: input 0 element []: analytic 4.62e-1 vs numeric 2.31e-1`; with the constant
//! slope, `gradcheck` passes and `gradgradcheck` reports `analytic 0e0 vs numeric 1.19e-1`);
//! the classifier's training loss falls from about 0.41 to 0.10 in 60 epochs, with about
//! 96.6% validation and 97.8% test accuracy (the moons overlap a little at noise 0.2).
//!
//! Run: `cargo run --release --example 07_custom_op` (`--fast` for a few seconds). Writes
//! `target/examples/07_custom_op/loss.svg`. The same checks as a `#[test]` of your own
//! crate are in the `tests` module at the end of this file (they need the dev-dependencies
//! `proptest` and `ferrograd` with its `testing` feature).

#[path = "common/mod.rs"]
pub mod common;

use common::{Report, Run};
use ferrograd::autograd::testing::{self, check_gradgrads, check_grads};
use ferrograd::data::synthetic::make_moons;
use ferrograd::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{TestError, TestRng, TestRunner};

// ---------------------------------------------------------------------------------------
// 1. The op.
// ---------------------------------------------------------------------------------------

/// Squareplus: `(x + √(x² + b)) / 2`, element-wise; `b > 0` sets how round the corner at 0
/// is (b = 4 in the paper; b → 0 gives ReLU).
///
/// Backward: `grad · (1 + x/√(x² + b)) / 2`. Saves the input (the rule reads `x`).
///
/// The op is generic over the float type: the checks run it in f64, the model in f32.
pub fn squareplus<'g, T: Float>(x: Var<'g, T>, b: f64) -> Var<'g, T> {
    let b = T::from_f64(b);
    let half = T::from_f64(0.5);
    // `custom_op` records the op in `x`'s graph: a name (for error messages, `summary` and
    // `to_dot`), the inputs, the forward function and the backward rule.
    x.graph().custom_op(
        "squareplus",
        &[x],
        // Forward: from the inputs' values (plain tensors) to the output's value. For
        // x < 0 the textbook form subtracts two nearly equal numbers (x = −1000 gives
        // 0.002 from −1000 + 1000.002), so there we use the same value rewritten as
        // b / (2(√(x² + b) − x)), which has no cancellation.
        move |v| {
            v[0].map(move |a| {
                let root = (a * a + b).sqrt();
                if a >= T::zero() {
                    (a + root) * half
                } else {
                    b * half / (root - a)
                }
            })
        },
        // Backward: receives the gradient flowing into the output (`grad`) and returns one
        // gradient per input, with the input's shape (`None` for an input that gets none).
        // It is written with `Var` ops on `ctx.input(0)`, so when a second derivative is
        // asked for (`create_graph`), this rule is itself recorded and differentiated.
        move |ctx, grad| {
            let x = ctx.input(0);
            let slope = (x / (x.square() + b).sqrt() + T::one()) * half;
            grads![Some(grad * slope)]
        },
    )
}

// ---------------------------------------------------------------------------------------
// 3. Two wrong rules, to see the checks fail. (Part 2 is in `check_the_op`.)
// ---------------------------------------------------------------------------------------

/// The forward of squareplus for the wrong variants (the textbook form is fine here: the
/// checks draw values in [−5, 5]).
fn forward_f64(v: &[Tensor<f64>], b: f64) -> Tensor<f64> {
    v[0].map(move |a| 0.5 * (a + (a * a + b).sqrt()))
}

/// Wrong: forgets the factor ½, an easy slip when deriving by hand.
fn squareplus_no_half<'g>(x: Var<'g, f64>, b: f64) -> Var<'g, f64> {
    x.graph().custom_op(
        "squareplus_no_half",
        &[x],
        move |v| forward_f64(v, b),
        move |ctx, grad| {
            let x = ctx.input(0);
            grads![Some(grad * (x / (x.square() + b).sqrt() + 1.0))]
        },
    )
}

/// Wrong in a subtler way: the slope is right, but computed on plain numbers and entered
/// as a constant, so the rule is invisible to a second differentiation (the second
/// derivative comes out as 0). A fused kernel like this is fine only as a fast path when
/// `ctx.is_recording()` is false, with the `Var` form above when it is true.
fn squareplus_constant_slope<'g>(x: Var<'g, f64>, b: f64) -> Var<'g, f64> {
    x.graph().custom_op(
        "squareplus_constant_slope",
        &[x],
        move |v| forward_f64(v, b),
        move |ctx, grad| {
            let slope = ctx
                .input(0)
                .value()
                .map(move |a| 0.5 * (1.0 + a / (a * a + b).sqrt()));
            grads![Some(grad * ctx.graph().constant(slope))]
        },
    )
}

/// The test inputs: a shape of rank 0 to `max_rank` (dims 1 to 4) with values in
/// [−5, 5], and `b` in [0.5, 4]. Squareplus is smooth everywhere, so no kink needs
/// avoiding (for an op with one, such as `abs` at 0, draw with `testing::tensor_away_from`).
fn inputs(max_rank: usize) -> impl Strategy<Value = (Tensor<f64>, f64)> {
    (
        testing::tensor(testing::shape_of_rank(max_rank), -5.0..5.0),
        0.5..4.0,
    )
}

/// Runs `check` on `cases` inputs from a fixed seed and returns the failure proptest shrank
/// to, if any: its message, the input's shape and `b`.
fn first_failure(
    cases: u32,
    max_rank: usize,
    check: impl Fn(Tensor<f64>, f64) -> Result<(), TestCaseError>,
) -> Option<(String, Vec<usize>, f64)> {
    let config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    match runner.run(&inputs(max_rank), |(x, b)| check(x, b)) {
        Ok(()) => None,
        Err(TestError::Fail(reason, (x, b))) => Some((reason.to_string(), x.shape().to_vec(), b)),
        Err(e) => panic!("{e}"),
    }
}

/// Parts 2 and 3: known values, the property tests, and the wrong rules caught.
fn check_the_op(run: &Run, report: &mut Report) {
    run.say("Checking squareplus");
    // Known values, by hand: (0 + √4)/2 = 1 with b = 4, (3 + √16)/2 = 3.5 with b = 7, and
    // far to the left b/(2(√(x² + b) − x)) ≈ b/(4|x|) = 1e-3 at x = −1000.
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::from_vec(vec![0.0, 3.0, -1000.0], &[3]));
    let y = squareplus(x, 4.0).value().to_vec();
    let y7 = squareplus(x, 7.0).value().to_vec();
    run.say(format!(
        "   squareplus(0) = {} (b = 4), squareplus(3) = {} (b = 7), squareplus(−1000) = {:.9e} (b = 4; ≈ b/(4|x|) = 1e-3)",
        y[0], y7[1], y[2]
    ));
    report.set("value_at_0", y[0]);
    report.set("value_at_3_b7", y7[1]);
    report.set("value_at_minus_1000", y[2]);

    // The property test: for every drawn input, the first and second derivatives match
    // central finite differences in f64 (PyTorch's tolerances: eps 1e-6, atol 1e-5,
    // rtol 1e-3). `gradcheck` scalarises the output with random weights, so an error that
    // a plain sum would cancel still shows. A failure panics with the shrunk input.
    let (cases, max_rank) = run.pick((64, 4), (8, 2));
    // (No regression file: an example has no crate root next to it to keep one in.)
    let config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    };
    proptest!(config, |((x, b) in inputs(max_rank))| {
        check_grads(|v| squareplus(v[0], b), std::slice::from_ref(&x))?;
        check_gradgrads(|v| squareplus(v[0], b), &[x])?;
    });
    run.say(format!(
        "   gradcheck and gradgradcheck: {cases} random cases (rank 0 to {max_rank}) pass"
    ));
    report.set("cases_passed", cases as f64);

    // The same property test on the wrong rules, run by a `TestRunner` so that the failure
    // comes back as a value to print rather than a panic.
    let no_half = first_failure(cases, max_rank, |x, b| {
        check_grads(|v| squareplus_no_half(v[0], b), &[x])
    });
    let constant_first = first_failure(cases, max_rank, |x, b| {
        check_grads(|v| squareplus_constant_slope(v[0], b), &[x])
    });
    let constant_second = first_failure(cases, max_rank, |x, b| {
        check_gradgrads(|v| squareplus_constant_slope(v[0], b), &[x])
    });
    let show = |f: &Option<(String, Vec<usize>, f64)>| match f {
        None => "passes".to_string(),
        Some((reason, shape, b)) => {
            format!("caught; shrunk to shape {shape:?}, b = {b:.3}:\n      {reason}")
        }
    };
    run.say(format!("   without the ½, gradcheck: {}", show(&no_half)));
    run.say(format!(
        "   with a constant slope, gradcheck: {}",
        show(&constant_first)
    ));
    run.say(format!(
        "   with a constant slope, gradgradcheck: {}",
        show(&constant_second)
    ));
    report.set("no_half_caught", no_half.is_some() as u8 as f64);
    report.set(
        "constant_slope_first_caught",
        constant_first.is_some() as u8 as f64,
    );
    report.set(
        "constant_slope_second_caught",
        constant_second.is_some() as u8 as f64,
    );
}

// ---------------------------------------------------------------------------------------
// 4. The op in a model.
// ---------------------------------------------------------------------------------------

/// Trains Linear(2, 32) → squareplus → Linear(32, 32) → squareplus → Linear(32, 2) on the
/// two moons, choosing nothing on the test set, and scores it once.
fn train_a_model(run: &Run, report: &mut Report) {
    run.say("\nA classifier with squareplus activations");
    let n = run.pick(2000, 200);
    let data = make_moons::<f32>(n, 0.2, 0);
    let split = train_test_split(n, 0.2, 42, Some(data.y().classes()));
    let (train, test) = (data.subset(&split.train), data.subset(&split.test));

    // `Lambda` turns a function of one `Var` into a layer without parameters: the custom op
    // goes into a `Sequential` like a built-in activation (and shows in `summary` by name).
    // b = 1, a sharper corner than the paper's 4, chosen on validation accuracy (b = 4:
    // 95.9%; b = 1 and b = 0.25: 96.6%; ReLU in its place: 96.6%). With b = 4 the units
    // stay closer to linear over the first layer's range and learn more slowly.
    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Linear::new(2, 32, &mut rng))
        .add(Lambda::new("squareplus", |x| squareplus(x, 1.0)))
        .add(Linear::new(32, 32, &mut rng))
        .add(Lambda::new("squareplus", |x| squareplus(x, 1.0)))
        .add(Linear::new(32, 2, &mut rng));
    run.say(model.summary(&[1, 2]));

    // `fit` calls the backward rule above for every batch; the last 20% of the training
    // data is held out for validation (nothing here uses the test set).
    let epochs = run.pick(60, 15);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.01));
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(32)
        .metric(metrics::Accuracy::new())
        .validation(Validation::Split(0.2))
        .verbose(run.verbose);
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &train,
        options,
        &mut [],
    )
    .unwrap();
    let plot = run.path("loss.svg");
    history.plot(&plot).unwrap();

    // The test set, scored once.
    let logs = evaluate(
        &model,
        CrossEntropy::new(),
        &test,
        &mut [&mut metrics::Accuracy::new()],
        256,
    );
    let loss = history.get("loss");
    let val_accuracy = history.get("val_accuracy");
    report.set("first_loss", loss[0]);
    report.set("final_loss", loss[epochs - 1]);
    report.set("final_val_accuracy", val_accuracy[epochs - 1]);
    report.set("test_accuracy", logs["accuracy"]);
    run.say(format!(
        "\ntraining loss {:.3} -> {:.3}; validation accuracy {:.1}%; test accuracy {:.1}% ({} samples); curves in {}",
        loss[0],
        loss[epochs - 1],
        100.0 * val_accuracy[epochs - 1],
        100.0 * logs["accuracy"],
        test.len(),
        plot.display()
    ));
}

/// Checks squareplus (known values, property tests, the wrong rules caught), then trains a
/// classifier with it. Reports `value_at_0`, `value_at_3_b7`, `value_at_minus_1000`,
/// `cases_passed`, `no_half_caught`, `constant_slope_first_caught`,
/// `constant_slope_second_caught` (1 if the check failed the rule, 0 if it passed it),
/// `first_loss`, `final_loss`, `final_val_accuracy` and `test_accuracy`.
pub fn run(run: &Run) -> Report {
    let mut report = Report::default();
    check_the_op(run, &mut report);
    train_a_model(run, &mut report);
    report
}

fn main() {
    run(&Run::from_args("07_custom_op"));
}

/// The checks as they go in a test file of your own crate (`tests/squareplus.rs`, with
/// `squareplus` imported): `cargo test` runs them. Here they run with the example's test,
/// `cargo test --test ex07_custom_op`.
#[cfg(test)]
mod tests {
    use super::squareplus;
    use ferrograd::autograd::testing::{self, check_gradgrads, check_grads};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn squareplus_grad_matches_finite_diff(
            x in testing::tensor(testing::shape_of_rank(3), -5.0..5.0),
            b in 0.5..4.0f64,
        ) {
            check_grads(|v| squareplus(v[0], b), &[x])?;
        }

        #[test]
        fn squareplus_gradgrad_matches_finite_diff(
            x in testing::tensor(testing::shape_of_rank(3), -5.0..5.0),
            b in 0.5..4.0f64,
        ) {
            check_gradgrads(|v| squareplus(v[0], b), &[x])?;
        }
    }
}
