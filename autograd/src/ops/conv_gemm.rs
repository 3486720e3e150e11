//! conv2d's kernels: the forward pass and the fused first-order backward pass, each a loop
//! over images (or chunks of a few small images) that lays the windows out in a column
//! buffer reused across the loop and runs one GEMM per group on it.
//!
//! Compared with one im2col of the whole batch and one big GEMM, nothing batch-sized but
//! the result is allocated or zero-filled: the columns of one image stay in cache between
//! im2col and the GEMM, the output comes out in NCHW directly (no `[C, N, ..]` to NCHW
//! copy), the bias is added by the GEMM (`β = 1` on rows prefilled with it), and the
//! backward pass recomputes each image's columns instead of keeping the batch's (for
//! MNIST's 32→64 3×3 layer at batch 32, 21 MB kept until `clear`, against a 0.7 MB
//! buffer).

use std::borrow::Cow;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use crate::float::Float;
use crate::ops::im2col::{Geometry, col2im_add, im2col_into};
use crate::tensor::alloc;

/// Below this many columns (output positions) per GEMM, several images share one GEMM: a
/// late layer's 7×7 maps would otherwise run skinny products of 49 columns.
pub(crate) const MIN_COLS: usize = 512;

/// A validated conv2d: the batch's geometry, the groups and the output channels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvPlan {
    pub geo: Geometry,
    pub groups: usize,
    pub out_channels: usize,
    /// Images are grouped into one GEMM until it has at least this many columns
    /// ([`MIN_COLS`]; tests lower it to exercise several chunks).
    pub min_cols: usize,
}

impl ConvPlan {
    /// Output positions per image.
    fn positions(&self) -> usize {
        self.geo.out.0 * self.geo.out.1
    }

    /// Input elements per image.
    fn image_len(&self) -> usize {
        let [_, c, h, w] = self.geo.image;
        c * h * w
    }

    /// Rows of one group's column block: `C_in / groups · kH · kW`.
    fn group_rows(&self) -> usize {
        let [_, c, ..] = self.geo.image;
        let k = self.geo.window.kernel;
        c / self.groups * k.0 * k.1
    }

    /// Images per GEMM.
    fn chunk(&self) -> usize {
        let n = self.geo.image[0].max(1);
        self.min_cols.div_ceil(self.positions().max(1)).clamp(1, n)
    }

    /// The geometry of `images` images.
    fn geo_of(&self, images: usize) -> Geometry {
        let [_, c, h, w] = self.geo.image;
        Geometry {
            image: [images, c, h, w],
            ..self.geo
        }
    }

    /// `[N, O, oH, oW]`.
    pub(crate) fn output_shape(&self) -> [usize; 4] {
        [
            self.geo.image[0],
            self.out_channels,
            self.geo.out.0,
            self.geo.out.1,
        ]
    }

    /// An empty buffer with room for one chunk's columns, `[C·kH·kW, chunk·oH·oW]`.
    #[track_caller]
    fn column_buffer<T>(&self) -> Vec<T> {
        let rows = self.groups * self.group_rows();
        alloc::<T>("im2col", &[rows, self.chunk() * self.positions()])
    }

    /// The chunks of images, as `(first, count)`.
    fn chunks(&self) -> impl Iterator<Item = (usize, usize)> {
        let (n, step) = (self.geo.image[0], self.chunk());
        (0..n).step_by(step).map(move |b| (b, step.min(n - b)))
    }
}

/// A `rows × cols` matrix over a standard-layout slice.
fn mat<T>(data: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), &data[..rows * cols]).expect("sizes")
}

fn mat_mut<T>(data: &mut [T], rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), &mut data[..rows * cols]).expect("sizes")
}

/// `buf` as a zero-filled scratch buffer of `len` elements, zeroed again only when the
/// length changes (the last chunk may be shorter), within the capacity reserved by
/// [`ConvPlan::column_buffer`].
fn scratch<T: Float>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() != len {
        buf.clear();
        buf.resize(len, T::zero());
    }
    buf
}

/// `y = x ⋆ w (+ bias)` for standard-layout `x [N, C, H, W]` and `w [O, C/G, kH, kW]`:
/// the output `[N, O, oH, oW]`, flat.
pub(crate) fn conv2d_forward<T: Float>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    plan: &ConvPlan,
) -> Vec<T> {
    let [n, ..] = plan.geo.image;
    let (o, groups, k, p) = (
        plan.out_channels,
        plan.groups,
        plan.group_rows(),
        plan.positions(),
    );
    let og = o / groups;
    // The column buffer first: it is the larger one whenever the kernel has more taps than
    // the layer has output channels.
    let mut cols = plan.column_buffer();
    let [_, _, oh, ow] = plan.output_shape();
    let mut out = alloc::<T>("conv2d", &[n, o, oh, ow]);
    let mut prod = Vec::new();
    let row_start = |oc: usize| bias.map_or(T::zero(), |b| b[oc]);
    for (b0, b) in plan.chunks() {
        let ncols = b * p;
        let cols = scratch(&mut cols, groups * k * ncols);
        let len = plan.image_len();
        im2col_into(&x[b0 * len..(b0 + b) * len], &plan.geo_of(b), cols);
        let product = |c: &mut [T], beta: T| {
            for gi in 0..groups {
                general_mat_mul(
                    T::one(),
                    &mat(&w[gi * og * k..], og, k),
                    &mat(&cols[gi * k * ncols..], k, ncols),
                    beta,
                    &mut mat_mut(&mut c[gi * og * ncols..], og, ncols),
                );
            }
        };
        if b == 1 {
            // One image: its [O, oH·oW] block of the output is the GEMM's result, with the
            // bias prefilled and accumulated onto.
            let start = out.len();
            for oc in 0..o {
                out.resize(out.len() + p, row_start(oc));
            }
            let beta = if bias.is_some() { T::one() } else { T::zero() };
            product(&mut out[start..], beta);
        } else {
            // Several images: the product is [O, b·oH·oW]; each image's rows move to NCHW
            // with the bias added on the way.
            let prod = scratch(&mut prod, o * ncols);
            product(prod, T::zero());
            for i in 0..b {
                for oc in 0..o {
                    let row = &prod[oc * ncols + i * p..][..p];
                    let add = row_start(oc);
                    out.extend(row.iter().map(|&v| v + add));
                }
            }
        }
    }
    out
}

