//! `interlab eval`: held-out metrics of a saved checkpoint or run bundle.

use std::path::PathBuf;

use clap::Args;
use interlab::engine::Trainer;

use crate::common::{existing_file, opt, usage, CliResult};

/// Held-out metrics of a saved checkpoint or run bundle.
///
/// Evaluates a checkpoint (`weights.safetensors` from `train --out`, or a run bundle from the
/// tab) on its task's held-out set and prints one line of metrics to stdout.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  interlab eval --checkpoint runs/shift/weights.safetensors")]
pub struct EvalArgs {
    /// The checkpoint or run bundle (.safetensors; its config is in the header).
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    checkpoint: PathBuf,
}

pub fn run(args: EvalArgs) -> CliResult {
    let p = args.checkpoint.display();
    let bytes = std::fs::read(&args.checkpoint).map_err(|e| format!("--checkpoint {p}: {e}"))?;
    let t = Trainer::from_checkpoint(&bytes).map_err(|e| usage(format!("{p}: {e}")))?;
    let e = t.evaluate().map_err(|e| e.to_string())?;
    println!(
        "checkpoint {p}: task {} model {} step {}: heldout_loss {:.4} heldout_acc {} heldout_exact {} heldout_mse {}",
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
