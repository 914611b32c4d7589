//! The sampler curve on a micro run: record structure, NFE = the sampler's steps (DDPM over all
//! T = 50 steps makes 50 calls), the curve's DDIM-3 at seed 0 equals the run's own DDIM-3
//! evaluation, same seed → same bits, resume adds nothing, and the input errors.

mod common;

use bump_ddpm::diffusion::SamplerConfig;
use bump_ddpm::sampler_curve::{read_points, run_curve, CurvePoint, CurveSampler, CurveSpec};
use bump_ddpm::{Device, RunDir};
use common::{micro_config, quiet, tmp_dir};

/// The points without `wall_s` (the one clock-dependent field).
fn without_wall(points: &[CurvePoint]) -> Vec<CurvePoint> {
    points
        .iter()
        .cloned()
        .map(|mut p| {
            p.wall_s = 0.0;
            p
        })
        .collect()
}

#[test]
fn sampler_curve_on_a_micro_run() {
    let mut cfg = micro_config();
    cfg.diffusion.num_train_timesteps = 50; // so full DDPM is 50 network calls
    cfg.train.steps = 4;
    let dir = tmp_dir("sampler-curve");
    let outcome = bump_ddpm::train::run(&cfg, &quiet(&dir)).unwrap();
    let run = RunDir::new(&dir);
    let own = outcome.records.last().unwrap().clone();
    assert_eq!(own.step, 4);

    let samplers: Vec<CurveSampler> = ["ddim-3", "dpmpp-2", "ddpm"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let spec = CurveSpec {
        samplers: samplers.clone(),
        seeds: 2,
        ..CurveSpec::new()
    };
    let out_a = dir.join("curve-a");
    let a = run_curve(&run, &out_a, &spec, &Device::Cpu).unwrap();

    // Structure: sampler-major, two seeds each, every point of step 4, raw weights.
    let conditions = cfg.eval.centres.centres(cfg.data.extent()).unwrap().len();
    assert_eq!(a.points.len(), 6);
    for (i, p) in a.points.iter().enumerate() {
        assert_eq!(p.sampler, samplers[i / 2].to_string());
        assert_eq!(p.seed_index, i % 2);
        assert_eq!(p.seed, cfg.eval.seed + (((i % 2) as u64) << 48));
        assert_eq!((p.step, p.conditions), (4, conditions));
        // NFE is the counted denoiser calls; it equals the sampler's grid length.
        assert_eq!(p.nfe, p.steps);
        assert_eq!(p.nfe, p.config.timesteps(50).unwrap().len());
        let mix =
            p.accuracy + p.multi_bump_rate + p.empty_rate + p.single_wrong_rate + p.malformed_rate;
        assert!((mix - 1.0).abs() < 1e-9, "{p:?}");
        assert!(p.accuracy_tight <= p.accuracy && p.wall_s > 0.0);
    }
    let nfe: Vec<usize> = a.rows.iter().map(|r| r.nfe).collect();
    assert_eq!(nfe, [3, 2, 50]); // DDIM-3, DPM-Solver++ 2 steps, DDPM over all T = 50
    assert_eq!(a.reference.as_deref(), Some("ddpm"));
    assert!(a.rows.iter().all(|r| r.seeds == 2));
    assert!(a.rows[2].matches_reference.is_none());
    assert!(a.rows[..2].iter().all(|r| r.matches_reference.is_some()));

    // The curve scores as the evaluation does: DDIM-3 at seed 0 (the run's eval.seed, the
    // run's own sampler options) repeats the run's own record of step 4.
    assert_eq!(a.points[0].config, cfg.eval.sampler);
    assert_eq!(a.points[0].accuracy, own.accuracy);
    assert_eq!(a.points[0].accuracy_tight, own.accuracy_tight);
    assert_eq!(a.points[0].multi_bump_rate, own.multi_bump_rate);
    assert_eq!(a.points[0].empty_rate, own.empty_rate);

    // Files: the JSONL reads back to the points, the table names the reference, the PNG is one.
    assert_eq!(read_points(&a.jsonl).unwrap(), a.points);
    let table = std::fs::read_to_string(&a.table).unwrap();
    assert!(table.contains("| ddpm | 50 | 2 |") && table.contains("reference"));
    let png = std::fs::read(&a.figure).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000);

    // Same seeds → same results (all but the wall time), in a fresh directory.
    let b = run_curve(&run, &dir.join("curve-b"), &spec, &Device::Cpu).unwrap();
    assert_eq!(without_wall(&a.points), without_wall(&b.points));

    // Resume with everything measured adds nothing.
    let resumed = CurveSpec {
        resume: true,
        ..spec.clone()
    };
    let c = run_curve(&run, &out_a, &resumed, &Device::Cpu).unwrap();
    assert_eq!(c.points, a.points);
    assert_eq!(read_points(&a.jsonl).unwrap().len(), 6);

    // Bad input, each named in the error.
    let err = |spec: &CurveSpec, run: &RunDir| {
        run_curve(run, &dir.join("curve-bad"), spec, &Device::Cpu)
            .unwrap_err()
            .to_string()
    };
    let too_long = CurveSpec {
        samplers: vec!["ddim-51".parse().unwrap()],
        ..spec.clone()
    };
    assert!(err(&too_long, &run).contains("T = 50"));
    let no_step = CurveSpec {
        step: Some(3),
        ..spec.clone()
    };
    assert!(err(&no_step, &run).contains("no checkpoint of step 3"));
    assert!(err(&spec, &RunDir::new(dir.join("nope"))).contains("no run directory"));
    let empty = dir.join("empty-run");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(dir.join("config.json"), empty.join("config.json")).unwrap();
    assert!(err(&spec, &RunDir::new(&empty)).contains("has no checkpoints"));
    for bad in ["ddim", "foo-3", "ddim-0", "dpmpp-x"] {
        let e = bad.parse::<CurveSampler>().unwrap_err().to_string();
        assert!(e.contains(bad) && e.contains("ddim-N"), "{e}");
    }
    assert_eq!(
        "ddpm-100"
            .parse::<CurveSampler>()
            .unwrap()
            .config(&cfg.eval.sampler),
        SamplerConfig::respaced_ddpm(100).with_clip_sample(Some((-1.0, 1.0)))
    );
    std::fs::remove_dir_all(&dir).ok();
}
