//! Checkpoints: safetensors files holding the model's parameters under their own names, any
//! extra tensors (EMA weights, optimiser moments) under theirs, and a `__metadata__` map with
//! the config as JSON, the schema version, the training step and the seed.
//!
//! Writes are atomic, through the `atomic-write-file` crate: a temporary file in the same
//! directory, fsync, rename over the target, fsync of the directory; the temporary file is
//! removed when the write fails. Loading
//! distinguishes a truncated file, a corrupt header, a missing tensor, a shape mismatch and a
//! newer schema, each with its own [`Error`] variant. Format details: docs/unet.md.
//!
//! Integrity: every file written here carries, under the metadata key [`CHECKSUM_KEY`], an
//! XXH3-64 digest ([`CHECKSUM_ALGORITHM`]) of its content: every other metadata entry and every
//! tensor's name, dtype, shape and bytes, in name order ([`payload_digest`]). Every read
//! verifies it; a mismatch is [`Error::ChecksumMismatch`], naming the file and both digests.
//! A file without the key (written before checksums, or by another tool) still reads, as
//! [`Integrity::Unchecked`]; [`load_checkpoint`] warns about it on stderr.

use crate::{Error, Result, UNet, UNetConfig};
use atomic_write_file::AtomicWriteFile;
use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype as StDtype, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// The checkpoint schema this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Value of the `format` metadata key.
pub const FORMAT_NAME: &str = "bump-unet-checkpoint";

/// Metadata keys this module owns.
const KEY_FORMAT: &str = "format";
const KEY_SCHEMA: &str = "schema_version";
const KEY_CONFIG: &str = "config";
const KEY_STEP: &str = "step";
const KEY_SEED: &str = "seed";
const KEY_EXTRA: &str = "extra";

/// Metadata key of the integrity checksum (see [`payload_digest`]).
pub const CHECKSUM_KEY: &str = "checksum";

/// The algorithm prefix of every checksum value, e.g. `xxh3-64:0123456789abcdef`.
pub const CHECKSUM_ALGORITHM: &str = "xxh3-64";

/// Whether a file's content was verified against its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// The stored checksum matched the content; the value is that checksum.
    Verified(String),
    /// The file has no checksum (written before checksums existed, or by another tool): its
    /// content could not be verified.
    Unchecked,
}

/// `xxh3-64:<16 hex digits>` of `bytes`: the workspace's one checksum (checkpoints through
/// [`payload_digest`], the facade's JSON snapshots over their body).
pub fn digest_bytes(bytes: &[u8]) -> String {
    format_digest(xxhash_rust::xxh3::xxh3_64(bytes))
}

fn format_digest(d: u64) -> String {
    format!("{CHECKSUM_ALGORITHM}:{d:016x}")
}

/// The checksum of a safetensors file's content: XXH3-64 over, in this order, a domain tag,
/// every metadata entry except [`CHECKSUM_KEY`] (sorted by key), and every tensor sorted by
/// name (name, dtype, shape, little-endian bytes), each field length-prefixed. It covers all
/// the file means, not its byte layout, so it is independent of how safetensors orders and pads
/// the data.
pub fn payload_digest<'a>(
    metadata: &BTreeMap<String, String>,
    tensors: impl IntoIterator<Item = (&'a str, StDtype, &'a [usize], &'a [u8])>,
) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut field = |b: &[u8]| {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(b"bump-unet payload digest v1");
    for (k, v) in metadata.iter().filter(|(k, _)| k.as_str() != CHECKSUM_KEY) {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    let mut sorted: Vec<_> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (name, dtype, shape, bytes) in sorted {
        field(name.as_bytes());
        field(format!("{dtype:?}").as_bytes());
        let dims: Vec<u8> = shape
            .iter()
            .flat_map(|&d| (d as u64).to_le_bytes())
            .collect();
        field(&dims);
        field(bytes);
    }
    format_digest(h.digest())
}

/// Largest header we accept, as safetensors does.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointMeta {
    /// Training step the weights belong to.
    pub step: u64,
    /// Run seed (the model's weight seed when the model was created from it).
    pub seed: u64,
    /// Free-form strings for the caller (stored as one JSON object).
    pub extra: BTreeMap<String, String>,
}

