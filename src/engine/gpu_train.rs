//! A run on the GPU engine: `gpu::train::Engine` (the device side: recorded programs,
//! buffers, asynchronous readbacks) driven from a `Trainer` — its config, its task's batches,
//! its learning-rate schedule, its CPU model's initial weights — and its raw numbers turned
//! into the trainer's `StepStats` / `EvalStats` and per-parameter tensors.

use std::sync::Arc;

use super::backend::unsupported;
use super::plan::dims_of;
use super::trainer::{EvalStats, StepStats, Trainer};
use crate::gpu::adamw::{AdamWConfig, AdamWStep};
use crate::gpu::train::{Arch, BatchData, Dims, Engine, Layout, Loss, Mixer, RawStep, Spec, Targets};
use crate::gpu::{AdapterSummary, GpuContext};
use crate::model::Schedule;
use crate::tasks::{Batch, Output};

type R<T> = Result<T, String>;

/// Weights and optimiser state read back at a completed step, per parameter in
/// `named_params()` order.
pub struct Synced {
    pub step: usize,
    pub params: Vec<Vec<f32>>,
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
    /// The statistics of steps up to `step` not delivered before.
    pub stats: Vec<StepStats>,
}

pub struct GpuTrainer {
    engine: Engine,
    layout: Layout,
    output: Output,
    schedule: Schedule,
    weight_decay: f64,
    /// The evaluation in flight: each chunk's real rows and mask (for exact match).
    eval_chunks: Vec<(usize, Vec<f32>)>,
}

fn data<'a>(b: &'a Batch, output: Output) -> BatchData<'a> {
    let targets = match output {
        Output::Classes { .. } => Targets::Classes(&b.targets),
        Output::Regression { .. } => Targets::Values(&b.values),
    };
    BatchData { tokens: &b.inputs, features: &b.features_data, targets, mask: &b.mask }
}

/// Pad a batch with unscored rows (token 0, zero features, mask 0) up to `rows`.
fn pad_rows(b: &mut Batch, rows: usize) {
    let extra = rows.saturating_sub(b.batch);
    let (l, f, c) = (b.seq_len, b.features, b.channels);
    b.inputs.extend(std::iter::repeat_n(0, extra * l));
    b.features_data.extend(std::iter::repeat_n(0.0, extra * l * f));
    b.targets.extend(std::iter::repeat_n(0, extra * l * c));
    b.values.extend(std::iter::repeat_n(0.0, extra * l * c));
    b.mask.extend(std::iter::repeat_n(0.0, extra * l * c));
    b.batch += extra;
}

impl GpuTrainer {
    /// The engine for `trainer`'s run, from its current weights (fresh Adam moments, at step
    /// `trainer.step_count()`).
    pub async fn new(ctx: Arc<GpuContext>, trainer: &Trainer) -> R<GpuTrainer> {
        let cfg = &trainer.cfg;
        if let Some(why) = unsupported(cfg) {
            return Err(why);
        }
        let shape = trainer.task.shape();
        let output = trainer.output();
        let loss = match output {
            Output::Classes { classes, .. } => Loss::CrossEntropy { classes },
            Output::Regression { .. } => Loss::Mse,
        };
        let dims = Dims {
            b: cfg.batch,
            l: shape.seq_len,
            d: cfg.d_model,
            vocab: shape.vocab,
            features: shape.features,
            out: dims_of(&shape).out,
            channels: output.channels(),
            loss,
        };
        let arch = match cfg.model.as_str() {
            "transformer" => {
                let mixers = crate::model::mixers::Mixer::parse_list(&cfg.mixers, cfg.layers)?;
                let mixers = mixers
                    .iter()
                    .map(|m| {
                        Mixer::from_name(m.name())
                            .ok_or_else(|| format!("the '{}' mixer has no GPU kernels", m.name()))
                    })
                    .collect::<R<Vec<_>>>()?;
                Arch::Transformer { mixers, heads: cfg.heads }
            }
            _ => Arch::Dlr { layers: cfg.layers, state: cfg.state },
        };
        let named = trainer.model.named_params();
        let tensors: Vec<(String, Vec<usize>)> =
            named.iter().map(|(n, v)| (n.clone(), v.as_tensor().dims().to_vec())).collect();
        let layout = Layout::new(&tensors);
        let values = named
            .iter()
            .map(|(n, v)| {
                v.as_tensor()
                    .flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(|e| format!("GPU engine: reading {n}: {e}"))
            })
            .collect::<R<Vec<_>>>()?;
        let init = layout.pack(&values)?;
        let spec = Spec {
            arch,
            dims,
            layout: layout.clone(),
            adamw: AdamWConfig { clip: cfg.clip as f32, ..AdamWConfig::default() },
        };
        let engine = Engine::new(ctx, spec, &init, trainer.step_count()).await?;
        let schedule = Schedule { peak: cfg.lr, warmup: cfg.warmup, total: cfg.steps, final_frac: 0.1 };
        Ok(GpuTrainer {
            engine,
            layout,
            output,
            schedule,
            weight_decay: cfg.weight_decay,
            eval_chunks: Vec::new(),
        })
    }

    /// Dispatches per step (one submission holds them all).
    pub fn dispatches(&self) -> usize {
        self.engine.dispatches()
    }

    pub fn steps_submitted(&self) -> usize {
        self.engine.steps_submitted()
    }

    /// Steps whose statistics have been delivered.
    pub fn steps_read(&self) -> usize {
        self.engine.steps_read()
    }

