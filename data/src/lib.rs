//! Datasets, splits, preprocessing and file readers for ferrograd.

pub mod csv;
mod error;
pub mod idx;
pub mod mnist;

pub use error::{Error, Result};