/// A tensor's bytes in little-endian order, ready for safetensors.
struct RawTensor {
    dtype: StDtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &RawTensor {
    fn dtype(&self) -> StDtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_raw(name: &str, t: &Tensor) -> Result<RawTensor> {
    let flat = t.flatten_all()?.to_device(&Device::Cpu)?;
    fn le<T: Copy, const N: usize>(v: Vec<T>, f: fn(T) -> [u8; N]) -> Vec<u8> {
        v.into_iter().flat_map(f).collect()
    }
    let (dtype, bytes) = match t.dtype() {
        DType::F32 => (StDtype::F32, le(flat.to_vec1::<f32>()?, f32::to_le_bytes)),
        DType::F64 => (StDtype::F64, le(flat.to_vec1::<f64>()?, f64::to_le_bytes)),
        DType::U32 => (StDtype::U32, le(flat.to_vec1::<u32>()?, u32::to_le_bytes)),
        DType::I64 => (StDtype::I64, le(flat.to_vec1::<i64>()?, i64::to_le_bytes)),
        DType::U8 => (StDtype::U8, flat.to_vec1::<u8>()?),
        other => {
            return Err(Error::InvalidArgument(format!(
                "tensor `{name}` has dtype {other:?}; checkpoints store f32, f64, u32, i64 or u8"
            )))
        }
    };
    Ok(RawTensor {
        dtype,
        shape: t.dims().to_vec(),
        bytes,
    })
}

fn from_raw(
    name: &str,
    dtype: StDtype,
    shape: &[usize],
    bytes: &[u8],
    dev: &Device,
) -> Result<Tensor> {
    fn chunks<T, const N: usize>(b: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    let t = match dtype {
        StDtype::F32 => Tensor::from_vec(chunks(bytes, f32::from_le_bytes), shape, dev)?,
        StDtype::F64 => Tensor::from_vec(chunks(bytes, f64::from_le_bytes), shape, dev)?,
        StDtype::U32 => Tensor::from_vec(chunks(bytes, u32::from_le_bytes), shape, dev)?,
        StDtype::I64 => Tensor::from_vec(chunks(bytes, i64::from_le_bytes), shape, dev)?,
        StDtype::U8 => Tensor::from_vec(bytes.to_vec(), shape, dev)?,
        other => {
            return Err(Error::InvalidArgument(format!(
                "tensor `{name}` has unsupported dtype {other:?}"
            )))
        }
    };
    Ok(t)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `tensors` and `metadata` as a safetensors file, atomically: the bytes go to a
/// temporary file next to `path`, which is fsynced and renamed over `path`, and the directory is
/// fsynced, so a crash leaves either the old file or the complete new one. When the write
/// fails, `path` is untouched and the temporary file is removed.
///
/// Tensor names must be unique ([`Error::DuplicateTensor`]); dtypes f32, f64, u32, i64 and u8
/// are supported. File-system failures (including a `path` that is a directory or lies in a
/// missing one) are [`Error::Io`].
///
/// The file gets a checksum under [`CHECKSUM_KEY`] (any value the caller put there is replaced).
pub fn write_safetensors_atomic(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes = safetensors_bytes(tensors, metadata)?;
    write_file_atomic(path, &bytes).map_err(io_err(path))
}

/// The bytes [`write_safetensors_atomic`] writes: `tensors` and `metadata` as safetensors, with
/// the checksum ([`payload_digest`]) added under [`CHECKSUM_KEY`]. For callers that write
/// through their own writer.
pub fn safetensors_bytes(
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut raw: BTreeMap<&str, RawTensor> = BTreeMap::new();
    for (name, t) in tensors {
        if raw.insert(name.as_str(), to_raw(name, t)?).is_some() {
            return Err(Error::DuplicateTensor { name: name.clone() });
        }
    }
    let digest = payload_digest(
        metadata,
        raw.iter()
            .map(|(k, v)| (*k, v.dtype, v.shape.as_slice(), v.bytes.as_slice())),
    );
    let mut meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    meta.insert(CHECKSUM_KEY.to_string(), digest);
    safetensors::serialize(raw.iter().map(|(k, v)| (*k, v)), Some(meta))
        .map_err(|e| Error::InvalidArgument(format!("cannot serialise tensors: {e}")))
}

/// Writes `bytes` to `path` atomically, with the `atomic-write-file` crate: a temporary file in
/// the same directory, fsync, rename over `path`, fsync of the directory. A crash leaves either
/// the old file or the complete new one; a failed write leaves `path` untouched and removes the
/// temporary file. The parent directory must exist.
///
/// This is the workspace's one atomic writer: checkpoints use it, and so does the `bump-ddpm`
/// facade for every file of a run directory.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_file_atomic`] with the content written by `fill` into the temporary file (e.g.
/// through a wrapper that counts or, in tests, fails). When `fill` fails the temporary file is
/// removed and `path` is untouched.
pub fn write_file_atomic_with<F>(path: &Path, fill: F) -> std::io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    // `AtomicWriteFile::commit` (0.3) marks itself finished before it fsyncs and renames, so a
    // failure inside it leaves its temporary file behind. The likely ones are taken out of it: a
    // directory at `path` (the rename would fail) is refused before any temporary file exists,
    // and the file is fsynced here, where a failure drops the file, which removes it.
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "the path is a directory",
        ));
    }
    let mut file = AtomicWriteFile::open(path)?;
    fill(&mut file)?;
    file.sync_all()?;
    file.commit()
}

