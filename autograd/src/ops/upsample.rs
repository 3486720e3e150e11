//! Upsampling (resizing) of NCL / NCHW batches: interpolate with the nearest and (bi)linear
//! modes, as `torch.nn.functional.interpolate`.
//!
//! Both modes are separable, one spatial axis at a time (the width first, then the height,
//! the order in which PyTorch's bilinear kernel sums). Nearest is an `index_select` of the
//! source rows or columns, so its backward sums each output gradient into its source pixel;
//! linear is `x[i0]·λ0 + x[i1]·λ1` with constant weights, so its backward is the transposed
//! interpolation. Both are built from recorded ops and differentiable to any order.

use std::rc::Rc;

use crate::float::Float;
use crate::graph::Var;
use crate::ops::im2col::Size2;
use crate::tensor::Tensor;

/// How [`Var::interpolate`] computes an output value from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterpolateMode {
    /// The input pixel at `⌊o · scale⌋` (PyTorch's `"nearest"`).
    Nearest,
    /// Linear interpolation of the two nearest input elements of `[N, C, L]`
    /// (`"linear"`).
    Linear,
    /// Linear interpolation along both axes of `[N, C, H, W]` (`"bilinear"`).
    Bilinear,
}

/// The target size and mode of [`Var::interpolate`], as the arguments of
/// `torch.nn.functional.interpolate`: an output `size` or a `scale_factor`, a mode
/// (nearest by default) and `align_corners` (false by default; only for the linear
/// modes). Sizes and factors give height and width; a 1-D input uses the width.
///
/// ```
/// use ferrograd::autograd::{Interpolate, InterpolateMode, Size2};
/// let up = Interpolate::scale_factor(2.0).mode(InterpolateMode::Bilinear);
/// assert_eq!(up, Interpolate::scale_factors(2.0, 2.0).mode(InterpolateMode::Bilinear));
/// let to = Interpolate::size((4, 6)).align_corners(true).mode(InterpolateMode::Bilinear);
/// assert_ne!(to, up);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interpolate {
    size: Option<Size2>,
    scale: (f64, f64),
    mode: InterpolateMode,
    align_corners: bool,
}

impl Interpolate {
    /// Resize to `size` (one number for both axes or `(h, w)`).
    pub fn size(size: impl Into<Size2>) -> Self {
        Interpolate {
            size: Some(size.into()),
            scale: (0.0, 0.0),
            mode: InterpolateMode::Nearest,
            align_corners: false,
        }
    }

    /// Scale both axes by `factor`: the output size is `⌊in · factor⌋`, and (as PyTorch
    /// without `recompute_scale_factor`) the factor itself maps output to input positions.
    pub fn scale_factor(factor: f64) -> Self {
        Self::scale_factors(factor, factor)
    }

    /// Scale the height by `h` and the width by `w` (see [`Interpolate::scale_factor`]).
    pub fn scale_factors(h: f64, w: f64) -> Self {
        Interpolate {
            size: None,
            scale: (h, w),
            mode: InterpolateMode::Nearest,
            align_corners: false,
        }
    }

