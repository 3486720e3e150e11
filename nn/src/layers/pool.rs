//! Pooling and reshaping layers: `MaxPool1d`, `MaxPool2d`, `AvgPool1d`, `AvgPool2d`,
//! `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d`, `Flatten`.

use ferrograd_autograd::{Float, PoolOptions, Size2, Var};

use crate::module::{Module, Slot};

/// Defines a pooling layer over the autograd op `$op` (taking a kernel and [`PoolOptions`]).
macro_rules! pool_layer {
    ($(#[$doc:meta])* $name:ident, $kernel:ty, $arg:ty, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            kernel: $kernel,
            options: PoolOptions,
        }

        impl $name {
            /// Windows of `kernel`, stride equal to the kernel, no padding (PyTorch's
            /// defaults).
            pub fn new(kernel: $arg) -> Self {
                $name { kernel: kernel.into(), options: PoolOptions::new() }
            }

            /// A different stride (overlapping windows when smaller than the kernel).
            pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
                self.options = self.options.stride(stride);
                self
            }

            /// Padding on both sides of each spatial axis.
            pub fn padding(mut self, padding: impl Into<Size2>) -> Self {
                self.options = self.options.padding(padding);
                self
            }

            /// Round the output size up, so a partial last window counts (see
            /// [`PoolOptions::ceil_mode`]).
            pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
                self.options = self.options.ceil_mode(ceil_mode);
                self
            }
        }

        impl<T: Float> Module<T> for $name {
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                crate::module_ext::traced(self, x.$op(self.kernel, self.options))
            }

            fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
        }
    };
}

/// The `dilation` option of the max pooling layers.
macro_rules! dilation {
    ($($name:ident),*) => {$(
        impl $name {
            /// The spacing between window taps (1: adjacent).
            pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
                self.options = self.options.dilation(dilation);
                self
            }
        }
    )*};
}

/// The `count_include_pad` option of the average pooling layers.
macro_rules! count_include_pad {
    ($($name:ident),*) => {$(
        impl $name {
            /// Whether padding counts in the average (true, the default) or each window
            /// divides by the input elements it covers.
            pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
                self.options = self.options.count_include_pad(count_include_pad);
                self
            }
        }
    )*};
}

