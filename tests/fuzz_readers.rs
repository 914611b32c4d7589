//! Mutation fuzzing of every reader of untrusted files, over real inputs (docs/reliability.md):
//! a checkpoint and `metrics.jsonl` and a snapshot from a micro run, the presets
//! `configs/{quick,paper}.toml`, the run's `config.json`, and sweep specs (`sweeps/*.toml` and one
//! with zipped axes), each expanded into its cells when it reads. Mutations: truncations, bit
//! flips, overwritten and inserted bytes, huge header lengths, other dtypes and shapes in the
//! safetensors header, invalid UTF-8, torn last lines.
//!
//! Properties: no reader panics (caught with `catch_unwind`, the seed and case are printed), no
//! case takes more than 5 s and the whole loop finishes before a watchdog fires, and nothing
//! is silently wrong: a mutated checkpoint that loads has exactly the original tensors, and a
//! truncated `metrics.jsonl` reads as the records before the cut.
//!
//! Case counts: `BUMP_FUZZ_CASES` (default 20,000) per cheap reader (configs, records,
//! snapshots) and a tenth of it for checkpoints (each case writes and reads a ~0.5 MB file) and
//! sweep specs (each case expands up to 30 validated cells);
//! `BUMP_FUZZ_SEED` changes the seed (default 19). Each reader prints its count and time.

mod common;

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::snapshot::Snapshot;
use bump_ddpm::train::run;
use bump_ddpm::unet::checkpoint::{load_checkpoint_checked, Integrity, CHECKSUM_KEY};
use common::{micro_config, quiet, tmp_dir};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn cases() -> usize {
    std::env::var("BUMP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn seed() -> u64 {
    std::env::var("BUMP_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(19)
}

/// A micro run stopped after 4 steps: checkpoints, records and snapshots of steps 0 and 4.
fn real_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = tmp_dir("fuzz-inputs");
        let mut o = quiet(&out);
        o.stop_after = Some(4);
        run(&micro_config(), &o).expect("micro run");
        out
    })
}

/// One random mutation of `input` (several, sometimes).
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], header: Option<usize>) -> Vec<u8> {
    let mut b = input.to_vec();
    let rounds = if rng.random_bool(0.2) {
        rng.random_range(2..6)
    } else {
        1
    };
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(rng.random());
            continue;
        }
        // Most mutations aim at the header when there is one (the parsing logic lives there).
        let len = b.len();
        let pos = match header {
            Some(h) if rng.random_bool(0.7) => rng.random_range(0..h.min(len)),
            _ => rng.random_range(0..len),
        };
        match rng.random_range(0..10) {
            0 => b.truncate(pos),
            1 | 2 => {
                for _ in 0..rng.random_range(1..=8) {
                    let i = rng.random_range(0..b.len());
                    b[i] ^= 1 << rng.random_range(0..8);
                }
            }
            3 => {
                let n = rng.random_range(1..=16).min(len - pos);
                rng.fill_bytes(&mut b[pos..pos + n]);
            }
            4 => {
                let mut junk = vec![0u8; rng.random_range(1..=32)];
                rng.fill_bytes(&mut junk);
                b.splice(pos..pos, junk);
            }
            5 => {
                let end = (pos + rng.random_range(1..=64)).min(b.len());
                b.drain(pos..end);
            }
            // Invalid UTF-8.
            6 => b[pos] = [0xff, 0xc0, 0x80, 0xfe][rng.random_range(0..4)],
            // A huge or random safetensors header length.
            7 if header.is_some() && b.len() >= 8 => {
                let v: u64 = match rng.random_range(0..3) {
                    0 => u64::MAX - rng.random_range(0..1000),
                    1 => 100_000_000 + rng.random_range(0..1000),
                    _ => rng.random_range(0..(input.len() as u64 * 2)),
                };
                b[..8].copy_from_slice(&v.to_le_bytes());
            }
            // Same-length replacements of dtypes and shape digits in a JSON header, and of
            // digits anywhere in text (numbers out of range, other shapes).
            _ => {
                let from_to: &[(&[u8], &[u8])] = &[
                    (b"\"F32\"", b"\"F64\""),
                    (b"\"F32\"", b"\"U8\" "),
                    (b"\"F32\"", b"\"BF16\"".split_at(5).0),
                    (b"\"U32\"", b"\"I64\""),
                    (b"\"F32\"", b"\"XYZ\""),
                ];
                let (from, to) = from_to[rng.random_range(0..from_to.len())];
                let hits: Vec<usize> = b
                    .windows(from.len())
                    .enumerate()
                    .filter(|(_, w)| *w == from)
                    .map(|(i, _)| i)
                    .take(64)
                    .collect();
                if !hits.is_empty() && rng.random_bool(0.5) {
                    let i = hits[rng.random_range(0..hits.len())];
                    b[i..i + to.len()].copy_from_slice(to);
                } else {
                    let digits: Vec<usize> = (pos..b.len().min(pos + 256))
                        .filter(|&i| b[i].is_ascii_digit())
                        .collect();
                    if let Some(&i) = digits.first() {
                        b[i] = b"0123456789999"[rng.random_range(0..13)];
                        if rng.random_bool(0.3) {
                            b.splice(i..i, b"99999999999".iter().copied());
                        }
                    }
                }
            }
        }
    }
    b
}

