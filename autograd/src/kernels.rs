//! Element-wise kernels and broadcasting rules shared by the ops.
//!
//! Contiguous operands of equal layout run as plain slice loops (which the compiler
//! vectorises); anything else goes through ndarray's `Zip` over broadcast views.

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use crate::alloc::{alloc, checked_numel};
use crate::float::Float;
use crate::threads::{Workers, num_threads};

/// The fewest elements an element-wise kernel splits across threads; below it the hand-off
/// to the pool (about 5 µs) costs more than a second core saves. Measured on a 2-core Zen 3
/// with f32 (`examples/thread_thresholds.rs`, second core idle): `exp` pays from 32k
/// elements (×0.57), but `add`, bound by memory, only from about 128k (×0.93; ×1.6 slower
/// at 64k), and the cheap ops are the common ones.
pub(crate) const PAR_MIN_ELEMENTS: usize = 1 << 17;

/// The fewest elements one parallel part of an element-wise kernel handles.
const PAR_PART: usize = 1 << 14;

/// The workers for an element-wise kernel over `len` elements, or `None` to run inline.
fn elementwise_workers(len: usize) -> Option<Workers> {
    (len >= PAR_MIN_ELEMENTS && num_threads() > 1).then(Workers::current)
}

/// Applies `f` to every element; contiguous arrays of at least [`PAR_MIN_ELEMENTS`] in
/// parts on several threads (each element is computed alone, so the result does not depend
/// on the thread count).
pub(crate) fn map1<T: Float>(a: &ArrayViewD<'_, T>, f: impl Fn(T) -> T + Sync) -> ArrayD<T> {
    if let Some(src) = a.as_slice() {
        let data = match elementwise_workers(src.len()) {
            Some(w) => par_map1_slice(&w, src, f),
            None => src.iter().map(|&x| f(x)).collect(),
        };
        return ArrayD::from_shape_vec(a.raw_dim(), data).expect("same length");
    }
    a.map(|&x| f(x))
}

/// `f` over `src` in parts of at least [`PAR_PART`] elements on `w`'s threads.
fn par_map1_slice<T: Float>(w: &Workers, src: &[T], f: impl Fn(T) -> T + Sync) -> Vec<T> {
    let mut data = alloc::<T>("elementwise", &[src.len()]);
    data.resize(src.len(), T::zero());
    let part = part_len(w, src.len());
    let parts: Vec<_> = data.chunks_mut(part).zip(src.chunks(part)).collect();
    w.run_parts(parts, |(out, src)| {
        for (o, &x) in out.iter_mut().zip(src) {
            *o = f(x);
        }
    });
    data
}

/// The length of the parts an element-wise kernel over `len` elements splits into on `w`:
/// one per thread, at least [`PAR_PART`].
fn part_len(w: &Workers, len: usize) -> usize {
    len.div_ceil(w.threads()).max(PAR_PART)
}

