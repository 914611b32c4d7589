//! Integrity checksums and failing disks on real micro runs (docs/reliability.md):
//! - a checkpoint or snapshot with two bytes flipped is refused with the file and both digests;
//! - `--resume` on a corrupt newest checkpoint refuses, names the newest intact one and how to
//!   resume from it, and following that advice ends bit-identical to an uninterrupted run;
//! - checkpoints and snapshots without a checksum (older files) still load, unchecked;
//! - a write that fails midway (injected failing writer) in a checkpoint, a snapshot or a
//!   record stops the run with an error naming the file, leaves every earlier output intact,
//!   and the run resumes to the same final weights.

mod common;

use bump_ddpm::io::WriteFault;
use bump_ddpm::run_dir::RunDir;
use bump_ddpm::train::{read_records, run};
use bump_ddpm::unet::checkpoint::{load_checkpoint_checked, verify_file, Integrity, CHECKSUM_KEY};
use bump_ddpm::Error;
use common::{micro_config, quiet, temp_files, tensor_bits, tmp_dir};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The uninterrupted micro run (12 steps, checkpoints 0, 4, 8, 12), shared by the tests.
fn straight() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = tmp_dir("straight");
        run(&micro_config(), &quiet(&out)).expect("uninterrupted run");
        out
    })
}

fn final_bits(dir: &Path) -> BTreeMap<String, Vec<u32>> {
    tensor_bits(&dir.join("checkpoints/step_00000012.safetensors"))
}

