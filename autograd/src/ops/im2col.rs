//! The two linear primitives under convolution and pooling: `im2col`, which lays every
//! sliding window of an image batch out as a column, and its adjoint `col2im`, which adds
//! columns back into the image. Each is the other's backward, so everything built on them
//! (conv1d, conv2d, conv_transpose2d, avg_pool2d) is differentiable to any order.
//!
//! Layout: an image batch `[N, C, H, W]` becomes a matrix `[C·kH·kW, N·oH·oW]` — rows
//! ordered by (channel, kernel row, kernel column), columns by (image, output row, output
//! column). With the batch folded into the columns a whole convolution is one GEMM, which
//! stays efficient on the small feature maps of a CNN's later layers; conv2d's own kernels
//! fold only as many images as a GEMM needs ([`im2col_into`] on a chunk of the batch).

use crate::alloc::alloc;
use crate::float::Float;
use crate::grads;
use crate::graph::Var;
use crate::tensor::Tensor;

/// A height and a width: of a kernel, a stride, a padding, a dilation or an output size.
/// `2.into()` gives `Size2(2, 2)`; `(3, 1).into()` gives `Size2(3, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size2(pub usize, pub usize);

impl From<usize> for Size2 {
    fn from(n: usize) -> Self {
        Size2(n, n)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2(h, w)
    }
}

impl From<[usize; 2]> for Size2 {
    fn from([h, w]: [usize; 2]) -> Self {
        Size2(h, w)
    }
}

impl Size2 {
    pub(crate) fn get(self, axis: usize) -> usize {
        if axis == 0 { self.0 } else { self.1 }
    }
}

/// A sliding window over the two spatial axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub kernel: Size2,
    pub stride: Size2,
    pub padding: Size2,
    pub dilation: Size2,
}

impl Window {
    /// An undilated pooling window.
    #[cfg(test)]
    pub fn pool(kernel: Size2, stride: Size2, padding: Size2) -> Self {
        Window {
            kernel,
            stride,
            padding,
            dilation: Size2(1, 1),
        }
    }

    /// The number of window positions along spatial `axis` of an input of size `n`, or
    /// `None` if the (dilated) kernel is larger than the padded input (a span that
    /// overflows `usize` is) or the padded size `n + 2p` overflows.
    pub fn out_size(&self, axis: usize, n: usize) -> Option<usize> {
        let span = self
            .dilation
            .get(axis)
            .checked_mul(self.kernel.get(axis).checked_sub(1)?)?
            .checked_add(1)?;
        let padded = self.padded(axis, n)?;
        (padded >= span).then(|| (padded - span) / self.stride.get(axis) + 1)
    }

    /// `n + 2p` along `axis`, or `None` if it overflows.
    fn padded(&self, axis: usize, n: usize) -> Option<usize> {
        self.padding.get(axis).checked_mul(2)?.checked_add(n)
    }

    /// Panics, naming `op`, unless the kernel, stride and dilation are positive.
    #[track_caller]
    pub fn check_positive(&self, op: &str) {
        for (name, s) in [
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            assert!(
                s.0 > 0 && s.1 > 0,
                "{op}: {name} must be positive, got {s:?}"
            );
        }
    }

    /// Panics, naming `op`, unless the window has positive sizes and fits `[h, w]`;
    /// returns the output size. All window arithmetic is checked, and every position the
    /// kernels compute (at most `h + 2p`) then fits in `usize`.
    ///
    /// Pooling ops should follow it with [`checked_numel`](crate::alloc::checked_numel)
    /// of their output shape `[N, C, oH, oW]`.
    #[track_caller]
    pub fn checked_out(&self, op: &str, h: usize, w: usize) -> Size2 {
        self.check_positive(op);
        assert!(
            self.padded(0, h).is_some() && self.padded(1, w).is_some(),
            "{op}: padding {:?} is too large for the input {h}x{w} (the padded size overflows)",
            self.padding
        );
        match (self.out_size(0, h), self.out_size(1, w)) {
            (Some(oh), Some(ow)) => Size2(oh, ow),
            _ => panic!(
                "{op}: kernel {:?} with dilation {:?} does not fit the input {h}x{w} padded by {:?}",
                self.kernel, self.dilation, self.padding
            ),
        }
    }
}

/// Where an image batch `[N, C, H, W]` meets its window positions `out`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub window: Window,
    pub image: [usize; 4],
    pub out: Size2,
}

