//! An MLP on real MNIST files: 80/20 stratified split with a fixed seed, standardised
//! pixels, a few epochs of Adam, test accuracy.
//!
//! Give the directory holding the IDX files (raw or `.gz`) as the first argument or in
//! `MNIST_DIR`; with only the test files (`t10k-*`), as in this project's `shared/` folder,
//! it splits those.
//!
//! Run: `cargo run --release --example mnist_mlp -- ../shared/data/mnist`

use ferrograd::data::dataset::{Dataset, Targets, TensorDataset};
use ferrograd::data::mnist::{MNIST_DIR, Mnist, Split};
use ferrograd::data::preprocess::normalize_images;
use ferrograd::data::split::train_test_split;
use ferrograd::nn::loss::CrossEntropy;
use ferrograd::nn::{Flatten, Linear, ModuleExt, ReLU, Sequential, init};
use ferrograd::optim::{Adam, Optimizer};
use ferrograd::train::metrics::Accuracy;
use ferrograd::train::{FitOptions, evaluate, fit};

fn main() {
    let dir = std::env::args().nth(1).or_else(|| std::env::var(MNIST_DIR).ok()).unwrap_or_else(|| {
        eprintln!("usage: mnist_mlp DIR (or set {MNIST_DIR}); DIR holds t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]");
        std::process::exit(2);
    });
    let mnist = Mnist::load(&dir, Split::Test).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    // The usual MNIST normalisation (torchvision's mean and std of the training pixels).
    let images = normalize_images(&mnist.images, &[0.1307], &[0.3081]);
    let data = TensorDataset::new(images, Targets::Classes(mnist.labels.clone()));
    let split = train_test_split(data.len(), 0.2, 42, Some(&mnist.labels));
    let (train, test) = (data.subset(&split.train), data.subset(&split.test));

    let mut rng = init::rng(0);
    let model = Sequential::<f32>::new()
        .add(Flatten)
        .add(Linear::new(784, 128, &mut rng))
        .add(ReLU)
        .add(Linear::new(128, 10, &mut rng));
    let mut opt = Optimizer::new(model.parameters(), Adam::new(1e-3));
    let started = std::time::Instant::now();
    let options = FitOptions::new()
        .epochs(5)
        .batch_size(64)
        .metric(Accuracy::new())
        .verbose(true);
    let history = fit(
        &model,
        CrossEntropy::new(),
        &mut opt,
        &train,
        options,
        &mut [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let secs = started.elapsed().as_secs_f64();
    for (e, logs) in history.epochs.iter().enumerate() {
        println!(
            "epoch {}  loss {:.4}  accuracy {:.3}",
            e + 1,
            logs["loss"],
            logs["accuracy"]
        );
    }
    let eval = evaluate(
        &model,
        CrossEntropy::new(),
        &test,
        &mut [&mut Accuracy::new()],
        256,
    );
    println!(
        "test accuracy {:.3} on {} images; {:.1} s for 5 epochs ({:.0} images/s)",
        eval["accuracy"],
        test.len(),
        secs,
        5.0 * train.len() as f64 / secs
    );
    if eval["accuracy"] < 0.9 {
        std::process::exit(1);
    }
}
