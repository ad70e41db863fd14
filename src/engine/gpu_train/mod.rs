//! The GPU training engine: a whole optimiser step — forward, loss, backward, AdamW — recorded
//! once as a `gpu::Program` and replayed as one submission per step. Parameters, gradients and
//! Adam moments live in flat GPU buffers (`layout`), initialised from the CPU model so both
//! backends start from the same weights. Nothing is read back per step: each step's loss,
//! correct count and gradient norm are copied into a ring on the GPU and read back
//! asynchronously (`start_readback` / `poll_stats`); weights and moments come back the same
//! way (`start_sync` / `poll_sync`) for evaluation, checkpoints and the CPU fallback after a
//! device loss.

mod dlr;
mod graph;
pub mod layout;
mod transformer;

use std::sync::{Arc, Mutex};

use crate::core::TrainConfig;
use crate::gpu::adamw::{partial_len, record_adamw, step_buffer, write_step, AdamWBuffers, AdamWConfig, AdamWStep, NORM_LEN};
use crate::gpu::cross_entropy::STATS_LEN;
use crate::gpu::{GpuContext, Program};
use crate::model::mixers::Mixer;
use crate::model::Schedule;
use crate::tasks::Output;

use super::trainer::{EvalStats, StepStats, Trainer};
use crate::tasks::Batch;
use graph::{Dims, Inputs, Recorder, R};
use layout::Layout;

/// Steps of statistics the ring holds; the engine stops submitting when this many are unread.
pub const RING: usize = 64;
/// Floats per ring slot: loss, correct, Σ mask, max(Σ mask, 1), grad norm, clip scale, 2 pad.
const SLOT: usize = 8;

/// Why `cfg` cannot train on the GPU engine, if it cannot.
pub fn unsupported(cfg: &TrainConfig) -> Option<String> {
    match cfg.model.as_str() {
        "transformer" => match Mixer::parse_list(&cfg.mixers, cfg.layers) {
            Ok(m) => transformer::unsupported(&m, cfg.d_model, cfg.heads),
            Err(e) => Some(e),
        },
        "dlr" => None,
        other => Some(format!("the '{other}' model has no GPU kernels yet (GPU models: transformer, dlr)")),
    }
}

type Flag<T> = Arc<Mutex<Option<T>>>;

/// A buffer being mapped for reading, with what it holds.
struct Pending {
    staging: wgpu::Buffer,
    done: Flag<Result<(), String>>,
    /// Ring readback: the first step it covers and how many; sync: the step it was taken at.
    first: usize,
    count: usize,
}

/// Weights and optimiser state read back at a completed step.
pub struct Synced {
    pub step: usize,
    pub params: Vec<Vec<f32>>,
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
    /// The statistics of steps up to `step` not delivered before.
    pub stats: Vec<StepStats>,
}

/// The forward-and-loss program that evaluates held-out batches on the GPU.
struct EvalProgram {
    program: Program,
    stats: wgpu::Buffer,
    /// Per-entry correct flags `[n·c]` (classification).
    correct: Option<wgpu::Buffer>,
}

/// A held-out evaluation in flight: every chunk's results copied into one buffer, mapped.
struct EvalPending {
    map: Pending,
    /// Each chunk's real rows and mask (the host needs them for exact match).
    chunks: Vec<(usize, Vec<f32>)>,
    /// Floats per chunk in the results: 4 statistics, then `n·c` correct flags.
    stride: usize,
}

pub struct GpuTrainer {
    ctx: Arc<GpuContext>,
    pub layout: Layout,
    program: Program,
    eval: EvalProgram,
    pending_eval: Option<EvalPending>,
    keep: Vec<wgpu::Buffer>,
    inputs: Inputs,
    params: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    step_uniform: wgpu::Buffer,
    stats: wgpu::Buffer,
    norm: wgpu::Buffer,
    ring: wgpu::Buffer,
    dims: Dims,
    schedule: Schedule,
    weight_decay: f64,
    /// Steps submitted.
    step: usize,
    /// Steps whose statistics have been delivered by `poll_stats`.
    read: usize,
    readback: Option<Pending>,
    sync: Option<Pending>,
    lost: Flag<String>,
    /// GPU memory the engine allocated, in bytes.
    pub bytes: u64,
    /// Queue submissions so far (steps, readbacks, syncs), for the benchmark.
    pub submits: usize,
}

