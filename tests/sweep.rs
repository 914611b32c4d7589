//! Sweeps: spec parsing and expansion (counts, order, stable ids, zipped axes, invalid cells,
//! unknown keys), the sweep directory, one cell run and resumed in-process, a micro sweep run
//! twice by the local backend through `examples/sweep` (the second run does no work), a failing
//! cell that does not stop the others, and a deterministic merge with a heatmap.
//!
//! The local-backend test needs `target/<profile>/examples/sweep`, which `cargo test` builds
//! with the examples; alone, run `cargo build --release --example sweep` first.

mod common;

use bump_ddpm::config::ExperimentConfig;
use bump_ddpm::sweep::{
    self, cell::config_hash, heatmap::Heatmap, CellRun, CellState, HeatmapSpec, LocalOptions,
    Sweep, SweepSpec,
};
use common::{micro_config, quiet, tmp_dir};
use std::path::Path;

/// A spec over the micro configuration (written next to it as `base.toml`).
fn spec_in(dir: &Path, body: &str) -> SweepSpec {
    std::fs::create_dir_all(dir).unwrap();
    micro_config().save(dir.join("base.toml")).unwrap();
    let text = format!("base_file = \"base.toml\"\n{body}");
    std::fs::write(dir.join("spec.toml"), &text).unwrap();
    SweepSpec::load(dir.join("spec.toml")).unwrap()
}

fn spec_err(dir: &Path, body: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    micro_config().save(dir.join("base.toml")).unwrap();
    let text = format!("base_file = \"base.toml\"\n{body}");
    std::fs::write(dir.join("spec.toml"), &text).unwrap();
    match SweepSpec::load(dir.join("spec.toml")).and_then(|s| s.expand()) {
        Ok(cells) => panic!("expected an error, got {} cells", cells.len()),
        Err(e) => e.to_string(),
    }
}

/// The hash of a configuration computed here, independently of the library's helper.
fn xxh3_of(cfg: &ExperimentConfig) -> String {
    format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(serde_json::to_string(cfg).unwrap().as_bytes())
    )
}

#[test]
fn expansion_counts_order_and_stable_ids() {
    let dir = tmp_dir("sweep-expand");
    let body = r#"
[set]
"train.steps" = 8

[axes]
"data.sigma" = [1.0, 1.5]
train.seed = [0, 1, 2]
"#;
    let spec = spec_in(&dir, body);
    assert_eq!(spec.name, "spec");
    assert_eq!(spec.axis_keys(), ["data.sigma", "train.seed"]);
    let cells = spec.expand().unwrap();
    assert_eq!(cells.len(), 6);
    // The first axis varies slowest.
    let points: Vec<(f64, u64)> = cells
        .iter()
        .map(|c| (c.config.data.sigma.xy().0, c.config.train.seed))
        .collect();
    assert_eq!(
        points,
        [(1.0, 0), (1.0, 1), (1.0, 2), (1.5, 0), (1.5, 1), (1.5, 2)]
    );
    // The id of cell 4 is its readable prefix and the hash of the configuration built by hand.
    let mut expected = micro_config();
    expected.train.steps = 8;
    expected.data.sigma = bump_ddpm::data::Sigma::Spherical(1.5);
    expected.train.seed = 1;
    expected.validate().unwrap();
    assert_eq!(cells[4].config, expected);
    assert_eq!(
        cells[4].id,
        format!("sigma1.5_seed1-{}", xxh3_of(&expected))
    );
    assert_eq!(cells[4].axes["train.seed"], serde_json::json!(1));
    // Stable: the same spec parsed again gives the same ids.
    let again = SweepSpec::load(dir.join("spec.toml"))
        .unwrap()
        .expand()
        .unwrap();
    let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
    let ids2: Vec<&str> = again.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ids2);
    // Every cell's id differs.
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 6);
}

#[test]
fn changing_any_config_value_changes_the_hash() {
    let base = micro_config();
    let h = config_hash(&base).unwrap();
    assert_eq!(h, xxh3_of(&base));
    type Edit = Box<dyn Fn(&mut ExperimentConfig)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("name", Box::new(|c| c.name.push('x'))),
        ("data.dx", Box::new(|c| c.data.dx += 0.5)),
        ("data.lambda", Box::new(|c| c.data.lambda = 0.9)),
        (
            "model.base_channels",
            Box::new(|c| c.model.base_channels += 8),
        ),
        ("train.lr", Box::new(|c| c.train.lr *= 1.0 + 1e-12)),
        ("train.seed", Box::new(|c| c.train.seed += 1)),
        (
            "train.checkpoints.every",
            Box::new(|c| c.train.checkpoints.every += 1),
        ),
        ("eval.seed", Box::new(|c| c.eval.seed += 1)),
        ("eval.k", Box::new(|c| c.eval.k += 1)),
        (
            "diffusion",
            Box::new(|c| c.diffusion.num_train_timesteps += 1),
        ),
    ];
    for (what, edit) in edits {
        let mut c = base.clone();
        edit(&mut c);
        assert_ne!(config_hash(&c).unwrap(), h, "{what}");
    }
}

