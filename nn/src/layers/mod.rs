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
mod transformer_decoder;
mod upsample;

pub use activation::{
    CELU, ELU, GELU, GLU, Hardswish, Hardtanh, Lambda, LeakyReLU, LogSigmoid, LogSoftmax, Mish,
    PReLU, ReLU, ReLU6, SELU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
};
pub use attention::{MhaBuilder, MultiheadAttention};
pub use attention_options::{KeyPadding, MhaOptions};
pub use conv::{Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use norm::{BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm};
pub use pool::{
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, Flatten, MaxPool1d, MaxPool2d,
};
pub use positional::{LearnedPositionalEncoding, SinusoidalPositionalEncoding};
pub use recurrent::{Gru, Lstm, RecurrentState, SimpleRnn};
pub use transformer::{
    TransformerActivation, TransformerConfig, TransformerEncoder, TransformerEncoderLayer,
};
pub use transformer_decoder::{TransformerDecoder, TransformerDecoderLayer};
pub use upsample::Upsample;
