//! The composition experiment: what each held-out case asks (known answers), the rule on
//! synthetic records, and a micro experiment whose every output must exist and match its schema.

mod common;

use common::{make_micro, neutral_record, tmp_dir, validate_schema};

use bump_ddpm::compose::{
    self, report, run_result, CaseKind, ComposeConfig, ComposeRule, ComposeVerdict, FinishedRun,
    HeldOutCase, RunStatus, SET_HELD_OUT, SET_OFF_LATTICE, SET_TRAIN,
};
use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::data::{HeldOut, Interval};
use bump_ddpm::record::{EvalRecord, SetScore};
use bump_ddpm::train::RunOptions;
use bump_ddpm::Preset;
use std::path::{Path, PathBuf};

fn iv(lo: f64, hi: f64) -> Interval {
    Interval { lo, hi }
}

fn lattice(n: usize) -> Vec<[f64; 2]> {
    (0..n * n)
        .map(|i| [(i % n) as f64, (i / n) as f64])
        .collect()
}

#[test]
fn case_kinds_say_what_each_region_asks_for() {
    let all = lattice(32);
    let kind = |region: HeldOut| {
        let train: Vec<[f64; 2]> = all
            .iter()
            .copied()
            .filter(|&c| !region.contains(c))
            .collect();
        let held: Vec<[f64; 2]> = all
            .iter()
            .copied()
            .filter(|&c| region.contains(c))
            .collect();
        CaseKind::of(&train, &held)
    };
    let centre = kind(HeldOut::Rect {
        x: iv(12.0, 20.0),
        y: iv(12.0, 20.0),
    });
    assert_eq!(
        (centre.x_seen, centre.y_seen, centre.enclosed),
        (1.0, 1.0, true)
    );
    assert!(centre.describe().starts_with("composition"));
    let corner = kind(HeldOut::Rect {
        x: iv(24.0, 32.0),
        y: iv(24.0, 32.0),
    });
    assert_eq!(
        (corner.x_seen, corner.y_seen, corner.enclosed),
        (1.0, 1.0, false)
    );
    let band = kind(HeldOut::VerticalBand { x: iv(12.0, 20.0) });
    assert_eq!((band.x_seen, band.y_seen, band.enclosed), (0.0, 1.0, true));
    assert!(band.describe().starts_with("interpolation"));
}

/// A finished run whose three sets reach the given final accuracies, linearly from 0 over
/// steps 0..=400 (onset of level 0.5 at step 400 · 0.5 / final).
fn run(case: &str, seed: u64, finals: [f64; 3]) -> FinishedRun {
    let records = (0..=8)
        .map(|i| {
            let step = 50 * i;
            let frac = step as f64 / 400.0;
            let mut r: EvalRecord = neutral_record(step);
            for (set, f) in [SET_TRAIN, SET_HELD_OUT, SET_OFF_LATTICE]
                .iter()
                .zip(finals)
            {
                r.sets.insert(
                    set.to_string(),
                    SetScore {
                        count: 10,
                        accuracy: f * frac,
                        acc_x: f * frac,
                        acc_y: f * frac,
                        accuracy_tight: 0.0,
                        multi_bump_rate: 1.0 - f * frac,
                        empty_rate: 0.0,
                        single_wrong_rate: 0.0,
                        malformed_rate: 0.0,
                        err_x: None,
                        err_y: None,
                    },
                );
            }
            r
        })
        .collect();
    FinishedRun {
        dataset: case.into(),
        seed,
        dir: PathBuf::from("unused"),
        records,
    }
}

#[test]
fn run_results_read_final_accuracy_onsets_and_ratio_from_the_records() {
    let rule = ComposeRule::default();
    let r = run_result(&run("c", 0, [1.0, 0.9, 0.4]), &rule);
    assert_eq!(r.final_accuracy, [1.0, 0.9, 0.4]);
    assert!((r.ratio.unwrap() - 0.9).abs() < 1e-12);
    // Level 0.5 on a line from 0 to f at step 400: step 200 / f.
    assert!((r.onset[0].unwrap() - 200.0).abs() < 1e-9);
    assert!((r.onset[1].unwrap() - 200.0 / 0.9).abs() < 1e-9);
    assert_eq!(r.onset[2], None); // 0.4 never reaches 0.5
    let zero = run_result(&run("c", 0, [0.0, 0.0, 0.0]), &rule);
    assert_eq!(zero.ratio, None);
}

fn micro_config() -> ExperimentConfig {
    let mut cfg = Preset::Compose.config();
    make_micro(&mut cfg, "micro-compose");
    cfg.eval.snapshots = 2;
    let comp = cfg.compose.as_mut().unwrap();
    comp.seeds = vec![0];
    comp.cases = vec![
        HeldOutCase {
            name: "centre".into(),
            region: HeldOut::Rect {
                x: iv(6.0, 10.0),
                y: iv(6.0, 10.0),
            },
        },
        HeldOutCase {
            name: "band".into(),
            region: HeldOut::VerticalBand { x: iv(6.0, 10.0) },
        },
    ];
    cfg
}