/// As [`map2`], on several threads for outputs of at least [`PAR_MIN_ELEMENTS`] elements
/// whose operands are contiguous (equal shapes, or broadcast). Each element is computed
/// alone, so the result does not depend on the thread count.
///
/// `map2` itself takes any closure, including one that cannot be shared between threads,
/// and runs on the caller's thread.
pub(crate) fn par_map2<T: Float>(
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> ArrayD<T> {
    let total = checked_numel::<T>("elementwise", out_shape);
    par_map2_on(elementwise_workers(total).as_ref(), a, b, out_shape, f)
}

/// [`par_map2`] on `workers`' threads whatever the size, or [`map2`] without.
fn par_map2_on<T: Float>(
    workers: Option<&Workers>,
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> ArrayD<T> {
    let op = "elementwise";
    let total = checked_numel::<T>(op, out_shape);
    let (Some(w), Some(x), Some(y)) = (workers, a.as_slice(), b.as_slice()) else {
        return map2(a, b, out_shape, f);
    };
    if total == 0 || out_shape.is_empty() {
        return map2(a, b, out_shape, f);
    };
    let mut data = alloc::<T>(op, out_shape);
    data.resize(total, T::zero());
    if a.shape() == out_shape && b.shape() == out_shape {
        let part = part_len(w, total);
        let parts: Vec<_> = (data.chunks_mut(part).zip(x.chunks(part)))
            .zip(y.chunks(part))
            .collect();
        w.run_parts(parts, |((out, x), y)| {
            for ((o, &p), &q) in out.iter_mut().zip(x).zip(y) {
                *o = f(p, q);
            }
        });
    } else {
        let inner = *out_shape.last().expect("a 0-D output has one element");
        let (sx, sy) = (
            broadcast_strides(a.shape(), out_shape),
            broadcast_strides(b.shape(), out_shape),
        );
        let rows_per_part = part_len(w, total).div_ceil(inner.max(1));
        let parts: Vec<_> = data.chunks_mut(rows_per_part * inner).enumerate().collect();
        w.run_parts(parts, |(part, out)| {
            let mut at = Odometer::at_row(part * rows_per_part, out_shape, &sx, &sy);
            for row in out.chunks_mut(inner) {
                write_row(
                    row,
                    x,
                    y,
                    at.ox,
                    at.oy,
                    (sx[sx.len() - 1], sy[sy.len() - 1]),
                    &f,
                );
                at.advance(out_shape, &sx, &sy);
            }
        });
    }
    ArrayD::from_shape_vec(IxDyn(out_shape), data).expect("same length")
}

/// `f` over one row of a broadcast pair: each operand either walks its row (last-axis
/// stride 1) or repeats one element (stride 0).
fn write_row<T: Float>(
    out: &mut [T],
    x: &[T],
    y: &[T],
    ox: usize,
    oy: usize,
    last: (usize, usize),
    f: &impl Fn(T, T) -> T,
) {
    let inner = out.len();
    match last {
        (0, 0) => out.fill(f(x[ox], y[oy])),
        (_, 0) => {
            let q = y[oy];
            for (o, &p) in out.iter_mut().zip(&x[ox..ox + inner]) {
                *o = f(p, q);
            }
        }
        (0, _) => {
            let p = x[ox];
            for (o, &q) in out.iter_mut().zip(&y[oy..oy + inner]) {
                *o = f(p, q);
            }
        }
        _ => {
            for ((o, &p), &q) in out
                .iter_mut()
                .zip(&x[ox..ox + inner])
                .zip(&y[oy..oy + inner])
            {
                *o = f(p, q);
            }
        }
    }
}

/// The position of a walk over the rows (all axes but the last) of a broadcast output: the
/// row's multi-index and the offsets of its first element in both operands.
struct Odometer {
    index: Vec<usize>,
    ox: usize,
    oy: usize,
}

impl Odometer {
    /// At the start of row `row` of an output of shape `out`.
    fn at_row(row: usize, out: &[usize], sx: &[usize], sy: &[usize]) -> Self {
        let n = out.len();
        let mut index = vec![0; n.saturating_sub(1)];
        let mut rest = row;
        for d in (0..index.len()).rev() {
            index[d] = rest % out[d];
            rest /= out[d];
        }
        let offset = |s: &[usize]| index.iter().zip(s).map(|(&i, &s)| i * s).sum();
        let (ox, oy) = (offset(sx), offset(sy));
        Self { index, ox, oy }
    }

    /// Moves to the next row.
    fn advance(&mut self, out: &[usize], sx: &[usize], sy: &[usize]) {
        for d in (0..self.index.len()).rev() {
            self.index[d] += 1;
            self.ox += sx[d];
            self.oy += sy[d];
            if self.index[d] < out[d] {
                break;
            }
            self.index[d] = 0;
            self.ox -= sx[d] * out[d];
            self.oy -= sy[d] * out[d];
        }
    }
}

/// Combines two arrays of the broadcast shape `out_shape` element by element.
///
/// The output is allocated through the size check, so a broadcast too large to hold fails
/// with a panic naming the op being recorded (see [`OpScope`](crate::alloc::OpScope)).
/// `"elementwise"` is named only outside any op.
pub(crate) fn map2<T: Float>(
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    out_shape: &[usize],
    f: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    let op = "elementwise";
    if a.shape() == out_shape
        && b.shape() == out_shape
        && let (Some(x), Some(y)) = (a.as_slice(), b.as_slice())
    {
        let mut data = alloc::<T>(op, out_shape);
        data.extend(x.iter().zip(y).map(|(&p, &q)| f(p, q)));
        return ArrayD::from_shape_vec(IxDyn(out_shape), data).expect("same length");
    }
    if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
        let data = broadcast_zip(op, x, a.shape(), y, b.shape(), out_shape, f);
        return ArrayD::from_shape_vec(IxDyn(out_shape), data).expect("same length");
    }
    let mut data = alloc::<T>(op, out_shape);
    data.resize(checked_numel::<T>(op, out_shape), T::zero());
    let mut out = ArrayD::from_shape_vec(IxDyn(out_shape), data).expect("same length");
    let dim = IxDyn(out_shape);
    let a = a.broadcast(dim.clone()).expect("shape checked by the op");
    let b = b.broadcast(dim).expect("shape checked by the op");
    Zip::from(&mut out)
        .and(&a)
        .and(&b)
        .for_each(|o, &p, &q| *o = f(p, q));
    out
}

/// Element strides of a row-major array of `shape` seen broadcast to `out`: 0 along
/// broadcast (size-1 or missing) dimensions.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let lead = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut step = 1;
    for (i, &d) in shape.iter().enumerate().rev() {
        if d != 1 {
            strides[lead + i] = step;
        }
        step *= d;
    }
    strides
}

