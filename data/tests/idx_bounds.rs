//! What an IDX header may announce is bounded: by `IdxOptions::max_bytes`, and for gzip
//! input by `IdxOptions::max_ratio` times the compressed size, checked before anything is
//! decompressed.

use std::io::Write;
use std::path::PathBuf;

use ferrograd_data::idx::{IdxOptions, read_idx, read_idx_bytes, read_idx_with};

/// A `[n]` u8 IDX file of zeros, gzip-compressed (about 1000× for large `n`).
fn zeros_gz(n: u32) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&[0, 0, 0x08, 1]).unwrap();
    gz.write_all(&n.to_be_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 16];
    let mut left = n as usize;
    while left > 0 {
        let k = left.min(chunk.len());
        gz.write_all(&chunk[..k]).unwrap();
        left -= k;
    }
    gz.finish().unwrap()
}

fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ferrograd-idxb-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_gzip_bomb_is_refused_before_decompressing() {
    // 8 MiB of zeros in about 8 KiB: the header's announcement is honest, but far more
    // than real IDX data compresses.
    let gz = zeros_gz(8 << 20);
    let path = file("bomb.idx.gz", &gz);
    let e = read_idx(&path).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: byte 4: dimensions [8388608] announce 8388608 bytes of data, more than 100 × the {}-byte compressed input (IdxOptions::max_ratio): refused before decompressing",
            path.display(),
            gz.len()
        )
    );
    let e = read_idx_bytes("bomb.idx.gz", &gz).unwrap_err().to_string();
    assert!(
        e.starts_with("bomb.idx.gz: byte 4: dimensions [8388608] announce"),
        "{e}"
    );
    // A caller who expects such data raises the ratio.
    let idx = read_idx_with(&path, &IdxOptions::new().max_ratio(2000)).unwrap();
    assert_eq!(idx.bytes.len(), 8 << 20);
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_tiny_gzip_announcing_a_gibibyte_is_refused_without_decompressing() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&[0, 0, 0x08, 1, 0x40, 0, 0, 0]).unwrap();
    let gz = gz.finish().unwrap();
    let e = read_idx_bytes("gib.idx.gz", &gz).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "gib.idx.gz: byte 4: dimensions [1073741824] announce 1073741824 bytes of data, more than 100 × the {}-byte compressed input (IdxOptions::max_ratio): refused before decompressing",
            gz.len()
        )
    );
}

#[test]
fn max_bytes_bounds_raw_and_compressed_files() {
    let mut raw = vec![0, 0, 0x0B, 2, 0, 0, 0, 10, 0, 0, 0, 50];
    raw.resize(12 + 1000, 7);
    let path = file("raw.idx", &raw);
    let small = IdxOptions::new().max_bytes(999);
    assert_eq!(
        read_idx_with(&path, &small).unwrap_err().to_string(),
        format!(
            "{}: byte 4: dimensions [10, 50] announce 1000 bytes of data, more than the 999 bytes this reader accepts (IdxOptions::max_bytes)",
            path.display()
        )
    );
    assert_eq!(
        read_idx_with(&path, &IdxOptions::new().max_bytes(1000))
            .unwrap()
            .shape,
        [10, 50]
    );
    let gz = file("small.idx.gz", &zeros_gz(1000));
    let e = read_idx_with(&gz, &small).unwrap_err().to_string();
    assert!(e.ends_with("more than the 999 bytes this reader accepts (IdxOptions::max_bytes)"));
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(&gz).ok();
}
