//! Compares finished runs (e.g. the seeds of one setting): a markdown table of when each phase
//! label first appears under the layer-4 rule, the paper's UMAP protocol and the generation mix,
//! whether and how long phase B was seen, and one figure with every run's curves and phase bands.
//!
//! ```sh
//! cargo run --release --example compare_runs -- --runs runs/seed0 runs/seed1 runs/seed2 \
//!     --figure docs/figures/phase_sweep_seeds.png
//! ```

use bump_ddpm::analysis::Phase;
use bump_ddpm::cli::exit_code;
use bump_ddpm::record::EvalRecord;
use bump_ddpm::run_dir::RunDir;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Compare the records of several runs.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Run directories (or re-evaluation directories) to compare.
    #[arg(long, num_args = 1.., required = true, value_name = "DIR")]
    runs: Vec<PathBuf>,
    /// Write the curves of every run, one panel each, to this PNG.
    #[arg(long, value_name = "PNG")]
    figure: Option<PathBuf>,
    /// UMAP R² (the smaller of x and y) at or above which the UMAP protocol calls a checkpoint
    /// ordered.
    #[arg(long, default_value_t = 0.9)]
    umap_ordered: f64,
}

fn main() -> ExitCode {
    exit_code(real_main())
}

fn first(records: &[EvalRecord], f: impl Fn(&EvalRecord) -> bool) -> String {
    records
        .iter()
        .find(|r| f(r))
        .map_or_else(|| "never".into(), |r| r.step.to_string())
}

/// The first step from which every later checkpoint satisfies `f` ("for good").
fn from_on(records: &[EvalRecord], f: impl Fn(&EvalRecord) -> bool) -> String {
    let tail = records.iter().rev().take_while(|r| f(r)).count();
    if tail == 0 {
        return "never".into();
    }
    records[records.len() - tail].step.to_string()
}

/// Checkpoints labelled B and the step span they cover (first B to the next non-B checkpoint).
fn b_stretch(records: &[EvalRecord]) -> String {
    let idx: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].rep_phase == Phase::B)
        .collect();
    let (Some(&a), Some(&z)) = (idx.first(), idx.last()) else {
        return "not observed".into();
    };
    let end = records.get(z + 1).map_or(records[z].step, |r| r.step);
    format!(
        "{} checkpoint(s), steps {}–{} (≈ {} steps)",
        idx.len(),
        records[a].step,
        records[z].step,
        end - records[a].step
    )
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut runs = Vec::new();
    for dir in &args.runs {
        let records = RunDir::new(dir).read_records()?;
        if records.is_empty() {
            return Err(format!("{}: no records", dir.display()).into());
        }
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        runs.push((name, records));
    }
    println!(
        "| run | layer 4: A | B | C | C for good | UMAP ordered (R² ≥ {}) | generation: A | B | C | C for good | B (layer 4) | final accuracy (1 px / 0.5 px) |",
        args.umap_ordered
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, r) in &runs {
        let last = &r[r.len() - 1];
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} % / {:.1} % |",
            first(r, |x| x.rep_phase == Phase::A),
            first(r, |x| x.rep_phase == Phase::B),
            first(r, |x| x.rep_phase == Phase::C),
            from_on(r, |x| x.rep_phase == Phase::C),
            first(r, |x| x.umap_r2_x.min(x.umap_r2_y) >= args.umap_ordered),
            first(r, |x| x.gen_phase == Phase::A),
            first(r, |x| x.gen_phase == Phase::B),
            first(r, |x| x.gen_phase == Phase::C),
            from_on(r, |x| x.gen_phase == Phase::C),
            b_stretch(r),
            100.0 * last.accuracy,
            100.0 * last.accuracy_tight,
        );
    }
    if let Some(path) = &args.figure {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        bump_ddpm::report::plot_runs(path, &runs)?;
        println!("\nfigure: {}", path.display());
    }
    Ok(())
}
