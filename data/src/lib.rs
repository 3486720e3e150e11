//! Datasets, splits, preprocessing and file readers for ferrograd.

pub mod csv;
mod error;
pub mod idx;
pub mod mnist;
pub mod preprocess;
pub mod split;

pub use error::{Error, Result};
