//! A safetensors file written by another tool (Python `safetensors` + numpy, see
//! `fixtures/make_small_cnn.py`) loads into the matching ferrograd model, which then gives
//! the outputs recorded by that script.

use ferrograd_autograd::{ConvOptions, Graph, Tensor};
use ferrograd_nn::*;

/// Printed by `fixtures/make_small_cnn.py` (safetensors 0.8.0, numpy 2.4.6), computed in
/// float64 from the float32 weights.
const EXPECTED: [f64; 6] = [
    -0.148086364997052,
    -0.21310418788612287,
    0.03227230892868638,
    -1.0145750805444265,
    0.5338996906933079,
    -0.33703302096084664,
];

#[test]
fn a_file_written_by_python_safetensors_loads_and_reproduces_its_outputs() {
    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Conv2d::new(1, 2, 3, ConvOptions::new(), &mut rng))
        .add(ReLU)
        .add(Flatten)
        .add(Linear::new(8, 3, &mut rng))
        .add(BatchNorm1d::new(3));
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/small_cnn.safetensors"
    );
    model.load(path).unwrap();
    model.eval();
    let g = Graph::new();
    let x = g.constant(Tensor::from_vec(
        (0..32).map(|i| i as f32 / 10.0 - 1.0).collect(),
        &[2, 1, 4, 4],
    ));
    let y = model.forward(x).value().to_vec();
    for (got, want) in y.iter().zip(EXPECTED) {
        assert!((*got as f64 - want).abs() < 1e-5, "{y:?} vs {EXPECTED:?}");
    }
}

#[test]
fn an_mlp_the_mnist_cnn_and_an_lstm_classifier_save_and_reload_with_identical_outputs() {
    let dir = std::env::temp_dir();
    let cnn = |seed| {
        let mut rng = init::rng(seed);
        Sequential::<f32>::new()
            .add(Conv2d::new(1, 32, 3, ConvOptions::new(), &mut rng))
            .add(ReLU)
            .add(MaxPool2d::new(2))
            .add(Conv2d::new(32, 64, 3, ConvOptions::new(), &mut rng))
            .add(ReLU)
            .add(MaxPool2d::new(2))
            .add(Conv2d::new(64, 64, 3, ConvOptions::new(), &mut rng))
            .add(ReLU)
            .add(Flatten)
            .add(Linear::new(576, 64, &mut rng))
            .add(ReLU)
            .add(Linear::new(64, 10, &mut rng))
    };
    let lstm = |seed| {
        let mut rng = init::rng(seed);
        Sequential::<f32>::new()
            .add(Embedding::new(50, 8, &mut rng))
            .add(Lstm::new(8, 16, 2, &mut rng))
            .add(Linear::new(16, 2, &mut rng))
    };
    let mlp = |seed| {
        let mut rng = init::rng(seed);
        Sequential::<f32>::new()
            .add(Linear::new(4, 16, &mut rng))
            .add(ReLU)
            .add(Dropout::new(0.2, 0))
            .add(Linear::new(16, 3, &mut rng))
    };
    let g = Graph::new();
    let features = g.constant(Tensor::rand_uniform(&[5, 4], -1.0, 1.0, &mut init::rng(8)));
    let images = g.constant(Tensor::rand_uniform(
        &[2, 1, 28, 28],
        0.0,
        1.0,
        &mut init::rng(9),
    ));
    let tokens = g.constant(Tensor::from_vec(
        (0..12).map(|i| (i * 7 % 50) as f32).collect(),
        &[2, 6],
    ));
    for (name, a, b, x) in [
        ("mlp", mlp(0), mlp(1), features),
        ("cnn", cnn(0), cnn(1), images),
        ("lstm", lstm(0), lstm(1), tokens),
    ] {
        let path = dir.join(format!(
            "ferrograd-{}-{name}.safetensors",
            std::process::id()
        ));
        assert_ne!(a.forward(x).value(), b.forward(x).value());
        a.save(&path).unwrap();
        b.load(&path).unwrap();
        assert_eq!(a.forward(x).value(), b.forward(x).value(), "{name}");
        std::fs::remove_file(&path).ok();
    }
}