#[test]
fn zipped_axes_vary_together() {
    let dir = tmp_dir("sweep-zip");
    let body = r#"
name = "zipped"
[axes]
"train.seed" = [0, 1]
[[zip]]
"data.dx" = [1.0, 2.0, 4.0]
"data.dy" = [1.0, 2.0, 4.0]
"#;
    let spec = spec_in(&dir, body);
    assert_eq!(spec.axis_keys(), ["train.seed", "data.dx", "data.dy"]);
    let cells = spec.expand().unwrap();
    assert_eq!(cells.len(), 6);
    for c in &cells {
        assert_eq!(c.config.data.dx, c.config.data.dy);
    }
    assert_eq!(cells[2].config.data.dx, 4.0);
    assert_eq!(cells[3].config.train.seed, 1);
    assert!(cells[2].id.starts_with("seed0_dx4_dy4-"), "{}", cells[2].id);

    let e = spec_err(
        &dir,
        "[[zip]]\n\"data.dx\" = [1.0, 2.0]\n\"data.dy\" = [1.0, 2.0, 4.0]\n",
    );
    assert!(e.contains("`data.dx` has 2 values, `data.dy` has 3"), "{e}");
}

#[test]
fn invalid_cells_are_all_reported_before_anything_is_written() {
    let dir = tmp_dir("sweep-invalid");
    let spec = spec_in(
        &dir,
        "[axes]\n\"data.sigma\" = [-1.0, 1.0, 0.0]\n\"train.seed\" = [0, 1]\n",
    );
    let out = dir.join("out");
    let e = Sweep::create(&spec, &out).unwrap_err().to_string();
    assert!(e.contains("4 of 6 cells are invalid"), "{e}");
    for (i, sigma, seed) in [(0, "-1.0", 0), (1, "-1.0", 1), (4, "0.0", 0), (5, "0.0", 1)] {
        let line = format!("cell {i} (data.sigma = {sigma}, train.seed = {seed})");
        assert!(e.contains(&line), "missing `{line}` in {e}");
    }
    assert!(!e.contains("cell 2 ("), "{e}");
    assert!(!out.exists(), "nothing may be written for an invalid sweep");

    // Two cells with the same configuration.
    let e = spec_err(&dir, "[axes]\n\"train.seed\" = [0, 1, 0]\n");
    assert!(
        e.contains("cells 0 and 2 expand to the same configuration"),
        "{e}"
    );
}

