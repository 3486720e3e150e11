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
//!
//! # Threads
//! A layer of at least twice [`PART_MIN_MACS`] multiply-adds is cut into parts: runs of whole
//! chunks, as even as can be, at most [`MAX_PARTS`] and none under [`PART_MIN_MACS`], a
//! partition fixed by the shapes alone (a batch that fits one chunk stays one part). With
//! several threads the parts run in parallel, each on a set of scratch buffers of its own
//! (one set per thread, handed from part to part), writing its images' output or input
//! gradient into its slice of a result zeroed up front (at one thread the result grows
//! chunk by chunk instead and is never zeroed as a whole). The weight and bias gradients,
//! sums over the batch, are summed per part, each from zero in a buffer of its own, and
//! the parts' sums added in part order; one thread runs the same parts in turn, so every
//! result is bit-identical for any thread count.

use std::iter;
use std::mem;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use crate::alloc::alloc;
use crate::float::Float;
use crate::ops::im2col::{Geometry, col2im_add, im2col_into};
use crate::threads::{Workers, num_threads};

/// Below this many columns (output positions) per GEMM, several images share one GEMM: a
/// late layer's 7×7 maps would otherwise run skinny products of 49 columns.
pub(crate) const MIN_COLS: usize = 512;

/// The fewest multiply-adds in a part of the batch (so a layer of at least twice this
/// splits). Larger than a matrix product's threshold (`PAR_MIN_MACS` in `matmul.rs`): each
/// part costs a partial weight gradient, summed at the end, and its own column buffers.
const PART_MIN_MACS: usize = 1 << 20;

/// The most parts a batch is cut into: each costs a partial weight gradient (and, while it
/// runs, a set of column buffers). 16 keeps up to 16 threads busy and lets the parts of a
/// few threads even out the load.
const MAX_PARTS: usize = 16;

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

    /// The chunks of the images `images`, as `(first, count)`.
    fn chunks(&self, images: Range<usize>) -> impl Iterator<Item = (usize, usize)> {
        let (end, step) = (images.end, self.chunk());
        images.step_by(step).map(move |b| (b, step.min(end - b)))
    }

    /// The forward pass's multiply-adds: `N · O · (C_in / groups · kH · kW) · oH · oW`.
    fn macs(&self) -> usize {
        [self.out_channels, self.group_rows(), self.positions()]
            .iter()
            .fold(self.geo.image[0], |m, &d| m.saturating_mul(d))
    }

    /// The parts of the batch, as ranges of images: runs of whole chunks, as even as can
    /// be, one part for a layer under twice [`PART_MIN_MACS`]. Fixed by the shapes alone, never by
    /// the thread count, so the weight and bias gradients sum in the same order at any.
    fn parts(&self) -> Vec<Range<usize>> {
        let (n, step) = (self.geo.image[0], self.chunk());
        let chunks = n.div_ceil(step);
        let count = (self.macs() / PART_MIN_MACS).clamp(1, chunks.clamp(1, MAX_PARTS));
        let first = |part: usize| (part * chunks / count * step).min(n);
        (0..count).map(|i| first(i)..first(i + 1)).collect()
    }
}

