//! Records survive their own files, exactly (issue 17), and records written before the metric
//! renames still read.
//!
//! Inside this workspace a dev-dependency (jsonschema) also turns serde_json's
//! `float_roundtrip` on, so these tests alone cannot prove that a user's build has it; the
//! consumer crate in `.ci/consumer` (built by `.ci/run` without any dev-dependency) runs the
//! same round trip.

mod common;

use bump_analysis::RepresentationMetrics;
use bump_ddpm::record::{EvalRecord, RunSummary};
use bump_ddpm::run_dir::RunDir;
use bump_ddpm::train::run;
use common::{micro_config, quiet, tmp_dir};

/// Every field's bits: `Debug` prints f64s in their shortest round-trip form (and NaN as NaN,
/// which `==` would call unequal), and `to_value` compares serde_json numbers exactly.
fn assert_same_bits<T: std::fmt::Debug + serde::Serialize>(returned: &T, read: &T, what: &str) {
    assert_eq!(format!("{returned:?}"), format!("{read:?}"), "{what}");
    assert_eq!(
        serde_json::to_value(returned).unwrap(),
        serde_json::to_value(read).unwrap(),
        "{what}"
    );
}

#[test]
fn records_returned_by_run_equal_those_read_back_bit_for_bit() {
    let cfg = micro_config();
    let out = tmp_dir("records-roundtrip");
    let outcome = run(&cfg, &quiet(&out)).expect("micro run");
    assert_eq!(outcome.run_dir.root(), out.as_path());
    let run_dir = RunDir::new(&out);
    let read = run_dir.read_records().unwrap();
    assert_eq!(read.len(), outcome.records.len());
    assert!(read.len() >= 2);
    for (a, b) in outcome.records.iter().zip(&read) {
        assert_same_bits(a, b, &format!("record at step {}", a.step));
    }
    let summary: RunSummary = run_dir.read_summary().unwrap();
    assert_same_bits(outcome.summary.as_ref().unwrap(), &summary, "summary");
    // The written names are the new ones only.
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for (scope, obj) in [("record", &v), ("representation", &v["representation"])] {
            for old in ["spearman", "intrinsic_dim"] {
                assert!(obj.get(old).is_none(), "{scope} still writes {old}");
            }
        }
        assert!(v["order_rho"].is_number() && v["twonn_multiscale_dim"].is_number());
        assert!(v["representation"]["spearman_euclidean"].is_number());
    }
    // The representation reads typed, and agrees with the record's own fields.
    for r in &read {
        let rep = r.representation_typed().unwrap();
        assert_eq!(rep.metrics.twonn_multiscale_dim, r.twonn_multiscale_dim);
        assert_eq!(bump_analysis::order_rho(&rep.metrics), r.order_rho);
        assert_eq!(rep.rep_decided_by.phase, r.rep_phase);
        // The main probe is one of them: the record's condition signal is its.
        assert!(rep
            .probes
            .values()
            .any(|p| p.condition_signal == r.condition_signal && p.label == rep.rep_decided_by));
        assert!(rep.probes.contains_key("shared_t999"));
        assert!(rep.probes["shared_t999"].condition_signal.is_nan());
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn floats_survive_json_exactly() {
    // The value of the issue, and a sweep of bit patterns: serde_json without
    // `float_roundtrip` misreads some of these by one unit in the last place.
    let mut values = vec![
        0.9570686070686072,
        0.9570686070686071,
        1.0 / 3.0,
        2.0f64.sqrt(),
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = f64::from_bits(state >> 2); // positive, finite
        if v.is_finite() {
            values.push(v);
            values.push((state >> 11) as f64 / (1u64 << 53) as f64); // in [0, 1)
        }
    }
    for v in values {
        let text = serde_json::to_string(&v).unwrap();
        let back: f64 = serde_json::from_str(&text).unwrap();
        assert_eq!(back.to_bits(), v.to_bits(), "{text}");
    }
}

#[test]
fn a_record_written_before_the_renames_still_reads() {
    // Step 350 of docs/runs/quick-seed0 (written before issue 17): the record's `spearman` is
    // the geodesic ρ, `representation.spearman` the Euclidean one.
    let line = include_str!("fixtures/old_metrics_record.jsonl");
    let raw: serde_json::Value = serde_json::from_str(line).unwrap();
    let r: EvalRecord = serde_json::from_str(line).unwrap();
    assert_eq!(r.step, 350);
    assert_eq!(r.order_rho, raw["spearman"].as_f64().unwrap());
    assert_eq!(r.order_rho, 0.8563768817888909);
    assert_eq!(r.twonn_multiscale_dim, 3.3072991240767213);
    // The representation's metrics read into the typed struct under their new names.
    let m: RepresentationMetrics = serde_json::from_value(r.representation.clone()).unwrap();
    assert_eq!(m.spearman_euclidean, 0.601496828177888);
    assert_eq!(m.spearman_geodesic, r.order_rho);
    assert_eq!(m.twonn_multiscale_dim, r.twonn_multiscale_dim);
    assert_eq!(bump_analysis::order_rho(&m), r.order_rho);
    let typed = r.representation_typed().unwrap();
    assert_eq!(typed.metrics, m);
    assert_eq!(typed.probes.len(), 7);
    assert!(typed.probes["shared_t999"].condition_signal.is_nan());
    assert_eq!(typed.rep_decided_by.phase, r.rep_phase);
    // Every probe's label and metrics read typed too, nulls (NaN) included.
    let probes = r.representation["probes"].as_object().unwrap();
    assert_eq!(probes.len(), 7);
    for (name, p) in probes {
        let label: bump_analysis::Classification =
            serde_json::from_value(p["label"].clone()).unwrap();
        let _: RepresentationMetrics = serde_json::from_value(p["means"].clone()).unwrap();
        let _: RepresentationMetrics = serde_json::from_value(p["single"].clone()).unwrap();
        let unmeasured = label.decided_by.iter().filter(|(_, v)| v.is_nan()).count();
        assert_eq!(
            unmeasured,
            if name == "shared_t999" { 2 } else { 0 },
            "{name}"
        );
    }
    // Written again, it uses the new names and reads back to the same record.
    let again = serde_json::to_string(&r).unwrap();
    let v: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert!(v.get("spearman").is_none() && v.get("intrinsic_dim").is_none());
    let back: EvalRecord = serde_json::from_str(&again).unwrap();
    assert_same_bits(&r, &back, "old record rewritten");
}

#[test]
fn nan_metrics_survive_their_file() {
    // JSON has no NaN: serde_json writes `null`, and the records read it back as NaN (before,
    // such a line could not be read at all, so a run with one could not be resumed).
    let mut r = common::neutral_record(4);
    r.condition_signal = f64::NAN;
    r.order_rho = f64::NAN;
    r.umap_r2_x = f64::NAN;
    let out = tmp_dir("records-nan");
    let run_dir = RunDir::new(&out);
    run_dir.create().unwrap();
    run_dir.append_record(&r).unwrap();
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert!(text.contains("\"condition_signal\":null"), "{text}");
    let back = run_dir.read_records().unwrap();
    assert_eq!(back.len(), 1);
    let b = &back[0];
    assert!(b.condition_signal.is_nan() && b.order_rho.is_nan() && b.umap_r2_x.is_nan());
    assert_same_bits(&r, b, "record with NaN metrics");
    // A hand-made record without representation metrics reads, but not typed.
    assert!(b.representation_typed().is_err());
    // A string where a number belongs is still refused.
    let bad = text.replace("\"condition_signal\":null", "\"condition_signal\":\"x\"");
    assert!(serde_json::from_str::<EvalRecord>(bad.trim()).is_err());
    let _ = std::fs::remove_dir_all(&out);
}
