//! The GPU training engine's device side (`engine::gpu_train` drives it from a run): a whole
//! optimiser step — forward, loss, backward, AdamW — recorded
//! once as a `gpu::Program` and replayed as one submission per step. Parameters, gradients and
//! Adam moments live in flat GPU buffers (`layout`), initialised from the caller's values
//! (the CPU model's, so both backends start from the same weights). Nothing is read back per step: each step's loss,
//! correct count and gradient norm are copied into a ring on the GPU and read back
//! asynchronously (`start_readback` / `poll_stats`); weights and moments come back the same
//! way (`start_sync` / `poll_sync`) for evaluation, checkpoints and the CPU fallback after a
//! device loss.

mod dlr;
mod graph;
pub mod layout;
mod readback;
mod transformer;

use std::sync::{Arc, Mutex};

use super::adamw::{
    partial_len, record_adamw, step_buffer, write_step, AdamWBuffers, AdamWConfig, AdamWStep, NORM_LEN,
};
use super::cross_entropy::STATS_LEN;
use super::{GpuContext, Program};

pub use graph::{Dims, Loss};
use graph::{Inputs, Recorder, R};
pub use layout::Layout;
pub use transformer::{unsupported as transformer_unsupported, Mixer};

/// Steps of statistics the ring holds; the engine stops submitting when this many are unread.
pub const RING: usize = 64;
/// Floats per ring slot: loss, correct, Σ mask, max(Σ mask, 1), grad norm, clip scale, 2 pad.
const SLOT: usize = 8;

/// The model families the engine records.
#[derive(Clone, Debug, PartialEq)]
pub enum Arch {
    /// Pre-norm blocks with these mixers (one per layer), `heads` attention heads, MLP 4·d.
    Transformer { mixers: Vec<Mixer>, heads: usize },
    /// `layers` DLR blocks of `state` complex states per channel, MLP 2·d.
    Dlr { layers: usize, state: usize },
}

/// Everything the engine needs to know about a run.
#[derive(Clone, Debug)]
pub struct Spec {
    pub arch: Arch,
    pub dims: Dims,
    /// The parameters' names and shapes (the names `transformer.rs` / `dlr.rs` bind).
    pub layout: Layout,
    pub adamw: AdamWConfig,
}

/// A batch's data, as the task generated it.
pub struct BatchData<'a> {
    pub tokens: &'a [u32],
    pub features: &'a [f32],
    /// Class ids (cross-entropy) or values (MSE), `[n·c]`.
    pub targets: Targets<'a>,
    pub mask: &'a [f32],
}

pub enum Targets<'a> {
    Classes(&'a [u32]),
    Values(&'a [f32]),
}

/// One step's numbers as the GPU left them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawStep {
    /// 0-based step index.
    pub index: usize,
    /// Mean loss over the scored entries.
    pub loss: f32,
    /// Correct scored entries (cross-entropy).
    pub correct: f32,
    /// max(Σ mask, 1).
    pub scored: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
}

/// Weights and Adam moments (flat, in the layout) after `step` steps, with the statistics
/// of the steps up to it not delivered before.
pub struct RawSync {
    pub step: usize,
    pub params: Vec<f32>,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    pub stats: Vec<RawStep>,
}

/// A held-out evaluation of the weights after `step` steps: per chunk, the loss statistics
/// `[mean loss, correct, Σ mask, max(Σ mask, 1)]` then (cross-entropy) the `n·c` correct flags.
pub struct RawEval {
    pub step: usize,
    pub chunks: Vec<Vec<f32>>,
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
    chunks: usize,
    /// Floats per chunk in the results: 4 statistics, then `n·c` correct flags.
    stride: usize,
}

