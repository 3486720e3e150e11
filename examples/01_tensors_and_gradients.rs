//! # 01 · Tensors and gradients
//!
//! What it teaches: how ferrograd computes derivatives. A `Graph` records every op applied
//! to its `Var`s; `backward` (or `Graph::grad`) replays the record in reverse and returns
//! exact derivatives, not finite-difference estimates. In order:
//!
//! 1. an expression of two scalars, its `backward` and its gradients, then the same for
//!    tensors (the gradient of a least-squares loss against its formula);
//! 2. derivatives of derivatives: `Graph::grad` with `create_graph` records the backward
//!    pass itself, so it can be differentiated again (tanh up to its third derivative);
//! 3. graphs built by ordinary Rust control flow: a `while` loop (Heron's square root,
//!    differentiated through the algorithm) and recursion (`xⁿ` by repeated squaring);
//! 4. `no_grad` and `detach`: computing without recording, and stopping a gradient;
//! 5. the classic activations (sigmoid, tanh, ReLU, leaky ReLU, ELU, GELU, softplus, SiLU)
//!    and their derivatives computed by autograd, checked against the textbook formulas
//!    and plotted.
//!
//! Expect: for f(x, y) = x²y + y + 2 at (3, 4), f = 42, ∂f/∂x = 24 and ∂f/∂y = 10, exactly;
//! tanh's first three derivatives within 1e-15 of their formulas; Heron's loop gives
//! d√a/da = 1/(2√a) to about 1e-16, and x¹³ by recursion d/dx = 13x¹²; the autograd
//! derivatives of the eight activations within about 1e-16 of the closed forms (at most a
//! few ulp: both sides are the same formula evaluated in a different order).
//!
//! Run: `cargo run --release --example 01_tensors_and_gradients` (`--fast` plots fewer
//! points). Writes `target/examples/01_tensors_and_gradients/activations.svg` (each
//! activation in blue, its derivative in red) and `heron.dot`, the graph the loop built
//! (render it with `dot -Tsvg heron.dot -o heron.svg`).

#[path = "common/mod.rs"]
pub mod common;

use common::{Report, Run, max_abs_diff};
use ferrograd::prelude::*;

/// Runs the five parts in turn, printing what each shows, and reports its figures:
/// `f`, `df_dx`, `df_dy`, `lstsq_grad_err`, `tanh_d1_err` .. `tanh_d3_err`,
/// `heron_err`, `heron_steps`, `heron_nodes`, `pow_err`, `pow_nodes`, `stop_grad`, `full_grad`,
/// `max_activation_err` and one `<activation>_err` per activation.
pub fn run(run: &Run) -> Report {
    let mut report = Report::default();
    expression(run, &mut report);
    higher_order(run, &mut report);
    control_flow(run, &mut report);
    no_grad(run, &mut report);
    activations(run, &mut report);
    report
}

