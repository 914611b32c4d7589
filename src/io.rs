//! Small file helpers.

use crate::error::io_err;
use crate::Result;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically through the workspace's one atomic writer,
/// [`bump_unet::write_file_atomic`] (the `atomic-write-file` crate: a temporary file in the same
/// directory, fsync, rename over `path`, fsync of the directory). A crash leaves either the old
/// file or the new one, never a torn one; a failed write removes its temporary file. Missing
/// parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    bump_unet::write_file_atomic(path, bytes).map_err(io_err(path))
}

/// Appends one line to `path` and flushes it to disk.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    writeln!(f, "{line}").map_err(io_err(path))?;
    f.sync_data().map_err(io_err(path))?;
    Ok(())
}
