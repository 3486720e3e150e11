//! The IDX format of the MNIST files: read (raw or gzip) and write.
//!
//! A file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
//! one big-endian `u32` size per dimension, then the elements in row-major order, big-endian.
//! Reading validates all of it before allocating for the data, and bounds the decompressed
//! size of a `.gz` file by what the header announces, so a corrupt or hostile file gets an
//! error naming the file and the byte offset, never a panic or a huge allocation.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The largest data section read (4 GiB): a header announcing more is rejected before any
/// allocation, which also bounds what a gzip bomb can make us decompress.
const MAX_BYTES: usize = 1 << 32;

/// The element type of an IDX file, by its type code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxType {
    /// `0x08`: unsigned byte (MNIST).
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: big-endian `i16`.
    I16,
    /// `0x0C`: big-endian `i32`.
    I32,
    /// `0x0D`: big-endian `f32`.
    F32,
    /// `0x0E`: big-endian `f64`.
    F64,
}

impl IdxType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }
}

/// The contents of an IDX file: its shape, element type and raw big-endian element bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions, e.g. `[10000, 28, 28]` for MNIST images.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: IdxType,
    /// The elements' bytes, big-endian, row-major.
    pub bytes: Vec<u8>,
}

impl Idx {
    /// The elements as `f64`, converted from the file's type.
    pub fn to_f64(&self) -> Vec<f64> {
        let n = self.dtype.size();
        self.bytes
            .chunks_exact(n)
            .map(|b| match self.dtype {
                IdxType::U8 => b[0] as f64,
                IdxType::I8 => b[0] as i8 as f64,
                IdxType::I16 => i16::from_be_bytes([b[0], b[1]]) as f64,
                IdxType::I32 => i32::from_be_bytes(b.try_into().expect("4 bytes")) as f64,
                IdxType::F32 => f32::from_be_bytes(b.try_into().expect("4 bytes")) as f64,
                IdxType::F64 => f64::from_be_bytes(b.try_into().expect("8 bytes")),
            })
            .collect()
    }
}

/// Reads an IDX file, gzip-compressed or not (detected from its first bytes).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the byte offset if the
/// magic number, type code or dimension count is invalid, or the data is shorter or longer
/// than the dimensions announce.
///
/// ```
/// use ferrograd_data::idx::{Idx, IdxType, read_idx, write_idx};
/// let path = std::env::temp_dir().join("ferrograd-doc.idx");
/// let idx = Idx { shape: vec![2, 3], dtype: IdxType::U8, bytes: vec![1, 2, 3, 4, 5, 6] };
/// write_idx(&path, &idx)?;
/// assert_eq!(read_idx(&path)?, idx);
/// # Ok::<(), ferrograd_data::Error>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<Idx> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_from(path, std::io::BufReader::new(file))
}

/// [`read_idx`] from bytes in memory (an embedded file); `name` stands for the path in
/// error messages.
///
/// # Errors
/// As [`read_idx`].
pub fn read_idx_bytes(name: &str, bytes: &[u8]) -> Result<Idx> {
    read_from(Path::new(name), bytes)
}

/// Reads an IDX stream, decompressing it if it starts with the gzip magic bytes.
fn read_from(path: &Path, mut reader: impl Read) -> Result<Idx> {
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut reader, &mut magic).map_err(|e| Error::io(path, e))?;
    let head = &magic[..got];
    let chained = std::io::Cursor::new(head.to_vec()).chain(reader);
    if head == [0x1f, 0x8b] {
        parse(path, flate2::read::GzDecoder::new(chained))
    } else {
        parse(path, chained)
    }
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn parse(path: &Path, mut r: impl Read) -> Result<Idx> {
    let fmt = |offset: u64, reason: String| Error::format(path, offset, reason);
    let io = |e: std::io::Error| Error::io(path, e);
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut r, &mut magic).map_err(io)?;
    if got < 4 {
        return Err(fmt(
            got as u64,
            format!("the file ends after {got} bytes, inside the 4-byte magic number"),
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(fmt(
            0,
            format!(
                "magic number starts with {:#04x} {:#04x}, not two zero bytes: not an IDX file",
                magic[0], magic[1]
            ),
        ));
    }
    let dtype = IdxType::from_code(magic[2])
        .ok_or_else(|| fmt(2, format!("unknown element type code {:#04x}", magic[2])))?;
    let ndim = magic[3] as usize;
    if ndim == 0 {
        return Err(fmt(3, "the dimension count is 0".to_string()));
    }
    let mut dims = vec![0u8; 4 * ndim];
    let got = read_up_to(&mut r, &mut dims).map_err(io)?;
    if got < dims.len() {
        return Err(fmt(
            4 + got as u64,
            format!("the file ends inside the {ndim} dimension sizes"),
        ));
    }
    let shape: Vec<usize> = dims
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
        .collect();
    let data_start = 4 + 4 * ndim as u64;
    let expected = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_BYTES)
        .ok_or_else(|| {
            fmt(
                4,
                format!(
                    "dimensions {shape:?} announce more than the 4 GiB of data this reader accepts"
                ),
            )
        })?;
    // Read at most one byte more than announced, so trailing data is detected without
    // reading (or decompressing) an unbounded amount.
    let mut bytes = Vec::new();
    r.take(expected as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput
                || e.kind() == std::io::ErrorKind::UnexpectedEof
            {
                fmt(data_start, format!("corrupt compressed data: {e}"))
            } else {
                io(e)
            }
        })?;
    if bytes.len() < expected {
        return Err(fmt(
            data_start + bytes.len() as u64,
            format!(
                "the data ends after {} of the {expected} bytes that dimensions {shape:?} need",
                bytes.len()
            ),
        ));
    }
    if bytes.len() > expected {
        return Err(fmt(
            data_start + expected as u64,
            format!("trailing data after the {expected} bytes that dimensions {shape:?} need"),
        ));
    }
    Ok(Idx {
        shape,
        dtype,
        bytes,
    })
}

