//! End-to-end tests of the facade on a micro configuration (tiny model, 16×16 canvas, a few
//! dozen steps): every output file, the documented JSON schema, bit-identical resume, and a
//! corrupt checkpoint refused without touching the outputs.

mod common;

use bump_ddpm::train::{latest_checkpoint, read_records, run};
use common::{micro_config, quiet, schema_validator, tmp_dir, validate_schema};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn checkpoint_weights(path: &Path) -> HashMap<String, Vec<f32>> {
    let (model, _, _) =
        bump_ddpm::unet::load_checkpoint(path, &candle_core::Device::Cpu).expect("load");
    model
        .vars()
        .into_iter()
        .map(|(n, v)| {
            (
                n,
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            )
        })
        .collect()
}

fn schema_accepts(schema_path: &str, instance: &serde_json::Value) -> bool {
    schema_validator(schema_path).is_valid(instance)
}

#[test]
fn micro_run_writes_every_output_and_matches_the_schema() {
    let out = tmp_dir("micro");
    let cfg = micro_config();
    let outcome = run(&cfg, &quiet(&out)).expect("micro run");

    for f in [
        "metrics.jsonl",
        "summary.json",
        "config.json",
        "report.html",
        "figures/accuracy.png",
        "figures/metrics.png",
    ] {
        let p = out.join(f);
        assert!(p.is_file(), "missing {f}");
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "empty {f}");
    }
    let records = read_records(&out.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = records.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![0, 4, 8, 12]);
    assert_eq!(outcome.records.len(), 4);

    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        validate_schema("docs/schema/metrics.schema.json", &v);
    }
    // A collapsed layer 4 (every condition gives the same activation, as at initialisation
    // with some seeds) measures dimension 0 and participation ratio 0: still a valid record.
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mut collapsed = first.clone();
    collapsed["participation_ratio"] = serde_json::json!(0.0);
    collapsed["twonn_multiscale_dim"] = serde_json::json!(0.0);
    validate_schema("docs/schema/metrics.schema.json", &collapsed);
    // The schema can fail: a negative ratio is refused.
    let mut bad = first;
    bad["participation_ratio"] = serde_json::json!(-1.0);
    assert!(!schema_accepts("docs/schema/metrics.schema.json", &bad));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    validate_schema("docs/schema/summary.schema.json", &summary);
    assert_eq!(summary["steps"], 12);

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("figures/accuracy.png") && html.contains("embedding_step"));
    let ckpts: Vec<_> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .collect();
    assert_eq!(ckpts.len(), 4, "one checkpoint per evaluated step");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn killed_and_resumed_run_ends_bit_identical() {
    let cfg = micro_config();
    let straight = tmp_dir("straight");
    run(&cfg, &quiet(&straight)).expect("uninterrupted run");

    let resumed = tmp_dir("resumed");
    let mut first = quiet(&resumed);
    first.stop_after = Some(8);
    let partial = run(&cfg, &first).expect("first half");
    assert!(partial.summary.is_none());
    assert_eq!(
        latest_checkpoint(&resumed.join("checkpoints"))
            .unwrap()
            .unwrap()
            .0,
        8
    );

    let mut second = quiet(&resumed);
    second.resume = true;
    run(&cfg, &second).expect("resumed half");

    let a = checkpoint_weights(&straight.join("checkpoints/step_00000012.safetensors"));
    let b = checkpoint_weights(&resumed.join("checkpoints/step_00000012.safetensors"));
    assert_eq!(a.len(), b.len());
    for (name, wa) in &a {
        let wb = &b[name];
        assert!(
            wa.iter().zip(wb).all(|(x, y)| x.to_bits() == y.to_bits()),
            "tensor {name} differs after resume"
        );
    }
    let steps: Vec<u64> = read_records(&resumed.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect();
    assert_eq!(
        steps,
        vec![0, 4, 8, 12],
        "no duplicated or missing records after resume"
    );
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&resumed);
}

