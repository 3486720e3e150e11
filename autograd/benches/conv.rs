//! conv2d and max_pool2d on the layers of the classic Keras/PyTorch MNIST CNN
//! (conv32-pool-conv64-pool-conv64), batch 32, f32: each layer at the input size it sees in
//! that network (28×28, 13×13, 5×5). "forward" times the op alone; "forward+backward" adds
//! the backward pass to the input (except the first layer, whose input is data) and the
//! weight.

use criterion::{Criterion, criterion_group, criterion_main};
use ferrograd_autograd::{BackwardOptions, ConvOptions, Graph, Param, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// (name, input shape, output channels, whether the input needs a gradient)
const LAYERS: [(&str, [usize; 4], usize, bool); 3] = [
    ("conv1 1->32 28x28", [32, 1, 28, 28], 32, false),
    ("conv2 32->64 13x13", [32, 32, 13, 13], 64, true),
    ("conv3 64->64 5x5", [32, 64, 5, 5], 64, true),
];

fn conv(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut group = c.benchmark_group("conv2d");
    for (name, shape, out, input_grad) in LAYERS {
        let x = Tensor::<f32>::rand_normal(&shape, 0.0, 1.0, &mut rng);
        let w = Param::new(Tensor::rand_normal(
            &[out, shape[1], 3, 3],
            0.0,
            0.1,
            &mut rng,
        ));
        let b = Param::new(Tensor::zeros(&[out]));
        let g = Graph::new();
        group.bench_function(format!("{name} forward"), |bench| {
            bench.iter(|| {
                g.clear();
                let _guard = g.no_grad();
                let y = g.constant(x.clone()).conv2d(
                    g.param(&w),
                    Some(g.param(&b)),
                    ConvOptions::new(),
                );
                y.value()
            })
        });
        let seed = {
            let y = g
                .constant(x.clone())
                .conv2d(g.param(&w), None, ConvOptions::new());
            Tensor::<f32>::ones(&y.shape())
        };
        group.bench_function(format!("{name} forward+backward"), |bench| {
            bench.iter(|| {
                g.clear();
                let input = if input_grad {
                    g.var(x.clone())
                } else {
                    g.constant(x.clone())
                };
                let y = input.conv2d(g.param(&w), Some(g.param(&b)), ConvOptions::new());
                y.backward_with(BackwardOptions::new().seed(seed.clone()));
                g.clear();
                w.zero_grad();
                b.zero_grad();
            })
        });
    }
    group.finish();
}

fn pool(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut group = c.benchmark_group("max_pool2d");
    for (name, shape) in [
        ("2x2 after conv1 [32, 32, 26, 26]", [32, 32, 26, 26]),
        ("2x2 after conv2 [32, 64, 11, 11]", [32, 64, 11, 11]),
    ] {
        let x = Tensor::<f32>::rand_normal(&shape, 0.0, 1.0, &mut rng);
        let g = Graph::new();
        let seed = Tensor::<f32>::ones(&[shape[0], shape[1], shape[2] / 2, shape[3] / 2]);
        group.bench_function(format!("{name} forward+backward"), |bench| {
            bench.iter(|| {
                g.clear();
                let v = g.var(x.clone());
                let y = v.max_pool2d(2, 2, 0);
                y.backward_with(BackwardOptions::new().seed(seed.clone()));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, conv, pool);
criterion_main!(benches);
