//! The native command-line tool, a thin shell over the library.
//!
//! ```text
//! interlab train        [--config FILE] [task=NAME] [key=value ...] [--out DIR] [--eval-every N] [--print-every N] [--until-acc X] [--backend cpu|gpu|auto]
//! interlab train        --preset NAME [--out DIR] [--eval-every N]
//! interlab train        --experiment FILE [--out DIR] [--eval-every N]   (the tab's Experiment JSON)
//! interlab eval         --checkpoint FILE
//! interlab bench        [task=NAME] [key=value ...] [--steps N] [--budget-mib N] [--backend cpu|gpu]
//! interlab tasks list
//! interlab tasks sample NAME [--seed S] [--set key=value ...] [--text]
//! interlab tasks bench  [--ms N]
//! interlab tasks survey [--steps N] [--only NAME,NAME] [key=value ...]
//! interlab gpu-check
//! interlab steer flagship [--steps N] [--seed S] [--site SITE] [--position P|all|lastK|A..B] [--out DIR]
//! interlab steer run    --checkpoint FILE [--op direction|example|sweep|probe|patch] [st_key=value ...] [--direction FILE] [--out DIR]
//! interlab gpu-bench    [--reps N] [--size N] [--quick] [--full]
//! interlab study validate FILE                                   (exit 1 and one line per problem when invalid)
//! interlab study simulate FILE [--n N] [--seed S] [--out DIR]    (writes trials.csv, events.csv, export.json; DIR defaults to target/study/ID)
//! interlab study analyze  FILES... [--out FILE]                  (trial CSV, event CSV or JSON exports → per-condition table)
//! ```
//! `key=value` pairs are the same keys as the lab's URL (`seed=3 layers=2 task=shift seq_len=64`),
//! parsed and validated by the same tables.

use std::process::ExitCode;
use std::time::Instant;

use interlab::core::TrainConfig;
use interlab::engine::steering::SteerReply;
use interlab::engine::{gpu_check, Trainer};
use interlab::engine::{BackendPref, RunEnv};
use interlab::tasks::{self, bench as tbench, Example, ParamKind};

struct Args {
    pairs: Vec<(String, String)>,
    flags: Vec<(String, String)>,
}

fn parse_args(raw: &[String]) -> Result<Args, String> {
    let mut pairs = Vec::new();
    let mut flags = Vec::new();
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            flags.push((name.to_string(), v.clone()));
        } else if let Some((k, v)) = a.split_once('=') {
            pairs.push((k.to_string(), v.to_string()));
        } else {
            return Err(format!("unexpected argument '{a}' (expected key=value or --flag value)"));
        }
    }
    Ok(Args { pairs, flags })
}

impl Args {
    /// The run config: `--config FILE` (JSON) if given, then `key=value` pairs on top.
    fn config(&self) -> Result<TrainConfig, String> {
        let pairs = self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        match self.flags.iter().find(|(k, _)| k == "config") {
            None => TrainConfig::from_pairs(pairs).map_err(|e| e.to_string()),
            Some((_, path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("--config {path}: {e}"))?;
                let base = TrainConfig::from_json(&text).map_err(|e| format!("--config {path}: {e}"))?;
                let mut base_pairs = base.to_pairs();
                base_pairs.extend(self.pairs.iter().cloned());
                TrainConfig::from_pairs(base_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .map_err(|e| e.to_string())
            }
        }
    }

    fn flag<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.flags.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| format!("--{name}: '{v}' is not a valid value")),
        }
    }
}

/// How often `train` evaluates, prints and stops early.
struct Logging {
    eval_every: usize,
    print_every: usize,
    until: f64,
}

