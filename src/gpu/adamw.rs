//! Binding for `shaders/adamw.wgsl`: one fused AdamW update over a flat parameter buffer with
//! global-norm clipping (a fixed-order sum of squares of every gradient first). Matches
//! `model::optim::AdamW::step`. Values that change per step (learning rate, bias corrections,
//! decay factor) live in a 16-byte `step` uniform the caller rewrites with `write_step`
//! before each `Program::submit`, so the recorded program is replayed unchanged.

use super::grid::{check_len, fold_groups, fold_items};
use super::{GpuContext, GpuError, Kernel, Program, Result};

/// Elements per first-level chunk of the sum of squares (a fixed partition, independent of
/// the device, so the norm repeats bit for bit).
pub const SUMSQ_CHUNK: usize = 4096;

/// Floats in the `norm` buffer: `[grad norm before clipping, clip scale]`.
pub const NORM_LEN: usize = 2;

/// The constant hyper-parameters (defaults as in `model::optim::AdamW::new`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Global-norm clip; 0 turns clipping off.
    pub clip: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, clip: 1.0 }
    }
}

/// The per-step uniform (binding 9), computed on the host in f64 as the CPU optimiser does.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamWStep {
    pub lr: f32,
    /// 1 − β1^t
    pub bc1: f32,
    /// 1 − β2^t
    pub bc2: f32,
    /// 1 − lr · weight_decay, applied where the decay mask is set.
    pub decay: f32,
}

impl AdamWStep {
    /// The uniform for 1-based step `t` at learning rate `lr`.
    pub fn new(t: u64, lr: f64, beta1: f64, beta2: f64, weight_decay: f64) -> Self {
        AdamWStep {
            lr: lr as f32,
            bc1: (1.0 - beta1.powi(t as i32)) as f32,
            bc2: (1.0 - beta2.powi(t as i32)) as f32,
            decay: (1.0 - lr * weight_decay) as f32,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    chunk: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    clip: f32,
    _pad0: u32,
    _pad1: u32,
}

/// Length of the scratch buffer of first-level sums: `ceil(n / SUMSQ_CHUNK)`.
pub fn partial_len(n: usize) -> usize {
    n.div_ceil(SUMSQ_CHUNK)
}

/// A 16-byte uniform buffer for `AdamWStep`, writable every step.
pub fn step_buffer(ctx: &GpuContext) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("adamw.step"),
        size: std::mem::size_of::<AdamWStep>() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Queue this step's values; they take effect at the next submission.
pub fn write_step(ctx: &GpuContext, buf: &wgpu::Buffer, step: &AdamWStep) {
    ctx.queue.write_buffer(buf, 0, bytemuck::bytes_of(step));
}

/// The buffers of one AdamW update over `n` flat parameters.
pub struct AdamWBuffers<'a> {
    pub param: wgpu::BufferSlice<'a>,   // [n], updated in place
    pub grad: wgpu::BufferSlice<'a>,    // [n]
    pub m: wgpu::BufferSlice<'a>,       // [n], updated in place
    pub v: wgpu::BufferSlice<'a>,       // [n], updated in place
    pub decay: wgpu::BufferSlice<'a>,   // [n], 1 = weight decay
    pub partial: wgpu::BufferSlice<'a>, // [partial_len(n)], scratch
    pub norm: wgpu::BufferSlice<'a>,    // [NORM_LEN]
    pub step: wgpu::BufferSlice<'a>,    // from `step_buffer`
}

/// Record sumsq_partial → sumsq_reduce → update.
pub async fn record_adamw(
    program: &mut Program,
    ctx: &GpuContext,
    b: AdamWBuffers<'_>,
    n: usize,
    cfg: AdamWConfig,
) -> Result<()> {
    let op = "adamw";
    if n == 0 {
        return Err(GpuError::Shape { op: op.into(), detail: "no parameters".into() });
    }
    let shape = format!("{n} parameters");
    for (name, buf, want) in [
        ("param", b.param, n),
        ("grad", b.grad, n),
        ("m", b.m, n),
        ("v", b.v, n),
        ("decay", b.decay, n),
        ("partial", b.partial, partial_len(n)),
        ("norm", b.norm, NORM_LEN),
    ] {
        check_len(op, name, buf, want, &shape)?;
    }
    if b.step.size() < std::mem::size_of::<AdamWStep>() as u64 {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("step uniform holds {} bytes, needs 16", b.step.size()),
        });
    }
    let p = Params {
        n: n as u32,
        chunk: SUMSQ_CHUNK as u32,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        clip: cfg.clip,
        _pad0: 0,
        _pad1: 0,
    };
    let pb = Some((10, bytemuck::bytes_of(&p)));
    let chunks = fold_groups(ctx, op, partial_len(n))?;
    program
        .push(
            ctx,
            Kernel::AdamW,
            "sumsq_partial",
            "adamw.sumsq_partial",
            &[(0, b.grad), (7, b.partial)],
            pb,
            chunks,
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::AdamW,
            "sumsq_reduce",
            "adamw.sumsq_reduce",
            &[(2, b.partial), (8, b.norm)],
            pb,
            [1, 1, 1],
        )
        .await?;
    let elems = fold_items(ctx, op, n, 256)?;
    let binds = [(0, b.grad), (1, b.decay), (3, b.norm), (4, b.param), (5, b.m), (6, b.v), (9, b.step)];
    program.push(ctx, Kernel::AdamW, "update", "adamw.update", &binds, pb, elems).await
}