#[test]
fn corrupt_checkpoint_on_resume_is_a_clear_error_and_touches_nothing() {
    let cfg = micro_config();
    let out = tmp_dir("corrupt");
    let mut first = quiet(&out);
    first.stop_after = Some(4);
    run(&cfg, &first).expect("first part");
    let (_, ckpt) = latest_checkpoint(&out.join("checkpoints"))
        .unwrap()
        .unwrap();
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();

    let before: Vec<(PathBuf, Vec<u8>)> = ["metrics.jsonl", "config.json"]
        .iter()
        .map(|f| (out.join(f), std::fs::read(out.join(f)).unwrap()))
        .collect();
    let mut again = quiet(&out);
    again.resume = true;
    let err = run(&cfg, &again).expect_err("a truncated checkpoint must be refused");
    let msg = err.to_string();
    assert!(
        msg.contains("step_00000004"),
        "the error names the file: {msg}"
    );
    for (p, b) in before {
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b,
            "{} was modified",
            p.display()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_configuration_is_rejected_before_any_output() {
    let mut cfg = micro_config();
    cfg.data.sigma = bump_ddpm::data::Sigma::Spherical(-1.0);
    let out = tmp_dir("badcfg");
    let err = run(&cfg, &quiet(&out)).expect_err("negative sigma");
    assert!(err.to_string().contains("sigma"));
    assert!(
        !out.exists(),
        "no output directory for a rejected configuration"
    );
}

#[test]
fn diverging_training_stops_with_the_last_good_checkpoint() {
    // A learning rate of 1e30 (with AdamW's normalised steps) sends the weights to ±inf within
    // a step or two after warm-up, so the loss turns non-finite.
    let mut cfg = micro_config();
    cfg.train.lr = 1e30;
    cfg.train.warmup = 0;
    cfg.train.grad_clip = 0.0;
    let out = tmp_dir("nan");
    let err = run(&cfg, &quiet(&out)).expect_err("the loss must diverge");
    match err {
        bump_ddpm::Error::NonFiniteLoss {
            step,
            loss,
            last_good,
        } => {
            assert!(!loss.is_finite(), "{loss}");
            assert!(step >= 1 && step < cfg.train.steps, "step {step}");
            // Step 0 is always checkpointed before any update: that is the last good one.
            let good = last_good.expect("a checkpoint was written before divergence");
            assert!(good.exists(), "{}", good.display());
            let (ckpt_step, _) = latest_checkpoint(&out.join("checkpoints"))
                .unwrap()
                .unwrap();
            assert!(ckpt_step < step);
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn offline_reevaluation_writes_its_own_records_beside_the_run() {
    use bump_ddpm::reevaluate::{reevaluate, Reevaluation};
    use bump_ddpm::run_dir::{RunDir, RunFile};
    let cfg = micro_config();
    let out = tmp_dir("reeval");
    run(&cfg, &quiet(&out)).expect("micro run");
    let run_dir = RunDir::new(&out);
    let original = run_dir.read_records().unwrap();
    let target = RunDir::new(out.join("evaluations").join("k2"));
    let spec = Reevaluation {
        overrides: vec!["eval.probe.samples=2".parse().unwrap()],
        steps: Some(vec![0, 12]),
        progress: false,
    };
    let records = reevaluate(&run_dir, &target, &spec, &candle_core::Device::Cpu).unwrap();
    assert_eq!(
        records.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![0, 12]
    );
    assert_eq!(target.read_records().unwrap(), records);
    assert_eq!(target.read_config().unwrap().eval.probe.samples, 2);
    assert!(target.snapshot_path(12).is_file());
    // The originals are untouched, and the training loss is carried over.
    assert_eq!(run_dir.read_records().unwrap(), original);
    assert_eq!(records[1].train_loss, original[3].train_loss);

    // Re-evaluating with the run's own settings reproduces its generation numbers exactly.
    let same = RunDir::new(out.join("evaluations").join("same"));
    let spec = Reevaluation {
        overrides: vec![],
        steps: None,
        progress: false,
    };
    let again = reevaluate(&run_dir, &same, &spec, &candle_core::Device::Cpu).unwrap();
    for (a, b) in again.iter().zip(&original) {
        assert_eq!(
            (a.step, a.accuracy, a.multi_bump_rate),
            (b.step, b.accuracy, b.multi_bump_rate)
        );
        assert_eq!(a.condition_signal, b.condition_signal);
    }

    // Only evaluation settings may change, and missing checkpoints are named.
    let bad = Reevaluation {
        overrides: vec!["data.sigma=3".parse().unwrap()],
        steps: None,
        progress: false,
    };
    let e = reevaluate(&run_dir, &same, &bad, &candle_core::Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("data.sigma"), "{e}");
    let missing = Reevaluation {
        overrides: vec![],
        steps: Some(vec![7]),
        progress: false,
    };
    let e = reevaluate(&run_dir, &same, &missing, &candle_core::Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("step 7"), "{e}");
    assert!(run_dir.path(RunFile::Config).is_file());
    let _ = std::fs::remove_dir_all(&out);
}
