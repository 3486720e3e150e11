//! Saving and loading a module's parameters and buffers as
//! [safetensors](https://huggingface.co/docs/safetensors), the format PyTorch and Hugging Face
//! tools read. Names are the module's dotted names (`encoder.fc.weight`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ferrograd_autograd::{Float, Tensor};
use safetensors::tensor::{Dtype, Metadata, View};

use crate::module::{self, Module};

/// An error from saving or loading weights; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupt header, bad offsets).
    #[error("{}: not a valid safetensors file: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with byte offsets where they apply.
        reason: String,
    },
    /// A parameter of the module has no tensor in the file.
    #[error("{}: no tensor for parameter `{name}`", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The parameter's dotted name.
        name: String,
    },
    /// Tensors in the file that the module has no parameter for (strict loading only).
    #[error("{}: unexpected tensors {names:?} (the module has no such parameters)", path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensors' names.
        names: Vec<String>,
    },
    /// A tensor whose shape differs from its parameter's.
    #[error("{}: tensor `{name}` has shape {found:?}, the parameter has shape {expected:?}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// The parameter's dotted name.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The tensor's shape.
        found: Vec<usize>,
    },
    /// The path names something other than a regular file (a directory, a device, a fifo,
    /// a socket): saving refuses to replace it.
    #[error("{}: is a {kind}, not a regular file; refusing to replace it", path.display())]
    NotAFile {
        /// The path as given.
        path: PathBuf,
        /// What it is: `"directory"`, `"character device"`, `"block device"`, `"fifo"`,
        /// `"socket"`.
        kind: &'static str,
    },
    /// Two tensors of the file that a rename maps to the same parameter.
    #[error("{}: tensors `{first}` and `{second}` are both renamed to `{name}`", path.display())]
    RenameCollision {
        /// The file.
        path: PathBuf,
        /// The parameter's dotted name both map to.
        name: String,
        /// The first tensor's name in the file.
        first: String,
        /// The second tensor's name in the file.
        second: String,
    },
    /// A tensor whose element type differs from the module's (and casting was not asked
    /// for, or the type is not a float type).
    #[error("{}: tensor `{name}` is {found}, the module is {expected}", path.display())]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The parameter's dotted name.
        name: String,
        /// The module's type, `F32` or `F64`.
        expected: String,
        /// The tensor's type.
        found: String,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a non-strict load skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Parameters left as they were because the file has no tensor for them.
    pub missing: Vec<String>,
    /// Tensors in the file that the module has no parameter for.
    pub unexpected: Vec<String>,
}

/// How a load matches a file's tensors to a module's parameters: strictly or not, under
/// which names, and whether f32 and f64 convert. The default is a strict load of the same
/// names and element type ([`ModuleExt::load`](crate::ModuleExt::load)).
///
/// A file name is turned into a parameter name by the first matching
/// [`rename_prefix`](LoadOptions::rename_prefix), then by the [`rename`](LoadOptions::rename)
/// function; what comes out is matched against the module's dotted names. As PyTorch users
/// rewrite a `state_dict`'s keys before `load_state_dict`.
///
/// ```
/// use ferrograd::nn::serialize::LoadOptions;
/// use ferrograd::nn::{Linear, ModuleExt, Sequential, init};
/// let path = std::env::temp_dir().join("ferrograd-doc-load-options.safetensors");
/// // An f64 model saved under `encoder.*`...
/// let encoder = Sequential::<f64>::new().add(Linear::new(3, 2, &mut init::rng(0)));
/// let saved = Sequential::<f64>::new().add(encoder);
/// saved.save(&path)?;
/// // ...loads into an f32 model whose layers are at the top level.
/// let model = Sequential::<f32>::new().add(Linear::new(3, 2, &mut init::rng(1)));
/// let options = LoadOptions::new().rename_prefix("0.", "").cast(true);
/// let report = model.load_with(&path, &options)?;
/// assert!(report.missing.is_empty() && report.unexpected.is_empty());
/// assert_eq!(model.parameters()[0].value().to_vec()[0] as f64, saved.parameters()[0].value().to_vec()[0] as f32 as f64);
/// # Ok::<(), ferrograd::nn::serialize::Error>(())
/// ```
pub struct LoadOptions<'a> {
    strict: bool,
    cast: bool,
    prefixes: Vec<(String, String)>,
    rename: Option<Rename<'a>>,
}

