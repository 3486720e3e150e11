//! matmul throughput against calling ndarray's `dot` directly, at 256³ and 1024³ (f32).
//! Criterion's throughput line reads in FLOP/s (2·n³ per product). Our matmul must stay
//! within 10% of `dot`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrograd_autograd::ndarray::Ix2;
use ferrograd_autograd::{Graph, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn matmul(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut group = c.benchmark_group("matmul_f32");
    for n in [256usize, 1024] {
        let a = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let b = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        if n == 1024 {
            group.sample_size(10);
        }
        let g = Graph::<f32>::new();
        group.bench_with_input(BenchmarkId::new("ferrograd", n), &n, |bench, _| {
            bench.iter(|| {
                g.clear();
                g.constant(a.clone()).matmul(g.constant(b.clone())).value()
            })
        });
        let (a2, b2) = (
            a.view().into_dimensionality::<Ix2>().unwrap(),
            b.view().into_dimensionality::<Ix2>().unwrap(),
        );
        group.bench_with_input(BenchmarkId::new("ndarray_dot", n), &n, |bench, _| {
            bench.iter(|| a2.dot(&b2))
        });
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