/// Part 1: an expression and its gradients.
fn expression(run: &Run, report: &mut Report) {
    run.say("1. An expression and its gradients");
    // A graph records ops; `var` enters a leaf we want the gradient of. Every value is a
    // tensor: `Tensor::scalar` makes one of shape [].
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::scalar(3.0));
    let y = g.var(Tensor::scalar(4.0));
    // Ordinary operators build the graph: f(x, y) = x²y + y + 2. `y` is used twice; its
    // two contributions to the gradient are added up in the backward pass.
    let f = x * x * y + y + 2.0;
    f.backward();
    let (dx, dy) = (x.grad().unwrap().item(), y.grad().unwrap().item());
    run.say(format!(
        "   f(3, 4) = {}, df/dx = {dx} (2xy = 24), df/dy = {dy} (x² + 1 = 10)",
        f.item()
    ));
    report.set("f", f.item());
    report.set("df_dx", dx);
    report.set("df_dy", dy);

    // The same with tensors: the mean squared error of a linear model, L(w) = |Xw − t|²/n,
    // whose gradient is 2Xᵀ(Xw − t)/n. `constant` enters data that needs no gradient.
    let (n, d) = (8, 3);
    let mut rng = init::rng(0);
    let xs = Tensor::<f64>::rand_normal(&[n, d], 0.0, 1.0, &mut rng);
    let t = Tensor::<f64>::rand_normal(&[n, 1], 0.0, 1.0, &mut rng);
    let w0 = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[d, 1]);
    let g = Graph::<f64>::new();
    let w = g.var(w0.clone());
    let residual = g.constant(xs.clone()).matmul(w) - g.constant(t.clone());
    let loss = residual.square().mean();
    loss.backward();
    let autograd = w.grad().unwrap().to_vec();
    // The formula, by hand on plain numbers.
    let (xv, tv, wv) = (xs.to_vec(), t.to_vec(), w0.to_vec());
    let r: Vec<f64> = (0..n)
        .map(|i| (0..d).map(|j| xv[i * d + j] * wv[j]).sum::<f64>() - tv[i])
        .collect();
    let formula: Vec<f64> = (0..d)
        .map(|j| 2.0 / n as f64 * (0..n).map(|i| xv[i * d + j] * r[i]).sum::<f64>())
        .collect();
    let err = max_abs_diff(&autograd, &formula);
    run.say(format!(
        "   least squares: dL/dw = {autograd:.4?}, 2Xᵀ(Xw − t)/n = {formula:.4?}, max |diff| {err:.1e}"
    ));
    report.set("lstsq_grad_err", err);
}

/// Part 2: derivatives of derivatives.
fn higher_order(run: &Run, report: &mut Report) {
    run.say("\n2. Derivatives of derivatives (Graph::grad with create_graph)");
    let g = Graph::<f64>::new();
    let xs = Tensor::linspace(-3.0, 3.0, 61);
    let x = g.var(xs.clone());
    let y = x.tanh();
    // `grad` seeds a non-scalar output with ones, so for an element-wise function it
    // returns the element-wise derivative. `create_graph = true` records the backward pass
    // as ops of the graph: the result is a `Var` that can be differentiated again.
    let d1 = g.grad(&[y], &[x], true)[0].unwrap();
    let d2 = g.grad(&[d1], &[x], true)[0].unwrap();
    // The last derivative is not differentiated again: no need to record it.
    let d3 = g.grad(&[d2], &[x], false)[0].unwrap();
    let t: Vec<f64> = xs.to_vec().iter().map(|x| x.tanh()).collect();
    let formulas: [fn(f64) -> f64; 3] = [
        |t| 1.0 - t * t,
        |t| -2.0 * t * (1.0 - t * t),
        |t| -2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t),
    ];
    for (k, (d, formula)) in [d1, d2, d3].into_iter().zip(formulas).enumerate() {
        let want: Vec<f64> = t.iter().map(|&t| formula(t)).collect();
        let err = max_abs_diff(&d.value().to_vec(), &want);
        let name = ["tanh'", "tanh''", "tanh'''"][k];
        run.say(format!(
            "   {name:8} on [-3, 3] vs its formula: max |diff| {err:.1e}"
        ));
        report.set(&format!("tanh_d{}_err", k + 1), err);
    }
}

/// Heron's method for √a: y ← (y + a/y)/2 until y² is within `tol` of a; returns the
/// root and the number of steps. How many steps run depends on the data, so the graph
/// does too.
fn heron<'g>(a: Var<'g, f64>, tol: f64) -> (Var<'g, f64>, usize) {
    let mut y = a; // a first guess; any positive one converges
    let mut steps = 0;
    while (y.item() * y.item() - a.item()).abs() > tol * a.item() {
        y = (y + a / y) * 0.5;
        steps += 1;
    }
    (y, steps)
}

/// xⁿ by repeated squaring, recursively: x²ᵏ = (xᵏ)², x²ᵏ⁺¹ = x·x²ᵏ.
fn power<'g>(x: Var<'g, f64>, n: u32) -> Var<'g, f64> {
    match n {
        0 => x.graph().scalar(1.0),
        1 => x,
        n if n % 2 == 0 => power(x, n / 2).square(),
        n => x * power(x, n - 1),
    }
}