fn e(err: crate::gpu::GpuError) -> String {
    format!("GPU engine: {err}")
}

impl GpuTrainer {
    /// Build the engine for `trainer`'s run, starting from its current weights (fresh Adam
    /// moments, step `trainer.step_count()`): allocate everything, record the step.
    pub async fn new(ctx: Arc<GpuContext>, trainer: &Trainer) -> R<GpuTrainer> {
        let cfg = &trainer.cfg;
        if let Some(why) = unsupported(cfg) {
            return Err(why);
        }
        let shape = trainer.task.shape();
        let output = trainer.output();
        let dm = Dims { b: cfg.batch, l: shape.seq_len, d: cfg.d_model, vocab: shape.vocab, features: shape.features, out: super::plan::dims_of(&shape).out, output };
        check_fits(&ctx, cfg, dm)?;
        let layout = Layout::of(trainer.model.as_ref());
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let flat = layout.pack(trainer.model.as_ref())?;
        let params = ctx.upload_f32("GPU engine", "params", &flat).map_err(e)?;
        let [grads, m, v] = ["grads", "adam.m", "adam.v"].map(|l| ctx.output_f32("GPU engine", l, layout.total));
        let (grads, m, v) = (grads.map_err(e)?, m.map_err(e)?, v.map_err(e)?);
        let decay = ctx.upload_f32("GPU engine", "decay", &layout.decay_mask()).map_err(e)?;
        let alloc = |label: &str, len: usize| ctx.output_f32("GPU engine", label, len).map_err(e);
        let (stats, norm, ring, partial) = (alloc("stats", STATS_LEN)?, alloc("norm", NORM_LEN)?, alloc("ring", RING * SLOT)?, alloc("adamw.partial", partial_len(layout.total))?);
        let n = dm.n();
        let inputs = Inputs {
            tokens: alloc("tokens", n)?,
            features: if dm.features > 0 { Some(alloc("features", n * dm.features)?) } else { None },
            targets: alloc("targets", dm.scored())?,
            mask: alloc("mask", dm.scored())?,
        };
        let step_uniform = step_buffer(&ctx);
        let mixers = if cfg.model == "transformer" { Mixer::parse_list(&cfg.mixers, cfg.layers)? } else { Vec::new() };
        // The evaluation program: forward and loss only, on the same inputs and weights.
        let mut r = Recorder { ctx: &ctx, program: Program::new(), layout: &layout, params: &params, grads: &grads, keep: Vec::new(), bytes: 0, split_scratch: Vec::new() };
        let eval_stats = alloc("eval.stats", STATS_LEN)?;
        let eval_correct = match cfg.model.as_str() {
            "transformer" => transformer::record(&mut r, &inputs, dm, &mixers, cfg.heads, &eval_stats, false).await?,
            _ => dlr::record(&mut r, &inputs, dm, cfg.layers, cfg.state, &eval_stats, false).await?,
        };
        let (eval_program, eval_keep, eval_bytes) = (r.program, r.keep, r.bytes);
        let mut r = Recorder { ctx: &ctx, program: Program::new(), layout: &layout, params: &params, grads: &grads, keep: eval_keep, bytes: eval_bytes, split_scratch: Vec::new() };
        match cfg.model.as_str() {
            "transformer" => transformer::record(&mut r, &inputs, dm, &mixers, cfg.heads, &stats, true).await?,
            _ => dlr::record(&mut r, &inputs, dm, cfg.layers, cfg.state, &stats, true).await?,
        };
        let ab = AdamWBuffers {
            param: params.slice(..),
            grad: grads.slice(..),
            m: m.slice(..),
            v: v.slice(..),
            decay: decay.slice(..),
            partial: partial.slice(..),
            norm: norm.slice(..),
            step: step_uniform.slice(..),
        };
        let acfg = AdamWConfig { clip: cfg.clip as f32, ..AdamWConfig::default() };
        record_adamw(&mut r.program, &ctx, ab, layout.total, acfg).await.map_err(e)?;
        let (program, mut keep, act_bytes) = (r.program, r.keep, r.bytes);
        if let Some(err) = scope.pop().await {
            return Err(format!("GPU engine: out of GPU memory while allocating {} MiB: {err}", act_bytes >> 20));
        }
        let bytes = act_bytes + 5 * (layout.total as u64) * 4;
        keep.extend([grads, decay, partial]);
        let lost: Flag<String> = Arc::new(Mutex::new(None));
        let flag = lost.clone();
        ctx.device.set_device_lost_callback(move |reason, msg| {
            flag.lock().unwrap().get_or_insert(format!("the GPU device was lost ({reason:?}): {msg}"));
        });
        // An error no scope caught (after a device loss, every call fails) must stop the GPU
        // run, not panic the worker: the session then continues on the CPU.
        let flag = lost.clone();
        ctx.device.on_uncaptured_error(Arc::new(move |err: wgpu::Error| {
            flag.lock().unwrap().get_or_insert(format!("GPU error: {err}"));
        }));
        let schedule = Schedule { peak: cfg.lr, warmup: cfg.warmup, total: cfg.steps, final_frac: 0.1 };
        let step = trainer.step_count();
        let eval = EvalProgram { program: eval_program, stats: eval_stats, correct: eval_correct };
        Ok(GpuTrainer { ctx, layout, program, eval, pending_eval: None, keep, inputs, params, m, v, step_uniform, stats, norm, ring, dims: dm, schedule, weight_decay: cfg.weight_decay, step, read: step, readback: None, sync: None, lost, bytes, submits: 0 })
    }