impl Geometry {
    pub(crate) fn cols_shape(&self) -> [usize; 2] {
        let [n, c, ..] = self.image;
        let k = self.window.kernel;
        [c * k.0 * k.1, n * self.out.0 * self.out.1]
    }

    /// Calls `f(col, pixel, len)` for every run of a window row that lands inside the
    /// image: column element `col + i` reads image element `pixel + i · stride_w`. Padding
    /// positions are skipped, so they stay zero in `im2col` and receive nothing in `col2im`.
    fn for_each_run(&self, mut f: impl FnMut(usize, usize, usize)) {
        let [n, c, h, w] = self.image;
        let Window {
            kernel: k,
            stride: s,
            padding: p,
            dilation: d,
        } = self.window;
        let Size2(oh, ow) = self.out;
        let cols = n * oh * ow;
        for ci in 0..c {
            for ki in 0..k.0 {
                for kj in 0..k.1 {
                    let row = (ci * k.0 + ki) * k.1 + kj;
                    // Output columns whose input column ox·s + kj·d − p lies in 0..w.
                    let offset = kj * d.1;
                    let lo = p.1.saturating_sub(offset).div_ceil(s.1);
                    let hi = if w + p.1 > offset {
                        ((w + p.1 - offset - 1) / s.1 + 1).min(ow)
                    } else {
                        0
                    };
                    if lo >= hi {
                        continue;
                    }
                    for b in 0..n {
                        for oy in 0..oh {
                            let iy = (oy * s.0 + ki * d.0).wrapping_sub(p.0);
                            if iy >= h {
                                continue;
                            }
                            let col = row * cols + (b * oh + oy) * ow + lo;
                            let pixel = ((b * c + ci) * h + iy) * w + lo * s.1 + offset - p.1;
                            f(col, pixel, hi - lo);
                        }
                    }
                }
            }
        }
    }
}

/// Lays the windows of `x` (standard layout) out as columns.
fn im2col_kernel<T: Float>(x: &[T], geo: &Geometry) -> Vec<T> {
    let shape = geo.cols_shape();
    let mut out = alloc::<T>("im2col", &shape);
    out.resize(shape[0] * shape[1], T::zero());
    im2col_into(x, geo, &mut out);
    out
}

/// Writes the windows of `x` (standard layout) into the column matrix `out`
/// (`[C·kH·kW, N·oH·oW]`), at every position inside the image; padding positions are not
/// written, so a buffer zeroed once and refilled for images of the same geometry keeps
/// its zeros there.
pub(crate) fn im2col_into<T: Float>(x: &[T], geo: &Geometry, out: &mut [T]) {
    let step = geo.window.stride.1;
    geo.for_each_run(|col, pixel, len| {
        let dst = &mut out[col..col + len];
        if step == 1 {
            dst.copy_from_slice(&x[pixel..pixel + len]);
        } else {
            for (i, o) in dst.iter_mut().enumerate() {
                *o = x[pixel + i * step];
            }
        }
    });
}

/// Adds the columns back into an image (the adjoint of [`im2col_kernel`]).
fn col2im_kernel<T: Float>(cols: &[T], geo: &Geometry) -> Vec<T> {
    let mut out = alloc::<T>("col2im", &geo.image);
    out.resize(geo.image.iter().product(), T::zero());
    col2im_add(cols, geo, &mut out);
    out
}

/// Adds the column matrix `cols` into the image batch `out` (standard layout): the
/// adjoint of [`im2col_into`].
pub(crate) fn col2im_add<T: Float>(cols: &[T], geo: &Geometry, out: &mut [T]) {
    let step = geo.window.stride.1;
    geo.for_each_run(|col, pixel, len| {
        let src = &cols[col..col + len];
        if step == 1 {
            for (o, &v) in out[pixel..pixel + len].iter_mut().zip(src) {
                *o += v;
            }
        } else {
            for (i, &v) in src.iter().enumerate() {
                out[pixel + i * step] += v;
            }
        }
    });
}