fn train(args: &Args) -> Result<(), String> {
    if let Some((_, name)) = args.flags.iter().find(|(k, _)| k == "preset") {
        let p = interlab::engine::presets::find(name)?;
        println!("preset {}: {}\nexpected: {}", p.name, p.title, p.expected);
        return run_arms(args, &interlab::engine::experiment::Experiment::from_preset(&p));
    }
    if let Some((_, file)) = args.flags.iter().find(|(k, _)| k == "experiment") {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let exp = interlab::engine::experiment::Experiment::from_json(&text, &RunEnv::default())
            .map_err(|e| format!("{file}: {e}"))?;
        println!("experiment: {}", exp.title);
        return run_arms(args, &exp);
    }
    let pref = BackendPref::parse(&args.flag("backend", "cpu".to_string())?)
        .map_err(|e| format!("--backend: {e}"))?;
    // The backend is part of the run's environment: a GPU run is not held to the CPU budget.
    let env = RunEnv::default().with_backend(pref);
    let log = Logging {
        eval_every: args.flag("eval-every", 100)?,
        print_every: args.flag("print-every", 0)?,
        until: args.flag("until-acc", 2.0)?,
    };
    // `--from FILE`: continue a run bundle (or a checkpoint) saved by the tab or the CLI.
    let t = match args.flags.iter().find(|(k, _)| k == "from") {
        Some((_, file)) => {
            let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
            let t = interlab::engine::bundle::restore(&bytes).map_err(|e| format!("{file}: {e}"))?;
            println!("continuing {file} from step {} of {}", t.step_count(), t.cfg.steps);
            t
        }
        None => Trainer::with_env(args.config()?, env)?,
    };
    println!("config: {}", serde_json::to_string(&t.cfg).unwrap_or_default());
    println!(
        "task: {} ({} held-out sequences), params: {}",
        t.task.info().name,
        t.eval_sequences(),
        t.model.param_count()
    );
    let mut csv = String::from(METRICS_HEADER);
    let start = Instant::now();
    let mut session = interlab::engine::Session::new(t);
    let mut gpu_eval = None;
    let result = match gpu_engine(pref, &session.trainer)? {
        Some(g) => {
            session.attach_gpu(g);
            session.eval_every = log.eval_every.max(1);
            gpu_train_loop(&mut session, &log, &mut csv, start, &mut gpu_eval)
        }
        None => train_loop(&mut session.trainer, &log, &mut csv, start),
    };
    let t = session.trainer;
    // Whatever happened, keep what was measured.
    if let Some((_, dir)) = args.flags.iter().find(|(k, _)| k == "out") {
        write_outputs(dir, &t, &csv)?;
        println!("wrote {dir}/metrics.csv, {dir}/weights.safetensors, {dir}/config.json");
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
fn run_arms(args: &Args, exp: &interlab::engine::experiment::Experiment) -> Result<(), String> {
    use interlab::engine::experiment::{results_csv, ArmResult};
    let eval_every: usize = args.flag("eval-every", 250)?;
    let out: Option<String> = args.flags.iter().find(|(k, _)| k == "out").map(|(_, v)| v.clone());
    let mut summary = Vec::new();
    let mut rows = Vec::new();
    for arm in &exp.arms {
        let (label, cfg) = (&arm.label, &arm.config);
        let mut t = Trainer::new(cfg.clone()).map_err(|e| format!("{label}: {e}"))?;
        let log = Logging { eval_every, print_every: 0, until: 2.0 };
        let mut csv = String::from(METRICS_HEADER);
        let start = Instant::now();
        println!(
            "== {label}: model {} mixers {} task {} ({} steps)",
            cfg.model, cfg.mixers, cfg.task, cfg.steps
        );
        let result = train_loop(&mut t, &log, &mut csv, start);
        if let Some(dir) = &out {
            let name: String = label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "+-_".contains(c) { c } else { '_' })
                .collect();
            write_outputs(&format!("{dir}/{name}"), &t, &csv)?;
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
        let dims = interlab::engine::plan(cfg, &RunEnv::default()).map_err(|e| e.to_string())?.dims;
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
    println!("\nsummary of {}:", exp.title);
    for line in summary {
        println!("  {line}");
    }
    if let Some(dir) = &out {
        let path = format!("{dir}/results.csv");
        std::fs::write(&path, results_csv(&rows)).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(())
}

/// Train to the end of the schedule (or to `until`), evaluating every `eval_every` steps
/// into `csv`.
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
            println!("step {:>6}  loss {}  train_acc {}  lr {:.2e}", s.step, s.loss, opt(s.accuracy), s.lr);
        }
        if evaluate {
            let e = t.evaluate().map_err(|e| e.to_string())?;
            csv.push_str(&metrics_row(&s, &e));
            let secs = start.elapsed().as_secs_f64();
            println!(
                "step {:>6}  loss {}  train_acc {}  heldout_loss {:.4}  heldout_acc {}  heldout_exact {}  heldout_mse {}  lr {:.2e}  {:.1}s",
                s.step, s.loss, opt(s.accuracy), e.loss, opt(e.accuracy), opt(e.exact_match), opt(e.mse), s.lr, secs
            );
            if e.accuracy.is_some_and(|a| a >= log.until) {
                println!(
                    "reached held-out accuracy {} >= {} at step {} after {:.1}s",
                    opt(e.accuracy),
                    log.until,
                    s.step,
                    secs
                );
                return Ok(last);
            }
        }
    }
    Ok(last)
}

/// The GPU engine for `t` if `pref` and the rule in `engine::backend` choose it (printing
/// the choice), or None for the CPU.
fn gpu_engine(
    pref: BackendPref,
    t: &Trainer,
) -> Result<Option<interlab::engine::gpu_train::GpuTrainer>, String> {
    if pref == BackendPref::Cpu {
        return Ok(None);
    }
    let dims = interlab::engine::plan::dims_of(&t.task.shape());
    let ctx = pollster::block_on(interlab::gpu::GpuContext::request()).ok().map(std::sync::Arc::new);
    let choice = interlab::engine::backend::choose(pref, &t.cfg, dims, ctx.as_ref().map(|c| &c.summary));
    println!("backend: {}", choice.reason);
    match (choice.gpu, ctx) {
        (true, Some(ctx)) => {
            Ok(Some(pollster::block_on(interlab::engine::gpu_train::GpuTrainer::new(ctx, t))?))
        }
        _ if pref == BackendPref::Gpu => Err(format!("--backend gpu: {}", choice.reason)),
        _ => Ok(None),
    }
}

/// `train_loop` on the GPU engine: steps and evaluations come back asynchronously through
/// the session; held-out evaluation runs on the GPU too.
fn gpu_train_loop(
    s: &mut interlab::engine::Session,
    log: &Logging,
    csv: &mut String,
    start: Instant,
    last_eval: &mut Option<interlab::engine::EvalStats>,
) -> Result<Option<f64>, String> {
    let (mut last, mut last_step) = (None, None);
    while !s.is_done() {
        let r = s.run_blocking(f64::NEG_INFINITY, &|| 0.0);
        if let Some((why, from)) = &r.fell_back {
            println!("GPU lost at step {from}: {why}");
        }
        if let Some(e) = r.error {
            return Err(e);
        }
        for st in &r.steps {
            last = Some(st.loss);
            last_step = Some(*st);
            if log.print_every > 0 && st.step % log.print_every == 0 {
                println!(
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
            let st = interlab::engine::StepStats { step, ..st };
            csv.push_str(&metrics_row(&st, &e));
            println!(
                "step {:>6}  heldout_loss {:.4}  heldout_acc {}  heldout_exact {}  heldout_mse {}  {:.1}s",
                step,
                e.loss,
                opt(e.accuracy),
                opt(e.exact_match),
                opt(e.mse),
                start.elapsed().as_secs_f64()
            );
            if e.accuracy.is_some_and(|a| a >= log.until) {
                println!("reached held-out accuracy {} >= {} at step {step}", opt(e.accuracy), log.until);
                let mut r = Default::default();
                while !s.catch_up(&mut r)? {}
                return Ok(last);
            }
        }
    }
    Ok(last)
}

/// Columns of `metrics.csv`: one row per evaluation; empty cells for metrics the task does
/// not have (accuracy for regression, MSE for classification).
const METRICS_HEADER: &str =
    "step,loss,accuracy,lr,heldout_loss,heldout_accuracy,heldout_exact_match,heldout_mse\n";

fn metrics_row(s: &interlab::engine::StepStats, e: &interlab::engine::EvalStats) -> String {
    let cell = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{},{}\n",
        s.step,
        s.loss,
        cell(s.accuracy),
        s.lr,
        e.loss,
        cell(e.accuracy),
        cell(e.exact_match),
        cell(e.mse)
    )
}

/// `DIR/metrics.csv`, `DIR/weights.safetensors` (config in its header too), `DIR/config.json`.
fn write_outputs(dir: &str, t: &Trainer, csv: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--out {dir}: {e}"))?;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(format!("{dir}/{name}"), bytes).map_err(|e| format!("{dir}/{name}: {e}"))
    };
    write("metrics.csv", csv.as_bytes())?;
    write("weights.safetensors", &t.checkpoint().map_err(|e| e.to_string())?)?;
    write("config.json", t.cfg.to_json_pretty().as_bytes())
}

fn eval_cmd(args: &Args) -> Result<(), String> {
    let path = args
        .flags
        .iter()
        .find(|(k, _)| k == "checkpoint")
        .map(|(_, v)| v.clone())
        .ok_or("usage: interlab eval --checkpoint FILE")?;
    let bytes = std::fs::read(&path).map_err(|e| format!("--checkpoint {path}: {e}"))?;
    let t = Trainer::from_checkpoint(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let e = t.evaluate().map_err(|e| e.to_string())?;
    println!(
        "checkpoint {path}: task {} model {} step {}: heldout_loss {:.4} heldout_acc {} heldout_exact {} heldout_mse {}",
        t.cfg.task,
        t.cfg.model,
        t.step_count(),
        e.loss,
        opt(e.accuracy),
        opt(e.exact_match),
        opt(e.mse)
    );
    Ok(())
}

/// A metric for printing: 4 decimals, or "-" where the task has no such metric.
fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into())
}

