//! `interlab study`: check a study protocol, simulate participants, analyse exports.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use interlab::study::{Protocol, StudyError};

use crate::common::{existing_file, usage, write_in, CliError, CliResult};

/// Human-AI studies: check a protocol, simulate it, analyse the exports.
#[derive(Subcommand, Debug)]
pub enum StudyCmd {
    Validate(ValidateArgs),
    Simulate(SimulateArgs),
    Analyze(AnalyzeArgs),
}

pub fn run(cmd: StudyCmd) -> CliResult {
    match cmd {
        StudyCmd::Validate(a) => validate(a),
        StudyCmd::Simulate(a) => simulate(a),
        StudyCmd::Analyze(a) => analyze(a),
    }
}

/// Check a study protocol (JSON). Valid: one summary line on stdout, exit 0. Invalid: one
/// line per problem on stdout (with its line number and field) and exit 1.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab study validate public/studies/advisor-manipulation.json")]
pub struct ValidateArgs {
    /// The protocol file.
    #[arg(value_name = "FILE", value_parser = existing_file)]
    file: PathBuf,
}

/// The protocol in `path`; its problems are printed to stdout, one a line, and the command
/// fails (exit 1).
fn read_protocol(path: &Path) -> Result<Protocol, CliError> {
    let p = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{p}: {e}"))?;
    interlab::study::parse_protocol(&text).map_err(|e| match e {
        StudyError::Invalid(issues) => {
            for i in &issues {
                println!("{p}: {i}");
            }
            CliError::Failed(format!("{p}: {} problem(s); protocol rejected", issues.len()))
        }
        other => CliError::Failed(format!("{p}: {other}")),
    })
}

fn validate(args: ValidateArgs) -> CliResult {
    let p = read_protocol(&args.file)?;
    let cells = interlab::study::assign::cells(&p).len();
    let trials: usize = p.blocks.iter().map(|b| b.trials.len() * b.repetitions as usize).sum();
    println!(
        "ok: {} v{} \"{}\": {} condition cell(s), {} block(s), {} trials per participant, {} model(s), endpoint {}",
        p.metadata.id,
        p.metadata.version,
        p.metadata.title,
        cells,
        p.blocks.len(),
        trials,
        p.models.len(),
        p.endpoint.as_ref().map(|e| e.url.as_str()).unwrap_or("off")
    );
    Ok(())
}

/// Run simulated participants through a protocol and write trials.csv, events.csv and
/// export.json (the formats the tab exports), then print how they were assigned.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  interlab study simulate public/studies/advisor-manipulation.json --n 40 --sim-seed 2 --out runs/sim"
)]
pub struct SimulateArgs {
    /// The protocol file.
    #[arg(value_name = "FILE", value_parser = existing_file)]
    file: PathBuf,
    /// How many participants.
    #[arg(long, value_name = "N", default_value_t = 100)]
    n: usize,
    /// Seed of the simulated participants.
    #[arg(long, value_name = "S", default_value_t = 0)]
    sim_seed: u64,
    /// Output folder [default: target/study/ID, ID the protocol's].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn simulate(args: SimulateArgs) -> CliResult {
    use interlab::study::{assign, export, simulate};
    let p = read_protocol(&args.file)?;
    let (n, seed) = (args.n, args.sim_seed);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("target/study/{}", p.metadata.id)));
    let opts = simulate::SimOptions { seed, ..Default::default() };
    let logs = simulate::simulate_study(&p, n, &opts).map_err(|e| e.to_string())?;
    let slices = || logs.iter().map(|l| l.rows());
    write_in(&out, "trials.csv", export::trials_csv(slices()).as_bytes())?;
    write_in(&out, "events.csv", export::events_csv(slices()).as_bytes())?;
    write_in(
        &out,
        "export.json",
        export::export_json(&p.metadata.id, &p.metadata.version, slices()).as_bytes(),
    )?;
    let cells = assign::cells(&p);
    let total_w: f64 = cells.iter().map(|c| c.weight).sum();
    println!(
        "{n} simulated participants of {} (seed {seed}) -> {}/{{trials.csv,events.csv,export.json}}",
        p.metadata.id,
        out.display()
    );
    for c in &cells {
        let k = logs.iter().filter(|l| l.rows().first().is_some_and(|r| r.condition == c.label())).count();
        println!(
            "  {:<40} {:>6} ({:.1}%, target {:.1}%)",
            c.label(),
            k,
            100.0 * k as f64 / n.max(1) as f64,
            100.0 * c.weight / total_w
        );
    }
    Ok(())
}

/// Per-condition table (accuracy, give-up, advice-follow and harmful-choice rates with Wilson
/// intervals, response times, tests across conditions) from participants' exports: trial
/// CSV, event CSV or JSON, several at once. To stdout, or to `--out FILE`.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab study analyze runs/sim/trials.csv --out runs/sim/analysis.csv")]
pub struct AnalyzeArgs {
    /// The exports.
    #[arg(value_name = "FILES", required = true, value_parser = existing_file)]
    files: Vec<PathBuf>,
    /// Write the table here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn analyze(args: AnalyzeArgs) -> CliResult {
    use interlab::study::analyze;
    let mut records = Vec::new();
    for f in &args.files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(f).map_err(|e| format!("{name}: {e}"))?;
        records.extend(analyze::load_any(&text, &name).map_err(usage)?);
    }
    let table = analyze::analysis_csv(&analyze::analyze(&records));
    match &args.out {
        Some(path) => {
            std::fs::write(path, &table).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("{} trial rows from {} file(s) -> {}", records.len(), args.files.len(), path.display());
        }
        None => print!("{table}"),
    }
    Ok(())
}
