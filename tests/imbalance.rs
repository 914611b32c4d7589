//! The imbalance experiment: the coupling statistic on synthetic records with known answers, and
//! a micro experiment (tiny model, a few steps) whose every output must exist and match its
//! documented schema.

mod common;

use common::{make_micro, neutral_record, tmp_dir, validate_schema};

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::imbalance::coupling::{
    chance_error, first_crossing, normalised_difference, Axis, CouplingConfig, Crossing,
    DeltaSummary, RunCoupling, Verdict,
};
use bump_ddpm::imbalance::{self, report, AxisSpacing, ImbalanceConfig, RunStatus};
use bump_ddpm::record::{AxisMetrics, EvalRecord};
use bump_ddpm::train::RunOptions;
use bump_ddpm::{Preset, RunDir};
use std::path::Path;

/// A record with the given per-axis errors and 1-px accuracies (everything else neutral).
fn record(step: u64, err: [f64; 2], acc: [f64; 2]) -> EvalRecord {
    let mut r = neutral_record(step);
    r.accuracy = acc[0].min(acc[1]);
    r.acc_x = acc[0];
    r.acc_y = acc[1];
    r.axes = Some(AxisMetrics {
        single_share: 1.0,
        err_x: Some(err[0]),
        err_y: Some(err[1]),
        tau_half: [0.05, 0.5],
        acc_half_x: 0.0,
        acc_half_y: 0.0,
        factorization: None,
    });
    r
}

/// A learning curve flat until `mid − 100`, then linear over 200 steps: error 10 → 0,
/// accuracy 0 → 1 (so a shifted curve has the same initial value, and the rule's reference).
fn curve(step: f64, mid: f64) -> (f64, f64) {
    let s = ((step - (mid - 100.0)) / 200.0).clamp(0.0, 1.0);
    (10.0 * (1.0 - s), s)
}

/// Records every 25 steps to 600 in which x follows a curve with midpoint `mid_x` and y one
/// with midpoint `mid_y`.
fn records(mid_x: f64, mid_y: f64) -> Vec<EvalRecord> {
    (0..=24)
        .map(|i| {
            let s = 25.0 * i as f64;
            let (ex, ax) = curve(s, mid_x);
            let (ey, ay) = curve(s, mid_y);
            record(s as u64, [ex, ey], [ax, ay])
        })
        .collect()
}

#[test]
fn shifted_curves_give_their_shift_and_identical_curves_give_zero() {
    let cfg = CouplingConfig::default();
    // y is x shifted by exactly 50 steps: both onsets differ by 50 (the interpolation is exact
    // for a shift by whole checkpoint intervals).
    let r = RunCoupling::of("t", 0, Axis::X, &records(200.0, 250.0), [10.7; 2], &cfg);
    let (ex, ey) = (r.x.error.unwrap(), r.y.error.unwrap());
    assert!((ey - ex - 50.0).abs() < 1e-9, "{ex} {ey}");
    let (ax, ay) = (r.x.accuracy.unwrap(), r.y.accuracy.unwrap());
    assert!((ay - ax - 50.0).abs() < 1e-9, "{ax} {ay}");
    // The accuracy level 0.5 is the curve's midpoint; the error falls to 1/4 of its initial
    // value three quarters of the way down.
    assert!((ax - 200.0).abs() < 1e-9, "{ax}");
    assert!((ex - 250.0).abs() < 1e-9, "{ex}");
    // Δ = (dense − sparse) / mean with x dense.
    let expected = (ex - ey) / (0.5 * (ex + ey));
    assert!((r.delta_error.unwrap() - expected).abs() < 1e-12);
    assert!(r.delta_error.unwrap() < 0.0);
    // With y dense the sign flips.
    let r_y = RunCoupling::of("t", 0, Axis::Y, &records(200.0, 250.0), [10.7; 2], &cfg);
    assert!((r_y.delta_error.unwrap() + expected).abs() < 1e-12);
    // Identical curves: Δ = 0 exactly.
    let same = RunCoupling::of("t", 0, Axis::X, &records(230.0, 230.0), [10.7; 2], &cfg);
    assert_eq!(same.delta_error, Some(0.0));
    assert_eq!(same.delta_accuracy, Some(0.0));
}

#[test]
fn an_axis_that_never_learns_has_no_onset_and_no_delta() {
    let cfg = CouplingConfig::default();
    let mut recs = records(200.0, 100_000.0);
    for r in &mut recs {
        r.acc_y = 0.0;
    }
    let r = RunCoupling::of("t", 0, Axis::X, &recs, [10.7; 2], &cfg);
    assert!(r.x.error.is_some() && r.y.error.is_none() && r.y.accuracy.is_none());
    assert_eq!(r.delta_error, None);
    let s = DeltaSummary::of(&[r.delta_error, Some(0.1)], &cfg).unwrap();
    assert_eq!((s.n, s.missing, s.verdict), (1, 1, Verdict::Undetermined));
}

