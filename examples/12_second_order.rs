//! # 12 · Second-order methods
//!
//! What it teaches: what second derivatives buy, and how to get them from autograd
//! without deriving anything by hand. Because ferrograd's backward pass is built from
//! ordinary ops, it can be recorded (`create_graph`) and differentiated again: that gives
//! Hessians (`functional::hessian`) and Hessian-vector products (`functional::hvp`, or two
//! `Graph::grad` calls by hand), the tools behind Newton's method.
//!
//! 1. Logistic regression (5 features of different scales, 1,000 samples, a small L2
//!    penalty) fitted three ways from zero: Newton's method with the exact Hessian
//!    (`functional::hessian`), Newton's method with Hessian-vector products only (each step
//!    solved by conjugate gradients over `functional::hvp`: no matrix formed, the way it
//!    scales to large models), and gradient descent with the classical step 1/L. The
//!    autograd Hessian is checked against its formula `Xᵀ diag(p(1 − p)) X / n + λI`.
//! 2. A small network (1 → 16 → 1, tanh) fitted to a sine: the Hessian-vector product of
//!    its loss with respect to all 49 parameters, by double backward on the model's own
//!    parameters, checked against finite differences of gradients; then its largest
//!    Hessian eigenvalue by power iteration on HVPs (the curvature that bounds a stable
//!    gradient-descent step: lr < 2/λmax).
//!
//! Expect: Newton's method reaches the minimum (every gradient element below 1e-10) in 6
//! iterations, the loss falling 0.693 → 0.449 → 0.416 → 0.41279 → 0.4127302 → 0.412730234
//! (the digits gained double each step: quadratic convergence); Newton-CG takes the same
//! 6 steps with 42 Hessian-vector products in all; gradient descent needs about 1,200
//! iterations to come within 1e-8 of the same loss. The fit scores about 79% on 500
//! held-out samples, as the weights that generated the labels do (the labels are noisy);
//! the autograd Hessian equals its formula to about 1e-15. The network's HVP agrees with
//! finite differences of gradients to about 3e-11 (relative to its largest element), and
//! its largest Hessian eigenvalue is about 12.5, so full-batch gradient descent there is
//! stable only for lr < 0.16.
//!
//! Run: `cargo run --release --example 12_second_order` (`--fast` for a few seconds).
//! Writes `target/examples/12_second_order/convergence.svg` (loss above the minimum against
//! iterations, both on log scales, for the three methods).

#[path = "common/mod.rs"]
pub mod common;

use common::{Report, Run, max_abs_diff};
use ferrograd::autograd::functional::{func, hessian, hvp};
use ferrograd::prelude::*;

// ---------------------------------------------------------------------------------------
// Part 1: logistic regression.
// ---------------------------------------------------------------------------------------

/// The L2 penalty λ/2·|θ|²: small, so the fit is close to maximum likelihood, and it keeps
/// the Hessian positive definite.
const LAMBDA: f64 = 1e-3;

/// The weights that generate the labels; the last is the bias.
const TRUE_WEIGHTS: [f64; 6] = [1.0, -0.5, 2.0, 0.3, -1.0, 0.2];

/// `n` samples of 5 Gaussian features scaled by 1, 2, 0.5, 4 and 1, plus a column of ones
/// (the bias), and labels drawn from the logistic model with fixed weights. The labels
/// are noisy (drawn, not thresholded), so the classes overlap and the minimum is finite.
fn logistic_data(n: usize, seed: u64) -> (Tensor<f64>, Tensor<f64>) {
    let scales = [1.0, 2.0, 0.5, 4.0, 1.0];
    let w = TRUE_WEIGHTS;
    let mut rng = init::rng(seed);
    let z = Tensor::<f64>::rand_normal(&[n, 5], 0.0, 1.0, &mut rng).to_vec();
    let u = Tensor::<f64>::rand_uniform(&[n], 0.0, 1.0, &mut rng).to_vec();
    let mut x = Vec::with_capacity(n * 6);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let row: Vec<f64> = (0..5)
            .map(|j| z[i * 5 + j] * scales[j])
            .chain([1.0])
            .collect();
        let logit: f64 = row.iter().zip(w).map(|(a, b)| a * b).sum();
        y.push(if u[i] < logit.sigmoid() { 1.0 } else { 0.0 });
        x.extend(row);
    }
    (Tensor::from_vec(x, &[n, 6]), Tensor::from_vec(y, &[n]))
}

