//! The workloads W1–W6 and the peak-memory runs, each with random inputs from fixed seeds.
//! `bench/pytorch_reference.py` builds the same models with the same shapes.

use ferrograd_autograd::{ConvOptions, Graph, Tensor};
use ferrograd_data::dataset::{DataLoader, Targets, TensorDataset};
use ferrograd_nn::loss::{CrossEntropy, cross_entropy};
use ferrograd_nn::{Conv2d, Flatten, Linear, Lstm, MaxPool2d, Module, ModuleExt, ReLU, Sequential};
use ferrograd_optim::{Adam, Optimizer};

use crate::attention;
use crate::measure::{Plan, peak_rss_mib, time_per_call};

/// The samples of one workload, in `unit`.
pub struct Measured {
    /// What one sample counts: `ms` per step, `us` per op, `GFLOP/s`, `s` per epoch, `MiB`.
    pub unit: &'static str,
    /// The samples.
    pub samples: Vec<f64>,
}

/// Every workload by name: what it runs, in the order `all` runs them. The `mem_` ones
/// report the peak resident memory of the whole process, so each wants a process of its own.
/// The `attn_` ones (fused attention against its composed expression) are not in `all`:
/// `bench/attention_reference.py` is their PyTorch half.
pub const WORKLOADS: &[(&str, &str)] = &[
    ("w1_b128", "MLP 784-128-10 train step, Adam, batch 128 (ms)"),
    ("w1_b32", "MLP 784-128-10 train step, Adam, batch 32 (ms)"),
    ("w2", "MNIST CNN train step, Adam, batch 32 (ms)"),
    (
        "w3",
        "1,000 element-wise ops on a 16-vector + backward (us per op)",
    ),
    (
        "w4",
        "LSTM seq 28, in 28, hidden 128, batch 64 train step, Adam (ms)",
    ),
    (
        "w5",
        "matmul 1024^3 f32 forward (GFLOP/s, higher is better)",
    ),
    (
        "w6",
        "one epoch of W1: 60,000 samples, batch 128, shuffled (s)",
    ),
    (
        "attn_s64",
        "causal attention forward + backward, fused op, [8, 4, 64, 16] f32 (ms)",
    ),
    (
        "attn_s64_composed",
        "the same through matmul, masked_fill, softmax, matmul (ms)",
    ),
    (
        "attn_s256",
        "causal attention forward + backward, fused op, [8, 4, 256, 16] f32 (ms)",
    ),
    (
        "attn_s256_composed",
        "the same through matmul, masked_fill, softmax, matmul (ms)",
    ),
    (
        "attn_tape_s256",
        "tape after the fused forward, L = S = 256 (KiB)",
    ),
    (
        "attn_tape_s256_composed",
        "tape after the composed forward, L = S = 256 (KiB)",
    ),
    (
        "mem_base",
        "peak resident memory of a process that only loads the library (MiB)",
    ),
    (
        "mem_w1",
        "peak resident memory of a process running W1 batch 128 (MiB)",
    ),
    (
        "mem_w2",
        "peak resident memory of a process running W2 (MiB)",
    ),
];

/// Runs workload `name` with `samples` samples; `None` for an unknown name.
pub fn run(name: &str, samples: usize) -> Option<Measured> {
    let plan = |warmup, reps| Plan {
        warmup,
        samples,
        reps,
    };
    let ms = |v: Vec<f64>| Measured {
        unit: "ms",
        samples: v.into_iter().map(|s| s * 1e3).collect(),
    };
    Some(match name {
        "w1_b128" => ms(TrainStep::mlp(128).time(plan(10, 20))),
        "w1_b32" => ms(TrainStep::mlp(32).time(plan(10, 50))),
        "w2" => ms(TrainStep::cnn(32).time(plan(3, 3))),
        "w3" => Measured {
            unit: "us",
            samples: op_overhead(plan(5, 20)),
        },
        "w4" => ms(TrainStep::lstm(64).time(plan(2, 2))),
        "w5" => Measured {
            unit: "GFLOP/s",
            samples: matmul_gflops(1024, plan(1, 3)),
        },
        "w6" => Measured {
            unit: "s",
            samples: mlp_epoch(60_000, 128, samples),
        },
        "attn_s64" => attention::time(64, true, plan(5, 20)),
        "attn_s64_composed" => attention::time(64, false, plan(5, 20)),
        "attn_s256" => attention::time(256, true, plan(2, 5)),
        "attn_s256_composed" => attention::time(256, false, plan(2, 5)),
        "attn_tape_s256" => attention::tape(256, true),
        "attn_tape_s256_composed" => attention::tape(256, false),
        "mem_base" => Measured {
            unit: "MiB",
            samples: peak_rss_mib().into_iter().collect(),
        },
        "mem_w1" => peak_memory(TrainStep::mlp(128), 30),
        "mem_w2" => peak_memory(TrainStep::cnn(32), 10),
        _ => return None,
    })
}

