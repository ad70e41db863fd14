//! Binding for `shaders/matmul.wgsl`: C[M, N] = A[M, K] · B[K, N] (row-major f32).

use super::{GpuContext, GpuError, Kernel, Program, Result};

/// Output tile edge of one workgroup (must match TILE_M / TILE_N in the shader).
const TILE: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

/// Record `c[m, n] = a[m, k] · b[k, n]` (buffers of at least those sizes) into `program`.
#[allow(clippy::too_many_arguments)]
pub async fn record_matmul(
    program: &mut Program,
    ctx: &GpuContext,
    a: wgpu::BufferSlice<'_>,
    b: wgpu::BufferSlice<'_>,
    c: wgpu::BufferSlice<'_>,
    m: usize,
    k: usize,
    n: usize,
) -> Result<()> {
    let op = "matmul";
    if m == 0 || k == 0 || n == 0 {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("empty shape [{m}, {k}] x [{k}, {n}]"),
        });
    }
    for (name, buf, want) in [("a", a, m * k), ("b", b, k * n), ("c", c, m * n)] {
        if buf.size() < (want * 4) as u64 {
            return Err(GpuError::Shape {
                op: op.into(),
                detail: format!(
                    "buffer {name} holds {} f32s, [{m}, {k}] x [{k}, {n}] needs {want}",
                    buf.size() / 4
                ),
            });
        }
    }
    let groups = [(n as u32).div_ceil(TILE), (m as u32).div_ceil(TILE), 1];
    let params = Params { m: m as u32, k: k as u32, n: n as u32, _pad: 0 };
    program
        .push(
            ctx,
            Kernel::Matmul,
            "main",
            "matmul",
            &[(0, a), (1, b), (2, c)],
            Some((3, bytemuck::bytes_of(&params))),
            groups,
        )
        .await
}

/// Multiply on the GPU and read the result back (one-shot: upload, record, submit, read).
pub async fn matmul(
    ctx: &GpuContext,
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
) -> Result<Vec<f32>> {
    let op = "matmul";
    if a.len() != m * k || b.len() != k * n {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("a has {} values (want {m}x{k}), b has {} (want {k}x{n})", a.len(), b.len()),
        });
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let a_buf = ctx.upload_f32(op, "matmul.a", a)?; // [m, k]
    let b_buf = ctx.upload_f32(op, "matmul.b", b)?; // [k, n]
    let c_buf = ctx.output_f32(op, "matmul.c", m * n)?; // [m, n]
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let mut program = Program::new();
    record_matmul(&mut program, ctx, a_buf.slice(..), b_buf.slice(..), c_buf.slice(..), m, k, n).await?;
    program.submit(ctx)?;
    ctx.read_f32(&c_buf, m * n).await
}

/// The slow, obvious oracle: a triple loop summing k in increasing order (in f64).
pub fn matmul_reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            c[i * n + j] = s as f32;
        }
    }
    c
}
