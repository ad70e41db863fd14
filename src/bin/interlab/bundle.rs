//! `interlab bundle`: what a run bundle exported from the tab holds.

use std::path::PathBuf;

use clap::Args;

use crate::common::{existing_file, usage, CliResult};

/// What a run bundle exported from the tab holds.
///
/// Shows the lab version that made it, its config, step, share link and a summary of its
/// metrics. `train --from FILE` continues it and
/// `eval --checkpoint FILE` evaluates it.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab bundle --file run.safetensors --metrics run-metrics.csv")]
pub struct BundleArgs {
    /// The run bundle (.safetensors).
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    file: PathBuf,
    /// Also write the bundle's metrics (the tab's metrics CSV) to this file.
    #[arg(long, value_name = "OUT.csv")]
    metrics: Option<PathBuf>,
}

pub fn run(args: BundleArgs) -> CliResult {
    let f = args.file.display();
    let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {f}: {e}"))?;
    let info = interlab::engine::bundle::info(&bytes)
        .map_err(|e| usage(format!("{f}: {e}")))?
        .ok_or_else(|| usage(format!("{f}: a checkpoint (weights only), not a run bundle")))?;
    let h = interlab::engine::bundle::parse_metrics(&info.metrics_csv, false)
        .map_err(|e| usage(format!("{f}: {e}")))?;
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
    if let Some(out) = &args.metrics {
        let o = out.display();
        std::fs::write(out, &info.metrics_csv).map_err(|e| format!("cannot write {o}: {e}"))?;
        eprintln!("wrote {o}");
    }
    Ok(())
}