pub struct Engine {
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

/// A GPU error as the engine reports it.
pub(crate) fn e(err: super::GpuError) -> String {
    format!("GPU engine: {err}")
}

impl Engine {
    /// Allocate everything for `spec` and record its training and evaluation programs,
    /// starting from the flat parameters `init` (in `spec.layout`), fresh Adam moments, at
    /// step `first_step`.
    pub async fn new(ctx: Arc<GpuContext>, spec: Spec, init: &[f32], first_step: usize) -> R<Engine> {
        let (dm, layout) = (spec.dims, spec.layout);
        check_fits(&ctx, &spec.arch, dm)?;
        if init.len() != layout.total {
            return Err(format!(
                "GPU engine: {} initial values for a layout of {}",
                init.len(),
                layout.total
            ));
        }
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let params = ctx.upload_f32("GPU engine", "params", init).map_err(e)?;
        let [grads, m, v] =
            ["grads", "adam.m", "adam.v"].map(|l| ctx.output_f32("GPU engine", l, layout.total));
        let (grads, m, v) = (grads.map_err(e)?, m.map_err(e)?, v.map_err(e)?);
        let decay = ctx.upload_f32("GPU engine", "decay", &layout.decay_mask()).map_err(e)?;
        let alloc = |label: &str, len: usize| ctx.output_f32("GPU engine", label, len).map_err(e);
        let (stats, norm, ring, partial) = (
            alloc("stats", STATS_LEN)?,
            alloc("norm", NORM_LEN)?,
            alloc("ring", RING * SLOT)?,
            alloc("adamw.partial", partial_len(layout.total))?,
        );
        let n = dm.n();
        let inputs = Inputs {
            tokens: alloc("tokens", n)?,
            features: if dm.features > 0 { Some(alloc("features", n * dm.features)?) } else { None },
            targets: alloc("targets", dm.scored())?,
            mask: alloc("mask", dm.scored())?,
        };
        let step_uniform = step_buffer(&ctx);
        // The evaluation program: forward and loss only, on the same inputs and weights.
        let mut r = Recorder {
            ctx: &ctx,
            program: Program::new(),
            layout: &layout,
            params: &params,
            grads: &grads,
            keep: Vec::new(),
            bytes: 0,
            split_scratch: Vec::new(),
        };
        let eval_stats = alloc("eval.stats", STATS_LEN)?;
        let eval_correct = match &spec.arch {
            Arch::Transformer { mixers, heads } => {
                transformer::record(&mut r, &inputs, dm, mixers, *heads, &eval_stats, false).await?
            }
            Arch::Dlr { layers, state } => {
                dlr::record(&mut r, &inputs, dm, *layers, *state, &eval_stats, false).await?
            }
        };
        let (eval_program, eval_keep, eval_bytes) = (r.program, r.keep, r.bytes);
        let mut r = Recorder {
            ctx: &ctx,
            program: Program::new(),
            layout: &layout,
            params: &params,
            grads: &grads,
            keep: eval_keep,
            bytes: eval_bytes,
            split_scratch: Vec::new(),
        };
        match &spec.arch {
            Arch::Transformer { mixers, heads } => {
                transformer::record(&mut r, &inputs, dm, mixers, *heads, &stats, true).await?
            }
            Arch::Dlr { layers, state } => {
                dlr::record(&mut r, &inputs, dm, *layers, *state, &stats, true).await?
            }
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
        record_adamw(&mut r.program, &ctx, ab, layout.total, spec.adamw).await.map_err(e)?;
        let (program, mut keep, act_bytes) = (r.program, r.keep, r.bytes);
        if let Some(err) = scope.pop().await {
            return Err(format!(
                "GPU engine: out of GPU memory while allocating {} MiB: {err}",
                act_bytes >> 20
            ));
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
        let step = first_step;
        let eval = EvalProgram { program: eval_program, stats: eval_stats, correct: eval_correct };
        Ok(Engine {
            ctx,
            layout,
            program,
            eval,
            pending_eval: None,
            keep,
            inputs,
            params,
            m,
            v,
            step_uniform,
            stats,
            norm,
            ring,
            dims: dm,
            step,
            read: step,
            readback: None,
            sync: None,
            lost,
            bytes,
            submits: 0,
        })
    }

    /// The sizes the programs were recorded for.
    pub fn dims(&self) -> Dims {
        self.dims
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

    pub fn adapter(&self) -> &super::AdapterSummary {
        &self.ctx.summary
    }

    /// The device-loss message, once the device is gone.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap().clone()
    }

    /// Destroy the device (to test the fallback); `lost()` reports it from now on.
    pub fn force_device_loss(&self) {
        self.lost
            .lock()
            .unwrap()
            .get_or_insert("the GPU device was destroyed (forced by lose_gpu_at, a test hook)".into());
        self.ctx.device.destroy();
    }

    /// Room in the statistics ring for another step.
    pub fn can_submit(&self) -> bool {
        self.step - self.read < RING - 1
    }

    /// Upload the batch of step `steps_submitted()` and submit the recorded step (no
    /// waiting), with this step's AdamW values (learning rate, bias corrections, decay).
    pub fn submit_step(&mut self, batch: &BatchData, adamw: &AdamWStep) -> R<()> {
        if !self.can_submit() {
            return Err("GPU engine: the statistics ring is full; read it back first".into());
        }
        if let Some(why) = self.lost() {
            return Err(why);
        }
        self.write_inputs(batch)?;
        let q = &self.ctx.queue;
        write_step(&self.ctx, &self.step_uniform, adamw);
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train step") });
        self.program.encode(&self.ctx, &mut enc).map_err(e)?;
        let slot = ((self.step % RING) * SLOT * 4) as u64;
        enc.copy_buffer_to_buffer(&self.stats, 0, &self.ring, slot, (STATS_LEN * 4) as u64);
        enc.copy_buffer_to_buffer(
            &self.norm,
            0,
            &self.ring,
            slot + (STATS_LEN * 4) as u64,
            (NORM_LEN * 4) as u64,
        );
        q.submit([enc.finish()]);
        self.submits += 1;
        self.step += 1;
        Ok(())
    }

    fn write_inputs(&self, b: &BatchData) -> R<()> {
        let (n, scored) = (self.dims.n(), self.dims.scored());
        let targets = match b.targets {
            Targets::Classes(t) => (t.len(), bytemuck::cast_slice::<u32, u8>(t)),
            Targets::Values(v) => (v.len(), bytemuck::cast_slice::<f32, u8>(v)),
        };
        if b.tokens.len() != n
            || b.features.len() != n * self.dims.features
            || targets.0 != scored
            || b.mask.len() != scored
        {
            return Err(format!(
                "GPU engine: a batch of {} tokens, {} features, {} targets, {} mask entries does not fit [batch {} x seq {}], {} features, {} outputs per position",
                b.tokens.len(), b.features.len(), targets.0, b.mask.len(), self.dims.b, self.dims.l, self.dims.features, self.dims.channels
            ));
        }
        let q = &self.ctx.queue;
        q.write_buffer(&self.inputs.tokens, 0, bytemuck::cast_slice(b.tokens));
        if let Some(f) = &self.inputs.features {
            q.write_buffer(f, 0, bytemuck::cast_slice(b.features));
        }
        q.write_buffer(&self.inputs.targets, 0, targets.1);
        q.write_buffer(&self.inputs.mask, 0, bytemuck::cast_slice(b.mask));
        Ok(())
    }

    /// The buffers the engine keeps (for its memory report).
    pub fn buffers(&self) -> usize {
        self.keep.len() + 12
    }
}

/// Refuse, before allocating, a run whose largest activation passes the device's per-buffer
/// limit, saying which buffer and what batch would fit.
fn check_fits(ctx: &GpuContext, arch: &Arch, dm: Dims) -> R<()> {
    let limit = ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size);
    let width = if matches!(arch, Arch::Transformer { .. }) { 4 * dm.d } else { 2 * dm.d };
    let (what, per_row) = [
        ("the MLP hidden activation", width),
        ("the head's logits", dm.out),
        ("the packed q, k, v", 3 * dm.d),
    ]
    .into_iter()
    .max_by_key(|x| x.1)
    .expect("three candidates");
    let bytes = (dm.n() * per_row * 4) as u64;
    if bytes > limit {
        let fit = limit / (dm.l * per_row * 4) as u64;
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
