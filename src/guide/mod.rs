//! Recipes: the common tasks of training a model, each a complete program that compiles
//! and runs as it stands (every block here is a test). Start with the
//! [`prelude`](crate::prelude); each recipe names what else it uses.
//!
//! | recipe | what it shows |
//! |---|---|
//! | [`fit_a_struct_model`] | a struct model with `#[derive(Module)]` trained by `fit`: validation split, early stopping, a learning-rate schedule, L2, save and load |
//! | [`hand_loop`] | the same model in a loop of your own: L1, gradient clipping, early stopping by hand |
//! | [`custom_op`] | a new op with its backward rule, checked with `gradcheck` inside `proptest` |
//! | [`keras_mnist_cnn`] | Keras' MNIST convnet, layer for layer |
//! | [`transfer_learning`] | a trained model's body frozen, a new head trained |
//! | [`distillation`] | a small student trained on a teacher's logits |
//! | [`f64_models`] | the same stack in double precision |

#[doc = include_str!("fit_a_struct_model.md")]
pub mod fit_a_struct_model {}

#[doc = include_str!("hand_loop.md")]
pub mod hand_loop {}

#[doc = include_str!("custom_op.md")]
pub mod custom_op {}

#[doc = include_str!("keras_mnist_cnn.md")]
pub mod keras_mnist_cnn {}

#[doc = include_str!("transfer_learning.md")]
pub mod transfer_learning {}

#[doc = include_str!("distillation.md")]
pub mod distillation {}

#[doc = include_str!("f64_models.md")]
pub mod f64_models {}
