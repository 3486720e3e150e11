//! One MLP training step: 784 → 128 → 10, ReLU, softmax cross-entropy, batch 128, plain SGD
//! update by hand. Criterion reports the time per step (steps/s = 1 / time); before it runs,
//! the bench prints the page faults per steady-state step (Linux), to show the allocator is
//! not churning. Reference: PyTorch with Adam, about 870 steps/s on the reference machine.

use criterion::{Criterion, criterion_group, criterion_main};
use ferrograd_autograd::{Graph, Param, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;

struct Mlp {
    params: [Param<f32>; 4],
}

fn setup() -> (Mlp, Tensor<f32>, Tensor<f32>) {
    let mut rng = StdRng::seed_from_u64(0);
    let (b1, b2) = (1.0 / 784f32.sqrt(), 1.0 / 128f32.sqrt());
    let params = [
        Param::new(Tensor::rand_uniform(&[784, 128], -b1, b1, &mut rng)),
        Param::new(Tensor::rand_uniform(&[128], -b1, b1, &mut rng)),
        Param::new(Tensor::rand_uniform(&[128, 10], -b2, b2, &mut rng)),
        Param::new(Tensor::rand_uniform(&[10], -b2, b2, &mut rng)),
    ];
    let x = Tensor::rand_uniform(&[128, 784], 0.0, 1.0, &mut rng);
    let mut onehot = vec![0.0f32; 128 * 10];
    for i in 0..128 {
        onehot[i * 10 + i % 10] = 1.0;
    }
    (Mlp { params }, x, Tensor::from_vec(onehot, &[128, 10]))
}

fn step(g: &Graph<f32>, mlp: &Mlp, x: &Tensor<f32>, y: &Tensor<f32>) -> f32 {
    g.clear();
    let [w1, b1, w2, b2] = &mlp.params;
    let h = (g.constant(x.clone()).matmul(g.param(w1)) + g.param(b1)).relu();
    let logits = h.matmul(g.param(w2)) + g.param(b2);
    let loss = -(logits.log_softmax(-1) * g.constant(y.clone())).sum() / 128.0;
    loss.backward();
    let value = loss.item();
    g.clear();
    for p in &mlp.params {
        p.update(|mut v, grad| v.scaled_add(-0.01, &grad.unwrap()));
        p.zero_grad();
    }
    value
}

/// Minor page faults of this process so far (field 10 of /proc/self/stat), if readable.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(7)?.parse().ok()
}

fn mlp_step(c: &mut Criterion) {
    let (mlp, x, y) = setup();
    let g = Graph::new();
    for _ in 0..20 {
        step(&g, &mlp, &x, &y);
    }
    if let Some(before) = minor_faults() {
        let steps = 200;
        for _ in 0..steps {
            step(&g, &mlp, &x, &y);
        }
        let faults = minor_faults().unwrap_or(before) - before;
        println!(
            "mlp_step: {:.2} minor page faults per steady-state step",
            faults as f64 / steps as f64
        );
    }
    c.bench_function("mlp_step_784_128_10_batch128_f32", |b| {
        b.iter(|| step(&g, &mlp, &x, &y))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = mlp_step
}
criterion_main!(benches);