#[test]
fn the_preset_plans_nine_runs_with_three_sets_and_rejects_bad_sections() {
    let cfg = Preset::Compose.config();
    let runs = compose::plan(&cfg, Path::new("out")).unwrap();
    assert_eq!(runs.len(), 9);
    for r in &runs {
        assert!(r.config.compose.is_none());
        let region = r.config.data.held_out.unwrap();
        let extent = r.config.data.extent();
        let sets = &r.config.eval.sets;
        let centres = |i: usize| sets[i].centres.centres(extent).unwrap();
        assert!(centres(0).iter().all(|&c| !region.contains(c)));
        assert!(centres(1).iter().all(|&c| region.contains(c)));
        assert!(centres(2).iter().all(|&c| !region.contains(c)));
        // Off-lattice points lie halfway between training values.
        assert!(centres(2).iter().all(|c| (c[0].fract() - 0.5).abs() < 1e-9));
    }
    let mut bad = cfg.clone();
    bad.compose.as_mut().unwrap().cases.clear();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("compose.cases"));
    let mut bad = cfg.clone();
    bad.compose.as_mut().unwrap().rule.ratio_min = 0.0;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("compose.rule.ratio_min"));
    let mut bad = cfg.clone();
    bad.eval.sets = compose::eval_sets(
        cfg.compose.as_ref().unwrap(),
        cfg.compose.as_ref().unwrap().cases[0].region,
    );
    bad.eval.sets[1].name = "train".into();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("eval.sets[1].name"));
    assert!(compose::plan(&ExperimentConfig::quick(), Path::new("o"))
        .unwrap_err()
        .to_string()
        .contains("[compose]"));
    assert_eq!(
        compose::plan(&Preset::ComposePaper.config(), Path::new("o"))
            .unwrap()
            .len(),
        9
    );
    let _: &ComposeConfig = cfg.compose.as_ref().unwrap();
}

#[test]
fn micro_experiment_writes_every_output_and_applies_the_rule() {
    let cfg = micro_config();
    let out = tmp_dir("compose");
    let plan = compose::plan(&cfg, &out).unwrap();
    let mut opts = RunOptions::new(&out);
    opts.progress = false;
    for p in &plan {
        compose::execute(p, &opts, false).unwrap();
        assert_eq!(compose::status(p).unwrap(), RunStatus::Done);
        let text = std::fs::read_to_string(p.dir.join("metrics.jsonl")).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            validate_schema("docs/schema/metrics.schema.json", &v);
            for set in [SET_TRAIN, SET_HELD_OUT, SET_OFF_LATTICE] {
                assert!(
                    v["sets"][set]["count"].as_u64().unwrap() > 0,
                    "{set}: {line}"
                );
            }
        }
    }
    let (c, finished) = compose::compare(&cfg, &out).unwrap();
    assert_eq!(finished.len(), 2);
    // Eight steps of a tiny model learn nothing: no verdict.
    assert!(c
        .per_case
        .iter()
        .all(|r| r.verdict == ComposeVerdict::Undetermined));
    report::write(&out, &c, &finished).unwrap();
    for f in [
        report::REPORT_HTML,
        report::COMPOSE_JSON,
        report::COMPOSE_MD,
        report::SETS_FIGURE,
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 0, "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(report::COMPOSE_JSON)).unwrap())
            .unwrap();
    validate_schema("docs/schema/compose.schema.json", &json);
    assert!(out
        .join("figures/embedding_centre_step0000008.png")
        .exists());

    // The rule reads the records: replace them with known curves.
    let finals = |case: &str, seed: u64| match case {
        "centre" => [1.0, 0.95 - 0.02 * seed as f64, 0.9],
        _ => [1.0, 0.2, 0.9],
    };
    let mut cfg2 = cfg.clone();
    cfg2.compose.as_mut().unwrap().seeds = vec![0, 1];
    let plan2 = compose::plan(&cfg2, &out).unwrap();
    for p in &plan2 {
        // Seed 1 was never trained: write its run directory from the seed-0 one.
        if !p.dir.exists() {
            let src = out.join(format!("{}-seed0", p.dataset));
            std::fs::create_dir_all(&p.dir).unwrap();
            for f in ["summary.json", "metrics.jsonl"] {
                std::fs::copy(src.join(f), p.dir.join(f)).unwrap();
            }
            bump_ddpm::RunDir::new(&p.dir)
                .write_config(&p.config)
                .unwrap();
        }
        let recs = run(&p.dataset, p.seed, finals(&p.dataset, p.seed)).records;
        bump_ddpm::RunDir::new(&p.dir)
            .rewrite_records(&recs)
            .unwrap();
    }
    let (c2, _) = compose::compare(&cfg2, &out).unwrap();
    let verdicts: Vec<ComposeVerdict> = c2.per_case.iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [ComposeVerdict::Composes, ComposeVerdict::DoesNotCompose]
    );
    let centre = &c2.per_case[0];
    assert_eq!(centre.final_accuracy[1].n, 2);
    assert!((centre.final_accuracy[1].mean.unwrap() - 0.94).abs() < 1e-12);
    assert!(report::verdict(&c2).contains("the cases that compose are: centre."));
    std::fs::remove_dir_all(&out).ok();
}