    /// The interpolation mode.
    pub fn mode(mut self, mode: InterpolateMode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether the corner pixels of input and output are aligned (their centres map onto
    /// each other) rather than their outer edges; linear modes only.
    pub fn align_corners(mut self, align_corners: bool) -> Self {
        self.align_corners = align_corners;
        self
    }
}

/// Where one output axis reads the input: nearest indices, or linear pairs and weights.
enum AxisPlan<T> {
    Identity,
    Nearest(Vec<usize>),
    Linear {
        i0: Vec<usize>,
        i1: Vec<usize>,
        l0: Vec<T>,
        l1: Vec<T>,
    },
}

/// The plan of one axis from `input` to `out` elements; `factor` is the user's scale
/// factor (0 when a size was given).
fn axis_plan<T: Float>(
    input: usize,
    out: usize,
    factor: f64,
    mode: InterpolateMode,
    align_corners: bool,
) -> AxisPlan<T> {
    if mode == InterpolateMode::Nearest {
        // PyTorch's nearest_idx, in f32 as PyTorch computes it for every dtype.
        let scale = if factor > 0.0 {
            (1.0 / factor) as f32
        } else {
            input as f32 / out as f32
        };
        let idx: Vec<usize> = (0..out)
            .map(|o| match () {
                _ if out == input => o,
                _ if out == 2 * input => o / 2,
                _ => ((o as f32 * scale).floor() as usize).min(input - 1),
            })
            .collect();
        if idx.iter().enumerate().all(|(o, &i)| o == i) && out == input {
            return AxisPlan::Identity;
        }
        return AxisPlan::Nearest(idx);
    }
    // PyTorch's area_pixel_compute_scale / _source_index / guard_index_and_lambda, in T.
    let scale = if align_corners {
        if out > 1 {
            T::from_usize(input - 1) / T::from_usize(out - 1)
        } else {
            T::zero()
        }
    } else if factor > 0.0 {
        T::from_f64(1.0 / factor)
    } else {
        T::from_usize(input) / T::from_usize(out)
    };
    let half = T::from_f64(0.5);
    let (mut i0, mut i1, mut l0, mut l1) = (vec![], vec![], vec![], vec![]);
    for o in 0..out {
        let o = T::from_usize(o);
        let src = if align_corners {
            scale * o
        } else {
            (scale * (o + half) - half).max(T::zero())
        };
        let lo = (src.floor().as_f64() as usize).min(input - 1);
        let lambda = (src - T::from_usize(lo)).max(T::zero()).min(T::one());
        i0.push(lo);
        i1.push(if lo < input - 1 { lo + 1 } else { lo });
        l1.push(lambda);
        l0.push(T::one() - lambda);
    }
    if out == input
        && l1.iter().all(|&l| l == T::zero())
        && i0.iter().enumerate().all(|(o, &i)| o == i)
    {
        return AxisPlan::Identity;
    }
    AxisPlan::Linear { i0, i1, l0, l1 }
}

impl<'g, T: Float> Var<'g, T> {
    /// Resizes `[N, C, L]` or `[N, C, H, W]`, as `torch.nn.functional.interpolate` with the
    /// nearest, linear (3-D) or bilinear (4-D) mode, to a size or by a scale factor (see
    /// [`Interpolate`]).
    ///
    /// - Nearest: output `o` takes input `min(⌊o · s⌋, in − 1)`, `s = 1 / scale_factor` or
    ///   `in / out`, computed in `f32` as PyTorch does.
    /// - (Bi)linear: output `o` reads the input at `src = (o + ½)·s − ½` (clamped at 0), or
    ///   `o·(in − 1)/(out − 1)` with `align_corners`, and mixes its two neighbours
    ///   `⌊src⌋` and `⌊src⌋ + 1` with weights `1 − λ` and `λ = src − ⌊src⌋`, along each axis.
    ///
    /// Backward: nearest sums each output gradient into its source pixel; linear spreads it
    /// to the two (four) neighbours with the same weights (the transposed interpolation).
    /// Both are recorded ops, differentiable again.
    ///
    /// # Panics
    /// If the input's rank does not suit the mode (nearest: 3-D or 4-D, linear: 3-D,
    /// bilinear: 4-D), a spatial size is 0, a scale factor is not positive and finite, the
    /// output size is 0, or `align_corners` is set with the nearest mode.
    ///
    /// ```
    /// use ferrograd::autograd::{Graph, Interpolate, InterpolateMode, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]));
    /// let y = x.interpolate(Interpolate::scale_factor(2.0));
    /// assert_eq!(y.value().to_vec(), vec![
    ///     1.0, 1.0, 2.0, 2.0,
    ///     1.0, 1.0, 2.0, 2.0,
    ///     3.0, 3.0, 4.0, 4.0,
    ///     3.0, 3.0, 4.0, 4.0,
    /// ]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![4.0; 4]);
    ///
    /// // Linear, corners aligned: 3 points from 2.
    /// let x = g.var(Tensor::from_vec(vec![0.0, 1.0], &[1, 1, 2]));
    /// let up = Interpolate::size(3).mode(InterpolateMode::Linear).align_corners(true);
    /// assert_eq!(x.interpolate(up).value().to_vec(), vec![0.0, 0.5, 1.0]);
    /// ```
    #[track_caller]
    pub fn interpolate(self, options: Interpolate) -> Var<'g, T> {
        let op = "interpolate";
        let shape = self.shape_for(op).to_vec();
        let mode = options.mode;
        let rank_ok = match mode {
            InterpolateMode::Nearest => shape.len() == 3 || shape.len() == 4,
            InterpolateMode::Linear => shape.len() == 3,
            InterpolateMode::Bilinear => shape.len() == 4,
        };
        assert!(
            rank_ok,
            "{op}: mode {mode:?} takes {}, got shape {shape:?}",
            match mode {
                InterpolateMode::Nearest => "[N, C, L] or [N, C, H, W]",
                InterpolateMode::Linear => "[N, C, L]",
                InterpolateMode::Bilinear => "[N, C, H, W]",
            }
        );
        assert!(
            !(options.align_corners && mode == InterpolateMode::Nearest),
            "{op}: align_corners is only for the linear modes, not {mode:?}"
        );
        assert!(
            shape[2..].iter().all(|&d| d > 0),
            "{op}: the spatial sizes of the input must be positive, got shape {shape:?}"
        );
        if options.size.is_none() {
            let (h, w) = options.scale;
            assert!(
                [h, w].iter().all(|s| s.is_finite() && *s > 0.0),
                "{op}: scale factors must be positive and finite, got {:?}",
                options.scale
            );
        }
        // The spatial axes, as (axis, input size, output size, factor), width first.
        let axes: Vec<(usize, usize, usize, f64)> = (2..shape.len())
            .rev()
            .map(|axis| {
                let width = axis + 1 == shape.len();
                let input = shape[axis];
                let (out, factor) = match options.size {
                    Some(s) => (if width { s.1 } else { s.0 }, 0.0),
                    None => {
                        let f = if width {
                            options.scale.1
                        } else {
                            options.scale.0
                        };
                        ((input as f64 * f).floor() as usize, f)
                    }
                };
                (axis, input, out, factor)
            })
            .collect();
        assert!(
            axes.iter().all(|&(.., out, _)| out > 0),
            "{op}: the output size must be positive, got {:?} for the input of shape {shape:?}",
            axes.iter().rev().map(|a| a.2).collect::<Vec<_>>()
        );
        let graph = self.graph();
        let mut y = self;
        for (axis, input, out, factor) in axes {
            y = match axis_plan::<T>(input, out, factor, mode, options.align_corners) {
                AxisPlan::Identity => y,
                AxisPlan::Nearest(idx) => y.index_select_checked(axis, Rc::from(idx)),
                AxisPlan::Linear { i0, i1, l0, l1 } => {
                    let mut wshape = vec![1; shape.len() - axis];
                    wshape[0] = out;
                    let weight = |l: Vec<T>| {
                        graph.constant_named("interpolate_weights", Tensor::from_vec(l, &wshape))
                    };
                    y.index_select_checked(axis, Rc::from(i0)) * weight(l0)
                        + y.index_select_checked(axis, Rc::from(i1)) * weight(l1)
                }
            };
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Graph;
    use crate::testing::{self, check_gradgrads, check_grads, tensor_of};
    use proptest::prelude::*;

    #[test]
    fn bilinear_matches_pytorch_half_pixel_centres() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]),
        //     scale_factor=2, mode="bilinear") rows: [0, .25, .75, 1], [.5, .75, 1.25, 1.5], ...
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[1, 1, 2, 2]));
        let y = x.interpolate(Interpolate::scale_factor(2.0).mode(InterpolateMode::Bilinear));
        assert_eq!(
            y.value().to_vec(),
            vec![
                0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75,
                3.0
            ]
        );
    }

    #[test]
    fn nearest_downsampling_picks_floor_positions() {
        // 5 -> 3: scale 5/3, sources ⌊0⌋, ⌊1.67⌋, ⌊3.33⌋ = 0, 1, 3.
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 5.0, 1.0)).reshape(&[1, 1, 5]);
        assert_eq!(
            x.interpolate(Interpolate::size(3)).value().to_vec(),
            vec![0.0, 1.0, 3.0]
        );
    }

    #[test]
    fn same_size_is_the_identity() {
        let g = Graph::<f64>::new();
        let x = g.var(Tensor::arange(0.0, 6.0, 1.0)).reshape(&[1, 1, 2, 3]);
        for mode in [InterpolateMode::Nearest, InterpolateMode::Bilinear] {
            let y = x.interpolate(Interpolate::size((2, 3)).mode(mode));
            assert_eq!(y.value().to_vec(), x.value().to_vec());
        }
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn interpolate_grad_and_gradgrad_match_finite_diff(
            x in (1usize..=2, 1usize..=2, 1usize..=4, 1usize..=4).prop_flat_map(|(n, c, h, w)| tensor_of(vec![n, c, h, w], -1.0..1.0)),
            oh in 1usize..=6,
            ow in 1usize..=6,
            factor in prop::sample::select(vec![0.5, 1.5, 2.0, 3.0]),
            align in any::<bool>(),
        ) {
            let bilinear = |i: Interpolate| i.mode(InterpolateMode::Bilinear);
            for opts in [
                Interpolate::size((oh, ow)),
                bilinear(Interpolate::size((oh, ow))).align_corners(align),
                bilinear(Interpolate::scale_factors(factor, 2.0)),
            ] {
                let out = (x.shape()[2] as f64 * factor).floor() as usize;
                if out == 0 && opts.size.is_none() {
                    continue;
                }
                check_grads(|v| v[0].interpolate(opts).square(), std::slice::from_ref(&x))?;
                check_gradgrads(|v| v[0].interpolate(opts).square(), std::slice::from_ref(&x))?;
            }
            let x1 = Tensor::from_vec(x.to_vec(), &[x.shape()[0], x.shape()[1], x.shape()[2] * x.shape()[3]]);
            let linear = Interpolate::size(ow).mode(InterpolateMode::Linear).align_corners(align);
            check_grads(|v| v[0].interpolate(linear), &[x1])?;
        }
    }

    #[test]
    #[should_panic(expected = "interpolate: mode Bilinear takes [N, C, H, W], got shape [1, 1, 4]")]
    fn interpolate_panics_on_a_mode_that_does_not_suit_the_rank() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 4]))
            .interpolate(Interpolate::size(8).mode(InterpolateMode::Bilinear));
    }

    #[test]
    #[should_panic(
        expected = "interpolate: the output size must be positive, got [0, 2] for the input of shape [1, 1, 1, 4]"
    )]
    fn interpolate_panics_on_an_empty_output() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 1, 4]))
            .interpolate(Interpolate::scale_factor(0.5));
    }

    #[test]
    #[should_panic(
        expected = "interpolate: align_corners is only for the linear modes, not Nearest"
    )]
    fn interpolate_panics_on_align_corners_with_nearest() {
        Graph::<f64>::new()
            .var(Tensor::zeros(&[1, 1, 2, 2]))
            .interpolate(Interpolate::size(4).align_corners(true));
    }
}