/// Writes `idx` as an uncompressed IDX file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written; [`Error::Format`] if the byte count does
/// not match the shape or a dimension does not fit the format's `u32`.
pub fn write_idx(path: impl AsRef<Path>, idx: &Idx) -> Result<()> {
    let path = path.as_ref();
    let count: usize = idx.shape.iter().product();
    if count * idx.dtype.size() != idx.bytes.len() || idx.shape.is_empty() || idx.shape.len() > 255
    {
        return Err(Error::format(
            path,
            0,
            format!(
                "{} bytes do not hold shape {:?} of {:?}",
                idx.bytes.len(),
                idx.shape,
                idx.dtype
            ),
        ));
    }
    let mut out = vec![0, 0, idx.dtype.code(), idx.shape.len() as u8];
    for &d in &idx.shape {
        let d = u32::try_from(d)
            .map_err(|_| Error::format(path, 4, format!("dimension {d} does not fit in u32")))?;
        out.extend(d.to_be_bytes());
    }
    out.extend(&idx.bytes);
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(&out).map_err(|e| Error::io(path, e))
}

/// `dir/name`, or `dir/name.gz` if only that exists.
pub(crate) fn find(dir: &Path, name: &str) -> PathBuf {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if !plain.exists() && gz.exists() {
        gz
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("ferrograd-idx-{}-{name}", std::process::id()))
    }

    fn sample() -> Idx {
        Idx {
            shape: vec![3, 2, 2],
            dtype: IdxType::I16,
            bytes: (0..24u8).collect(),
        }
    }

    #[test]
    fn round_trips_raw_and_gzip() {
        let path = tmp("rt.idx");
        write_idx(&path, &sample()).unwrap();
        assert_eq!(read_idx(&path).unwrap(), sample());
        let raw = std::fs::read(&path).unwrap();
        let gz = tmp("rt.idx.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&gz).unwrap(), sample());
        assert_eq!(sample().to_f64()[..2], [1.0, 2.0 * 256.0 + 3.0]);
        std::fs::remove_file(&path).ok();
        std::fs::remove_file(&gz).ok();
    }

    #[test]
    fn every_truncation_is_an_error_naming_the_file() {
        let path = tmp("full.idx");
        write_idx(&path, &sample()).unwrap();
        let raw = std::fs::read(&path).unwrap();
        let cut = tmp("cut.idx");
        for len in 0..raw.len() {
            std::fs::write(&cut, &raw[..len]).unwrap();
            let e = read_idx(&cut).unwrap_err();
            assert!(matches!(e, Error::Format { .. }), "{len}: {e}");
            assert!(e.to_string().contains("cut.idx"), "{e}");
        }
        // The same for every truncation of the gzip stream.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        for len in 2..gz.len() {
            std::fs::write(&cut, &gz[..len]).unwrap();
            assert!(read_idx(&cut).is_err(), "gzip cut at {len}");
        }
        std::fs::remove_file(&cut).ok();
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn corrupt_headers_are_reported_with_offsets() {
        let path = tmp("bad.idx");
        let check = |bytes: &[u8], want: &str| {
            std::fs::write(&path, bytes).unwrap();
            let e = read_idx(&path).unwrap_err().to_string();
            assert!(e.ends_with(want), "{e}");
        };
        check(
            &[1, 0, 8, 1, 0, 0, 0, 0],
            "byte 0: magic number starts with 0x01 0x00, not two zero bytes: not an IDX file",
        );
        check(
            &[0, 0, 7, 1, 0, 0, 0, 0],
            "byte 2: unknown element type code 0x07",
        );
        check(&[0, 0, 8, 0], "byte 3: the dimension count is 0");
        check(
            &[0, 0, 8, 2, 0, 0, 0, 1],
            "byte 8: the file ends inside the 2 dimension sizes",
        );
        check(
            &[0, 0, 8, 1, 0, 0, 0, 3, 9, 9],
            "byte 10: the data ends after 2 of the 3 bytes that dimensions [3] need",
        );
        check(
            &[0, 0, 8, 1, 0, 0, 0, 1, 9, 9],
            "byte 9: trailing data after the 1 bytes that dimensions [1] need",
        );
        // A header announcing 4 GiB × 4 GiB elements is rejected without allocating.
        check(
            &[
                0, 0, 0x0E, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
            ],
            "byte 4: dimensions [4294967295, 4294967295, 4294967295] announce more than the 4 GiB of data this reader accepts",
        );
        std::fs::remove_file(&path).ok();
    }
}
