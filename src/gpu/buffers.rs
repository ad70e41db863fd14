//! Buffer helpers: upload with a size check, and an asynchronous readback that works the
//! same natively (where the device must be polled) and in the browser (where it must not
//! block).

use wgpu::util::DeviceExt;

use super::{GpuContext, GpuError, Result};

impl GpuContext {
    /// A read-only storage buffer holding `data`, after checking it fits the device.
    pub fn upload_f32(&self, op: &str, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        let bytes = (data.len().max(1) * 4) as u64;
        self.check_storage(op, label, bytes)?;
        // A zero-length binding is invalid; pad empty inputs with one element.
        let padded: &[f32] = if data.is_empty() { &[0.0] } else { data };
        Ok(self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(padded),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        }))
    }

    /// A storage buffer of `len` f32s the kernels may write.
    pub fn output_f32(&self, op: &str, label: &str, len: usize) -> Result<wgpu::Buffer> {
        let bytes = (len.max(1) * 4) as u64;
        self.check_storage(op, label, bytes)?;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// A uniform buffer from a plain-old-data struct (padded to 16 bytes by the caller).
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// Copy the first `len` f32s of `src` to the host. Encodes its own copy into a staging
    /// buffer; natively it polls the device until the map completes, in the browser it
    /// awaits the map without blocking the page.
    pub async fn read_f32(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let bytes = (len.max(1) * 4) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback staging"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc =
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        enc.copy_buffer_to_buffer(src, 0, &staging, 0, bytes);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(format!("poll: {e}")))?;
        rx.await
            .map_err(|_| GpuError::Readback("the map callback was dropped (device lost?)".into()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let out = {
            let view = staging.get_mapped_range(..).map_err(|e| GpuError::Readback(e.to_string()))?;
            bytemuck::cast_slice::<u8, f32>(&view)[..len].to_vec()
        };
        staging.unmap();
        Ok(out)
    }
}