fn tasks_cmd(rest: &[String]) -> Result<(), String> {
    let (sub, rest) = rest.split_first().ok_or("usage: interlab tasks <list|sample NAME|bench>")?;
    match sub.as_str() {
        "list" => {
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
        "sample" => {
            let (name, rest) = rest
                .split_first()
                .ok_or("usage: interlab tasks sample NAME [--seed S] [--set key=value ...]")?;
            let mut seed = 0u64;
            let mut sets: Vec<(String, String)> = Vec::new();
            let mut text = false;
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--seed" => {
                        let v = it.next().ok_or("--seed needs a value")?;
                        seed = v.parse().map_err(|_| format!("--seed: '{v}' is not a whole number"))?;
                    }
                    "--set" => {
                        let v = it.next().ok_or("--set needs key=value")?;
                        let (k, val) =
                            v.split_once('=').ok_or_else(|| format!("--set: '{v}' is not key=value"))?;
                        sets.push((k.to_string(), val.to_string()));
                    }
                    "--text" => text = true,
                    other => {
                        return Err(format!(
                            "unexpected argument '{other}' (expected --seed S, --set key=value, --text)"
                        ))
                    }
                }
            }
            let info = tasks::find(name).map_err(|e| e.to_string())?;
            for (k, _) in &sets {
                if !info.params.iter().any(|p| p.key == k) {
                    let keys: Vec<&str> = info.params.iter().map(|p| p.key).collect();
                    return Err(format!(
                        "{k}: not a parameter of task '{name}' (its parameters: {})",
                        keys.join(", ")
                    ));
                }
            }
            let task = tasks::build(name, sets.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| e.to_string())?;
            let ex = Example::new(task.as_ref(), seed);
            if text {
                print!("{}", ex.render_text(task.as_ref()));
            } else {
                println!("{}", ex.to_json());
            }
            Ok(())
        }
        "bench" => {
            let min_ms: f64 = match rest {
                [] => 1000.0,
                [flag, v] if flag == "--ms" => {
                    v.parse().map_err(|_| format!("--ms: '{v}' is not a number"))?
                }
                _ => return Err("usage: interlab tasks bench [--ms N]".into()),
            };
            let clock = Instant::now();
            let now = move || clock.elapsed().as_secs_f64() * 1000.0;
            for case in tbench::CASES {
                let r = tbench::run_case(case, min_ms, &now)?;
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
        "survey" => survey(rest),
        other => Err(format!("unknown tasks command '{other}' (list, sample, bench, survey)")),
    }
}