pool_layer!(
    /// 2-D max pooling, as `torch.nn.MaxPool2d` / Keras' `MaxPooling2D`; see
    /// [`Var::max_pool2d`] for ties and NaN, [`PoolOptions`] for the options.
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output `[N, C, ⌊(H + 2p − d·(kH − 1) − 1) / s⌋ + 1, ..]` (rounded up with
    ///   `ceil_mode`)
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{MaxPool2d, Module};
    /// let pool = MaxPool2d::new(2);
    /// let g = Graph::<f32>::new();
    /// assert_eq!(pool.forward(g.constant(Tensor::zeros(&[1, 3, 26, 26]))).shape(), vec![1, 3, 13, 13]);
    /// let pool = MaxPool2d::new(2).ceil_mode(true);
    /// assert_eq!(pool.forward(g.constant(Tensor::zeros(&[1, 3, 25, 25]))).shape(), vec![1, 3, 13, 13]);
    /// ```
    MaxPool2d,
    Size2,
    impl Into<Size2>,
    max_pool2d_with
);

pool_layer!(
    /// 1-D max pooling, as `torch.nn.MaxPool1d`; see [`Var::max_pool1d`]. The options'
    /// width components apply.
    ///
    /// # Shapes
    /// - input `[N, C, L]`
    /// - output `[N, C, ⌊(L + 2p − d·(k − 1) − 1) / s⌋ + 1]` (rounded up with `ceil_mode`)
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{MaxPool1d, Module};
    /// let pool = MaxPool1d::new(3).stride(2);
    /// let g = Graph::<f32>::new();
    /// assert_eq!(pool.forward(g.constant(Tensor::zeros(&[2, 4, 9]))).shape(), vec![2, 4, 4]);
    /// ```
    MaxPool1d,
    usize,
    usize,
    max_pool1d_with
);

pool_layer!(
    /// 2-D average pooling, as `torch.nn.AvgPool2d` (padding counts as zeros unless
    /// `count_include_pad(false)`).
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output `[N, C, ⌊(H + 2p − kH) / s⌋ + 1, ⌊(W + 2p − kW) / s⌋ + 1]` (rounded up with
    ///   `ceil_mode`)
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{AvgPool2d, Module};
    /// let pool = AvgPool2d::new(3).stride(1).padding(1);
    /// let g = Graph::<f32>::new();
    /// assert_eq!(pool.forward(g.constant(Tensor::zeros(&[1, 3, 8, 8]))).shape(), vec![1, 3, 8, 8]);
    /// ```
    AvgPool2d,
    Size2,
    impl Into<Size2>,
    avg_pool2d_with
);

pool_layer!(
    /// 1-D average pooling, as `torch.nn.AvgPool1d`; see [`Var::avg_pool1d`]. The options'
    /// width components apply.
    ///
    /// # Shapes
    /// - input `[N, C, L]`
    /// - output `[N, C, ⌊(L + 2p − k) / s⌋ + 1]` (rounded up with `ceil_mode`)
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{AvgPool1d, Module};
    /// let pool = AvgPool1d::new(2).padding(1).count_include_pad(false);
    /// let g = Graph::<f64>::new();
    /// let y = pool.forward(g.constant(Tensor::from_vec(vec![2.0, 4.0], &[1, 1, 2])));
    /// assert_eq!(y.value().to_vec(), vec![2.0, 4.0]);
    /// ```
    AvgPool1d,
    usize,
    usize,
    avg_pool1d_with
);

dilation!(MaxPool1d, MaxPool2d);
count_include_pad!(AvgPool1d, AvgPool2d);

/// Defines an adaptive pooling layer over the autograd op `$op`.
macro_rules! adaptive_layer {
    ($(#[$doc:meta])* $name:ident, $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            output: Size2,
        }

        impl $name {
            /// Pooling to `output` (one size or `(h, w)`).
            pub fn new(output: impl Into<Size2>) -> Self {
                $name { output: output.into() }
            }
        }

        impl<T: Float> Module<T> for $name {
            #[track_caller]
            fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
                crate::module_ext::traced(self, x.$op(self.output))
            }

            fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
        }
    };
}

adaptive_layer!(
    /// Average pooling to a fixed output size, as `torch.nn.AdaptiveAvgPool2d`; see
    /// [`Var::adaptive_avg_pool2d`].
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output `[N, C, oH, oW]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{AdaptiveAvgPool2d, Module};
    /// let g = Graph::<f32>::new();
    /// let y = AdaptiveAvgPool2d::new(1).forward(g.constant(Tensor::ones(&[2, 3, 7, 5])));
    /// assert_eq!(y.shape(), vec![2, 3, 1, 1]);
    /// ```
    AdaptiveAvgPool2d,
    adaptive_avg_pool2d
);

adaptive_layer!(
    /// Max pooling to a fixed output size, as `torch.nn.AdaptiveMaxPool2d` (without
    /// `return_indices`); see [`Var::adaptive_max_pool2d`].
    ///
    /// # Shapes
    /// - input `[N, C, H, W]`
    /// - output `[N, C, oH, oW]`
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Tensor};
    /// use ferrograd::nn::{AdaptiveMaxPool2d, Module};
    /// let g = Graph::<f32>::new();
    /// let y = AdaptiveMaxPool2d::new((2, 3)).forward(g.constant(Tensor::ones(&[1, 3, 7, 5])));
    /// assert_eq!(y.shape(), vec![1, 3, 2, 3]);
    /// ```
    AdaptiveMaxPool2d,
    adaptive_max_pool2d
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
        check_module(&MaxPool2d::new(2).dilation(2).ceil_mode(true), &x).unwrap();
        check_module(&AvgPool2d::new(2).padding(1).count_include_pad(false), &x).unwrap();
        check_module(&AdaptiveMaxPool2d::new((2, 3)), &x).unwrap();
        check_module(&AdaptiveAvgPool2d::new(3), &x).unwrap();
        let x1 = Tensor::from_vec(x.to_vec(), &[2, 2, 25]);
        check_module(&MaxPool1d::new(3).stride(2).padding(1), &x1).unwrap();
        check_module(&AvgPool1d::new(3).ceil_mode(true), &x1).unwrap();
        check_module(&Flatten, &x).unwrap();
    }
}
