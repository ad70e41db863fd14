//! Binding for `shaders/reduce.wgsl`: column sums, vector sums and sums of squares in a fixed
//! two-pass order (the shader header documents it), so GPU runs repeat bit for bit. Each
//! reduction records two launches through a caller-owned scratch buffer (allocate it once
//! with `*_scratch_len`). Must not import candle.

use super::{GpuContext, GpuError, Kernel, Program, Result};

/// Must match ROWS_PER_PART, WG and BLOCK in the shader.
const ROWS_PER_PART: usize = 256;
const COLS_PER_GROUP: u32 = 64;
const BLOCK: usize = 4096;

const SQUARE: u32 = 1;
const ACCUMULATE: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dim0: u32,
    dim1: u32,
    parts: u32,
    flags: u32,
}

/// What a reduction adds up and where the result goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReduceOpts {
    /// Sum x² instead of x (global gradient norm).
    pub square: bool,
    /// `out += result` instead of `out = result` (several buffers into one norm).
    pub accumulate: bool,
}

impl ReduceOpts {
    fn flags(self) -> u32 {
        (self.square as u32 * SQUARE) | (self.accumulate as u32 * ACCUMULATE)
    }
}

/// f32s of scratch that `record_col_sum` needs for a `[rows, cols]` input.
pub fn col_sum_scratch_len(rows: usize, cols: usize) -> usize {
    rows.div_ceil(ROWS_PER_PART) * cols
}

/// f32s of scratch that `record_sum` needs for an input of `n`.
pub fn sum_scratch_len(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

fn check_len(op: &str, name: &str, buf: wgpu::BufferSlice<'_>, want: usize, what: &str) -> Result<()> {
    if buf.size() < (want * 4) as u64 {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("buffer {name} holds {} f32s, {what} needs {want}", buf.size() / 4),
        });
    }
    Ok(())
}

/// Record `out[c] (+)= Σ_r x[r, c]` (or of x² with `opts.square`) for `x: [rows, cols]`,
/// `out: [cols]`, `scratch` of `col_sum_scratch_len(rows, cols)`.
#[allow(clippy::too_many_arguments)]
pub async fn record_col_sum(
    program: &mut Program,
    ctx: &GpuContext,
    x: wgpu::BufferSlice<'_>,
    scratch: wgpu::BufferSlice<'_>,
    out: wgpu::BufferSlice<'_>,
    rows: usize,
    cols: usize,
    opts: ReduceOpts,
) -> Result<()> {
    let op = "col_sum";
    let what = format!("column sums of [{rows}, {cols}]");
    if rows == 0 || cols == 0 {
        return Err(GpuError::Shape { op: op.into(), detail: format!("empty shape: {what}") });
    }
    check_len(op, "x", x, rows * cols, &what)?;
    check_len(op, "scratch", scratch, col_sum_scratch_len(rows, cols), &what)?;
    check_len(op, "out", out, cols, &what)?;
    let parts = rows.div_ceil(ROWS_PER_PART) as u32;
    let params = Params { dim0: rows as u32, dim1: cols as u32, parts, flags: opts.flags() };
    let p = Some((3, bytemuck::bytes_of(&params)));
    let gx = (cols as u32).div_ceil(COLS_PER_GROUP);
    program
        .push(
            ctx,
            Kernel::Reduce,
            "col_sum_partial",
            "col_sum.partial",
            &[(0, x), (1, scratch)],
            p,
            [gx, parts, 1],
        )
        .await?;
    program
        .push(ctx, Kernel::Reduce, "col_sum_final", "col_sum.final", &[(1, scratch), (2, out)], p, [gx, 1, 1])
        .await
}

