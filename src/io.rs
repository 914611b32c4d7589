//! Small file helpers, and the injected write failure ([`WriteFault`]) that tests use to stand
//! in for a full or read-only disk.

use crate::error::io_err;
use crate::Result;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Writes `bytes` to `path` atomically through the workspace's one atomic writer,
/// [`bump_unet::write_file_atomic`] (the `atomic-write-file` crate: a temporary file in the same
/// directory, fsync, rename over `path`, fsync of the directory). A crash leaves either the old
/// file or the new one, never a torn one; a failed write removes its temporary file. Missing
/// parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_faulty(path, bytes, None)
}

/// Creates `path` through a writer that takes a path (e.g. plotters' PNG backend): `write`
/// writes `.<stem>.partial.<extension>` beside it, which is then renamed over `path`, so a reader never
/// sees a half-drawn file. Missing parent directories are created.
pub fn write_via_temp(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    // The temporary keeps the extension: writers such as plotters pick the format from it.
    let part = |p: Option<&std::ffi::OsStr>| p.map(|n| n.to_string_lossy().into_owned());
    let stem = part(path.file_stem()).unwrap_or_else(|| "file".into());
    let tmp = match part(path.extension()) {
        Some(ext) => path.with_file_name(format!(".{stem}.partial.{ext}")),
        None => path.with_file_name(format!(".{stem}.partial")),
    };
    write(&tmp)?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// [`write_atomic`], failing as `fault` says when it applies to `path`.
pub fn write_atomic_faulty(path: &Path, bytes: &[u8], fault: Option<&WriteFault>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let fault = fault.and_then(|f| f.fires(path));
    bump_unet::write_file_atomic_with(path, |w| match &fault {
        Some(f) => FailingWriter::new(w, f).write_all(bytes),
        None => w.write_all(bytes),
    })
    .map_err(io_err(path))
}

/// Appends one line to `path` and flushes it to disk.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    append_line_faulty(path, line, None)
}

/// [`append_line`], failing as `fault` says when it applies to `path`. A failed append is rolled
/// back: the file is truncated to its length before the append, so no torn line is left (when
/// even the truncation fails, readers skip a torn last line: [`crate::run_dir::read_records`]).
pub fn append_line_faulty(path: &Path, line: &str, fault: Option<&WriteFault>) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    let before = f.metadata().map_err(io_err(path))?.len();
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    let written = match fault.and_then(|x| x.fires(path)) {
        Some(fault) => FailingWriter::new(&mut f, &fault).write_all(text.as_bytes()),
        None => f.write_all(text.as_bytes()),
    }
    .and_then(|()| f.sync_data());
    if let Err(e) = written {
        let _ = f.set_len(before).and_then(|()| f.sync_data());
        return Err(io_err(path)(e));
    }
    Ok(())
}

/// A write failure to inject into a run directory's writes (through
/// [`crate::train::RunOptions::write_fault`] or [`crate::run_dir::RunDir::with_write_fault`]):
/// the `skip + 1`-th write to a file named `file` stops with an error of kind `kind` after
/// `after_bytes` bytes have reached the file, as a full disk (`StorageFull`) or a revoked
/// permission (`PermissionDenied`) would. Needs no root and no special mount.
#[derive(Debug, Clone)]
pub struct WriteFault {
    /// The file name (last path component) the fault applies to, e.g.
    /// `step_00000008.safetensors`, `step_00000008.json` or `metrics.jsonl`.
    pub file: String,
    /// Writes to that file that succeed before the failing one.
    pub skip: usize,
    /// Bytes of the failing write that reach the file before the error.
    pub after_bytes: usize,
    /// The error's kind.
    pub kind: std::io::ErrorKind,
    seen: Arc<AtomicUsize>,
}

impl WriteFault {
    /// Fails the first write to `file` after `after_bytes` bytes with "no space left on device".
    pub fn disk_full(file: impl Into<String>, after_bytes: usize) -> Self {
        Self {
            file: file.into(),
            skip: 0,
            after_bytes,
            kind: std::io::ErrorKind::StorageFull,
            seen: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The same fault with another error kind.
    pub fn with_kind(mut self, kind: std::io::ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same fault, failing the `skip + 1`-th write to the file instead of the first.
    pub fn after_writes(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// Whether this write to `path` is the one to fail (counts matching writes).
    fn fires(&self, path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        if name != self.file {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        (n == self.skip).then(|| self.clone())
    }
}

impl PartialEq for WriteFault {
    /// Compares the description, not how many writes have been seen.
    fn eq(&self, other: &Self) -> bool {
        (&self.file, self.skip, self.after_bytes, self.kind)
            == (&other.file, other.skip, other.after_bytes, other.kind)
    }
}

impl Eq for WriteFault {}

/// A writer that lets `after_bytes` bytes through, then fails every write.
struct FailingWriter<'a, W: Write + ?Sized> {
    inner: &'a mut W,
    left: usize,
    kind: std::io::ErrorKind,
}

impl<'a, W: Write + ?Sized> FailingWriter<'a, W> {
    fn new(inner: &'a mut W, fault: &WriteFault) -> Self {
        Self {
            inner,
            left: fault.after_bytes,
            kind: fault.kind,
        }
    }
}

impl<W: Write + ?Sized> Write for FailingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::from(self.kind));
        }
        let n = self.inner.write(&buf[..buf.len().min(self.left)])?;
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
