//! `Param`: a persistent, trainable tensor that outlives any one graph.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ndarray::{ArrayViewD, ArrayViewMutD};

use crate::float::Float;
use crate::tensor::Tensor;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A trainable tensor (a model's weight) with its accumulated gradient.
///
/// `Param` is a shared handle: clones refer to the same storage, so a model and an optimizer
/// can both hold it. Each step it enters a fresh graph with [`Graph::param`](crate::Graph::param);
/// backward adds into its gradient; an optimizer then updates its value in place with
/// [`Param::update`]. It is `Send + Sync`, so models built from it move between threads.
///
/// ```
/// use ferrograd::autograd::{Graph, Param, Tensor};
/// let w = Param::new(Tensor::from_vec(vec![1.0f32, -2.0], &[2]));
/// for _ in 0..2 {
///     let g = Graph::new();
///     let loss = g.param(&w).square().sum();
///     loss.backward();
/// }
/// // Gradients accumulate across backward passes until zero_grad, as in PyTorch.
/// assert_eq!(w.grad().unwrap().to_vec(), vec![4.0, -8.0]);
/// w.update(|mut value, grad| value.scaled_add(-0.25, &grad.unwrap()));
/// w.zero_grad();
/// assert_eq!(w.value().to_vec(), vec![0.0, 0.0]);
/// assert!(w.grad().is_none());
/// ```
pub struct Param<T: Float = f32> {
    inner: Arc<ParamInner<T>>,
}

struct ParamInner<T: Float> {
    id: u64,
    state: RwLock<ParamState<T>>,
}

struct ParamState<T: Float> {
    value: Tensor<T>,
    grad: Option<Tensor<T>>,
    requires_grad: bool,
}

impl<T: Float> Clone for Param<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Float> Param<T> {
    /// A new parameter holding `value`, requiring a gradient.
    pub fn new(value: Tensor<T>) -> Self {
        Self {
            inner: Arc::new(ParamInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                state: RwLock::new(ParamState {
                    value,
                    grad: None,
                    requires_grad: true,
                }),
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, ParamState<T>> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, ParamState<T>> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A process-unique id; clones share it.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// True if both handles refer to the same parameter.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The current value (a shared handle, not a copy).
    pub fn value(&self) -> Tensor<T> {
        self.read().value.clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.read().value.shape().to_vec()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.read().value.numel()
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// If `value`'s shape differs from the current one.
    #[track_caller]
    pub fn set_value(&self, value: Tensor<T>) {
        let mut state = self.write();
        assert!(
            state.value.shape() == value.shape(),
            "set_value: new value of shape {:?} does not match parameter of shape {:?}",
            value.shape(),
            state.value.shape()
        );
        state.value = value;
    }

    /// The gradient accumulated since the last [`zero_grad`](Param::zero_grad), if any.
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.read().grad.clone()
    }

    /// Replaces the gradient (e.g. after clipping).
    ///
    /// # Panics
    /// If `grad`'s shape differs from the value's.
    #[track_caller]
    pub fn set_grad(&self, grad: Option<Tensor<T>>) {
        let mut state = self.write();
        if let Some(g) = &grad {
            assert!(
                g.shape() == state.value.shape(),
                "set_grad: gradient of shape {:?} does not match parameter of shape {:?}",
                g.shape(),
                state.value.shape()
            );
        }
        state.grad = grad;
    }

    /// Drops the accumulated gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        self.write().grad = None;
    }

    /// Whether backward computes a gradient for this parameter.
    pub fn requires_grad(&self) -> bool {
        self.read().requires_grad
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter; takes effect in graphs it enters
    /// afterwards.
    pub fn set_requires_grad(&self, requires_grad: bool) {
        self.write().requires_grad = requires_grad;
    }

    /// Adds `grad` into the accumulated gradient.
    pub(crate) fn accumulate_grad(&self, grad: &Tensor<T>) {
        let mut state = self.write();
        match &mut state.grad {
            Some(acc) => acc.view_mut().zip_mut_with(&grad.view(), |a, &b| *a += b),
            None => state.grad = Some(grad.clone()),
        }
    }

    /// Updates the value in place from the value and the gradient, under one lock: the
    /// building block of optimizers.
    ///
    /// The value is copied first only if a graph still shares it (clear the graph before the
    /// update to avoid that copy).
    pub fn update<R>(
        &self,
        f: impl FnOnce(ArrayViewMutD<'_, T>, Option<ArrayViewD<'_, T>>) -> R,
    ) -> R {
        let mut state = self.write();
        let ParamState { value, grad, .. } = &mut *state;
        f(value.view_mut(), grad.as_ref().map(Tensor::view))
    }
}

impl<T: Float> fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        write!(
            f,
            "Param {{ id: {}, shape: {:?}, dtype: {}, requires_grad: {}, has_grad: {} }}",
            self.inner.id,
            state.value.shape(),
            T::DTYPE,
            state.requires_grad,
            state.grad.is_some()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<S: Send + Sync>() {}

    #[test]
    fn param_is_send_and_sync() {
        assert_send_sync::<Param<f32>>();
        assert_send_sync::<Param<f64>>();
    }

    #[test]
    #[should_panic(
        expected = "set_value: new value of shape [3] does not match parameter of shape [2]"
    )]
    fn set_value_panics_on_shape_change() {
        Param::new(Tensor::<f32>::zeros(&[2])).set_value(Tensor::zeros(&[3]));
    }

    #[test]
    fn update_after_the_graph_is_gone_does_not_copy() {
        let p = Param::new(Tensor::<f32>::zeros(&[4]));
        let before = p.value().array().as_ptr();
        p.update(|mut v, _| v.fill(1.0));
        assert_eq!(p.value().array().as_ptr(), before);
        assert_eq!(p.value().to_vec(), vec![1.0; 4]);
    }
}
