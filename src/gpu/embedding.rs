//! Binding for `shaders/embedding.wgsl`: the token embedding gather (`tokens` `[n]` u32 →
//! rows of `wte` `[vocab, d]`) and its deterministic scatter-add backward into `d_wte`.
//! Matches candle's `Tensor::embedding` as used by `model::io::Embed`.

use super::grid::{check_len, fold_groups, fold_items};
use super::{GpuContext, GpuError, Kernel, Program, Result};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    vocab: u32,
    d: u32,
    accumulate: u32,
}

fn check_shape(op: &str, n: usize, vocab: usize, d: usize) -> Result<()> {
    if n == 0 || vocab == 0 || d == 0 {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("empty shape: {n} tokens into [vocab {vocab}, d {d}]"),
        });
    }
    Ok(())
}

/// Upload u32s (tokens, targets) into a storage buffer. Storage buffers are untyped bytes, so
/// the values travel bit-cast through the f32 upload path, with its size check.
pub fn upload_u32(ctx: &GpuContext, op: &str, label: &str, data: &[u32]) -> Result<wgpu::Buffer> {
    ctx.upload_f32(op, label, bytemuck::cast_slice(data))
}

/// Record `out[p, :] = wte[tokens[p], :]`: `tokens` `[n]` u32, `wte` `[vocab, d]`, `out`
/// `[n, d]`. Tokens ≥ vocab give zero rows (the shader cannot raise; the one-shot helper
/// checks them on the host).
#[allow(clippy::too_many_arguments)]
pub async fn record_embedding(
    program: &mut Program,
    ctx: &GpuContext,
    tokens: wgpu::BufferSlice<'_>,
    wte: wgpu::BufferSlice<'_>,
    out: wgpu::BufferSlice<'_>,
    n: usize,
    vocab: usize,
    d: usize,
) -> Result<()> {
    let op = "embedding";
    check_shape(op, n, vocab, d)?;
    let shape = format!("{n} tokens into [vocab {vocab}, d {d}]");
    for (name, buf, want) in [("tokens", tokens, n), ("wte", wte, vocab * d), ("out", out, n * d)] {
        check_len(op, name, buf, want, &shape)?;
    }
    let p = Params { n: n as u32, vocab: vocab as u32, d: d as u32, accumulate: 0 };
    let groups = fold_items(ctx, op, n * d, 256)?;
    program
        .push(
            ctx,
            Kernel::Embedding,
            "gather",
            op,
            &[(0, tokens), (1, wte), (3, out)],
            Some((5, bytemuck::bytes_of(&p))),
            groups,
        )
        .await
}

/// Record `d_wte[v, :] (+)= Σ_{p: tokens[p] = v} d_out[p, :]`: `d_out` `[n, d]`, `d_wte`
/// `[vocab, d]` (overwritten, or added to when `accumulate`, e.g. for tied weights).
#[allow(clippy::too_many_arguments)]
pub async fn record_embedding_backward(
    program: &mut Program,
    ctx: &GpuContext,
    tokens: wgpu::BufferSlice<'_>,
    d_out: wgpu::BufferSlice<'_>,
    d_wte: wgpu::BufferSlice<'_>,
    n: usize,
    vocab: usize,
    d: usize,
    accumulate: bool,
) -> Result<()> {
    let op = "embedding_backward";
    check_shape(op, n, vocab, d)?;
    let shape = format!("{n} tokens into [vocab {vocab}, d {d}]");
    for (name, buf, want) in [("tokens", tokens, n), ("d_out", d_out, n * d), ("d_wte", d_wte, vocab * d)] {
        check_len(op, name, buf, want, &shape)?;
    }
    let p = Params { n: n as u32, vocab: vocab as u32, d: d as u32, accumulate: accumulate as u32 };
    let groups = fold_groups(ctx, op, vocab * d.div_ceil(64))?;
    program
        .push(
            ctx,
            Kernel::Embedding,
            "scatter",
            op,
            &[(0, tokens), (2, d_out), (4, d_wte)],
            Some((5, bytemuck::bytes_of(&p))),
            groups,
        )
        .await
}

/// Gather and scatter on the GPU in one program (upload, record, submit, read back):
/// returns `(out [n, d], d_wte [vocab, d])`. `d_wte_init` is the starting `d_wte` when
/// accumulating.
pub async fn embedding(
    ctx: &GpuContext,
    tokens: &[u32],
    wte: &[f32],
    d_out: &[f32],
    d_wte_init: Option<&[f32]>,
    vocab: usize,
    d: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let op = "embedding";
    let n = tokens.len();
    check_shape(op, n, vocab, d)?;
    if wte.len() != vocab * d || d_out.len() != n * d || d_wte_init.is_some_and(|w| w.len() != vocab * d) {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!(
                "wte has {} values (want [vocab {vocab}, d {d}]), d_out {} (want [{n}, {d}])",
                wte.len(),
                d_out.len()
            ),
        });
    }
    if let Some((p, &t)) = tokens.iter().enumerate().find(|(_, &t)| t as usize >= vocab) {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("token {t} at position {p} is outside the vocabulary of {vocab}"),
        });
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let tb = upload_u32(ctx, op, "embedding.tokens", tokens)?; // [n]
    let wb = ctx.upload_f32(op, "embedding.wte", wte)?; // [vocab, d]
    let gb = ctx.upload_f32(op, "embedding.d_out", d_out)?; // [n, d]
    let ob = ctx.output_f32(op, "embedding.out", n * d)?; // [n, d]
    let dwb = match d_wte_init {
        Some(init) => ctx.upload_f32(op, "embedding.d_wte", init)?,
        None => ctx.output_f32(op, "embedding.d_wte", vocab * d)?,
    }; // [vocab, d]
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    record_embedding(&mut program, ctx, tb.slice(..), wb.slice(..), ob.slice(..), n, vocab, d).await?;
    record_embedding_backward(
        &mut program,
        ctx,
        tb.slice(..),
        gb.slice(..),
        dwb.slice(..),
        n,
        vocab,
        d,
        d_wte_init.is_some(),
    )
    .await?;
    program.submit(ctx)?;
    Ok((ctx.read_f32(&ob, n * d).await?, ctx.read_f32(&dwb, vocab * d).await?))
}

/// The slow, obvious oracle: copy rows; add gradients per row in increasing position (f32,
/// the shader's order), then onto `d_wte_init` if given.
pub fn embedding_reference(
    tokens: &[u32],
    wte: &[f32],
    d_out: &[f32],
    d_wte_init: Option<&[f32]>,
    vocab: usize,
    d: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut out = Vec::with_capacity(tokens.len() * d);
    for &t in tokens {
        out.extend_from_slice(&wte[t as usize * d..(t as usize + 1) * d]);
    }
    let mut acc = vec![0f32; vocab * d];
    for (p, &t) in tokens.iter().enumerate() {
        for j in 0..d {
            acc[t as usize * d + j] += d_out[p * d + j];
        }
    }
    if let Some(init) = d_wte_init {
        for (a, &i) in acc.iter_mut().zip(init) {
            *a += i;
        }
    }
    (out, acc)
}