/// The threads to run `parts` parts on: the process's when there are several parts and
/// threads, else the caller's.
fn workers_for(parts: usize) -> Workers {
    if parts > 1 && num_threads() > 1 {
        Workers::current()
    } else {
        Workers::inline()
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

/// One part's scratch buffers: the columns of the input and of the input gradient, and a
/// product or gathered output gradient of several images. Each keeps its capacity from
/// chunk to chunk and from part to part.
struct Scratch<T> {
    cols: Vec<T>,
    dcols: Vec<T>,
    rows: Vec<T>,
}

impl<T> Scratch<T> {
    /// Column buffers for the input (if `cols`) and the input gradient (if `dcols`).
    #[track_caller]
    fn new(plan: &ConvPlan, cols: bool, dcols: bool) -> Self {
        let buffer = |needed: bool| {
            if needed {
                plan.column_buffer()
            } else {
                Vec::new()
            }
        };
        Scratch {
            cols: buffer(cols),
            dcols: buffer(dcols),
            rows: Vec::new(),
        }
    }
}

/// Scratch sets for the parts running at one time: a part takes a free set and gives it
/// back when done. Made on the caller's thread (where an allocation failure names the op),
/// as many as can run at once.
struct Pool<T>(Mutex<Vec<Scratch<T>>>);

impl<T> Pool<T> {
    fn new(sets: usize, make: impl Fn() -> Scratch<T>) -> Self {
        Pool(Mutex::new((0..sets).map(|_| make()).collect()))
    }

    /// Runs `f` on a free set (a new one, without columns, should none be free: it cannot
    /// happen while each thread runs one part at a time).
    fn with(&self, f: impl FnOnce(&mut Scratch<T>)) {
        let take = || self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut set = take().unwrap_or(Scratch {
            cols: Vec::new(),
            dcols: Vec::new(),
            rows: Vec::new(),
        });
        f(&mut set);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(set);
    }
}

/// Where a run of images puts its per-image results, a block per chunk.
trait Blocks<T> {
    /// The next `len` elements, zero.
    fn zeros(&mut self, len: usize) -> &mut [T];

    /// The next `rows.len()` rows of `len` elements, each written from its iterator (of
    /// `len` elements).
    fn rows<R: Iterator<Item = T>>(
        &mut self,
        len: usize,
        rows: impl ExactSizeIterator<Item = R>,
    ) -> &mut [T];
}

/// One thread: the whole result, grown block by block (each written in one pass, just
/// before the GEMM works on it, while in cache).
impl<T: Float> Blocks<T> for Vec<T> {
    fn zeros(&mut self, len: usize) -> &mut [T] {
        let start = self.len();
        self.resize(start + len, T::zero());
        &mut self[start..]
    }

    fn rows<R: Iterator<Item = T>>(
        &mut self,
        len: usize,
        rows: impl ExactSizeIterator<Item = R>,
    ) -> &mut [T] {
        let (start, count) = (self.len(), rows.len());
        for row in rows {
            self.extend(row);
        }
        debug_assert_eq!(self.len() - start, count * len, "rows of {len}");
        &mut self[start..]
    }
}

/// Several threads: a part's slice of a result zeroed up front, cut from the front.
impl<T: Float> Blocks<T> for &mut [T] {
    fn zeros(&mut self, len: usize) -> &mut [T] {
        let (block, rest) = mem::take(self).split_at_mut(len);
        *self = rest;
        block
    }

    fn rows<R: Iterator<Item = T>>(
        &mut self,
        len: usize,
        rows: impl ExactSizeIterator<Item = R>,
    ) -> &mut [T] {
        let block = self.zeros(rows.len() * len);
        for (dst, row) in block.chunks_exact_mut(len.max(1)).zip(rows) {
            for (d, v) in dst.iter_mut().zip(row) {
                *d = v;
            }
        }
        block
    }
}

/// `data` cut into consecutive slices of the given lengths.
fn split_lengths<T>(mut data: &mut [T], lengths: impl IntoIterator<Item = usize>) -> Vec<&mut [T]> {
    lengths
        .into_iter()
        .map(|len| {
            let (head, rest) = mem::take(&mut data).split_at_mut(len);
            data = rest;
            head
        })
        .collect()
}

/// `y = x ⋆ w (+ bias)` for standard-layout `x [N, C, H, W]` and `w [O, C/G, kH, kW]`:
/// the output `[N, O, oH, oW]`, flat.
pub(crate) fn conv2d_forward<T: Float>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    plan: &ConvPlan,
) -> Vec<T> {
    conv2d_forward_on(&workers_for(plan.parts().len()), x, w, bias, plan)
}

/// [`conv2d_forward`] on `workers`' threads.
fn conv2d_forward_on<T: Float>(
    workers: &Workers,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    plan: &ConvPlan,
) -> Vec<T> {
    let forward = Forward { x, w, bias, plan };
    let parts = plan.parts();
    let tasks = workers.threads().min(parts.len());
    // The column buffers first: they are the larger ones whenever the kernel has more taps
    // than the layer has output channels.
    let pool = Pool::new(tasks, || Scratch::new(plan, true, false));
    let mut out = alloc::<T>("conv2d", &plan.output_shape());
    if tasks < 2 {
        pool.with(|s| forward.images(0..plan.geo.image[0], &mut out, s));
        return out;
    }
    let per_image = plan.out_channels * plan.positions();
    out.resize(plan.geo.image[0] * per_image, T::zero());
    let slices = split_lengths(&mut out, parts.iter().map(|r| r.len() * per_image));
    let jobs: Vec<_> = parts.into_iter().zip(slices).collect();
    workers.run_parts(jobs, |(images, mut slice)| {
        pool.with(|s| forward.images(images, &mut slice, s));
    });
    out
}

/// The inputs of a forward pass.
struct Forward<'a, T> {
    x: &'a [T],
    w: &'a [T],
    bias: Option<&'a [T]>,
    plan: &'a ConvPlan,
}

