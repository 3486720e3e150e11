//! Numeric CSV files with a header, an optional target column and a choice of delimiter,
//! parsed with the `csv` crate.

use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use ferrograd_autograd::{Float, Tensor};

use crate::error::{Error, Result};

/// The default bound on one record (line) of a CSV file: 1 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// The CSV parser's read buffer: how far reading may run ahead of the record being parsed.
const BUFFER: usize = 8 << 10;

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    delimiter: u8,
    target: Option<String>,
    max_record_bytes: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvOptions {
    /// Comma-separated, every column a feature.
    pub fn new() -> Self {
        CsvOptions {
            delimiter: b',',
            target: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }

    /// The longest record (a line, or several for a quoted field holding newlines) read,
    /// in bytes including its line terminator; [`DEFAULT_MAX_RECORD_BYTES`] (1 MiB) unless
    /// set. A longer one is an error naming its line, found after reading at most this
    /// many bytes (plus an 8 KiB read buffer) of it, so one endless line (`/dev/zero`)
    /// cannot exhaust memory.
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// The field delimiter, e.g. `b';'` or `b'\t'`.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The column (by header name) that holds the target/label rather than a feature.
    pub fn target(mut self, column: &str) -> Self {
        self.target = Some(column.to_string());
        self
    }
}

/// A CSV file's features and target.
#[derive(Clone, Debug)]
pub struct Csv<T: Float = f32> {
    /// The feature columns' names, in file order.
    pub columns: Vec<String>,
    /// `[rows, columns.len()]`.
    pub features: Tensor<T>,
    /// The target column's fields as written (numbers or class names), if one was named.
    pub target: Option<Vec<String>>,
}

/// Reads a CSV file with a header line. Every feature field must parse as a number; the
/// target column may hold anything (see
/// [`LabelEncoder`](crate::preprocess::LabelEncoder) for class names).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the line (1-based,
/// the header is line 1) for a row with the wrong number of fields, a field that is not a
/// number (with its column), a missing target column, a record longer than
/// [`CsvOptions::max_record_bytes`], or a malformed file.
///
/// ```
/// use ferrograd::data::csv::{CsvOptions, read_csv};
/// let path = std::env::temp_dir().join("ferrograd-doc.csv");
/// std::fs::write(&path, "height;weight;species\n1.5;3;cat\n2.0;4.5;dog\n").unwrap();
/// let csv = read_csv::<f32>(&path, &CsvOptions::new().delimiter(b';').target("species"))?;
/// assert_eq!(csv.columns, ["height", "weight"]);
/// assert_eq!(csv.features.to_vec(), vec![1.5, 3.0, 2.0, 4.5]);
/// assert_eq!(csv.target.unwrap(), ["cat", "dog"]);
/// # Ok::<(), ferrograd::data::Error>(())
/// ```
pub fn read_csv<T: Float>(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Csv<T>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_csv_from(file, path, options)
}

/// [`read_csv`] from any reader (a socket, a decompressor, stdin); `name` stands for the
/// path in error messages.
///
/// # Errors
/// As [`read_csv`].
///
/// ```
/// use ferrograd::data::csv::{CsvOptions, read_csv_from};
/// let endless = std::io::repeat(b'7'); // one line that never ends
/// let e = read_csv_from::<f32, _>(endless, "<stream>", &CsvOptions::new().max_record_bytes(100))
///     .unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "<stream>: line 1: the record is longer than 100 bytes (CsvOptions::max_record_bytes)"
/// );
/// ```
pub fn read_csv_from<T: Float, R: Read>(
    reader: R,
    name: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<Csv<T>> {
    let path = name.as_ref();
    let max = options.max_record_bytes;
    // Reading stops `max` bytes (plus the parser's buffer) past the current record's
    // start; each record is also checked exactly once it is complete.
    let stop = Rc::new(Cell::new(allowance(0, max)));
    let bounded = Bounded {
        inner: reader,
        pos: 0,
        stop: Rc::clone(&stop),
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(BUFFER)
        .from_reader(bounded);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e, 1, max))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if reader.position().byte() > max as u64 {
        return Err(too_long(path, 1, max));
    }
    let target = match &options.target {
        Some(name) => Some(header.iter().position(|h| h == name).ok_or_else(|| {
            Error::line(
                path,
                1,
                format!("no column `{name}` in the header {header:?}"),
            )
        })?),
        None => None,
    };
    let columns: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != target)
        .map(|(_, h)| h.clone())
        .collect();
    let (mut values, mut targets, mut rows) = (Vec::new(), Vec::new(), 0);
    let mut record = ::csv::StringRecord::new();
    loop {
        let start = reader.position().clone();
        stop.set(allowance(start.byte(), max));
        let more = reader
            .read_record(&mut record)
            .map_err(|e| csv_error(path, e, start.line(), max))?;
        if !more {
            break;
        }
        if reader.position().byte() - start.byte() > max as u64 {
            return Err(too_long(path, start.line(), max));
        }
        let line = record.position().map_or(start.line(), |p| p.line());
        if record.len() != header.len() {
            return Err(Error::line(
                path,
                line,
                format!("{} fields, the header has {}", record.len(), header.len()),
            ));
        }
        for (i, field) in record.iter().enumerate() {
            if Some(i) == target {
                targets.push(field.trim().to_string());
                continue;
            }
            let v: f64 = field.trim().parse().map_err(|_| {
                Error::line(
                    path,
                    line,
                    format!("column `{}`: `{field}` is not a number", header[i]),
                )
            })?;
            values.push(T::from_f64(v));
        }
        rows += 1;
    }
    Ok(Csv {
        features: Tensor::from_vec(values, &[rows, columns.len()]),
        columns,
        target: target.map(|_| targets),
    })
}