/// `f` over two row-major slices broadcast to `out`: an odometer over the outer dimensions
/// and a tight loop along the last one (which each operand either walks or repeats), so a
/// bias add runs at slice speed instead of through per-element multi-indices.
fn broadcast_zip<T: Float>(
    op: &'static str,
    x: &[T],
    x_shape: &[usize],
    y: &[T],
    y_shape: &[usize],
    out: &[usize],
    f: impl Fn(T, T) -> T,
) -> Vec<T> {
    let total = checked_numel::<T>(op, out);
    let Some(&inner) = out.last() else {
        return vec![f(x[0], y[0])];
    };
    let mut data = alloc::<T>(op, out);
    if total == 0 {
        return data;
    }
    let n = out.len();
    let (sx, sy) = (
        broadcast_strides(x_shape, out),
        broadcast_strides(y_shape, out),
    );
    let mut at = Odometer::at_row(0, out, &sx, &sy);
    for _ in 0..total / inner {
        let (ox, oy) = (at.ox, at.oy);
        match (sx[n - 1], sy[n - 1]) {
            (0, 0) => data.extend(std::iter::repeat_n(f(x[ox], y[oy]), inner)),
            (_, 0) => {
                let q = y[oy];
                data.extend(x[ox..ox + inner].iter().map(|&p| f(p, q)));
            }
            (0, _) => {
                let p = x[ox];
                data.extend(y[oy..oy + inner].iter().map(|&q| f(p, q)));
            }
            _ => data.extend(
                x[ox..ox + inner]
                    .iter()
                    .zip(&y[oy..oy + inner])
                    .map(|(&p, &q)| f(p, q)),
            ),
        }
        at.advance(out, &sx, &sy);
    }
    data
}

/// The NumPy broadcast of two shapes, or `None` if they are incompatible.
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// The broadcast of two operands' shapes, or a panic naming the op:
/// `add: lhs [2] and rhs [3] cannot be broadcast together`.
#[track_caller]
pub(crate) fn checked_broadcast(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    match broadcast_shapes(a, b) {
        Some(out) => out,
        None => panic!("{op}: lhs {a:?} and rhs {b:?} cannot be broadcast together"),
    }
}

/// True if `from` broadcasts to `to` under NumPy rules.
pub(crate) fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(&f, &t)| f == t || f == 1)
}

/// Sums `a` over the axes along which `shape` was broadcast to `a.shape()`.
///
/// Reduces straight from the view (no copy of `a` first); the last axis first, so the
/// indices of the others stay valid.
pub(crate) fn sum_to<T: Float>(a: &ArrayViewD<'_, T>, shape: &[usize]) -> ArrayD<T> {
    if a.is_empty() {
        // Sums of nothing; and no walk over the outer axes of an empty array, which may be
        // huge (a broadcast of [2^40, 0]).
        return crate::alloc::full_array("sum_to", shape, T::zero());
    }
    let lead = a.ndim() - shape.len();
    let mut axes = (0..a.ndim())
        .rev()
        .filter(|&i| i < lead || (shape[i - lead] == 1 && a.shape()[i] != 1));
    let Some(first) = axes.next() else {
        return a
            .to_owned()
            .into_shape_with_order(IxDyn(shape))
            .expect("same count");
    };
    let mut out = a.sum_axis(ndarray::Axis(first));
    for axis in axes {
        out = out.sum_axis(ndarray::Axis(axis));
    }
    out.into_shape_with_order(IxDyn(shape)).expect("same count")
}

/// Normalises a possibly negative axis (`-1` is the last) against `ndim`, or `None` if out
/// of range.
pub(crate) fn normalize_axis(axis: isize, ndim: usize) -> Option<usize> {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    (0..n).contains(&a).then_some(a as usize)
}