/// The rows `[O, b·P]` of the output gradient `g [N, O, P]` for images `b0..b0 + b`:
/// borrowed for one image, gathered for several.
fn grad_rows<T: Float>(g: &[T], o: usize, p: usize, b0: usize, b: usize) -> Cow<'_, [T]> {
    if b == 1 {
        return Cow::Borrowed(&g[b0 * o * p..(b0 + 1) * o * p]);
    }
    let mut rows = Vec::with_capacity(o * b * p);
    for oc in 0..o {
        for i in b0..b0 + b {
            rows.extend_from_slice(&g[(i * o + oc) * p..][..p]);
        }
    }
    Cow::Owned(rows)
}

/// conv2d's first-order gradients, each computed only if asked for.
pub(crate) struct ConvGrads<T> {
    pub input: Option<Vec<T>>,
    pub weight: Option<Vec<T>>,
    pub bias: Option<Vec<T>>,
}

/// The first-order gradients of conv2d with respect to the input (if `need[0]`), the
/// weight (if `need[1]`) and the bias (if `need[2]`), from the standard-layout input,
/// weight and output gradient, in one loop over the images (each image's output gradient
/// read while it is in cache).
pub(crate) fn conv2d_backward<T: Float>(
    x: &[T],
    w: &[T],
    g: &[T],
    plan: &ConvPlan,
    [need_x, need_w, need_b]: [bool; 3],
) -> ConvGrads<T> {
    let (o, groups, k, p) = (
        plan.out_channels,
        plan.groups,
        plan.group_rows(),
        plan.positions(),
    );
    let (og, len) = (o / groups, plan.image_len());
    // The input's columns (whose padding positions must stay zero) and the columns of the
    // input gradient, each only if needed.
    let mut cols = if need_w {
        plan.column_buffer()
    } else {
        Vec::new()
    };
    let mut dcols = if need_x {
        plan.column_buffer()
    } else {
        Vec::new()
    };
    let mut dx = need_x.then(|| alloc::<T>("conv2d_backward", &plan.geo.image));
    let mut dw = need_w.then(|| vec![T::zero(); w.len()]);
    let mut db = need_b.then(|| vec![T::zero(); o]);
    for (b0, b) in plan.chunks() {
        let (ncols, geo) = (b * p, plan.geo_of(b));
        if let Some(db) = &mut db {
            for (i, row) in g[b0 * o * p..(b0 + b) * o * p]
                .chunks_exact(p.max(1))
                .enumerate()
            {
                db[i % o] += sum(row);
            }
        }
        if !(need_x || need_w) {
            continue;
        }
        let rows = grad_rows(g, o, p, b0, b);
        if let Some(dw) = &mut dw {
            // dW_g += g_g · cols_gᵀ over this chunk's positions.
            let cols = scratch(&mut cols, groups * k * ncols);
            im2col_into(&x[b0 * len..(b0 + b) * len], &geo, cols);
            for gi in 0..groups {
                general_mat_mul(
                    T::one(),
                    &mat(&rows[gi * og * ncols..], og, ncols),
                    &mat(&cols[gi * k * ncols..], k, ncols).t(),
                    T::one(),
                    &mut mat_mut(&mut dw[gi * og * k..], og, k),
                );
            }
        }
        if let Some(dx) = &mut dx {
            // cols_g = W_gᵀ · g_g, added back into the chunk's images (col2im).
            let cols = scratch(&mut dcols, groups * k * ncols);
            for gi in 0..groups {
                general_mat_mul(
                    T::one(),
                    &mat(&w[gi * og * k..], og, k).t(),
                    &mat(&rows[gi * og * ncols..], og, ncols),
                    T::zero(),
                    &mut mat_mut(&mut cols[gi * k * ncols..], k, ncols),
                );
            }
            let start = dx.len();
            dx.resize(start + b * len, T::zero());
            col2im_add(cols, &geo, &mut dx[start..]);
        }
    }
    ConvGrads {
        input: dx,
        weight: dw,
        bias: db,
    }
}

/// A sum in eight interleaved lanes (which the compiler vectorises; a plain fold must keep
/// its sequential order and cannot be).
fn sum<T: Float>(xs: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let head = lanes.iter().fold(T::zero(), |a, &b| a + b);
    tail.iter().fold(head, |a, &b| a + b)
}
