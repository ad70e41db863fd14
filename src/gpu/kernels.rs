//! The shader registry: one `.wgsl` file ↔ one `Kernel` variant ↔ one Rust binding module.
//! Sources are compiled in with `include_str!`; pipelines are built once, up front, inside
//! an error scope, and cached by variant.

use super::{GpuError, Result};

/// Every compute kernel family the lab ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `shaders/matmul.wgsl` — tiled f32 matmul; binding in `gpu::matmul`.
    Matmul,
    /// `shaders/gemm.wgsl` — matmul with transposed operands, accumulate, bias/ReLU epilogue,
    /// batches; binding in `gpu::gemm`.
    Gemm,
    /// `shaders/reduce.wgsl` — fixed-order column sums, sums, sums of squares; `gpu::reduce`.
    Reduce,
    /// `shaders/attention.wgsl` — causal softmax attention and the static mixer, fwd/bwd;
    /// binding in `gpu::attention`.
    Attention,
    /// `shaders/dlr_scan.wgsl` — chunked DLR scan fwd/bwd; binding in `gpu::dlr_scan`.
    DlrScan,
    /// `shaders/layer_norm.wgsl` — gain-only LayerNorm fwd/bwd; binding in `gpu::layer_norm`.
    LayerNorm,
    /// `shaders/embedding.wgsl` — token gather and scatter-add; binding in `gpu::embedding`.
    Embedding,
    /// `shaders/cross_entropy.wgsl` — masked CE / MSE with grads; binding in `gpu::cross_entropy`.
    CrossEntropy,
    /// `shaders/adamw.wgsl` — fused AdamW with global-norm clipping; binding in `gpu::adamw`.
    AdamW,
    /// `shaders/elementwise.wgsl` — fills, copies, adds, ReLU mask, head permutes, the DLR
    /// parameter map; binding in `gpu::elementwise`.
    Elementwise,
}

impl Kernel {
    pub const ALL: &'static [Kernel] = &[
        Kernel::Matmul,
        Kernel::Gemm,
        Kernel::Reduce,
        Kernel::Attention,
        Kernel::DlrScan,
        Kernel::LayerNorm,
        Kernel::Embedding,
        Kernel::CrossEntropy,
        Kernel::AdamW,
        Kernel::Elementwise,
    ];

    /// The file name under `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::Matmul => "matmul.wgsl",
            Kernel::Attention => "attention.wgsl",
            Kernel::DlrScan => "dlr_scan.wgsl",
            Kernel::Gemm => "gemm.wgsl",
            Kernel::Reduce => "reduce.wgsl",
            Kernel::LayerNorm => "layer_norm.wgsl",
            Kernel::Embedding => "embedding.wgsl",
            Kernel::CrossEntropy => "cross_entropy.wgsl",
            Kernel::AdamW => "adamw.wgsl",
            Kernel::Elementwise => "elementwise.wgsl",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Kernel::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Kernel::Attention => include_str!("../../shaders/attention.wgsl"),
            Kernel::DlrScan => include_str!("../../shaders/dlr_scan.wgsl"),
            Kernel::Gemm => include_str!("../../shaders/gemm.wgsl"),
            Kernel::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Kernel::LayerNorm => include_str!("../../shaders/layer_norm.wgsl"),
            Kernel::Embedding => include_str!("../../shaders/embedding.wgsl"),
            Kernel::CrossEntropy => include_str!("../../shaders/cross_entropy.wgsl"),
            Kernel::AdamW => include_str!("../../shaders/adamw.wgsl"),
            Kernel::Elementwise => include_str!("../../shaders/elementwise.wgsl"),
        }
    }

    /// The compute entry points the file defines; each gets its own pipeline. A launch must
    /// bind exactly the bindings its entry point uses (pipelines use automatic layouts).
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Kernel::Matmul => &["main"],
            Kernel::Attention => &[
                "fwd_fused",
                "fwd_tiled",
                "bwd_delta",
                "bwd_dq",
                "bwd_dkdv",
                "static_lse",
                "static_fwd",
                "static_bwd_dv",
                "static_bwd_dlogits",
            ],
            Kernel::DlrScan => {
                &["fwd_local", "fwd_carry", "fwd_fixup", "bwd_local", "bwd_carry", "bwd_fixup", "bwd_reduce"]
            }
            Kernel::Gemm => &["gemm", "gemm_bias"],
            Kernel::Reduce => &["col_sum_partial", "col_sum_final", "sum_partial", "sum_final"],
            Kernel::LayerNorm => &["forward", "backward", "gain_partial", "gain_reduce"],
            Kernel::Embedding => &["gather", "scatter"],
            Kernel::CrossEntropy => &["count", "forward", "reduce", "mse", "reduce_loss"],
            Kernel::AdamW => &["sumsq_partial", "sumsq_reduce", "update"],
            Kernel::Elementwise => &[
                "fill_zero",
                "copy_into",
                "add_into",
                "add_cyclic",
                "relu_mask",
                "split_heads",
                "merge_heads",
                "dlr_modes",
                "dlr_modes_bwd",
            ],
        }
    }
}

/// Compiled pipelines, indexed by `(Kernel, entry point)`.
pub(crate) struct Pipelines {
    entries: Vec<((Kernel, &'static str), wgpu::ComputePipeline)>,
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
            for &entry in k.entry_points() {
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&format!("{}:{entry}", k.file())),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
                entries.push(((k, entry), pipeline));
            }
            if let Some(e) = scope.pop().await {
                return Err(GpuError::Device {
                    op: format!("create pipelines of {}", k.file()),
                    detail: e.to_string(),
                });
            }
        }
        Ok(Pipelines { entries })
    }

    /// The pipeline of `k`'s `entry` (one of `k.entry_points()`).
    pub(crate) fn get(&self, k: Kernel, entry: &str) -> Result<&wgpu::ComputePipeline> {
        self.entries.iter().find(|((kk, e), _)| *kk == k && *e == entry).map(|(_, p)| p).ok_or_else(|| {
            GpuError::Shape {
                op: k.file().into(),
                detail: format!("no entry point '{entry}' (it has {:?})", k.entry_points()),
            }
        })
    }
}