/// Normalises `axis` of a tensor of `shape`, or panics naming the op:
/// `softmax: axis 2 is out of range for shape [3]`.
#[track_caller]
pub(crate) fn checked_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    checked_axis_of(op, axis, shape, shape.len())
}

/// As [`checked_axis`] for ops that insert a dimension, where `axis` may equal `ndim`.
#[track_caller]
pub(crate) fn checked_insert_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    checked_axis_of(op, axis, shape, shape.len() + 1)
}

#[track_caller]
fn checked_axis_of(op: &str, axis: isize, shape: &[usize], positions: usize) -> usize {
    match normalize_axis(axis, positions) {
        Some(a) => a,
        None => panic!("{op}: axis {axis} is out of range for shape {shape:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shapes(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_shapes(&[], &[3]), Some(vec![3]));
        assert_eq!(broadcast_shapes(&[2], &[3]), None);
        assert!(broadcasts_to(&[1, 3], &[5, 2, 3]));
        assert!(!broadcasts_to(&[2, 3], &[3]));
    }

    #[test]
    fn map2_broadcast_paths_agree_with_zip() {
        let shapes: [(&[usize], &[usize]); 6] = [
            (&[2, 3, 4], &[3, 1]),
            (&[2, 1, 4], &[3, 4]),
            (&[1], &[2, 3]),
            (&[], &[2, 2]),
            (&[2, 3, 1], &[1, 1, 5]),
            (&[3, 0], &[1]),
        ];
        for (sa, sb) in shapes {
            let out = broadcast_shapes(sa, sb).unwrap();
            let count = |s: &[usize]| s.iter().product::<usize>();
            let a = ArrayD::from_shape_vec(IxDyn(sa), (0..count(sa)).map(|i| i as f64).collect())
                .unwrap();
            let b =
                ArrayD::from_shape_vec(IxDyn(sb), (0..count(sb)).map(|i| i as f64 * 0.5).collect())
                    .unwrap();
            let fast = map2(&a.view(), &b.view(), &out, |p, q| p * 10.0 - q);
            let dim = IxDyn(&out);
            let slow = Zip::from(&a.broadcast(dim.clone()).unwrap())
                .and(&b.broadcast(dim).unwrap())
                .map_collect(|&p, &q| p * 10.0 - q);
            assert_eq!(fast, slow, "{sa:?} and {sb:?}");
        }
    }

    #[test]
    fn elementwise_kernels_on_several_threads_match_one_thread_exactly() {
        let count = |s: &[usize]| s.iter().product::<usize>();
        let values = |s: &[usize], k: f32| {
            ArrayD::from_shape_vec(
                IxDyn(s),
                (0..count(s)).map(|i| (i as f32 * k).sin()).collect(),
            )
            .unwrap()
        };
        let f = |p: f32, q: f32| p.exp() * q - p / (q + 3.0);
        // Equal shapes, a bias over rows, a column against a row, a scalar, rows shorter
        // than a part, and a length that is not a multiple of anything.
        let pairs: [(&[usize], &[usize]); 6] = [
            (&[300, 301], &[300, 301]),
            (&[256, 512], &[512]),
            (&[700, 1], &[1, 129]),
            (&[1 << 17], &[]),
            (&[40_000, 3], &[3]),
            (&[2, 3, 20_011], &[3, 1]),
        ];
        for (sa, sb) in pairs {
            let out = broadcast_shapes(sa, sb).unwrap();
            let (a, b) = (values(sa, 0.37), values(sb, 0.91));
            let seq = map2(&a.view(), &b.view(), &out, f);
            for threads in [2, 3] {
                let w = Workers::with_threads(threads);
                let par = par_map2_on(Some(&w), &a.view(), &b.view(), &out, f);
                assert_eq!(
                    par.mapv(f32::to_bits),
                    seq.mapv(f32::to_bits),
                    "{sa:?} and {sb:?}"
                );
                let x = a.as_slice().unwrap();
                let one: Vec<_> = x.iter().map(|p| p.tanh().to_bits()).collect();
                let many = par_map1_slice(&w, x, f32::tanh);
                assert_eq!(many.iter().map(|p| p.to_bits()).collect::<Vec<_>>(), one);
            }
        }
    }

    #[test]
    fn sum_to_reduces_broadcast_axes() {
        let a = ArrayD::from_elem(IxDyn(&[2, 3, 4]), 1.0f64);
        let s = sum_to(&a.view(), &[3, 1]);
        assert_eq!(s.shape(), &[3, 1]);
        assert!(s.iter().all(|&x| x == 8.0));
    }
}