/// Train the lab's default model on every task at its default parameters and print the best
/// held-out accuracy (or lowest MSE) and the step it came at. Model keys (`layers=..`) apply
/// to every task; a task too long for the memory budget gets its batch halved until it fits.
fn survey(rest: &[String]) -> Result<(), String> {
    let args = parse_args(rest)?;
    if let Some((k, _)) = args.flags.iter().find(|(k, _)| k != "steps" && k != "only") {
        return Err(format!("--{k}: unknown flag (tasks survey takes --steps N and --only NAME,NAME)"));
    }
    let steps: usize = args.flag("steps", 2000)?;
    let only: String = args.flag("only", String::new())?;
    let base = args.config()?;
    if let Some((k, _)) = base.task_params.first() {
        return Err(format!("{k}: tasks survey runs every task at its defaults; only model keys (seed, layers, heads, d_model, lr, batch, warmup) apply"));
    }
    println!("task                 seq_len  batch  steps  best_heldout   at_step  chance   seconds");
    for info in tasks::all() {
        if !only.is_empty() && !only.split(',').any(|n| n == info.name) {
            continue;
        }
        let mut cfg = TrainConfig { steps, warmup: base.warmup.min(steps / 10), ..base.clone() }
            .with_task(info.name, &[]);
        while let Err(e) = interlab::engine::plan(&cfg, &RunEnv::default()) {
            if cfg.batch > 1 && e.errors.iter().all(|f| f.field == "batch") {
                cfg.batch /= 2;
            } else {
                return Err(format!("{}: {e}", info.name));
            }
        }
        let mut t = Trainer::new(cfg.clone())?;
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

fn bench(args: &Args) -> Result<(), String> {
    let mut env = RunEnv::default();
    let budget: u64 = args.flag("budget-mib", 0)?;
    if budget > 0 {
        env = env.with_budget_mib(budget);
    }
    let backend: String = args.flag("backend", "cpu".to_string())?;
    if backend == "gpu" {
        env = env.with_backend(BackendPref::Gpu); // not held to the CPU budget
    }
    let cfg = args.config()?;
    let steps: usize = args.flag("steps", 50)?;
    let mut t = Trainer::with_env(cfg, env)?;
    match backend.as_str() {
        "cpu" => {}
        "gpu" => return bench_gpu(&t, steps),
        other => return Err(format!("--backend: '{other}' (cpu or gpu)")),
    }
    t.step().map_err(|e| e.to_string())?; // warm-up
    let start = Instant::now();
    for _ in 0..steps {
        t.step().map_err(|e| e.to_string())?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("bench native-cpu steps={steps} seconds={secs:.3} steps_per_sec={:.2}", steps as f64 / secs);
    Ok(())
}

/// Steps/s of the GPU engine: one warm-up step, then `steps` submissions back to back with
/// the statistics read back asynchronously, timed until the last step's numbers are home.
fn bench_gpu(t: &Trainer, steps: usize) -> Result<(), String> {
    let ctx = std::sync::Arc::new(
        pollster::block_on(interlab::gpu::GpuContext::request()).map_err(|e| e.to_string())?,
    );
    let built = Instant::now();
    let mut g = pollster::block_on(interlab::engine::gpu_train::GpuTrainer::new(ctx, t))?;
    let build_s = built.elapsed().as_secs_f64();
    g.submit_step(t)?;
    g.wait_stats()?;
    let submits0 = g.submits();
    let start = Instant::now();
    let mut last = Vec::new();
    for _ in 0..steps {
        if !g.can_submit() {
            last.extend(g.wait_stats()?);
        }
        g.submit_step(t)?;
        g.keep_reading();
        last.extend(g.poll_stats(false)?);
    }
    last.extend(g.wait_stats()?);
    let secs = start.elapsed().as_secs_f64();
    let a = g.adapter();
    println!(
        "bench gpu adapter=\"{}\" ({}, {}) steps={steps} seconds={secs:.3} steps_per_sec={:.2} dispatches_per_step={} submits_per_step={:.2} gpu_mib={:.1} build_s={build_s:.2} last_loss={:.4}",
        a.name,
        a.backend,
        a.device_type,
        steps as f64 / secs,
        g.dispatches(),
        (g.submits() - submits0) as f64 / steps as f64,
        g.bytes() as f64 / (1 << 20) as f64,
        last.last().map_or(f64::NAN, |s| s.loss)
    );
    Ok(())
}

/// The steering flagship (`engine::flagship`): train on Copy-or-Reverse, steer copy inputs
/// with the task direction against 20 random directions, patch, and print the numbers.
fn steer_cmd(args: &Args) -> Result<(), String> {
    let d = interlab::engine::flagship::FlagshipConfig::default();
    let positions = interlab::steer::Positions::parse(&args.flag("position", "0".to_string())?)
        .map_err(|e| format!("--position: {e}"))?;
    let site = args.flag("site", d.site.clone())?;
    let cfg = interlab::engine::flagship::FlagshipConfig {
        steps: args.flag("steps", d.steps)?,
        seed: args.flag("seed", d.seed)?,
        site,
        positions,
        ..d
    };
    let start = Instant::now();
    let r = interlab::engine::flagship::run(&cfg, &mut |line| println!("{line}"))?;
    println!("held-out accuracy {:.4}", r.heldout_accuracy);
    print_steer(&SteerReply::Direction(r.direction.clone()));
    print_steer(&SteerReply::Sweep(r.sweep.clone()));
    println!("mid-network: blocks.0.resid_post at the answer positions (last8), scales in typical activation norms:");
    print_steer(&SteerReply::Sweep(r.mid.clone()));
    println!(
        "random-split directions, p at scale 1: {:?}",
        r.random_split_p.iter().map(|p| format!("{p:.3}")).collect::<Vec<_>>()
    );
    print_steer(&SteerReply::Probe(r.probe.clone()));
    print_steer(&SteerReply::Patch(r.patch.clone()));
    println!(
        "seq-64 patching sweep (2 layers x 5 sites x 64 positions, 16 sequences): {:.2} s",
        r.patch_seconds_seq64
    );
    let (d, sw, pr) = (&r.direction, &r.sweep.result, &r.probe);
    if let Some((_, dir)) = args.flags.iter().find(|(k, _)| k == "out") {
        std::fs::create_dir_all(dir).map_err(|e| format!("--out {dir}: {e}"))?;
        std::fs::write(format!("{dir}/flagship_sweep.csv"), sw.to_csv()).map_err(|e| e.to_string())?;
        std::fs::write(format!("{dir}/direction.json"), d.direction.to_json()).map_err(|e| e.to_string())?;
        std::fs::write(format!("{dir}/probes.csv"), pr.to_csv()).map_err(|e| e.to_string())?;
        std::fs::write(format!("{dir}/patching.csv"), r.patch.to_csv()).map_err(|e| e.to_string())?;
        println!("wrote {dir}/flagship_sweep.csv, direction.json, probes.csv, patching.csv");
    }
    println!("done in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// A steering report in a few lines.
fn print_steer(reply: &SteerReply) {
    match reply {
        SteerReply::Direction(d) => {
            println!(
                "site {}: direction norm {:.3}, typical activation norm {:.3}; A: {}; B: {}",
                d.direction.site, d.norm, d.typical_norm, d.a, d.b
            );
            println!(
                "cosine across layers ({}): {:?}",
                d.layers.join(", "),
                d.cosines
                    .iter()
                    .map(|row| row.iter().map(|c| format!("{c:.2}")).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            );
        }
        SteerReply::Example(e) => {
            println!("scale {} (added norm {:.3})", e.scale, e.added_norm);
            for (name, row) in
                [("input", &e.tokens), ("unsteered", &e.base), ("steered", &e.steered), ("set A", &e.toward)]
            {
                println!("{name:>10}: {}", row.join(" "));
            }
        }
        SteerReply::Sweep(r) => {
            let sw = &r.result;
            println!("{} on {} sequences; scale 1 adds norm {:.3}", r.metric, r.n, r.unit_norm);
            println!(
                "{:>6} {:>10} {:>12} {:>11} {:>10} {:>8}",
                "scale", "effect", "random mean", "random max", "percentile", "p"
            );
            for (j, s) in sw.scales.iter().enumerate() {
                let rand: Vec<f64> = sw.random.iter().map(|x| x[j]).collect();
                let mean = rand.iter().sum::<f64>() / rand.len() as f64;
                let max = rand.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                println!(
                    "{s:>6} {:>10.4} {mean:>12.4} {max:>11.4} {:>10.2} {:>8.4}",
                    sw.effect[j], sw.percentile[j], sw.p_value[j]
                );
            }
        }
        SteerReply::Probe(pr) => {
            let best = pr.accuracy.iter().flatten().cloned().fold(0.0, f64::max);
            println!("probes ({} labels): best site x position held-out accuracy {best:.3}; pooled at {} {:.3}, cosine with the direction {:.3}", pr.labels, pr.site, pr.pooled_accuracy, pr.cosine);
        }
        SteerReply::Patch(r) => {
            let p = &r.result;
            let best = p
                .restored
                .iter()
                .zip(&p.sites)
                .flat_map(|(row, s)| row.iter().enumerate().map(move |(q, x)| (*x, s.clone(), q)))
                .fold((f64::NEG_INFINITY, String::new(), 0), |a, b| if b.0 > a.0 { b } else { a });
            println!(
                "patching ({}): {} runs in {:.2} s; most restoring: {} at position {} ({:.3})",
                r.metric,
                p.runs,
                r.ms / 1e3,
                best.1,
                best.2,
                best.0
            );
        }
    }
}

/// `interlab steer run`: one steering request (the tab's panel, same spec keys) on a saved run.
fn steer_run_cmd(args: &Args) -> Result<(), String> {
    use interlab::engine::steering::{handle, Op, SteerRequest, SteerSpec};
    let path = args
        .flags
        .iter()
        .find(|(k, _)| k == "checkpoint")
        .map(|(_, v)| v.clone())
        .ok_or("steer run needs --checkpoint FILE")?;
    let bytes = std::fs::read(&path).map_err(|e| format!("--checkpoint {path}: {e}"))?;
    let t = Trainer::from_checkpoint(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let op_name = args.flag("op", "sweep".to_string())?;
    let op = Op::parse(&op_name)
        .ok_or_else(|| format!("--op: '{op_name}' (direction, example, sweep, probe, patch)"))?;
    if let Some((k, _)) = args.pairs.iter().find(|(k, _)| SteerSpec::default().get(k).is_none()) {
        return Err(format!(
            "'{k}' is not a steering key ({})",
            interlab::engine::steering::KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        ));
    }
    let spec = SteerSpec::from_pairs(&t.cfg.task, &args.pairs);
    let direction = match args.flags.iter().find(|(k, _)| k == "direction") {
        Some((_, f)) => Some(std::fs::read_to_string(f).map_err(|e| format!("--direction {f}: {e}"))?),
        None => None,
    };
    let start = Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let out = handle(&t, &SteerRequest { op, spec, direction }, &clock, &mut |p| {
        eprintln!("{} ({}/{})", p.what, p.done + 1, p.total)
    });
    if let Some(d) = &out.direction {
        if op != Op::Direction {
            print_steer(&SteerReply::Direction(d.clone()));
        }
    }
    let reply = out.reply?;
    print_steer(&reply);
    if let Some((_, dir)) = args.flags.iter().find(|(k, _)| k == "out") {
        std::fs::create_dir_all(dir).map_err(|e| format!("--out {dir}: {e}"))?;
        let csv = match &reply {
            SteerReply::Sweep(r) => Some(r.result.to_csv()),
            SteerReply::Probe(r) => Some(r.to_csv()),
            SteerReply::Patch(r) => Some(r.to_csv()),
            _ => None,
        };
        if let Some(csv) = csv {
            std::fs::write(format!("{dir}/{}.csv", op.name()), csv).map_err(|e| e.to_string())?;
        }
        if let Some(d) = &out.direction {
            std::fs::write(format!("{dir}/direction.json"), d.direction.to_json())
                .map_err(|e| e.to_string())?;
        }
        println!("wrote {dir}/");
    }
    Ok(())
}

fn gpu_check_cmd() -> Result<(), String> {
    let ctx = pollster::block_on(interlab::gpu::GpuContext::request()).map_err(|e| e.to_string())?;
    println!("adapter: {}", serde_json::to_string(&ctx.summary).unwrap_or_default());
    let report = pollster::block_on(gpu_check::check_matmul(&ctx))?;
    for s in &report.shapes {
        println!(
            "matmul {}x{}x{}: max_abs_err {:.3e} {}",
            s.m,
            s.k,
            s.n,
            s.max_abs_err,
            if s.ok { "ok" } else { "MISMATCH" }
        );
    }
    if report.passed {
        Ok(())
    } else {
        Err("GPU matmul does not match the CPU reference".into())
    }
}

/// Matmul GFLOP/s on this machine's adapter. A software adapter (lavapipe, SwiftShader) gets
/// `--quick` by default — a 256³ square, the model shapes at batch 1 instead of 32, 1 rep —
/// so the command finishes in seconds (lavapipe on 2 cores runs ~0.2 GFLOP/s); `--full`
/// forces 4096³, batch 32 and 5 reps anywhere. Only --reps and --size take a value.
fn gpu_bench_cmd(rest: &[String]) -> Result<(), String> {
    let mut it = rest.iter();
    let (mut reps, mut size, mut quick) = (None, None, None);
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            v.parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("--{name}: '{v}' is not a positive integer"))
        };
        match a.as_str() {
            "--reps" => reps = Some(value("reps")?),
            "--size" => size = Some(value("size")?),
            "--quick" => quick = Some(true),
            "--full" => quick = Some(false),
            other => {
                return Err(format!(
                    "gpu-bench: unexpected argument '{other}' (--reps N, --size N, --quick, --full)"
                ))
            }
        }
    }
    let ctx = pollster::block_on(interlab::gpu::GpuContext::request()).map_err(|e| e.to_string())?;
    let s = &ctx.summary;
    let quick = quick.unwrap_or(s.is_software);
    let reps = reps.unwrap_or(if quick { 1 } else { 5 });
    let size = size.unwrap_or(if quick { 256 } else { 4096 });
    let batch = if quick { 1 } else { 32 };
    println!(
        "adapter: {} ({}, {}, driver {}){}",
        s.name,
        s.backend,
        s.device_type,
        s.driver,
        if quick { "  [quick: batch 1; --full for 4096³, batch 32, 5 reps]" } else { "" }
    );
    for case in interlab::gpu::bench::default_cases(size, batch) {
        let r = pollster::block_on(interlab::gpu::bench::bench_case(&ctx, &case, reps))
            .map_err(|e| e.to_string())?;
        println!("{}", interlab::gpu::bench::format_line(&r));
    }
    Ok(())
}

/// `interlab bundle --file FILE [--metrics OUT.csv]`: what a run bundle holds (exported from
/// the tab).
fn bundle_cmd(args: &Args) -> Result<(), String> {
    let file = args
        .flags
        .iter()
        .find(|(k, _)| k == "file")
        .map(|(_, v)| v.clone())
        .ok_or("usage: interlab bundle --file FILE [--metrics OUT.csv]")?;
    let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let info = interlab::engine::bundle::info(&bytes)
        .map_err(|e| format!("{file}: {e}"))?
        .ok_or_else(|| format!("{file}: a checkpoint (weights only), not a run bundle"))?;
    let h = interlab::engine::bundle::parse_metrics(&info.metrics_csv, false)
        .map_err(|e| format!("{file}: {e}"))?;
    println!("bundle: made with interlab {} (this is {})", info.version, interlab::VERSION);
    println!("config: {}", serde_json::to_string(&info.config).unwrap_or_default());
    println!("step: {} of {}", info.step, info.config.steps);
    println!("link: {}", info.link);
    println!(
        "metrics: {} training losses, last {:?}; {} held-out evaluations",
        h.loss.len(),
        h.loss.last().map(|p| p.1),
        h.eval_accuracy.len().max(h.eval_mse.len())
    );
    if let Some((_, out)) = args.flags.iter().find(|(k, _)| k == "metrics") {
        std::fs::write(out, &info.metrics_csv).map_err(|e| format!("cannot write {out}: {e}"))?;
        println!("wrote {out}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match raw.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            eprintln!("usage: interlab <train|eval|bundle|bench|tasks|study|steer|gpu-check|gpu-bench> [key=value ...] [--flag value ...]");
            return ExitCode::from(2);
        }
    };
    if cmd == "gpu-bench" {
        return match gpu_bench_cmd(rest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if cmd == "tasks" {
        return match tasks_cmd(rest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if cmd == "study" {
        return study_cmd(rest);
    }
    if cmd == "steer" {
        return match rest.split_first() {
            Some((sub, more)) if sub == "flagship" || sub == "run" => {
                match parse_args(more)
                    .and_then(|a| if sub == "run" { steer_run_cmd(&a) } else { steer_cmd(&a) })
                {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            _ => {
                eprintln!("usage: interlab steer flagship [--steps N] [--seed S] [--site SITE] [--position P|all|lastK|A..B] [--out DIR]");
                eprintln!("       interlab steer run --checkpoint FILE [--op direction|example|sweep|probe|patch] [st_key=value ...] [--direction FILE] [--out DIR]");
                ExitCode::from(2)
            }
        };
    }
    let result = parse_args(rest).and_then(|args| match cmd {
        "train" => train(&args),
        "bench" => bench(&args),
        "eval" => eval_cmd(&args),
        "bundle" => bundle_cmd(&args),
        "gpu-check" => gpu_check_cmd(),
        other => Err(format!("unknown command '{other}' (train, eval, bundle, bench, tasks, study, steer, gpu-check, gpu-bench)")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

const STUDY_USAGE: &str = "usage: interlab study validate FILE | simulate FILE [--n N] [--seed S] [--out DIR] | analyze FILES... [--out FILE]";

/// `interlab study ...`: exit 0 on success, 1 on an invalid protocol or failed run, 2 on usage.
fn study_cmd(rest: &[String]) -> ExitCode {
    use interlab::study::StudyError;
    let result = match rest.split_first() {
        Some((sub, more)) if sub == "validate" && more.len() == 1 => study_validate(&more[0]),
        Some((sub, more)) if sub == "simulate" && !more.is_empty() => {
            parse_args(&more[1..]).and_then(|a| study_simulate(&more[0], &a)).map_err(StudyError::Input)
        }
        Some((sub, more)) if sub == "analyze" && !more.is_empty() => study_analyze(more),
        _ => {
            eprintln!("{STUDY_USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_protocol(path: &str) -> Result<interlab::study::Protocol, interlab::study::StudyError> {
    use interlab::study::StudyError;
    let text = std::fs::read_to_string(path).map_err(|e| StudyError::Input(format!("{path}: {e}")))?;
    interlab::study::parse_protocol(&text).map_err(|e| match e {
        StudyError::Invalid(issues) => {
            for i in &issues {
                println!("{path}: {i}");
            }
            StudyError::Input(format!("{path}: {} problem(s); protocol rejected", issues.len()))
        }
        other => other,
    })
}

fn study_validate(path: &str) -> Result<(), interlab::study::StudyError> {
    let p = read_protocol(path)?;
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

fn study_simulate(path: &str, args: &Args) -> Result<(), String> {
    use interlab::study::{assign, export, simulate};
    let p = read_protocol(path).map_err(|e| e.to_string())?;
    let n: usize = args.flag("n", 100)?;
    let seed: u64 = args.flag("seed", 0)?;
    let out: String = args.flag("out", format!("target/study/{}", p.metadata.id))?;
    let opts = simulate::SimOptions { seed, ..Default::default() };
    let logs = simulate::simulate_study(&p, n, &opts).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{out}: {e}"))?;
    let slices = || logs.iter().map(|l| l.rows());
    let files = [
        ("trials.csv", export::trials_csv(slices())),
        ("events.csv", export::events_csv(slices())),
        ("export.json", export::export_json(&p.metadata.id, &p.metadata.version, slices())),
    ];
    for (name, text) in &files {
        let f = format!("{out}/{name}");
        std::fs::write(&f, text).map_err(|e| format!("{f}: {e}"))?;
    }
    let cells = assign::cells(&p);
    let total_w: f64 = cells.iter().map(|c| c.weight).sum();
    println!(
        "{n} simulated participants of {} (seed {seed}) -> {out}/{{trials.csv,events.csv,export.json}}",
        p.metadata.id
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

fn study_analyze(rest: &[String]) -> Result<(), interlab::study::StudyError> {
    use interlab::study::{analyze, StudyError};
    let mut files = Vec::new();
    let mut out = None;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        if a == "--out" {
            out = Some(it.next().ok_or_else(|| StudyError::Input("--out needs a value".into()))?.clone());
        } else {
            files.push(a.clone());
        }
    }
    let mut records = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| StudyError::Input(format!("{f}: {e}")))?;
        records.extend(analyze::load_any(&text, f)?);
    }
    let table = analyze::analysis_csv(&analyze::analyze(&records));
    match out {
        Some(path) => {
            std::fs::write(&path, &table).map_err(|e| StudyError::Input(format!("{path}: {e}")))?;
            println!("{} trial rows from {} file(s) -> {path}", records.len(), files.len());
        }
        None => print!("{table}"),
    }
    Ok(())
}
