//! `interlab train`: one run from `key=value` pairs (or a config file, or a saved bundle), or
//! every arm of a preset or experiment file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use interlab::engine::experiment::{results_csv, ArmResult, Experiment};
use interlab::engine::gpu_train::GpuTrainer;
use interlab::engine::trainer::{run_metrics_header, run_metrics_row};
use interlab::engine::{BackendPref, EvalStats, RunEnv, Session, StepStats, Trainer};

use crate::common::{
    existing_file, opt, parse_pair, run_config, usage, write_in, CliError, CliResult, EnvArgs,
};

/// Train a model and report its held-out metrics.
///
/// A single run is configured by `key=value` pairs (the keys of the lab's URL: model and
/// optimiser fields such as `seed`, `layers`, `d_model`, `lr`, `batch`, `steps`, `warmup`,
/// plus `task=NAME` and that task's parameters; `interlab tasks list` shows them), on top of
/// `--config FILE` when given. The schedule length is `steps=N`: there is no `--steps` flag.
/// `--preset`, `--experiment` and `--from` take their configs from elsewhere and refuse pairs.
///
/// Progress (one line per evaluation) goes to stderr; the final metrics line (or the summary
/// of every arm) to stdout.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  interlab train task=shift seq_len=32 steps=500 --out runs/shift\n  \
                        interlab train --config runs/shift/config.json seed=2 --until-acc 0.95\n  \
                        interlab train --preset NAME --out runs/preset")]
pub struct TrainArgs {
    /// Run settings, the lab's URL keys (`seed=3 layers=2 task=shift seq_len=64`).
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    pairs: Vec<(String, String)>,
    /// A JSON run config (e.g. a run's `config.json`); pairs apply on top of it.
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    config: Option<PathBuf>,
    /// Run every arm of a named preset (the tab's Experiments page) on the CPU.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["config", "experiment", "from"])]
    preset: Option<String>,
    /// Run every arm of an experiment file (the tab's Experiment JSON) on the CPU.
    #[arg(long, value_name = "FILE", value_parser = existing_file, conflicts_with_all = ["config", "from"])]
    experiment: Option<PathBuf>,
    /// Continue a run bundle (or checkpoint) saved by the tab or the CLI; its config is the
    /// bundle's.
    #[arg(long, value_name = "FILE", value_parser = existing_file, conflicts_with = "config")]
    from: Option<PathBuf>,
    /// Write metrics.csv, weights.safetensors and config.json here (with --preset or
    /// --experiment: one folder per arm, and results.csv).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Evaluate on the held-out set every N steps [default: 100; 250 for --preset/--experiment].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    eval_every: Option<u64>,
    /// Also print the training loss every N steps (0: only at evaluations).
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with_all = ["preset", "experiment"])]
    print_every: usize,
    /// Stop at the first evaluation whose held-out accuracy reaches X (0..1).
    #[arg(long, value_name = "X", conflicts_with_all = ["preset", "experiment"])]
    until_acc: Option<f64>,
    #[command(flatten)]
    env: EnvArgs,
}

/// How often a run evaluates, prints and stops early.
struct Logging {
    eval_every: usize,
    print_every: usize,
    until: f64,
}

