//! Optimizers, regularisation, learning-rate schedules and training loops for ferrograd.
//!
//! The crate is part of the workspace layout from the start; its contents are built on
//! `ferrograd-autograd`'s `Param::update` in the project's optim issue.
