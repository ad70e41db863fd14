//! `interlab steer`: the steering flagship, and one steering request on a saved run.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use interlab::engine::flagship::FlagshipConfig;
use interlab::engine::steering::{handle, Op, SteerReply, SteerRequest, SteerSpec, KEYS};
use interlab::engine::Trainer;

use crate::common::{existing_file, parse_pair, usage, write_in, CliResult};

/// Steering: find a direction in a trained model, add it, probe and patch.
#[derive(Subcommand, Debug)]
pub enum SteerCmd {
    Flagship(FlagshipArgs),
    Run(RunArgs),
}

pub fn run(cmd: SteerCmd) -> CliResult {
    match cmd {
        SteerCmd::Flagship(a) => flagship(a),
        SteerCmd::Run(a) => steer_run(a),
    }
}

/// The steering flagship: train on Copy-or-Reverse, steer copy inputs with the task
/// direction against 20 random directions, probe, patch, and print the numbers.
///
/// Its keys are `key=value` pairs with the lab's names: `steps` and `seed` of the training run,
/// `st_site` and `st_pos` (a position P, `all`, `lastK` or `A..B`) of the direction.
/// Progress goes to stderr, the report to stdout.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  interlab steer flagship\n  \
                        interlab steer flagship steps=1000 seed=2 st_site=blocks.0.resid_post st_pos=all --out runs/flagship")]
pub struct FlagshipArgs {
    /// `steps=N seed=S st_site=SITE st_pos=P` [defaults: 3000, 1, blocks.0.resid_pre, 0].
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    pairs: Vec<(String, String)>,
    /// Write flagship_sweep.csv, direction.json, probes.csv and patching.csv here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The flagship's config from its pairs; any other key, or a bad value, is a usage error.
fn flagship_config(pairs: &[(String, String)]) -> Result<FlagshipConfig, crate::common::CliError> {
    let mut cfg = FlagshipConfig::default();
    for (k, v) in pairs {
        let whole = || format!("{k}: '{v}' is not a whole number");
        match k.as_str() {
            "steps" => cfg.steps = v.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| usage(whole()))?,
            "seed" => cfg.seed = v.parse().map_err(|_| usage(whole()))?,
            "st_site" => cfg.site = v.clone(),
            "st_pos" => {
                cfg.positions =
                    interlab::steer::Positions::parse(v).map_err(|e| usage(format!("{k}: {e}")))?
            }
            _ => {
                return Err(usage(format!(
                    "{k}={v}: not a key of steer flagship (steps, seed, st_site, st_pos)"
                )))
            }
        }
    }
    Ok(cfg)
}

fn flagship(args: FlagshipArgs) -> CliResult {
    let cfg = flagship_config(&args.pairs)?;
    let start = Instant::now();
    let r = interlab::engine::flagship::run(&cfg, &mut |line| eprintln!("{line}"))?;
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
    if let Some(dir) = &args.out {
        write_in(dir, "flagship_sweep.csv", r.sweep.result.to_csv().as_bytes())?;
        write_in(dir, "direction.json", r.direction.direction.to_json().as_bytes())?;
        write_in(dir, "probes.csv", r.probe.to_csv().as_bytes())?;
        write_in(dir, "patching.csv", r.patch.to_csv().as_bytes())?;
        eprintln!("wrote {}/flagship_sweep.csv, direction.json, probes.csv, patching.csv", dir.display());
    }
    eprintln!("done in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// One steering request on a saved run: the tab's steering panel, with the same `st_*` keys.
///
/// Progress goes to stderr, the report to stdout.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  interlab steer run --checkpoint runs/cr/weights.safetensors --op sweep st_scales=0,1,2\n  \
                        interlab steer run --checkpoint runs/cr/weights.safetensors --op patch st_b=keys=4 --out runs/cr/patch"
)]
pub struct RunArgs {
    /// The steering panel's keys (`st_site`, `st_pos`, `st_a`, `st_b`, `st_n`, `st_seed`,
    /// `st_method`, `st_unit`, `st_scales`, `st_random`, `st_metric`, `st_labels`, `st_scale`,
    /// `st_example`).
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    pairs: Vec<(String, String)>,
    /// The trained run (checkpoint or bundle .safetensors).
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    checkpoint: PathBuf,
    /// What to compute.
    #[arg(long, default_value = "sweep", value_parser = ["direction", "example", "sweep", "probe", "patch"])]
    op: String,
    /// Use this direction (direction.json from an earlier run) instead of measuring one.
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    direction: Option<PathBuf>,
    /// Write OP.csv (sweep, probe, patch) and direction.json here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn steer_run(args: RunArgs) -> CliResult {
    if let Some((k, v)) = args.pairs.iter().find(|(k, _)| SteerSpec::default().get(k).is_none()) {
        let keys: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        return Err(usage(format!("{k}={v}: not a steering key ({})", keys.join(", "))));
    }
    let op = Op::parse(&args.op).ok_or_else(|| usage(format!("--op: '{}'", args.op)))?;
    let direction = match &args.direction {
        Some(f) => Some(std::fs::read_to_string(f).map_err(|e| format!("--direction {}: {e}", f.display()))?),
        None => None,
    };
    let p = args.checkpoint.display();
    let bytes = std::fs::read(&args.checkpoint).map_err(|e| format!("--checkpoint {p}: {e}"))?;
    let t = Trainer::from_checkpoint(&bytes).map_err(|e| usage(format!("{p}: {e}")))?;
    let spec = SteerSpec::from_pairs(&t.cfg.task, &args.pairs);
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
    if let Some(dir) = &args.out {
        let csv = match &reply {
            SteerReply::Sweep(r) => Some(r.result.to_csv()),
            SteerReply::Probe(r) => Some(r.to_csv()),
            SteerReply::Patch(r) => Some(r.to_csv()),
            _ => None,
        };
        if let Some(csv) = csv {
            write_in(dir, &format!("{}.csv", op.name()), csv.as_bytes())?;
        }
        if let Some(d) = &out.direction {
            write_in(dir, "direction.json", d.direction.to_json().as_bytes())?;
        }
        eprintln!("wrote {}/", dir.display());
    }
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
