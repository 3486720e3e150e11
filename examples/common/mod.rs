//! What the numbered examples share: how they run (full or fast), where their pictures go,
//! the digits data (MNIST when you point to it, the bundled 8×8 digits otherwise), and the
//! report a run returns (the figures `cargo test` checks).
//!
//! Each example includes this file with `#[path = "common/mod.rs"] mod common;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferrograd::prelude::*;

/// How an example runs.
#[derive(Clone, Debug)]
pub struct Run {
    /// Fast mode: a few seconds, for `cargo test` and a first look (`--fast`, or the
    /// environment variable `FERROGRAD_FAST=1`).
    pub fast: bool,
    /// Where pictures and logs go: `target/examples/<name>/`, or `FERROGRAD_OUT/<name>/`.
    pub out: PathBuf,
    /// A directory with the MNIST files (`--mnist DIR`, or `MNIST_DIR`).
    pub mnist: Option<PathBuf>,
    /// Print progress.
    pub verbose: bool,
    /// The seed of the model's weights and the batch order (`--seed N`, default 0); the
    /// train/test split always uses 42.
    pub seed: u64,
}

impl Run {
    /// From the command line and the environment.
    pub fn from_args(name: &str) -> Run {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let flag = |f: &str| args.iter().any(|a| a == f);
        let value = |f: &str| {
            args.iter()
                .position(|a| a == f)
                .and_then(|i| args.get(i + 1))
                .map(PathBuf::from)
        };
        let fast = flag("--fast") || std::env::var("FERROGRAD_FAST").is_ok_and(|v| v == "1");
        let mnist = value("--mnist")
            .or_else(|| std::env::var_os(ferrograd::data::mnist::MNIST_DIR).map(PathBuf::from));
        let seed = value("--seed").map_or(0, |v| {
            v.to_str().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("--seed takes a non-negative integer");
                std::process::exit(2)
            })
        });
        let root = std::env::var_os("FERROGRAD_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/examples"));
        Run {
            fast,
            out: root.join(name),
            mnist,
            verbose: true,
            seed,
        }
    }

    /// Fast, quiet, on the bundled data, writing under the system's temporary directory:
    /// how `cargo test` runs an example.
    pub fn test(name: &str) -> Run {
        Run {
            fast: true,
            out: std::env::temp_dir()
                .join(format!("ferrograd-examples-{}", std::process::id()))
                .join(name),
            mnist: None,
            verbose: false,
            seed: 0,
        }
    }

    /// `full` normally, `fast` in fast mode.
    pub fn pick<T>(&self, full: T, fast: T) -> T {
        if self.fast { fast } else { full }
    }

    /// The path of output file `file` (the folder is made if needed).
    pub fn path(&self, file: &str) -> PathBuf {
        std::fs::create_dir_all(&self.out)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", self.out.display()));
        self.out.join(file)
    }

    /// Prints `text` unless quiet.
    pub fn say(&self, text: impl std::fmt::Display) {
        if self.verbose {
            println!("{text}");
        }
    }
}

/// Digit images, split once with seed 42 into training data (from which the examples
/// hold out their own validation part) and test data, scored once at the end.
pub struct Digits {
    /// Images `[N, 1, side, side]` in `[0, 1]`, and their digits.
    pub train: TensorDataset,
    /// Never used for any choice; scored once.
    pub test: TensorDataset,
    /// The image side: 28 for MNIST, 8 for the bundled digits.
    pub side: usize,
    /// When `train` and `test` were split from one file: their rows in it, in order.
    pub rows: Option<(Vec<usize>, Vec<usize>)>,
    /// Which data this is, for the printout.
    pub source: String,
}

/// MNIST from `run.mnist` (its training and test files when both are there; otherwise its
/// test file split 80/20 with seed 42), or else the bundled 1,797 8×8 digits split 80/20
/// with seed 42. In fast mode, at most `fast_samples` training and test images each.
pub fn digits(run: &Run, fast_samples: usize) -> Digits {
    let Some(dir) = &run.mnist else {
        let source = "the bundled 8x8 digits (1,797 images) split 80/20 with seed 42; \
                      pass --mnist DIR or set MNIST_DIR for MNIST";
        return bundled(run, fast_samples, source);
    };
    let load = |split| {
        Mnist::load(dir, split)
            .map(TensorDataset::from)
            .unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2)
            })
    };
    let digits = match Mnist::load(dir, Split::Train) {
        Ok(train) => Digits {
            train: TensorDataset::from(train),
            test: load(Split::Test),
            side: 28,
            rows: None,
            source: format!("MNIST from {} (train 60,000, test 10,000)", dir.display()),
        },
        Err(_) => split_80_20(
            &load(Split::Test),
            28,
            format!(
                "MNIST test set from {} split 80/20 with seed 42 (no training files there)",
                dir.display()
            ),
        ),
    };
    shrink_and_say(run, digits, fast_samples)
}