/// Runs `cases` mutations of `inputs` through `check` (which returns a short outcome label,
/// and asserts what must hold), catching panics and timing every case, under a watchdog.
fn fuzz<F>(name: &str, inputs: Vec<(String, Vec<u8>, Option<usize>)>, n: usize, check: F)
where
    F: Fn(usize, &[u8], &[u8]) -> &'static str + Send + Sync + 'static,
{
    let seed = seed();
    let name_owned = name.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let start = Instant::now();
        let mut slowest = Duration::ZERO;
        let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
        for case in 0..n {
            let which = case % inputs.len();
            let (label, input, header) = &inputs[which];
            let mutated = if case < inputs.len() {
                input.clone() // the unmutated input first: the known answer
            } else {
                mutate(&mut rng, input, *header)
            };
            let t = Instant::now();
            let r = catch_unwind(AssertUnwindSafe(|| check(which, input, &mutated)));
            let dt = t.elapsed();
            slowest = slowest.max(dt);
            match r {
                Ok(o) => *outcomes.entry(o).or_default() += 1,
                Err(_) => {
                    let _ = std::fs::write(
                        std::env::temp_dir().join(format!("bump-fuzz-{name_owned}-{case}.bin")),
                        &mutated,
                    );
                    panic!(
                        "{name_owned}: case {case} (seed {seed}, input {label}) panicked; the \
                         input is saved as bump-fuzz-{name_owned}-{case}.bin in the temp dir"
                    );
                }
            }
            assert!(
                dt < Duration::from_secs(5),
                "{name_owned}: case {case} (seed {seed}) took {dt:?}"
            );
        }
        let _ = tx.send(());
        (start.elapsed(), slowest, outcomes)
    });
    let budget = Duration::from_secs(60) + Duration::from_millis(50 * n as u64);
    if rx.recv_timeout(budget).is_err() && !worker.is_finished() {
        panic!("{name}: no answer within {budget:?}: a reader hangs");
    }
    let (total, slowest, outcomes) = worker
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    eprintln!(
        "fuzz {name}: {n} cases in {:.2} s (slowest {:.1} ms), seed {seed}: {outcomes:?}",
        total.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    );
}

