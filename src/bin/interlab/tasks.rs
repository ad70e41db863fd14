//! `interlab tasks`: the synthetic task registry — list, sample, generation speed, and a
//! survey that trains the default model on every task.

use std::time::Instant;

use clap::{Args, Subcommand};
use interlab::core::TrainConfig;
use interlab::engine::{RunEnv, Trainer};
use interlab::tasks::{self, bench as tbench, Example, ParamKind};

use crate::common::{parse_pair, refuse_app_keys, usage, CliError, CliResult};

/// The synthetic tasks: list them, print an example, time generation, or train on each.
#[derive(Subcommand, Debug)]
pub enum TasksCmd {
    List(ListArgs),
    Sample(SampleArgs),
    Bench(BenchArgs),
    Survey(SurveyArgs),
}

pub fn run(cmd: TasksCmd) -> CliResult {
    match cmd {
        TasksCmd::List(_) => list(),
        TasksCmd::Sample(a) => sample(a),
        TasksCmd::Bench(a) => bench(a),
        TasksCmd::Survey(a) => survey(a),
    }
}

/// Every task with its family, description, source and parameters (key=default, range, help).
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab tasks list")]
pub struct ListArgs {}

fn list() -> CliResult {
    for info in tasks::all() {
        println!("{} [{}] {}: {}", info.name, info.family, info.title, info.description);
        println!("    source: {}", info.source);
        for p in info.params {
            let default = p.format(p.default);
            let kind = match p.kind {
                ParamKind::Int { .. } => "int",
                ParamKind::Float { .. } => "float",
                ParamKind::Choice(_) => "choice",
            };
            println!("    {}={default}  ({kind} {})  {}", p.key, p.range_text(), p.help);
        }
    }
    Ok(())
}

/// One example of a task as JSON (the gallery's format) or as text, to stdout.
///
/// The task's parameters are `key=value` pairs, as in a link (`seq_len=64 vocab=16`).
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  interlab tasks sample shift seq_len=16 --example-seed 3\n  \
                        interlab tasks sample mqar --text")]
pub struct SampleArgs {
    /// The task (see `interlab tasks list`).
    name: String,
    /// The task's parameters.
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    params: Vec<(String, String)>,
    /// Which example (the gallery's example seed).
    #[arg(long, value_name = "S", default_value_t = 0)]
    example_seed: u64,
    /// Print the example as text a person can read instead of JSON.
    #[arg(long)]
    text: bool,
}

