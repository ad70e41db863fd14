//! A recorded sequence of kernel launches over buffers allocated once: the GPU engine's unit
//! of work. A training step is recorded once (bind groups, per-launch parameter uniforms,
//! workgroup counts) and replayed every step as one compute pass in one command buffer — one
//! submission per step, no allocation, no pipeline creation. Values that change per step
//! (step number, learning rate) live in a small uniform the caller rewrites with
//! `queue.write_buffer` before `submit`.
//!
//! Kernel bindings (`gpu::matmul`, ...) expose `record_*` functions that validate shapes and
//! push launches here; their one-shot helpers (upload, record, submit, read back) are what the
//! parity tests call.

use super::{GpuContext, GpuError, Kernel, Result};

/// One dispatch: which pipeline, what it binds, how many workgroups.
struct Launch {
    kernel: Kernel,
    entry: &'static str,
    label: String,
    bind: wgpu::BindGroup,
    groups: [u32; 3],
}

#[derive(Default)]
pub struct Program {
    launches: Vec<Launch>,
}

impl Program {
    pub fn new() -> Self {
        Program::default()
    }

    /// Record a launch of `kernel`'s `entry` with `buffers` at their binding numbers and, if
    /// given, `params` (plain old data, a multiple of 16 bytes) as a uniform at binding
    /// `params_binding`. The buffers must be exactly those the entry point uses; each may be
    /// a whole buffer (`buf.slice(..)`) or a range of one whose offset is a multiple of the
    /// device's `min_storage_buffer_offset_alignment` (how the engine binds one tensor of its
    /// flat parameter buffer).
    #[allow(clippy::too_many_arguments)]
    pub async fn push(
        &mut self,
        ctx: &GpuContext,
        kernel: Kernel,
        entry: &'static str,
        label: &str,
        buffers: &[(u32, wgpu::BufferSlice<'_>)],
        params: Option<(u32, &[u8])>,
        groups: [u32; 3],
    ) -> Result<()> {
        ctx.check_dispatch(label, groups)?;
        let pipeline = ctx.pipelines.get(kernel, entry)?;
        let uniform = params.map(|(binding, bytes)| {
            use wgpu::util::DeviceExt;
            let buf = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
            (binding, buf)
        });
        let align = ctx.limits.min_storage_buffer_offset_alignment as u64;
        let mut entries: Vec<wgpu::BindGroupEntry> = Vec::with_capacity(buffers.len() + 1);
        for &(b, slice) in buffers {
            if slice.offset() % align != 0 {
                let detail = format!("binding {b} starts at byte {}, not a multiple of the device's storage offset alignment {align}", slice.offset());
                return Err(GpuError::Shape { op: label.into(), detail });
            }
            let resource = wgpu::BindingResource::try_from(slice).map_err(|_| GpuError::Shape {
                op: label.into(),
                detail: format!("binding {b} is an empty buffer range"),
            })?;
            entries.push(wgpu::BindGroupEntry { binding: b, resource });
        }
        if let Some((b, buf)) = &uniform {
            entries.push(wgpu::BindGroupEntry { binding: *b, resource: buf.as_entire_binding() });
        }
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Device { op: format!("{label}: bind group"), detail: e.to_string() });
        }
        self.launches.push(Launch { kernel, entry, label: label.to_string(), bind, groups });
        Ok(())
    }

    /// Dispatches per replay.
    pub fn len(&self) -> usize {
        self.launches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.launches.is_empty()
    }

    /// The launches' labels in order (for benchmarks and error messages).
    pub fn labels(&self) -> Vec<&str> {
        self.launches.iter().map(|l| l.label.as_str()).collect()
    }

    /// Encode every launch, in order, into one compute pass of `encoder`. Each dispatch is
    /// its own synchronisation scope in WebGPU, so a launch sees every earlier launch's writes.
    pub fn encode(&self, ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("program"),
            timestamp_writes: None,
        });
        for l in &self.launches {
            pass.set_pipeline(ctx.pipelines.get(l.kernel, l.entry)?);
            pass.set_bind_group(0, &l.bind, &[]);
            pass.dispatch_workgroups(l.groups[0], l.groups[1], l.groups[2]);
        }
        Ok(())
    }

    /// Encode and submit as one command buffer.
    pub fn submit(&self, ctx: &GpuContext) -> Result<()> {
        let mut enc =
            ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("program") });
        self.encode(ctx, &mut enc)?;
        ctx.queue.submit([enc.finish()]);
        Ok(())
    }
}
