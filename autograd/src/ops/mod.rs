//! The built-in ops, each a method on [`Var`](crate::Var) defined in the file named after it,
//! beside its backward rule and its tests.

mod activation;
mod adaptive_pool;
mod arith;
mod attention;
mod attention_kernel;
mod compare;
mod concat;
mod conv;
mod conv_gemm;
mod conv_transpose;
mod diagonal;
mod dropout;
mod einsum;
mod group_norm;
mod im2col;
mod index;
mod matmul;
mod norm;
mod pad;
mod pool;
mod pool1d;
mod pool_max;
mod product;
mod reduce;
mod repeat;
mod shape;
mod softmax;
mod sort;
mod trig;
mod tril;
mod unary;
mod upsample;

/// Value and first derivative of a unary op at each point, in one backward pass: the
/// known-value tests of the element-wise ops.
#[cfg(test)]
fn value_and_grad(op: crate::testing::OpFn, at: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let g = crate::Graph::<f64>::new();
    let x = g.var(crate::Tensor::from_vec(at.to_vec(), &[at.len()]));
    let y = op(&[x]);
    y.sum().backward();
    (y.value().to_vec(), x.grad().unwrap().to_vec())
}

pub use attention::{Attention, AttnMask};
pub use conv::ConvOptions;
pub use im2col::Size2;
pub use pool::PoolOptions;
pub use upsample::{Interpolate, InterpolateMode};
