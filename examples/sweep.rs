//! Sweeps: a grid of configurations from a TOML spec, each cell an ordinary run directory, run
//! by a backend (local processes or a Slurm job array), merged into one results table and
//! heatmaps (docs/sweeps.md).
//!
//! ```sh
//! cargo run --release --example sweep -- plan sweeps/density-width.toml            # the cells
//! cargo run --release --example sweep -- run sweeps/density-width.toml --out runs/dw --parallel 2
//! cargo run --release --example sweep -- status runs/dw
//! cargo run --release --example sweep -- cell runs/dw --index 3                     # one cell
//! cargo run --release --example sweep -- merge runs/dw --heatmap data.sigma,data.dx,gen_c
//! ```

use bump_ddpm::sweep::{
    self, curves, heatmap, slurm, CellRun, CellState, CurvesSpec, HeatmapSpec, Sweep, SweepSpec,
};
use bump_ddpm::train::stop::{self, StopFlag};
use bump_ddpm::train::RunOptions;
use bump_ddpm::unet::DeviceKind;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: bump_ddpm::unet::alloc::MiMalloc = bump_ddpm::unet::alloc::MiMalloc;

/// Run a grid of configurations (a sweep spec) as cells, locally or on Slurm, and merge the
/// results into one table and heatmaps.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// Separate processes on this machine, --parallel at a time.
    Local,
    /// A Slurm job array (sbatch), one task per cell.
    Slurm,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Expand and validate a spec and print its cells; with --out, also prepare the sweep
    /// directory (nothing is written when a cell is invalid).
    Plan {
        /// The sweep spec (TOML).
        spec: PathBuf,
        /// The sweep directory to prepare.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run the sweep's unfinished cells (finished ones are skipped, stopped ones resume), then
    /// merge the results.
    Run(Box<RunArgs>),
    /// Run (or resume) exactly one cell of a prepared sweep directory; exit status 0 when it is
    /// finished, 75 when it stopped on a signal with a checkpoint written (resume it), 1 on an
    /// error.
    Cell {
        /// The sweep directory.
        dir: PathBuf,
        /// The cell's index (`plan` and `status` list them).
        #[arg(long)]
        index: usize,
        /// Compute device: `cpu`, `cuda[:N]` or `metal[:N]`.
        #[arg(long, default_value = "cpu")]
        device: DeviceKind,
    },
    /// Print every cell's state.
    Status {
        /// The sweep directory.
        dir: PathBuf,
    },
    /// Merge the cells into results.jsonl and results.csv, and draw heatmaps and learning
    /// curves.
    Merge {
        /// The sweep directory.
        dir: PathBuf,
        /// A heatmap `X,Y,COLUMN[,OVER]`: COLUMN (e.g. final_accuracy, gen_c, rep_c_for_good, or
        /// an evaluation set's set:NAME:gen_c) over axes X and Y, mean ± sd over OVER (default:
        /// every other axis). Repeatable.
        #[arg(long, value_name = "X,Y,COLUMN[,OVER]")]
        heatmap: Vec<HeatmapSpec>,
        /// Learning curves `X,Y`: one panel per value pair (X across, Y down), accuracy over
        /// steps on the main grid and every evaluation set, each cell a thin line and the mean
        /// thick. Repeatable.
        #[arg(long, value_name = "X,Y")]
        curves: Vec<CurvesSpec>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The sweep spec (TOML).
    spec: PathBuf,
    /// The sweep directory (created; reused when it holds the same sweep).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where the cells run.
    #[arg(long, value_enum, default_value = "local")]
    backend: Backend,
    /// Local backend: cells running at once; the cores are split between them.
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Local backend: threads per cell (default: cores / --parallel).
    #[arg(long)]
    threads: Option<usize>,
    /// Only these cells (by index; repeatable).
    #[arg(long, value_name = "INDEX")]
    only: Vec<usize>,
    /// Compute device of every cell: `cpu`, `cuda[:N]` or `metal[:N]`.
    #[arg(long, default_value = "cpu")]
    device: DeviceKind,
    /// Prepare the directory and show what would run (local: the cells and their commands;
    /// slurm: write the batch script) without running anything.
    #[arg(long)]
    dry_run: bool,
    /// Slurm: submit only the cells that failed or are missing. (Local runs always run every
    /// unfinished cell.)
    #[arg(long)]
    resubmit_failed: bool,
    /// Slurm backend options (`--slurm-…`).
    #[command(flatten)]
    slurm: slurm::SlurmOptions,
}

fn main() -> ExitCode {
    stop::exit_code(real_main())
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    bump_ddpm::unet::alloc::keep_freed_memory();
    match Args::parse().command {
        Command::Plan { spec, out } => plan(&spec, out.as_deref()),
        Command::Run(args) => run(&args),
        Command::Cell { dir, index, device } => cell(&dir, index, device),
        Command::Status { dir } => status(&dir),
        Command::Merge {
            dir,
            heatmap,
            curves,
        } => merge(&dir, &heatmap, &curves),
    }
}

fn print_cells(sweep: &Sweep) {
    println!("{:>5}  {:<48}  axis values", "index", "id");
    for c in &sweep.cells {
        let values: Vec<String> = sweep
            .axis_keys
            .iter()
            .map(|k| {
                format!(
                    "{k} = {}",
                    c.axes.get(k).map_or("?".into(), |v| v.to_string())
                )
            })
            .collect();
        println!("{:>5}  {:<48}  {}", c.index, c.id, values.join(", "));
    }
}

fn plan(spec_path: &Path, out: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let spec = SweepSpec::load(spec_path)?;
    let sweep = match out {
        Some(dir) => Sweep::create(&spec, dir)?,
        None => Sweep::plan(&spec, PathBuf::new())?,
    };
    print_cells(&sweep);
    let steps: u64 = sweep.cells.iter().map(|c| c.config.train.steps).sum();
    println!(
        "\nsweep `{}`: {} cells, all valid, {steps} training steps in all",
        sweep.name,
        sweep.cells.len()
    );
    if let Some(dir) = out {
        println!("prepared {}", dir.display());
    }
    Ok(())
}

fn run(args: &RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let spec = SweepSpec::load(&args.spec)?;
    let sweep = Sweep::create(&spec, &args.out)?;
    let only = (!args.only.is_empty()).then(|| args.only.clone());
    match args.backend {
        Backend::Local => run_local(&sweep, args, only),
        Backend::Slurm => run_slurm(&sweep, args, only),
    }
}

fn run_slurm(
    sweep: &Sweep,
    args: &RunArgs,
    only: Option<Vec<usize>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = args.slurm.clone();
    opts.cell_args = vec!["--device".into(), args.device.to_string().into()];
    let exe = std::env::current_exe()?;
    let sub = if args.resubmit_failed {
        match slurm::resubmit_failed(sweep, &exe, &opts, args.dry_run)? {
            Some(s) => s,
            None => {
                println!("nothing to resubmit: every cell is done or still queued");
                return Ok(());
            }
        }
    } else {
        // Finished cells get no array task (they would only find themselves done).
        let states = sweep.states()?;
        let todo: Vec<usize> = only
            .unwrap_or_else(|| (0..sweep.cells.len()).collect())
            .into_iter()
            .filter(|&i| states.get(i) != Some(&CellState::Done))
            .collect();
        if todo.is_empty() {
            println!("nothing to submit: every selected cell is done");
            return Ok(());
        }
        slurm::submit(sweep, &exe, Some(&todo), &opts, args.dry_run)?
    };
    match sub.job_id {
        Some(id) => println!(
            "submitted job {id}: array {} ({} cells), script {}; follow it with `status {}`",
            sub.array,
            sub.indices.len(),
            sub.script.display(),
            sweep.dir.display()
        ),
        None => println!(
            "dry run: wrote {} (array {}, {} cells); not submitted",
            sub.script.display(),
            sub.array,
            sub.indices.len()
        ),
    }
    Ok(())
}

fn run_local(
    sweep: &Sweep,
    args: &RunArgs,
    only: Option<Vec<usize>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = sweep::LocalOptions::new(std::env::current_exe()?);
    opts.args = vec!["--device".into(), args.device.to_string().into()];
    opts.parallel = args.parallel.max(1);
    opts.threads = args.threads;
    opts.indices = only;
    if args.dry_run {
        let threads = opts.threads_per_cell();
        let indices = opts
            .indices
            .clone()
            .unwrap_or_else(|| (0..sweep.cells.len()).collect());
        for i in indices {
            let c = sweep.cell(i)?;
            let state = sweep.state(c)?;
            if state == CellState::Done {
                continue;
            }
            println!(
                "RAYON_NUM_THREADS={threads} CANDLE_NUM_THREADS={threads} {} cell {} --index {i} \
                 --device {}   # {state}, log {}",
                opts.exe.display(),
                sweep.dir.display(),
                args.device,
                sweep.log_path(c).display()
            );
        }
        return Ok(());
    }
    opts.stop = Some(StopFlag::from_signals()?);
    let report = sweep::run_local(sweep, &opts)?;
    println!("{}", report.summary());
    let merged = sweep::merge(sweep)?;
    println!(
        "results: {} and {}",
        merged.jsonl.display(),
        merged.csv.display()
    );
    if !report.failed.is_empty() {
        return Err(format!(
            "{} of the cells failed (their logs are listed above)",
            report.failed.len()
        )
        .into());
    }
    if !report.all_done() {
        return Err(format!(
            "stopped on request with {} cell(s) checkpointed and {} not started; run the same \
             command again to continue",
            report.interrupted.len(),
            report.not_started.len()
        )
        .into());
    }
    Ok(())
}

fn cell(dir: &Path, index: usize, device: DeviceKind) -> Result<(), Box<dyn std::error::Error>> {
    let sweep = Sweep::open(dir)?;
    let c = sweep.cell(index)?;
    let mut opts = RunOptions::new(sweep.cell_dir(c)).with_stop(StopFlag::from_signals()?);
    opts.device = bump_ddpm::unet::device(device)?;
    eprintln!(
        "sweep `{}` cell {index} ({}): {}, {} steps; {}",
        sweep.name,
        c.id,
        c.config.data.describe(),
        c.config.train.steps,
        sweep.state(c)?
    );
    match sweep.run_cell(index, &opts)? {
        CellRun::AlreadyDone => eprintln!("already done; nothing to run"),
        CellRun::Ran { resumed, outcome } => {
            if let Some(s) = &outcome.summary {
                eprintln!(
                    "{} final accuracy {:.1} %, layer-4 phase {}, wall time {:.0} s",
                    if resumed { "resumed;" } else { "done;" },
                    100.0 * s.final_accuracy,
                    s.final_rep_phase,
                    s.wall_s
                );
            }
        }
    }
    Ok(())
}

fn status(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let sweep = Sweep::open(dir)?;
    let states = sweep.states()?;
    // Cells of a Slurm sweep also show their queue state (squeue).
    let jobs: Vec<u64> = slurm::submissions(dir)?
        .iter()
        .filter_map(|s| s.job_id)
        .collect();
    let mut queued = std::collections::BTreeMap::new();
    if !jobs.is_empty() {
        match slurm::queue_state(&jobs) {
            Ok(q) => {
                for t in &q.tasks {
                    for &i in &t.indices {
                        queued.insert(i, format!("{} ({}, {})", t.state, t.job, t.reason));
                    }
                }
            }
            Err(e) => eprintln!("note: no queue state: {e}"),
        }
    }
    println!("{:>5}  {:<48}  state", "index", "id");
    for (c, s) in sweep.cells.iter().zip(&states) {
        match queued.get(&c.index) {
            Some(q) => println!("{:>5}  {:<48}  {s}; queue: {q}", c.index, c.id),
            None => println!("{:>5}  {:<48}  {s}", c.index, c.id),
        }
    }
    let count = |w: &str| states.iter().filter(|s| s.word() == w).count();
    println!(
        "\nsweep `{}`: {} cells: {} done, {} partial, {} failed, {} not started{}",
        sweep.name,
        states.len(),
        count("done"),
        count("partial"),
        count("failed"),
        count("missing"),
        if jobs.is_empty() {
            String::new()
        } else {
            format!("; {} in the Slurm queue", queued.len())
        }
    );
    Ok(())
}

fn merge(
    dir: &Path,
    heatmaps: &[HeatmapSpec],
    curve_specs: &[CurvesSpec],
) -> Result<(), Box<dyn std::error::Error>> {
    let sweep = Sweep::open(dir)?;
    let merged = sweep::merge(&sweep)?;
    let done = merged.rows.iter().filter(|r| r.metrics.is_some()).count();
    println!(
        "{} rows ({done} finished): {} and {}",
        merged.rows.len(),
        merged.jsonl.display(),
        merged.csv.display()
    );
    let rule = sweep::percolation::PercolationRule::default();
    if let Some(md) = sweep::percolation::write(&sweep, &merged.rows, &rule)? {
        println!(
            "\n{md}percolation comparison: {}",
            dir.join("percolation.md").display()
        );
    }
    for spec in heatmaps {
        let (hm, [png, svg]) = heatmap::write_heatmap(&sweep, &merged.rows, spec)?;
        println!(
            "\n{}\n{}figure: {} ({})",
            hm.column,
            hm.to_markdown(),
            png.display(),
            svg.display()
        );
    }
    for spec in curve_specs {
        let png = curves::write_curves(&sweep, &merged.rows, spec)?;
        println!("\nlearning curves: {}", png.display());
    }
    Ok(())
}