/// The header length of a safetensors file (8 + its JSON header).
fn header_end(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn checkpoint_reader_survives_mutations_and_never_loads_wrong_tensors() {
    let path = real_run().join("checkpoints/step_00000004.safetensors");
    let original = std::fs::read(&path).unwrap();
    let reference = common::tensor_bits(&path);
    // The same checkpoint without checksum (an older file): mutations then reach the config,
    // metadata and tensor parsing; only "no panic, no hang" is asserted for those.
    // Built by removing the member from the parsed header and padding the re-serialised header
    // with spaces to its old length (safetensors allows trailing spaces), so the data offsets
    // stay valid whatever the order of the metadata members.
    let h = header_end(&original);
    let mut header: serde_json::Value = serde_json::from_slice(&original[8..h]).unwrap();
    let removed = header["__metadata__"]
        .as_object_mut()
        .and_then(|m| m.remove(CHECKSUM_KEY));
    assert!(removed.is_some(), "the checkpoint has a checksum member");
    let mut text = serde_json::to_string(&header).unwrap().into_bytes();
    assert!(text.len() <= h - 8);
    text.resize(h - 8, b' ');
    let mut legacy = original[..8].to_vec();
    legacy.extend_from_slice(&text);
    legacy.extend_from_slice(&original[h..]);
    let inputs = vec![
        ("checked".to_string(), original, Some(h)),
        ("legacy".to_string(), legacy, Some(h)),
    ];
    let dir = tmp_dir("fuzz-ckpt");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("case.safetensors");
    fuzz(
        "checkpoint",
        inputs,
        cases() / 10,
        move |which, input, bytes| {
            std::fs::write(&file, bytes).unwrap();
            match load_checkpoint_checked(&file, &candle_core::Device::Cpu) {
                Ok((_, meta, _, integrity)) => {
                    if which == 0 {
                        assert!(matches!(integrity, Integrity::Verified(_)));
                        // Loaded with a valid checksum: the content must be the original's.
                        assert_eq!(meta.step, 4);
                        assert_eq!(
                            common::tensor_bits(&file),
                            reference,
                            "silently wrong tensors"
                        );
                    }
                    if bytes == input {
                        "unchanged, loads"
                    } else {
                        "mutated, loads"
                    }
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    assert!(bytes != input, "the original must load: {e}");
                    match e {
                        bump_ddpm::unet::Error::ChecksumMismatch { .. } => "checksum mismatch",
                        bump_ddpm::unet::Error::TruncatedFile { .. } => "truncated",
                        bump_ddpm::unet::Error::CorruptHeader { .. } => "corrupt header",
                        _ => "other error",
                    }
                }
            }
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_readers_survive_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for name in ["quick.toml", "paper.toml"] {
        let text = std::fs::read(root.join("configs").join(name)).unwrap();
        inputs.push((name.to_string(), text, None));
    }
    let json = std::fs::read(real_run().join("config.json")).unwrap();
    inputs.push(("config.json".to_string(), json, None));
    let dir = tmp_dir("fuzz-config");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = ["a.toml", "b.toml", "c.json"]
        .iter()
        .map(|n| dir.join(n))
        .collect();
    fuzz("config", inputs, cases(), move |which, input, bytes| {
        std::fs::write(&files[which], bytes).unwrap();
        match ExperimentConfig::load(&files[which]) {
            Ok(cfg) => {
                cfg.validate().expect("a loaded configuration is valid");
                "loads"
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(files[which].to_str().unwrap()) || msg.contains("UTF-8"),
                    "{msg}"
                );
                assert!(bytes != input, "the original must load: {msg}");
                "error"
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_reader_survives_mutations_and_reads_truncations_as_a_prefix() {
    let path = real_run().join("metrics.jsonl");
    let original = std::fs::read(&path).unwrap();
    let reference: Vec<String> = bump_ddpm::run_dir::parse_records(&path, &original)
        .unwrap()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert_eq!(reference.len(), 2);
    // A file whose last append was torn (no newline).
    let mut torn = original.clone();
    torn.extend_from_slice(&original[..original.len() / 3]);
    let inputs = vec![
        ("metrics.jsonl".to_string(), original.clone(), None),
        ("torn".to_string(), torn, None),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed() ^ 1);
    // Truncations first: a known answer for each.
    for _ in 0..200 {
        let cut = rng.random_range(0..=original.len());
        let got: Vec<String> = bump_ddpm::run_dir::parse_records(&path, &original[..cut])
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"))
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        let complete = original[..cut].iter().filter(|&&c| c == b'\n').count();
        let at_line_end = original.get(cut) == Some(&b'\n');
        let want = complete + usize::from(at_line_end);
        assert_eq!(got, reference[..want], "cut at {cut}");
    }
    fuzz(
        "records",
        inputs,
        cases(),
        move |_, input, bytes| match bump_ddpm::run_dir::parse_records(&path, bytes) {
            Ok(r) => {
                assert!(r.len() <= 1 + bytes.iter().filter(|&&c| c == b'\n').count());
                "reads"
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("metrics.jsonl") && msg.contains("line "),
                    "{msg}"
                );
                assert!(bytes != input, "the original must read: {msg}");
                "error"
            }
        },
    );
}

#[test]
fn snapshot_reader_survives_mutations() {
    let path = real_run().join("snapshots/step_00000004.json");
    let original = std::fs::read(&path).unwrap();
    let reference = Snapshot::from_json_checked(&path, &original).unwrap().0;
    let inputs = vec![("step_00000004.json".to_string(), original, Some(64))];
    fuzz(
        "snapshot",
        inputs,
        cases(),
        move |_, input, bytes| match Snapshot::from_json_checked(&path, bytes) {
            Ok((s, Integrity::Verified(_))) => {
                assert_eq!(s, reference, "a verified snapshot is the original");
                "verified"
            }
            Ok((_, Integrity::Unchecked)) => "unchecked",
            Err(e) => {
                assert!(e.to_string().contains("step_00000004.json"), "{e}");
                assert!(bytes != input, "the original must read: {e}");
                "error"
            }
        },
    );
}

#[test]
fn sweep_spec_reader_survives_mutations_and_expands_only_valid_cells() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for name in ["density-width.toml", "percolation.toml"] {
        let text = std::fs::read(root.join("sweeps").join(name)).unwrap();
        inputs.push((name.to_string(), text, None));
    }
    // Zipped axes and a fixed [set] as well (the showcase specs have no [set]).
    let zipped = b"name = \"zip\"\nbase = \"quick\"\n[set]\n\"train.steps\" = 10\n[axes]\n\
        \"data.sigma\" = [1.0, 2.0]\n[[zip]]\n\"data.dx\" = [1.0, 2.0]\n\"data.dy\" = [2.0, 1.0]\n";
    inputs.push(("zip.toml".to_string(), zipped.to_vec(), None));
    let dir = tmp_dir("fuzz-sweep");
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = ["a.toml", "b.toml", "c.toml"]
        .iter()
        .map(|n| dir.join(n))
        .collect();
    // Each case expands up to a few dozen validated cells: a tenth of the cheap readers' count.
    let n = (cases() / 10).max(inputs.len());
    fuzz("sweep spec", inputs, n, move |which, input, bytes| {
        std::fs::write(&files[which], bytes).unwrap();
        let spec = match bump_ddpm::sweep::SweepSpec::load(&files[which]) {
            Ok(spec) => spec,
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(files[which].to_str().unwrap()) || msg.contains("UTF-8"),
                    "{msg}"
                );
                assert!(bytes != input, "the original must load: {msg}");
                return "spec error";
            }
        };
        assert!(spec.cell_count() <= bump_ddpm::sweep::MAX_CELLS);
        match spec.expand() {
            Ok(cells) => {
                assert_eq!(cells.len(), spec.cell_count());
                for c in &cells {
                    c.config.validate().expect("an expanded cell is valid");
                }
                "expands"
            }
            Err(e) => {
                assert!(bytes != input, "the original must expand: {e}");
                "cell error"
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