pub fn run(args: TrainArgs) -> CliResult {
    let env = args.env.env();
    let source = [
        ("--preset", args.preset.is_some()),
        ("--experiment", args.experiment.is_some()),
        ("--from", args.from.is_some()),
    ];
    if let (Some((flag, _)), Some((k, v))) = (source.iter().find(|s| s.1), args.pairs.first()) {
        return Err(usage(format!(
            "{k}={v}: {flag} brings its own config; key=value pairs cannot change it"
        )));
    }
    if let Some(name) = &args.preset {
        let p = interlab::engine::presets::find(name).map_err(usage)?;
        eprintln!("preset {}: {}\nexpected: {}", p.name, p.title, p.expected);
        return run_arms(&args, &env, &Experiment::from_preset(&p));
    }
    if let Some(file) = &args.experiment {
        let f = file.display();
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {f}: {e}"))?;
        let exp = Experiment::from_json(&text, &env).map_err(|e| usage(format!("{f}: {e}")))?;
        eprintln!("experiment: {}", exp.title);
        return run_arms(&args, &env, &exp);
    }
    let log = Logging {
        eval_every: args.eval_every.unwrap_or(100) as usize,
        print_every: args.print_every,
        until: args.until_acc.unwrap_or(2.0),
    };
    let t = match &args.from {
        Some(file) => {
            let f = file.display();
            let bytes = std::fs::read(file).map_err(|e| format!("cannot read {f}: {e}"))?;
            let t = interlab::engine::bundle::restore(&bytes).map_err(|e| usage(format!("{f}: {e}")))?;
            eprintln!("continuing {f} from step {} of {}", t.step_count(), t.cfg.steps);
            t
        }
        None => Trainer::with_env(run_config(&args.pairs, args.config.as_deref(), &env)?, env)?,
    };
    eprintln!("config: {}", serde_json::to_string(&t.cfg).unwrap_or_default());
    eprintln!(
        "task: {} ({} held-out sequences), params: {}",
        t.task.info().name,
        t.eval_sequences(),
        t.model.param_count()
    );
    let mut csv = run_metrics_header();
    let start = Instant::now();
    let mut session = Session::new(t);
    let mut gpu_eval = None;
    let result = match gpu_engine(env.backend, &session.trainer)? {
        Some(g) => {
            session.attach_gpu(g);
            session.eval_every = log.eval_every.max(1);
            gpu_train_loop(&mut session, &log, &mut csv, start, &mut gpu_eval)
        }
        None => train_loop(&mut session.trainer, &log, &mut csv, start),
    };
    let t = session.trainer;
    // Whatever happened, keep what was measured.
    if let Some(dir) = &args.out {
        write_outputs(dir, &t, &csv)?;
        eprintln!("wrote {d}/metrics.csv, {d}/weights.safetensors, {d}/config.json", d = dir.display());
    }
    result?;
    // A GPU run's last evaluation ran on the GPU (the CPU may not hold the model).
    let e = match gpu_eval {
        Some(e) => e,
        None => t.evaluate().map_err(|e| e.to_string())?,
    };
    println!(
        "done: {} steps, held-out accuracy {}, exact match {}, mse {}, {:.1}s",
        t.step_count(),
        opt(e.accuracy),
        opt(e.exact_match),
        opt(e.mse),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Train every arm of an experiment (or preset) in turn, print one summary line per arm, and
/// with `--out DIR` write each arm's outputs to `DIR/<label>/` and the results table (the
/// tab's Results CSV format) to `DIR/results.csv`.
fn run_arms(args: &TrainArgs, env: &RunEnv, exp: &Experiment) -> CliResult {
    let eval_every = args.eval_every.unwrap_or(250) as usize;
    let mut summary = Vec::new();
    let mut rows = Vec::new();
    for arm in &exp.arms {
        let (label, cfg) = (&arm.label, &arm.config);
        let dims = interlab::engine::plan(cfg, env).map_err(|e| usage(format!("{label}: {e}")))?.dims;
        let mut t = Trainer::with_env(cfg.clone(), *env).map_err(|e| format!("{label}: {e}"))?;
        let log = Logging { eval_every, print_every: 0, until: 2.0 };
        let mut csv = run_metrics_header();
        let start = Instant::now();
        eprintln!(
            "== {label}: model {} mixers {} task {} ({} steps)",
            cfg.model, cfg.mixers, cfg.task, cfg.steps
        );
        let result = train_loop(&mut t, &log, &mut csv, start);
        if let Some(dir) = &args.out {
            let name: String = label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "+-_".contains(c) { c } else { '_' })
                .collect();
            write_outputs(&dir.join(name), &t, &csv)?;
        }
        let last_loss = result.map_err(|e| format!("{label}: {e}"))?;
        let secs = start.elapsed().as_secs_f64();
        let e = t.evaluate().map_err(|e| e.to_string())?;
        let metric = match (e.accuracy, e.mse) {
            (Some(a), _) => format!("heldout_acc {a:.4}"),
            (None, Some(m)) => format!("heldout_mse {m:.5}"),
            _ => "-".into(),
        };
        let mixers = if cfg.model == "transformer" { cfg.mixers.as_str() } else { "-" };
        summary.push(format!("{label:<22} {:<12} {mixers:<14} {metric}  ({secs:.1}s)", cfg.model));
        rows.push(ArmResult {
            label: label.clone(),
            model: cfg.model.clone(),
            mixers: if cfg.model == "transformer" { cfg.mixers.clone() } else { String::new() },
            task: cfg.task.clone(),
            seed: cfg.seed,
            params: cfg.param_count(dims),
            steps: t.step_count(),
            loss: last_loss,
            accuracy: e.accuracy,
            exact_match: e.exact_match,
            mse: e.mse,
            steps_per_sec: Some(t.step_count() as f64 / secs.max(1e-9)),
            backend: "cpu (native)".into(),
            state: "done".into(),
        });
    }
    println!("summary of {}:", exp.title);
    for line in summary {
        println!("  {line}");
    }
    if let Some(dir) = &args.out {
        write_in(dir, "results.csv", results_csv(&rows).as_bytes())?;
        eprintln!("wrote {}", dir.join("results.csv").display());
    }
    Ok(())
}

/// Train to the end of the schedule (or to `until`), evaluating every `eval_every` steps
/// into `csv`. Returns the last training loss.
fn train_loop(
    t: &mut Trainer,
    log: &Logging,
    csv: &mut String,
    start: Instant,
) -> Result<Option<f64>, String> {
    let mut last = None;
    while !t.is_done() {
        let s = t.step().map_err(|e| e.to_string())?;
        last = Some(s.loss);
        if !s.loss.is_finite() {
            return Err(format!(
                "training diverged at step {}: the loss is {}; lower lr or raise warmup",
                s.step, s.loss
            ));
        }
        let evaluate = s.step % log.eval_every.max(1) == 0 || t.is_done();
        if log.print_every > 0 && s.step % log.print_every == 0 && !evaluate {
            eprintln!("step {:>6}  loss {}  train_acc {}  lr {:.2e}", s.step, s.loss, opt(s.accuracy), s.lr);
        }
        if evaluate {
            let e = t.evaluate().map_err(|e| e.to_string())?;
            csv.push_str(&run_metrics_row(&s, &e));
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "step {:>6}  loss {}  train_acc {}  heldout_loss {:.4}  heldout_acc {}  heldout_exact {}  heldout_mse {}  lr {:.2e}  {:.1}s",
                s.step, s.loss, opt(s.accuracy), e.loss, opt(e.accuracy), opt(e.exact_match), opt(e.mse), s.lr, secs
            );
            if e.accuracy.is_some_and(|a| a >= log.until) {
                eprintln!(
                    "reached held-out accuracy {} >= {} at step {} after {secs:.1}s",
                    opt(e.accuracy),
                    log.until,
                    s.step
                );
                return Ok(last);
            }
        }
    }
    Ok(last)
}

