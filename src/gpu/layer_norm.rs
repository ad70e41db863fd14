//! Binding for `shaders/layer_norm.wgsl`: gain-only LayerNorm over the last dimension,
//! forward (saving per-row mean and 1/std) and backward (dx, and dgain reduced over rows in a
//! fixed two-level order). Matches `model::layer_norm` (same eps, same two-pass variance).

use super::grid::{check_len, fold_groups, fold_items};
use super::{GpuContext, GpuError, Kernel, Program, Result};

/// The variance epsilon; equal to `model::layer_norm::LN_EPS` (a test checks it — `gpu` may
/// not import `model`).
pub const LN_EPS: f32 = 1e-5;

/// Rows per first-level chunk of the dgain reduction (a fixed partition: the order of every
/// sum is independent of the device).
pub const GAIN_CHUNK_ROWS: usize = 64;

/// Threads per workgroup (WG in the shader).
const WG: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    d: u32,
    chunk_rows: u32,
    eps: f32,
}

fn params(rows: usize, d: usize) -> Params {
    Params { rows: rows as u32, d: d as u32, chunk_rows: GAIN_CHUNK_ROWS as u32, eps: LN_EPS }
}

fn check_shape(op: &str, rows: usize, d: usize) -> Result<()> {
    if rows == 0 || d == 0 {
        return Err(GpuError::Shape { op: op.into(), detail: format!("empty shape [rows {rows}, d {d}]") });
    }
    Ok(())
}

/// Length of the scratch buffer `record_layer_norm_backward` needs: `[chunks, d]`.
pub fn partial_len(rows: usize, d: usize) -> usize {
    rows.div_ceil(GAIN_CHUNK_ROWS) * d
}

/// Record `y = LN(x) · g` for `x`: `[rows, d]`, `g`: `[d]`, writing `y`: `[rows, d]`,
/// `mean`, `rstd`: `[rows]`.
#[allow(clippy::too_many_arguments)]
pub async fn record_layer_norm(
    program: &mut Program,
    ctx: &GpuContext,
    x: wgpu::BufferSlice<'_>,
    g: wgpu::BufferSlice<'_>,
    y: wgpu::BufferSlice<'_>,
    mean: wgpu::BufferSlice<'_>,
    rstd: wgpu::BufferSlice<'_>,
    rows: usize,
    d: usize,
) -> Result<()> {
    let op = "layer_norm";
    check_shape(op, rows, d)?;
    let shape = format!("[rows {rows}, d {d}]");
    for (name, buf, want) in
        [("x", x, rows * d), ("g", g, d), ("y", y, rows * d), ("mean", mean, rows), ("rstd", rstd, rows)]
    {
        check_len(op, name, buf, want, &shape)?;
    }
    let p = params(rows, d);
    let groups = fold_groups(ctx, op, rows)?;
    program
        .push(
            ctx,
            Kernel::LayerNorm,
            "forward",
            op,
            &[(0, x), (1, g), (6, y), (7, mean), (8, rstd)],
            Some((12, bytemuck::bytes_of(&p))),
            groups,
        )
        .await
}

/// The buffers of one LayerNorm backward.
pub struct LayerNormGrads<'a> {
    /// `[rows, d]`, overwritten.
    pub dx: wgpu::BufferSlice<'a>,
    /// `[d]`, overwritten.
    pub dg: wgpu::BufferSlice<'a>,
    /// Scratch `[partial_len(rows, d)]`.
    pub partial: wgpu::BufferSlice<'a>,
}

/// Record the backward of `record_layer_norm` given `dy`: `[rows, d]` and the saved `mean`,
/// `rstd`: `[rows]`. Three launches: dx (one workgroup per row), dgain partials per chunk of
/// `GAIN_CHUNK_ROWS` rows, dgain over chunks.
#[allow(clippy::too_many_arguments)]
pub async fn record_layer_norm_backward(
    program: &mut Program,
    ctx: &GpuContext,
    x: wgpu::BufferSlice<'_>,
    g: wgpu::BufferSlice<'_>,
    dy: wgpu::BufferSlice<'_>,
    mean: wgpu::BufferSlice<'_>,
    rstd: wgpu::BufferSlice<'_>,
    out: LayerNormGrads<'_>,
    rows: usize,
    d: usize,
) -> Result<()> {
    let op = "layer_norm_backward";
    check_shape(op, rows, d)?;
    let shape = format!("[rows {rows}, d {d}]");
    for (name, buf, want) in [
        ("x", x, rows * d),
        ("g", g, d),
        ("dy", dy, rows * d),
        ("mean", mean, rows),
        ("rstd", rstd, rows),
        ("dx", out.dx, rows * d),
        ("dg", out.dg, d),
        ("partial", out.partial, partial_len(rows, d)),
    ] {
        check_len(op, name, buf, want, &shape)?;
    }
    let p = params(rows, d);
    let pb = Some((12, bytemuck::bytes_of(&p)));
    let rows_groups = fold_groups(ctx, op, rows)?;
    program
        .push(
            ctx,
            Kernel::LayerNorm,
            "backward",
            "layer_norm_backward.dx",
            &[(0, x), (1, g), (2, dy), (3, mean), (4, rstd), (9, out.dx)],
            pb,
            rows_groups,
        )
        .await?;
    let part_groups = fold_items(ctx, op, partial_len(rows, d), WG)?;
    program
        .push(
            ctx,
            Kernel::LayerNorm,
            "gain_partial",
            "layer_norm_backward.dg_partial",
            &[(0, x), (2, dy), (3, mean), (4, rstd), (10, out.partial)],
            pb,
            part_groups,
        )
        .await?;
    let col_groups = fold_items(ctx, op, d, WG)?;
    program
        .push(
            ctx,
            Kernel::LayerNorm,
            "gain_reduce",
            "layer_norm_backward.dg",
            &[(5, out.partial), (11, out.dg)],
            pb,
            col_groups,
        )
        .await
}

