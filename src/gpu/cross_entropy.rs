//! Binding for `shaders/cross_entropy.wgsl`: masked softmax cross-entropy (per-row loss, the
//! gradient d_logits and arg-max hits in one pass, then fixed-order totals) and masked MSE.
//! Matches `model::loss` (mean over masked targets, denominator `max(Σ mask, 1)`). The totals
//! stay on the GPU in a 4-float `stats` buffer for asynchronous readback every k steps.

use super::embedding::upload_u32;
use super::grid::{check_len, fold_groups, fold_items};
use super::{GpuContext, GpuError, Kernel, Program, Result};

/// Floats in the `stats` buffer: `[mean loss, correct count, Σ mask, max(Σ mask, 1)]`.
pub const STATS_LEN: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    classes: u32,
    _pad0: u32,
    _pad1: u32,
}

/// The buffers of one cross-entropy launch sequence (n = rows).
pub struct CrossEntropyBuffers<'a> {
    pub logits: wgpu::BufferSlice<'a>,   // [n, classes]
    pub targets: wgpu::BufferSlice<'a>,  // [n] u32
    pub mask: wgpu::BufferSlice<'a>,     // [n]
    pub d_logits: wgpu::BufferSlice<'a>, // [n, classes], overwritten
    pub row_loss: wgpu::BufferSlice<'a>, // [n], mask-weighted nll
    pub correct: wgpu::BufferSlice<'a>,  // [n], 0 / 1
    pub stats: wgpu::BufferSlice<'a>,    // [STATS_LEN]
}

/// Record count → forward → reduce: fills `d_logits`, `row_loss`, `correct`, `stats`.
pub async fn record_cross_entropy(
    program: &mut Program,
    ctx: &GpuContext,
    b: CrossEntropyBuffers<'_>,
    n: usize,
    classes: usize,
) -> Result<()> {
    let op = "cross_entropy";
    if n == 0 || classes == 0 {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("empty shape: logits [{n}, {classes}]"),
        });
    }
    let shape = format!("logits [{n}, {classes}]");
    for (name, buf, want) in [
        ("logits", b.logits, n * classes),
        ("targets", b.targets, n),
        ("mask", b.mask, n),
        ("d_logits", b.d_logits, n * classes),
        ("row_loss", b.row_loss, n),
        ("correct", b.correct, n),
        ("stats", b.stats, STATS_LEN),
    ] {
        check_len(op, name, buf, want, &shape)?;
    }
    let p = Params { n: n as u32, classes: classes as u32, _pad0: 0, _pad1: 0 };
    let pb = Some((12, bytemuck::bytes_of(&p)));
    program
        .push(
            ctx,
            Kernel::CrossEntropy,
            "count",
            "cross_entropy.count",
            &[(2, b.mask), (11, b.stats)],
            pb,
            [1, 1, 1],
        )
        .await?;
    let rows = fold_groups(ctx, op, n)?;
    let fwd = [
        (0, b.logits),
        (1, b.targets),
        (2, b.mask),
        (3, b.stats),
        (8, b.d_logits),
        (9, b.row_loss),
        (10, b.correct),
    ];
    program.push(ctx, Kernel::CrossEntropy, "forward", "cross_entropy.forward", &fwd, pb, rows).await?;
    program
        .push(
            ctx,
            Kernel::CrossEntropy,
            "reduce",
            "cross_entropy.reduce",
            &[(6, b.row_loss), (7, b.correct), (11, b.stats)],
            pb,
            [1, 1, 1],
        )
        .await
}

/// The buffers of one masked-MSE launch sequence (len = elements).
pub struct MseBuffers<'a> {
    pub pred: wgpu::BufferSlice<'a>,      // [len]
    pub values: wgpu::BufferSlice<'a>,    // [len]
    pub mask: wgpu::BufferSlice<'a>,      // [len]
    pub d_pred: wgpu::BufferSlice<'a>,    // [len], overwritten
    pub elem_loss: wgpu::BufferSlice<'a>, // [len], mask-weighted squared error
    pub stats: wgpu::BufferSlice<'a>,     // [STATS_LEN]; the correct count is left untouched
}

