//! The shader registry: one `.wgsl` file ↔ one `Kernel` variant ↔ one Rust binding module.
//! Sources are compiled in with `include_str!`; pipelines are built once, up front, inside
//! an error scope, and cached by variant.

use super::{GpuError, Result};

/// Every compute kernel family the lab ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `shaders/matmul.wgsl` — tiled f32 matmul; binding in `gpu::matmul`.
    Matmul,
}

impl Kernel {
    pub const ALL: &'static [Kernel] = &[Kernel::Matmul];

    /// The file name under `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::Matmul => "matmul.wgsl",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Kernel::Matmul => include_str!("../../shaders/matmul.wgsl"),
        }
    }

    pub fn entry_point(self) -> &'static str {
        "main"
    }
}

/// Compiled pipelines, indexed by `Kernel`.
pub(crate) struct Pipelines {
    entries: Vec<(Kernel, wgpu::ComputePipeline)>,
}

impl Pipelines {
    pub(crate) async fn build(device: &wgpu::Device) -> Result<Pipelines> {
        let mut entries = Vec::with_capacity(Kernel::ALL.len());
        for &k in Kernel::ALL {
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(k.file()),
                source: wgpu::ShaderSource::Wgsl(k.source().into()),
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(k.file()),
                layout: None,
                module: &module,
                entry_point: Some(k.entry_point()),
                compilation_options: Default::default(),
                cache: None,
            });
            if let Some(e) = scope.pop().await {
                return Err(GpuError::Device { op: format!("create pipeline {}", k.file()), detail: e.to_string() });
            }
            entries.push((k, pipeline));
        }
        Ok(Pipelines { entries })
    }

    pub(crate) fn get(&self, k: Kernel) -> &wgpu::ComputePipeline {
        // Every variant is built in `build`, so the lookup cannot miss.
        &self.entries.iter().find(|(kk, _)| *kk == k).expect("pipeline built for every Kernel").1
    }
}