/// Reads every tensor and the metadata of a safetensors file onto `device`, verifying its
/// checksum when it has one (see [`read_safetensors_checked`]).
///
/// Errors: [`Error::Io`], [`Error::TruncatedFile`] when the file ends before the header or
/// the data it announces, [`Error::CorruptHeader`] when the header is not valid safetensors,
/// [`Error::ChecksumMismatch`] when the content does not match its checksum.
pub fn read_safetensors(
    path: &Path,
    device: &Device,
) -> Result<(BTreeMap<String, Tensor>, BTreeMap<String, String>)> {
    let (tensors, metadata, _) = read_safetensors_checked(path, device)?;
    Ok((tensors, metadata))
}

/// What [`read_safetensors_checked`] returns: the tensors, the metadata, and whether the
/// content was verified.
pub type CheckedSafetensors = (
    BTreeMap<String, Tensor>,
    BTreeMap<String, String>,
    Integrity,
);

/// [`read_safetensors`], also saying whether the content was verified ([`Integrity`]).
pub fn read_safetensors_checked(path: &Path, device: &Device) -> Result<CheckedSafetensors> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let parsed = parse_safetensors(path, &bytes)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in parsed.st.tensors() {
        let t = from_raw(&name, view.dtype(), view.shape(), view.data(), device)?;
        tensors.insert(name, t);
    }
    Ok((tensors, parsed.metadata, parsed.integrity))
}

/// Checks a safetensors file without building tensors: it reads, its header is valid, and its
/// checksum (when it has one) matches. The cheap test of which checkpoint is intact.
pub fn verify_file(path: &Path) -> Result<Integrity> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(parse_safetensors(path, &bytes)?.integrity)
}

/// A validated, checksum-verified view of a safetensors file's bytes.
struct Parsed<'a> {
    st: safetensors::SafeTensors<'a>,
    metadata: BTreeMap<String, String>,
    integrity: Integrity,
}