/// Uniform inputs in `[0, 1)` of `shape` and one class in `0..10` per sample, from `seed`.
pub fn random_batch(shape: &[usize], seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = ferrograd_nn::init::rng(seed);
    let x = Tensor::rand_uniform(shape, 0.0, 1.0, &mut rng);
    let labels = Tensor::<f32>::rand_uniform(&[shape[0]], 0.0, 10.0, &mut rng)
        .to_vec()
        .into_iter()
        .map(|v| (v as usize).min(9))
        .collect();
    (x, labels)
}

/// W2's model: the Keras/PyTorch MNIST example's CNN (conv32, conv64, maxpool 2, dense
/// 128; 1,199,882 parameters) on `[N, 1, 28, 28]`, weights from seed 0.
pub fn mnist_cnn() -> Sequential<f32> {
    let mut rng = ferrograd_nn::init::rng(0);
    Sequential::new()
        .add(Conv2d::new(1, 32, 3, ConvOptions::new(), &mut rng))
        .add(ReLU)
        .add(Conv2d::new(32, 64, 3, ConvOptions::new(), &mut rng))
        .add(ReLU)
        .add(MaxPool2d::new(2))
        .add(Flatten)
        .add(Linear::new(9216, 128, &mut rng))
        .add(ReLU)
        .add(Linear::new(128, 10, &mut rng))
}

/// One classifier, its Adam optimizer, a graph reused across steps (as `fit` does) and a
/// fixed batch.
struct TrainStep {
    model: Sequential<f32>,
    opt: Optimizer<Adam, f32>,
    graph: Graph<f32>,
    x: Tensor<f32>,
    labels: Vec<usize>,
}

impl TrainStep {
    fn new(model: Sequential<f32>, input_shape: &[usize]) -> Self {
        let (x, labels) = random_batch(input_shape, 1);
        let opt = Optimizer::new(model.parameters(), Adam::new(1e-3));
        TrainStep {
            model,
            opt,
            graph: Graph::new(),
            x,
            labels,
        }
    }

    /// W1: 784 → 128 → 10 with ReLU.
    fn mlp(batch: usize) -> Self {
        let mut rng = ferrograd_nn::init::rng(0);
        let model = Sequential::new()
            .add(Linear::new(784, 128, &mut rng))
            .add(ReLU)
            .add(Linear::new(128, 10, &mut rng));
        Self::new(model, &[batch, 784])
    }

    /// W2: the Keras/PyTorch MNIST example's CNN ([`mnist_cnn`]).
    fn cnn(batch: usize) -> Self {
        Self::new(mnist_cnn(), &[batch, 1, 28, 28])
    }

    /// W4: one LSTM layer (28 → 128) over 28 steps, a linear head on the last hidden state.
    fn lstm(batch: usize) -> Self {
        let mut rng = ferrograd_nn::init::rng(0);
        let model = Sequential::new()
            .add(Lstm::new(28, 128, 1, &mut rng))
            .add(Linear::new(128, 10, &mut rng));
        Self::new(model, &[batch, 28, 28])
    }

