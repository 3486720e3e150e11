//! Writes the committed seed corpora, `fuzz/seeds/<target>/`: small valid files (and a few
//! near misses) that take the fuzzer past each format's header from the first run. Run from
//! anywhere, with any toolchain:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds
//! ```
//!
//! Every seed is checked against the reader it is for (valid ones must load), and the
//! output is deterministic, so rerunning it gives the same files.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferrograd_autograd::testing::program::{MAX_OPS, run_program};
use ferrograd_data::idx::read_idx_bytes;
use ferrograd_fuzz::checkpoint::{self, STATE};
use ferrograd_fuzz::optimizer_state::{RULES, real_state};
use ferrograd_nn::serialize::Error as LoadError;
use ferrograd_nn::{Linear, ModuleExt, Sequential, init};

/// The largest seed and the largest total, in bytes.
const MAX_SEED: usize = 4096;
const MAX_TOTAL: usize = 200 * 1024;

struct Out {
    root: PathBuf,
    total: usize,
    count: usize,
}

impl Out {
    /// Empties `seeds/<target>/` and returns a writer into it.
    fn dir(&self, target: &str) -> PathBuf {
        let dir = self.root.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(&mut self, dir: &Path, name: &str, bytes: &[u8]) {
        assert!(bytes.len() <= MAX_SEED, "{name}: {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes).unwrap();
        self.total += bytes.len();
        self.count += 1;
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX file: magic `00 00 code ndim`, big-endian `u32` dimensions, then `data`.
fn idx(code: u8, shape: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, shape.len() as u8];
    for d in shape {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

fn idx_seeds(out: &mut Out) {
    let dir = out.dir("idx");
    let labels: Vec<u8> = (0..20u8).map(|i| (i * 7) % 10).collect();
    let small: Vec<u8> = (0..72u32).map(|i| (i * 37 % 256) as u8).collect();
    let digit: Vec<u8> = (0..28 * 28u32)
        .map(|i| {
            let (r, c) = (i / 28, i % 28);
            if (8..20).contains(&r) && (c == 13 || c == 14) {
                255
            } else {
                0
            }
        })
        .collect();
    let be =
        |vals: &[f64], f: fn(f64) -> Vec<u8>| vals.iter().flat_map(|&v| f(v)).collect::<Vec<u8>>();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("labels_u8_20.idx1", idx(0x08, &[20], &labels)),
        ("images_u8_2x6x6.idx3", idx(0x08, &[2, 6, 6], &small)),
        ("image_u8_1x28x28.idx3", idx(0x08, &[1, 28, 28], &digit)),
        ("i8_5.idx1", idx(0x09, &[5], &[0x80, 0xff, 0, 1, 0x7f])),
        (
            "i16_2x3.idx2",
            idx(
                0x0B,
                &[2, 3],
                &be(&[-32768.0, -1.0, 0.0, 1.0, 255.0, 32767.0], |v| {
                    (v as i16).to_be_bytes().to_vec()
                }),
            ),
        ),
        (
            "i32_3x2.idx2",
            idx(
                0x0C,
                &[3, 2],
                &be(
                    &[-2147483648.0, -1.0, 0.0, 7.0, 60000.0, 2147483647.0],
                    |v| (v as i32).to_be_bytes().to_vec(),
                ),
            ),
        ),
        (
            "f32_2x2.idx2",
            idx(
                0x0D,
                &[2, 2],
                &be(&[1.5, -0.0, f64::INFINITY, f64::NAN], |v| {
                    (v as f32).to_be_bytes().to_vec()
                }),
            ),
        ),
        (
            "f64_2x1x2.idx3",
            idx(
                0x0E,
                &[2, 1, 2],
                &be(&[0.25, -1e300, 5e-324, 3.0], |v| v.to_be_bytes().to_vec()),
            ),
        ),
        ("u8_3x0.idx2", idx(0x08, &[3, 0], &[])),
    ];
    for (name, bytes) in &files {
        read_idx_bytes(name, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.write(&dir, name, bytes);
        let gz = gzip(bytes);
        read_idx_bytes(name, &gz).unwrap_or_else(|e| panic!("{name}.gz: {e}"));
        out.write(&dir, &format!("{name}.gz"), &gz);
    }
}

fn csv_seeds(out: &mut Out) {
    let dir = out.dir("csv");
    let files: [(&str, &str); 15] = [
        ("numeric.csv", "a,b,c\n1,2,3\n4.5,-6,7e3\n"),
        ("target_semicolon.csv", "x1;x2;y\n1.5;3;cat\n2.0;4.5;dog\n"),
        ("target_first.csv", "y;x\n0;1.0\n1;2.0\n1;-3.25\n"),
        ("quoted.csv", "\"a\",\"b, c\"\n\"1\",\"2\"\n\" 3 \",\"4\"\n"),
        (
            "quoted_semicolon.csv",
            "\"x;1\";\"y\"\n\"1.5\";\"a \"\"quoted\"\" class\"\n",
        ),
        (
            "special_values.csv",
            "x,z\nnan,inf\n-inf,-1e309\n1e-320,+0.5\n NaN , -0 \n",
        ),
        ("ragged.csv", "a,b\n1,2\n3\n4,5,6\n"),
        ("non_numeric.csv", "a,b\n1,two\n"),
        ("empty.csv", ""),
        ("header_only.csv", "a;b;y\n"),
        ("crlf.csv", "a,b\r\n1,2\r\n3,4\r\n"),
        ("tab.csv", "a\tb\ty\n1\t2\t3\n"),
        ("bom_unicode.csv", "\u{feff}größe;y\n1;ja\n2;nein\n"),
        ("blank_lines.csv", "a,b\n\n1,2\n\n3,4\n"),
        (
            "iris.csv",
            "sepal_length;sepal_width;petal_length;petal_width;y\n5.1;3.5;1.4;0.2;setosa\n7.0;3.2;4.7;1.4;versicolor\n6.3;3.3;6.0;2.5;virginica\n",
        ),
    ];
    for (name, text) in files {
        out.write(&dir, name, text.as_bytes());
    }
}

/// A safetensors file by hand: the JSON header (metadata first if any) padded with spaces
/// to a multiple of 8, its length as a little-endian `u64` before it, then the data.
fn safetensors(tensors: &[(&str, &str, &[usize], Vec<u8>)], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut entries = Vec::new();
    if !metadata.is_empty() {
        let kv: Vec<String> = metadata
            .iter()
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect();
        entries.push(format!("\"__metadata__\":{{{}}}", kv.join(",")));
    }
    let (mut offset, mut data) = (0, Vec::<u8>::new());
    for (name, dtype, shape, bytes) in tensors {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            dims.join(","),
            offset + bytes.len()
        ));
        offset += bytes.len();
        data.extend(bytes);
    }
    let mut header = format!("{{{}}}", entries.join(",")).into_bytes();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(data);
    out
}

/// `n` little-endian values of `dtype`, counting up from 0.25 in steps of 0.5.
fn values(dtype: &str, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|k| {
            let v = 0.25 + 0.5 * k as f64;
            match dtype {
                "F64" => v.to_le_bytes().to_vec(),
                "I64" => (k as i64 - 2).to_le_bytes().to_vec(),
                "BF16" => (v as f32).to_bits().to_le_bytes()[2..].to_vec(),
                _ => (v as f32).to_le_bytes().to_vec(),
            }
        })
        .collect()
}

/// A tensor entry of `dtype` and `shape` with counting values.
fn tensor<'a>(
    name: &'a str,
    dtype: &'a str,
    shape: &'a [usize],
) -> (&'a str, &'a str, &'a [usize], Vec<u8>) {
    (name, dtype, shape, values(dtype, shape.iter().product()))
}

/// Checks that `bytes` is well-formed safetensors (a non-strict load into `model` fails
/// for no format reason) and writes it.
fn write_checkpoint<M: ModuleExt<f32>>(
    out: &mut Out,
    dir: &Path,
    name: &str,
    bytes: &[u8],
    model: &M,
) {
    let path = std::env::temp_dir().join(format!("ferrograd-gen-seeds-{}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    if let Err(e @ (LoadError::Format { .. } | LoadError::Io { .. })) = model.load_non_strict(&path)
    {
        panic!("{name}: {e}");
    }
    std::fs::remove_file(&path).ok();
    out.write(dir, name, bytes);
}

/// A real checkpoint of `model`, written by `ModuleExt::save`.
fn saved<T: ferrograd_autograd::Float, M: ModuleExt<T>>(model: &M) -> Vec<u8> {
    let path =
        std::env::temp_dir().join(format!("ferrograd-gen-seeds-save-{}", std::process::id()));
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    bytes
}

fn safetensors_seeds(out: &mut Out) {
    // The `safetensors` target's model: `Linear(2, 3)`, f32.
    let linear = Sequential::<f32>::new().add(Linear::new(2, 3, &mut init::rng(0)));
    let dir = out.dir("safetensors");
    let w = |dtype| tensor("0.weight", dtype, &[3, 2]);
    let b = |dtype| tensor("0.bias", dtype, &[3]);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("saved_linear_f32.safetensors", saved(&linear)),
        (
            "linear_f32_metadata.safetensors",
            safetensors(&[w("F32"), b("F32")], &[("format", "pt"), ("step", "10")]),
        ),
        (
            "linear_f64.safetensors",
            safetensors(&[w("F64"), b("F64")], &[]),
        ),
        (
            "linear_i64_bf16.safetensors",
            safetensors(&[w("I64"), b("BF16")], &[]),
        ),
        (
            "linear_wrong_shape.safetensors",
            safetensors(&[tensor("0.weight", "F32", &[2, 3]), b("F32")], &[]),
        ),
        (
            "linear_extra.safetensors",
            safetensors(
                &[
                    b("F32"),
                    w("F32"),
                    tensor("1.weight", "F32", &[4]),
                    tensor("__x", "F64", &[]),
                ],
                &[],
            ),
        ),
        (
            "linear_weight_only.safetensors",
            safetensors(&[w("F32")], &[("format", "pt")]),
        ),
        ("empty.safetensors", safetensors(&[], &[])),
        (
            "scalar_and_empty.safetensors",
            safetensors(
                &[
                    tensor("s", "F32", &[]),
                    tensor("z", "F32", &[0]),
                    tensor("0.bias", "F32", &[3, 0]),
                ],
                &[],
            ),
        ),
    ];
    for (name, bytes) in &files {
        write_checkpoint(out, &dir, name, bytes, &linear);
    }

    // The `checkpoint` target's model: `Linear(2, 3)` then `BatchNorm1d(3)`, f32 and f64.
    let model = checkpoint::model::<f32>();
    let dir = out.dir("checkpoint");
    let all = |dtype: &'static str| -> Vec<_> {
        STATE.iter().map(|&(n, s)| tensor(n, dtype, s)).collect()
    };
    let mut wrong_buffer = all("F32");
    wrong_buffer[5] = tensor("1.running_var", "F32", &[4]);
    let mut mixed = all("F32");
    mixed[0] = tensor("0.weight", "F64", &[3, 2]);
    let mut extra = all("F32");
    extra.push(tensor("1.num_batches_tracked", "I64", &[]));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("saved_f32.safetensors", saved(&model)),
        ("saved_f64.safetensors", saved(&checkpoint::model::<f64>())),
        (
            "all_f32_metadata.safetensors",
            safetensors(&all("F32"), &[("format", "pt")]),
        ),
        (
            "params_only.safetensors",
            safetensors(&all("F32")[..4], &[]),
        ),
        (
            "buffers_only_f64.safetensors",
            safetensors(&all("F64")[4..], &[]),
        ),
        (
            "wrong_buffer_shape.safetensors",
            safetensors(&wrong_buffer, &[]),
        ),
        ("mixed_dtypes.safetensors", safetensors(&mixed, &[])),
        ("extra_i64.safetensors", safetensors(&extra, &[])),
        ("all_bf16.safetensors", safetensors(&all("BF16"), &[])),
    ];
    for (name, bytes) in &files {
        write_checkpoint(out, &dir, name, bytes, &model);
    }
}

