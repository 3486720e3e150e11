//! Optimizer updates over the parameters of a 784 → 128 → 10 MLP built from `nn::Linear`
//! (weights `[128, 784]`, `[128]`, `[10, 128]`, `[10]`), with the gradients exactly as one
//! real backward pass (batch 32, cross-entropy) leaves them: `optim_step/<rule>` times one
//! `Optimizer::step` of each rule. `optim_step/adam_transposed_grad` gives Adam gradients
//! stored transposed (column-major), to time the loop's path for a gradient whose layout
//! differs from its parameter's. `mlp_adam_step` times a whole training step (forward,
//! backward, Adam update, zero_grad) of the same MLP.
//!
//! Run with `cargo bench -p ferrograd-optim --bench optim_step`.

use criterion::{Criterion, criterion_group, criterion_main};
use ferrograd_autograd::{Graph, Param, Tensor};
use ferrograd_nn::loss::{CrossEntropy, cross_entropy};
use ferrograd_nn::{Linear, Module, ModuleExt, ReLU, Sequential, init};
use ferrograd_optim::{Adam, Optimizer, Penalty, RmsProp, Rule, Sgd};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::{Duration, Instant};

const BATCH: usize = 32;

fn model() -> Sequential<f32> {
    let mut rng = init::rng(0);
    Sequential::new()
        .add(Linear::new(784, 128, &mut rng))
        .add(ReLU)
        .add(Linear::new(128, 10, &mut rng))
}

fn batch() -> (Tensor<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::rand_uniform(&[BATCH, 784], 0.0, 1.0, &mut rng);
    (x, (0..BATCH).map(|i| i % 10).collect())
}

/// Forward and backward once; the parameters keep their gradients.
fn backward(model: &Sequential<f32>, x: &Tensor<f32>, labels: &[usize]) -> f32 {
    let g = Graph::new();
    let loss = cross_entropy(
        model.forward(g.constant(x.clone())),
        labels,
        &CrossEntropy::new(),
    );
    loss.backward();
    loss.item()
}

/// Times `step` from the weights and optimizer state after one step, restarting from there
/// every `RESTART` steps (untimed): a fixed batch or gradient repeated thousands of times
/// drives the weights and moments it does not touch to subnormal numbers, which a real run
/// does not, and would time those instead.
fn bench_steps<R: Rule<f32>>(
    c: &mut Criterion,
    name: &str,
    mut opt: Optimizer<R, f32>,
    mut step: impl FnMut(&mut Optimizer<R, f32>),
) {
    const RESTART: u64 = 100;
    step(&mut opt);
    let state = opt.state();
    let params: Vec<Param<f32>> = opt.params().cloned().collect();
    let values: Vec<Tensor<f32>> = params.iter().map(Param::value).collect();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                for (p, v) in params.iter().zip(&values) {
                    // An unshared copy, so the update does not copy on write.
                    p.set_value(Tensor::from_array(v.view().to_owned()));
                }
                opt.load_state(state.clone()).unwrap();
                let n = (iters - done).min(RESTART);
                let start = Instant::now();
                for _ in 0..n {
                    step(&mut opt);
                }
                total += start.elapsed();
                done += n;
            }
            total
        })
    });
}

fn bench_rule<R: Rule<f32>>(c: &mut Criterion, name: &str, rule: R, penalty: Penalty) {
    let model = model();
    let (x, labels) = batch();
    backward(&model, &x, &labels);
    bench_steps(
        c,
        &format!("optim_step/{name}"),
        Optimizer::new(model.parameters(), rule).penalty(penalty),
        |opt| opt.step(),
    );
}

fn optim_step(c: &mut Criterion) {
    let none = Penalty::none();
    bench_rule(c, "sgd_momentum", Sgd::new(0.01).momentum(0.9), none);
    bench_rule(c, "adam", Adam::new(1e-3), none);
    bench_rule(c, "adam_weight_decay", Adam::new(1e-3), Penalty::l2(1e-4));
    bench_rule(c, "adamw", Adam::adamw(1e-3), Penalty::l2(0.01).decoupled());
    bench_rule(c, "rmsprop", RmsProp::new(1e-3), none);

    let model = model();
    let params: Vec<Param<f32>> = model.parameters();
    for p in &params {
        let mut reversed = p.shape();
        reversed.reverse();
        let t = Tensor::<f32>::ones(&reversed).into_array().reversed_axes();
        p.set_grad(Some(Tensor::from_array(t)));
    }
    bench_steps(
        c,
        "optim_step/adam_transposed_grad",
        Optimizer::new(params, Adam::new(1e-3)),
        |opt| opt.step(),
    );
}

fn mlp_adam_step(c: &mut Criterion) {
    let model = model();
    let (x, labels) = batch();
    bench_steps(
        c,
        "mlp_adam_step_784_128_10_batch32_f32",
        Optimizer::new(model.parameters(), Adam::new(1e-3)),
        |opt| {
            backward(&model, &x, &labels);
            opt.step();
            opt.zero_grad();
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = optim_step, mlp_adam_step
}
criterion_main!(benches);
