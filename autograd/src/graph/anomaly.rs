//! Anomaly mode: find the first op that produced a NaN or an infinity.
//!
//! Off by default, and then free: each op reads one `Cell<bool>`. On, every forward value
//! (leaves included) and every gradient a backward rule returns is scanned, and the first
//! non-finite one panics with the op's name, the input shapes, the direction, and the
//! source location where the op was called.

use std::panic::Location;

use ndarray::Dimension;

use super::{Grads, Graph, ModeGuard, NodeKey};
use crate::float::Float;
use crate::tensor::Tensor;

/// The first non-finite element of `t`: its index and `"NaN"` or `"inf"`.
fn first_non_finite<T: Float>(t: &Tensor<T>) -> Option<(Vec<usize>, &'static str)> {
    t.view()
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, v)| {
            (
                i.as_array_view().to_vec(),
                if v.is_nan() { "NaN" } else { "inf" },
            )
        })
}

/// Panics if a forward value is not finite; `inputs` are the op's input values (empty for
/// a leaf).
#[track_caller]
pub(super) fn check_forward<T: Float>(
    op: &str,
    location: &Location<'_>,
    value: &Tensor<T>,
    inputs: &[Tensor<T>],
) {
    let Some((index, kind)) = first_non_finite(value) else {
        return;
    };
    if inputs.is_empty() {
        panic!(
            "anomaly: the `{op}` leaf holds {kind} at element {index:?} of its value of shape {:?}; entered at {location}",
            value.shape()
        );
    }
    let shapes: Vec<&[usize]> = inputs.iter().map(Tensor::shape).collect();
    panic!(
        "anomaly: forward of `{op}` produced {kind} at element {index:?} of its output of shape {:?} (input shapes {shapes:?}); op called at {location}",
        value.shape()
    );
}

impl<T: Float> Graph<T> {
    /// Turns anomaly detection on or off for this graph (off by default), as PyTorch's
    /// `torch.autograd.set_detect_anomaly`. On, every op's output and every gradient that a
    /// backward rule returns is checked for NaN and infinity, and the first offender panics
    /// naming the op, its input shapes, forward or backward, and the line that called it.
    /// The checks scan every value, so leave it off outside debugging.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// g.set_detect_anomaly(true);
    /// let x = g.var(Tensor::from_vec(vec![1.0, 0.0], &[2]));
    /// let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.ln()))
    ///     .unwrap_err();
    /// let msg = err.downcast_ref::<String>().unwrap();
    /// assert!(msg.starts_with("anomaly: forward of `ln` produced inf at element [1]"));
    /// ```
    pub fn set_detect_anomaly(&self, on: bool) {
        self.anomaly.set(on);
    }

    /// Turns anomaly detection on until the returned guard is dropped (PyTorch's
    /// `torch.autograd.detect_anomaly()` block); see [`Graph::set_detect_anomaly`].
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// let g = Graph::<f32>::new();
    /// {
    ///     let _anomaly = g.detect_anomaly();
    ///     assert!(g.is_anomaly_detection_enabled());
    /// }
    /// assert!(!g.is_anomaly_detection_enabled());
    /// ```
    pub fn detect_anomaly(&self) -> ModeGuard<'_> {
        ModeGuard::set(&self.anomaly, true)
    }

    /// Whether anomaly detection is on.
    pub fn is_anomaly_detection_enabled(&self) -> bool {
        self.anomaly.get()
    }

    /// Panics if a backward rule returned a non-finite gradient.
    pub(super) fn check_backward_anomaly(
        &self,
        output: NodeKey,
        parents: &[NodeKey],
        grads: &Grads<'_, T>,
    ) {
        let inner = self.inner.borrow();
        for (i, grad) in grads.iter().enumerate() {
            let Some(grad) = grad else { continue };
            let value = &inner.nodes[grad.key].value;
            let Some((index, kind)) = first_non_finite(value) else {
                continue;
            };
            let node = &inner.nodes[output];
            let shapes: Vec<&[usize]> = parents
                .iter()
                .map(|&p| inner.nodes[p].value.shape())
                .collect();
            let incoming = node
                .grad
                .and_then(|g| first_non_finite(&inner.nodes[g].value))
                .map_or(String::new(), |(_, k)| {
                    format!(" (the incoming gradient already held {k})")
                });
            panic!(
                "anomaly: backward of `{}` produced {kind} at element {index:?} of the gradient for input {i} of shape {:?} (input shapes {shapes:?}){incoming}; op called at {}",
                node.op,
                value.shape(),
                node.location
            );
        }
    }
}
