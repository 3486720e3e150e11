//! Keras-style training for ferrograd: [`fit`], [`evaluate`] and [`predict`] over a
//! `Module` of `ferrograd-nn`, a `Dataset` of `ferrograd-data` and an `Optimizer` of
//! `ferrograd-optim`, with streaming [`metrics`], [`callbacks`], a [`History`] of the per-epoch logs
//! and resumable training ([`FitOptions::backup`]).
//!
//! Before every update `fit` checks the loss and each gradient, so training stops with a
//! [`TrainError`] naming the epoch, the batch and the parameter rather than go on with a NaN.
//!
//! ```
//! use ferrograd::data::synthetic::make_moons;
//! use ferrograd::nn::{Linear, ModuleExt, ReLU, Sequential, init};
//! use ferrograd::optim::{Adam, Optimizer};
//! use ferrograd::train::metrics::Accuracy;
//! use ferrograd::nn::loss::CrossEntropy;
//! use ferrograd::train::{FitOptions, Validation, fit};
//!
//! let data = make_moons(200, 0.1, 0);
//! let mut rng = init::rng(0);
//! let model = Sequential::<f32>::new()
//!     .add(Linear::new(2, 16, &mut rng))
//!     .add(ReLU)
//!     .add(Linear::new(16, 2, &mut rng));
//! let mut opt = Optimizer::new(model.parameters(), Adam::new(0.02));
//! let options = FitOptions::new()
//!     .epochs(30)
//!     .batch_size(20)
//!     .metric(Accuracy::new())
//!     .validation(Validation::Split(0.2));
//! let history = fit(&model, CrossEntropy::new(), &mut opt, &data, options, &mut []).unwrap();
//! assert_eq!(history.epochs.len(), 30);
//! assert!(history.get("loss")[29] < history.get("loss")[0]);
//! ```

mod backup;
pub mod callbacks;
pub mod distributed;
mod error;
mod fit;
mod history;
mod loss;
pub mod metrics;
mod progress;

pub use callbacks::{Callback, Context, Logs};
pub use error::{CallbackError, PlotError, TrainError};
pub use fit::{FitOptions, Validation, evaluate, fit, predict, predict_inputs, try_evaluate};
pub use history::History;
pub use loss::Loss;
pub use metrics::Metric;
