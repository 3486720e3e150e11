//! The layers, one file per family.

mod activation;
mod conv;
mod dropout;
mod linear;
mod pool;

pub use activation::{
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
};
pub use conv::{Conv1d, Conv2d};
pub use dropout::Dropout;
pub use linear::Linear;
pub use pool::{AvgPool2d, Flatten, MaxPool2d};