/// The error for a record, starting at `line`, longer than `max` bytes.
fn too_long(path: &Path, line: u64, max: usize) -> Error {
    Error::line(
        path,
        line,
        format!("the record is longer than {max} bytes (CsvOptions::max_record_bytes)"),
    )
}

/// The byte offset past which reading is refused while a record starting at `start` is
/// parsed: one byte past `max` (so an over-long record is seen) plus the parser's buffer.
fn allowance(start: u64, max: usize) -> u64 {
    start
        .saturating_add(max as u64)
        .saturating_add(1 + BUFFER as u64)
}

/// A reader that refuses to read past a moving bound, with a [`RecordTooLong`] error.
struct Bounded<R> {
    inner: R,
    pos: u64,
    stop: Rc<Cell<u64>>,
}

/// The marker error of [`Bounded`].
#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record too long")
    }
}

impl std::error::Error for RecordTooLong {}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.stop.get().saturating_sub(self.pos);
        if left == 0 && !buf.is_empty() {
            return Err(std::io::Error::other(RecordTooLong));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// The crate error for a CSV error in the record starting at `line`.
fn csv_error(path: &Path, e: ::csv::Error, line: u64, max: usize) -> Error {
    let line = e.position().map_or(line, |p| p.line());
    match e.into_kind() {
        ::csv::ErrorKind::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<RecordTooLong>()) =>
        {
            too_long(path, line, max)
        }
        ::csv::ErrorKind::Io(io) => Error::io(path, io),
        kind => Error::line(path, line, format!("{kind:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("ferrograd-csv-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_features_and_a_target_column() {
        let p = file("ok.csv", "a,label,b\n1,x,2\n3,y,4\n");
        let csv = read_csv::<f64>(&p, &CsvOptions::new().target("label")).unwrap();
        assert_eq!(csv.features.shape(), &[2, 2]);
        assert_eq!(csv.features.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(csv.target.unwrap(), ["x", "y"]);
        let tabs = file("tabs.tsv", "a\tb\n1\t2\n");
        assert_eq!(
            read_csv::<f32>(&tabs, &CsvOptions::new().delimiter(b'\t'))
                .unwrap()
                .features
                .to_vec(),
            vec![1.0, 2.0]
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let p = file("bad.csv", "a,b\n1,2\n3,oops\n");
        let e = read_csv::<f32>(&p, &CsvOptions::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("bad.csv: line 3: column `b`: `oops` is not a number"),
            "{e}"
        );
        let p = file("short.csv", "a,b\n1,2\n3\n");
        let e = read_csv::<f32>(&p, &CsvOptions::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("short.csv: line 3: 1 fields, the header has 2"),
            "{e}"
        );
        let e = read_csv::<f32>(&p, &CsvOptions::new().target("y"))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("short.csv: line 1: no column `y` in the header [\"a\", \"b\"]"),
            "{e}"
        );
        let e = read_csv::<f32>("/nonexistent.csv", &CsvOptions::new())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent.csv: "), "{e}");
    }
}