/// Record `out[out_index] (+)= Σ_i x[i]` (or of x² with `opts.square`) for `x: [n]`,
/// `scratch` of `sum_scratch_len(n)`.
#[allow(clippy::too_many_arguments)]
pub async fn record_sum(
    program: &mut Program,
    ctx: &GpuContext,
    x: wgpu::BufferSlice<'_>,
    scratch: wgpu::BufferSlice<'_>,
    out: wgpu::BufferSlice<'_>,
    n: usize,
    out_index: usize,
    opts: ReduceOpts,
) -> Result<()> {
    let op = if opts.square { "sum_squares" } else { "sum" };
    let what = format!("a sum of [{n}] into out[{out_index}]");
    if n == 0 {
        return Err(GpuError::Shape { op: op.into(), detail: format!("empty input: {what}") });
    }
    check_len(op, "x", x, n, &what)?;
    check_len(op, "scratch", scratch, sum_scratch_len(n), &what)?;
    check_len(op, "out", out, out_index + 1, &what)?;
    let parts = sum_scratch_len(n) as u32;
    let params = Params { dim0: n as u32, dim1: out_index as u32, parts, flags: opts.flags() };
    let p = Some((3, bytemuck::bytes_of(&params)));
    program
        .push(
            ctx,
            Kernel::Reduce,
            "sum_partial",
            &format!("{op}.partial"),
            &[(0, x), (1, scratch)],
            p,
            [parts, 1, 1],
        )
        .await?;
    program
        .push(
            ctx,
            Kernel::Reduce,
            "sum_final",
            &format!("{op}.final"),
            &[(1, scratch), (2, out)],
            p,
            [1, 1, 1],
        )
        .await
}

/// Column sums on the GPU, read back (one-shot). `x` is `[rows, cols]`; returns `[cols]`.
pub async fn col_sum(
    ctx: &GpuContext,
    x: &[f32],
    rows: usize,
    cols: usize,
    opts: ReduceOpts,
) -> Result<Vec<f32>> {
    let op = "col_sum";
    if x.len() != rows * cols {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("x has {} values, want {rows}x{cols}", x.len()),
        });
    }
    let x_buf = ctx.upload_f32(op, "col_sum.x", x)?; // [rows, cols]
    let scratch = ctx.output_f32(op, "col_sum.scratch", col_sum_scratch_len(rows, cols))?; // [parts, cols]
    let out = ctx.output_f32(op, "col_sum.out", cols)?; // [cols]
    let mut program = Program::new();
    record_col_sum(
        &mut program,
        ctx,
        x_buf.slice(..),
        scratch.slice(..),
        out.slice(..),
        rows,
        cols,
        ReduceOpts { accumulate: false, ..opts },
    )
    .await?;
    program.submit(ctx)?;
    ctx.read_f32(&out, cols).await
}

/// Sum (or sum of squares) of `x` on the GPU, read back (one-shot).
pub async fn sum(ctx: &GpuContext, x: &[f32], opts: ReduceOpts) -> Result<f32> {
    let op = if opts.square { "sum_squares" } else { "sum" };
    let x_buf = ctx.upload_f32(op, "sum.x", x)?; // [n]
    let scratch = ctx.output_f32(op, "sum.scratch", sum_scratch_len(x.len()))?; // [parts]
    let out = ctx.output_f32(op, "sum.out", 1)?; // [1]
    let mut program = Program::new();
    record_sum(
        &mut program,
        ctx,
        x_buf.slice(..),
        scratch.slice(..),
        out.slice(..),
        x.len(),
        0,
        ReduceOpts { accumulate: false, ..opts },
    )
    .await?;
    program.submit(ctx)?;
    Ok(ctx.read_f32(&out, 1).await?[0])
}

/// The oracle for column sums: f64, increasing row.
pub fn col_sum_reference(x: &[f32], rows: usize, cols: usize, square: bool) -> Vec<f64> {
    (0..cols)
        .map(|c| (0..rows).map(|r| x[r * cols + c] as f64).map(|v| if square { v * v } else { v }).sum())
        .collect()
}

/// The oracle for sums: f64 in index order.
pub fn sum_reference(x: &[f32], square: bool) -> f64 {
    x.iter().map(|&v| v as f64).map(|v| if square { v * v } else { v }).sum()
}
