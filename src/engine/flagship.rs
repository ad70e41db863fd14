//! The steering flagship, end to end: train a Transformer on Copy-or-Reverse (a task token
//! picks the task per sequence), take the task direction — mean activation on reverse-mode
//! inputs minus mean on copy-mode inputs at one site — add it to copy-mode inputs at a sweep
//! of scales, and measure how often the model then writes the *reverse* answer, against 20
//! random directions of the same norm. Also: random-split directions (which must not look
//! significant), and an activation-patching sweep with its time. `interlab steer flagship`
//! prints the report; `tests/steer.rs` checks its claims.

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::Trainer;
use crate::core::TrainConfig;
use crate::model::{SeqModel, Transformer, TransformerConfig};
use crate::steer::directions::{diff_of_means, Direction};
use crate::steer::patch::{self, PatchResult};
use crate::steer::sweep::{self, SweepResult};
use crate::steer::Positions;
use crate::tasks::{self, Batch};

#[derive(Clone, Debug)]
pub struct FlagshipConfig {
    pub steps: usize,
    pub seed: u64,
    /// Inject at `blocks.{layer}.resid_post`.
    pub layer: usize,
    /// Where the direction is measured and injected (the task token sits at position 0).
    pub positions: Positions,
    /// Multiples of the task direction.
    pub scales: Vec<f32>,
    pub random: usize,
    /// Sequences per input set.
    pub sets: usize,
}

impl Default for FlagshipConfig {
    fn default() -> Self {
        FlagshipConfig { steps: 3000, seed: 1, layer: 0, positions: Positions::LastK(8), scales: vec![0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0], random: 20, sets: 64 }
    }
}

#[derive(Clone, Debug)]
pub struct FlagshipReport {
    pub train: TrainConfig,
    pub heldout_accuracy: f64,
    pub direction: Direction,
    /// Mean activation norm at the site (the scale's natural unit).
    pub typical_norm: f64,
    /// Flip rate towards the reverse answer on copy-mode inputs.
    pub sweep: SweepResult,
    /// p-values at scale 1 of directions from random splits of copy-mode inputs (5 seeds).
    pub random_split_p: Vec<f64>,
    /// Patching the task token's effect: every site × position, clean = reverse-mode inputs.
    pub patch: PatchResult,
    pub patch_seconds: f64,
    /// Every layer's `resid_post` × 64 positions on a 2-layer, d 32 model at sequence 64.
    pub patch_seconds_seq64: f64,
}

const LENGTH: &str = "8";
const VOCAB: usize = 16;

pub fn train_config(steps: usize, seed: u64) -> TrainConfig {
    TrainConfig { seed, layers: 2, heads: 2, d_model: 32, batch: 32, steps, warmup: 50, lr: 3e-3, ..TrainConfig::default() }
        .with_task("copy_reverse", &[("length", LENGTH), ("vocab", "16"), ("mode", "mixed")])
}

fn set(mode: &str, seed: u64, n: usize) -> Result<Batch, String> {
    let t = tasks::build("copy_reverse", [("length", LENGTH), ("vocab", "16"), ("mode", mode)]).map_err(|e| e.to_string())?;
    Ok(t.generate(seed, n))
}

fn tokens(b: &Batch) -> Result<Tensor, String> {
    Tensor::from_vec(b.inputs.clone(), (b.batch, b.seq_len), &Device::Cpu).map_err(|e| e.to_string())
}

/// Per row of a copy-mode batch: the reverse answer at every position (scored: the pads).
fn reverse_targets(b: &Batch) -> (Vec<Vec<u32>>, Vec<Vec<bool>>) {
    let l = (b.seq_len - 1) / 2;
    let rows = (0..b.batch).map(|r| b.inputs[r * b.seq_len..(r + 1) * b.seq_len].to_vec());
    let targets = rows.map(|x| (0..b.seq_len).map(|p| if p > l { x[2 * l + 1 - p] } else { 0 }).collect()).collect();
    let mask = (0..b.batch).map(|_| (0..b.seq_len).map(|p| p > l).collect()).collect();
    (targets, mask)
}

