//! ferrograd: reverse-mode automatic differentiation with dynamic graphs, and the
//! neural-network stack on top of it.
//!
//! This facade re-exports the member crates: [`autograd`] (tensors, the tape, gradient
//! checking), [`nn`] (modules, layers, losses), [`optim`] (optimizers, schedules, early
//! stopping), [`data`] (datasets and loaders) and [`train`] (`fit`, callbacks, metrics).
//! Most programs need only the [`prelude`].
//!
//! ```
//! use ferrograd::prelude::*;
//!
//! let g = Graph::<f64>::new();
//! let x = g.var(Tensor::from_vec(vec![1.0, 2.0], &[2]));
//! let y = (x * x).sum();
//! y.backward();
//! assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0]);
//! ```

pub use ferrograd_autograd as autograd;
pub use ferrograd_data as data;
pub use ferrograd_nn as nn;
pub use ferrograd_optim as optim;
pub use ferrograd_train as train;

/// The thread count of ferrograd's kernels, as `torch.set_num_threads` (see
/// [`autograd::threads`]).
pub use ferrograd_autograd::{NUM_THREADS_ENV, num_threads, set_num_threads};

/// The types most programs use.
pub mod prelude {
    pub use ferrograd_autograd::{
        BackwardOptions, ConvOptions, Float, GradcheckOptions, Graph, Param, Size2, Tensor, Var,
        gradcheck, gradgradcheck, grads,
    };
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