impl<T: Float> Forward<'_, T> {
    /// The output of `images`, chunk by chunk, into `out`.
    fn images(&self, images: Range<usize>, out: &mut impl Blocks<T>, s: &mut Scratch<T>) {
        let plan = self.plan;
        let (o, groups, k, p) = (
            plan.out_channels,
            plan.groups,
            plan.group_rows(),
            plan.positions(),
        );
        let (og, len) = (o / groups, plan.image_len());
        let row_start = |oc: usize| self.bias.map_or(T::zero(), |b| b[oc]);
        for (b0, b) in plan.chunks(images) {
            let ncols = b * p;
            let cols = scratch(&mut s.cols, groups * k * ncols);
            im2col_into(&self.x[b0 * len..(b0 + b) * len], &plan.geo_of(b), cols);
            let product = |c: &mut [T], beta: T| {
                for gi in 0..groups {
                    general_mat_mul(
                        T::one(),
                        &mat(&self.w[gi * og * k..], og, k),
                        &mat(&cols[gi * k * ncols..], k, ncols),
                        beta,
                        &mut mat_mut(&mut c[gi * og * ncols..], og, ncols),
                    );
                }
            };
            if b == 1 {
                // One image: its [O, oH·oW] block of the output is the GEMM's result, with
                // the bias prefilled and accumulated onto.
                match self.bias {
                    Some(bias) => {
                        let rows = bias.iter().map(|&v| iter::repeat_n(v, p));
                        product(out.rows(p, rows), T::one());
                    }
                    None => product(out.zeros(o * p), T::zero()),
                }
            } else {
                // Several images: the product is [O, b·oH·oW]; each image's rows move to
                // NCHW with the bias added on the way.
                let prod = scratch(&mut s.rows, o * ncols);
                product(prod, T::zero());
                let rows = (0..b * o).map(|r| {
                    let (i, oc) = (r / o, r % o);
                    let add = row_start(oc);
                    prod[oc * ncols + i * p..][..p]
                        .iter()
                        .map(move |&v| v + add)
                });
                out.rows(p, rows);
            }
        }
    }
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
    need: [bool; 3],
) -> ConvGrads<T> {
    conv2d_backward_on(&workers_for(plan.parts().len()), x, w, g, plan, need)
}

/// [`conv2d_backward`] on `workers`' threads.
fn conv2d_backward_on<T: Float>(
    workers: &Workers,
    x: &[T],
    w: &[T],
    g: &[T],
    plan: &ConvPlan,
    [need_x, need_w, need_b]: [bool; 3],
) -> ConvGrads<T> {
    let backward = Backward { x, w, g, plan };
    let parts = plan.parts();
    let count = parts.len();
    let tasks = workers.threads().min(count);
    // The input's columns (whose padding positions must stay zero) and the columns of the
    // input gradient, each only if needed.
    let pool = Pool::new(tasks, || Scratch::new(plan, need_w, need_x));
    let mut dx = need_x.then(|| alloc::<T>("conv2d_backward", &plan.geo.image));
    // At one thread, the parts after the first reuse one buffer for their sums.
    let others = if tasks < 2 { count.min(2) } else { count } - 1;
    let mut dw = PartSums::new(need_w, w.len(), others);
    let mut db = PartSums::new(need_b, plan.out_channels, others);
    if tasks < 2 {
        pool.with(|s| {
            for (i, images) in parts.into_iter().enumerate() {
                if i == 0 {
                    backward.images(images, dx.as_mut(), dw.first(), db.first(), s);
                } else {
                    backward.images(images, dx.as_mut(), dw.zeroed(), db.zeroed(), s);
                    dw.add_others();
                    db.add_others();
                }
            }
        });
    } else {
        let len = plan.image_len();
        let dxs = match &mut dx {
            Some(dx) => {
                dx.resize(plan.geo.image[0] * len, T::zero());
                each(Some(dx), parts.iter().map(|r| r.len() * len))
            }
            None => each(None, parts.iter().map(|_| 0)),
        };
        let jobs: Vec<_> = (parts.into_iter().zip(dxs))
            .zip(dw.each(count).into_iter().zip(db.each(count)))
            .collect();
        workers.run_parts(jobs, |((images, mut dx), (dw, db))| {
            pool.with(|s| backward.images(images, dx.as_mut(), dw, db, s));
        });
        dw.add_others();
        db.add_others();
    }
    ConvGrads {
        input: dx,
        weight: dw.sum,
        bias: db.sum,
    }
}