fn steps(dir: &Path) -> Vec<u64> {
    read_records(&dir.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect()
}

/// A run stopped after `stop` steps in a fresh directory.
fn partial(name: &str, stop: u64) -> PathBuf {
    let out = tmp_dir(name);
    let mut o = quiet(&out);
    o.stop_after = Some(stop);
    run(&micro_config(), &o).expect("partial run");
    out
}

fn resume(out: &Path) -> bump_ddpm::Result<bump_ddpm::train::RunOutcome> {
    let mut o = quiet(out);
    o.resume = true;
    run(&micro_config(), &o)
}

/// Flips two bytes in the middle of the file (inside the tensor data of a checkpoint).
fn flip_middle(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x5a;
    b[mid + 1] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn stored_checksum(path: &Path) -> String {
    let (_, md) =
        bump_ddpm::unet::checkpoint::read_safetensors(path, &candle_core::Device::Cpu).unwrap();
    md[CHECKSUM_KEY].clone()
}

#[test]
fn flipped_checkpoint_bytes_are_a_checksum_error_naming_file_and_digests() {
    let out = partial("flip", 4);
    let path = out.join("checkpoints/step_00000004.safetensors");
    let expected = stored_checksum(&path);
    assert!(
        expected.starts_with("xxh3-64:") && expected.len() == 8 + 16,
        "{expected}"
    );
    assert!(matches!(verify_file(&path), Ok(Integrity::Verified(ref d)) if *d == expected));
    flip_middle(&path);
    let err = load_checkpoint_checked(&path, &candle_core::Device::Cpu).unwrap_err();
    match &err {
        bump_ddpm::unet::Error::ChecksumMismatch {
            path: p,
            expected: e,
            found,
        } => {
            assert_eq!(p, &path);
            assert_eq!(e, &expected);
            assert_ne!(found, &expected);
            assert!(found.starts_with("xxh3-64:"));
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("step_00000004.safetensors") && msg.contains(&expected),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "one line: {msg}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn resume_on_corrupt_newest_checkpoint_refuses_and_names_the_newest_intact_one() {
    let out = partial("resume-corrupt", 8);
    let ckpts = out.join("checkpoints");
    let newest = ckpts.join("step_00000008.safetensors");
    flip_middle(&newest);
    let before: Vec<(PathBuf, Vec<u8>)> = ["metrics.jsonl", "config.json"]
        .iter()
        .map(|f| (out.join(f), std::fs::read(out.join(f)).unwrap()))
        .collect();

    let err = match resume(&out) {
        Err(e) => e,
        Ok(_) => panic!("a corrupt newest checkpoint must be refused"),
    };
    match &err {
        Error::CorruptCheckpoint {
            path,
            intact,
            newer_corrupt,
            reason,
        } => {
            assert_eq!(path, &newest);
            assert_eq!(intact, &Some((4, ckpts.join("step_00000004.safetensors"))));
            assert!(newer_corrupt.is_empty());
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        other => panic!("expected CorruptCheckpoint, got {other:?}"),
    }
    let msg = err.to_string();
    assert_eq!(msg.lines().count(), 1, "one line: {msg}");
    for needle in [
        "step_00000008",
        "step 4",
        "step_00000004",
        "mv ",
        ".corrupt",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing: {msg}");
    }
    for (p, b) in &before {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            b,
            "{} was modified",
            p.display()
        );
    }

    // Following the advice resumes from step 4 and ends as the uninterrupted run does.
    std::fs::rename(&newest, ckpts.join("step_00000008.safetensors.corrupt")).unwrap();
    resume(&out).expect("resume from the intact checkpoint");
    assert_eq!(final_bits(&out), final_bits(straight()));
    assert_eq!(steps(&out), [0, 4, 8, 12]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn two_corrupt_checkpoints_are_both_named_and_none_intact_says_start_afresh() {
    let out = partial("two-corrupt", 8);
    let ckpts = out.join("checkpoints");
    flip_middle(&ckpts.join("step_00000008.safetensors"));
    // Truncated, as a disk that lost the tail would leave it.
    let p4 = ckpts.join("step_00000004.safetensors");
    let b = std::fs::read(&p4).unwrap();
    std::fs::write(&p4, &b[..b.len() - 100]).unwrap();
    let msg = resume(&out).expect_err("refused").to_string();
    assert!(
        msg.contains("step 0") && msg.contains("step_00000004.safetensors.corrupt"),
        "{msg}"
    );
    flip_middle(&ckpts.join("step_00000000.safetensors"));
    let err = resume(&out).expect_err("refused");
    assert!(
        matches!(err, Error::CorruptCheckpoint { intact: None, ref newer_corrupt, .. } if newer_corrupt.len() == 2),
        "{err:?}"
    );
    assert!(err.to_string().contains("afresh"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Replaces the `"checksum":"xxh3-64:…",` member of a checkpoint's JSON header by spaces (same
/// length, still valid JSON): the file a build before checksums would have written.
fn strip_checksum(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let member = format!("\"{CHECKSUM_KEY}\":\"");
    let start = b
        .windows(member.len())
        .position(|w| w == member.as_bytes())
        .expect("checksum member");
    let mut end = start + member.len();
    while b[end] != b'"' {
        end += 1;
    }
    end += 1;
    if b[end] == b',' {
        end += 1;
    } else if b[start - 1] == b',' {
        // last member: remove the comma before it instead
        b[start - 1] = b' ';
    }
    for x in &mut b[start..end] {
        *x = b' ';
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn checkpoints_and_snapshots_without_checksum_still_load_unchecked() {
    let out = partial("legacy", 4);
    let path = out.join("checkpoints/step_00000004.safetensors");
    let bits = tensor_bits(&path);
    strip_checksum(&path);
    let (_, meta, _, integrity) =
        load_checkpoint_checked(&path, &candle_core::Device::Cpu).expect("legacy loads");
    assert_eq!(integrity, Integrity::Unchecked);
    assert_eq!(meta.step, 4);
    assert_eq!(tensor_bits(&path), bits, "same tensors");
    // A legacy newest checkpoint resumes (with a warning on stderr).
    resume(&out).expect("resume from a checkpoint without checksum");
    assert_eq!(final_bits(&out), final_bits(straight()));

    // Snapshots: the old format (plain JSON) reads unchecked; the new one verifies.
    let run = RunDir::new(&out);
    let snap = run.read_snapshot(4).unwrap().expect("snapshot 4");
    let plain = serde_json::to_string(&snap).unwrap();
    std::fs::write(run.snapshot_path(4), &plain).unwrap();
    let (legacy, integrity) =
        bump_ddpm::snapshot::Snapshot::from_json_checked(&run.snapshot_path(4), plain.as_bytes())
            .unwrap();
    assert_eq!(integrity, Integrity::Unchecked);
    assert_eq!(legacy, snap);
    assert_eq!(run.read_snapshot(4).unwrap(), Some(snap));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn flipped_snapshot_bytes_are_a_checksum_error() {
    let out = partial("snap-flip", 4);
    let run = RunDir::new(&out);
    let path = run.snapshot_path(4);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\"checksum\":\"xxh3-64:"),
        "{}",
        &text[..40]
    );
    let expected = text[13..13 + 24].to_string();
    // A digit of a sample value changed: still valid JSON, wrong content.
    let mut b = text.into_bytes();
    let i = b.len() - 20
        + b[b.len() - 20..]
            .iter()
            .position(|c| c.is_ascii_digit())
            .unwrap();
    b[i] = if b[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(&path, &b).unwrap();
    match run.read_snapshot(4) {
        Err(Error::ChecksumMismatch {
            path: p,
            expected: e,
            found,
        }) => {
            assert_eq!(p, path);
            assert_eq!(e, expected);
            assert_ne!(found, expected);
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    // A damaged checksum member is corruption too, not an old file.
    b[3] = b'C';
    std::fs::write(&path, &b).unwrap();
    let e = run.read_snapshot(4).unwrap_err().to_string();
    assert!(
        e.contains("damaged") && e.contains("step_00000004.json"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs the micro configuration with `fault`; returns the directory and the error.
fn failing_run(name: &str, fault: WriteFault) -> (PathBuf, Error) {
    let out = tmp_dir(name);
    let mut o = quiet(&out);
    o.write_fault = Some(fault);
    let err = match run(&micro_config(), &o) {
        Err(e) => e,
        Ok(_) => panic!("{name}: the injected failure must stop the run"),
    };
    (out, err)
}

/// Asserts an I/O error of `kind` on the file `file`, in one line.
fn assert_write_error(err: &Error, file: &str, kind: ErrorKind) {
    let msg = err.to_string();
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(msg.contains(file), "names the file: {msg}");
    let found = match err {
        Error::Io { source, .. } => source.kind(),
        other => panic!("expected an I/O error, got {other:?}"),
    };
    assert_eq!(found, kind, "{msg}");
}

/// The outputs of steps 0 and 4 are intact: checkpoints verify and equal the uninterrupted
/// run's, snapshots verify, records parse.
fn assert_earlier_outputs_intact(out: &Path) {
    let run = RunDir::new(out);
    for step in [0, 4] {
        let p = run.checkpoint_path(step);
        assert!(
            matches!(verify_file(&p), Ok(Integrity::Verified(_))),
            "{}",
            p.display()
        );
        assert_eq!(
            tensor_bits(&p),
            tensor_bits(&RunDir::new(straight()).checkpoint_path(step))
        );
        assert!(run.read_snapshot(step).unwrap().is_some());
    }
    assert!(temp_files(&out.join("checkpoints")).is_empty());
    assert!(temp_files(&out.join("snapshots")).is_empty());
}

#[test]
fn disk_full_while_writing_a_checkpoint_stops_the_run_and_keeps_earlier_outputs() {
    let fault = WriteFault::disk_full("step_00000008.safetensors", 3000);
    let (out, err) = failing_run("fail-ckpt", fault);
    assert_write_error(&err, "step_00000008.safetensors", ErrorKind::StorageFull);
    assert_earlier_outputs_intact(&out);
    assert!(!out.join("checkpoints/step_00000008.safetensors").exists());
    assert_eq!(steps(&out), [0, 4]);
    resume(&out).expect("resume after the failed write");
    assert_eq!(final_bits(&out), final_bits(straight()));
    assert_eq!(steps(&out), [0, 4, 8, 12]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn permission_denied_while_writing_a_snapshot_stops_the_run_and_keeps_earlier_outputs() {
    let fault =
        WriteFault::disk_full("step_00000008.json", 100).with_kind(ErrorKind::PermissionDenied);
    let (out, err) = failing_run("fail-snap", fault);
    assert_write_error(&err, "step_00000008.json", ErrorKind::PermissionDenied);
    assert_earlier_outputs_intact(&out);
    assert!(!RunDir::new(&out).snapshot_path(8).exists());
    // The checkpoint and record of step 8 were written before the snapshot.
    assert_eq!(steps(&out), [0, 4, 8]);
    // Resuming evaluates step 8 again for its missing snapshot, without a second record.
    resume(&out).expect("resume after the failed write");
    assert!(RunDir::new(&out).read_snapshot(8).unwrap().is_some());
    assert_eq!(final_bits(&out), final_bits(straight()));
    assert_eq!(steps(&out), [0, 4, 8, 12]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn disk_full_while_appending_a_record_leaves_no_torn_line() {
    // The third append (step 8's record) fails after 50 bytes.
    let fault = WriteFault::disk_full("metrics.jsonl", 50).after_writes(2);
    let (out, err) = failing_run("fail-record", fault);
    assert_write_error(&err, "metrics.jsonl", ErrorKind::StorageFull);
    assert_earlier_outputs_intact(&out);
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "the partial line was rolled back");
    assert_eq!(text.lines().count(), 2);
    assert_eq!(steps(&out), [0, 4]);
    // Step 8's checkpoint exists; resuming evaluates it again and writes its record once.
    resume(&out).expect("resume after the failed append");
    assert_eq!(final_bits(&out), final_bits(straight()));
    assert_eq!(steps(&out), [0, 4, 8, 12]);
    assert_eq!(
        common::records_without_wall(&out.join("metrics.jsonl")),
        common::records_without_wall(&straight().join("metrics.jsonl")),
        "records equal the uninterrupted run's (but wall_s)"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_failing_writer_fails_only_the_chosen_write() {
    let dir = tmp_dir("fault-unit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("metrics.jsonl");
    let fault = WriteFault::disk_full("metrics.jsonl", 3).after_writes(1);
    bump_ddpm::io::append_line_faulty(&path, "first", Some(&fault)).unwrap();
    let e = bump_ddpm::io::append_line_faulty(&path, "second", Some(&fault)).unwrap_err();
    assert!(matches!(e, Error::Io { ref source, .. } if source.kind() == ErrorKind::StorageFull));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
    bump_ddpm::io::append_line_faulty(&path, "third", Some(&fault)).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\nthird\n");
    // Atomic writes: the old content survives a failure after 2 bytes; no temporary file.
    let f = dir.join("x.json");
    bump_ddpm::io::write_atomic(&f, b"old").unwrap();
    let fault = WriteFault::disk_full("x.json", 2);
    assert!(bump_ddpm::io::write_atomic_faulty(&f, b"new content", Some(&fault)).is_err());
    assert_eq!(std::fs::read(&f).unwrap(), b"old");
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}
