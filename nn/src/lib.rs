//! Neural-network modules, layers, losses and initialisers for ferrograd.
//!
//! The crate is part of the workspace layout from the start; its contents (the `Module`
//! trait, layers, losses, initialisers, saving and loading) are built on
//! `ferrograd-autograd` in the project's nn issue.