/// A gradient summed over the batch part by part (if it is needed): the first part sums
/// into `sum` itself, the others from zero into buffers of their own (`others`, one after
/// another), added to it in part order.
struct PartSums<T> {
    sum: Option<Vec<T>>,
    others: Option<Vec<T>>,
    len: usize,
}

impl<T: Float> PartSums<T> {
    /// Zeroed, for a gradient of `len` elements and `others` buffers besides.
    fn new(needed: bool, len: usize, others: usize) -> Self {
        let zeros = |shape: &[usize]| {
            needed.then(|| {
                let mut v = alloc::<T>("conv2d_backward", shape);
                v.resize(shape.iter().product(), T::zero());
                v
            })
        };
        PartSums {
            sum: zeros(&[len]),
            others: zeros(&[others, len]),
            len,
        }
    }

    /// The first part's buffer: the sum itself.
    fn first(&mut self) -> Option<&mut [T]> {
        self.sum.as_deref_mut()
    }

    /// The one other buffer (at one thread), zeroed for the next part.
    fn zeroed(&mut self) -> Option<&mut [T]> {
        let others = self.others.as_deref_mut()?;
        others.fill(T::zero());
        Some(others)
    }

    /// The buffers of `count` parts (all there are), in part order.
    fn each(&mut self, count: usize) -> Vec<Option<&mut [T]>> {
        let mut parts = vec![self.sum.as_deref_mut()];
        parts.extend(each(
            self.others.as_deref_mut(),
            (1..count).map(|_| self.len),
        ));
        parts
    }

    /// Adds the other buffers to the sum, in part order.
    fn add_others(&mut self) {
        let (Some(sum), Some(others)) = (&mut self.sum, &self.others) else {
            return;
        };
        for part in others.chunks_exact(self.len.max(1)) {
            for (a, &b) in sum.iter_mut().zip(part) {
                *a += b;
            }
        }
    }
}

/// `data` cut into consecutive slices of the given lengths, or as many `None`s.
fn each<T>(data: Option<&mut [T]>, lengths: impl Iterator<Item = usize>) -> Vec<Option<&mut [T]>> {
    match data {
        Some(data) => split_lengths(data, lengths).into_iter().map(Some).collect(),
        None => lengths.map(|_| None).collect(),
    }
}

/// The inputs of a backward pass.
struct Backward<'a, T> {
    x: &'a [T],
    w: &'a [T],
    g: &'a [T],
    plan: &'a ConvPlan,
}

