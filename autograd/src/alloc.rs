//! Storage: the one place sizes requested by arguments are checked and memory is asked
//! for. ndarray's own constructors (`Array::zeros`, `from_elem`, `to_owned`) abort the
//! process when the allocator refuses; these fail with an error naming the op instead.

use std::cell::Cell;

use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result, or_panic};
use crate::float::Float;

/// The number of elements of a tensor of `T` with `shape`, or [`Error::Alloc`] naming `op`
/// if that count overflows `usize` or its bytes exceed `isize::MAX` (Rust's limit for one
/// allocation). As ndarray, the product of the non-zero dimensions must fit too.
pub(crate) fn try_numel<T>(op: &'static str, shape: &[usize]) -> Result<usize> {
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |n, &d| n.checked_mul(d));
    let numel = if shape.contains(&0) { Some(0) } else { nonzero };
    nonzero
        .and(numel)
        .filter(|&n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|bytes| bytes <= isize::MAX as usize)
                && nonzero.is_some_and(|m| m <= isize::MAX as usize)
        })
        .ok_or_else(|| alloc_error::<T>(op, shape))
}

/// [`try_numel`], panicking with the error's message at the caller.
#[track_caller]
pub(crate) fn checked_numel<T>(op: &'static str, shape: &[usize]) -> usize {
    or_panic(try_numel::<T>(op, shape))
}

/// An empty `Vec` with room for the elements of `shape`, or [`Error::Alloc`] naming `op` if
/// the size check fails or the allocator refuses the memory (no page is touched).
pub(crate) fn try_alloc<T>(op: &'static str, shape: &[usize]) -> Result<Vec<T>> {
    let n = try_numel::<T>(op, shape)?;
    let mut data = Vec::new();
    data.try_reserve_exact(n)
        .map_err(|_| alloc_error::<T>(op, shape))?;
    Ok(data)
}

/// [`try_alloc`], panicking with the error's message at the caller.
#[track_caller]
pub(crate) fn alloc<T>(op: &'static str, shape: &[usize]) -> Vec<T> {
    or_panic(try_alloc::<T>(op, shape))
}

/// The error for a request that cannot be met, naming the outermost [`OpScope`]'s op if any.
fn alloc_error<T>(op: &'static str, shape: &[usize]) -> Error {
    Error::Alloc {
        op: scoped(op),
        shape: shape.to_vec(),
        // "f32", "f64", or "usize" for index buffers.
        dtype: std::any::type_name::<T>(),
        element_bytes: std::mem::size_of::<T>(),
    }
}

thread_local! {
    static SCOPE: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Names the op a user called while the guard lives: a size or allocation failure anywhere
/// inside it (in the ops it is composed of, or in a shared kernel such as
/// `kernels::map2`) reports this op. The outermost scope wins, so `avg_pool2d`
/// built on `conv2d` built on `im2col` reports `avg_pool2d`.
/// [`Graph::custom_op`](crate::Graph::custom_op) enters one around every forward.
pub(crate) struct OpScope(Option<&'static str>);

impl OpScope {
    pub(crate) fn enter(op: &'static str) -> Self {
        let prev = SCOPE.with(Cell::get);
        if prev.is_none() {
            SCOPE.with(|c| c.set(Some(op)));
        }
        OpScope(prev)
    }
}

impl Drop for OpScope {
    fn drop(&mut self) {
        SCOPE.with(|c| c.set(self.0));
    }
}

/// The op of the outermost active [`OpScope`], or `op` if none is active.
fn scoped(op: &'static str) -> &'static str {
    SCOPE.with(Cell::get).unwrap_or(op)
}

/// An owned ndarray array of `shape` filled with `value`, to compute into, through the size
/// check (ndarray's `Array::zeros` aborts the process when the allocator refuses).
#[track_caller]
pub(crate) fn full_array<T: Float>(op: &'static str, shape: &[usize], value: T) -> ArrayD<T> {
    let mut data = alloc::<T>(op, shape);
    data.resize(checked_numel::<T>(op, shape), value);
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("size checked")
}
