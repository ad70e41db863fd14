//! One training run: a registry task → causal Transformer → AdamW. The caller owns the loop
//! (the UI slices it into short chunks; the CLI runs it straight), so `step` does exactly one
//! optimiser step and returns its numbers. Classification tasks train on masked
//! cross-entropy, regression tasks on masked mean squared error.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::env::RunEnv;
use super::metrics::Score;
use super::plan::plan;
use crate::core::csv;
use crate::core::{ModelDims, Rng, TrainConfig};
use crate::model::dlr::{Dlr, DlrConfig};
use crate::model::mixers::Mixer;
use crate::model::rnn::{Cell, Rnn, RnnConfig};
use crate::model::ssm_heads::{MhSsm, MhSsmConfig};
use crate::model::{
    masked_cross_entropy, masked_mse, AdamW, Result, Schedule, SeqModel, Transformer, TransformerConfig,
};
use crate::tasks::{check_batch, Batch, Output, Task};

/// Most held-out sequences used for evaluation.
pub const EVAL_SEQUENCES: usize = 256;
/// Held-out positions aimed for: long tasks get fewer sequences (at least `EVAL_MIN`).
pub const EVAL_POSITIONS: usize = 16_384;
pub const EVAL_MIN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// 1-based count of completed steps.
    pub step: usize,
    pub loss: f64,
    /// Token accuracy on the batch's scored targets (classification tasks).
    pub accuracy: Option<f64>,
    pub lr: f64,
    pub grad_norm: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    #[serde(with = "super::metrics::finite_or_null")]
    pub loss: f64,
    /// Token accuracy on scored targets (classification).
    pub accuracy: Option<f64>,
    /// Fraction of sequences with every scored target right (classification).
    pub exact_match: Option<f64>,
    /// Mean squared error on scored targets (regression).
    pub mse: Option<f64>,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub task: Box<dyn Task>,
    pub model: Box<dyn SeqModel>,
    output: Output,
    opt: AdamW,
    schedule: Schedule,
    step: usize,
    eval_set: Batch,
    /// Where the weights were trained, if not (only) on this CPU (stamped in checkpoints):
    /// e.g. "webgpu: NVIDIA H200".
    pub trained_on: Option<String>,
    /// Where and within what the run may train (budget, backend preference, diagnostics).
    pub env: RunEnv,
}

/// The model family `cfg.model` names, sized for a task of `dims`.
pub fn build_model(cfg: &TrainConfig, dims: ModelDims) -> std::result::Result<Box<dyn SeqModel>, String> {
    let err = |e: crate::model::ModelError| e.to_string();
    Ok(match cfg.model.as_str() {
        "transformer" => {
            let mcfg = TransformerConfig {
                vocab: dims.vocab,
                features: dims.features,
                max_len: dims.seq_len,
                layers: cfg.layers,
                heads: cfg.heads,
                d_model: cfg.d_model,
                mlp_ratio: 4,
                out: dims.out,
                mixers: Mixer::parse_list(&cfg.mixers, cfg.layers)?,
            };
            Box::new(Transformer::new(mcfg, cfg.seed).map_err(err)?)
        }
        "lstm" | "gru" => {
            let cell = if cfg.model == "lstm" { Cell::Lstm } else { Cell::Gru };
            let rcfg = RnnConfig {
                cell,
                vocab: dims.vocab,
                features: dims.features,
                layers: cfg.layers,
                d_model: cfg.d_model,
                out: dims.out,
            };
            Box::new(Rnn::new(rcfg, cfg.seed).map_err(err)?)
        }
        "dlr" | "s4d" => {
            let dcfg = DlrConfig {
                vocab: dims.vocab,
                features: dims.features,
                max_len: dims.seq_len,
                layers: cfg.layers,
                d_model: cfg.d_model,
                state: cfg.state,
                out: dims.out,
                discretised: cfg.model == "s4d",
            };
            Box::new(Dlr::new(dcfg, cfg.seed).map_err(err)?)
        }
        "mhssm" => {
            let mcfg = MhSsmConfig {
                vocab: dims.vocab,
                features: dims.features,
                max_len: dims.seq_len,
                layers: cfg.layers,
                d_model: cfg.d_model,
                heads: cfg.heads,
                state: cfg.state,
                out: dims.out,
            };
            Box::new(MhSsm::new(mcfg, cfg.seed).map_err(err)?)
        }
        other => return Err(format!("model: '{other}' cannot be built in this version")),
    })
}

