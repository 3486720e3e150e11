//! The layers, one file per family.

mod activation;
mod attention;
mod attention_options;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod lstm_cell;
mod norm;
mod pool;
mod positional;
mod recurrent;
mod transformer;

pub use activation::{
    CELU, ELU, GELU, GLU, Hardswish, Hardtanh, Lambda, LeakyReLU, LogSigmoid, LogSoftmax, Mish,
    PReLU, ReLU, ReLU6, SELU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
};
pub use attention::{MhaBuilder, MultiheadAttention};
pub use attention_options::{KeyPadding, MhaOptions};
pub use conv::{Conv1d, Conv2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use norm::{BatchNorm1d, BatchNorm2d, LayerNorm};
pub use pool::{AvgPool2d, Flatten, MaxPool2d};
pub use positional::{LearnedPositionalEncoding, SinusoidalPositionalEncoding};
pub use recurrent::{Gru, Lstm, RecurrentState, SimpleRnn};
pub use transformer::{
    TransformerActivation, TransformerConfig, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer,
};