/// The penalised logistic loss `mean(softplus(Xθ) − y·Xθ) + λ/2·|θ|²` (the stable form of
/// the binary cross-entropy on logits), as a function of `θ` in any graph: the
/// form `functional::hessian` and `functional::hvp` take.
fn logistic_loss<'g>(theta: Var<'g, f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> Var<'g, f64> {
    let g = theta.graph();
    let logits = g.constant(x.clone()).matmul(theta);
    let nll = (logits.softplus() - logits * g.constant(y.clone())).mean();
    nll + theta.square().sum() * (0.5 * LAMBDA)
}

/// The loss and its gradient at `theta`: one forward and one backward pass.
fn loss_and_grad(theta: &Tensor<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> (f64, Vec<f64>) {
    let g = Graph::new();
    let t = g.var(theta.clone());
    let loss = logistic_loss(t, x, y);
    let grad = g.grad(&[loss], &[t], false)[0].unwrap().value().to_vec();
    (loss.item(), grad)
}

/// Solves `H·d = b` for a symmetric positive definite `H` (`n × n`, row-major) by Cholesky.
fn solve_spd(h: &[f64], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = h[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            l[i * n + j] = if i == j {
                assert!(s > 0.0, "the Hessian is not positive definite");
                s.sqrt()
            } else {
                s / l[j * n + j]
            };
        }
    }
    // L·z = b, then Lᵀ·d = z.
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i * n + k] * z[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut d = vec![0.0; n];
    for i in (0..n).rev() {
        d[i] = (z[i] - (i + 1..n).map(|k| l[k * n + i] * d[k]).sum::<f64>()) / l[i * n + i];
    }
    d
}

/// Solves `H·d = b` by conjugate gradients, touching `H` only through `hv(v) = H·v`: the
/// Hessian is never formed. Stops when the residual is below `1e-12·|b|`.
fn conjugate_gradients(hv: impl Fn(&[f64]) -> Vec<f64>, b: &[f64]) -> (Vec<f64>, usize) {
    let mut d = vec![0.0; b.len()];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let tol = 1e-24 * rr;
    let mut products = 0;
    while rr > tol && products < 10 * b.len() {
        let hp = hv(&p);
        products += 1;
        let alpha = rr / dot(&p, &hp);
        for i in 0..d.len() {
            d[i] += alpha * p[i];
            r[i] -= alpha * hp[i];
        }
        let next = dot(&r, &r);
        for i in 0..p.len() {
            p[i] = r[i] + next / rr * p[i];
        }
        rr = next;
    }
    (d, products)
}

/// How a Newton step is solved.
#[derive(Clone, Copy)]
enum Solver {
    /// Form the Hessian with `functional::hessian` and solve by Cholesky.
    Hessian,
    /// Conjugate gradients on `functional::hvp`.
    Hvp,
}

/// Newton's method from θ = 0 until the gradient's largest element is below 1e-10 (at
/// most 50 steps): θ ← θ − H⁻¹∇L. Returns the loss at each iterate (the first at θ = 0),
/// the final θ, and how many Hessian-vector products the CG solver used in all.
fn newton(x: &Tensor<f64>, y: &Tensor<f64>, solver: Solver) -> (Vec<f64>, Tensor<f64>, usize) {
    // The functionals take the loss as a closure over the `Var`s of a graph they build:
    // here, the loss as a function of θ alone. `func` lets a closure kept in a variable be
    // passed to them more than once.
    let objective = func(|v| logistic_loss(v[0], x, y));
    let mut theta = Tensor::zeros(&[x.shape()[1]]);
    let mut losses = Vec::new();
    let mut products = 0;
    for _ in 0..=50 {
        let (loss, grad) = loss_and_grad(&theta, x, y);
        losses.push(loss);
        if grad.iter().all(|g| g.abs() < 1e-10) {
            break;
        }
        let step = match solver {
            Solver::Hessian => {
                let h = hessian(objective, &theta);
                solve_spd(&h.to_vec(), &grad)
            }
            Solver::Hvp => {
                let shape = theta.shape().to_vec();
                let hv = |v: &[f64]| {
                    let v = Tensor::from_vec(v.to_vec(), &shape);
                    let inputs = std::slice::from_ref(&theta);
                    let (_, hv) = hvp(objective, inputs, &[v]);
                    hv[0].to_vec()
                };
                let (step, used) = conjugate_gradients(hv, &grad);
                products += used;
                step
            }
        };
        let next: Vec<f64> = theta
            .to_vec()
            .iter()
            .zip(&step)
            .map(|(t, s)| t - s)
            .collect();
        theta = Tensor::from_vec(next, theta.shape());
    }
    (losses, theta, products)
}