/// Tensors for one batch.
struct BatchTensors {
    x: Tensor,         // [b, l] u32
    f: Option<Tensor>, // [b, l, features] f32
    y: Tensor,         // [b*l*c] u32 targets or f32 values
    m: Tensor,         // [b*l*c] f32
}

impl BatchTensors {
    fn new(b: &Batch, output: Output) -> Result<Self> {
        let dev = Device::Cpu;
        let n = b.batch * b.seq_len * b.channels;
        let x = Tensor::from_vec(b.inputs.clone(), (b.batch, b.seq_len), &dev)?;
        let f = match b.features {
            0 => None,
            nf => Some(Tensor::from_vec(b.features_data.clone(), (b.batch, b.seq_len, nf), &dev)?),
        };
        let y = match output {
            Output::Classes { .. } => Tensor::from_vec(b.targets.clone(), n, &dev)?,
            Output::Regression { .. } => Tensor::from_vec(b.values.clone(), n, &dev)?,
        };
        let m = Tensor::from_vec(b.mask.clone(), n, &dev)?;
        Ok(BatchTensors { x, f, y, m })
    }
}

impl Trainer {
    /// Check `cfg` (model fields, task parameters, memory budget) and build the task, the
    /// model and the optimiser, in the default environment (the tab's budget, `auto`).
    pub fn new(cfg: TrainConfig) -> std::result::Result<Self, String> {
        Self::with_env(cfg, RunEnv::default())
    }

    /// `new` in the environment `env` (its budget and backend preference decide the plan).
    pub fn with_env(cfg: TrainConfig, env: RunEnv) -> std::result::Result<Self, String> {
        let p = plan(&cfg, &env).map_err(|e| e.to_string())?;
        let task = p.task;
        let eval_n = (EVAL_POSITIONS / p.dims.seq_len).clamp(EVAL_MIN, EVAL_SEQUENCES);
        for n in [cfg.batch, eval_n] {
            check_batch(&task.shape(), n).map_err(|e| e.to_string())?;
        }
        let shape = task.shape();
        let model = build_model(&cfg, p.dims).map_err(|e| e.to_string())?;
        let named = model.named_params();
        let params: Vec<_> = named.iter().map(|(_, v)| *v).collect();
        // Decay matrices (2-D, embeddings included); never norm gains or biases.
        let decay: Vec<bool> = params.iter().map(|v| v.as_tensor().rank() == 2).collect();
        let opt = AdamW::new(&params, &decay, cfg.weight_decay, cfg.clip);
        let schedule = Schedule { peak: cfg.lr, warmup: cfg.warmup, total: cfg.steps, final_frac: 0.1 };
        let eval_seed = Rng::fork(cfg.seed, &format!("{}.eval", task.info().name)).next_u64();
        let eval_set = task.generate(eval_seed, eval_n);
        Ok(Trainer {
            cfg,
            task,
            model,
            output: shape.output,
            opt,
            schedule,
            step: 0,
            eval_set,
            trained_on: None,
            env,
        })
    }

