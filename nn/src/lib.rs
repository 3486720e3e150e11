//! Neural-network modules, layers and initialisers for ferrograd.
//!
//! A model is an ordinary struct of layers implementing [`Module`]: a `forward` function
//! and one visitor over its named parameters. Everything else — `parameters()`,
//! `num_params()`, `train()`/`eval()`, freezing, the summary table — comes from
//! [`ModuleExt`]. [`Sequential`] stacks layers without writing a struct.
//!
//! The classic MNIST CNN (conv32-pool-conv64-pool-conv64-flatten-dense64-dense10):
//!
//! ```
//! use ferrograd::autograd::{ConvOptions, Graph, Tensor};
//! use ferrograd::nn::*;
//!
//! let mut rng = init::rng(0);
//! let cnn = Sequential::<f32>::new()
//!     .add(Conv2d::new(1, 32, 3, ConvOptions::new(), &mut rng))
//!     .add(ReLU)
//!     .add(MaxPool2d::new(2))
//!     .add(Conv2d::new(32, 64, 3, ConvOptions::new(), &mut rng))
//!     .add(ReLU)
//!     .add(MaxPool2d::new(2))
//!     .add(Conv2d::new(64, 64, 3, ConvOptions::new(), &mut rng))
//!     .add(ReLU)
//!     .add(Flatten)
//!     .add(Linear::new(64 * 3 * 3, 64, &mut rng))
//!     .add(ReLU)
//!     .add(Linear::new(64, 10, &mut rng));
//! // Keras reports 93,322 parameters for this model.
//! assert_eq!(cnn.num_params(), 93_322);
//! let g = Graph::new();
//! let logits = cnn.forward(g.constant(Tensor::zeros(&[2, 1, 28, 28])));
//! assert_eq!(logits.shape(), vec![2, 10]);
//! println!("{}", cnn.summary(&[1, 1, 28, 28]));
//! ```

//!
//! An LSTM classifier over token ids (ids entered as floats, as Keras takes them):
//!
//! ```
//! use ferrograd::autograd::{Graph, Tensor};
//! use ferrograd::nn::*;
//!
//! let mut rng = init::rng(0);
//! let classifier = Sequential::<f32>::new()
//!     .add(Embedding::new(1000, 32, &mut rng))
//!     .add(Lstm::new(32, 64, 1, &mut rng))
//!     .add(Linear::new(64, 2, &mut rng));
//! let g = Graph::new();
//! let tokens = g.constant(Tensor::from_vec((0..20).map(|i| i as f32).collect(), &[2, 10]));
//! assert_eq!(classifier.forward(tokens).shape(), vec![2, 2]);
//! ```

pub mod init;
mod layers;
pub mod loss;
mod module;
mod module_ext;
mod rng;
mod sequential;
pub mod serialize;
pub mod testing;

/// `#[derive(Module)]`: see [`Module`](trait@Module).
pub use ferrograd_derive::Module;
pub use layers::*;
pub use module::{Mode, Module, Slot, visit_child};

// The derive names this crate as `::ferrograd_nn` (also from inside it) and reaches the
// autograd types through it, so a user of the derive needs no other dependency.
extern crate self as ferrograd_nn;
#[doc(hidden)]
pub use ferrograd_autograd as __autograd;
pub use module_ext::{ModuleExt, Summary, SummaryRow};
pub use rng::{LayerRng, RngState, RngStateError};
pub use sequential::{Sequential, SequentialIter};
