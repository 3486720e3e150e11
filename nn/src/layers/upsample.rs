//! The `Upsample` layer over [`Var::interpolate`].

use ferrograd_autograd::{Float, Interpolate, Var};

use crate::module::{Module, Slot};

/// Upsampling (resizing), as `torch.nn.Upsample`: [`Var::interpolate`] with a size or a
/// scale factor, the nearest (default), linear or bilinear mode and `align_corners`, all
/// set on the [`Interpolate`] it holds. No parameters.
///
/// # Shapes
/// - input `[N, C, L]` (nearest, linear) or `[N, C, H, W]` (nearest, bilinear)
/// - output `[N, C, L_out]` or `[N, C, H_out, W_out]`: the size, or `⌊in · scale_factor⌋`
///
/// ```
/// use ferrograd::autograd::{Graph, Interpolate, InterpolateMode, Tensor};
/// use ferrograd::nn::{Module, Upsample};
/// let up = Upsample::new(Interpolate::scale_factor(2.0).mode(InterpolateMode::Bilinear));
/// let g = Graph::<f32>::new();
/// assert_eq!(up.forward(g.constant(Tensor::zeros(&[1, 3, 5, 7]))).shape(), vec![1, 3, 10, 14]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Upsample {
    options: Interpolate,
}

impl Upsample {
    /// A layer resizing as `options` say.
    pub fn new(options: Interpolate) -> Self {
        Upsample { options }
    }
}

impl<T: Float> Module<T> for Upsample {
    #[track_caller]
    fn forward<'g>(&self, x: Var<'g, T>) -> Var<'g, T> {
        crate::module_ext::traced(self, x.interpolate(self.options))
    }

    fn visit(&self, _: &mut dyn FnMut(&str, Slot<'_, T>)) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check_module;
    use ferrograd_autograd::{InterpolateMode, Tensor};

    #[test]
    fn upsample_grads_match_finite_diff() {
        let x = Tensor::from_vec(
            (0..24).map(|i| (i as f64 * 0.7).sin()).collect(),
            &[2, 3, 2, 2],
        );
        check_module(&Upsample::new(Interpolate::scale_factor(2.0)), &x).unwrap();
        let bilinear = Interpolate::size((3, 5))
            .mode(InterpolateMode::Bilinear)
            .align_corners(true);
        check_module(&Upsample::new(bilinear), &x).unwrap();
    }
}