/// Bounds checks, safetensors validation and checksum verification of a file's bytes. `path`
/// only names the file in errors.
fn parse_safetensors<'a>(path: &Path, bytes: &'a [u8]) -> Result<Parsed<'a>> {
    let truncated = |detail: String| Error::TruncatedFile {
        path: path.to_path_buf(),
        detail,
    };
    let corrupt = |detail: String| Error::CorruptHeader {
        path: path.to_path_buf(),
        detail,
    };
    let len = bytes.len() as u64;
    let Some(prefix) = bytes.get(..8) else {
        return Err(truncated(format!(
            "{len} bytes, shorter than the 8-byte header length"
        )));
    };
    let mut n = [0u8; 8];
    n.copy_from_slice(prefix);
    let header_len = u64::from_le_bytes(n);
    if header_len > MAX_HEADER_BYTES {
        return Err(corrupt(format!(
            "header length {header_len} is implausible"
        )));
    }
    if 8 + header_len > len {
        return Err(truncated(format!(
            "header announces {header_len} bytes, only {} present",
            len - 8
        )));
    }
    // Find the end of the data the header announces before safetensors' own validation, so
    // that a short file is reported as truncated rather than as inconsistent metadata.
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..(8 + header_len) as usize])
            .map_err(|e| corrupt(format!("header is not a JSON object: {e}")))?;
    let data_end = header
        .iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .filter_map(|(_, v)| v.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0);
    let data_len = len - 8 - header_len;
    if data_end > data_len {
        return Err(truncated(format!(
            "tensor data ends at byte {data_end}, only {data_len} present"
        )));
    }
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| corrupt(format!("invalid safetensors header: {e}")))?;
    let (_, info) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| corrupt(format!("invalid safetensors header: {e}")))?;
    let metadata: BTreeMap<String, String> = info
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let integrity = match metadata.get(CHECKSUM_KEY) {
        None if metadata.values().any(|v| v.starts_with(CHECKSUM_ALGORITHM)) => {
            return Err(corrupt(format!(
                "a checksum value is stored under another key than `{CHECKSUM_KEY}`: the key is \
                 damaged"
            )));
        }
        None => Integrity::Unchecked,
        Some(expected) => {
            let views = st.tensors();
            let found = payload_digest(
                &metadata,
                views
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())),
            );
            if &found != expected {
                return Err(Error::ChecksumMismatch {
                    path: path.to_path_buf(),
                    expected: expected.clone(),
                    found,
                });
            }
            Integrity::Verified(found)
        }
    };
    Ok(Parsed {
        st,
        metadata,
        integrity,
    })
}

/// Saves the model's parameters, `extra_tensors` (e.g. `ema.<name>`, `adam.m.<name>`) and
/// `meta` to `path`, atomically, with a checksum.
///
/// Extra tensor names must not collide with parameter names ([`Error::DuplicateTensor`]).
pub fn save_checkpoint(
    path: &Path,
    unet: &UNet,
    meta: &CheckpointMeta,
    extra_tensors: &[(String, Tensor)],
) -> Result<()> {
    let bytes = checkpoint_bytes(unet, meta, extra_tensors)?;
    write_file_atomic(path, &bytes).map_err(io_err(path))
}

/// The bytes [`save_checkpoint`] writes (checksum included), for callers with their own
/// writer.
pub fn checkpoint_bytes(
    unet: &UNet,
    meta: &CheckpointMeta,
    extra_tensors: &[(String, Tensor)],
) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, Tensor)> = unet
        .vars()
        .into_iter()
        .map(|(k, v)| (k, v.as_tensor().clone()))
        .collect();
    tensors.extend(extra_tensors.iter().cloned());
    let config = serde_json::to_string(unet.config())
        .map_err(|e| Error::InvalidArgument(format!("cannot serialise the config: {e}")))?;
    let extra = serde_json::to_string(&meta.extra)
        .map_err(|e| Error::InvalidArgument(format!("cannot serialise metadata: {e}")))?;
    let metadata = BTreeMap::from([
        (KEY_FORMAT.to_string(), FORMAT_NAME.to_string()),
        (KEY_SCHEMA.to_string(), SCHEMA_VERSION.to_string()),
        (KEY_CONFIG.to_string(), config),
        (KEY_STEP.to_string(), meta.step.to_string()),
        (KEY_SEED.to_string(), meta.seed.to_string()),
        (KEY_EXTRA.to_string(), extra),
    ]);
    safetensors_bytes(&tensors, &metadata)
}

