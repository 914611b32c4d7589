//! `write_safetensors_atomic`: a successful write replaces the file; a failed one leaves the
//! previous file byte-for-byte intact and no temporary file in the directory.

use bump_unet::checkpoint::read_safetensors;
use bump_unet::{write_safetensors_atomic, Error};
use candle_core::{DType, Device, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FILE: &str = "ckpt.safetensors";

/// An empty directory of its own for each test.
fn fresh_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bump-unet-atomic-{tag}-{}", std::process::id()));
    if d.exists() {
        std::fs::remove_dir_all(&d).unwrap();
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The names in `dir`, sorted (temporary files included: they start with a dot).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn tensors(n: usize, value: f32) -> Vec<(String, Tensor)> {
    let t = Tensor::full(value, n, &Device::Cpu).unwrap();
    vec![("w".to_string(), t)]
}

fn metadata(tag: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("tag".to_string(), tag.to_string())])
}

/// Writes the "previous" file: 4 × 1.0 tagged `old`; returns its path and bytes.
fn write_old(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join(FILE);
    write_safetensors_atomic(&path, &tensors(4, 1.0), &metadata("old")).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn successful_write_replaces_the_file() {
    let dir = fresh_dir("ok");
    let (path, _) = write_old(&dir);
    write_safetensors_atomic(&path, &tensors(8, 2.0), &metadata("new")).unwrap();
    let (t, md) = read_safetensors(&path, &Device::Cpu).unwrap();
    assert_eq!(t["w"].to_vec1::<f32>().unwrap(), vec![2.0; 8]);
    assert_eq!(md["tag"], "new");
    assert_eq!(entries(&dir), [FILE]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serialisation_error_keeps_the_previous_file() {
    let dir = fresh_dir("ser");
    let (path, old) = write_old(&dir);
    let mut dup = tensors(8, 2.0);
    dup.extend(tensors(2, 3.0));
    let r = write_safetensors_atomic(&path, &dup, &metadata("new"));
    assert!(
        matches!(r, Err(Error::DuplicateTensor { ref name }) if name == "w"),
        "{r:?}"
    );
    let bf16 = vec![(
        "w".to_string(),
        Tensor::ones(8, DType::BF16, &Device::Cpu).unwrap(),
    )];
    let r = write_safetensors_atomic(&path, &bf16, &metadata("new"));
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert_eq!(std::fs::read(&path).unwrap(), old);
    assert_eq!(entries(&dir), [FILE]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_directory_is_an_io_error_and_creates_nothing() {
    let dir = fresh_dir("missing");
    let path = dir.join("no-such-dir").join(FILE);
    let r = write_safetensors_atomic(&path, &tensors(4, 1.0), &metadata("new"));
    assert!(
        matches!(r, Err(Error::Io { path: ref p, .. }) if *p == path),
        "{r:?}"
    );
    assert!(entries(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn directory_at_the_path_is_refused_without_leftovers() {
    let dir = fresh_dir("isdir");
    let path = dir.join(FILE);
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("inside"), b"keep").unwrap();
    let r = write_safetensors_atomic(&path, &tensors(4, 1.0), &metadata("new"));
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    assert_eq!(entries(&dir), [FILE]);
    assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"keep");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without write permission on the directory no temporary file can be created. Root ignores
/// permissions, so there the check is skipped (the RLIMIT_FSIZE test below covers failures
/// after the temporary file exists, for every user).
#[cfg(unix)]
#[test]
fn read_only_directory_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir("ro");
    let (path, old) = write_old(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join("probe");
    let enforced = std::fs::File::create(&probe).is_err();
    if enforced {
        let r = write_safetensors_atomic(&path, &tensors(8, 2.0), &metadata("new"));
        assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    } else {
        std::fs::remove_file(&probe).unwrap();
        eprintln!("directory permissions are not enforced for this user (root?); skipped");
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), old);
    assert_eq!(entries(&dir), [FILE]);
    std::fs::remove_dir_all(&dir).unwrap();
}

const CHILD_ENV: &str = "BUMP_UNET_ATOMIC_FSIZE_CHILD";
const CHILD_TEST: &str = "write_failing_after_the_temporary_file_exists_removes_it";

/// A write that fails half-way through the temporary file (the file-size limit, which binds
/// root too) leaves the previous file and no temporary file. The limit is process-wide, so the
/// write runs in a child process: this test binary, running only this test.
#[cfg(unix)]
#[test]
fn write_failing_after_the_temporary_file_exists_removes_it() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        return fsize_child(Path::new(&dir));
    }
    let dir = fresh_dir("fsize");
    let (path, old) = write_old(&dir);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert_eq!(std::fs::read(&path).unwrap(), old);
    assert_eq!(entries(&dir), [FILE]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
fn fsize_child(dir: &Path) {
    let path = dir.join(FILE);
    let old = std::fs::read(&path).unwrap();
    assert!(old.len() < 8192);
    // SAFETY: plain libc calls on this (single-test) process: ignore SIGXFSZ so that writes past
    // the limit fail with EFBIG instead of killing the process, then cap file sizes at 8 KiB.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = 8192;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    // 256 KiB of data: the temporary file is created and partly written, then the write fails.
    let r = write_safetensors_atomic(&path, &tensors(1 << 16, 2.0), &metadata("new"));
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    assert_eq!(std::fs::read(&path).unwrap(), old);
    assert_eq!(entries(dir), [FILE]);
}