/// Gradient descent from θ = 0 with step `lr` until the loss is within `gap` of `target`,
/// at most `max_steps` steps. Returns the loss at each iterate.
fn gradient_descent(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    lr: f64,
    target: f64,
    gap: f64,
    max_steps: usize,
) -> Vec<f64> {
    let mut theta = vec![0.0; x.shape()[1]];
    let mut losses = Vec::new();
    for _ in 0..=max_steps {
        let (loss, grad) = loss_and_grad(&Tensor::from_vec(theta.clone(), &[theta.len()]), x, y);
        losses.push(loss);
        if loss - target < gap {
            break;
        }
        for (t, g) in theta.iter_mut().zip(grad) {
            *t -= lr * g;
        }
    }
    losses
}

/// Part 1: the three solvers on logistic regression, and the Hessian against its formula.
fn logistic_regression(run: &Run, report: &mut Report) {
    let n = run.pick(1000, 100);
    let (x, y) = logistic_data(n, 0);
    let (x_test, y_test) = logistic_data(500, 1);
    run.say(format!(
        "1. Logistic regression: {n} samples, 5 features scaled by 1, 2, 0.5, 4, 1, λ = {LAMBDA}"
    ));

    let (newton_losses, theta, _) = newton(&x, &y, Solver::Hessian);
    let best = newton_losses[newton_losses.len() - 1];
    run.say("   Newton (exact Hessian):");
    for (k, loss) in newton_losses.iter().enumerate() {
        run.say(format!(
            "     iteration {k}: loss {loss:.12}, above the minimum by {:.1e}",
            loss - best
        ));
    }
    let newton_iters = newton_losses.len() - 1;

    // The Hessian of this loss has a closed form; autograd's must match it.
    let objective = func(|v| logistic_loss(v[0], &x, &y));
    let h = hessian(objective, &theta).to_vec();
    let (xv, tv) = (x.to_vec(), theta.to_vec());
    let d = tv.len();
    let mut hessian_err: f64 = 0.0;
    for j in 0..d {
        for k in 0..d {
            let sum: f64 = (0..n)
                .map(|i| {
                    let row = &xv[i * d..(i + 1) * d];
                    let p = row
                        .iter()
                        .zip(&tv)
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                        .sigmoid();
                    p * (1.0 - p) * row[j] * row[k]
                })
                .sum();
            let formula = sum / n as f64 + if j == k { LAMBDA } else { 0.0 };
            hessian_err = hessian_err.max((h[j * d + k] - formula).abs());
        }
    }
    run.say(format!(
        "   autograd Hessian vs Xᵀdiag(p(1 − p))X/n + λI at the minimum: max |diff| {hessian_err:.1e}"
    ));

    let (cg_losses, cg_theta, products) = newton(&x, &y, Solver::Hvp);
    let cg_iters = cg_losses.len() - 1;
    let cg_gap = max_abs_diff(&cg_theta.to_vec(), &tv);
    run.say(format!(
        "   Newton-CG (Hessian-vector products only): {cg_iters} iterations, {products} HVPs, \
         loss {:.12}; |θ − θ_newton| ≤ {cg_gap:.1e}",
        cg_losses[cg_iters]
    ));

    // Gradient descent with the classical step 1/L, L the largest curvature the loss can
    // have: p(1 − p) ≤ 1/4, so the Hessian at θ = 0 (where p = 1/2) bounds it everywhere.
    let h0 = hessian(objective, &Tensor::zeros(&[d])).to_vec();
    let lipschitz = largest_eigenvalue(|v| mat_vec(&h0, v), d, 100);
    let cap = run.pick(50_000, 2_000);
    let gap = 1e-8;
    let gd_losses = gradient_descent(&x, &y, 1.0 / lipschitz, best, gap, cap);
    let gd_iters = gd_losses.len() - 1;
    let gd_loss = gd_losses[gd_iters];
    let reached = if gd_loss - best < gap {
        format!("came within {gap:.0e} of it after {gd_iters} iterations")
    } else {
        format!(
            "is still {:.1e} above it after {gd_iters} iterations",
            gd_loss - best
        )
    };
    run.say(format!(
        "   gradient descent (lr = 1/L = {:.3}): after {newton_iters} iterations the loss is {:.6} \
         (Newton's: {best:.6}); it {reached}",
        1.0 / lipschitz,
        gd_losses[newton_iters.min(gd_iters)]
    ));

    // The test set, scored once, with the Newton fit; and, for reference, the accuracy of
    // the weights that generated the labels (the best a linear rule can expect here).
    let test_accuracy = accuracy(&x_test, &y_test, &tv);
    let true_accuracy = accuracy(&x_test, &y_test, &TRUE_WEIGHTS);
    run.say(format!(
        "   test accuracy of the fit: {:.1}% on {} held-out samples (the generating weights: {:.1}%)",
        100.0 * test_accuracy,
        y_test.numel(),
        100.0 * true_accuracy
    ));

    let path = run.path("convergence.svg");
    let series = [
        ("Newton", newton_losses.as_slice()),
        ("Newton-CG", cg_losses.as_slice()),
        ("gradient descent", gd_losses.as_slice()),
    ];
    plot_convergence(&path, &series, best)
        .unwrap_or_else(|e| panic!("cannot draw {}: {e}", path.display()));
    run.say(format!("   convergence plotted in {}", path.display()));

    report.set("newton_iters", newton_iters as f64);
    report.set("newton_loss", best);
    report.set("initial_loss", newton_losses[0]);
    report.set("hessian_err", hessian_err);
    report.set("newton_cg_iters", cg_iters as f64);
    report.set("newton_cg_hvps", products as f64);
    report.set("newton_cg_theta_err", cg_gap);
    report.set("gd_iters", gd_iters as f64);
    report.set("gd_gap", gd_loss - best);
    report.set("test_accuracy", test_accuracy);
    report.set("true_weights_accuracy", true_accuracy);
}

