//! The data-efficiency experiment: planning (datasets of stripes plus a fraction of bumps, with
//! known sizes), configuration errors, and a micro experiment whose every output must exist and
//! match its schema.

mod common;

use common::{make_micro, tmp_dir, validate_schema};

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::data::Pattern;
use bump_ddpm::stripes::{self, fraction_name, report, Composition, RunStatus, Variant};
use bump_ddpm::train::RunOptions;
use bump_ddpm::Preset;
use std::path::Path;

#[test]
fn fractions_give_stripes_plus_that_share_of_the_2d_images() {
    let cfg = Preset::Stripes.config();
    let runs = stripes::plan(&cfg, Path::new("o")).unwrap();
    assert_eq!(runs.len(), 20);
    let names: Vec<&str> = runs[..10].iter().map(|r| r.dataset.as_str()).collect();
    assert_eq!(
        names,
        [
            "bump-f000",
            "bump-f001",
            "bump-f005",
            "bump-f020",
            "bump-f100",
            "sos-f000",
            "sos-f001",
            "sos-f005",
            "sos-f020",
            "sos-f100"
        ]
    );
    let frame = stripes::visible_frame(&cfg).unwrap();
    for r in &runs[..10] {
        let c = Composition::of(&r.config).unwrap();
        let f: f64 = r.dataset[r.dataset.len() - 3..].parse::<f64>().unwrap() / 100.0;
        // λ keeps round(f · 32²) of the 2D images inside the visible frame (at least one).
        let expected = if f == 0.0 {
            0.0
        } else {
            (f * 1024.0).round().max(1.0)
        };
        assert!(
            (c.bumps as f64 - expected).abs() <= 1.0,
            "{}: {} 2D images, expected {expected}",
            r.dataset,
            c.bumps
        );
        let centres = r.config.data.centres(0).unwrap();
        if r.dataset.starts_with("bump") {
            // 44 vertical + 44 horizontal stripes on the 44-px latent canvas, their ignored label
            // at 0 (out of view), so no stripe label is a bump label.
            assert_eq!(c.stripes, 88, "{}", r.dataset);
            assert_eq!(r.config.data.pattern, Pattern::VerticalStripe);
            assert!(centres[0].1.iter().all(|p| p[1] == 0.0));
            assert!(centres[1].1.iter().all(|p| p[0] == 0.0));
            for (pattern, cs) in &centres[2..] {
                assert_eq!(*pattern, Pattern::Bump);
                assert!(cs.iter().all(|&p| frame.contains(p)));
            }
            assert!(r.config.eval.sets.is_empty());
        } else {
            // Every SOS label outside the 32² frame (44² − 32²), then f of those inside.
            assert_eq!(c.stripes, 44 * 44 - 32 * 32, "{}", r.dataset);
            assert_eq!(r.config.data.pattern, Pattern::SumOfStripes);
            assert!(centres[0].1.iter().all(|&p| !frame.contains(p)));
            let sets = &r.config.eval.sets;
            assert_eq!(sets.len(), 1);
            assert_eq!(sets[0].name, stripes::SOS_SET);
            assert_eq!(sets[0].target, Pattern::SumOfStripes);
            assert_eq!(sets[0].centres, r.config.eval.centres);
        }
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
    let mut bad = cfg.clone();
    bad.stripes.as_mut().unwrap().variants = vec![Variant::Sos, Variant::Sos];
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("stripes.variants[1]"));
    let mut bad = cfg.clone();
    bad.data.canvas = None;
    assert!(stripes::plan(&bad, Path::new("o"))
        .unwrap_err()
        .to_string()
        .contains("data.canvas"));
    assert!(stripes::plan(&ExperimentConfig::quick(), Path::new("o"))
        .unwrap_err()
        .to_string()
        .contains("[stripes]"));
    assert_eq!(
        stripes::plan(&Preset::StripesPaper.config(), Path::new("o"))
            .unwrap()
            .len(),
        20
    );
}

#[test]
fn an_sos_evaluation_set_scores_rendered_sos_images_as_correct() {
    // The SOS set's scorer, as the evaluator builds it, on the training renders themselves:
    // every in-frame 2D SOS image is correct, a bump is not.
    let cfg = Preset::Stripes.config();
    let canvas = cfg.data.canvas().unwrap();
    let render = cfg.data.render_config();
    let score = bump_ddpm::data::StripeScoreConfig::for_render(&render, Pattern::SumOfStripes);
    let labels = cfg.eval.centres.centres(canvas.latent).unwrap();
    let targets: Vec<[f32; 2]> = labels
        .iter()
        .map(|&c| canvas.latent_to_image(c))
        .map(|c| [c[0] as f32, c[1] as f32])
        .collect();
    let n = cfg.data.n;
    for (pattern, expect) in [(Pattern::SumOfStripes, 1.0), (Pattern::Bump, 0.0)] {
        let ds =
            bump_ddpm::data::Dataset::render_with(&render, pattern, Some(canvas), &labels).unwrap();
        let r = bump_ddpm::data::score_sos_batch(ds.images(), n, &targets, &score).unwrap();
        let s = bump_ddpm::record::SetScore::of_sos(&r);
        assert_eq!(s.count, labels.len());
        assert!(
            (s.accuracy - expect).abs() < 0.02,
            "{pattern:?}: {}",
            s.accuracy
        );
    }
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
    s.variants = vec![Variant::Bump, Variant::Sos];
    let out = tmp_dir("stripes_experiment");
    let plan = stripes::plan(&cfg, &out).unwrap();
    let mut opts = RunOptions::new(&out);
    opts.progress = false;
    for p in &plan {
        stripes::execute(p, &opts, false).unwrap();
        assert_eq!(stripes::status(p).unwrap(), RunStatus::Done);
    }
    let (c, runs) = stripes::compare(&cfg, &out).unwrap();
    assert_eq!(c.per_run.len(), 4);
    assert_eq!(c.per_fraction[0].composition.unwrap().bumps, 0);
    // Half of the 2D images inside the 16² frame of the 20-px canvas at spacing 2 (8 × 8).
    assert_eq!(c.per_fraction[1].composition.unwrap().bumps, 32);
    assert_eq!(c.per_fraction[3].variant, Variant::Sos);
    assert_eq!(c.per_fraction[3].composition.unwrap().bumps, 32);
    // Every SOS run's records carry the SOS set's scores.
    for r in runs.iter().filter(|r| r.dataset.starts_with("sos")) {
        assert!(r
            .records
            .iter()
            .all(|x| x.sets.contains_key(stripes::SOS_SET)));
    }
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
