//! Datasets, splits, preprocessing and file readers for ferrograd.
//!
//! Load, split 80/20 with a seed, standardise on the training part, batch and shuffle:
//!
//! ```
//! use ferrograd::autograd::Tensor;
//! use ferrograd::data::dataset::{DataLoader, Targets, TensorDataset};
//! use ferrograd::data::preprocess::StandardScaler;
//! use ferrograd::data::split::train_test_split;
//!
//! let x = Tensor::<f32>::rand_normal(&[100, 4], 5.0, 2.0, &mut ferrograd::data::rng(0));
//! let labels: Vec<usize> = (0..100).map(|i| i % 3).collect();
//! let data = TensorDataset::new(x, Targets::Classes(labels.clone()));
//! let split = train_test_split(100, 0.2, 42, Some(&labels));
//! let (train, test) = (data.subset(&split.train), data.subset(&split.test));
//! let scaler = StandardScaler::fit(train.x());
//! let train = TensorDataset::new(scaler.transform(train.x()), train.y().clone());
//! let loader = DataLoader::new(train, 16).shuffle(0);
//! for batch in loader.iter() {
//!     assert_eq!(batch.x().shape()[1], 4);
//! }
//! assert_eq!(test.len(), 20);
//! # use ferrograd::data::dataset::Dataset;
//! ```

pub mod csv;
pub mod dataset;
pub mod digits;
mod error;
pub mod idx;
pub mod mnist;
pub mod preprocess;
pub mod search;
pub mod split;
pub mod synthetic;

pub use error::{Error, Result};

/// A seeded random number generator, for reproducible data generation and shuffling.
pub fn rng(seed: u64) -> rand::rngs::StdRng {
    <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed)
}
