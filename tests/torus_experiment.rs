//! The torus experiment: planning and configuration errors, the final-topology summary on
//! synthetic records, and a micro experiment on periodic data whose every output must exist
//! and match its schema.

mod common;

use common::{make_micro, neutral_record, tmp_dir, validate_schema};

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::record::{EvalRecord, TopologyRecord};
use bump_ddpm::torus::{self, report, run_result, FinishedRun, RunStatus, TorusVerdict};
use bump_ddpm::train::RunOptions;
use bump_ddpm::Preset;
use std::path::{Path, PathBuf};

fn record(step: u64, distances: Option<(f64, f64)>) -> EvalRecord {
    let mut r: EvalRecord = neutral_record(step);
    r.accuracy = 0.5;
    r.topology = distances.map(|(c, t)| TopologyRecord {
        clifford_distance: c,
        torus_3d_distance: t,
        torus_3d_x_on_tube: false,
        x_on_y_mean_abs: 0.1,
        x_on_x_mean: 0.5,
        y_on_y_mean: 0.5,
        prominent: [1, 2],
        scale: 1.0,
        h1: vec![[0.1, 0.6]],
        h0: vec![[0.0, 0.2]],
    });
    r
}

fn finished(seed: u64, records: Vec<EvalRecord>) -> FinishedRun {
    FinishedRun {
        dataset: torus::VARIANT.into(),
        seed,
        dir: PathBuf::from("unused"),
        records,
    }
}

#[test]
fn final_topology_and_the_step_from_which_clifford_stays_closer() {
    // Closer to 3D at 0 and 200, closer to Clifford at 100 and from 300 on.
    let recs = vec![
        record(0, Some((0.5, 0.4))),
        record(100, Some((0.3, 0.4))),
        record(200, Some((0.5, 0.4))),
        record(300, Some((0.2, 0.4))),
        record(400, Some((0.1, 0.4))),
    ];
    let r = run_result(&finished(0, recs)).unwrap();
    assert_eq!(r.step, 400);
    assert_eq!(r.clifford_from, Some(300));
    assert!((r.difference - (0.1 - 0.4)).abs() < 1e-12);
    assert_eq!(r.prominent, [1, 2]);
    // Ending closer to 3D: no such step.
    let r = run_result(&finished(
        0,
        vec![record(0, Some((0.2, 0.4))), record(100, Some((0.5, 0.4)))],
    ))
    .unwrap();
    assert_eq!(r.clifford_from, None);
    // Without topology records there is nothing to say.
    assert!(run_result(&finished(0, vec![record(0, None)])).is_none());
}

#[test]
fn the_preset_plans_three_periodic_runs_and_bad_settings_are_named() {
    let cfg = Preset::Torus.config();
    let runs = torus::plan(&cfg, Path::new("o")).unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs
        .iter()
        .all(|r| r.config.torus.is_none() && r.config.data.periodic));
    let mut bad = cfg.clone();
    bad.data.periodic = false;
    assert!(torus::plan(&bad, Path::new("o"))
        .unwrap_err()
        .to_string()
        .contains("data.periodic"));
    // The topology needs a grid that closes on the canvas: 3 px does not divide 32.
    let mut bad = cfg.clone();
    bad.eval.centres.dx = 3.0;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("eval.topology"));
    let mut bad = cfg.clone();
    bad.torus.as_mut().unwrap().seeds = vec![];
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("torus.seeds"));
    assert!(torus::plan(&ExperimentConfig::quick(), Path::new("o"))
        .unwrap_err()
        .to_string()
        .contains("[torus]"));
    assert_eq!(
        torus::plan(&Preset::TorusPaper.config(), Path::new("o"))
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn micro_experiment_writes_every_output_with_topology_in_every_record() {
    let mut cfg = Preset::Torus.config();
    make_micro(&mut cfg, "micro-torus");
    cfg.data.dx = 2.0;
    cfg.data.dy = 2.0;
    cfg.torus.as_mut().unwrap().seeds = vec![0, 1];
    let out = tmp_dir("torus_experiment");
    let plan = torus::plan(&cfg, &out).unwrap();
    let mut opts = RunOptions::new(&out);
    opts.progress = false;
    for p in &plan {
        torus::execute(p, &opts, false).unwrap();
        assert_eq!(torus::status(p).unwrap(), RunStatus::Done);
        let text = std::fs::read_to_string(p.dir.join("metrics.jsonl")).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            validate_schema("docs/schema/metrics.schema.json", &v);
            assert!(v["topology"]["clifford_distance"].is_number(), "{line}");
        }
    }
    let (c, runs) = torus::compare(&cfg, &out).unwrap();
    assert_eq!(c.per_run.len(), 2);
    assert_ne!(c.verdict, TorusVerdict::Undetermined);
    report::write(&out, &c, &runs).unwrap();
    for f in [
        report::REPORT_HTML,
        report::TORUS_JSON,
        report::TORUS_MD,
        report::CURVES_FIGURE,
        report::DIAGRAM_FIGURE,
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 0, "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(report::TORUS_JSON)).unwrap())
            .unwrap();
    validate_schema("docs/schema/torus.schema.json", &json);
    std::fs::remove_dir_all(&out).ok();
}