impl<T: Float> Backward<'_, T> {
    /// The gradients from `images`, chunk by chunk: their input gradient into `dx`, their
    /// weight and bias gradients summed into `dw` and `db`.
    fn images<B: Blocks<T>>(
        &self,
        images: Range<usize>,
        mut dx: Option<&mut B>,
        mut dw: Option<&mut [T]>,
        mut db: Option<&mut [T]>,
        s: &mut Scratch<T>,
    ) {
        let (plan, g) = (self.plan, self.g);
        let (o, groups, k, p) = (
            plan.out_channels,
            plan.groups,
            plan.group_rows(),
            plan.positions(),
        );
        let (og, len) = (o / groups, plan.image_len());
        let Scratch { cols, dcols, rows } = s;
        for (b0, b) in plan.chunks(images) {
            let (ncols, geo) = (b * p, plan.geo_of(b));
            let grad = &g[b0 * o * p..(b0 + b) * o * p];
            if let Some(db) = &mut db {
                for (i, row) in grad.chunks_exact(p.max(1)).enumerate() {
                    db[i % o] += sum(row);
                }
            }
            if dx.is_none() && dw.is_none() {
                continue;
            }
            // The rows [O, b·P] of the output gradient: borrowed for one image, gathered
            // for several.
            let rows: &[T] = if b == 1 {
                grad
            } else {
                rows.clear();
                for oc in 0..o {
                    for i in 0..b {
                        rows.extend_from_slice(&grad[(i * o + oc) * p..][..p]);
                    }
                }
                rows
            };
            if let Some(dw) = &mut dw {
                // dW_g += g_g · cols_gᵀ over this chunk's positions.
                let cols = scratch(cols, groups * k * ncols);
                im2col_into(&self.x[b0 * len..(b0 + b) * len], &geo, cols);
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
                let cols = scratch(dcols, groups * k * ncols);
                for gi in 0..groups {
                    general_mat_mul(
                        T::one(),
                        &mat(&self.w[gi * og * k..], og, k).t(),
                        &mat(&rows[gi * og * ncols..], og, ncols),
                        T::zero(),
                        &mut mat_mut(&mut cols[gi * k * ncols..], k, ncols),
                    );
                }
                col2im_add(cols, &geo, dx.zeros(b * len));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::im2col::{Size2, Window};

    /// The plan of a 3×3 conv2d of `image` to `out_channels` channels.
    fn plan(
        image: [usize; 4],
        out_channels: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> ConvPlan {
        let window = Window {
            kernel: Size2(3, 3),
            stride: Size2(1, 1),
            padding: Size2(padding, padding),
            dilation: Size2(dilation, dilation),
        };
        ConvPlan {
            geo: Geometry {
                window,
                image,
                out: window.checked_out("conv2d", image[2], image[3]),
            },
            groups,
            out_channels,
            min_cols: MIN_COLS,
        }
    }

    /// `len` distinct, irregular values.
    fn values<T: Float>(len: usize, seed: f64) -> Vec<T> {
        (0..len)
            .map(|i| T::from_f64((i as f64 * seed).sin()))
            .collect()
    }

    fn split_kernels_match<T: Float>(bits: impl Fn(T) -> u64 + Copy) {
        // 11 images of 324 positions in chunks of two and a last one, in 3 parts; 7 images
        // of 650 positions (padded, dilated, grouped), one per chunk, in 2 parts.
        for plan in [
            plan([11, 8, 20, 20], 16, 0, 1, 1),
            plan([7, 8, 26, 25], 16, 2, 2, 2),
        ] {
            assert!(plan.parts().len() > 1, "{plan:?}");
            let [n, c, h, w] = plan.geo.image;
            let o = plan.out_channels;
            let x = values::<T>(n * c * h * w, 0.37);
            let wt = values::<T>(o * plan.group_rows(), 0.91);
            let bias = values::<T>(o, 0.53);
            let g = values::<T>(plan.output_shape().iter().product(), 0.71);
            let as_bits =
                |v: Option<Vec<T>>| v.map(|v| v.into_iter().map(bits).collect::<Vec<_>>());
            let run = |workers: &Workers, need: [bool; 3]| {
                let grads = conv2d_backward_on(workers, &x, &wt, &g, &plan, need);
                [
                    Some(conv2d_forward_on(workers, &x, &wt, Some(&bias), &plan)),
                    Some(conv2d_forward_on(workers, &x, &wt, None, &plan)),
                    grads.input,
                    grads.weight,
                    grads.bias,
                ]
                .map(as_bits)
            };
            let one = run(&Workers::inline(), [true; 3]);
            for threads in [2, 3] {
                let workers = Workers::with_threads(threads);
                assert_eq!(run(&workers, [true; 3]), one, "{threads} threads, {plan:?}");
                // Each gradient alone is the same too.
                let [.., dx, dw, db] = run(&workers, [false, true, true]);
                assert_eq!((dx, dw, db), (None, one[3].clone(), one[4].clone()));
                let [.., dx, dw, db] = run(&workers, [true, false, false]);
                assert_eq!((dx, dw, db), (one[2].clone(), None, None));
            }
        }
    }

    #[test]
    fn a_batch_is_cut_into_parts_by_its_shapes_alone() {
        // MNIST's 32→64 layer at batch 32: 340M multiply-adds, one image per chunk.
        let parts = plan([32, 32, 26, 26], 64, 0, 1, 1).parts();
        assert_eq!(parts.len(), MAX_PARTS);
        assert!(
            parts
                .iter()
                .enumerate()
                .all(|(i, r)| *r == (2 * i..2 * i + 2))
        );
        // 4.1M: 3 parts of whole chunks of two images (the last chunk one image).
        let parts = plan([11, 8, 20, 20], 16, 0, 1, 1).parts();
        assert_eq!(parts, vec![0..4, 4..8, 8..11]);
        // Under twice PART_MIN_MACS, and an empty batch: one part.
        assert_eq!(plan([4, 4, 18, 17], 6, 1, 1, 1).parts(), vec![0..4]);
        assert_eq!(plan([0, 8, 20, 20], 16, 0, 1, 1).parts(), vec![0..0]);
    }

    #[test]
    fn conv2d_kernels_split_across_threads_are_bit_identical_to_one_thread() {
        split_kernels_match::<f32>(|x| u64::from(x.to_bits()));
        split_kernels_match::<f64>(f64::to_bits);
    }
}
