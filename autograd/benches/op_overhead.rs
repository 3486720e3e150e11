//! Per-op overhead: a 1,000-op chain (alternating add, mul, tanh) on a `[16]` tensor,
//! forward and backward, in a graph reused across iterations. Target: at most 1 µs per op
//! (PyTorch eager: 5–7 µs, candle 1.5 µs, burn 2.4 µs on the reference machine).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_autograd::{Graph, Tensor};

const OPS: usize = 1000;

fn chain(c: &mut Criterion) {
    let g = Graph::<f32>::new();
    let x0 = Tensor::<f32>::linspace(-1.0, 1.0, 16);
    let k = Tensor::<f32>::full(&[16], 0.5);
    let mut group = c.benchmark_group("op_overhead");
    group.throughput(Throughput::Elements(OPS as u64));
    group.bench_function("chain_1000_ops_fwd_bwd_f32_16", |b| {
        b.iter(|| {
            g.clear();
            let x = g.var(x0.clone());
            let c = g.constant(k.clone());
            let mut y = x;
            for i in 0..OPS {
                y = match i % 3 {
                    0 => y + c,
                    1 => y * c,
                    _ => y.tanh(),
                };
            }
            y.sum().backward();
            x.grad()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = chain
}
criterion_main!(benches);
