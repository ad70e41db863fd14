//! The native command-line tool, a thin shell over the library.
//!
//! ```text
//! interlab train     [key=value ...] [--eval-every N] [--print-every N] [--until-acc X]
//! interlab bench     [key=value ...] [--steps N]
//! interlab gpu-check
//! ```
//! `key=value` pairs are the same fields as the lab's URL (`seed=3 layers=2 lr=0.003 ...`),
//! parsed and validated by the same table.

use std::process::ExitCode;
use std::time::Instant;

use interlab::core::TrainConfig;
use interlab::engine::{gpu_check, Trainer};

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
    fn config(&self) -> Result<TrainConfig, String> {
        let known = interlab::core::config::FIELDS;
        for (k, _) in &self.pairs {
            if !known.iter().any(|f| f.key == k) {
                let names: Vec<&str> = known.iter().map(|f| f.key).collect();
                return Err(format!("unknown field '{k}' (fields: {})", names.join(", ")));
            }
        }
        TrainConfig::from_pairs(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(|e| e.to_string())
    }

    fn flag<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.flags.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| format!("--{name}: '{v}' is not a valid value")),
        }
    }
}

fn train(args: &Args) -> Result<(), String> {
    let cfg = args.config()?;
    let eval_every: usize = args.flag("eval-every", 100)?;
    let until: f64 = args.flag("until-acc", 2.0)?;
    let print_every: usize = args.flag("print-every", 0)?;
    println!("config: {}", serde_json::to_string(&cfg).unwrap_or_default());
    let mut t = Trainer::new(cfg.clone())?;
    println!("params: {}", t.model.param_count());
    let start = Instant::now();
    while !t.is_done() {
        let s = t.step().map_err(|e| e.to_string())?;
        let evaluate = s.step % eval_every.max(1) == 0 || t.is_done();
        if print_every > 0 && s.step % print_every == 0 && !evaluate {
            println!("step {:>6}  loss {}  train_acc {:.3}  lr {:.2e}", s.step, s.loss, s.accuracy, s.lr);
        }
        if evaluate {
            let e = t.evaluate().map_err(|e| e.to_string())?;
            let secs = start.elapsed().as_secs_f64();
            println!(
                "step {:>6}  loss {}  train_acc {:.3}  heldout_loss {:.4}  heldout_acc {:.4}  lr {:.2e}  {:.1}s",
                s.step, s.loss, s.accuracy, e.loss, e.accuracy, s.lr, secs
            );
            if e.accuracy >= until {
                println!("reached held-out accuracy {:.4} >= {until} at step {} after {:.1}s", e.accuracy, s.step, secs);
                return Ok(());
            }
        }
    }
    let e = t.evaluate().map_err(|e| e.to_string())?;
    println!("done: {} steps, held-out accuracy {:.4}, {:.1}s", t.step_count(), e.accuracy, start.elapsed().as_secs_f64());
    Ok(())
}

fn bench(args: &Args) -> Result<(), String> {
    let cfg = args.config()?;
    let steps: usize = args.flag("steps", 50)?;
    let mut t = Trainer::new(cfg)?;
    t.step().map_err(|e| e.to_string())?; // warm-up
    let start = Instant::now();
    for _ in 0..steps {
        t.step().map_err(|e| e.to_string())?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("bench native-cpu steps={steps} seconds={secs:.3} steps_per_sec={:.2}", steps as f64 / secs);
    Ok(())
}

fn gpu_check_cmd() -> Result<(), String> {
    let ctx = pollster::block_on(interlab::gpu::GpuContext::request()).map_err(|e| e.to_string())?;
    println!("adapter: {}", serde_json::to_string(&ctx.summary).unwrap_or_default());
    let report = pollster::block_on(gpu_check::check_matmul(&ctx))?;
    for s in &report.shapes {
        println!("matmul {}x{}x{}: max_abs_err {:.3e} {}", s.m, s.k, s.n, s.max_abs_err, if s.ok { "ok" } else { "MISMATCH" });
    }
    if report.passed {
        Ok(())
    } else {
        Err("GPU matmul does not match the CPU reference".into())
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match raw.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => {
            eprintln!("usage: interlab <train|bench|gpu-check> [key=value ...] [--flag value ...]");
            return ExitCode::from(2);
        }
    };
    let result = parse_args(rest).and_then(|args| match cmd {
        "train" => train(&args),
        "bench" => bench(&args),
        "gpu-check" => gpu_check_cmd(),
        other => Err(format!("unknown command '{other}' (train, bench, gpu-check)")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