/// A deterministic byte stream (xorshift64).
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
}

/// Programs that run all `MAX_OPS` ops (or nearly) with gradients checked, found by
/// searching deterministic random byte strings.
fn op_program_seeds(out: &mut Out) {
    let dir = out.dir("op_program");
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    let (mut full, mut refusing) = (0, 0);
    for attempt in 0..200_000 {
        if full == 6 && refusing == 2 {
            break;
        }
        let len = 48 + usize::from(rng.next()) % 160;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next()).collect();
        let Ok(report) = run_program(&bytes) else {
            continue;
        };
        if !report.gradients_checked {
            continue;
        }
        if report.ops_run == MAX_OPS && full < 6 {
            full += 1;
            out.write(
                &dir,
                &format!("ops{}_{attempt}.bin", report.ops_run),
                &bytes,
            );
        } else if report.ops_run >= MAX_OPS - 4 && report.ops_refused >= 2 && refusing < 2 {
            refusing += 1;
            out.write(
                &dir,
                &format!(
                    "ops{}_refused{}_{attempt}.bin",
                    report.ops_run, report.ops_refused
                ),
                &bytes,
            );
        }
    }
    let _ = std::panic::take_hook();
    assert!(full > 0, "no program ran {MAX_OPS} ops");
}

fn optimizer_state_seeds(out: &mut Out) {
    let dir = out.dir("optimizer_state");
    for (rule, name) in RULES.iter().enumerate() {
        for steps in [1, 3] {
            out.write(
                &dir,
                &format!("{name}_{steps}_steps.bin"),
                &real_state(rule, steps),
            );
        }
    }
    // Near misses: a wrong parameter count, a buffer of the wrong shape, no buffers.
    out.write(
        &dir,
        "adam_two_params.bin",
        &[
            3, 0, 5, 10, 0, 2, 1, 120, 121, 122, 123, 124, 125, 1, 1, 126, 127, 128,
        ],
    );
    out.write(
        &dir,
        "sgd_momentum_wrong_shape.bin",
        &[
            1, 1, 2, 100, 3, 1, 16, 120, 121, 122, 123, 124, 125, 1, 1, 126, 127, 128, 0,
        ],
    );
    out.write(&dir, "adagrad_no_buffers.bin", &[5, 2, 7, 50, 3, 0, 0, 0]);
}

fn main() {
    let mut out = Out {
        root: Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"),
        total: 0,
        count: 0,
    };
    idx_seeds(&mut out);
    csv_seeds(&mut out);
    safetensors_seeds(&mut out);
    op_program_seeds(&mut out);
    optimizer_state_seeds(&mut out);
    assert!(out.total <= MAX_TOTAL, "{} bytes of seeds", out.total);
    println!(
        "{} seeds, {} bytes, in {}",
        out.count,
        out.total,
        out.root.display()
    );
}