fn sample(args: SampleArgs) -> CliResult {
    let name = &args.name;
    let info = tasks::find(name).map_err(usage)?;
    for (k, _) in &args.params {
        if !info.params.iter().any(|p| p.key == k) {
            let keys: Vec<&str> = info.params.iter().map(|p| p.key).collect();
            return Err(usage(format!(
                "{k}: not a parameter of task '{name}' (its parameters: {})",
                keys.join(", ")
            )));
        }
    }
    let task =
        tasks::build(name, args.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(usage)?;
    let ex = Example::new(task.as_ref(), args.example_seed);
    if args.text {
        print!("{}", ex.render_text(task.as_ref()));
    } else {
        println!("{}", ex.to_json());
    }
    Ok(())
}

/// Sequences per second of each task's generator (the cases the browser bench runs too).
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab tasks bench --ms 200")]
pub struct BenchArgs {
    /// Time each case for at least this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    ms: f64,
}

fn bench(args: BenchArgs) -> CliResult {
    if !(args.ms.is_finite() && args.ms > 0.0) {
        return Err(usage(format!("--ms: {} is not a positive number of milliseconds", args.ms)));
    }
    let clock = Instant::now();
    let now = move || clock.elapsed().as_secs_f64() * 1000.0;
    for case in tbench::CASES {
        let r = tbench::run_case(case, args.ms, &now)?;
        println!(
            "gen native {:<60} L={:>6} batch={} seq/s={:>10.1} positions/s={:.3e}",
            r.label,
            r.seq_len,
            tbench::BENCH_BATCH,
            r.sequences_per_sec(),
            r.sequences_per_sec() * r.seq_len as f64
        );
    }
    Ok(())
}

/// Train the lab's default model on every task at the task's defaults and print the best
/// held-out accuracy (or lowest MSE) and the step it came at.
///
/// Model keys (`steps=`, `layers=`, `seed=`, ...) apply to every task; `steps` defaults to
/// 2000 here. Task keys are refused (each task runs at its defaults). A task too long for the
/// memory budget gets its batch halved until it fits.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab tasks survey steps=500 layers=1 --only shift,mqar")]
pub struct SurveyArgs {
    /// Model and optimiser settings for every task's run.
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    pairs: Vec<(String, String)>,
    /// Only these tasks (comma-separated names).
    #[arg(long, value_name = "NAME,NAME", value_delimiter = ',')]
    only: Vec<String>,
}

/// Schedule length of every survey run unless `steps=` says otherwise.
const SURVEY_STEPS: usize = 2000;

fn survey(args: SurveyArgs) -> CliResult {
    refuse_app_keys(&args.pairs)?;
    if let Some((_, v)) = args.pairs.iter().find(|(k, _)| k == "task") {
        return Err(usage(format!("task={v}: tasks survey runs every task; pick some with --only")));
    }
    for name in &args.only {
        tasks::find(name).map_err(|e| usage(format!("--only: {e}")))?;
    }
    let explicit_steps = args.pairs.iter().any(|(k, _)| k == "steps");
    let base =
        TrainConfig::from_pairs(args.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(usage)?;
    if let Some((k, _)) = base.task_params.first() {
        return Err(usage(format!("{k}: tasks survey runs every task at its defaults; only model keys (seed, layers, heads, d_model, lr, batch, steps, warmup) apply")));
    }
    let steps = if explicit_steps { base.steps } else { SURVEY_STEPS };
    println!("task                 seq_len  batch  steps  best_heldout   at_step  chance   seconds");
    for info in tasks::all() {
        if !args.only.is_empty() && !args.only.iter().any(|n| n == info.name) {
            continue;
        }
        let mut cfg = TrainConfig { steps, warmup: base.warmup.min(steps / 10), ..base.clone() }
            .with_task(info.name, &[]);
        while let Err(e) = interlab::engine::plan(&cfg, &RunEnv::default()) {
            if cfg.batch > 1 && e.errors.iter().all(|f| f.field == "batch") {
                cfg.batch /= 2;
            } else {
                return Err(usage(format!("{}: {e}", info.name)));
            }
        }
        let mut t = Trainer::new(cfg.clone()).map_err(CliError::Failed)?;
        let chance = match t.output() {
            tasks::Output::Classes { classes, .. } => format!("{:.3}", 1.0 / classes as f64),
            tasks::Output::Regression { .. } => "-".into(),
        };
        let start = Instant::now();
        let (mut best, mut at) = (None::<f64>, 0);
        while !t.is_done() {
            let s = t.step().map_err(|e| e.to_string())?;
            if s.step % 250 == 0 || t.is_done() {
                let e = t.evaluate().map_err(|e| e.to_string())?;
                let (v, better) = match (e.accuracy, e.mse) {
                    (Some(a), _) => (a, best.is_none_or(|b| a > b)),
                    (None, Some(m)) => (m, best.is_none_or(|b| m < b)),
                    _ => continue,
                };
                if better {
                    best = Some(v);
                    at = s.step;
                }
            }
        }
        let metric = match (best, t.output().is_regression()) {
            (Some(v), false) => format!("acc {v:.3}"),
            (Some(v), true) => format!("mse {v:.4}"),
            (None, _) => "-".into(),
        };
        println!(
            "{:<20} {:>7} {:>6} {:>6}  {:<12} {:>8}  {:<6} {:>8.1}",
            info.name,
            t.task.shape().seq_len,
            cfg.batch,
            steps,
            metric,
            at,
            chance,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
