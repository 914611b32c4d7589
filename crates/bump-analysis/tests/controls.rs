//! The representation rule on the synthetic controls: the calibration split reproduces the
//! frozen thresholds, and the held-out split's confusion matrix is the one published in
//! docs/analysis.md.
//!
//! `cargo test --release -p bump-analysis --test controls -- --nocapture` prints both tables.

use bump_analysis::controls::*;
use bump_analysis::{Phase, RepresentationThresholds};

fn print_families(results: &[ControlResult], t: &RepresentationThresholds) {
    println!("| control | truth | correct |\n| --- | --- | --- |");
    for (name, truth, right, total) in family_accuracy(results, t) {
        println!("| `{name}` | {truth} | {right}/{total} |");
    }
}

#[test]
fn calibration_split_reproduces_the_frozen_thresholds() {
    let results = run_suite(&CALIBRATION_SEEDS).unwrap();
    assert_eq!(results.len(), 48 * CALIBRATION_SEEDS.len());
    let cal = calibrate(&results, &CalibrationGrid::default());
    println!("{cal:?}");
    assert_eq!(
        cal.thresholds,
        RepresentationThresholds::default(),
        "{cal:?}"
    );
    assert_eq!(cal.accuracy, 1.0, "{cal:?}");
    // Every threshold has a gap of its own on the controls: the optimal ranges recorded in
    // RepresentationThresholds' documentation.
    assert_eq!(
        cal.optimal_ranges,
        [(0.055, 0.09), (0.79, 0.83), (2.6, 2.7), (0.15, 0.95)]
    );
}

#[test]
fn held_out_confusion_matrix_is_the_published_one() {
    let results = run_suite(&HELD_OUT_SEEDS).unwrap();
    let t = RepresentationThresholds::default();
    let m = Confusion::of(&results, &t);
    println!("held-out seeds {HELD_OUT_SEEDS:?}:\n{}", m.markdown());
    print_families(&results, &t);
    for r in &results {
        let c = r.classify(&t);
        if c.phase != r.truth {
            println!(
                "miss: {} seed {} truth {} → {}: {}",
                r.spec.name(),
                r.seed,
                r.truth,
                c.phase,
                c.reason
            );
        }
    }
    // Frozen 2026-11-30 from the first run of the held-out split with the frozen thresholds.
    // The two errors sit on the sheet-dimension boundary: a 3D random cloud read as a sheet
    // (2.63) and a 2D sheet at 15 % signal read as too high-dimensional (2.68).
    assert_eq!(
        m.counts,
        [[44, 1, 0], [1, 41, 0], [0, 0, 57]],
        "held-out confusion matrix changed"
    );
}

#[test]
fn truth_labels_follow_the_construction() {
    let suite = ControlSpec::suite();
    let count = |p: Phase| suite.iter().filter(|s| s.truth() == p).count();
    assert_eq!(
        (count(Phase::A), count(Phase::B), count(Phase::C)),
        (15, 14, 19)
    );
    let mixture = |signal: f64| ControlSpec {
        map: ControlMap::Curved,
        signal,
        noise: NoiseKind::Iso,
        dim: 64,
    };
    assert_eq!(mixture(0.05).truth(), Phase::A);
    assert_eq!(mixture(0.1).truth(), Phase::C);
    let permuted = |fraction: f64| ControlSpec {
        map: ControlMap::Permuted { fraction },
        ..mixture(0.95)
    };
    assert_eq!(permuted(0.1).truth(), Phase::C);
    assert_eq!(permuted(0.25).truth(), Phase::B);
    // Low signal makes any geometry A.
    assert_eq!(
        ControlSpec {
            map: ControlMap::Folded,
            ..mixture(0.05)
        }
        .truth(),
        Phase::A
    );
}

#[test]
fn controls_are_seeded_and_carry_their_signal() {
    let spec = ControlSpec::suite()
        .into_iter()
        .find(|s| s.name() == "curved@0.20/shared")
        .unwrap();
    let a = spec.generate(7).unwrap();
    let b = spec.generate(7).unwrap();
    let c = spec.generate(8).unwrap();
    assert_eq!(a.samples, b.samples);
    assert_ne!(a.samples, c.samples);
    assert_eq!(a.samples.len(), CONTROL_SAMPLES);
    assert_eq!((a.samples[0].n(), a.samples[0].d()), (256, 256));
    assert_eq!(a.coords.first(), Some(&[1.0, 1.0]));
    assert_eq!(a.coords.last(), Some(&[31.0, 31.0]));
    let f = bump_analysis::condition_signal_fraction(&a.samples).unwrap();
    assert!((f - 0.2).abs() < 0.02, "signal fraction {f}");
}

/// The legacy rule ([`bump_analysis::classify`]) on the held-out controls, on sample 0 alone
/// (one noise image per condition) and on the K-sample means; for docs/analysis.md.
/// `cargo test --release -p bump-analysis --test controls -- --ignored --nocapture`
#[test]
#[ignore = "documentation table, ~30 s"]
fn legacy_rule_on_the_held_out_controls() {
    use bump_analysis::{classify, compute_metrics, MetricConfig, PhaseThresholds};
    let cfg = MetricConfig::default();
    let t = PhaseThresholds::default();
    let mut single = Vec::new();
    let mut means = Vec::new();
    for spec in ControlSpec::suite() {
        for &seed in &HELD_OUT_SEEDS {
            let c = spec.generate(seed).unwrap();
            let m0 = compute_metrics(&c.samples[0], &c.coords, None, &cfg).unwrap();
            let (b, d) = (c.samples[0].n(), c.samples[0].d());
            let v: Vec<f64> = (0..b * d)
                .map(|i| c.samples.iter().map(|s| s.as_slice()[i]).sum::<f64>() / 4.0)
                .collect();
            let mean = bump_analysis::Activations::from_f64(&v, b, d).unwrap();
            let mm = compute_metrics(&mean, &c.coords, None, &cfg).unwrap();
            let (p0, pm) = (classify(&m0, &t).phase, classify(&mm, &t).phase);
            println!(
                "{:32} {} {} single {p0} means {pm}",
                spec.name(),
                seed,
                spec.truth()
            );
            single.push((spec.truth(), p0));
            means.push((spec.truth(), pm));
        }
    }
    let (s, m) = (Confusion::from_pairs(single), Confusion::from_pairs(means));
    println!(
        "legacy rule, sample 0 ({:.1} %):\n{}",
        100.0 * s.accuracy(),
        s.markdown()
    );
    println!(
        "legacy rule, K-sample means ({:.1} %):\n{}",
        100.0 * m.accuracy(),
        m.markdown()
    );
}