/// Part 3: graphs built by a loop and by recursion.
fn control_flow(run: &Run, report: &mut Report) {
    run.say("\n3. Graphs built by a loop and by recursion");
    // The loop: differentiate through an algorithm. Only the ops that ran are recorded,
    // so backward follows exactly the iterations this input took.
    let g = Graph::<f64>::new();
    let a = g.var(Tensor::scalar(2.0));
    let (root, steps) = heron(a, 1e-15);
    // The recorded graph: the input and three ops per step (÷, +, ×½).
    let nodes = g.len();
    let dot = run.path("heron.dot");
    std::fs::write(&dot, g.to_dot())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", dot.display()));
    // Backward walks those nodes in reverse, through every iteration the loop ran.
    root.backward();
    let da = a.grad().unwrap().item();
    let want = 0.5 / 2f64.sqrt();
    let heron_err = (da - want).abs();
    run.say(format!(
        "   Heron: √2 ≈ {:.15} after {steps} steps, a graph of {nodes} nodes (drawn in {});\n   \
         d√a/da = {da:.15} (1/(2√a) = {want:.15}), |diff| {heron_err:.1e}",
        root.item(),
        dot.display()
    ));
    report.set("heron_err", heron_err);
    report.set("heron_steps", steps as f64);
    report.set("heron_nodes", nodes as f64);

    // Recursion: the graph's shape follows the call tree (13 = 1101 in binary: three
    // squarings and two multiplications by x).
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::scalar(1.1));
    let y = power(x, 13);
    let nodes = g.len();
    y.backward();
    let dx = x.grad().unwrap().item();
    let want = 13.0 * 1.1f64.powi(12);
    let pow_err = (dx - want).abs() / want;
    run.say(format!(
        "   recursion: 1.1¹³ = {:.6} in a graph of {nodes} nodes; d/dx = {dx:.12} (13x¹² = {want:.12}), relative diff {pow_err:.1e}",
        y.item()
    ));
    report.set("pow_err", pow_err);
    report.set("pow_nodes", nodes as f64);
}

/// Part 4: computing without recording, and stopping a gradient.
fn no_grad(run: &Run, report: &mut Report) {
    run.say("\n4. no_grad and detach");
    let g = Graph::<f64>::new();
    let x = g.var(Tensor::scalar(1.0));
    {
        // Inside the guard ops compute values only: nothing depends on `x` for backward,
        // and no backward rule (nor the values it would keep) is stored. This is how
        // evaluation and inference run.
        let _guard = g.no_grad();
        let y = x.exp() * x;
        run.say(format!(
            "   under no_grad: y = x·eˣ = {:.4}, requires_grad = {}",
            y.item(),
            y.requires_grad()
        ));
    }
    // Recording is back on after the guard is dropped.
    let full = x * x.exp();
    let full_grad = g.grad(&[full], &[x], false)[0].unwrap().item();
    // `detach` makes a value a constant inside a recorded expression: the gradient flows
    // through the first factor only (PyTorch's `x.detach()`, JAX's `stop_gradient`).
    let stopped = x * x.exp().detach();
    let stop_grad = g.grad(&[stopped], &[x], false)[0].unwrap().item();
    run.say(format!(
        "   d(x·eˣ)/dx at 1 = {full_grad:.4} (eˣ + x·eˣ = 2e); with eˣ detached {stop_grad:.4} (e)"
    ));
    report.set("full_grad", full_grad);
    report.set("stop_grad", stop_grad);
}

/// An activation: its name, the op, and the textbook formula of its derivative.
struct Activation {
    name: &'static str,
    f: for<'g> fn(Var<'g, f64>) -> Var<'g, f64>,
    df: fn(f64) -> f64,
}

