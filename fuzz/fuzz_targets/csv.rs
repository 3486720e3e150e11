//! The CSV reader on arbitrary file contents, with and without a target column.
#![no_main]

use ferrograd_data::csv::{CsvOptions, read_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("ferrograd-fuzz-{}.csv", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if let Ok(csv) = read_csv::<f32>(&path, &CsvOptions::new()) {
        assert_eq!(csv.features.shape()[1], csv.columns.len());
    }
    let _ = read_csv::<f64>(&path, &CsvOptions::new().delimiter(b';').target("y"));
});