    /// The weights as safetensors bytes, with the config, version and step in the header.
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        crate::model::checkpoint::to_bytes(self.model.as_ref(), &[("interlab", self.header().to_string())])
    }

    /// The header entry `interlab` of a checkpoint (run bundles add to it): config, version,
    /// step and, when known, where the run trained. One entry, because safetensors keeps
    /// metadata in a HashMap, whose order would make the file's bytes differ run to run.
    pub fn header(&self) -> serde_json::Value {
        let mut meta =
            serde_json::json!({ "config": self.cfg, "version": crate::VERSION, "step": self.step });
        if let Some(b) = &self.trained_on {
            meta["backend"] = serde_json::Value::String(b.clone());
        }
        meta
    }

    /// Rebuild a run from `checkpoint()` bytes: its config from the header, its weights from
    /// the tensors (checked by name and shape). The optimiser state is not saved, so this is
    /// for evaluation and analysis, not for resuming bit-identically.
    pub fn from_checkpoint(bytes: &[u8]) -> std::result::Result<Self, String> {
        let (cfg, step) = Self::checkpoint_config(bytes)?;
        let mut t = Trainer::new(cfg)?;
        crate::model::checkpoint::load_into(t.model.as_ref(), bytes).map_err(|e| e.to_string())?;
        t.step = step;
        Ok(t)
    }

    /// The config and step saved in a checkpoint's header (cheap: the tensors are not read).
    pub fn checkpoint_config(bytes: &[u8]) -> std::result::Result<(TrainConfig, usize), String> {
        let meta = crate::model::checkpoint::metadata(bytes).map_err(|e| e.to_string())?;
        let text = meta
            .get("interlab")
            .ok_or("checkpoint: no 'interlab' entry in the safetensors metadata (not saved by interlab?)")?;
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("checkpoint metadata: {e}"))?;
        let cfg = TrainConfig::from_json(&v["config"].to_string())?;
        Ok((cfg, v["step"].as_u64().unwrap_or(0) as usize))
    }

    /// Take over weights and optimiser state trained elsewhere (the GPU engine) at completed
    /// step `step`: `params`, `m`, `v` per parameter in `named_params()` order. Training on
    /// from here continues the same run on the CPU.
    pub fn adopt(
        &mut self,
        step: usize,
        params: &[Vec<f32>],
        m: Vec<Vec<f32>>,
        v: Vec<Vec<f32>>,
    ) -> std::result::Result<(), String> {
        let named = self.model.named_params();
        if params.len() != named.len() {
            return Err(format!("adopt: {} tensors for {} parameters", params.len(), named.len()));
        }
        for ((name, var), data) in named.iter().zip(params) {
            let t = Tensor::from_vec(data.clone(), var.as_tensor().shape(), &Device::Cpu)
                .map_err(|e| format!("adopt {name}: {e}"))?;
            var.set(&t).map_err(|e| format!("adopt {name}: {e}"))?;
        }
        self.opt.set_state(step as u64, m, v)?;
        self.step = step;
        Ok(())
    }

    /// AdamW's step count and moments, per parameter in `named_params()` order (bundles).
    pub fn optimizer_state(&self) -> (u64, Vec<&[f32]>, Vec<&[f32]>) {
        self.opt.state()
    }

    /// Restore AdamW's step count and moments saved by `optimizer_state`.
    pub fn set_optimizer_state(
        &mut self,
        t: u64,
        m: Vec<Vec<f32>>,
        v: Vec<Vec<f32>>,
    ) -> std::result::Result<(), String> {
        self.opt.set_state(t, m, v)
    }

    /// What the task asks the model to output.
    pub fn output(&self) -> Output {
        self.output
    }

    /// The held-out set.
    pub fn eval_set(&self) -> &Batch {
        &self.eval_set
    }

    /// Held-out sequences in the evaluation set.
    pub fn eval_sequences(&self) -> usize {
        self.eval_set.batch
    }

    /// Forward one batch: (loss, score).
    fn loss_and_score(&self, b: &Batch) -> Result<(Tensor, Score)> {
        let t = BatchTensors::new(b, self.output)?;
        let out = self.model.forward(&t.x, t.f.as_ref())?; // [b*l, out]
        let loss = match self.output {
            Output::Classes { classes, .. } => {
                let logits = out.reshape((b.batch * b.seq_len * b.channels, classes))?; // [b*l*c, classes]
                masked_cross_entropy(&logits, &t.y, &t.m)?
            }
            Output::Regression { .. } => masked_mse(&out, &t.y, &t.m)?,
        };
        let score = Score::of(&out, b, self.output)?;
        Ok((loss, score))
    }

    /// Completed optimiser steps.
    pub fn step_count(&self) -> usize {
        self.step
    }

    pub fn is_done(&self) -> bool {
        self.step >= self.cfg.steps
    }

    /// The training batch for 0-based step `i`: its seed depends only on (run seed, i).
    pub fn train_batch(&self, i: usize) -> Batch {
        let purpose = format!("{}.train", self.task.info().name);
        let seed =
            Rng::fork(self.cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), &purpose).next_u64();
        self.task.generate(seed, self.cfg.batch)
    }

    /// One forward + backward + AdamW update.
    pub fn step(&mut self) -> Result<StepStats> {
        let batch = self.train_batch(self.step);
        let (loss, score) = self.loss_and_score(&batch)?;
        let grads = loss.backward()?;
        let named = self.model.named_params();
        let params: Vec<_> = named.iter().map(|(_, v)| *v).collect();
        let lr = self.schedule.lr(self.step);
        let upd = self.opt.step(&params, &grads, lr)?;
        self.step += 1;
        Ok(StepStats {
            step: self.step,
            loss: loss.to_scalar::<f32>()? as f64,
            accuracy: score.accuracy(self.output),
            lr,
            grad_norm: upd.grad_norm,
        })
    }

    /// Loss and metrics on the held-out set (never trained on), in one go.
    pub fn evaluate(&self) -> Result<EvalStats> {
        let mut p = EvalProgress::default();
        loop {
            if let Some(e) = self.evaluate_part(&mut p, EVAL_SEQUENCES)? {
                return Ok(e);
            }
        }
    }

    /// Evaluate up to `max_sequences` more held-out sequences; returns the result once the
    /// whole set is done. Lets the UI spread an evaluation over several short chunks.
    pub fn evaluate_part(&self, p: &mut EvalProgress, max_sequences: usize) -> Result<Option<EvalStats>> {
        let b = &self.eval_set;
        let chunk = self.cfg.batch.clamp(1, 64).min(max_sequences.max(1));
        let end = (p.next + chunk).min(b.batch);
        if p.next < end {
            let part = b.slice(p.next, end);
            let (loss, score) = self.loss_and_score(&part)?;
            p.loss_sum += loss.to_scalar::<f32>()? as f64 * score.scored as f64;
            p.score.add(&score);
            p.next = end;
        }
        if p.next >= b.batch {
            let (s, o) = (&p.score, self.output);
            let loss = p.loss_sum / s.scored.max(1) as f64;
            return Ok(Some(EvalStats {
                loss,
                accuracy: s.accuracy(o),
                exact_match: s.exact_match(o),
                mse: s.mse(o),
            }));
        }
        Ok(None)
    }
}

