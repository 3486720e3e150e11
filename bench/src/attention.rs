//! The attention workloads: forward and backward of scaled dot-product attention (causal,
//! f32) at a small Transformer's sizes, through the fused op and through the composed
//! expression it replaced (matmul, masked_fill, softmax, matmul), in time per step and in
//! bytes kept on the tape. `bench/attention_reference.py` times PyTorch at the same sizes.

use ferrograd_autograd::{Attention, Graph, Tensor, Var};

use crate::measure::{Plan, time_per_call};
use crate::workloads::Measured;

/// Batch, heads and head size; the sequence length is the workload's.
const BATCH: usize = 8;
const HEADS: usize = 4;
const HEAD_DIM: usize = 16;

/// `softmax(q·kᵀ/√E + causal)·v` from public ops: the expression the fused op replaced.
fn composed<'g>(q: Var<'g, f32>, k: Var<'g, f32>, v: Var<'g, f32>) -> Var<'g, f32> {
    let g = q.graph();
    let (l, e) = (q.shape()[2], q.shape()[3]);
    let scores = q
        .matmul(k.transpose(-2, -1))
        .mul_scalar(1.0 / (e as f32).sqrt());
    let upper = (0..l * l)
        .map(|i| if i % l > i / l { 1.0 } else { 0.0 })
        .collect();
    let blocked = g.constant(Tensor::from_vec(upper, &[l, l]));
    scores
        .masked_fill(blocked, f32::NEG_INFINITY)
        .softmax(-1)
        .matmul(v)
}

/// One attention call on fresh `[8, 4, len, 16]` inputs in graph `g`; with its inputs.
fn step<'g>(g: &'g Graph<f32>, x: &[Tensor<f32>; 4], fused: bool) -> [Var<'g, f32>; 3] {
    let [q, k, v] = [0, 1, 2].map(|i| g.var(x[i].clone()));
    let out = if fused {
        q.scaled_dot_product_attention(k, v, Attention::new().causal())
    } else {
        composed(q, k, v)
    };
    (out * g.constant(x[3].clone())).sum().backward();
    [q, k, v]
}

fn inputs(len: usize) -> [Tensor<f32>; 4] {
    let mut rng = ferrograd_nn::init::rng(4);
    [0; 4].map(|_| Tensor::rand_uniform(&[BATCH, HEADS, len, HEAD_DIM], -1.0, 1.0, &mut rng))
}

/// Milliseconds per forward and backward at sequence length `len`.
pub fn time(len: usize, fused: bool, plan: Plan) -> Measured {
    let x = inputs(len);
    let g = Graph::<f32>::new();
    let mut sink = 0.0;
    let samples = time_per_call(plan, || {
        g.clear();
        let [q, ..] = step(&g, &x, fused);
        sink += q.grad().map_or(0.0, |t| t.to_vec()[0]);
    });
    assert!(sink.is_finite());
    Measured {
        unit: "ms",
        samples: samples.into_iter().map(|s| s * 1e3).collect(),
    }
}

/// KiB of values on the tape after the forward (what backward may read, inputs included);
/// the fused op's two statistics per query (`8·4·len·2` f32) live in its rule and are
/// added.
pub fn tape(len: usize, fused: bool) -> Measured {
    let x = inputs(len);
    let g = Graph::<f32>::new();
    let [q, k, v] = [0, 1, 2].map(|i| g.var(x[i].clone()));
    let _out = if fused {
        q.scaled_dot_product_attention(k, v, Attention::new().causal())
    } else {
        composed(q, k, v)
    };
    let stats = if fused {
        BATCH * HEADS * len * 2 * 4
    } else {
        0
    };
    Measured {
        unit: "KiB",
        samples: vec![(g.summary().saved_bytes + stats) as f64 / 1024.0],
    }
}
