//! Shared pieces of the fuzz targets and of the seed generator (`examples/gen_seeds.rs`):
//! the models the checkpoint targets load into, and the byte format the `optimizer_state`
//! target decodes into an [`OptimizerState`](ferrograd_optim::OptimizerState).
//!
//! Keeping them here means a seed written by the generator and an input decoded by a
//! target can never disagree about names, shapes or the byte layout.

#![warn(missing_docs)]

pub mod checkpoint;
pub mod optimizer_state;