impl<'g, T: Float> Var<'g, T> {
    /// Records `im2col` of an image batch with the (already validated) geometry.
    #[track_caller]
    pub(crate) fn im2col(self, geo: Geometry) -> Var<'g, T> {
        self.graph().custom_op(
            "im2col",
            &[self],
            |v| {
                let x = v[0].array().as_standard_layout();
                let data = im2col_kernel(x.as_slice().expect("standard layout"), &geo);
                Tensor::from_vec(data, &geo.cols_shape())
            },
            move |_, g| grads![Some(g.col2im(geo))],
        )
    }

    /// Records `col2im` of a column matrix into the image batch of the geometry.
    #[track_caller]
    pub(crate) fn col2im(self, geo: Geometry) -> Var<'g, T> {
        self.graph().custom_op(
            "col2im",
            &[self],
            |v| {
                let c = v[0].array().as_standard_layout();
                let data = col2im_kernel(c.as_slice().expect("standard layout"), &geo);
                Tensor::from_vec(data, &geo.image)
            },
            move |_, g| grads![Some(g.im2col(geo))],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Graph;
    use crate::testing::{self, check_grads, tensor_of};
    use proptest::prelude::*;

    fn geometry(image: [usize; 4], k: usize, s: usize, p: usize, d: usize) -> Geometry {
        let window = Window {
            kernel: k.into(),
            stride: s.into(),
            padding: p.into(),
            dilation: d.into(),
        };
        let out = window.checked_out("test", image[2], image[3]);
        Geometry { window, image, out }
    }

    #[test]
    fn im2col_lays_out_windows_with_zero_padding() {
        // One 3x3 image, 2x2 kernel, padding 1, stride 2: 2x2 positions.
        let geo = geometry([1, 1, 3, 3], 2, 2, 1, 1);
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        let cols = im2col_kernel(&x, &geo);
        // Rows: kernel (0,0), (0,1), (1,0), (1,1); columns: positions (0,0), (0,1), (1,0), (1,1).
        #[rustfmt::skip]
        let want = vec![
            0.0, 0.0, 0.0, 5.0,
            0.0, 0.0, 4.0, 6.0,
            0.0, 2.0, 0.0, 8.0,
            1.0, 3.0, 7.0, 9.0,
        ];
        assert_eq!(cols, want);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for any x, c.
        let geo = geometry([2, 3, 5, 4], 3, 2, 1, 2);
        let n: usize = geo.image.iter().product();
        let [r, c] = geo.cols_shape();
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let cols: Vec<f64> = (0..r * c).map(|i| (i as f64 * 0.11).cos()).collect();
        let lhs: f64 = im2col_kernel(&x, &geo)
            .iter()
            .zip(&cols)
            .map(|(a, b)| a * b)
            .sum();
        let rhs: f64 = x
            .iter()
            .zip(col2im_kernel(&cols, &geo))
            .map(|(a, b)| a * b)
            .sum();
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
    }

    #[test]
    fn window_out_size_follows_the_pytorch_formula() {
        let w = Window {
            kernel: 3.into(),
            stride: 2.into(),
            padding: 1.into(),
            dilation: 2.into(),
        };
        // floor((7 + 2 - 2·2 - 1) / 2) + 1 = 3
        assert_eq!(w.out_size(0, 7), Some(3));
        assert_eq!(w.out_size(0, 2), None);
    }

    #[test]
    fn window_arithmetic_is_checked() {
        let w = |k: usize, s: usize, p: usize, d: usize| Window {
            kernel: k.into(),
            stride: s.into(),
            padding: p.into(),
            dilation: d.into(),
        };
        // A span that overflows cannot fit; a padded size that overflows has no answer.
        assert_eq!(w(3, 1, 0, 1 << 63).out_size(0, 4), None);
        assert_eq!(w(3, 1, 1 << 63, 1).out_size(0, 4), None);
        // Large but representable: stride brings it back to a small output.
        assert_eq!(w(3, 1 << 62, 1 << 61, 1).out_size(0, 4), Some(2));
    }

    proptest! {
        #![proptest_config(testing::config())]

        #[test]
        fn im2col_and_col2im_grads_match_finite_diff(
            (x, k, s, p, d) in (1usize..=2, 1usize..=3, 3usize..=6, 3usize..=6, 1usize..=3, 1usize..=3, 0usize..=1, 1usize..=2)
                .prop_flat_map(|(n, c, h, w, k, s, p, d)| (tensor_of(vec![n, c, h, w], -1.0..1.0), Just(k), Just(s), Just(p), Just(d)))
                .prop_filter("window fits", |(x, k, _, p, d)| d * (k - 1) < x.shape()[2] + 2 * p && d * (k - 1) < x.shape()[3] + 2 * p)
        ) {
            let s4 = x.shape();
            let geo = geometry([s4[0], s4[1], s4[2], s4[3]], k, s, p, d);
            check_grads(|v| v[0].im2col(geo).square(), std::slice::from_ref(&x))?;
            let cols = Graph::<f64>::new().constant(x.clone()).im2col(geo).value();
            check_grads(|v| v[0].col2im(geo).square(), &[cols])?;
        }
    }
}