/// The fraction of samples whose label the sign of `x·θ` gets right.
fn accuracy(x: &Tensor<f64>, y: &Tensor<f64>, theta: &[f64]) -> f64 {
    let xv = x.to_vec();
    let rows = xv.chunks(theta.len());
    let right = rows
        .zip(y.to_vec())
        .filter(|(row, label)| (dot(row, theta) > 0.0) == (*label > 0.5))
        .count();
    right as f64 / y.numel() as f64
}

/// Loss above the minimum against iterations, log–log (iteration k is drawn at k + 1).
fn plot_convergence(
    path: &std::path::Path,
    series: &[(&str, &[f64])],
    best: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    // Differences below 1e-16 are rounding: drawn at the floor.
    let floor = 1e-16;
    let longest = series.iter().map(|(_, l)| l.len()).max().unwrap_or(1) as f64;
    let top = series
        .iter()
        .flat_map(|(_, l)| l.iter().map(|v| v - best))
        .fold(floor, f64::max);
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "logistic regression: loss above the minimum",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (1f64..longest * 1.2).log_scale(),
            (floor..top * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("iteration k, drawn at k + 1 (log scale)")
        .y_desc("L(θ) − L(θ*)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    // Newton and Newton-CG take the same steps: a wide blue line with dots under a thin
    // green one with crosses, so both show.
    let styles = [(BLUE, 4), (GREEN, 1), (RED, 2)];
    for ((name, losses), (color, width)) in series.iter().zip(styles) {
        let points: Vec<(f64, f64)> = losses
            .iter()
            .enumerate()
            .map(|(k, v)| (k as f64 + 1.0, (v - best).max(floor)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(width))
            });
        // The few Newton iterates get markers, so each step shows.
        if losses.len() < 100 {
            if width > 1 {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 5, color.filled())))?;
            } else {
                chart.draw_series(
                    points
                        .iter()
                        .map(|&p| Cross::new(p, 5, color.stroke_width(2))),
                )?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Part 2: a Hessian-vector product of a network's loss.
// ---------------------------------------------------------------------------------------

/// The mean squared error of `model` on `(x, y)` in graph `g`.
fn mse<'g>(
    g: &'g Graph<f64>,
    model: &Sequential<f64>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
) -> Var<'g, f64> {
    (model.forward(g.constant(x.clone())) - g.constant(y.clone()))
        .square()
        .mean()
}

