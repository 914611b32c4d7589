//! The data-efficiency experiment: planning (datasets of stripes plus a fraction of bumps, with
//! known sizes), configuration errors, and a micro experiment whose every output must exist and
//! match its schema.

mod common;

use common::{make_micro, tmp_dir, validate_schema};

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::data::Pattern;
use bump_ddpm::stripes::{self, fraction_name, report, Composition, RunStatus};
use bump_ddpm::train::RunOptions;
use bump_ddpm::Preset;
use std::path::Path;

#[test]
fn fractions_give_stripes_plus_that_share_of_the_bump_tiling() {
    let cfg = Preset::Stripes.config();
    let runs = stripes::plan(&cfg, Path::new("o")).unwrap();
    assert_eq!(runs.len(), 10);
    let names: Vec<&str> = runs[..5].iter().map(|r| r.dataset.as_str()).collect();
    assert_eq!(names, ["f000", "f001", "f005", "f020", "f100"]);
    for r in &runs[..5] {
        let c = Composition::of(&r.config).unwrap();
        // 44 vertical + 44 horizontal stripes on the 44-px latent canvas.
        assert_eq!(c.stripes, 88, "{}", r.dataset);
        let f: f64 = r.dataset[1..].parse::<f64>().unwrap() / 100.0;
        // λ keeps round(f · 44²) bumps (at least one when f > 0).
        let expected = if f == 0.0 {
            0.0
        } else {
            (f * 1936.0).round().max(1.0)
        };
        assert!(
            (c.bumps as f64 - expected).abs() <= 1.0,
            "{}: {} bumps, expected {expected}",
            r.dataset,
            c.bumps
        );
        assert_eq!(r.config.data.pattern, Pattern::VerticalStripe);
    }
    assert_eq!(fraction_name(0.05), "f005");
    let mut bad = cfg.clone();
    bad.stripes.as_mut().unwrap().fractions = vec![0.05, 0.051];
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("stripes.fractions[1]"));
    let mut bad = cfg.clone();
    bad.stripes.as_mut().unwrap().fractions = vec![1.5];
    assert!(bad.validate().unwrap_err().to_string().contains("[0, 1]"));
    assert!(stripes::plan(&ExperimentConfig::quick(), Path::new("o"))
        .unwrap_err()
        .to_string()
        .contains("[stripes]"));
    assert_eq!(
        stripes::plan(&Preset::StripesPaper.config(), Path::new("o"))
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn micro_experiment_writes_every_output() {
    let mut cfg = Preset::Stripes.config();
    make_micro(&mut cfg, "micro-stripes");
    cfg.data.canvas = Some(20);
    cfg.data.dx = 2.0;
    cfg.data.dy = 2.0;
    cfg.eval.centres.offset = [3.0, 3.0];
    cfg.eval.centres.region = None;
    let s = cfg.stripes.as_mut().unwrap();
    s.seeds = vec![0];
    s.fractions = vec![0.0, 0.5];
    let out = tmp_dir("stripes_experiment");
    let plan = stripes::plan(&cfg, &out).unwrap();
    let mut opts = RunOptions::new(&out);
    opts.progress = false;
    for p in &plan {
        stripes::execute(p, &opts, false).unwrap();
        assert_eq!(stripes::status(p).unwrap(), RunStatus::Done);
    }
    let (c, runs) = stripes::compare(&cfg, &out).unwrap();
    assert_eq!(c.per_run.len(), 2);
    assert_eq!(c.per_fraction[0].composition.unwrap().bumps, 0);
    assert_eq!(c.per_fraction[1].composition.unwrap().bumps, 50); // half of 10 × 10
    report::write(&out, &c, &runs).unwrap();
    for f in [
        report::REPORT_HTML,
        report::STRIPES_JSON,
        report::STRIPES_MD,
        report::EFFICIENCY_FIGURE,
        "figures/data_efficiency_examples.png",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 0, "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(report::STRIPES_JSON)).unwrap())
            .unwrap();
    validate_schema("docs/schema/stripes.schema.json", &json);
    std::fs::remove_dir_all(&out).ok();
}
