//! The IDX format of the MNIST files: read (raw or gzip) and write.
//!
//! A file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
//! one big-endian `u32` size per dimension, then the elements in row-major order, big-endian.
//! Reading validates all of it before allocating for the data, so a corrupt or hostile file
//! gets an error naming the file and the byte offset, never a panic or a huge allocation.
//!
//! # How much is read
//! The header announces the data's size, and nothing beyond it (plus one byte, to detect
//! trailing data) is read or decompressed. The announcement itself is bounded
//! ([`IdxOptions`]):
//! - by [`IdxOptions::max_bytes`] (4 GiB unless set), for every input;
//! - for gzip input of known size (a file, bytes in memory), by what that input can
//!   plausibly hold: at most [`IdxOptions::max_ratio`] (100 unless set) times its
//!   compressed size. Real IDX files compress 2–5× (MNIST's test images 4.8×, its labels
//!   2.2×); deflate's hard limit is about 1032×, reached only by data such as a run of
//!   zeros. So a 1 MiB gzip whose header announces 1 GiB is refused before anything is
//!   decompressed, instead of costing 1 GiB of memory.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The default [`IdxOptions::max_bytes`]: 4 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 32;

/// The default [`IdxOptions::max_ratio`]: 100.
pub const DEFAULT_MAX_RATIO: u64 = 100;

/// Bounds on what an IDX header may announce, see [the module docs](self#how-much-is-read).
///
/// ```
/// use ferrograd::data::idx::{IdxOptions, read_idx_bytes_with};
/// // A gzip of 64 KiB of zeros, announced as a [65536] u8 file: about 1000× compression.
/// let mut raw = vec![0, 0, 0x08, 1, 0, 1, 0, 0];
/// raw.resize(8 + 65536, 0);
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
/// std::io::Write::write_all(&mut gz, &raw).unwrap();
/// let gz = gz.finish().unwrap();
/// let e = read_idx_bytes_with("zeros.idx.gz", &gz, &IdxOptions::new()).unwrap_err();
/// assert!(e.to_string().contains("more than 100 × the"));
/// let idx = read_idx_bytes_with("zeros.idx.gz", &gz, &IdxOptions::new().max_ratio(2000))?;
/// assert_eq!(idx.shape, [65536]);
/// # Ok::<(), ferrograd::data::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxOptions {
    max_bytes: u64,
    max_ratio: u64,
}

impl Default for IdxOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl IdxOptions {
    /// [`DEFAULT_MAX_BYTES`] and [`DEFAULT_MAX_RATIO`].
    pub fn new() -> Self {
        IdxOptions {
            max_bytes: DEFAULT_MAX_BYTES,
            max_ratio: DEFAULT_MAX_RATIO,
        }
    }

    /// The largest data section (after the header) accepted, in bytes.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// For gzip input of known size: the largest data section accepted, as a multiple of
    /// the compressed input's size.
    pub fn max_ratio(mut self, ratio: u64) -> Self {
        self.max_ratio = ratio;
        self
    }
}

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

/// Reads an IDX file, gzip-compressed or not (detected from its first bytes), with the
/// default [`IdxOptions`].
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the byte offset if the
/// magic number, type code or dimension count is invalid, the dimensions announce more
/// data than [`IdxOptions`] accepts, or the data is shorter or longer than they announce.
///
/// ```
/// use ferrograd::data::idx::{Idx, IdxType, read_idx, write_idx};
/// let path = std::env::temp_dir().join("ferrograd-doc.idx");
/// let idx = Idx { shape: vec![2, 3], dtype: IdxType::U8, bytes: vec![1, 2, 3, 4, 5, 6] };
/// write_idx(&path, &idx)?;
/// assert_eq!(read_idx(&path)?, idx);
/// # Ok::<(), ferrograd::data::Error>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<Idx> {
    read_idx_with(path, &IdxOptions::new())
}

/// [`read_idx`] with explicit bounds.
///
/// # Errors
/// As [`read_idx`].
pub fn read_idx_with(path: impl AsRef<Path>, options: &IdxOptions) -> Result<Idx> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let len = meta.is_file().then_some(meta.len());
    read_from(path, std::io::BufReader::new(file), len, options)
}