#[test]
fn unknown_and_malformed_keys_are_named() {
    let dir = tmp_dir("sweep-keys");
    let e = spec_err(&dir, "[axis]\n\"data.sigma\" = [1.0]\n");
    assert!(e.contains("axis"), "{e}");
    assert!(e.contains("unknown field"), "{e}");
    let e = spec_err(&dir, "[axes]\n\"data.sigam\" = [1.0]\n");
    assert!(e.contains("sigam"), "{e}");
    let e = spec_err(&dir, "[axes]\n\"data.sigma\" = 1.0\n");
    assert!(e.contains("`data.sigma` must be a list of values"), "{e}");
    let e = spec_err(&dir, "[axes]\n\"data.sigma\" = []\n");
    assert!(e.contains("`data.sigma` has no values"), "{e}");
    let e = spec_err(
        &dir,
        "[set]\n\"train.seed\" = 1\n[axes]\n\"train.seed\" = [0]\n",
    );
    assert!(e.contains("`train.seed` is already given in [set]"), "{e}");
    let e = spec_err(&dir, "base = \"quick\"\n");
    assert!(e.contains("not both"), "{e}");
    std::fs::write(dir.join("nobase.toml"), "[axes]\n\"train.seed\" = [0]\n").unwrap();
    let e = SweepSpec::load(dir.join("nobase.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs a base configuration"), "{e}");
    std::fs::write(dir.join("preset.toml"), "base = \"quik\"\n").unwrap();
    let e = SweepSpec::load(dir.join("preset.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown preset `quik`"), "{e}");
    // A grid beyond MAX_CELLS is refused when the spec is read, before any cell is built.
    let seeds = (0..=bump_ddpm::sweep::MAX_CELLS / 100)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let lambdas = (1..=100)
        .map(|i| format!("{}", i as f64 / 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    let e = spec_err(
        &dir,
        &format!("[axes]\n\"train.seed\" = [{seeds}]\n\"data.lambda\" = [{lambdas}]\n"),
    );
    assert!(e.contains("more than 10000 cells"), "{e}");
    assert!(e.contains("101 × 100"), "{e}");
}

#[test]
fn a_directory_of_another_sweep_is_refused() {
    let dir = tmp_dir("sweep-other");
    let out = dir.join("out");
    let a = spec_in(&dir, "[axes]\n\"train.seed\" = [0, 1]\n");
    let created = Sweep::create(&a, &out).unwrap();
    assert_eq!(Sweep::open(&out).unwrap(), created);
    // The same spec again is accepted.
    Sweep::create(&a, &out).unwrap();
    let b = spec_in(&dir, "[axes]\n\"train.seed\" = [0, 2]\n");
    let e = Sweep::create(&b, &out).unwrap_err().to_string();
    assert!(e.contains("holds another sweep"), "{e}");
    assert!(e.contains("cell 1"), "{e}");
    // A hand-edited cells.json is caught by its hashes.
    let path = out.join(sweep::CELLS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"seed\": 1,", "\"seed\": 3,", 1)).unwrap();
    let e = Sweep::open(&out).unwrap_err().to_string();
    assert!(e.contains("does not match its configuration"), "{e}");
}

#[test]
fn a_cell_runs_resumes_and_is_then_skipped() {
    let dir = tmp_dir("sweep-cell");
    let spec = spec_in(
        &dir,
        "[set]\n\"train.steps\" = 8\n[axes]\n\"train.seed\" = [5]\n",
    );
    let sweep = Sweep::create(&spec, dir.join("out")).unwrap();
    let cell = &sweep.cells[0];
    assert_eq!(sweep.state(cell).unwrap(), CellState::Missing);
    let mut opts = quiet(Path::new("ignored"));
    opts.stop_after = Some(4);
    sweep.run_cell(0, &opts).unwrap();
    assert_eq!(sweep.state(cell).unwrap(), CellState::Partial(4));
    match sweep.run_cell(0, &quiet(Path::new("ignored"))).unwrap() {
        CellRun::Ran { resumed, outcome } => {
            assert!(resumed);
            assert_eq!(outcome.summary.unwrap().steps, 8);
        }
        CellRun::AlreadyDone => panic!("the cell was not done"),
    }
    assert_eq!(sweep.state(cell).unwrap(), CellState::Done);
    assert!(matches!(
        sweep.run_cell(0, &quiet(Path::new("ignored"))).unwrap(),
        CellRun::AlreadyDone
    ));
    let e = sweep
        .run_cell(1, &quiet(Path::new("x")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--index 1 is out of range"), "{e}");
}

#[test]
fn micro_sweep_local_backend_twice_then_deterministic_merge_and_heatmap() {
    let dir = tmp_dir("sweep-local");
    let spec = spec_in(
        &dir,
        "[set]\n\"train.steps\" = 8\n[axes]\n\"data.sigma\" = [1.0, 1.5]\n\"train.seed\" = [0, 1]\n",
    );
    let out = dir.join("out");
    let sweep = Sweep::create(&spec, &out).unwrap();
    let bin = common::example_binary("sweep");

    // A wrapper that fails cell 1 and runs the others: a failure stops nothing else.
    let wrapper = dir.join("fail-one.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$4\" = 1 ]; then echo 'injected failure' >&2; exit 3; fi\nexec '{}' \"$@\"\n",
            bin.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut opts = LocalOptions::new(&wrapper);
    opts.parallel = 2;
    opts.progress = false;
    let first = sweep::run_local(&sweep, &opts).unwrap();
    assert_eq!(first.finished, [0, 2, 3], "{}", first.summary());
    assert_eq!(first.failed.len(), 1);
    assert_eq!(first.failed[0].index, 1);
    assert_eq!(first.failed[0].reason, "exit status 3");
    let log = std::fs::read_to_string(&first.failed[0].log).unwrap();
    assert!(log.contains("injected failure"), "{log}");
    assert!(
        first.summary().contains("failed: cell 1"),
        "{}",
        first.summary()
    );
    // The cells that ran logged their training and got the thread split.
    let log0 = std::fs::read_to_string(sweep.log_path(&sweep.cells[0])).unwrap();
    assert!(log0.contains("thread(s)"), "{log0}");

    // Second run, with the real binary: only the failed cell runs.
    opts.exe = bin.clone();
    let second = sweep::run_local(&sweep, &opts).unwrap();
    assert_eq!(second.skipped, [0, 2, 3]);
    assert_eq!(second.finished, [1]);
    // Third run: no work at all.
    let third = sweep::run_local(&sweep, &opts).unwrap();
    assert_eq!(third.skipped, [0, 1, 2, 3]);
    assert!(third.finished.is_empty() && third.failed.is_empty());

    // The merge is sorted by id, complete, and byte-identical when repeated.
    let merged = sweep::merge(&sweep).unwrap();
    let jsonl = std::fs::read(&merged.jsonl).unwrap();
    let csv = std::fs::read(&merged.csv).unwrap();
    let again = sweep::merge(&sweep).unwrap();
    assert_eq!(std::fs::read(&again.jsonl).unwrap(), jsonl);
    assert_eq!(std::fs::read(&again.csv).unwrap(), csv);
    let ids: Vec<&str> = merged.rows.iter().map(|r| r.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert_eq!(merged.rows.len(), 4);
    for r in &merged.rows {
        assert_eq!(r.status, "done");
        let m = r.metrics.as_ref().unwrap();
        assert_eq!(m.steps, 8);
        // Against the run's own summary.
        let cell = &sweep.cells[r.index];
        let summary = bump_ddpm::RunDir::new(sweep.cell_dir(cell))
            .read_summary()
            .unwrap();
        assert_eq!(m.final_accuracy, summary.final_accuracy);
        assert_eq!(m.gen_c, summary.gen_phase_onsets.c);
    }
    let csv_text = String::from_utf8(csv).unwrap();
    let header = csv_text.lines().next().unwrap();
    assert!(
        header.starts_with("id,index,status,data.sigma,train.seed,final_gen_phase"),
        "{header}"
    );
    assert_eq!(csv_text.lines().count(), 5);

    // A heatmap over σ × seed, and σ alone with the seeds aggregated.
    let spec: HeatmapSpec = "sigma,seed,final_accuracy".parse().unwrap();
    let (hm, [png, svg]) = sweep::heatmap::write_heatmap(&sweep, &merged.rows, &spec).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    assert_eq!(hm.x_labels, ["1.0", "1.5"]);
    assert_eq!(hm.y_labels, ["0", "1"]);
    assert!(hm.grid.iter().flatten().all(|a| a.n == 1 && a.of == 1));

    // Learning curves over σ × seed; bad specs are errors that say what is wrong.
    use bump_ddpm::sweep::{curves::write_curves, CurvesSpec};
    let png = write_curves(&sweep, &merged.rows, &"sigma,seed".parse().unwrap()).unwrap();
    assert!(png.ends_with("figures/curves-sigma-seed.png"), "{png:?}");
    assert!(std::fs::metadata(&png).unwrap().len() > 5000);
    let bad = |s: &str| {
        s.parse::<CurvesSpec>()
            .and_then(|spec| write_curves(&sweep, &merged.rows, &spec))
            .unwrap_err()
            .to_string()
    };
    assert!(bad("sigma").contains("expected X,Y"));
    assert!(bad("sigma,sigma").contains("same axis"));
    assert!(bad("sigma,lambda").contains("--curves: `lambda` is not an axis"));
    let unfinished: Vec<_> = merged
        .rows
        .iter()
        .cloned()
        .map(|mut r| {
            r.metrics = None;
            r
        })
        .collect();
    let e = write_curves(&sweep, &unfinished, &"sigma,seed".parse().unwrap()).unwrap_err();
    assert!(e.to_string().contains("no finished cell"), "{e}");
}

#[test]
fn heatmap_aggregates_and_leaves_missing_cells_blank() {
    use bump_ddpm::sweep::merge::{CellMetrics, ResultRow};
    let metrics = |acc: f64| CellMetrics {
        steps: 8,
        wall_s: 1.0,
        final_accuracy: acc,
        final_accuracy_tight: acc,
        final_gen_phase: bump_ddpm::analysis::Phase::C,
        final_rep_phase: bump_ddpm::analysis::Phase::C,
        gen_a: Some(0),
        gen_b: None,
        gen_c: Some(4),
        gen_c_for_good: Some(4),
        gen_b_steps: None,
        rep_a: None,
        rep_b: None,
        rep_c: Some(0),
        rep_c_for_good: Some(0),
        rep_b_steps: None,
        sets: Default::default(),
    };
    let row = |sigma: f64, dx: f64, seed: u64, m: Option<CellMetrics>| ResultRow {
        id: format!("s{sigma}-d{dx}-{seed}"),
        index: 0,
        status: if m.is_some() { "done" } else { "missing" }.into(),
        axes: [
            ("data.sigma".to_string(), serde_json::json!(sigma)),
            ("data.dx".to_string(), serde_json::json!(dx)),
            ("train.seed".to_string(), serde_json::json!(seed)),
        ]
        .into_iter()
        .collect(),
        metrics: m,
    };
    let rows = vec![
        row(1.0, 1.0, 0, Some(metrics(0.2))),
        row(1.0, 1.0, 1, Some(metrics(0.4))),
        row(1.0, 1.0, 2, None),
        row(2.0, 1.0, 0, None),
        row(2.0, 1.0, 1, None),
        row(1.0, 2.0, 0, Some(metrics(0.9))),
        row(2.0, 2.0, 0, Some(metrics(1.0))),
    ];
    let keys: Vec<String> = ["data.sigma", "data.dx", "train.seed"]
        .map(String::from)
        .into();
    let spec: HeatmapSpec = "data.sigma,dx,final_accuracy,seed".parse().unwrap();
    let hm = Heatmap::compute(&rows, &keys, &spec).unwrap();
    assert_eq!(hm.over, ["train.seed"]);
    let a = &hm.grid[0][0];
    assert_eq!((a.n, a.of), (2, 3));
    assert!((a.mean.unwrap() - 0.3).abs() < 1e-12);
    assert!((a.sd.unwrap() - 0.02f64.sqrt()).abs() < 1e-12);
    assert_eq!(hm.cell_text(a), "0.300 ± 0.141 (2/3)");
    // σ = 2, dx = 1: two cells, none finished: blank, not zero.
    let b = &hm.grid[0][1];
    assert_eq!((b.n, b.of, b.mean), (0, 2, None));
    assert_eq!(hm.cell_text(b), "– (0/2)");
    assert_eq!(hm.grid[1][1].mean, Some(1.0));
    // Drawing it works with blank cells too.
    let dir = tmp_dir("sweep-heatmap");
    let [png, _] = hm.write(&dir).unwrap();
    assert!(png.exists());
    // Errors name what is wrong.
    let bad = |s: &str| {
        Heatmap::compute(&rows, &keys, &s.parse().unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(bad("sigma,dx,acc").contains("unknown results column `acc`"));
    assert!(bad("sigma,lambda,final_accuracy").contains("`lambda` is not an axis"));
    assert!(bad("sigma,sigma,final_accuracy").contains("same axis"));
    assert!(bad("sigma,seed,final_accuracy,seed").contains("cannot also be aggregated"));
    assert!(bad("seed,dx,final_accuracy,dx").contains("is plotted"));
    // With OVER named, another axis that varies is ambiguous.
    let mut rows4 = rows.clone();
    for (i, r) in rows4.iter_mut().enumerate() {
        r.axes.insert(
            "data.lambda".into(),
            serde_json::json!(0.5 + 0.5 * (i % 2) as f64),
        );
    }
    let mut keys4 = keys.clone();
    keys4.push("data.lambda".into());
    let e = Heatmap::compute(&rows4, &keys4, &spec)
        .unwrap_err()
        .to_string();
    assert!(e.contains("axis `data.lambda` takes several values"), "{e}");
    // Without OVER every other axis is aggregated.
    let all: HeatmapSpec = "data.sigma,dx,final_accuracy".parse().unwrap();
    let hm4 = Heatmap::compute(&rows4, &keys4, &all).unwrap();
    assert_eq!(hm4.over, ["train.seed", "data.lambda"]);
    assert_eq!(hm4.grid[0][0].n, 2);
    assert!("a,b".parse::<HeatmapSpec>().is_err());
}

#[test]
fn percolation_comparison_reads_the_accuracy_threshold_per_group() {
    use bump_ddpm::sweep::merge::ResultRow;
    use bump_ddpm::sweep::percolation::{self, PercolationRule};
    let dir = tmp_dir("sweep-percolation");
    let spec = spec_in(
        &dir,
        "[axes]\n\"data.lambda\" = [0.5, 1.0]\n\"train.seed\" = [0, 1]\n",
    );
    let sweep = Sweep::plan(&spec, dir.join("out")).unwrap();
    let done: ResultRow = {
        // Any finished row's metrics will do; only final_accuracy is read.
        let text = r#"{"id":"x","index":0,"status":"done","axes":{},"metrics":{"steps":8,"wall_s":1.0,"final_accuracy":0.0,"final_accuracy_tight":0.0,"final_gen_phase":"C","final_rep_phase":"C","gen_a":null,"gen_b":null,"gen_c":null,"gen_c_for_good":null,"gen_b_steps":null,"rep_a":null,"rep_b":null,"rep_c":null,"rep_c_for_good":null,"rep_b_steps":null}}"#;
        serde_json::from_str(text).unwrap()
    };
    // λ = 0.5: accuracies 0.1 and 0.1; λ = 1: 0.9 and (seed 1 unfinished) nothing.
    let rows: Vec<ResultRow> = sweep
        .cells
        .iter()
        .map(|c| {
            let mut r = done.clone();
            r.id = c.id.clone();
            r.index = c.index;
            r.axes = c.axes.clone();
            let acc = if c.config.data.lambda < 1.0 { 0.1 } else { 0.9 };
            r.metrics.as_mut().unwrap().final_accuracy = acc;
            if c.config.data.lambda == 1.0 && c.config.train.seed == 1 {
                r.metrics = None;
                r.status = "missing".into();
            }
            r
        })
        .collect();
    let rule = PercolationRule {
        seeds: 2,
        steps: 20,
        ..PercolationRule::default()
    };
    let cmp = percolation::compare(&rows, &sweep, &rule).unwrap().unwrap();
    assert_eq!(cmp.len(), 1);
    let g = &cmp[0];
    assert_eq!((g.sigma, g.spacing), (1.5, 2.0));
    assert_eq!(g.accuracy, [(0.5, Some(0.1), 2), (1.0, Some(0.9), 1)]);
    // Halfway from 0.1 to 0.9 in accuracy is halfway from 0.5 to 1 in log λ.
    assert!((g.lambda_accuracy.unwrap() - 0.5f64.sqrt()).abs() < 1e-12);
    // Every finished cell is kept for the figure; the simulation has the rule's λ grid, keeps
    // every centre at λ = 1 in one cluster (σ 1.5 at spacing 2 overlaps well above 0.005), and
    // its threshold is read from that curve.
    let mut cells = g.cells.clone();
    cells.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(cells, [(0.5, 0.1), (0.5, 0.1), (1.0, 0.9)]);
    assert_eq!(g.simulation.len(), 20);
    assert_eq!(g.simulation[0].0, 0.05);
    assert_eq!(g.simulation[19], (1.0, 1.0));
    assert_eq!(
        g.lambda_percolation,
        percolation::crossing_from_top(&g.simulation, rule.level)
    );
    // merge writes the table, its JSON and the figure.
    let md = percolation::write(&sweep, &rows, &rule).unwrap().unwrap();
    assert!(
        md.contains("| all | 1.5 | 2 | 0.5: 0.100 (2); 1: 0.900 (1) | 0.707 |"),
        "{md}"
    );
    let png = sweep.dir.join("figures").join("percolation.png");
    assert!(std::fs::metadata(&png).unwrap().len() > 5000);
    // A sweep without a λ axis gets no comparison.
    let other = Sweep::plan(
        &spec_in(&dir, "[axes]\n\"train.seed\" = [0]\n"),
        dir.join("o"),
    )
    .unwrap();
    assert!(percolation::compare(&[], &other, &rule).unwrap().is_none());
}

#[test]
fn a_stop_request_checkpoints_the_running_cells_and_a_rerun_resumes_them() {
    let dir = tmp_dir("sweep-stop");
    let spec = spec_in(
        &dir,
        "[set]\n\"train.steps\" = 24\n[axes]\n\"train.seed\" = [0]\n",
    );
    let sweep = Sweep::create(&spec, dir.join("out")).unwrap();
    let mut opts = LocalOptions::new(common::example_binary("sweep"));
    opts.progress = false;
    let flag = bump_ddpm::train::stop::StopFlag::new();
    opts.stop = Some(flag.clone());
    // Ask for the stop once the cell has written its first checkpoint (step 0).
    let checkpoints = sweep.cell_dir(&sweep.cells[0]).join("checkpoints");
    let watcher = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while start.elapsed().as_secs() < 60 {
            let any = std::fs::read_dir(&checkpoints)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .any(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
                })
                .unwrap_or(false);
            if any {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        flag.set();
    });
    let report = sweep::run_local(&sweep, &opts).unwrap();
    watcher.join().unwrap();
    assert_eq!(report.interrupted, [0], "{}", report.summary());
    assert!(!report.all_done());
    let state = sweep.state(&sweep.cells[0]).unwrap();
    assert!(
        matches!(state, CellState::Partial(s) if s < 24),
        "{state:?}"
    );
    opts.stop = None;
    let again = sweep::run_local(&sweep, &opts).unwrap();
    assert_eq!(again.finished, [0], "{}", again.summary());
    assert_eq!(sweep.state(&sweep.cells[0]).unwrap(), CellState::Done);
    let log = std::fs::read_to_string(sweep.log_path(&sweep.cells[0])).unwrap();
    assert!(log.contains("stopped on request"), "{log}");
}

#[test]
fn the_command_line_plans_reports_status_and_merges_without_training() {
    let dir = tmp_dir("sweep-cli");
    spec_in(
        &dir,
        "[axes]\n\"data.sigma\" = [1.0, -2.0]\n\"train.seed\" = [0, 1]\n",
    );
    let bin = common::example_binary("sweep");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(&bin)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let out = dir.join("out");
    let spec = dir.join("spec.toml");
    // Invalid: every bad cell named, exit status 1, nothing written.
    let (code, text) = run(&[
        "plan".as_ref(),
        spec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("2 of 4 cells are invalid"), "{text}");
    assert!(
        text.contains("cell 2 (data.sigma = -2.0, train.seed = 0)"),
        "{text}"
    );
    assert!(!out.exists());
    // Valid: the table, and the directory prepared.
    spec_in(
        &dir,
        "[axes]\n\"data.sigma\" = [1.0, 2.0]\n\"train.seed\" = [0, 1]\n",
    );
    let (code, text) = run(&[
        "plan".as_ref(),
        spec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("4 cells, all valid"), "{text}");
    assert!(out.join(sweep::CELLS_FILE).exists() && out.join(sweep::SPEC_FILE).exists());
    let (code, text) = run(&["status".as_ref(), out.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("0 done, 0 partial, 0 failed, 4 not started"),
        "{text}"
    );
    // Merge of an unstarted sweep: four rows without metrics, a blank heatmap.
    let (code, text) = run(&[
        "merge".as_ref(),
        out.as_os_str(),
        "--heatmap".as_ref(),
        "sigma,seed,gen_c".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("4 rows (0 finished)"), "{text}");
    assert!(text.contains("– (0/1)"), "{text}");
    let jsonl = std::fs::read_to_string(out.join(sweep::RESULTS_JSONL)).unwrap();
    assert_eq!(jsonl.lines().count(), 4);
    assert!(jsonl
        .lines()
        .all(|l| l.contains("\"status\":\"missing\"") && l.contains("\"metrics\":null")));
    assert!(out.join("figures/heatmap-gen_c-sigma-seed.png").exists());
    // A bad heatmap column and a bad index are errors that say what is allowed.
    let (code, text) = run(&[
        "merge".as_ref(),
        out.as_os_str(),
        "--heatmap".as_ref(),
        "sigma,seed,accuracy".as_ref(),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains("unknown results column `accuracy`; expected one of final_accuracy"),
        "{text}"
    );
    let (code, text) = run(&[
        "cell".as_ref(),
        out.as_os_str(),
        "--index".as_ref(),
        "4".as_ref(),
    ]);
    assert_eq!(code, Some(1));
    assert!(text.contains("--index 4 is out of range"), "{text}");
    // Another spec into the same directory is refused.
    spec_in(
        &dir,
        "[axes]\n\"data.sigma\" = [1.0, 3.0]\n\"train.seed\" = [0, 1]\n",
    );
    let (code, text) = run(&[
        "run".as_ref(),
        spec.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--dry-run".as_ref(),
    ]);
    assert_eq!(code, Some(1));
    assert!(text.contains("holds another sweep"), "{text}");
}

/// A set score with the given accuracy; the failures are all empty images (phase A) or all
/// single wrong bumps (phase B).
fn set_score(accuracy: f64, wrong_place: bool) -> serde_json::Value {
    let fail = 1.0 - accuracy;
    let (empty, wrong) = if wrong_place {
        (0.0, fail)
    } else {
        (fail, 0.0)
    };
    serde_json::json!({
        "count": 64, "accuracy": accuracy, "acc_x": accuracy, "acc_y": accuracy,
        "accuracy_tight": accuracy / 2.0, "multi_bump_rate": 0.0, "empty_rate": empty,
        "single_wrong_rate": wrong, "malformed_rate": 0.0, "err_x": null, "err_y": null
    })
}

#[test]
fn merge_summarises_each_eval_set_and_heatmaps_read_it() {
    use bump_ddpm::run_dir::RunDir;
    use bump_ddpm::sweep::merge::{column, csv_text, CellMetrics, ResultRow};
    let dir = tmp_dir("sweep-set-columns");
    let rd = RunDir::new(&dir);
    rd.create().unwrap();
    // The set `train` goes A, C, B, C, C (C at accuracy >= 0.5, the main rule); the set `far`
    // is scored from step 100 on only and never reaches C.
    let plan = [
        (0, 0.0, false, None),
        (50, 0.6, false, None),
        (100, 0.3, true, Some(0.1)),
        (150, 0.7, false, Some(0.2)),
        (200, 0.9, false, Some(0.4)),
    ];
    let mut records = Vec::new();
    for (step, acc, wrong, far) in plan {
        let mut v = serde_json::to_value(common::neutral_record(step)).unwrap();
        v["sets"]["train"] = set_score(acc, wrong);
        if let Some(f) = far {
            v["sets"]["far"] = set_score(f, true);
        }
        let r: bump_ddpm::record::EvalRecord = serde_json::from_value(v).unwrap();
        rd.append_record(&r).unwrap();
        records.push(r);
    }
    let summary = bump_ddpm::train::summarize(&micro_config(), &records, 10, 1.0, &None).unwrap();
    rd.write_summary(&summary).unwrap();
    let m = CellMetrics::read(&dir).unwrap();
    let train = &m.sets["train"];
    assert_eq!(train.final_accuracy, 0.9);
    assert_eq!(train.final_accuracy_tight, 0.45);
    assert_eq!(train.final_gen_phase, bump_ddpm::analysis::Phase::C);
    assert_eq!((train.gen_c, train.gen_c_for_good), (Some(50), Some(150)));
    let far = &m.sets["far"];
    assert_eq!(far.final_gen_phase, bump_ddpm::analysis::Phase::B);
    assert_eq!((far.gen_c, far.gen_c_for_good), (None, None));
    // Columns by name; the set's values, or nothing for a set this cell lacks.
    assert_eq!(column("set:train:gen_c").unwrap().get(&m), Some(50.0));
    assert_eq!(column("set:far:final_accuracy").unwrap().get(&m), Some(0.4));
    assert_eq!(column("set:other:gen_c").unwrap().get(&m), None);
    for bad in ["set:train:accuracy", "set::gen_c", "set:train"] {
        let e = column(bad).unwrap_err().to_string();
        assert!(e.contains("set:<eval set>:<final_accuracy|"), "{e}");
    }
    // The CSV has every set's columns after the main ones, sets sorted by name.
    let row = ResultRow {
        id: "a".into(),
        index: 0,
        status: "done".into(),
        axes: [("data.sigma".to_string(), serde_json::json!(1.0))]
            .into_iter()
            .collect(),
        metrics: Some(m.clone()),
    };
    let text = csv_text(std::slice::from_ref(&row), &["data.sigma".to_string()]).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let values: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| values[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(at("set:train:gen_c_for_good"), "150");
    assert_eq!(at("set:far:gen_c"), "");
    assert!(
        header.iter().position(|h| *h == "set:far:final_accuracy")
            < header.iter().position(|h| *h == "set:train:final_accuracy")
    );
    // A heatmap of a set column; one of a set no cell has is an error naming the sets.
    let keys = ["data.sigma".to_string(), "train.seed".to_string()];
    let mut row2 = row.clone();
    row2.axes.insert("train.seed".into(), serde_json::json!(1));
    let mut row1 = row;
    row1.axes.insert("train.seed".into(), serde_json::json!(0));
    let rows = [row1, row2];
    let spec: HeatmapSpec = "sigma,seed,set:train:final_accuracy".parse().unwrap();
    let hm = Heatmap::compute(&rows, &keys, &spec).unwrap();
    assert!(hm.grid.iter().flatten().all(|a| a.mean == Some(0.9)));
    assert_eq!(
        hm.file_stem(),
        "heatmap-set-train-final_accuracy-sigma-seed"
    );
    let spec: HeatmapSpec = "sigma,seed,set:test:gen_c".parse().unwrap();
    let e = Heatmap::compute(&rows, &keys, &spec)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no finished cell has an evaluation set `test`; sets: `far`, `train`"),
        "{e}"
    );
}
