//! Pooling and reshaping layers: `MaxPool2d`, `AvgPool2d`, `Flatten`.

use ferrograd_autograd::{Float, Size2, Var};

use crate::module::{Module, Slot};

/// The window of a pooling layer: kernel, stride (the kernel by default) and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PoolWindow {
    kernel: Size2,
    stride: Size2,
    padding: Size2,
}

impl PoolWindow {
    fn new(kernel: Size2) -> Self {
        PoolWindow {
            kernel,
            stride: kernel,
            padding: Size2(0, 0),
        }
    }
}

/// Defines a 2-D pooling layer over the autograd op of the same name.
macro_rules! pool_layer {
    ($(#[$doc:meta])* $name:ident, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            window: PoolWindow,
        }

        impl $name {
            /// Windows of `kernel` (one size or `(h, w)`), stride equal to the kernel, no
            /// padding.
            pub fn new(kernel: impl Into<Size2>) -> Self {
                $name { window: PoolWindow::new(kernel.into()) }
            }

            /// A different stride (overlapping windows when smaller than the kernel).
            pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
                self.window.stride = stride.into();
                self
            }

            /// Padding on both sides of each spatial axis.
            pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
                self.window.padding = padding.into();
                self
            }
        }

        impl<T: Float> Module<T> for $name {
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                let w = self.window;
                crate::module_ext::traced(self, x.$op(w.kernel, w.stride, w.padding))
            }

            fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
        }
    };
}

pool_layer!(
    /// 2-D max pooling, as `torch.nn.MaxPool2d` / Keras' `MaxPooling2D`; see
    /// [`Var::max_pool2d`] for ties and NaN.
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output `[N, C, ⌊(H + 2p − kH) / s⌋ + 1, ⌊(W + 2p − kW) / s⌋ + 1]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{MaxPool2d, Module};
    /// let pool = MaxPool2d::new(2);
    /// let g = Graph::<f32>::new();
    /// assert_eq!(pool.forward(g.constant(Tensor::zeros(&[1, 3, 26, 26]))).shape(), vec![1, 3, 13, 13]);
    /// ```
    MaxPool2d,
    max_pool2d
);

pool_layer!(
    /// 2-D average pooling, as `torch.nn.AvgPool2d` (padding counts as zeros).
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output `[N, C, ⌊(H + 2p − kH) / s⌋ + 1, ⌊(W + 2p − kW) / s⌋ + 1]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{AvgPool2d, Module};
    /// let pool = AvgPool2d::new(3).stride(1).padding(1);
    /// let g = Graph::<f32>::new();
    /// assert_eq!(pool.forward(g.constant(Tensor::zeros(&[1, 3, 8, 8]))).shape(), vec![1, 3, 8, 8]);
    /// ```
    AvgPool2d,
    avg_pool2d
);

/// Flattens every dimension after the first (the batch): `[N, ..] → [N, product]`, as
/// `torch.nn.Flatten()` / Keras' `Flatten`.
///
/// # Shapes
/// - input `[N, d1, d2, ..]` (at least 1-D)
/// - output `[N, d1·d2·..]`
///
/// ```
/// use ferrograd::autograd::{Graph, Tensor};
/// use ferrograd::nn::{Flatten, Module};
/// let g = Graph::<f32>::new();
/// assert_eq!(Flatten.forward(g.constant(Tensor::zeros(&[2, 64, 3, 3]))).shape(), vec![2, 576]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        if x.ndim() <= 1 {
            return crate::module_ext::traced(self, x);
        }
        crate::module_ext::traced(self, x.flatten(1, -1))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_module;
    use ferrograd_autograd::Tensor;

    #[test]
    fn pooling_layers_grads_match_finite_diff() {
        // Distinct values, so max pooling is differentiable.
        let x = Tensor::from_vec(
            (0..2 * 2 * 5 * 5)
                .map(|i| ((i * 37) % 100) as f64 * 0.01)
                .collect(),
            &[2, 2, 5, 5],
        );
        check_module(&MaxPool2d::new(3).stride(2).padding(1), &x).unwrap();
        check_module(&AvgPool2d::new(2).stride(1), &x).unwrap();
        check_module(&Flatten, &x).unwrap();
    }
}
