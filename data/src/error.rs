//! The error type of `ferrograd-data`: every variant names the file.

use std::path::{Path, PathBuf};

/// An error reading or writing a data file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's contents are invalid at `offset` (bytes, or a line number for CSV).
    #[error("{}: {unit} {offset}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// `"byte"` or `"line"`.
        unit: &'static str,
        /// Where the problem is.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A class label that the encoder was not fit on.
    #[error("label `{label}` was not among the labels the encoder was fit on")]
    UnknownLabel {
        /// The label.
        label: String,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn format(path: &Path, offset: u64, reason: String) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            unit: "byte",
            offset,
            reason,
        }
    }

    pub(crate) fn line(path: &Path, line: u64, reason: String) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            unit: "line",
            offset: line,
            reason,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