pub fn run(cfg: &FlagshipConfig, log: &mut dyn FnMut(&str)) -> Result<FlagshipReport, String> {
    let train = train_config(cfg.steps, cfg.seed);
    let mut t = Trainer::new(train.clone())?;
    while !t.is_done() {
        let s = t.step().map_err(|e| e.to_string())?;
        if s.step % 250 == 0 {
            log(&format!("step {} loss {:.4}", s.step, s.loss));
        }
    }
    let heldout_accuracy = t.evaluate().map_err(|e| e.to_string())?.accuracy.unwrap_or(0.0);
    log(&format!("trained {} steps: held-out accuracy {heldout_accuracy:.4}", cfg.steps));
    let m: &dyn SeqModel = t.model.as_ref();
    let (copy, rev) = (set("copy", cfg.seed ^ 0xC0, cfg.sets)?, set("reverse", cfg.seed ^ 0x8E, cfg.sets)?);
    let (copy_t, rev_t) = (tokens(&copy)?, tokens(&rev)?);
    let site = format!("blocks.{}.resid_post", cfg.layer);
    let direction = diff_of_means(m, &rev_t, &copy_t, &site, cfg.positions).map_err(|e| e.to_string())?;
    let typical_norm = sweep::typical_norm(m, &copy_t, &site).map_err(|e| e.to_string())?;
    let (targets, mask) = reverse_targets(&copy);
    let metric = sweep::flip_rate(&targets, &mask, VOCAB);
    let sw = sweep::sweep(m, &copy_t, &direction, cfg.positions, &cfg.scales, cfg.random, cfg.seed, &metric).map_err(|e| e.to_string())?;
    let mut random_split_p = Vec::new();
    for s in 0..5u64 {
        let pool = tokens(&set("copy", cfg.seed ^ (0x5000 + s), 2 * cfg.sets)?)?;
        let (a, b) = (pool.narrow(0, 0, cfg.sets).map_err(|e| e.to_string())?, pool.narrow(0, cfg.sets, cfg.sets).map_err(|e| e.to_string())?);
        let d = diff_of_means(m, &a, &b, &site, cfg.positions).map_err(|e| e.to_string())?;
        random_split_p.push(sweep::sweep(m, &copy_t, &d, cfg.positions, &[1.0], cfg.random, s, &metric).map_err(|e| e.to_string())?.p_value[0]);
    }
    // Patching: reverse-mode inputs (clean) vs the same data under the COPY token.
    let clean = rev.slice(0, 16.min(rev.batch));
    let mut corrupt = clean.clone();
    for r in 0..corrupt.batch {
        corrupt.inputs[r * corrupt.seq_len] = VOCAB as u32; // COPY
    }
    let (rt, rm) = (clean.targets.clone(), clean.mask.clone());
    let score = move |logits: &Tensor| -> crate::steer::Result<f64> {
        let rows: Vec<Vec<f32>> = logits.to_vec2().map_err(|e| crate::steer::SteerError { what: "patch metric".into(), detail: e.to_string() })?;
        let picked: Vec<f64> = rows.iter().zip(&rt).zip(&rm).filter(|(_, m)| **m > 0.0).map(|((r, &y), _)| r[y as usize] as f64).collect();
        Ok(picked.iter().sum::<f64>() / picked.len().max(1) as f64)
    };
    let sites: Vec<String> = m.sites().into_iter().map(|s| s.name).collect();
    let (patch, patch_seconds) = patch::timed_sweep(m, &tokens(&clean)?, &tokens(&corrupt)?, &sites, &score).map_err(|e| e.to_string())?;
    let patch_seconds_seq64 = patch_timing_seq64()?;
    Ok(FlagshipReport { train, heldout_accuracy, direction, typical_norm, sweep: sw, random_split_p, patch, patch_seconds, patch_seconds_seq64 })
}

/// The timing target: every layer × position of a 2-layer model at sequence 64.
pub fn patch_timing_seq64() -> Result<f64, String> {
    let cfg = TransformerConfig { vocab: 16, features: 0, max_len: 64, layers: 2, heads: 2, d_model: 32, mlp_ratio: 4, out: 16, mixers: vec![crate::model::mixers::Mixer::Attention; 2] };
    let m = Transformer::new(cfg, 1).map_err(|e| e.to_string())?;
    let mk = |seed: u64| {
        let mut rng = crate::core::Rng::new(seed);
        Tensor::from_vec((0..8 * 64).map(|_| rng.below(16) as u32).collect::<Vec<u32>>(), (8, 64), &Device::Cpu).map_err(|e| e.to_string())
    };
    let (clean, corrupt) = (mk(1)?, mk(2)?);
    let metric = |l: &Tensor| -> crate::steer::Result<f64> { l.mean_all().and_then(|x| x.to_scalar::<f32>()).map(f64::from).map_err(|e| crate::steer::SteerError { what: "metric".into(), detail: e.to_string() }) };
    let t = Instant::now();
    patch::sweep(&m, &clean, &corrupt, &["blocks.0.resid_post".into(), "blocks.1.resid_post".into()], &metric).map_err(|e| e.to_string())?;
    Ok(t.elapsed().as_secs_f64())
}
