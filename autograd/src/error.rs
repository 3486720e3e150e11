//! The error type of `ferrograd-autograd`.

/// An error from an operation whose validity depends on data (a data-dependent reshape, a
/// tensor built from a `Vec`). A failed gradient check has its own error,
/// [`GradcheckError`](crate::gradcheck::GradcheckError).
///
/// Broken caller contracts (adding tensors of incompatible shapes, say) panic at the call
/// instead; the `try_` form of an op returns this error from the same check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shapes that the named operation cannot accept.
    #[error("{op}: {reason}")]
    Shape {
        /// The operation that rejected the shapes, e.g. `"reshape"`.
        op: &'static str,
        /// What was wrong, naming the shapes.
        reason: String,
    },
    /// An index (from data: class labels, token ids, gather indices) outside the axis it
    /// indexes.
    #[error("{op}: index {index} is out of range for axis {axis} of size {size}")]
    Index {
        /// The operation that read the index, e.g. `"gather"`.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The axis it indexes.
        axis: usize,
        /// The size of that axis.
        size: usize,
    },
    /// A tensor too large to create: its element count overflows `usize`, its size exceeds
    /// `isize::MAX` bytes, or the allocator refused the request. Checked before any memory
    /// is touched, so asking for too much fails here instead of aborting the process.
    #[error("{op}: cannot allocate shape {shape:?} ({})", describe_size(shape, *element_bytes, dtype))]
    Alloc {
        /// The operation that asked for the memory, e.g. `"zeros"`.
        op: &'static str,
        /// The shape requested.
        shape: Vec<usize>,
        /// The element type, `"f32"` or `"f64"`.
        dtype: &'static str,
        /// The size of one element in bytes.
        element_bytes: usize,
    },
}

impl Error {
    pub(crate) fn shape(op: &'static str, reason: String) -> Self {
        Error::Shape { op, reason }
    }
}

/// Unwraps the result of a `try_` form, panicking with the error's message at the caller of
/// the panicking form (a closure passed to `unwrap_or_else` would report its own line).
#[track_caller]
pub(crate) fn or_panic<V>(r: Result<V>) -> V {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `"1e12 elements, 4 TB of f32"`: the size of a requested shape, for error messages.
pub(crate) fn describe_size(shape: &[usize], element_bytes: usize, dtype: &str) -> String {
    let elements: f64 = shape.iter().map(|&d| d as f64).product();
    format!(
        "{} elements, {} of {dtype}",
        approx(elements),
        bytes(elements * element_bytes as f64)
    )
}

/// A count: exact below a million, else three significant digits (`1e12`, `1.1e12`).
pub(crate) fn approx(x: f64) -> String {
    if x < 1e6 {
        return format!("{x}");
    }
    let s = format!("{x:.2e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        None => s, // inf
    }
}

/// A byte count in decimal units with three significant digits (`4 TB`, `1.13 PB`).
fn bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut unit = 0;
    let mut v = b;
    while v >= 999.5 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if v >= 999.5 {
        return format!("{} bytes", approx(b));
    }
    let digits = if v < 9.995 {
        2
    } else if v < 99.95 {
        1
    } else {
        0
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    format!("{s} {}", UNITS[unit])
}
