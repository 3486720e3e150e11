//! The error type of `ferrograd-autograd`.

/// An error from an operation whose validity depends on data (a data-dependent reshape, a
/// tensor built from a `Vec`), or a failed gradient check.
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
    /// A gradient check found an analytic gradient that disagrees with finite differences.
    #[error(transparent)]
    Gradcheck(#[from] crate::gradcheck::GradcheckError),
}

impl Error {
    pub(crate) fn shape(op: &'static str, reason: String) -> Self {
        Error::Shape { op, reason }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
