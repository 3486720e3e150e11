//! Loading reads the safetensors header first, bounds it, checks that the data it describes
//! ends exactly where the file ends, and then reads only the tensors the module needs.
//! Sparse files of a terabyte make a whole-file read fail loudly, yet cost no disk.

use std::path::Path;

use ferrograd_nn::serialize::{Error, load};
use ferrograd_nn::*;

fn model(seed: u64) -> Sequential<f32> {
    let mut rng = init::rng(seed);
    Sequential::new()
        .add(Linear::new(3, 4, &mut rng))
        .add(Linear::new(4, 2, &mut rng))
}

const TIB: u64 = 1 << 40;

fn format_error(path: &Path, strict: bool) -> String {
    let e = load(&model(1), path, strict).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    e.to_string()
}

#[test]
fn a_valid_file_followed_by_a_terabyte_of_padding_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("padded.safetensors");
    model(0).save(&path).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len + TIB)
        .unwrap();
    let n = header_len(&path);
    assert_eq!(
        format_error(&path, true),
        format!(
            "{}: not a valid safetensors file: the tensor data starting at byte {} does not end where the file ends (byte {}): {TIB} bytes of padding after byte {len}",
            path.display(),
            8 + n,
            len + TIB
        )
    );
}

/// The header length at the start of the file, read without reading the rest.
fn header_len(path: &Path) -> u64 {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    u64::from_le_bytes(head)
}

#[test]
fn truncated_tensor_data_names_where_the_header_says_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.safetensors");
    model(0).save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let n = header_len(&path);
    assert_eq!(
        format_error(&path, true),
        format!(
            "{}: not a valid safetensors file: the tensor data starting at byte {} does not end where the file ends (byte {}): truncated (the header describes data up to byte {})",
            path.display(),
            8 + n,
            bytes.len() - 3,
            bytes.len()
        )
    );
}

#[test]
fn a_header_longer_than_safetensors_allows_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge-header.safetensors");
    let file = std::fs::File::create(&path).unwrap();
    use std::io::Write;
    (&file).write_all(&200_000_000u64.to_le_bytes()).unwrap();
    file.set_len(8 + 200_000_000).unwrap();
    assert_eq!(
        format_error(&path, true),
        format!(
            "{}: not a valid safetensors file: the header claims 200000000 bytes, more than the 100000000 that safetensors allows",
            path.display()
        )
    );
}

#[test]
fn a_header_that_is_not_json_names_its_byte_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.safetensors");
    let mut bytes = 4u64.to_le_bytes().to_vec();
    bytes.extend(b"{{{{");
    std::fs::write(&path, bytes).unwrap();
    let e = format_error(&path, true);
    assert!(
        e.starts_with(&format!(
            "{}: not a valid safetensors file: invalid header (bytes 8 to 12): ",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn loading_reads_only_the_tensors_the_module_needs() {
    // A valid file whose last tensor, which the model does not have, is a terabyte of
    // (sparse) zeros: a non-strict load skips it without reading it.
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.safetensors");
    model(0).save(&small).unwrap();
    let bytes = std::fs::read(&small).unwrap();
    let n = header_len(&small) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let end = data.len() as u64;
    header.insert(
        "junk".into(),
        serde_json::json!({"dtype": "F32", "shape": [TIB / 4], "data_offsets": [end, end + TIB]}),
    );
    let header = serde_json::to_vec(&header).unwrap();
    let path = dir.path().join("big.safetensors");
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(&header);
    out.extend(data);
    std::fs::write(&path, &out).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_len(out.len() as u64 + TIB).unwrap();

    let loaded = model(1);
    let report = loaded.load_non_strict(&path).unwrap();
    assert_eq!(report.unexpected, ["junk"]);
    let values = |m: &Sequential<f32>| -> Vec<Vec<f32>> {
        m.parameters().iter().map(|p| p.value().to_vec()).collect()
    };
    assert_eq!(values(&loaded), values(&model(0)));
    let e = load(&model(1), &path, true).unwrap_err().to_string();
    assert!(
        e.ends_with("unexpected tensors [\"junk\"] (the module has no such parameters)"),
        "{e}"
    );
}