/// A function from a file's tensor name to the parameter name it loads into.
type Rename<'a> = Box<dyn Fn(&str) -> String + 'a>;

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> LoadOptions<'a> {
    /// A strict load of the same names and element type.
    pub fn new() -> Self {
        LoadOptions {
            strict: true,
            cast: false,
            prefixes: Vec::new(),
            rename: None,
        }
    }

    /// With `false`, parameters the file lacks keep their values and tensors the module
    /// lacks are skipped, both listed in the [`LoadReport`] (PyTorch's `strict=False`).
    pub fn strict(mut self, yes: bool) -> Self {
        self.strict = yes;
        self
    }

    /// With `true`, f32 tensors load into an f64 module and f64 tensors into an f32 one
    /// (rounded to nearest); other element types are still an error.
    pub fn cast(mut self, yes: bool) -> Self {
        self.cast = yes;
        self
    }

    /// A file name starting with `from` is read as `to` followed by the rest of the name
    /// (`rename_prefix("backbone.", "features.")`; an empty `to` strips the prefix). The
    /// first matching prefix applies, in the order given.
    pub fn rename_prefix(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.prefixes.push((from.into(), to.into()));
        self
    }

    /// Maps every file name (after [`rename_prefix`](LoadOptions::rename_prefix)) to the
    /// parameter name it loads into.
    pub fn rename(mut self, f: impl Fn(&str) -> String + 'a) -> Self {
        self.rename = Some(Box::new(f));
        self
    }

    /// The parameter name a file name loads into.
    fn target(&self, name: &str) -> String {
        let renamed = self
            .prefixes
            .iter()
            .find_map(|(from, to)| {
                name.strip_prefix(from.as_str())
                    .map(|rest| format!("{to}{rest}"))
            })
            .unwrap_or_else(|| name.to_string());
        match &self.rename {
            Some(f) => f(&renamed),
            None => renamed,
        }
    }
}

