//! The IDX reader on arbitrary bytes (raw, or gzip when they start with its magic): an
//! `Ok` must hold exactly the bytes its shape needs; anything else must be an `Err`.
#![no_main]

use ferrograd_data::idx::read_idx_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(idx) = read_idx_bytes("fuzz.idx", data) {
        let count: usize = idx.shape.iter().product();
        assert_eq!(count * idx.dtype.size(), idx.bytes.len());
    }
});