/// Record count → mse → reduce_loss: fills `d_pred`, `elem_loss`, `stats`.
pub async fn record_mse(
    program: &mut Program,
    ctx: &GpuContext,
    b: MseBuffers<'_>,
    len: usize,
) -> Result<()> {
    let op = "mse";
    if len == 0 {
        return Err(GpuError::Shape { op: op.into(), detail: "empty prediction".into() });
    }
    let shape = format!("{len} predictions");
    for (name, buf, want) in [
        ("pred", b.pred, len),
        ("values", b.values, len),
        ("mask", b.mask, len),
        ("d_pred", b.d_pred, len),
        ("elem_loss", b.elem_loss, len),
        ("stats", b.stats, STATS_LEN),
    ] {
        check_len(op, name, buf, want, &shape)?;
    }
    let p = Params { n: len as u32, classes: 1, _pad0: 0, _pad1: 0 };
    let pb = Some((12, bytemuck::bytes_of(&p)));
    program
        .push(ctx, Kernel::CrossEntropy, "count", "mse.count", &[(2, b.mask), (11, b.stats)], pb, [1, 1, 1])
        .await?;
    let groups = fold_items(ctx, op, len, 256)?;
    program
        .push(
            ctx,
            Kernel::CrossEntropy,
            "mse",
            "mse.forward",
            &[(2, b.mask), (3, b.stats), (4, b.pred), (5, b.values), (8, b.d_pred), (9, b.elem_loss)],
            pb,
            groups,
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::CrossEntropy,
            "reduce_loss",
            "mse.reduce",
            &[(6, b.elem_loss), (11, b.stats)],
            pb,
            [1, 1, 1],
        )
        .await
}

/// What the cross-entropy one-shot helper reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEntropyOut {
    pub loss: f32,
    pub correct: f32,
    pub scored: f32,
    pub d_logits: Vec<f32>,      // [n, classes]
    pub row_loss: Vec<f32>,      // [n]
    pub correct_flags: Vec<f32>, // [n]
}

/// Cross-entropy on the GPU (upload, record, submit, read back).
pub async fn cross_entropy(
    ctx: &GpuContext,
    logits: &[f32],
    targets: &[u32],
    mask: &[f32],
    classes: usize,
) -> Result<CrossEntropyOut> {
    let op = "cross_entropy";
    let n = targets.len();
    if logits.len() != n * classes || mask.len() != n {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!(
                "logits has {} values (want [{n}, {classes}]), mask {} (want {n})",
                logits.len(),
                mask.len()
            ),
        });
    }
    if let Some((r, &t)) = targets.iter().enumerate().find(|(_, &t)| t as usize >= classes) {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("target {t} of row {r} is outside {classes} classes"),
        });
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let lb = ctx.upload_f32(op, "cross_entropy.logits", logits)?; // [n, classes]
    let tb = upload_u32(ctx, op, "cross_entropy.targets", targets)?; // [n]
    let mb = ctx.upload_f32(op, "cross_entropy.mask", mask)?; // [n]
    let gb = ctx.output_f32(op, "cross_entropy.d_logits", n * classes)?; // [n, classes]
    let rb = ctx.output_f32(op, "cross_entropy.row_loss", n)?; // [n]
    let cb = ctx.output_f32(op, "cross_entropy.correct", n)?; // [n]
    let sb = ctx.output_f32(op, "cross_entropy.stats", STATS_LEN)?; // [4]
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    let bufs = CrossEntropyBuffers {
        logits: lb.slice(..),
        targets: tb.slice(..),
        mask: mb.slice(..),
        d_logits: gb.slice(..),
        row_loss: rb.slice(..),
        correct: cb.slice(..),
        stats: sb.slice(..),
    };
    record_cross_entropy(&mut program, ctx, bufs, n, classes).await?;
    program.submit(ctx)?;
    let stats = ctx.read_f32(&sb, STATS_LEN).await?;
    Ok(CrossEntropyOut {
        loss: stats[0],
        correct: stats[1],
        scored: stats[2],
        d_logits: ctx.read_f32(&gb, n * classes).await?,
        row_loss: ctx.read_f32(&rb, n).await?,
        correct_flags: ctx.read_f32(&cb, n).await?,
    })
}