/// The standard normal density, for GELU's derivative.
fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function Φ: GELU is x·Φ(x).
fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + Float::erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// The eight activations. Kinks follow PyTorch's conventions: relu'(0) = 0,
/// leaky_relu'(0) = slope, elu'(0) = α.
fn activation_list() -> Vec<Activation> {
    vec![
        Activation {
            name: "sigmoid",
            f: |x| x.sigmoid(),
            df: |x| x.sigmoid() * (1.0 - x.sigmoid()),
        },
        Activation {
            name: "tanh",
            f: |x| x.tanh(),
            df: |x| 1.0 - x.tanh() * x.tanh(),
        },
        Activation {
            name: "relu",
            f: |x| x.relu(),
            df: |x| if x > 0.0 { 1.0 } else { 0.0 },
        },
        Activation {
            name: "leaky_relu (0.1)",
            f: |x| x.leaky_relu(0.1),
            df: |x| if x > 0.0 { 1.0 } else { 0.1 },
        },
        Activation {
            name: "elu (α = 1)",
            f: |x| x.elu(1.0),
            df: |x| if x > 0.0 { 1.0 } else { x.exp() },
        },
        Activation {
            name: "gelu",
            f: |x| x.gelu(),
            df: |x| normal_cdf(x) + x * normal_pdf(x),
        },
        Activation {
            name: "softplus",
            f: |x| x.softplus(),
            df: |x| x.sigmoid(),
        },
        Activation {
            name: "silu",
            f: |x| x.silu(),
            df: |x| x.sigmoid() * (1.0 + x * (1.0 - x.sigmoid())),
        },
    ]
}

/// Part 5: the activations and their derivatives, by autograd, against their formulas.
fn activations(run: &Run, report: &mut Report) {
    run.say("\n5. Activations and their derivatives by autograd");
    let points = run.pick(801, 161);
    let xs = Tensor::<f64>::linspace(-4.0, 4.0, points);
    let mut curves = Vec::new();
    let mut worst: f64 = 0.0;
    for act in activation_list() {
        let g = Graph::<f64>::new();
        let x = g.var(xs.clone());
        let y = (act.f)(x);
        // Element-wise: the gradient of the output seeded with ones is f'(x) at each point.
        let dy = g.grad(&[y], &[x], false)[0].unwrap().value().to_vec();
        let want: Vec<f64> = xs.to_vec().iter().map(|&x| (act.df)(x)).collect();
        let err = max_abs_diff(&dy, &want);
        run.say(format!(
            "   {:17} max |autograd − formula| = {err:.1e}",
            act.name
        ));
        let key = act.name.split(' ').next().unwrap();
        report.set(&format!("{key}_err"), err);
        worst = worst.max(err);
        curves.push((act.name, y.value().to_vec(), dy));
    }
    report.set("max_activation_err", worst);
    let path = run.path("activations.svg");
    plot_activations(&path, &xs.to_vec(), &curves)
        .unwrap_or_else(|e| panic!("cannot draw {}: {e}", path.display()));
    run.say(format!(
        "\nlargest difference over all eight: {worst:.1e}; plot in {}",
        path.display()
    ));
}

/// One panel per activation: the function in blue, its autograd derivative in red.
fn plot_activations(
    path: &std::path::Path,
    xs: &[f64],
    curves: &[(&str, Vec<f64>, Vec<f64>)],
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 1100)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((curves.len().div_ceil(2), 2));
    for (area, (name, y, dy)) in areas.iter().zip(curves) {
        let lo = y.iter().chain(dy).copied().fold(f64::INFINITY, f64::min);
        let hi = y
            .iter()
            .chain(dy)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = 0.05 * (hi - lo);
        let mut chart = ChartBuilder::on(area)
            .caption(*name, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(25)
            .y_label_area_size(40)
            .build_cartesian_2d(xs[0]..xs[xs.len() - 1], (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            // Rounded, and `+ 0.0` turns −0 into 0: no "-0.0" tick.
            .y_label_formatter(&|v| format!("{:.1}", (v * 10.0).round() / 10.0 + 0.0))
            .draw()?;
        for (label, values, color) in [("f(x)", y, BLUE), ("f'(x)", dy, RED)] {
            chart
                .draw_series(LineSeries::new(
                    xs.iter().copied().zip(values.iter().copied()),
                    color.stroke_width(2),
                ))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn main() {
    run(&Run::from_args("01_tensors_and_gradients"));
}