/// The gradient of the loss with respect to every parameter, flattened in the order of
/// `model.parameters()`.
fn flat_grad(model: &Sequential<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> Vec<f64> {
    let g = Graph::new();
    let params: Vec<_> = model.parameters().iter().map(|p| g.param(p)).collect();
    let loss = mse(&g, model, x, y);
    g.grad(&[loss], &params, false)
        .into_iter()
        .flat_map(|d| d.unwrap().value().to_vec())
        .collect()
}

/// The Hessian-vector product `H·v` of the loss with respect to every parameter, by double
/// backward (Pearlmutter's trick): the gradient is recorded (`create_graph`), its inner
/// product with `v` is a scalar, and the gradient of that scalar is `H·v`. Two backward
/// passes, no Hessian.
fn flat_hvp(model: &Sequential<f64>, x: &Tensor<f64>, y: &Tensor<f64>, v: &[f64]) -> Vec<f64> {
    let g = Graph::new();
    let params = model.parameters();
    // Entering a parameter gives the same `Var` the model's forward uses.
    let vars: Vec<_> = params.iter().map(|p| g.param(p)).collect();
    let loss = mse(&g, model, x, y);
    let grads = g.grad(&[loss], &vars, true);
    let mut offset = 0;
    let mut inner = g.scalar(0.0);
    for (grad, p) in grads.into_iter().zip(&params) {
        let piece = Tensor::from_vec(v[offset..offset + p.numel()].to_vec(), &p.shape());
        inner = inner + (grad.unwrap() * g.constant(piece)).sum();
        offset += p.numel();
    }
    g.grad(&[inner], &vars, false)
        .into_iter()
        .flat_map(|d| d.unwrap().value().to_vec())
        .collect()
}

/// Moves every parameter by `step · v` (flattened as in `flat_grad`).
fn shift(model: &Sequential<f64>, v: &[f64], step: f64) {
    let mut offset = 0;
    for p in model.parameters() {
        let moved: Vec<f64> = p
            .value()
            .to_vec()
            .iter()
            .zip(&v[offset..])
            .map(|(w, d)| w + step * d)
            .collect();
        p.set_value(Tensor::from_vec(moved, &p.shape()));
        offset += p.numel();
    }
}

/// Part 2: a network's HVP against finite differences, and its sharpest curvature.
fn network_hvp(run: &Run, report: &mut Report) {
    run.say("\n2. A Hessian-vector product of a network's loss");
    let n = 64;
    let x = Tensor::<f64>::linspace(-3.0, 3.0, n).to_vec();
    let y: Vec<f64> = x.iter().map(|v| v.sin()).collect();
    let (x, y) = (Tensor::from_vec(x, &[n, 1]), Tensor::from_vec(y, &[n, 1]));
    let mut rng = init::rng(0);
    let model = Sequential::<f64>::new()
        .add(Linear::new(1, 16, &mut rng))
        .add(Tanh)
        .add(Linear::new(16, 1, &mut rng));
    // A short fit first, so the HVP is taken where training would use it.
    let epochs = run.pick(300, 50);
    let mut opt = Optimizer::new(model.parameters(), Adam::new(0.02));
    let data = TensorDataset::new(x.clone(), Targets::Values(y.clone()));
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(n)
        .verbose(false);
    let history = fit(&model, Loss::mse(), &mut opt, &data, options, &mut []).unwrap();
    let fitted = history.get("loss")[epochs - 1];
    let count = model.num_params();
    run.say(format!(
        "   1 → 16 → 1 tanh network, {count} parameters, fitted to sin on [-3, 3] ({epochs} Adam epochs): MSE {fitted:.2e}"
    ));

    // A random direction of unit length.
    let v = Tensor::<f64>::rand_normal(&[count], 0.0, 1.0, &mut init::rng(1)).to_vec();
    let norm = dot(&v, &v).sqrt();
    let v: Vec<f64> = v.iter().map(|a| a / norm).collect();

    let hv = flat_hvp(&model, &x, &y, &v);
    // Central differences of gradients along v: (∇L(θ + εv) − ∇L(θ − εv)) / 2ε. The error
    // is about ε² (truncation) plus 1e-16/ε (rounding): ε = 1e-5 balances them in f64.
    let eps = 1e-5;
    shift(&model, &v, eps);
    let plus = flat_grad(&model, &x, &y);
    shift(&model, &v, -2.0 * eps);
    let minus = flat_grad(&model, &x, &y);
    shift(&model, &v, eps);
    let fd: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect();
    let hvp_err = max_abs_diff(&hv, &fd) / fd.iter().fold(0.0f64, |m, a| m.max(a.abs()));
    run.say(format!(
        "   H·v by double backward vs finite differences of gradients: largest difference \
         {hvp_err:.1e} of the largest element; curvature along v: vᵀHv = {:.4}",
        dot(&v, &hv)
    ));

    // The largest Hessian eigenvalue by power iteration: repeated HVPs, no Hessian formed.
    let iterations = run.pick(100, 30);
    let sharpest = largest_eigenvalue(|u| flat_hvp(&model, &x, &y, u), count, iterations);
    run.say(format!(
        "   largest Hessian eigenvalue (power iteration, {iterations} HVPs): {sharpest:.4}; \
         full-batch gradient descent here is stable only for lr < 2/λmax = {:.3}",
        2.0 / sharpest
    ));
    report.set("net_mse", fitted);
    report.set("hvp_fd_rel_err", hvp_err);
    report.set("curvature_along_v", dot(&v, &hv));
    report.set("largest_eigenvalue", sharpest);
}

// ---------------------------------------------------------------------------------------
// Small vector helpers.
// ---------------------------------------------------------------------------------------

/// The inner product `a·b`.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// `M·v` for a square matrix `m` stored row-major.
fn mat_vec(m: &[f64], v: &[f64]) -> Vec<f64> {
    m.chunks(v.len()).map(|row| dot(row, v)).collect()
}

/// The eigenvalue of largest magnitude of a symmetric operator, by `iterations` steps of
/// power iteration from a fixed start: u ← A·u / |A·u|, λ = uᵀAu.
fn largest_eigenvalue(apply: impl Fn(&[f64]) -> Vec<f64>, n: usize, iterations: usize) -> f64 {
    let mut u: Vec<f64> = (0..n).map(|i| 1.0 + 0.1 * i as f64).collect();
    let mut lambda = 0.0;
    for _ in 0..iterations {
        let norm = dot(&u, &u).sqrt();
        u.iter_mut().for_each(|a| *a /= norm);
        let au = apply(&u);
        lambda = dot(&u, &au);
        u = au;
    }
    lambda
}

/// Fits logistic regression three ways and checks a network's Hessian-vector product.
/// Reports `initial_loss`, `newton_iters`, `newton_loss`, `hessian_err`,
/// `newton_cg_iters`, `newton_cg_hvps`, `newton_cg_theta_err`, `gd_iters`, `gd_gap` (loss
/// above Newton's when gradient descent stopped), `test_accuracy`, then `net_mse`,
/// `hvp_fd_rel_err`, `curvature_along_v` and `largest_eigenvalue`.
pub fn run(run: &Run) -> Report {
    let mut report = Report::default();
    logistic_regression(run, &mut report);
    network_hvp(run, &mut report);
    report
}

fn main() {
    run(&Run::from_args("12_second_order"));
}
