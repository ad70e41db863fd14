//! Everything wgpu: getting a device (`context`), the WGSL sources and their pipelines
//! (`kernels`), buffers and readback (`buffers`), and one Rust binding per kernel family
//! (`matmul`, ...). Depends on `core` only; candle never appears here — parity with the
//! CPU reference is checked in tests and in `engine::gpu_check`.

pub mod adamw;
pub mod attention;
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod buffers;
pub mod context;
pub mod cross_entropy;
pub mod dlr_scan;
pub mod elementwise;
pub mod embedding;
pub mod gemm;
pub mod grid;
pub mod kernels;
pub mod layer_norm;
pub mod matmul;
pub mod program;
pub mod reduce;
pub mod split_k;
pub mod train;

use std::fmt;

pub use context::{AdapterSummary, GpuContext};
pub use kernels::Kernel;
pub use program::Program;

/// The GPU layer's error; every message names the op and the sizes involved.
#[derive(Clone, Debug, PartialEq)]
pub enum GpuError {
    /// No adapter (no WebGPU in this browser, or no Vulkan/GL driver natively).
    NoAdapter(String),
    /// The adapter refused to create a device.
    RequestDevice(String),
    /// A buffer or dispatch would exceed a device limit.
    TooLarge { op: String, what: String, requested: u64, limit: u64 },
    /// Bad arguments to a kernel binding (shape mismatch).
    Shape { op: String, detail: String },
    /// A validation or out-of-memory error captured by an error scope.
    Device { op: String, detail: String },
    /// Reading a buffer back failed.
    Readback(String),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::NoAdapter(s) => write!(f, "no GPU adapter: {s}"),
            GpuError::RequestDevice(s) => write!(f, "could not create a GPU device: {s}"),
            GpuError::TooLarge { op, what, requested, limit } => {
                write!(f, "{op}: {what} needs {requested}, over the device limit of {limit}")
            }
            GpuError::Shape { op, detail } => write!(f, "{op}: {detail}"),
            GpuError::Device { op, detail } => write!(f, "{op}: device error: {detail}"),
            GpuError::Readback(s) => write!(f, "reading back a GPU buffer failed: {s}"),
        }
    }
}

impl std::error::Error for GpuError {}

pub type Result<T> = std::result::Result<T, GpuError>;
