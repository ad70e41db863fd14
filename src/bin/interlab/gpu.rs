//! `interlab gpu-check` and `interlab gpu-bench`: the wgpu adapter of this machine.

use clap::Args;
use interlab::engine::gpu_check;

use crate::common::{CliError, CliResult};

/// Check the GPU: the adapter, and the GPU matmul against the CPU.
///
/// Requests a wgpu adapter, prints it, and compares the GPU matmul kernel with the CPU
/// reference on a few shapes. Exit 1 on a mismatch or when there is no adapter.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab gpu-check")]
pub struct GpuCheckArgs {}

pub fn check(_: GpuCheckArgs) -> CliResult {
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
        Err(CliError::Failed("GPU matmul does not match the CPU reference".into()))
    }
}

/// Matmul GFLOP/s on this machine's adapter (a square and the model's shapes).
///
/// A software adapter (lavapipe, SwiftShader) gets `--quick` by default (a 256³ square, the
/// model shapes at batch 1 instead of 32, 1 rep) so the command finishes in seconds;
/// `--full` forces 4096³, batch 32 and 5 reps anywhere.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  interlab gpu-bench --quick\n  interlab gpu-bench --full --reps 3")]
pub struct GpuBenchArgs {
    /// Repetitions per case [default: 5; 1 when quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    reps: Option<u64>,
    /// Side of the square matmul [default: 4096; 256 when quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    size: Option<u64>,
    /// Small sizes (the default on a software adapter).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Full sizes, even on a software adapter.
    #[arg(long)]
    full: bool,
}

pub fn bench(args: GpuBenchArgs) -> CliResult {
    let ctx = pollster::block_on(interlab::gpu::GpuContext::request()).map_err(|e| e.to_string())?;
    let s = &ctx.summary;
    let quick = if args.quick || args.full { args.quick } else { s.is_software };
    let reps = args.reps.map_or(if quick { 1 } else { 5 }, |n| n as usize);
    let size = args.size.map_or(if quick { 256 } else { 4096 }, |n| n as usize);
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