/// What the one-shot helper reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormOut {
    pub y: Vec<f32>,    // [rows, d]
    pub mean: Vec<f32>, // [rows]
    pub rstd: Vec<f32>, // [rows]
    pub dx: Vec<f32>,   // [rows, d]
    pub dg: Vec<f32>,   // [d]
}

/// Forward and backward on the GPU in one program (upload, record, submit, read back).
pub async fn layer_norm(
    ctx: &GpuContext,
    x: &[f32],
    g: &[f32],
    dy: &[f32],
    rows: usize,
    d: usize,
) -> Result<LayerNormOut> {
    let op = "layer_norm";
    if x.len() != rows * d || dy.len() != rows * d || g.len() != d {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!(
                "x has {} values, dy {} (want [rows {rows}, d {d}] = {}), g has {} (want {d})",
                x.len(),
                dy.len(),
                rows * d,
                g.len()
            ),
        });
    }
    check_shape(op, rows, d)?;
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let xb = ctx.upload_f32(op, "layer_norm.x", x)?; // [rows, d]
    let gb = ctx.upload_f32(op, "layer_norm.g", g)?; // [d]
    let dyb = ctx.upload_f32(op, "layer_norm.dy", dy)?; // [rows, d]
    let yb = ctx.output_f32(op, "layer_norm.y", rows * d)?; // [rows, d]
    let mb = ctx.output_f32(op, "layer_norm.mean", rows)?; // [rows]
    let rb = ctx.output_f32(op, "layer_norm.rstd", rows)?; // [rows]
    let dxb = ctx.output_f32(op, "layer_norm.dx", rows * d)?; // [rows, d]
    let dgb = ctx.output_f32(op, "layer_norm.dg", d)?; // [d]
    let pb = ctx.output_f32(op, "layer_norm.partial", partial_len(rows, d))?; // [chunks, d]
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    record_layer_norm(
        &mut program,
        ctx,
        xb.slice(..),
        gb.slice(..),
        yb.slice(..),
        mb.slice(..),
        rb.slice(..),
        rows,
        d,
    )
    .await?;
    record_layer_norm_backward(
        &mut program,
        ctx,
        xb.slice(..),
        gb.slice(..),
        dyb.slice(..),
        mb.slice(..),
        rb.slice(..),
        LayerNormGrads { dx: dxb.slice(..), dg: dgb.slice(..), partial: pb.slice(..) },
        rows,
        d,
    )
    .await?;
    program.submit(ctx)?;
    Ok(LayerNormOut {
        y: ctx.read_f32(&yb, rows * d).await?,
        mean: ctx.read_f32(&mb, rows).await?,
        rstd: ctx.read_f32(&rb, rows).await?,
        dx: ctx.read_f32(&dxb, rows * d).await?,
        dg: ctx.read_f32(&dgb, d).await?,
    })
}

/// The slow, obvious oracle: the same formulas as plain loops in f64.
pub fn layer_norm_reference(x: &[f32], g: &[f32], dy: &[f32], rows: usize, d: usize) -> LayerNormOut {
    let mut out = LayerNormOut {
        y: vec![0.0; rows * d],
        mean: vec![0.0; rows],
        rstd: vec![0.0; rows],
        dx: vec![0.0; rows * d],
        dg: vec![0.0; d],
    };
    let mut dg = vec![0f64; d];
    for r in 0..rows {
        let xr = &x[r * d..(r + 1) * d];
        let dyr = &dy[r * d..(r + 1) * d];
        let mu = xr.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = xr.iter().map(|&v| (v as f64 - mu).powi(2)).sum::<f64>() / d as f64;
        let rs = 1.0 / (var + LN_EPS as f64).sqrt();
        let xh: Vec<f64> = xr.iter().map(|&v| (v as f64 - mu) * rs).collect();
        let gh: Vec<f64> = (0..d).map(|i| dyr[i] as f64 * g[i] as f64).collect();
        let m1 = gh.iter().sum::<f64>() / d as f64;
        let m2 = (0..d).map(|i| gh[i] * xh[i]).sum::<f64>() / d as f64;
        for i in 0..d {
            out.y[r * d + i] = (xh[i] * g[i] as f64) as f32;
            out.dx[r * d + i] = (rs * (gh[i] - m1 - xh[i] * m2)) as f32;
            dg[i] += dyr[i] as f64 * xh[i];
        }
        out.mean[r] = mu as f32;
        out.rstd[r] = rs as f32;
    }
    out.dg = dg.into_iter().map(|v| v as f32).collect();
    out
}
