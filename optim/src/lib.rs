//! Optimizers, regularisation, gradient clipping, learning-rate schedules and early stopping
//! for ferrograd.
//!
//! An [`Optimizer`] runs one per-parameter [`Rule`] ([`Sgd`], [`Adagrad`], [`RmsProp`],
//! [`Adam`]) over parameter groups, with L1/L2 penalties coupled to the gradient or
//! decoupled (AdamW). Everything works from a hand-written loop:
//!
//! ```
//! use ferrograd::autograd::{Graph, Tensor};
//! use ferrograd::nn::{Linear, Module, ModuleExt, init};
//! use ferrograd::optim::{Adam, Optimizer, ParamGroup, Penalty, clip_grad_norm};
//!
//! let model = Linear::<f32>::new(3, 1, &mut init::rng(0));
//! // Weight decay on the weight, none on the bias.
//! let groups = vec![
//!     ParamGroup::new(vec![model.weight().clone()]).penalty(Penalty::l2(0.01).decoupled()),
//!     ParamGroup::new(vec![model.bias().unwrap().clone()]),
//! ];
//! let mut opt = Optimizer::with_groups(groups, Adam::adamw(1e-2));
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.5, 2.0], &[2, 3]);
//! let y = Tensor::from_vec(vec![1.0, -1.0], &[2, 1]);
//! for _ in 0..200 {
//!     let g = Graph::new();
//!     let loss = (model.forward(g.constant(x.clone())) - g.constant(y.clone())).square().mean();
//!     loss.backward();
//!     drop(g);
//!     clip_grad_norm(&model.parameters(), 1.0);
//!     opt.step();
//!     opt.zero_grad();
//! }
//! ```
//!
//! The stateful rules, [`EarlyStopping`] and [`schedule::ReduceLrOnPlateau`], save and
//! restore their progress through a [`CallbackState`]. This crate depends on
//! `ferrograd-autograd` alone; the Keras-style training loop built on it (`fit`, callbacks,
//! metrics, history, resumable backups) is the crate `ferrograd-train`.

mod adaptive;
mod clip;
mod early_stopping;
mod error;
mod optimizer;
pub mod schedule;
mod sgd;
mod state;

pub use adaptive::{Adagrad, Adam, RmsProp};
pub use clip::{ClipGradNorm, clip_grad_norm, clip_grad_value};
pub use early_stopping::EarlyStopping;
pub use error::{NonFiniteKind, OptimizerError, StateError};
pub use optimizer::{
    Optimizer, OptimizerState, ParamGroup, ParamUpdate, Penalty, Rule, StepReport,
};
pub use sgd::{GradientDescent, Sgd};
pub use state::CallbackState;