/// An evaluation under way (see `Trainer::evaluate_part`).
#[derive(Clone, Debug, Default)]
pub struct EvalProgress {
    next: usize,
    loss_sum: f64,
    score: Score,
}

/// Columns of the CLI's `metrics.csv` (`interlab train`): one row per evaluation, with empty
/// cells for metrics the task does not have (accuracy for regression, MSE for classification).
pub const RUN_METRICS_COLUMNS: [&str; 8] = [
    "step",
    "loss",
    "accuracy",
    "lr",
    "heldout_loss",
    "heldout_accuracy",
    "heldout_exact_match",
    "heldout_mse",
];

/// The header line of the CLI's `metrics.csv` (ends in `\n`).
pub fn run_metrics_header() -> String {
    csv::row(&RUN_METRICS_COLUMNS)
}

/// One line of the CLI's `metrics.csv` (ends in `\n`): the step's statistics and the
/// evaluation made after it. Numbers in Rust's shortest round-trip `Display` form.
pub fn run_metrics_row(s: &StepStats, e: &EvalStats) -> String {
    let cell = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    csv::row(&[
        s.step.to_string(),
        s.loss.to_string(),
        cell(s.accuracy),
        s.lr.to_string(),
        e.loss.to_string(),
        cell(e.accuracy),
        cell(e.exact_match),
        cell(e.mse),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_metrics_rows_match_the_header_and_leave_missing_metrics_empty() {
        assert_eq!(
            run_metrics_header(),
            "step,loss,accuracy,lr,heldout_loss,heldout_accuracy,heldout_exact_match,heldout_mse\n"
        );
        let s = StepStats { step: 3, loss: 0.5, accuracy: None, lr: 0.001, grad_norm: 1.0 };
        let e = EvalStats { loss: 0.25, accuracy: None, exact_match: None, mse: Some(0.125) };
        assert_eq!(run_metrics_row(&s, &e), "3,0.5,,0.001,0.25,,,0.125\n");
        let e = EvalStats { loss: f64::NAN, accuracy: Some(0.75), exact_match: Some(1.0), mse: None };
        assert_eq!(run_metrics_row(&s, &e), "3,0.5,,0.001,NaN,0.75,1,\n");
    }
}
