//! `interlab`, the native command-line tool: a thin shell over the library, one file per
//! command (`train.rs`, `eval.rs`, `bundle.rs`, `bench.rs`, `tasks.rs`, `steer.rs`, `study.rs`,
//! `gpu.rs`; `common.rs` for what they share). Arguments are parsed by clap from the structs
//! below, whose doc comments are the `--help` text; `docs/cli.md` is the guide.
//!
//! Conventions (every command): a run's settings are positional `key=value` pairs with the
//! lab's URL keys, and no flag shares a name with such a key; unknown flags, malformed pairs
//! and unknown keys exit 2; a run that fails exits 1; results go to stdout, progress to stderr.

mod bench;
mod bundle;
mod common;
mod eval;
mod gpu;
mod steer;
mod study;
mod tasks;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const CONVENTIONS: &str = "\
Conventions:
  key=value  A run's settings are positional pairs with the keys of the lab's URL
             (seed=3 layers=2 task=shift seq_len=64 steps=500); `interlab tasks list`
             shows each task's keys. No --flag repeats such a key: the schedule length
             is always steps=N (bench times --timed-steps N).
  --flags    Everything else: files, output folders, logging, --backend, --budget-mib.
  stdout     Results (metrics, tables, JSON); progress and notes go to stderr.
  exit code  0 success; 1 the command ran and failed (training diverged, a GPU
             mismatch, an invalid protocol, a file that cannot be written);
             2 usage: an unknown flag or key, a malformed pair, a bad value, a missing
             input file or one whose contents are refused.

Run `interlab COMMAND --help` for a command's options and examples.";

/// Train small sequence models, steer them and run human-AI studies from the command line
/// (the same library as the lab in the browser tab).
#[derive(Parser, Debug)]
#[command(name = "interlab", bin_name = "interlab", version, after_help = CONVENTIONS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Train(train::TrainArgs),
    Eval(eval::EvalArgs),
    Bundle(bundle::BundleArgs),
    Bench(bench::BenchArgs),
    #[command(subcommand)]
    Tasks(tasks::TasksCmd),
    #[command(subcommand)]
    Steer(steer::SteerCmd),
    #[command(subcommand)]
    Study(study::StudyCmd),
    GpuCheck(gpu::GpuCheckArgs),
    GpuBench(gpu::GpuBenchArgs),
}

fn main() -> ExitCode {
    // clap prints help/version (exit 0) and usage errors (exit 2) itself.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Bundle(a) => bundle::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Tasks(c) => tasks::run(c),
        Command::Steer(c) => steer::run(c),
        Command::Study(c) => study::run(c),
        Command::GpuCheck(a) => gpu::check(a),
        Command::GpuBench(a) => gpu::bench(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let common::CliError::Usage(_) = e {
                eprintln!("\nFor more information, try '--help'.");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
