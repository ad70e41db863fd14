//! One training run of the first slice: MQAR → causal Transformer → AdamW. The caller owns
//! the loop (the UI slices it into short chunks; the CLI runs it straight), so `step` does
//! exactly one optimiser step and returns its numbers.

use candle_core::{Device, Tensor};

use crate::core::{Rng, TrainConfig};
use crate::model::{masked_accuracy, masked_cross_entropy, AdamW, Result, Schedule, Transformer, TransformerConfig};
use crate::tasks::{Batch, Mqar, Task};

/// Held-out sequences used for evaluation.
pub const EVAL_SEQUENCES: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// 1-based count of completed steps.
    pub step: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub lr: f64,
    pub grad_norm: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalStats {
    pub loss: f64,
    pub accuracy: f64,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub task: Mqar,
    pub model: Transformer,
    opt: AdamW,
    schedule: Schedule,
    step: usize,
    eval_set: Batch,
}

fn batch_tensors(b: &Batch) -> Result<(Tensor, Tensor, Tensor)> {
    let dev = Device::Cpu;
    let x = Tensor::from_vec(b.inputs.clone(), (b.batch, b.seq_len), &dev)?; // [b, l]
    let y = Tensor::from_vec(b.targets.clone(), b.batch * b.seq_len, &dev)?; // [b*l]
    let m = Tensor::from_vec(b.mask.clone(), b.batch * b.seq_len, &dev)?; // [b*l]
    Ok((x, y, m))
}

impl Trainer {
    /// Validate `cfg` and build the task, the model and the optimiser.
    pub fn new(cfg: TrainConfig) -> std::result::Result<Self, String> {
        cfg.validate().map_err(|e| e.to_string())?;
        let task = Mqar::new(cfg.vocab, cfg.seq_len, cfg.kv_pairs).map_err(|e| e.to_string())?;
        let mcfg = TransformerConfig {
            vocab: cfg.vocab,
            max_len: cfg.seq_len,
            layers: cfg.layers,
            heads: cfg.heads,
            d_model: cfg.d_model,
            mlp_ratio: 4,
        };
        let model = Transformer::new(mcfg, cfg.seed).map_err(|e| e.to_string())?;
        let named = model.named_params();
        let params: Vec<_> = named.iter().map(|(_, v)| *v).collect();
        // Decay matrices (2-D, embeddings included); never norm gains or biases.
        let decay: Vec<bool> = params.iter().map(|v| v.as_tensor().rank() == 2).collect();
        let opt = AdamW::new(&params, &decay, cfg.weight_decay, cfg.clip);
        let schedule = Schedule { peak: cfg.lr, warmup: cfg.warmup, total: cfg.steps, final_frac: 0.1 };
        let eval_seed = Rng::fork(cfg.seed, "mqar.eval").next_u64();
        let eval_set = task.generate(eval_seed, EVAL_SEQUENCES);
        Ok(Trainer { cfg, task, model, opt, schedule, step: 0, eval_set })
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
        let seed = Rng::fork(self.cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), "mqar.train").next_u64();
        self.task.generate(seed, self.cfg.batch)
    }

    /// One forward + backward + AdamW update.
    pub fn step(&mut self) -> Result<StepStats> {
        let batch = self.train_batch(self.step);
        let (x, y, m) = batch_tensors(&batch)?;
        let logits = self.model.forward(&x)?; // [b*l, vocab]
        let loss = masked_cross_entropy(&logits, &y, &m)?;
        let grads = loss.backward()?;
        let named = self.model.named_params();
        let params: Vec<_> = named.iter().map(|(_, v)| *v).collect();
        let lr = self.schedule.lr(self.step);
        let upd = self.opt.step(&params, &grads, lr)?;
        let (correct, scored) = masked_accuracy(&logits, &batch.targets, &batch.mask)?;
        self.step += 1;
        Ok(StepStats {
            step: self.step,
            loss: loss.to_scalar::<f32>()? as f64,
            accuracy: correct as f64 / scored.max(1) as f64,
            lr,
            grad_norm: upd.grad_norm,
        })
    }

    /// Loss and query accuracy on the held-out set (never trained on), in one go.
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
            let (x, y, m) = batch_tensors(&part)?;
            let logits = self.model.forward(&x)?; // [n*l, vocab]
            let l = masked_cross_entropy(&logits, &y, &m)?.to_scalar::<f32>()? as f64;
            let (c, s) = masked_accuracy(&logits, &part.targets, &part.mask)?;
            p.loss_sum += l * s as f64;
            p.correct += c;
            p.scored += s;
            p.next = end;
        }
        if p.next >= b.batch {
            let n = p.scored.max(1) as f64;
            return Ok(Some(EvalStats { loss: p.loss_sum / n, accuracy: p.correct as f64 / n }));
        }
        Ok(None)
    }
}

/// An evaluation under way (see `Trainer::evaluate_part`).
#[derive(Clone, Debug, Default)]
pub struct EvalProgress {
    next: usize,
    loss_sum: f64,
    correct: usize,
    scored: usize,
}