fn dtype_of<T: Float>() -> Dtype {
    if T::DTYPE == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// A tensor's little-endian bytes, for the writer.
struct Bytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for Bytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn to_bytes<T: Float>(t: &Tensor<T>) -> Bytes {
    let dtype = dtype_of::<T>();
    let mut data = Vec::with_capacity(t.numel() * dtype.bitsize() / 8);
    for v in t.view().iter() {
        match dtype {
            Dtype::F32 => data.extend_from_slice(&(v.as_f64() as f32).to_le_bytes()),
            _ => data.extend_from_slice(&v.as_f64().to_le_bytes()),
        }
    }
    Bytes {
        dtype,
        shape: t.shape().to_vec(),
        data,
    }
}

fn from_bytes<T: Float>(data: &[u8], shape: &[usize], dtype: Dtype) -> Tensor<T> {
    let values = if dtype == Dtype::F32 {
        data.chunks_exact(4)
            .map(|b| T::from_f64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|b| T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes"))))
            .collect()
    };
    Tensor::from_vec(values, shape)
}

/// Writes every parameter and buffer of `module` to `path` as safetensors, atomically with
/// [`write_atomic`]: a reader or a crash never sees a half-written checkpoint.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written; [`Error::NotAFile`] if `path` is a
/// directory, device, fifo or socket.
pub fn save<T: Float, M: Module<T> + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    let state = module::state(module)
        .into_iter()
        .map(|(n, p)| (n, p.value()));
    save_tensors(path, state, BTreeMap::new())
}

/// Writes named tensors and string metadata (safetensors' `__metadata__`) to `path`,
/// atomically with [`write_atomic`]: what [`save`] and the training backups of
/// `ferrograd_train` build on. Read it back with [`TensorFile`].
///
/// # Errors
/// As [`save`]; [`Error::Format`] naming `path` if two tensors share a name.
///
/// ```
/// use std::collections::BTreeMap;
/// use ferrograd::autograd::Tensor;
/// use ferrograd::nn::serialize::{TensorFile, save_tensors};
/// let path = std::env::temp_dir().join("ferrograd-doc-tensors.safetensors");
/// let meta = BTreeMap::from([("epoch".to_string(), "3".to_string())]);
/// save_tensors(&path, [("w".to_string(), Tensor::<f32>::ones(&[2]))], meta)?;
/// let mut file = TensorFile::open(&path)?;
/// assert_eq!(file.metadata()["epoch"], "3");
/// assert_eq!(file.tensor::<f32>("w", Some(&[2]))?.to_vec(), vec![1.0, 1.0]);
/// assert!(file.tensor::<f64>("w", None).unwrap_err().to_string().ends_with("tensor `w` is F32, the module is F64"));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ferrograd::nn::serialize::Error>(())
/// ```
pub fn save_tensors<T: Float>(
    path: impl AsRef<Path>,
    tensors: impl IntoIterator<Item = (String, Tensor<T>)>,
    metadata: BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let format = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let mut bytes = BTreeMap::new();
    for (name, t) in tensors {
        if bytes.insert(name.clone(), to_bytes(&t)).is_some() {
            return Err(format(format!("two tensors are named `{name}`")));
        }
    }
    let metadata = (!metadata.is_empty()).then(|| metadata.into_iter().collect());
    let bytes = safetensors::serialize(bytes, metadata).map_err(|e| format(e.to_string()))?;
    write_atomic(path, |w| w.write_all(&bytes))
}

/// Replaces the file at `path` with what `write` produces, so that `path` always holds
/// either the old contents or the complete new ones, never a mix or a truncation. Any
/// saver in the workspace (checkpoints, optimizer state, logs) should write through it.
///
/// - The data goes to a uniquely named temporary file in the target's directory
///   (`.<name>.XXXXXX.tmp`), so concurrent savers never share one and a stale file left
///   by a killed writer is neither reused nor read; it is fsynced, renamed over the
///   target, and the directory is fsynced so the rename survives a power loss.
/// - A symlink is followed: its target is replaced and the link kept.
/// - An existing target keeps its permissions (a mode-600 file stays 600); a new file
///   gets the usual `0666 & !umask`.
/// - Only a regular file (or a new path) is replaced: a directory, device, fifo or socket
///   is refused before anything is written.
/// - On any error, or a panic in `write`, the temporary file is removed and the target is
///   untouched.
///
/// # Errors
/// [`Error::NotAFile`] naming `path` if it is not a regular file; [`Error::Io`] naming
/// `path` if `write` fails or the file cannot be created, synced or renamed.
///
/// ```
/// use ferrograd::nn::serialize::write_atomic;
/// let path = std::env::temp_dir().join("ferrograd-doc-atomic.txt");
/// write_atomic(&path, |w| w.write_all(b"epoch 1\n"))?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch 1\n");
/// let e = write_atomic(std::env::temp_dir(), |w| w.write_all(b"x")).unwrap_err();
/// assert!(e.to_string().ends_with("is a directory, not a regular file; refusing to replace it"));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), ferrograd::nn::serialize::Error>(())
/// ```
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let target = resolve_links(path).map_err(io)?;
    let existing = match std::fs::metadata(&target) {
        Ok(meta) if meta.is_file() => Some(meta.permissions()),
        Ok(meta) => {
            return Err(Error::NotAFile {
                path: path.to_path_buf(),
                kind: file_kind(&meta.file_type()),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(
        ".{}.",
        target.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Created with the target's permissions (so a mode-600 file's new contents are never
    // readable by others, even while being written), or as `File::create` would for a new
    // file; the umask applies at creation, so the exact mode is set again below.
    #[cfg(unix)]
    builder.permissions(existing.clone().unwrap_or_else(|| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o666)
    }));
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut out).map_err(io)?;
        out.flush().map_err(io)?;
    }
    if let Some(permissions) = existing {
        tmp.as_file().set_permissions(permissions).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(&target).map_err(|e| io(e.error))?;
    sync_dir(dir).map_err(io)
}

/// `path` with every symlink along the final component followed (a dangling link gives
/// the path it points to, which is then created).
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// A name for what a non-regular file is.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_fifo() {
            return "fifo";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Makes a rename in `dir` durable (Unix; elsewhere the rename is all there is).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The largest header accepted, as the safetensors crate's own limit (100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// A tensor's offsets within the data section and its shape.
/// A checked tensor: its offsets in the data section, its shape and its element type.
type Entry = ((usize, usize), Vec<usize>, Dtype);

/// A safetensors file opened for reading: its header has been read and checked, and only
/// the header is in memory; tensors are read one at a time, by the offsets it names.
///
/// [`TensorFile::open`] reads the 8-byte header length and the header, bounded by the
/// file's length and by safetensors' 100 MB limit, and checks that the data section the
/// header describes ends exactly where the file ends, before any tensor data is read: a
/// valid file followed by padding, or a truncated one, is an error naming byte offsets.
pub struct TensorFile {
    path: PathBuf,
    file: std::fs::File,
    metadata: Metadata,
    /// Where the data section starts: `8 + header length`.
    data_start: u64,
}

impl TensorFile {
    /// Opens `path` and checks its header.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read; [`Error::Format`] if it is not a valid
    /// safetensors file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let format = |reason: String| Error::Format {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut head = [0u8; 8];
        if len < 8 {
            return Err(format(format!(
                "the file is {len} bytes, shorter than the 8-byte header length at its start"
            )));
        }
        file.read_exact(&mut head).map_err(io)?;
        let n = u64::from_le_bytes(head);
        if n > len - 8 {
            return Err(format(format!(
                "the header claims {n} bytes from byte 8, but the file ends at byte {len}"
            )));
        }
        if n > MAX_HEADER {
            return Err(format(format!(
                "the header claims {n} bytes, more than the {MAX_HEADER} that safetensors allows"
            )));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact(&mut header).map_err(io)?;
        let metadata: Metadata = serde_json::from_slice(&header)
            .map_err(|e| format(format!("invalid header (bytes 8 to {}): {e}", 8 + n)))?;
        let data_start = 8 + n;
        let end = data_start + metadata.data_len() as u64;
        if end != len {
            return Err(format(format!(
                "the tensor data starting at byte {data_start} does not end where the file ends (byte {len}): {}",
                if end > len {
                    format!("truncated (the header describes data up to byte {end})")
                } else {
                    format!("{} bytes of padding after byte {end}", len - end)
                }
            )));
        }
        Ok(TensorFile {
            path: path.to_path_buf(),
            file,
            metadata,
            data_start,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of its tensors, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.metadata.offset_keys();
        names.sort();
        names
    }

    /// Its string metadata (safetensors' `__metadata__`; empty if it has none).
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.metadata
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Checks that tensor `name` exists with element type `T` and, if given, `shape`;
    /// returns its offsets and shape.
    fn check<T: Float>(&self, name: &str, shape: Option<&[usize]>, cast: bool) -> Result<Entry> {
        let path = || self.path.clone();
        let Some(info) = self.metadata.info(name) else {
            return Err(Error::Missing {
                path: path(),
                name: name.to_string(),
            });
        };
        let float = matches!(info.dtype, Dtype::F32 | Dtype::F64);
        if info.dtype != dtype_of::<T>() && !(cast && float) {
            return Err(Error::Dtype {
                path: path(),
                name: name.to_string(),
                expected: dtype_of::<T>().to_string(),
                found: info.dtype.to_string(),
            });
        }
        if let Some(shape) = shape
            && shape != info.shape
        {
            return Err(Error::Shape {
                path: path(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: info.shape.clone(),
            });
        }
        Ok((info.data_offsets, info.shape.clone(), info.dtype))
    }

    /// Reads tensor `name`, checking its element type and, if given, its shape.
    ///
    /// # Errors
    /// [`Error::Missing`], [`Error::Dtype`], [`Error::Shape`] naming the tensor;
    /// [`Error::Io`] if it cannot be read.
    pub fn tensor<T: Float>(&mut self, name: &str, shape: Option<&[usize]>) -> Result<Tensor<T>> {
        let entry = self.check::<T>(name, shape, false)?;
        self.read(entry)
    }

    /// Reads the tensor at `offsets` within the data section (already checked to lie
    /// within the file).
    fn read<T: Float>(&mut self, ((begin, end), shape, dtype): Entry) -> Result<Tensor<T>> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let mut data = vec![0u8; end - begin];
        self.file
            .seek(SeekFrom::Start(self.data_start + begin as u64))
            .map_err(io)?;
        self.file.read_exact(&mut data).map_err(io)?;
        Ok(from_bytes(&data, &shape, dtype))
    }

    /// Loads `module`'s parameters and buffers from the tensors named `prefix` + their
    /// dotted name, as [`load`] does for a whole file; with `strict`, every tensor under
    /// `prefix` must belong to the module. Nothing is changed unless every tensor that would
    /// be loaded has the right shape and type and could be read.
    ///
    /// # Errors
    /// As [`load`].
    pub fn load_module<T: Float, M: Module<T> + ?Sized>(
        &mut self,
        module: &M,
        prefix: &str,
        strict: bool,
    ) -> Result<LoadReport> {
        self.load_module_with(module, prefix, &LoadOptions::new().strict(strict))
    }

    /// As [`TensorFile::load_module`], matching names and types as `options` say
    /// ([`LoadOptions`]: renames, casting, strictness); the renames see each name with
    /// `prefix` removed.
    ///
    /// # Errors
    /// As [`load`], and [`Error::RenameCollision`] if two tensors map to one parameter.
    pub fn load_module_with<T: Float, M: Module<T> + ?Sized>(
        &mut self,
        module: &M,
        prefix: &str,
        options: &LoadOptions<'_>,
    ) -> Result<LoadReport> {
        let state = module::state(module);
        let names: BTreeSet<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
        // Parameter name → the file's key for it.
        let mut keys = BTreeMap::new();
        let mut report = LoadReport::default();
        for key in self.names() {
            let Some(rest) = key.strip_prefix(prefix) else {
                continue;
            };
            let name = options.target(rest);
            if !names.contains(name.as_str()) {
                report.unexpected.push(rest.to_string());
            } else if let Some(first) = keys.insert(name.clone(), key.clone()) {
                return Err(Error::RenameCollision {
                    path: self.path.clone(),
                    name,
                    first,
                    second: key,
                });
            }
        }
        let mut found = Vec::new();
        for (name, p) in &state {
            let Some(key) = keys.get(name) else {
                if options.strict {
                    return Err(Error::Missing {
                        path: self.path.clone(),
                        name: name.clone(),
                    });
                }
                report.missing.push(name.clone());
                continue;
            };
            let entry = self
                .check::<T>(key, Some(&p.shape()), options.cast)
                .map_err(|e| match e {
                    // Name the parameter, and the file's tensor when a rename made them differ.
                    Error::Shape {
                        path,
                        expected,
                        found,
                        ..
                    } => Error::Shape {
                        path,
                        name: describe(name, key),
                        expected,
                        found,
                    },
                    Error::Dtype {
                        path,
                        expected,
                        found,
                        ..
                    } => Error::Dtype {
                        path,
                        name: describe(name, key),
                        expected,
                        found,
                    },
                    e => e,
                })?;
            found.push((p, entry));
        }
        if options.strict && !report.unexpected.is_empty() {
            return Err(Error::Unexpected {
                path: self.path.clone(),
                names: report.unexpected,
            });
        }
        let mut updates = Vec::with_capacity(found.len());
        for (p, entry) in found {
            updates.push((p, self.read(entry)?));
        }
        for (p, value) in updates {
            p.set_value(value);
        }
        Ok(report)
    }
}

/// A parameter's name for an error (which prints it in backticks): with the file's name
/// first when a rename made them differ, as `` `1.weight` → `0.weight` ``.
fn describe(name: &str, key: &str) -> String {
    if name == key {
        name.to_string()
    } else {
        format!("{key}` → `{name}")
    }
}

/// Loads `module`'s parameters and buffers from the safetensors file at `path`. With
/// `strict`, the file must hold exactly the module's names; otherwise missing names keep
/// their values and extra tensors are ignored, both listed in the [`LoadReport`]. Nothing is
/// changed unless every tensor that would be loaded has the right shape and type.
///
/// Only the header is read first: it must be at most 100 MB (safetensors' limit) and
/// describe a data section that ends exactly where the file ends, so a valid file followed
/// by padding is an error before any of it is read. Then only the tensors the module
/// needs are read, each at the offsets the header gives.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`] (naming byte offsets for a truncated or padded file),
/// [`Error::Missing`] / [`Error::Unexpected`] (strict only), [`Error::Shape`],
/// [`Error::Dtype`].
pub fn load<T: Float, M: Module<T> + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
    strict: bool,
) -> Result<LoadReport> {
    TensorFile::open(path)?.load_module(module, "", strict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Linear, ModuleExt, Sequential, init};
    use ferrograd_autograd::Graph;

    fn model(seed: u64) -> Sequential<f32> {
        let mut rng = init::rng(seed);
        Sequential::new()
            .add(Linear::new(3, 4, &mut rng))
            .add(Linear::new(4, 2, &mut rng))
    }

    #[test]
    fn load_with_renames_casts_and_reports() {
        let dir = std::env::temp_dir().join(format!("ferrograd-load-with-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        model(0).save(&path).unwrap();
        // A rename function: the file's `0.*` / `1.*` load into a model whose layers are
        // swapped in name only.
        let target = model(1);
        let swap = |n: &str| match n.split_once('.') {
            Some(("0", rest)) => format!("1.{rest}"),
            Some(("1", rest)) => format!("0.{rest}"),
            _ => n.to_string(),
        };
        // Shapes differ after the swap (3→4 vs 4→2): the error names both names.
        let err = target
            .load_with(&path, &LoadOptions::new().rename(swap))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tensor `1.weight` → `0.weight` has shape [2, 4]"),
            "{err}"
        );
        // f32 into f64: refused unless cast.
        let wide = Sequential::<f64>::new()
            .add(Linear::new(3, 4, &mut init::rng(2)))
            .add(Linear::new(4, 2, &mut init::rng(3)));
        let err = wide.load(&path).unwrap_err();
        assert!(matches!(err, Error::Dtype { .. }), "{err}");
        wide.load_with(&path, &LoadOptions::new().cast(true))
            .unwrap();
        let (a, b) = (model(0).parameters(), wide.parameters());
        for (a, b) in a.iter().zip(&b) {
            let (a, b) = (a.value().to_vec(), b.value().to_vec());
            assert!(a.iter().zip(&b).all(|(&x, &y)| f64::from(x) == y));
        }
        // Two file names onto one parameter.
        let err = target
            .load_with(&path, &LoadOptions::new().rename(|_| "0.bias".to_string()))
            .unwrap_err();
        assert!(matches!(err, Error::RenameCollision { .. }), "{err}");
        // Non-strict with a prefix map: what does not map is reported under its file name.
        let half = Sequential::<f32>::new().add(Linear::new(4, 2, &mut init::rng(4)));
        let report = half
            .load_with(
                &path,
                &LoadOptions::new()
                    .strict(false)
                    .rename_prefix("1.", "0.")
                    .rename_prefix("0.", "old."),
            )
            .unwrap();
        assert_eq!(report.missing, Vec::<String>::new());
        assert_eq!(report.unexpected, vec!["0.bias", "0.weight"]);
        assert_eq!(
            half.parameters()[0].value(),
            model(0).parameters()[2].value()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("ferrograd-{}-{name}", std::process::id()))
    }

    #[test]
    fn every_truncation_of_a_valid_file_is_an_error() {
        let path = tmp("trunc.safetensors");
        save(&model(0), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let cut = tmp("cut.safetensors");
        for len in 0..bytes.len() {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            let err = load(&model(1), &cut, true).unwrap_err();
            assert!(matches!(err, Error::Format { .. }), "{len}: {err}");
            assert!(err.to_string().contains("cut.safetensors"), "{err}");
        }
        std::fs::remove_file(&cut).ok();
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn truncation_messages_name_byte_offsets() {
        let path = tmp("msg.safetensors");
        save(&model(0), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..5]).unwrap();
        let e = load(&model(1), &path, true).unwrap_err().to_string();
        assert!(e.ends_with("not a valid safetensors file: the file is 5 bytes, shorter than the 8-byte header length at its start"), "{e}");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = load(&model(1), &path, true).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "does not end where the file ends (byte {})",
                bytes.len() - 3
            )),
            "{e}"
        );
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn mismatches_are_named_and_leave_the_model_unchanged() {
        let path = tmp("mismatch.safetensors");
        save(&model(0), &path).unwrap();
        let mut rng = init::rng(2);
        let wider = Sequential::<f32>::new()
            .add(Linear::new(3, 5, &mut rng))
            .add(Linear::new(5, 2, &mut rng));
        let before = wider.parameters()[0].value();
        let e = load(&wider, &path, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: tensor `0.weight` has shape [4, 3], the parameter has shape [5, 3]",
                path.display()
            )
        );
        assert_eq!(wider.parameters()[0].value(), before);

        let bigger = Sequential::<f32>::new()
            .add(Linear::new(3, 4, &mut rng))
            .add(Linear::new(4, 2, &mut rng))
            .add(Linear::new(2, 2, &mut rng));
        let e = load(&bigger, &path, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: no tensor for parameter `2.weight`", path.display())
        );
        let report = load(&bigger, &path, false).unwrap();
        assert_eq!(report.missing, ["2.weight", "2.bias"]);

        let smaller = Sequential::<f32>::new().add(Linear::new(3, 4, &mut rng));
        let e = load(&smaller, &path, true).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "unexpected tensors [\"1.bias\", \"1.weight\"] (the module has no such parameters)"
            ),
            "{e}"
        );

        let f64_model = Sequential::<f64>::new()
            .add(Linear::new(3, 4, &mut rng))
            .add(Linear::new(4, 2, &mut rng));
        let e = load(&f64_model, &path, true).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("tensor `0.weight` is F32, the module is F64"),
            "{e}"
        );
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let e = load(&model(0), "/nonexistent/w.safetensors", true).unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent/w.safetensors: "),
            "{e}"
        );
    }

    #[test]
    fn save_then_load_gives_identical_outputs() {
        let path = tmp("roundtrip.safetensors");
        let (a, b) = (model(0), model(1));
        a.save(&path).unwrap();
        b.load(&path).unwrap();
        let g = Graph::new();
        let x = g.constant(Tensor::from_vec(vec![0.3, -1.0, 2.0], &[1, 3]));
        assert_eq!(a.forward(x).value(), b.forward(x).value());
        std::fs::remove_file(&path).ok();
    }
}