/// What the one-shot helper reads back after its last step.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamWOut {
    pub param: Vec<f32>,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    /// The gradient norm before clipping, per step.
    pub grad_norms: Vec<f32>,
}

/// Run `steps.len()` updates from zero moments: one recorded program, replayed with
/// `grads[i]` written into the gradient buffer and `steps[i]` into the step uniform.
pub async fn adamw(
    ctx: &GpuContext,
    param: &[f32],
    decay: &[f32],
    grads: &[Vec<f32>],
    steps: &[AdamWStep],
    cfg: AdamWConfig,
) -> Result<AdamWOut> {
    let op = "adamw";
    let n = param.len();
    if decay.len() != n || grads.len() != steps.len() || grads.iter().any(|g| g.len() != n) {
        let lens: Vec<usize> = grads.iter().map(|g| g.len()).collect();
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!(
                "{n} parameters, decay mask {}, {} steps with gradients of {lens:?}",
                decay.len(),
                steps.len()
            ),
        });
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let pb = ctx.upload_f32(op, "adamw.param", param)?; // [n]
    let db = ctx.upload_f32(op, "adamw.decay", decay)?; // [n]
    let gb = ctx.output_f32(op, "adamw.grad", n)?; // [n]
    let mb = ctx.upload_f32(op, "adamw.m", &vec![0.0; n])?; // [n]
    let vb = ctx.upload_f32(op, "adamw.v", &vec![0.0; n])?; // [n]
    let sb = ctx.output_f32(op, "adamw.partial", partial_len(n))?; // [chunks]
    let nb = ctx.output_f32(op, "adamw.norm", NORM_LEN)?; // [2]
    let step_buf = step_buffer(ctx);
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    let bufs = AdamWBuffers {
        param: pb.slice(..),
        grad: gb.slice(..),
        m: mb.slice(..),
        v: vb.slice(..),
        decay: db.slice(..),
        partial: sb.slice(..),
        norm: nb.slice(..),
        step: step_buf.slice(..),
    };
    record_adamw(&mut program, ctx, bufs, n, cfg).await?;
    let mut grad_norms = Vec::with_capacity(steps.len());
    for (g, s) in grads.iter().zip(steps) {
        ctx.queue.write_buffer(&gb, 0, bytemuck::cast_slice(g));
        write_step(ctx, &step_buf, s);
        program.submit(ctx)?;
        grad_norms.push(ctx.read_f32(&nb, 1).await?[0]);
    }
    Ok(AdamWOut {
        param: ctx.read_f32(&pb, n).await?,
        m: ctx.read_f32(&mb, n).await?,
        v: ctx.read_f32(&vb, n).await?,
        grad_norms,
    })
}

/// The slow, obvious oracle: the same update as plain loops (norm and update term in f64,
/// moments in f32, as `model::optim::AdamW`).
pub fn adamw_reference(
    param: &[f32],
    decay: &[f32],
    grads: &[Vec<f32>],
    steps: &[AdamWStep],
    cfg: AdamWConfig,
) -> AdamWOut {
    let n = param.len();
    let mut out =
        AdamWOut { param: param.to_vec(), m: vec![0.0; n], v: vec![0.0; n], grad_norms: Vec::new() };
    let (b1, b2) = (cfg.beta1, cfg.beta2);
    for (g, s) in grads.iter().zip(steps) {
        let norm = g.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        let scale = if cfg.clip > 0.0 && norm > cfg.clip as f64 { cfg.clip as f64 / norm } else { 1.0 };
        out.grad_norms.push(norm as f32);
        for i in 0..n {
            let gi = g[i] * scale as f32;
            out.m[i] = b1 * out.m[i] + (1.0 - b1) * gi;
            out.v[i] = b2 * out.v[i] + (1.0 - b2) * gi * gi;
            let step = s.lr as f64 * (out.m[i] as f64 / s.bc1 as f64)
                / ((out.v[i] as f64 / s.bc2 as f64).sqrt() + cfg.eps as f64);
            let keep = if decay[i] != 0.0 { s.decay } else { 1.0 };
            out.param[i] = out.param[i] * keep - step as f32;
        }
    }
    out
}