    /// Queue submissions so far and GPU bytes allocated (for the benchmark).
    pub fn submits(&self) -> usize {
        self.engine.submits
    }

    pub fn bytes(&self) -> u64 {
        self.engine.bytes
    }

    pub fn adapter(&self) -> &AdapterSummary {
        self.engine.adapter()
    }

    /// The device-loss message, once the device is gone.
    pub fn lost(&self) -> Option<String> {
        self.engine.lost()
    }

    /// Destroy the device (the `lose_gpu_at` diagnostic).
    pub fn force_device_loss(&self) {
        self.engine.force_device_loss();
    }

    pub fn can_submit(&self) -> bool {
        self.engine.can_submit()
    }

    /// Submit the next step on the trainer's batch for it (no waiting).
    pub fn submit_step(&mut self, trainer: &Trainer) -> R<()> {
        let i = self.engine.steps_submitted();
        let batch = trainer.train_batch(i);
        let adamw = AdamWStep::new(i as u64 + 1, self.schedule.lr(i), 0.9, 0.95, self.weight_decay);
        self.engine.submit_step(&data(&batch, self.output), &adamw)
    }

    fn step_stats(&self, raw: Vec<RawStep>) -> Vec<StepStats> {
        let classes = matches!(self.output, Output::Classes { .. });
        raw.into_iter()
            .map(|x| StepStats {
                step: x.index + 1,
                loss: x.loss as f64,
                accuracy: classes.then(|| x.correct as f64 / x.scored as f64),
                lr: self.schedule.lr(x.index),
                grad_norm: x.grad_norm as f64,
            })
            .collect()
    }

    pub fn start_readback(&mut self) {
        self.engine.start_readback();
    }

    /// `start_readback` unless one is in flight: called after every submission.
    pub fn keep_reading(&mut self) {
        self.engine.keep_reading();
    }

    pub fn poll_stats(&mut self, wait: bool) -> R<Vec<StepStats>> {
        let raw = self.engine.poll_stats(wait)?;
        Ok(self.step_stats(raw))
    }

    pub fn wait_stats(&mut self) -> R<Vec<StepStats>> {
        let raw = self.engine.wait_stats()?;
        Ok(self.step_stats(raw))
    }

    pub fn start_sync(&mut self) {
        self.engine.start_sync();
    }

    pub fn sync_pending(&self) -> bool {
        self.engine.sync_pending()
    }

    fn synced(&self, raw: crate::gpu::train::RawSync) -> Synced {
        let stats = self.step_stats(raw.stats);
        Synced {
            step: raw.step,
            params: self.layout.unpack(&raw.params),
            m: self.layout.unpack(&raw.m),
            v: self.layout.unpack(&raw.v),
            stats,
        }
    }

    pub fn poll_sync(&mut self, wait: bool) -> R<Option<Synced>> {
        Ok(self.engine.poll_sync(wait)?.map(|raw| self.synced(raw)))
    }

    pub fn wait_sync(&mut self) -> R<Synced> {
        let raw = self.engine.wait_sync()?;
        Ok(self.synced(raw))
    }

    /// Evaluate `set` (the held-out sequences) on the GPU with the weights after the last
    /// submitted step, in batch-sized chunks (the last padded with unscored rows).
    pub fn start_eval(&mut self, set: &Batch) -> R<()> {
        let b = self.engine.dims().b;
        let chunks: Vec<Batch> = (0..set.batch.div_ceil(b).max(1))
            .map(|k| {
                let mut part = set.slice(k * b, ((k + 1) * b).min(set.batch));
                pad_rows(&mut part, b);
                part
            })
            .collect();
        let batches: Vec<BatchData> = chunks.iter().map(|c| data(c, self.output)).collect();
        self.engine.start_eval(&batches)?;
        self.eval_chunks =
            chunks.iter().enumerate().map(|(k, c)| ((set.batch - k * b).min(b), c.mask.clone())).collect();
        Ok(())
    }

    pub fn eval_pending(&self) -> bool {
        self.engine.eval_pending()
    }

    /// A finished evaluation: (the step whose weights it scored, the numbers), as
    /// `Trainer::evaluate` computes them on the CPU.
    pub fn poll_eval(&mut self, wait: bool) -> R<Option<(usize, EvalStats)>> {
        let Some(raw) = self.engine.poll_eval(wait)? else { return Ok(None) };
        let per_row = self.engine.dims().l * self.output.channels();
        let (mut loss_sum, mut scored, mut correct, mut exact, mut rows) = (0f64, 0f64, 0f64, 0usize, 0usize);
        for (x, (real, mask)) in raw.chunks.iter().zip(&self.eval_chunks) {
            loss_sum += x[0] as f64 * x[2] as f64;
            scored += x[2] as f64;
            correct += x[1] as f64;
            rows += real;
            if let Some(flags) = x.get(4..).filter(|f| !f.is_empty()) {
                exact += (0..*real)
                    .filter(|&r| (r * per_row..(r + 1) * per_row).all(|i| mask[i] <= 0.0 || flags[i] > 0.5))
                    .count();
            }
        }
        let loss = loss_sum / scored.max(1.0);
        let classes = matches!(self.output, Output::Classes { .. });
        let stats = EvalStats {
            loss,
            accuracy: classes.then(|| correct / scored.max(1.0)),
            exact_match: classes.then(|| exact as f64 / rows.max(1) as f64),
            mse: (!classes).then_some(loss),
        };
        Ok(Some((raw.step, stats)))
    }
}
