//! Tutorial: train a small MLP with the raw autograd API.
//!
//! The task is synthetic regression: learn `y = sin(2·x₀) + x₁²/2` from 512 noisy samples.
//! The model is 2 → 32 → 32 → 1 with tanh activations; the loop is written by hand —
//! forward, mean squared error, backward, and a plain SGD update — so every step is visible.
//!
//! Run with `cargo run --release --example mlp_regression`.

use ferrograd::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// One dense layer: `x · W + b`.
struct Linear {
    weight: Param<f32>,
    bias: Param<f32>,
}

impl Linear {
    fn new(inputs: usize, outputs: usize, rng: &mut StdRng) -> Self {
        // PyTorch's default: U(−1/√inputs, 1/√inputs) for weight and bias.
        let bound = 1.0 / (inputs as f32).sqrt();
        Linear {
            weight: Param::new(Tensor::rand_uniform(&[inputs, outputs], -bound, bound, rng)),
            bias: Param::new(Tensor::rand_uniform(&[outputs], -bound, bound, rng)),
        }
    }

    fn forward<'g>(&self, x: Var<'g, f32>) -> Var<'g, f32> {
        let g = x.graph();
        x.matmul(g.param(&self.weight)) + g.param(&self.bias)
    }

    fn params(&self) -> [&Param<f32>; 2] {
        [&self.weight, &self.bias]
    }
}

fn main() {
    let mut rng = StdRng::seed_from_u64(42);

    // Data: inputs uniform in [-1, 1]², targets with a little noise.
    let n = 512;
    let x = Tensor::<f32>::rand_uniform(&[n, 2], -1.0, 1.0, &mut rng);
    let noise = Tensor::<f32>::rand_normal(&[n, 1], 0.0, 0.05, &mut rng);
    let xs = x.to_vec();
    let targets: Vec<f32> = (0..n)
        .map(|i| (2.0 * xs[2 * i]).sin() + xs[2 * i + 1].powi(2) / 2.0 + noise.to_vec()[i])
        .collect();
    let y = Tensor::from_vec(targets, &[n, 1]);

    let layers = [
        Linear::new(2, 32, &mut rng),
        Linear::new(32, 32, &mut rng),
        Linear::new(32, 1, &mut rng),
    ];
    let lr = 0.1;

    // One graph, cleared every step: its memory is reused.
    let g = Graph::new();
    let (mut first, mut last) = (None, f32::NAN);
    for epoch in 0..=500 {
        g.clear();
        let mut h = g.constant(x.clone());
        for (i, layer) in layers.iter().enumerate() {
            h = layer.forward(h);
            if i + 1 < layers.len() {
                h = h.tanh();
            }
        }
        let loss = (h - g.constant(y.clone())).square().mean();
        loss.backward();
        let value = loss.item();
        first.get_or_insert(value);
        last = value;
        g.clear(); // release the graph's hold on the weights before updating them in place

        for p in layers.iter().flat_map(Linear::params) {
            p.update(|mut w, grad| w.scaled_add(-lr, &grad.expect("every weight gets a gradient")));
            p.zero_grad();
        }
        if epoch % 50 == 0 {
            println!("epoch {epoch:3}  loss {value:.5}");
        }
    }
    let first = first.expect("at least one epoch");
    println!("mean squared error: {first:.4} -> {last:.4} (the noise alone gives 0.0025)");
    let improved = last < first / 10.0; // false for NaN too
    if !improved {
        eprintln!("training did not reduce the loss tenfold");
        std::process::exit(1);
    }
}
