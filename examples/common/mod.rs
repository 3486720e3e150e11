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
        let root = std::env::var_os("FERROGRAD_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/examples"));
        Run {
            fast,
            out: root.join(name),
            mnist,
            verbose: true,
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
    /// Which data this is, for the printout.
    pub source: String,
}

/// MNIST from `run.mnist` (its training and test files when both are there; otherwise its
/// test file split 80/20 with seed 42), or else the bundled 1,797 8×8 digits split 80/20
/// with seed 42. In fast mode, at most `fast_samples` training and test images each.
pub fn digits(run: &Run, fast_samples: usize) -> Digits {
    let (train, test, side, source) = match &run.mnist {
        Some(dir) => {
            let load = |split| {
                Mnist::load(dir, split)
                    .map(TensorDataset::from)
                    .unwrap_or_else(|e| {
                        eprintln!("{e}");
                        std::process::exit(2)
                    })
            };
            match Mnist::load(dir, Split::Train) {
                Ok(train) => (
                    TensorDataset::from(train),
                    load(Split::Test),
                    28,
                    format!("MNIST from {} (train 60,000, test 10,000)", dir.display()),
                ),
                Err(_) => {
                    let all = load(Split::Test);
                    let (train, test) = split_80_20(&all);
                    let source = format!(
                        "MNIST test set from {} split 80/20 with seed 42 (no training files there)",
                        dir.display()
                    );
                    (train, test, 28, source)
                }
            }
        }
        None => {
            let all = ferrograd::data::digits::load_digits();
            let (train, test) = split_80_20(&all);
            let source = "the bundled 8x8 digits (1,797 images) split 80/20 with seed 42; \
                          pass --mnist DIR or set MNIST_DIR for MNIST"
                .to_string();
            (train, test, 8, source)
        }
    };
    let (train, test) = if run.fast {
        let first =
            |d: &TensorDataset| d.subset(&(0..d.len().min(fast_samples)).collect::<Vec<_>>());
        (first(&train), first(&test))
    } else {
        (train, test)
    };
    run.say(format!(
        "data: {source}: {} training and {} test images",
        train.len(),
        test.len()
    ));
    Digits {
        train,
        test,
        side,
        source,
    }
}

/// A stratified 80/20 split with seed 42.
fn split_80_20(all: &TensorDataset) -> (TensorDataset, TensorDataset) {
    let split = train_test_split(all.len(), 0.2, 42, Some(all.y().classes()));
    (all.subset(&split.train), all.subset(&split.test))
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
