//! Binding for `shaders/matmul.wgsl`: C[M, N] = A[M, K] · B[K, N] (row-major f32).

use super::{GpuContext, GpuError, Kernel, Result};

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

/// Multiply on the GPU and read the result back.
pub async fn matmul(ctx: &GpuContext, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Result<Vec<f32>> {
    let op = "matmul";
    if m == 0 || k == 0 || n == 0 {
        return Err(GpuError::Shape { op: op.into(), detail: format!("empty shape [{m}, {k}] x [{k}, {n}]") });
    }
    if a.len() != m * k || b.len() != k * n {
        return Err(GpuError::Shape {
            op: op.into(),
            detail: format!("a has {} values (want {m}x{k}), b has {} (want {k}x{n})", a.len(), b.len()),
        });
    }
    let groups = [(n as u32).div_ceil(TILE), (m as u32).div_ceil(TILE), 1];
    ctx.check_dispatch(op, groups)?;
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let a_buf = ctx.upload_f32(op, "matmul.a", a)?; // [m, k]
    let b_buf = ctx.upload_f32(op, "matmul.b", b)?; // [k, n]
    let c_buf = ctx.output_f32(op, "matmul.c", m * n)?; // [m, n]
    if let Some(e) = scope.pop().await {
        return Err(GpuError::Device { op: format!("{op} allocate"), detail: e.to_string() });
    }
    let params = ctx.uniform("matmul.params", &Params { m: m as u32, k: k as u32, n: n as u32, _pad: 0 });
    let pipeline = ctx.pipelines.get(Kernel::Matmul);
    let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("matmul.bind"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry { binding: 0, resource: a_buf.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 1, resource: b_buf.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 2, resource: c_buf.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 3, resource: params.as_entire_binding() },
        ],
    });
    let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("matmul") });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("matmul"), timestamp_writes: None });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
    ctx.queue.submit([enc.finish()]);
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