    /// One step on the fixed batch.
    fn step(&mut self) -> f32 {
        let TrainStep {
            model,
            opt,
            graph,
            x,
            labels,
        } = self;
        train_step(graph, model, opt, x, labels)
    }

    /// Seconds per step, always on the same batch. (Past about 600 steps the model has
    /// memorised the batch and the Adam moments of dead ReLU units decay toward subnormal
    /// floats; the optimizer flushes those to zero, so the step time stays flat.)
    fn time(mut self, plan: Plan) -> Vec<f64> {
        let mut sink = 0.0;
        let samples = time_per_call(plan, || sink += self.step());
        assert!(sink.is_finite(), "the training loss is not finite");
        samples
    }
}

/// Forward, softmax cross-entropy, backward, Adam step, zeroed gradients (the order of
/// `fit`); returns the loss.
fn train_step(
    g: &Graph<f32>,
    model: &Sequential<f32>,
    opt: &mut Optimizer<Adam, f32>,
    x: &Tensor<f32>,
    labels: &[usize],
) -> f32 {
    g.clear();
    let logits = model.forward(g.constant(x.clone()));
    let loss = cross_entropy(logits, labels, &CrossEntropy::new());
    loss.backward();
    let value = loss.item();
    opt.step();
    opt.zero_grad();
    value
}

/// W3: microseconds per op of a 1,000-op chain (alternating add, mul, tanh) on `[16]`,
/// forward and backward, in a graph reused across calls (as `autograd/benches/op_overhead.rs`).
fn op_overhead(plan: Plan) -> Vec<f64> {
    const OPS: usize = 1000;
    let g = Graph::<f32>::new();
    let x0 = Tensor::<f32>::linspace(-1.0, 1.0, 16);
    let k = Tensor::<f32>::full(&[16], 0.5);
    let mut sink = 0.0;
    let samples = time_per_call(plan, || {
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
        sink += x.grad().map_or(0.0, |t| t.to_vec()[0]);
    });
    assert!(sink.is_finite());
    samples.into_iter().map(|s| s * 1e6 / OPS as f64).collect()
}

/// W5: GFLOP/s of an `n × n` by `n × n` product, forward only.
fn matmul_gflops(n: usize, plan: Plan) -> Vec<f64> {
    let mut rng = ferrograd_nn::init::rng(2);
    let a = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
    let b = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
    let g = Graph::<f32>::new();
    let mut sink = 0.0;
    let samples = time_per_call(plan, || {
        g.clear();
        let c = g.constant(a.clone()).matmul(g.constant(b.clone())).value();
        sink += c.to_vec()[0];
    });
    assert!(sink.is_finite());
    let flop = 2.0 * (n as f64).powi(3);
    samples.into_iter().map(|s| flop / s / 1e9).collect()
}

/// W6: seconds per shuffled epoch of W1 (batch `batch`) over `n` random samples, batches
/// gathered by the data crate's `DataLoader`. Each sample is the first epoch of a freshly
/// initialised model and optimizer (built untimed), so the samples do not depend on their
/// order.
fn mlp_epoch(n: usize, batch: usize, samples: usize) -> Vec<f64> {
    let (x, labels) = random_batch(&[n, 784], 3);
    let loader = DataLoader::new(TensorDataset::new(x, Targets::Classes(labels)), batch).shuffle(0);
    let mut sink = 0.0;
    let secs = (0..samples)
        .map(|_| {
            let TrainStep {
                model,
                mut opt,
                graph,
                ..
            } = TrainStep::mlp(batch);
            let start = std::time::Instant::now();
            for b in loader.iter() {
                sink += train_step(&graph, &model, &mut opt, b.x(), b.y().classes());
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    assert!(sink.is_finite(), "the training loss is not finite");
    secs
}

/// The process's peak resident memory after `steps` training steps.
fn peak_memory(mut step: TrainStep, steps: usize) -> Measured {
    let mut sink = 0.0;
    for _ in 0..steps {
        sink += step.step();
    }
    assert!(sink.is_finite(), "the training loss is not finite");
    Measured {
        unit: "MiB",
        samples: peak_rss_mib().into_iter().collect(),
    }
}
