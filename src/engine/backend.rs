//! Which backend trains a run: the user's preference (`backend=auto|cpu|gpu` in the URL, the
//! run bar's selector, the CLI's `--backend`) and, for `auto`, a rule from measured speeds.
//!
//! Measured (native, this repo's `interlab bench --backend cpu|gpu`, 2-core CI machine):
//! lavapipe — a software Vulkan adapter like Chrome's SwiftShader — runs the default
//! Transformer (d64, 2 layers, batch 32) at 0.83 steps/s against the CPU's 32.6, and d128 /
//! seq 256 at 0.02 against 0.54: a software adapter is 30–40× slower than the CPU path, so
//! `auto` never picks it. On a hardware adapter a step costs its ~60–100 dispatches
//! (tens of µs each) plus FLOPs at hundreds of GFLOP/s, against the CPU's ~1–3 GFLOP/s in
//! WASM: `auto` picks the GPU once the CPU would need more than `GPU_MIN_CPU_MS` per step.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::gpu_train;
use crate::core::{ModelDims, TrainConfig};
use crate::gpu::AdapterSummary;

/// The user's preference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendPref {
    /// The rule below.
    #[default]
    Auto,
    Cpu,
    /// WebGPU in the tab, wgpu natively, whenever the model has GPU kernels.
    Gpu,
}

impl BackendPref {
    pub const NAMES: [&'static str; 3] = ["auto", "cpu", "gpu"];

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendPref::Auto),
            "cpu" => Ok(BackendPref::Cpu),
            "gpu" | "webgpu" => Ok(BackendPref::Gpu),
            other => Err(format!("'{other}' is not a backend (auto, cpu or gpu)")),
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

static PREFERENCE: AtomicU8 = AtomicU8::new(0);
static LOSE_GPU_AT: AtomicUsize = AtomicUsize::new(0);

/// The page's preference for new runs (from `backend=` or the run bar), like the memory budget.
pub fn set_preference(p: BackendPref) {
    PREFERENCE.store(p as u8, Ordering::Relaxed);
}

pub fn preference() -> BackendPref {
    [BackendPref::Auto, BackendPref::Cpu, BackendPref::Gpu][PREFERENCE.load(Ordering::Relaxed).min(2) as usize]
}

/// A diagnostic (`lose_gpu_at=N` in the URL): destroy the GPU device when step N is
/// submitted, to see the CPU fallback. 0: never.
pub fn set_lose_gpu_at(step: usize) {
    LOSE_GPU_AT.store(step, Ordering::Relaxed);
}

pub fn lose_gpu_at() -> Option<usize> {
    Some(LOSE_GPU_AT.load(Ordering::Relaxed)).filter(|&s| s > 0)
}

/// Where a run trains, as the worker reports it and records carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    pub gpu: bool,
    /// The adapter's name (GPU runs).
    pub adapter: Option<String>,
    pub reason: String,
}

/// CPU time per step above which `auto` prefers a hardware GPU.
pub const GPU_MIN_CPU_MS: f64 = 5.0;
/// Training FLOP/s the CPU path reaches in a tab (measured: d128 Transformer at 0.25 steps/s
/// in the tab ≈ 1.4 GFLOP/s; natively about twice that).
pub const CPU_FLOPS: f64 = 1.5e9;

/// Training FLOPs of one step, roughly: 6 per parameter per token (forward + backward) plus
/// the token mixing (attention's l² products, or the scan's per-state updates).
pub fn step_flops(cfg: &TrainConfig, dims: ModelDims) -> f64 {
    let tokens = (cfg.batch * dims.seq_len) as f64;
    let params = cfg.param_count(dims) as f64;
    let mixing = match cfg.model.as_str() {
        "transformer" => 12.0 * cfg.layers as f64 * tokens * dims.seq_len as f64 * cfg.d_model as f64,
        _ => 24.0 * cfg.layers as f64 * tokens * (cfg.d_model * cfg.state.max(1)) as f64,
    };
    6.0 * params * tokens + mixing
}

/// Where a run trains, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub gpu: bool,
    pub reason: String,
}

/// The backend for `cfg` given the preference and the adapter (None: no WebGPU / no device).
pub fn choose(pref: BackendPref, cfg: &TrainConfig, dims: ModelDims, adapter: Option<&AdapterSummary>) -> Choice {
    let cpu = |reason: String| Choice { gpu: false, reason };
    if pref == BackendPref::Cpu {
        return cpu("CPU chosen (backend=cpu)".into());
    }
    if let Some(why) = gpu_train::unsupported(cfg) {
        return cpu(format!("CPU: {why}"));
    }
    let Some(a) = adapter else {
        return cpu("CPU: no WebGPU adapter".into());
    };
    if pref == BackendPref::Gpu {
        return Choice { gpu: true, reason: format!("WebGPU chosen (backend=gpu) on {}", a.name) };
    }
    if a.is_software {
        return cpu(format!("CPU: {} is a software adapter, measured 30-40x slower than the CPU path (backend=gpu forces it)", a.name));
    }
    let ms = step_flops(cfg, dims) / CPU_FLOPS * 1e3;
    if ms < GPU_MIN_CPU_MS {
        return cpu(format!("CPU: a step is ~{ms:.1} ms of CPU work, too small to repay the GPU's per-step overhead"));
    }
    Choice { gpu: true, reason: format!("WebGPU on {}: a step is ~{ms:.0} ms of CPU work", a.name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(software: bool) -> AdapterSummary {
        AdapterSummary {
            name: if software { "SwiftShader".into() } else { "NVIDIA".into() },
            backend: "BrowserWebGpu".into(),
            device_type: String::new(),
            is_software: software,
            driver: String::new(),
            max_buffer_size: 1 << 30,
            max_storage_buffer_binding_size: 1 << 30,
            max_compute_workgroup_storage_size: 16384,
            max_compute_invocations_per_workgroup: 256,
            max_compute_workgroups_per_dimension: 65535,
        }
    }

    #[test]
    fn the_rule_follows_preference_support_adapter_and_size() {
        let dims = ModelDims { seq_len: 256, vocab: 64, features: 0, out: 64 };
        let big = TrainConfig { d_model: 128, batch: 32, ..TrainConfig::default() };
        let tiny = TrainConfig { d_model: 8, layers: 1, heads: 1, batch: 1, ..TrainConfig::default() };
        let tiny_dims = ModelDims { seq_len: 8, vocab: 8, features: 0, out: 8 };
        let hw = adapter(false);
        assert!(choose(BackendPref::Auto, &big, dims, Some(&hw)).gpu);
        assert!(!choose(BackendPref::Auto, &tiny, tiny_dims, Some(&hw)).gpu);
        assert!(!choose(BackendPref::Auto, &big, dims, Some(&adapter(true))).gpu);
        assert!(choose(BackendPref::Gpu, &big, dims, Some(&adapter(true))).gpu);
        assert!(!choose(BackendPref::Cpu, &big, dims, Some(&hw)).gpu);
        assert!(choose(BackendPref::Gpu, &big, dims, None).reason.contains("no WebGPU"));
        let lstm = TrainConfig { model: "lstm".into(), ..big.clone() };
        assert!(choose(BackendPref::Gpu, &lstm, dims, Some(&hw)).reason.contains("'lstm' model has no GPU kernels"));
        assert_eq!(BackendPref::parse("gpu"), Ok(BackendPref::Gpu));
        assert!(BackendPref::parse("tpu").unwrap_err().contains("'tpu'"));
        assert!(BackendPref::NAMES.iter().all(|n| BackendPref::parse(n).unwrap().name() == *n));
    }
}
