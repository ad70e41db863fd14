//! The steering flagship, end to end: train a Transformer on Copy-or-Reverse (a task token
//! picks the task per sequence), take the task direction — mean activation on reverse-mode
//! inputs minus mean on copy-mode inputs at one site — add it to copy-mode inputs at a sweep
//! of scales, and measure how often the model then writes the *reverse* answer, against 20
//! random directions of the same norm. Also: random-split directions (which must not look
//! significant), probes, and an activation-patching sweep with its time. It goes through the
//! tab's steering requests (`engine::steering`), so the CLI and the panel compute the same
//! numbers. `interlab steer flagship` prints the report; `tests/steer.rs` checks its claims.

// The training and timing half is native-only (it reads the wall clock).
#![cfg_attr(target_arch = "wasm32", allow(unused_imports, dead_code))]

use candle_core::{Device, Tensor};

use super::steering::{
    handle, DirectionReport, Op, PatchReport, ProbeReport, SteerReply, SteerRequest, SteerSpec, SweepReport,
};
use super::Trainer;
use crate::core::TrainConfig;
use crate::model::{Transformer, TransformerConfig};
use crate::steer::patch;
use crate::steer::Positions;

#[derive(Clone, Debug)]
pub struct FlagshipConfig {
    pub steps: usize,
    pub seed: u64,
    /// Where the direction is measured and injected.
    pub site: String,
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
        FlagshipConfig {
            steps: 3000,
            seed: 1,
            site: "blocks.0.resid_pre".into(),
            positions: Positions::One(0),
            scales: vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0],
            random: 20,
            sets: 64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FlagshipReport {
    pub train: TrainConfig,
    pub heldout_accuracy: f64,
    /// The task direction and its cosines across layers.
    pub direction: DirectionReport,
    /// Flip rate towards the reverse answer on held-out copy-mode inputs.
    pub sweep: SweepReport,
    /// The same at the answer positions after layer 0 (`blocks.0.resid_post`, last 8; scales
    /// in units of the typical activation norm): mid-network, where the task is not one
    /// linear direction.
    pub mid: SweepReport,
    /// p-values at scale 1 of directions from random splits of copy-mode inputs (5 seeds;
    /// measured and added over all positions, at the flagship's site).
    pub random_split_p: Vec<f64>,
    /// Probes of "reverse or copy" per site x position, and the pooled probe's cosine with
    /// the direction.
    pub probe: ProbeReport,
    /// Patching the task token's effect: every site x position, clean = reverse-mode inputs.
    pub patch: PatchReport,
    /// Every site x position of a 2-layer, d 32 model at sequence 64 (`patch_timing_seq64`).
    pub patch_seconds_seq64: f64,
}

const LENGTH: &str = "8";

pub fn train_config(steps: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        seed,
        layers: 2,
        heads: 2,
        d_model: 32,
        batch: 32,
        steps,
        warmup: 50,
        lr: 3e-3,
        ..TrainConfig::default()
    }
    .with_task("copy_reverse", &[("length", LENGTH), ("vocab", "16"), ("mode", "mixed")])
}

