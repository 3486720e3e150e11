//! Tensors and a PyTorch-style tape for reverse-mode automatic differentiation.
//!
//! A [`Graph`] records every op applied to its [`Var`] handles; [`Var::backward`] replays
//! the record in reverse to compute gradients. Graphs are built by running ordinary Rust
//! code, so loops, branches and recursion shape them. [`Param`]s hold a model's weights
//! across graphs. [`gradcheck`](fn@gradcheck) compares gradients with finite differences, and the
//! `testing` feature provides `proptest` strategies to check custom ops with.
//!
//! ```
//! use ferrograd::autograd::{Graph, Param, Tensor};
//!
//! let w = Param::new(Tensor::from_vec(vec![0.5f64, -0.3], &[2, 1]));
//! let g = Graph::new();
//! let x = g.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
//! let y = x.matmul(g.param(&w)).tanh();
//! let loss = y.square().mean();
//! loss.backward();
//! assert_eq!(w.grad().unwrap().shape(), &[2, 1]);
//! ```

mod alloc;
mod error;
mod float;
pub mod functional;
pub mod gradcheck;
mod graph;
mod kernels;
mod ops;
mod param;
mod tensor;
mod tensor_ops;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod threads;

pub use error::{Error, Result};
pub use float::Float;
pub use gradcheck::{GradcheckError, GradcheckOptions, gradcheck, gradgradcheck};
pub use graph::{
    BackwardCtx, BackwardOptions, Grads, Graph, GraphSummary, ModeGuard, OpCount, Var,
};
pub use ops::{Attention, AttnMask, ConvOptions, Interpolate, InterpolateMode, PoolOptions, Size2};
pub use param::Param;
pub use tensor::Tensor;
pub use threads::{NUM_THREADS_ENV, num_threads, set_num_threads};

#[doc(hidden)]
pub use smallvec as __smallvec;

pub use ndarray;