/// Parses our metadata keys: schema first (a newer schema may use other keys), then config.
fn parse_meta(path: &Path, md: &BTreeMap<String, String>) -> Result<(UNetConfig, CheckpointMeta)> {
    let corrupt = |detail: String| Error::CorruptHeader {
        path: path.to_path_buf(),
        detail,
    };
    let get = |k: &str| {
        md.get(k)
            .ok_or_else(|| corrupt(format!("metadata key `{k}` is missing")))
    };
    let schema: u32 = get(KEY_SCHEMA)?
        .parse()
        .map_err(|e| corrupt(format!("schema_version: {e}")))?;
    if schema > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    if get(KEY_FORMAT)? != FORMAT_NAME {
        return Err(corrupt(format!("format is not `{FORMAT_NAME}`")));
    }
    let config: UNetConfig =
        serde_json::from_str(get(KEY_CONFIG)?).map_err(|e| corrupt(format!("config JSON: {e}")))?;
    let step = get(KEY_STEP)?
        .parse()
        .map_err(|e| corrupt(format!("step: {e}")))?;
    let seed = get(KEY_SEED)?
        .parse()
        .map_err(|e| corrupt(format!("seed: {e}")))?;
    let extra =
        serde_json::from_str(get(KEY_EXTRA)?).map_err(|e| corrupt(format!("extra: {e}")))?;
    Ok((config, CheckpointMeta { step, seed, extra }))
}

/// Loads a checkpoint: verifies its checksum, rebuilds the model from the stored config
/// (validated), checks every parameter's presence and shape, and returns the model, the
/// metadata and the extra tensors. A checkpoint without a checksum (written before checksums)
/// loads with a warning on stderr; [`load_checkpoint_checked`] returns that as a value instead.
pub fn load_checkpoint(
    path: &Path,
    device: &Device,
) -> Result<(UNet, CheckpointMeta, HashMap<String, Tensor>)> {
    let (unet, meta, extras, integrity) = load_checkpoint_checked(path, device)?;
    if integrity == Integrity::Unchecked {
        eprintln!("{}", unchecked_warning(path));
    }
    Ok((unet, meta, extras))
}

/// The warning for a checkpoint or snapshot without a checksum.
pub fn unchecked_warning(path: &Path) -> String {
    format!(
        "warning: {} has no checksum (written before checksums); its content cannot be verified",
        path.display()
    )
}

/// [`load_checkpoint`] without the warning: also returns whether the content was verified.
pub fn load_checkpoint_checked(
    path: &Path,
    device: &Device,
) -> Result<(UNet, CheckpointMeta, HashMap<String, Tensor>, Integrity)> {
    let (mut tensors, md, integrity) = read_safetensors_checked(path, device)?;
    let (config, meta) = parse_meta(path, &md)?;
    check_plausible_size(path, &config, &tensors)?;
    let unet = UNet::new(&config, meta.seed, device)?;
    let mut weights = HashMap::new();
    for (name, _) in unet.vars() {
        let t = tensors
            .remove(&name)
            .ok_or_else(|| Error::MissingTensor { name: name.clone() })?;
        weights.insert(name, t);
    }
    unet.load_weights(&weights)?;
    Ok((unet, meta, tensors.into_iter().collect(), integrity))
}

/// Refuses a stored config whose model is far larger than the tensors in the file, before
/// building it: a damaged config (in a file without checksum) must not allocate gigabytes.
/// The bound is loose: each level holds at least one widest × widest 3×3 convolution, which
/// may not exceed 64 × the values stored plus 1 Mi.
fn check_plausible_size(
    path: &Path,
    config: &UNetConfig,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    let stored: u64 = tensors.values().map(|t| t.elem_count() as u64).sum();
    let widest = config
        .channel_mults
        .iter()
        .map(|&m| (config.base_channels as u64).saturating_mul(m as u64))
        .max()
        .unwrap_or(0)
        .max(config.base_channels as u64);
    let at_least = widest.saturating_mul(widest).saturating_mul(9);
    if at_least > stored.saturating_mul(64).saturating_add(1 << 20) {
        return Err(Error::CorruptHeader {
            path: path.to_path_buf(),
            detail: format!(
                "config asks for {widest}-channel layers (at least {at_least} parameters) but \
                 the file holds {stored} values"
            ),
        });
    }
    Ok(())
}