#[test]
fn unmeasurable_errors_fall_back_to_the_chance_reference() {
    let cfg = CouplingConfig::default();
    let mut recs = records(200.0, 200.0);
    // Too few single-bump samples at step 0: the error there does not count.
    recs[0].axes.as_mut().unwrap().single_share = 0.1;
    let r = RunCoupling::of("t", 0, Axis::X, &recs, [8.0, 9.0], &cfg);
    assert!(!r.x.reference_measured && r.x.reference_error == 8.0);
    assert!(!r.y.reference_measured && r.y.reference_error == 9.0);
    let full = RunCoupling::of("t", 0, Axis::X, &records(200.0, 200.0), [8.0, 9.0], &cfg);
    assert!(full.x.reference_measured);
}

#[test]
fn crossings_interpolate_between_checkpoints() {
    let steps = [0.0, 10.0, 20.0, 30.0];
    let v = [Some(1.0), Some(0.8), Some(0.4), Some(0.2)];
    // 0.6 lies halfway between 0.8 (step 10) and 0.4 (step 20).
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
    assert!(close(
        first_crossing(&steps, &v, 0.6, Crossing::Below),
        15.0
    ));
    assert_eq!(first_crossing(&steps, &v, 1.0, Crossing::Below), Some(0.0));
    assert_eq!(first_crossing(&steps, &v, 0.1, Crossing::Below), None);
    // A missing value before the crossing: no interpolation, the crossing checkpoint itself.
    let gap = [Some(1.0), None, Some(0.4), Some(0.2)];
    assert_eq!(
        first_crossing(&steps, &gap, 0.6, Crossing::Below),
        Some(20.0)
    );
    let up = [Some(0.0), Some(0.2), Some(0.6), Some(0.9)];
    assert!(close(
        first_crossing(&steps, &up, 0.4, Crossing::Above),
        15.0
    ));
    assert_eq!(normalised_difference(Some(100.0), Some(300.0)), Some(-1.0));
    assert_eq!(normalised_difference(None, Some(300.0)), None);
}

#[test]
fn the_t_interval_matches_the_closed_form_and_decides_the_verdict() {
    let cfg = CouplingConfig::default();
    // Three values with mean 0.2 and sd 0.1: the tabulated t(0.975, 2) = 4.302652729911275.
    let s = DeltaSummary::of(&[Some(0.1), Some(0.2), Some(0.3)], &cfg).unwrap();
    let half = 4.302652729911275 * 0.1 / 3f64.sqrt();
    let [lo, hi] = s.t_interval.unwrap();
    assert!((lo - (0.2 - half)).abs() < 1e-9 && (hi - (0.2 + half)).abs() < 1e-9);
    assert_eq!(s.verdict, Verdict::Coupled); // [-0.048, 0.448] covers 0
    let s = DeltaSummary::of(&[Some(0.30), Some(0.32), Some(0.31)], &cfg).unwrap();
    assert_eq!(s.verdict, Verdict::SparseFirst);
    let s = DeltaSummary::of(&[Some(-0.30), Some(-0.32), Some(-0.31)], &cfg).unwrap();
    assert_eq!(s.verdict, Verdict::DenseFirst);
    // The bootstrap interval of three values lies within their range.
    let [b0, b1] = s.bootstrap_interval.unwrap();
    assert!(b0 >= -0.32 && b1 <= -0.30 && b0 <= b1);
}

#[test]
fn chance_error_is_the_mean_distance_to_a_uniform_guess() {
    // E|U − m| for U uniform on [0, 32): (m² + (32 − m)²) / 64; 8 at the centre, 16 at an edge.
    assert!((chance_error(&[16.0], 32.0) - 8.0).abs() < 1e-12);
    assert!((chance_error(&[0.0], 32.0) - 16.0).abs() < 1e-12);
    assert!((chance_error(&[0.0, 16.0], 32.0) - 12.0).abs() < 1e-12);
}

#[test]
fn the_preset_plans_nine_independent_runs_and_rejects_bad_sections() {
    let cfg = Preset::Imbalance.config();
    let runs = imbalance::plan(&cfg, Path::new("out")).unwrap();
    assert_eq!(runs.len(), 9);
    let ids: Vec<String> = runs.iter().map(|r| r.id()).collect();
    assert_eq!(&ids[..3], ["imbalanced:0", "mirror:0", "balanced:0"]);
    for r in &runs {
        assert!(r.config.imbalance.is_none());
        assert_eq!(r.config.train.seed, r.seed);
        // Every dataset has the same number of images to 2 %.
        let n = r.config.data.build(0).unwrap().len() as f64;
        assert!(
            (n / 10_240.0 - 1.0).abs() < 0.02,
            "{} has {n} images",
            r.id()
        );
    }
    let mut bad = cfg.clone();
    bad.imbalance.as_mut().unwrap().seeds = vec![1, 1];
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("imbalance.seeds"));
    let mut bad = cfg.clone();
    bad.imbalance.as_mut().unwrap().datasets[1].name = "a/b".into();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("datasets[1].name"));
    let mut bad = cfg.clone();
    bad.imbalance.as_mut().unwrap().coupling.error_fraction = 1.5;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("imbalance.coupling.error_fraction"));
    let no_section = ExperimentConfig::quick();
    assert!(imbalance::plan(&no_section, Path::new("out"))
        .unwrap_err()
        .to_string()
        .contains("[imbalance]"));
    // The paper-scale preset plans the same runs.
    assert_eq!(
        imbalance::plan(&Preset::ImbalancePaper.config(), Path::new("o"))
            .unwrap()
            .len(),
        9
    );
}

