//! The CSV reader bounds each record: an endless line is an error naming the line after a
//! bounded read, never an exhausted memory.

use std::io::Read;

use ferrograd_data::csv::{CsvOptions, DEFAULT_MAX_RECORD_BYTES, read_csv, read_csv_from};

/// A reader that fails the test if more than `limit` bytes are taken from it, so an
/// unbounded read ends quickly instead of eating the machine's memory.
struct AtMost<R> {
    inner: R,
    read: usize,
    limit: usize,
}

impl<R: Read> Read for AtMost<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        assert!(
            self.read <= self.limit,
            "read {} bytes, more than {}",
            self.read,
            self.limit
        );
        Ok(n)
    }
}

fn at_most<R: Read>(inner: R, limit: usize) -> AtMost<R> {
    AtMost {
        inner,
        read: 0,
        limit,
    }
}

fn error(reader: impl Read, options: &CsvOptions) -> String {
    read_csv_from::<f32, _>(reader, "<stream>", options)
        .unwrap_err()
        .to_string()
}

#[test]
fn an_endless_line_is_an_error_after_a_bounded_read() {
    let endless = at_most(std::io::repeat(b'0'), 2 * DEFAULT_MAX_RECORD_BYTES);
    assert_eq!(
        error(endless, &CsvOptions::new()),
        "<stream>: line 1: the record is longer than 1048576 bytes (CsvOptions::max_record_bytes)"
    );
}

#[test]
fn an_endless_line_after_good_rows_names_its_line() {
    let endless = at_most(b"a,b\n1,2\n3,4\n".chain(std::io::repeat(b'9')), 64 << 10);
    assert_eq!(
        error(endless, &CsvOptions::new().max_record_bytes(1000)),
        "<stream>: line 4: the record is longer than 1000 bytes (CsvOptions::max_record_bytes)"
    );
}

#[test]
fn an_endless_quoted_field_over_many_lines_is_bounded_too() {
    let endless = at_most(b"a\n1\n\"".chain(std::io::repeat(b'\n')), 64 << 10);
    assert_eq!(
        error(endless, &CsvOptions::new().max_record_bytes(1000)),
        "<stream>: line 3: the record is longer than 1000 bytes (CsvOptions::max_record_bytes)"
    );
}

#[test]
fn an_endless_header_is_bounded() {
    let endless = at_most(std::io::repeat(b','), 64 << 10);
    assert_eq!(
        error(endless, &CsvOptions::new().max_record_bytes(100)),
        "<stream>: line 1: the record is longer than 100 bytes (CsvOptions::max_record_bytes)"
    );
}

#[test]
fn a_record_of_exactly_the_limit_is_read_and_one_byte_more_is_not() {
    // "123456789\n" is 10 bytes, its terminator included.
    let options = CsvOptions::new().max_record_bytes(10);
    let csv = read_csv_from::<f64, _>(&b"a\n123456789\n"[..], "<s>", &options).unwrap();
    assert_eq!(csv.features.to_vec(), vec![123456789.0]);
    assert_eq!(
        read_csv_from::<f64, _>(&b"a\n1\n1234567890\n"[..], "<s>", &options)
            .unwrap_err()
            .to_string(),
        "<s>: line 3: the record is longer than 10 bytes (CsvOptions::max_record_bytes)"
    );
    assert_eq!(
        read_csv_from::<f64, _>(&b"abcdefghijk\n1\n"[..], "<s>", &options)
            .unwrap_err()
            .to_string(),
        "<s>: line 1: the record is longer than 10 bytes (CsvOptions::max_record_bytes)"
    );
}

#[test]
fn a_file_with_a_long_line_names_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("ferrograd-csv-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.csv");
    let mut text = String::from("x,y\n1,2\n");
    text.push_str(&"7".repeat(5000));
    text.push_str(",1\n3,4\n");
    std::fs::write(&path, text).unwrap();
    let e = read_csv::<f32>(&path, &CsvOptions::new().max_record_bytes(4096))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 3: the record is longer than 4096 bytes (CsvOptions::max_record_bytes)",
            path.display()
        )
    );
    // The default bound admits it.
    assert_eq!(
        read_csv::<f32>(&path, &CsvOptions::new())
            .unwrap()
            .features
            .shape(),
        &[3, 2]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn dev_zero_is_an_error_not_an_abort() {
    assert_eq!(
        read_csv::<f32>("/dev/zero", &CsvOptions::new())
            .unwrap_err()
            .to_string(),
        "/dev/zero: line 1: the record is longer than 1048576 bytes (CsvOptions::max_record_bytes)"
    );
}