/// The bundled 1,797 8×8 digits split 80/20 with seed 42, whatever `run.mnist` says: for
/// examples that train too many models for MNIST (so the printout offers no `--mnist`).
pub fn bundled_digits(run: &Run, fast_samples: usize) -> Digits {
    bundled(
        run,
        fast_samples,
        "the bundled 8x8 digits (1,797 images) split 80/20 with seed 42",
    )
}

/// The bundled digits split 80/20 with seed 42, printed as `source`.
fn bundled(run: &Run, fast_samples: usize, source: &str) -> Digits {
    let all = ferrograd::data::digits::load_digits();
    shrink_and_say(run, split_80_20(&all, 8, source.to_string()), fast_samples)
}

/// In fast mode, keeps the first `fast_samples` training and test images; prints the data.
fn shrink_and_say(run: &Run, mut digits: Digits, fast_samples: usize) -> Digits {
    if run.fast {
        let first = |n: usize| (0..n.min(fast_samples)).collect::<Vec<_>>();
        digits.train = digits.train.subset(&first(digits.train.len()));
        digits.test = digits.test.subset(&first(digits.test.len()));
        digits.rows = digits.rows.map(|(train, test)| {
            (
                train[..train.len().min(fast_samples)].to_vec(),
                test[..test.len().min(fast_samples)].to_vec(),
            )
        });
    }
    run.say(format!(
        "data: {}: {} training and {} test images",
        digits.source,
        digits.train.len(),
        digits.test.len()
    ));
    digits
}

/// A stratified 80/20 split of `all` with seed 42.
fn split_80_20(all: &TensorDataset, side: usize, source: String) -> Digits {
    let split = train_test_split(all.len(), 0.2, 42, Some(all.y().classes()));
    Digits {
        train: all.subset(&split.train),
        test: all.subset(&split.test),
        side,
        source,
        rows: Some((split.train, split.test)),
    }
}

/// Writes the rows (into the MNIST test file) of the images `fit` trains on, validates on
/// (the last `validation` of the training rows, as `Validation::Split`), and the test
/// images, one per line, as `split_{train,val,test}.txt` in the output folder: what
/// `bench/tutorials/reference.py` reads to train PyTorch on the same images. Only for
/// MNIST split from its test file, in full mode; returns the folder.
pub fn write_split(run: &Run, digits: &Digits, validation: f64) -> Option<PathBuf> {
    let (train, test) = digits.rows.as_ref()?;
    if run.mnist.is_none() || run.fast {
        return None;
    }
    let at = (train.len() as f64 * (1.0 - validation)).floor() as usize;
    let parts = [
        ("split_train.txt", &train[..at]),
        ("split_val.txt", &train[at..]),
        ("split_test.txt", &test[..]),
    ];
    for (file, rows) in parts {
        let text: String = rows.iter().map(|i| format!("{i}\n")).collect();
        std::fs::write(run.path(file), text).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    Some(run.out.clone())
}

/// The accuracy of the classifier `model` (logits in, one class per row) on `data`.
pub fn accuracy(model: &dyn Module<f32>, data: &TensorDataset) -> f64 {
    evaluate(
        model,
        CrossEntropy::new(),
        data,
        &mut [&mut metrics::Accuracy::new()],
        256,
    )["accuracy"]
}

/// The largest element-wise `|a − b|`: how far autograd is from a formula.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// The figures a run ends with, by name (`test_accuracy`, `final_loss`, ...): printed, and
/// checked by `cargo test` in fast mode.
#[derive(Clone, Debug, Default)]
pub struct Report(pub BTreeMap<String, f64>);

impl Report {
    /// Adds a figure.
    pub fn set(&mut self, name: &str, value: f64) {
        self.0.insert(name.to_string(), value);
    }

    /// A figure.
    ///
    /// # Panics
    /// If the run did not report it.
    pub fn get(&self, name: &str) -> f64 {
        *self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no figure {name:?} in the report {:?}", self.0))
    }
}
