//! Training that needs second derivatives: Newton's method with the functional Hessian, and
//! a critic trained with a gradient penalty (WGAN-GP style), whose loss contains a gradient
//! recorded with `create_graph`.

use ferrograd_autograd::functional::{hessian, vjp};
use ferrograd_autograd::{GradcheckOptions, Graph, Param, Tensor, Var, gradcheck};

fn rosenbrock<'g>(v: &[Var<'g, f64>]) -> Var<'g, f64> {
    let x0 = v[0].narrow(0, 0, 1);
    let x1 = v[0].narrow(0, 1, 1);
    ((1.0 - x0).square() + (x1 - x0.square()).square() * 100.0).sum()
}

#[test]
fn newton_method_on_rosenbrock_converges_quadratically() {
    let mut x = Tensor::from_vec(vec![-1.2, 1.0], &[2]);
    let mut distances = Vec::new();
    for _ in 0..12 {
        let (_, grad) = vjp(rosenbrock, std::slice::from_ref(&x), &Tensor::scalar(1.0));
        let (g, h) = (grad[0].to_vec(), hessian(rosenbrock, &x).to_vec());
        // Solve H·step = g for the 2x2 Hessian.
        let det = h[0] * h[3] - h[1] * h[2];
        let step = [
            (h[3] * g[0] - h[1] * g[1]) / det,
            (h[0] * g[1] - h[2] * g[0]) / det,
        ];
        let v = x.to_vec();
        x = Tensor::from_vec(vec![v[0] - step[0], v[1] - step[1]], &[2]);
        distances.push(((v[0] - 1.0).powi(2) + (v[1] - 1.0).powi(2)).sqrt());
    }
    let v = x.to_vec();
    assert!(
        (v[0] - 1.0).abs() < 1e-12 && (v[1] - 1.0).abs() < 1e-12,
        "Newton ended at {v:?}; distances {distances:?}"
    );
}

/// Critic loss with a gradient penalty: `mean f(fake) − mean f(real) + λ·mean_i (‖∇ₓf(xᵢ)‖ − 1)²`
/// over interpolated points `xᵢ`, for the critic `f(x) = tanh(x·W₁)·w₂`.
fn critic_loss<'g>(w1: Var<'g, f64>, w2: Var<'g, f64>, data: &Tensor<f64>) -> Var<'g, f64> {
    let g = w1.graph();
    let x = g.var(data.clone()); // [n, d]; its gradient is part of the loss
    let scores = x.matmul(w1).tanh().matmul(w2); // [n, 1]
    let n = data.shape()[0] / 2;
    let (real, fake) = (scores.narrow(0, 0, n), scores.narrow(0, n, n));
    let dx = g.grad(&[scores], &[x], true)[0].unwrap(); // [n, d]: per-sample ∇ₓf
    let norms = (dx.square().sum_axes(&[1], false) + 1e-12).sqrt();
    fake.mean() - real.mean() + (norms - 1.0).square().mean() * 10.0
}

fn data() -> Tensor<f64> {
    // Four "real" points around (1, 1), four "fake" around (-1, 0).
    Tensor::from_vec(
        vec![
            1.0, 1.2, 0.8, 1.1, 1.1, 0.9, 0.9, 0.8, //
            -1.0, 0.1, -1.2, -0.1, -0.9, 0.0, -0.8, 0.2,
        ],
        &[8, 2],
    )
}

#[test]
fn gradient_penalty_loss_has_correct_parameter_gradients() {
    let data = data();
    let w1 = Tensor::from_vec(vec![0.3, -0.2, 0.5, 0.1, 0.4, -0.6], &[2, 3]);
    let w2 = Tensor::from_vec(vec![0.7, -0.3, 0.2], &[3, 1]);
    // The parameter gradient differentiates through ∇ₓf: a second derivative.
    gradcheck(
        |v| critic_loss(v[0], v[1], &data),
        &[w1, w2],
        &GradcheckOptions::default(),
    )
    .unwrap();
}

#[test]
fn training_with_a_gradient_penalty_reaches_the_analytic_optimum() {
    // Linear critic f(x) = x·w: ∇ₓf = w at every point, so the loss is
    // −w·d + λ(‖w‖ − 1)² with d = mean(real) − mean(fake), minimised at w = (1 + ‖d‖/2λ)·d/‖d‖.
    // The penalty's gradient with respect to w runs through matmul's recorded backward.
    let data = data();
    let w = Param::new(Tensor::from_vec(vec![0.1, -0.1], &[2, 1]));
    let g = Graph::<f64>::new();
    for _ in 0..1000 {
        g.clear();
        w.zero_grad();
        let x = g.var(data.clone());
        let scores = x.matmul(g.param(&w));
        let (real, fake) = (scores.narrow(0, 0, 4), scores.narrow(0, 4, 4));
        let dx = g.grad(&[scores], &[x], true)[0].unwrap();
        let norms = dx.square().sum_axes(&[1], false).sqrt();
        let loss = fake.mean() - real.mean() + (norms - 1.0).square().mean() * 10.0;
        loss.backward();
        g.clear();
        w.update(|mut value, grad| value.scaled_add(-0.02, &grad.unwrap()));
    }
    let v = data.to_vec();
    let mean =
        |rows: std::ops::Range<usize>, c: usize| rows.map(|r| v[2 * r + c]).sum::<f64>() / 4.0;
    let d = [mean(0..4, 0) - mean(4..8, 0), mean(0..4, 1) - mean(4..8, 1)];
    let norm = (d[0] * d[0] + d[1] * d[1]).sqrt();
    let alpha = 1.0 + norm / 20.0;
    let got = w.value().to_vec();
    for c in 0..2 {
        let want = alpha * d[c] / norm;
        assert!(
            (got[c] - want).abs() < 1e-9,
            "w = {got:?}, want {want} at {c}"
        );
    }
}
