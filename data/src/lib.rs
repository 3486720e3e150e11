//! Datasets, loaders, splits and preprocessing for ferrograd.
//!
//! The crate is part of the workspace layout from the start; its contents are built on
//! `ferrograd-autograd`'s `Tensor` in the project's data issue.