    /// Dispatches per step (one submission holds them all).
    pub fn dispatches(&self) -> usize {
        self.program.len()
    }

    pub fn steps_submitted(&self) -> usize {
        self.step
    }

    /// Steps whose statistics have been delivered.
    pub fn steps_read(&self) -> usize {
        self.read
    }

    pub fn adapter(&self) -> &crate::gpu::AdapterSummary {
        &self.ctx.summary
    }

    /// The device-loss message, once the device is gone.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap().clone()
    }

    /// Destroy the device (to test the fallback); `lost()` reports it from now on.
    pub fn force_device_loss(&self) {
        self.lost.lock().unwrap().get_or_insert("the GPU device was destroyed (forced by lose_gpu_at, a test hook)".into());
        self.ctx.device.destroy();
    }

    /// Room in the statistics ring for another step.
    pub fn can_submit(&self) -> bool {
        self.step - self.read < RING - 1
    }

    /// Upload step `step_submitted()`'s batch and submit the recorded step (no waiting).
    pub fn submit_step(&mut self, trainer: &Trainer) -> R<()> {
        if !self.can_submit() {
            return Err("GPU engine: the statistics ring is full; read it back first".into());
        }
        if let Some(why) = self.lost() {
            return Err(why);
        }
        let b = trainer.train_batch(self.step);
        self.write_inputs(&b);
        let q = &self.ctx.queue;
        let lr = self.schedule.lr(self.step);
        write_step(&self.ctx, &self.step_uniform, &AdamWStep::new(self.step as u64 + 1, lr, 0.9, 0.95, self.weight_decay));
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train step") });
        self.program.encode(&self.ctx, &mut enc).map_err(e)?;
        let slot = ((self.step % RING) * SLOT * 4) as u64;
        enc.copy_buffer_to_buffer(&self.stats, 0, &self.ring, slot, (STATS_LEN * 4) as u64);
        enc.copy_buffer_to_buffer(&self.norm, 0, &self.ring, slot + (STATS_LEN * 4) as u64, (NORM_LEN * 4) as u64);
        q.submit([enc.finish()]);
        self.submits += 1;
        self.step += 1;
        Ok(())
    }

    fn map(&self, label: &str, bytes: u64, copies: &[(&wgpu::Buffer, u64, u64)]) -> (wgpu::Buffer, Flag<Result<(), String>>) {
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: bytes, usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false });
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        for &(src, at, len) in copies {
            enc.copy_buffer_to_buffer(src, 0, &staging, at, len);
        }
        self.ctx.queue.submit([enc.finish()]);
        let done: Flag<Result<(), String>> = Arc::new(Mutex::new(None));
        let flag = done.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| *flag.lock().unwrap() = Some(r.map_err(|e| e.to_string())));
        (staging, done)
    }

    /// Start reading back the statistics of the steps submitted since the last readback
    /// (one at a time; a no-op while one is in flight or nothing is new).
    pub fn start_readback(&mut self) {
        if self.readback.is_some() || self.step == self.read {
            return;
        }
        let bytes = (RING * SLOT * 4) as u64;
        let (staging, done) = self.map("stats readback", bytes, &[(&self.ring, 0, bytes)]);
        self.submits += 1;
        self.readback = Some(Pending { staging, done, first: self.read, count: self.step - self.read });
    }

    /// `start_readback` when none is in flight: called after every submission, so the
    /// browser's charts get each step soon after the GPU ran it.
    pub fn keep_reading(&mut self) {
        self.start_readback();
    }

    /// Drive wgpu's callbacks (natively the device must be polled; browsers do it themselves).
    fn pump(&self, wait: bool) -> R<()> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let how = if wait { wgpu::PollType::wait_indefinitely() } else { wgpu::PollType::Poll };
            self.ctx.device.poll(how).map_err(|err| format!("GPU engine: poll: {err}"))?;
        }
        let _ = wait;
        Ok(())
    }

    /// The statistics of a finished readback, oldest first (empty while none is ready).
    pub fn poll_stats(&mut self, wait: bool) -> R<Vec<StepStats>> {
        let Some(p) = &self.readback else { return Ok(Vec::new()) };
        self.pump(wait)?;
        let Some(res) = p.done.lock().unwrap().take() else { return Ok(Vec::new()) };
        let p = self.readback.take().expect("checked above");
        res.map_err(|err| format!("GPU engine: reading the step statistics: {err}"))?;
        let ring: Vec<f32> = {
            let view = p.staging.slice(..).get_mapped_range().map_err(|err| format!("GPU engine: mapping a readback: {err}"))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        p.staging.unmap();
        Ok(self.deliver(&ring, p.first + p.count))
    }

    /// The statistics in a copy of the ring for the undelivered steps before `end`.
    fn deliver(&mut self, ring: &[f32], end: usize) -> Vec<StepStats> {
        let classes = matches!(self.dims.output, Output::Classes { .. });
        let stats = (self.read..end)
            .map(|s| {
                let x = &ring[(s % RING) * SLOT..][..SLOT];
                StepStats {
                    step: s + 1,
                    loss: x[0] as f64,
                    accuracy: classes.then(|| x[1] as f64 / x[3] as f64),
                    lr: self.schedule.lr(s),
                    grad_norm: x[4] as f64,
                }
            })
            .collect();
        self.read = self.read.max(end);
        stats
    }

    /// Read back every submitted step's statistics, waiting (native tools and tests).
    pub fn wait_stats(&mut self) -> R<Vec<StepStats>> {
        let mut out = Vec::new();
        while self.read < self.step || self.readback.is_some() {
            self.start_readback();
            out.extend(self.poll_stats(true)?);
        }
        Ok(out)
    }

    /// Start copying the weights and Adam moments as they are after the last submitted step,
    /// with the statistics ring, so a completed sync also delivers every step up to it.
    pub fn start_sync(&mut self) {
        if self.sync.is_some() {
            return;
        }
        let len = (self.layout.total * 4) as u64;
        let ring = (RING * SLOT * 4) as u64;
        let copies = [(&self.params, 0, len), (&self.m, len, len), (&self.v, 2 * len, len), (&self.ring, 3 * len, ring)];
        let (staging, done) = self.map("weights sync", 3 * len + ring, &copies);
        self.submits += 1;
        self.sync = Some(Pending { staging, done, first: self.step, count: 0 });
    }

    pub fn sync_pending(&self) -> bool {
        self.sync.is_some()
    }

    /// A finished sync's weights and moments (None while it is in flight or none was started).
    pub fn poll_sync(&mut self, wait: bool) -> R<Option<Synced>> {
        let Some(p) = &self.sync else { return Ok(None) };
        self.pump(wait)?;
        let Some(res) = p.done.lock().unwrap().take() else { return Ok(None) };
        let p = self.sync.take().expect("checked above");
        res.map_err(|err| format!("GPU engine: reading the weights back: {err}"))?;
        let all: Vec<f32> = {
            let view = p.staging.slice(..).get_mapped_range().map_err(|err| format!("GPU engine: mapping a readback: {err}"))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        p.staging.unmap();
        let t = self.layout.total;
        let stats = self.deliver(&all[3 * t..], p.first);
        Ok(Some(Synced { step: p.first, params: self.layout.unpack(&all[..t]), m: self.layout.unpack(&all[t..2 * t]), v: self.layout.unpack(&all[2 * t..3 * t]), stats }))
    }

    /// Weights and moments after the last submitted step, waiting (native tools and tests).
    pub fn wait_sync(&mut self) -> R<Synced> {
        self.start_sync();
        loop {
            if let Some(s) = self.poll_sync(true)? {
                return Ok(s);
            }
        }
    }

    fn write_inputs(&self, b: &Batch) {
        let q = &self.ctx.queue;
        q.write_buffer(&self.inputs.tokens, 0, bytemuck::cast_slice(&b.inputs));
        if let Some(f) = &self.inputs.features {
            q.write_buffer(f, 0, bytemuck::cast_slice(&b.features_data));
        }
        match self.dims.output {
            Output::Classes { .. } => q.write_buffer(&self.inputs.targets, 0, bytemuck::cast_slice(&b.targets)),
            Output::Regression { .. } => q.write_buffer(&self.inputs.targets, 0, bytemuck::cast_slice(&b.values)),
        }
        q.write_buffer(&self.inputs.mask, 0, bytemuck::cast_slice(&b.mask));
    }

    /// Evaluate `set` (the held-out sequences) with the weights as they are after the last
    /// submitted step: one submission per batch-sized chunk (the last padded with unscored
    /// rows), every chunk's statistics and correct flags gathered on the GPU and mapped once.
    pub fn start_eval(&mut self, set: &Batch) -> R<()> {
        if self.pending_eval.is_some() {
            return Err("GPU engine: an evaluation is already under way".into());
        }
        let b = self.dims.b;
        let flags = if self.eval.correct.is_some() { self.dims.scored() } else { 0 };
        let stride = STATS_LEN + flags;
        let n_chunks = set.batch.div_ceil(b).max(1);
        let results = self.ctx.output_f32("GPU engine", "eval.results", n_chunks * stride).map_err(e)?;
        let mut chunks = Vec::with_capacity(n_chunks);
        for k in 0..n_chunks {
            let (lo, hi) = (k * b, ((k + 1) * b).min(set.batch));
            let mut part = set.slice(lo, hi);
            pad_rows(&mut part, b);
            self.write_inputs(&part);
            let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("eval chunk") });
            self.eval.program.encode(&self.ctx, &mut enc).map_err(e)?;
            let at = (k * stride * 4) as u64;
            enc.copy_buffer_to_buffer(&self.eval.stats, 0, &results, at, (STATS_LEN * 4) as u64);
            if let Some(c) = &self.eval.correct {
                enc.copy_buffer_to_buffer(c, 0, &results, at + (STATS_LEN * 4) as u64, (flags * 4) as u64);
            }
            self.ctx.queue.submit([enc.finish()]);
            self.submits += 1;
            chunks.push((hi - lo, part.mask));
        }
        let bytes = (n_chunks * stride * 4) as u64;
        let (staging, done) = self.map("eval readback", bytes, &[(&results, 0, bytes)]);
        self.submits += 1;
        self.pending_eval = Some(EvalPending { map: Pending { staging, done, first: self.step, count: 0 }, chunks, stride });
        Ok(())
    }

    pub fn eval_pending(&self) -> bool {
        self.pending_eval.is_some()
    }

    /// A finished evaluation: (the step whose weights it scored, the numbers), as
    /// `Trainer::evaluate` computes them on the CPU.
    pub fn poll_eval(&mut self, wait: bool) -> R<Option<(usize, EvalStats)>> {
        let Some(p) = &self.pending_eval else { return Ok(None) };
        self.pump(wait)?;
        let Some(res) = p.map.done.lock().unwrap().take() else { return Ok(None) };
        let p = self.pending_eval.take().expect("checked above");
        res.map_err(|err| format!("GPU engine: reading the evaluation back: {err}"))?;
        let all: Vec<f32> = {
            let view = p.map.staging.slice(..).get_mapped_range().map_err(|err| format!("GPU engine: mapping a readback: {err}"))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        p.map.staging.unmap();
        let per_row = self.dims.l * self.dims.output.channels();
        let (mut loss_sum, mut scored, mut correct, mut exact, mut rows) = (0f64, 0f64, 0f64, 0usize, 0usize);
        for (k, (real, mask)) in p.chunks.iter().enumerate() {
            let x = &all[k * p.stride..(k + 1) * p.stride];
            loss_sum += x[0] as f64 * x[2] as f64;
            scored += x[2] as f64;
            correct += x[1] as f64;
            rows += real;
            if p.stride > STATS_LEN {
                let flags = &x[STATS_LEN..];
                exact += (0..*real).filter(|&r| (r * per_row..(r + 1) * per_row).all(|i| mask[i] <= 0.0 || flags[i] > 0.5)).count();
            }
        }
        let loss = loss_sum / scored.max(1.0);
        let classes = matches!(self.dims.output, Output::Classes { .. });
        let stats = EvalStats {
            loss,
            accuracy: classes.then(|| correct / scored.max(1.0)),
            exact_match: classes.then(|| exact as f64 / rows.max(1) as f64),
            mse: (!classes).then_some(loss),
        };
        Ok(Some((p.map.first, stats)))
    }

    /// The buffers the engine keeps (for its memory report).
    pub fn buffers(&self) -> usize {
        self.keep.len() + 12
    }
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

/// Refuse, before allocating, a run whose largest activation passes the device's per-buffer
/// limit, saying which buffer and what batch would fit.
fn check_fits(ctx: &GpuContext, cfg: &TrainConfig, dm: Dims) -> R<()> {
    let limit = ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size);
    let width = if cfg.model == "transformer" { 4 * dm.d } else { 2 * dm.d };
    let (what, per_row) = [("the MLP hidden activation", width), ("the head's logits", dm.out), ("the packed q, k, v", 3 * dm.d)].into_iter().max_by_key(|x| x.1).expect("three candidates");
    let bytes = (dm.n() * per_row * 4) as u64;
    if bytes > limit {
        let fit = (limit / (dm.l * per_row * 4) as u64).max(0);
        return Err(format!(
            "GPU engine: {what} [batch {} x seq {} x {per_row}] needs {} MiB, over this device's {} MiB buffer limit; batch {fit} or less would fit",
            dm.b,
            dm.l,
            bytes >> 20,
            limit >> 20
        ));
    }
    Ok(())
}