/// [`read_idx`] from bytes in memory (an embedded file); `name` stands for the path in
/// error messages.
///
/// # Errors
/// As [`read_idx`].
pub fn read_idx_bytes(name: &str, bytes: &[u8]) -> Result<Idx> {
    read_idx_bytes_with(name, bytes, &IdxOptions::new())
}

/// [`read_idx_bytes`] with explicit bounds.
///
/// # Errors
/// As [`read_idx`].
pub fn read_idx_bytes_with(name: &str, bytes: &[u8], options: &IdxOptions) -> Result<Idx> {
    read_from(Path::new(name), bytes, Some(bytes.len() as u64), options)
}

/// Reads an IDX stream of `len` bytes (if known), decompressing it if it starts with the
/// gzip magic bytes.
fn read_from(
    path: &Path,
    mut reader: impl Read,
    len: Option<u64>,
    options: &IdxOptions,
) -> Result<Idx> {
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut reader, &mut magic).map_err(|e| Error::io(path, e))?;
    let head = &magic[..got];
    let chained = std::io::Cursor::new(head.to_vec()).chain(reader);
    if head == [0x1f, 0x8b] {
        let limit = Limit {
            max_bytes: options.max_bytes,
            compressed: len.map(|len| (len, options.max_ratio)),
        };
        parse(path, flate2::read::GzDecoder::new(chained), limit)
    } else {
        let limit = Limit {
            max_bytes: options.max_bytes,
            compressed: None,
        };
        parse(path, chained, limit)
    }
}

/// The bound on the announced data size: `max_bytes`, and for compressed input of known
/// size, `ratio ×` that size.
struct Limit {
    max_bytes: u64,
    compressed: Option<(u64, u64)>,
}

impl Limit {
    /// Why `bytes` announced by `shape` are refused, if they are.
    fn check(&self, shape: &[usize], bytes: Option<u128>) -> Option<String> {
        let announced = match bytes {
            Some(b) => format!("{b} bytes of data"),
            None => "more than 2^128 bytes of data".to_string(),
        };
        let bytes = bytes.unwrap_or(u128::MAX);
        if bytes > u128::from(self.max_bytes) {
            return Some(format!(
                "dimensions {shape:?} announce {announced}, more than the {} bytes this reader accepts (IdxOptions::max_bytes)",
                self.max_bytes
            ));
        }
        let (len, ratio) = self.compressed?;
        (bytes > u128::from(len) * u128::from(ratio)).then(|| {
            format!(
                "dimensions {shape:?} announce {announced}, more than {ratio} × the {len}-byte compressed input (IdxOptions::max_ratio): refused before decompressing"
            )
        })
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

fn parse(path: &Path, mut r: impl Read, limit: Limit) -> Result<Idx> {
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
    let announced = shape
        .iter()
        .try_fold(dtype.size() as u128, |acc, &d| acc.checked_mul(d as u128));
    if let Some(reason) = limit.check(&shape, announced) {
        return Err(fmt(4, reason));
    }
    // As ndarray requires: even a shape with a zero dimension must have its other
    // dimensions multiply to an array this machine could address.
    let nonzero = shape
        .iter()
        .filter(|&&d| d > 0)
        .try_fold(dtype.size() as u128, |acc, &d| acc.checked_mul(d as u128));
    if nonzero.is_none_or(|n| n > isize::MAX as u128) {
        return Err(fmt(
            4,
            format!("dimensions {shape:?} cannot be held in memory, even with no elements"),
        ));
    }
    let expected = usize::try_from(announced.expect("checked above")).map_err(|_| {
        fmt(
            4,
            format!("dimensions {shape:?} do not fit this machine's memory"),
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
            "byte 4: dimensions [4294967295, 4294967295, 4294967295] announce 633825299671392843082401579000 bytes of data, more than the 4294967296 bytes this reader accepts (IdxOptions::max_bytes)",
        );
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn an_empty_shape_whose_other_dimensions_overflow_is_refused() {
        // Found by the idx fuzz target: [0, 2^32-1, 2^32-1, 2^32-1] holds no element, but
        // its other dimensions multiply past what any array can address.
        let mut bytes = vec![0, 0, 0x08, 4, 0, 0, 0, 0];
        bytes.extend([0xff; 12]);
        let e = read_idx_bytes("empty.idx", &bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "empty.idx: byte 4: dimensions [0, 4294967295, 4294967295, 4294967295] cannot be held in memory, even with no elements"
        );
    }
}