/// Masked MSE on the GPU (upload, record, submit, read back): `(loss, d_pred)`.
pub async fn mse(ctx: &GpuContext, pred: &[f32], values: &[f32], mask: &[f32]) -> Result<(f32, Vec<f32>)> {
    let op = "mse";
    let len = pred.len();
    if values.len() != len || mask.len() != len {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("pred has {len} values, values {}, mask {}", values.len(), mask.len()),
        });
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let pb = ctx.upload_f32(op, "mse.pred", pred)?; // [len]
    let vb = ctx.upload_f32(op, "mse.values", values)?; // [len]
    let mb = ctx.upload_f32(op, "mse.mask", mask)?; // [len]
    let gb = ctx.output_f32(op, "mse.d_pred", len)?; // [len]
    let eb = ctx.output_f32(op, "mse.elem_loss", len)?; // [len]
    let sb = ctx.output_f32(op, "mse.stats", STATS_LEN)?; // [4]
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    record_mse(
        &mut program,
        ctx,
        MseBuffers {
            pred: pb.slice(..),
            values: vb.slice(..),
            mask: mb.slice(..),
            d_pred: gb.slice(..),
            elem_loss: eb.slice(..),
            stats: sb.slice(..),
        },
        len,
    )
    .await?;
    program.submit(ctx)?;
    Ok((ctx.read_f32(&sb, 1).await?[0], ctx.read_f32(&gb, len).await?))
}

/// The slow, obvious oracle for `cross_entropy` (f64 per row, first arg-max).
pub fn cross_entropy_reference(
    logits: &[f32],
    targets: &[u32],
    mask: &[f32],
    classes: usize,
) -> CrossEntropyOut {
    let n = targets.len();
    let denom = mask.iter().map(|&m| m as f64).sum::<f64>().max(1.0);
    let mut out = CrossEntropyOut {
        loss: 0.0,
        correct: 0.0,
        scored: mask.iter().sum(),
        d_logits: vec![0.0; n * classes],
        row_loss: vec![0.0; n],
        correct_flags: vec![0.0; n],
    };
    let mut total = 0f64;
    for r in 0..n {
        let row = &logits[r * classes..(r + 1) * classes];
        let (mut arg, mut mx) = (0, row[0]);
        for (j, &v) in row.iter().enumerate() {
            if v > mx {
                (arg, mx) = (j, v);
            }
        }
        let se: f64 = row.iter().map(|&v| (v as f64 - mx as f64).exp()).sum();
        let t = targets[r] as usize;
        let nll = se.ln() - (row[t] as f64 - mx as f64);
        let m = mask[r] as f64;
        total += nll * m;
        out.row_loss[r] = (nll * m) as f32;
        for (j, &v) in row.iter().enumerate() {
            let p = (v as f64 - mx as f64).exp() / se;
            out.d_logits[r * classes + j] = ((p - if j == t { 1.0 } else { 0.0 }) * m / denom) as f32;
        }
        if m > 0.0 && arg == t {
            out.correct_flags[r] = 1.0;
            out.correct += 1.0;
        }
    }
    out.loss = (total / denom) as f32;
    out
}

/// The slow, obvious oracle for `mse`: `(loss, d_pred)` in f64.
pub fn mse_reference(pred: &[f32], values: &[f32], mask: &[f32]) -> (f32, Vec<f32>) {
    let denom = mask.iter().map(|&m| m as f64).sum::<f64>().max(1.0);
    let mut total = 0f64;
    let mut grad = Vec::with_capacity(pred.len());
    for i in 0..pred.len() {
        let diff = pred[i] as f64 - values[i] as f64;
        total += diff * diff * mask[i] as f64;
        grad.push((2.0 * diff * mask[i] as f64 / denom) as f32);
    }
    ((total / denom) as f32, grad)
}
