//! `interlab bench`: training steps per second of one config on the CPU or the GPU.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use interlab::engine::{BackendPref, Trainer};

use crate::common::{existing_file, parse_pair, run_config, CliResult, EnvArgs};

/// Time training steps of one config and print steps/s to stdout.
///
/// The config is `key=value` pairs as for `train` (`steps=` there is the schedule length,
/// which sets the learning-rate curve; it is not how many steps are timed). `--timed-steps N`
/// is how many steps are timed, after one untimed warm-up step.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  interlab bench model=dlr task=mqar seq_len=256 --timed-steps 20\n  \
                        interlab bench layers=4 d_model=128 --backend gpu --timed-steps 100")]
pub struct BenchArgs {
    /// Run settings, the lab's URL keys, as for `train`.
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    pairs: Vec<(String, String)>,
    /// A JSON run config; pairs apply on top of it.
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    config: Option<PathBuf>,
    /// How many steps to time (after one warm-up step).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    timed_steps: u64,
    #[command(flatten)]
    env: EnvArgs,
}

pub fn run(args: BenchArgs) -> CliResult {
    let env = args.env.env();
    let cfg = run_config(&args.pairs, args.config.as_deref(), &env)?;
    let steps = args.timed_steps as usize;
    let mut t = Trainer::with_env(cfg, env)?;
    let ctx = match env.backend {
        // `--backend gpu` benchmarks the GPU engine whatever `backend::choose` would say.
        BackendPref::Gpu => Some(std::sync::Arc::new(
            pollster::block_on(interlab::gpu::GpuContext::request()).map_err(|e| e.to_string())?,
        )),
        pref => crate::train::gpu_context(pref, &t)?,
    };
    if let Some(ctx) = ctx {
        return bench_gpu(ctx, &t, steps);
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
fn bench_gpu(ctx: std::sync::Arc<interlab::gpu::GpuContext>, t: &Trainer, steps: usize) -> CliResult {
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