/// A GPU context for `t` if `pref` and the rule in `engine::backend` choose it (the choice
/// goes to stderr), or None for the CPU. `--backend gpu` that cannot be honoured is an error.
pub fn gpu_context(
    pref: BackendPref,
    t: &Trainer,
) -> Result<Option<Arc<interlab::gpu::GpuContext>>, CliError> {
    if pref == BackendPref::Cpu {
        return Ok(None);
    }
    let dims = interlab::engine::plan::dims_of(&t.task.shape());
    let ctx = pollster::block_on(interlab::gpu::GpuContext::request()).ok().map(Arc::new);
    let choice = interlab::engine::backend::choose(pref, &t.cfg, dims, ctx.as_ref().map(|c| &c.summary));
    eprintln!("backend: {}", choice.reason);
    match (choice.gpu, ctx) {
        (true, Some(ctx)) => Ok(Some(ctx)),
        _ if pref == BackendPref::Gpu => Err(CliError::Failed(format!("--backend gpu: {}", choice.reason))),
        _ => Ok(None),
    }
}

/// The GPU engine for `t` when `gpu_context` chooses the GPU.
fn gpu_engine(pref: BackendPref, t: &Trainer) -> Result<Option<GpuTrainer>, CliError> {
    match gpu_context(pref, t)? {
        Some(ctx) => Ok(Some(pollster::block_on(GpuTrainer::new(ctx, t))?)),
        None => Ok(None),
    }
}

/// `train_loop` on the GPU engine: steps and evaluations come back asynchronously through
/// the session; held-out evaluation runs on the GPU too.
fn gpu_train_loop(
    s: &mut Session,
    log: &Logging,
    csv: &mut String,
    start: Instant,
    last_eval: &mut Option<EvalStats>,
) -> Result<Option<f64>, String> {
    let (mut last, mut last_step) = (None, None);
    while !s.is_done() {
        let r = s.run_blocking(f64::NEG_INFINITY, &|| 0.0);
        if let Some((why, from)) = &r.fell_back {
            eprintln!("GPU lost at step {from}: {why}");
        }
        if let Some(e) = r.error {
            return Err(e);
        }
        for st in &r.steps {
            last = Some(st.loss);
            last_step = Some(*st);
            if log.print_every > 0 && st.step % log.print_every == 0 {
                eprintln!(
                    "step {:>6}  loss {}  train_acc {}  lr {:.2e}",
                    st.step,
                    st.loss,
                    opt(st.accuracy),
                    st.lr
                );
            }
        }
        if let (Some((step, e)), Some(st)) = (r.eval, last_step) {
            *last_eval = Some(e);
            let st = StepStats { step, ..st };
            csv.push_str(&run_metrics_row(&st, &e));
            eprintln!(
                "step {:>6}  heldout_loss {:.4}  heldout_acc {}  heldout_exact {}  heldout_mse {}  {:.1}s",
                step,
                e.loss,
                opt(e.accuracy),
                opt(e.exact_match),
                opt(e.mse),
                start.elapsed().as_secs_f64()
            );
            if e.accuracy.is_some_and(|a| a >= log.until) {
                eprintln!("reached held-out accuracy {} >= {} at step {step}", opt(e.accuracy), log.until);
                let mut r = Default::default();
                while !s.catch_up(&mut r)? {}
                return Ok(last);
            }
        }
    }
    Ok(last)
}

/// `DIR/metrics.csv`, `DIR/weights.safetensors` (config in its header too), `DIR/config.json`.
fn write_outputs(dir: &Path, t: &Trainer, csv: &str) -> CliResult {
    write_in(dir, "metrics.csv", csv.as_bytes())?;
    write_in(dir, "weights.safetensors", &t.checkpoint().map_err(|e| e.to_string())?)?;
    write_in(dir, "config.json", t.cfg.to_json_pretty().as_bytes())
}
