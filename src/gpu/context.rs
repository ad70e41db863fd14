//! Getting a device, once. `GpuContext::request` finds an adapter (WebGPU in the browser,
//! Vulkan/GL natively — lavapipe on machines without a GPU), creates the device and builds
//! every pipeline up front; everything else only *uses* a context, so tests can pass in
//! whatever adapter they got or skip with a message when there is none.

use serde::{Deserialize, Serialize};

use super::kernels::Pipelines;
use super::{GpuError, Result};

/// What the lab shows about the adapter, and stamps on records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterSummary {
    pub name: String,
    /// wgpu's backend name: "BrowserWebGpu", "Vulkan", "Gl", ...
    pub backend: String,
    /// "Cpu" for software adapters (SwiftShader, lavapipe), "DiscreteGpu", ...
    pub device_type: String,
    /// True for a software/fallback adapter.
    pub is_software: bool,
    pub driver: String,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
}

pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub limits: wgpu::Limits,
    pub(crate) pipelines: Pipelines,
}

impl GpuContext {
    /// Find an adapter and create a device with the adapter's own limits (so large buffers
    /// are allowed where the hardware allows them), then compile every kernel.
    pub async fn request() -> Result<GpuContext> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("interlab"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::RequestDevice(e.to_string()))?;
        let summary = AdapterSummary {
            // Browsers may hide the adapter's name; say so rather than show nothing.
            name: if info.name.is_empty() {
                "adapter name hidden by the browser".into()
            } else {
                info.name.clone()
            },
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            is_software: info.device_type == wgpu::DeviceType::Cpu,
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        };
        let pipelines = Pipelines::build(&device).await?;
        Ok(GpuContext { device, queue, summary, limits, pipelines })
    }

    /// Check that a storage buffer of `bytes` fits this device, naming the op if not.
    pub fn check_storage(&self, op: &str, what: &str, bytes: u64) -> Result<()> {
        let limit = self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size);
        if bytes > limit {
            return Err(GpuError::TooLarge {
                op: op.into(),
                what: format!("{what} ({bytes} bytes)"),
                requested: bytes,
                limit,
            });
        }
        Ok(())
    }

    /// Check a dispatch's workgroup counts against the device limit.
    pub fn check_dispatch(&self, op: &str, groups: [u32; 3]) -> Result<()> {
        let limit = self.limits.max_compute_workgroups_per_dimension;
        for (axis, &g) in ["x", "y", "z"].iter().zip(&groups) {
            if g > limit {
                return Err(GpuError::TooLarge {
                    op: op.into(),
                    what: format!("workgroups along {axis}"),
                    requested: g as u64,
                    limit: limit as u64,
                });
            }
        }
        Ok(())
    }
}