fn micro_config() -> ExperimentConfig {
    let mut cfg = Preset::Imbalance.config();
    make_micro(&mut cfg, "micro-imbalance");
    cfg.eval.centres.dx = 3.0;
    cfg.eval.centres.dy = 3.0;
    cfg.eval.snapshots = 2;
    cfg.imbalance = Some(ImbalanceConfig {
        seeds: vec![0, 1],
        datasets: vec![
            AxisSpacing::new("imbalanced", 0.5, 2.0),
            AxisSpacing::new("balanced", 1.0, 1.0),
        ],
        ..ImbalanceConfig::default()
    });
    cfg
}

#[test]
fn micro_experiment_writes_every_output_and_reads_its_statistic_from_the_records() {
    let cfg = micro_config();
    let out = tmp_dir("micro");
    let plan = imbalance::plan(&cfg, &out).unwrap();
    assert_eq!(plan.len(), 4);
    let mut opts = RunOptions::new(&out);
    opts.progress = false;
    // A run stopped part-way needs --resume; then it finishes, and a finished run is skipped.
    let mut stopping = opts.clone();
    stopping.stop_after = Some(4);
    imbalance::execute(&plan[0], &stopping, false).unwrap();
    assert_eq!(imbalance::status(&plan[0]).unwrap(), RunStatus::Partial(4));
    let err = imbalance::execute(&plan[0], &opts, false).unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");
    for p in &plan {
        imbalance::execute(p, &opts, true).unwrap();
        assert_eq!(imbalance::status(p).unwrap(), RunStatus::Done);
    }
    assert!(imbalance::execute(&plan[0], &opts, true).unwrap().is_none());

    // Every run's records carry the per-axis metrics and match the metrics schema.
    for p in &plan {
        let text = std::fs::read_to_string(p.dir.join("metrics.jsonl")).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            validate_schema("docs/schema/metrics.schema.json", &v);
            let axes = &v["axes"];
            assert!(axes.is_object(), "{line}");
            let tau = [p.config.data.dx / 2.0, p.config.data.dy / 2.0];
            assert_eq!(axes["tau_half"], serde_json::json!(tau));
            // The 6 × 6 evaluation grid gives a factorization.
            assert!(axes["factorization"]["principal_cosines"].is_array());
        }
    }

    let (comparison, finished) = imbalance::compare(&cfg, &out).unwrap();
    assert_eq!(finished.len(), 4);
    let html = report::write(&out, &comparison, &finished).unwrap();
    for f in [
        report::REPORT_HTML,
        report::COUPLING_JSON,
        report::COUPLING_MD,
        report::AXIS_FIGURE,
    ] {
        let p = out.join(f);
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "{}", p.display());
    }
    assert_eq!(html, out.join(report::REPORT_HTML));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(report::COUPLING_JSON)).unwrap())
            .unwrap();
    validate_schema("docs/schema/coupling.schema.json", &json);
    let steps = report::matched_steps(&comparison, &finished);
    assert!(steps.contains(&8));
    assert!(out
        .join(format!("figures/embedding_imbalanced_step{:07}.png", 8))
        .exists());

    // The statistic comes from the records: replace them with curves whose answer is known.
    for p in &plan {
        let (mx, my) = if p.dataset == "imbalanced" {
            (200.0, 250.0) // x (dense) 50 steps earlier
        } else {
            (230.0, 230.0)
        };
        RunDir::new(&p.dir)
            .rewrite_records(&records(mx, my))
            .unwrap();
    }
    let (c, _) = imbalance::compare(&cfg, &out).unwrap();
    for r in &c.per_run {
        let (ex, ey) = (r.x.error.unwrap(), r.y.error.unwrap());
        if r.dataset == "imbalanced" {
            assert!((ey - ex - 50.0).abs() < 1e-9);
        } else {
            assert_eq!(r.delta_error, Some(0.0));
        }
    }
    let imb = &c.per_dataset[0];
    assert_eq!(imb.dataset, "imbalanced");
    // Identical Δ in both seeds: sd 0, a zero-width interval below 0.
    assert_eq!(imb.delta_error.verdict, Verdict::DenseFirst);
    assert_eq!(c.per_dataset[1].delta_error.verdict, Verdict::Coupled);
    assert!(report::verdict(&c).contains("0 of the 1 imbalanced datasets"));
    std::fs::remove_dir_all(&out).ok();
}
