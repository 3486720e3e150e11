//! Numeric CSV files with a header, an optional target column and a choice of delimiter,
//! parsed with the `csv` crate.

use std::path::Path;

use ferrograd_autograd::{Float, Tensor};

use crate::error::{Error, Result};

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    delimiter: u8,
    target: Option<String>,
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
        }
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
/// number (with its column), a missing target column, or a malformed file.
///
/// ```
/// use ferrograd_data::csv::{CsvOptions, read_csv};
/// let path = std::env::temp_dir().join("ferrograd-doc.csv");
/// std::fs::write(&path, "height;weight;species\n1.5;3;cat\n2.0;4.5;dog\n").unwrap();
/// let csv = read_csv::<f32>(&path, &CsvOptions::new().delimiter(b';').target("species"))?;
/// assert_eq!(csv.columns, ["height", "weight"]);
/// assert_eq!(csv.features.to_vec(), vec![1.5, 3.0, 2.0, 4.5]);
/// assert_eq!(csv.target.unwrap(), ["cat", "dog"]);
/// # Ok::<(), ferrograd_data::Error>(())
/// ```
pub fn read_csv<T: Float>(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Csv<T>> {
    let path = path.as_ref();
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
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
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
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

fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
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