/// The steering panel's spec for the flagship (what its link carries).
pub fn spec(cfg: &FlagshipConfig) -> SteerSpec {
    SteerSpec {
        site: cfg.site.clone(),
        positions: cfg.positions.to_string(),
        a: "mode=reverse".into(),
        b: "mode=copy".into(),
        n: cfg.sets.to_string(),
        seed: cfg.seed.to_string(),
        unit: "direction".into(),
        scales: cfg.scales.iter().map(f32::to_string).collect::<Vec<_>>().join(","),
        random: cfg.random.to_string(),
        metric: "toward_a".into(),
        ..SteerSpec::default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn ask(
    t: &Trainer,
    op: Op,
    spec: &SteerSpec,
    log: &mut dyn FnMut(&str),
) -> Result<(SteerReply, Option<DirectionReport>), String> {
    let start = std::time::Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let out = handle(t, &SteerRequest { op, spec: spec.clone(), direction: None }, &clock, &mut |p| {
        log(&format!("{} ({}/{})", p.what, p.done + 1, p.total))
    });
    Ok((out.reply?, out.direction))
}

#[cfg(not(target_arch = "wasm32"))]
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
    let spec = spec(cfg);
    let (SteerReply::Sweep(sweep), Some(direction)) = ask(&t, Op::Sweep, &spec, log)? else {
        return Err("flagship: the sweep returned no sweep".into());
    };
    let mid_spec = SteerSpec {
        site: "blocks.0.resid_post".into(),
        positions: "last8".into(),
        unit: "norm".into(),
        scales: "0,0.5,1,2,3,4".into(),
        ..spec.clone()
    };
    let (SteerReply::Sweep(mid), _) = ask(&t, Op::Sweep, &mid_spec, log)? else {
        return Err("flagship: the sweep returned no sweep".into());
    };
    let mut random_split_p = Vec::new();
    for s in 0..5u64 {
        // At the task token every copy-mode input is the same (the split's direction would be
        // exactly zero, which is refused), so the split's difference is taken over all positions.
        let split = SteerSpec {
            a: "mode=copy".into(),
            b: "mode=copy".into(),
            positions: "all".into(),
            seed: (cfg.seed + 100 + s).to_string(),
            scales: "1".into(),
            ..spec.clone()
        };
        let (SteerReply::Sweep(r), _) = ask(&t, Op::Sweep, &split, log)? else {
            return Err("flagship: the sweep returned no sweep".into());
        };
        random_split_p.push(r.result.p_value[0]);
    }
    let (SteerReply::Probe(probe), _) = ask(&t, Op::Probe, &spec, log)? else {
        return Err("flagship: no probe report".into());
    };
    let (SteerReply::Patch(patch), _) = ask(&t, Op::Patch, &spec, log)? else {
        return Err("flagship: no patch report".into());
    };
    let patch_seconds_seq64 = patch_timing_seq64()?;
    Ok(FlagshipReport {
        train,
        heldout_accuracy,
        direction,
        sweep,
        mid,
        random_split_p,
        probe,
        patch,
        patch_seconds_seq64,
    })
}

/// The timing target, natively: every site (heads apart) x position of a 2-layer,
/// d 32 Transformer at sequence 64, on 16 sequences — the same work as the tab's Patch on
/// such a model (`tests/browser/steering.test.mjs`).
#[cfg(not(target_arch = "wasm32"))]
pub fn patch_timing_seq64() -> Result<f64, String> {
    let cfg = TransformerConfig {
        vocab: 16,
        features: 0,
        max_len: 64,
        layers: 2,
        heads: 2,
        d_model: 32,
        mlp_ratio: 4,
        out: 16,
        mixers: vec![crate::model::mixers::Mixer::Attention; 2],
    };
    let m = Transformer::new(cfg, 1).map_err(|e| e.to_string())?;
    let mk = |seed: u64| {
        let mut rng = crate::core::Rng::new(seed);
        Tensor::from_vec(
            (0..16 * 64).map(|_| rng.below(16) as u32).collect::<Vec<u32>>(),
            (16, 64),
            &Device::Cpu,
        )
        .map_err(|e| e.to_string())
    };
    let (clean, corrupt) = (mk(1)?, mk(2)?);
    let metric = |l: &Tensor| -> crate::steer::Result<f64> {
        l.mean_all()
            .and_then(|x| x.to_scalar::<f32>())
            .map(f64::from)
            .map_err(|e| crate::steer::SteerError { what: "metric".into(), detail: e.to_string() })
    };
    let sites: Vec<String> = crate::model::SeqModel::sites(&m)
        .into_iter()
        .filter(|s| s.kind != "mixer.heads")
        .map(|s| s.name)
        .collect();
    let t = std::time::Instant::now();
    patch::sweep(&m, &clean, &corrupt, &sites, &metric, &mut |_, _| {}).map_err(|e| e.to_string())?;
    Ok(t.elapsed().as_secs_f64())
}
