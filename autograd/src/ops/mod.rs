//! The built-in ops, each a method on [`Var`](crate::Var) defined in the file named after it,
//! beside its backward rule and its tests.

mod activation;
mod arith;
mod compare;
mod concat;
mod conv;
mod conv_gemm;
mod dropout;
mod im2col;
mod index;
mod matmul;
mod norm;
mod pad;
mod pool;
mod reduce;
mod shape;
mod softmax;
mod trig;
mod tril;
mod unary;

pub use conv::ConvOptions;
pub use im2col::Size2;
