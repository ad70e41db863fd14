//! Which backend trains a run: the user's preference (`backend=auto|cpu|gpu` in the URL, the
//! run bar's selector, the CLI's `--backend`) and, for `auto`, a rule from measured speeds.
//!
//! `auto` compares estimated step times from a cost model fitted to measurements (native,
//! `interlab bench --backend cpu|gpu`, 2-core CI machine, lavapipe as the software adapter):
//!
//! | run | CPU | lavapipe |
//! | --- | --- | --- |
//! | Transformer d64, 2 layers, batch 32 (default) | 32.6 steps/s | 0.83 |
//! | Transformer d128, seq 256, batch 32 | 0.54 | 0.02 |
//! | DLR d64, N 16, seq 4096, batch 4 | 0.03 (18 GB peak) | 0.09 (116 MiB) |
//!
//! The CPU path runs dense work at ~6 GFLOP/s in a tab (~14 natively), but the DLR's
//! O(d·l²) Toeplitz matmuls, skinny in the batch, at ~1.5; a software adapter runs
//! ~0.4 GFLOP/s plus its dispatch overhead, but the DLR scan there is O(l·d·N). So a software adapter loses on Transformers and wins on long DLRs; a hardware
//! adapter (hundreds of GFLOP/s measured on an H200, ~30 µs per dispatch assumed) wins once a
//! step is more than a few ms of CPU work.

use serde::{Deserialize, Serialize};

pub use super::env::BackendPref;
use crate::core::{ModelDims, TrainConfig};
use crate::gpu::train::transformer_unsupported;
use crate::gpu::AdapterSummary;

/// Where a run trains, as the worker reports it and records carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    pub gpu: bool,
    /// The adapter's name (GPU runs).
    pub adapter: Option<String>,
    pub reason: String,
}

/// Why `cfg` cannot train on the GPU engine, if it cannot.
pub fn unsupported(cfg: &TrainConfig) -> Option<String> {
    match cfg.model.as_str() {
        "transformer" => {
            let names: Vec<&str> = cfg.mixers.split(',').map(str::trim).collect();
            let names = if names.len() == 1 { vec![names[0]; cfg.layers] } else { names };
            transformer_unsupported(&names, cfg.d_model, cfg.heads)
        }
        "dlr" => None,
        other => Some(format!("the '{other}' model has no GPU kernels yet (GPU models: transformer, dlr)")),
    }
}

/// Dense training FLOP/s of the CPU path in a tab (the d128 Transformer, 2.6e10 FLOPs per
/// step by `step_flops`, at 0.25 steps/s).
pub const CPU_FLOPS: f64 = 6e9;
/// FLOP/s of the CPU DLR's Toeplitz matmuls (seq 4096, d 64, batch 4: 35 s per step natively).
pub const CPU_TOEPLITZ_FLOPS: f64 = 1.5e9;
/// Effective FLOP/s of the engine on a software adapter (lavapipe: 0.38–0.5e9 measured).
pub const SOFTWARE_GPU_FLOPS: f64 = 0.4e9;
/// A conservative figure for hardware adapters (the H200 ran the model's matmuls at 420–470
/// GFLOP/s; small kernels reach far less).
pub const HARDWARE_GPU_FLOPS: f64 = 50e9;
/// Milliseconds per dispatch: software (lavapipe's fixed cost per launch), hardware.
pub const SOFTWARE_DISPATCH_MS: f64 = 0.5;
pub const HARDWARE_DISPATCH_MS: f64 = 0.03;
/// Dispatches per step, roughly (59 for a 2-layer DLR, up to 95 for a 2-layer Transformer).
fn dispatches(cfg: &TrainConfig) -> f64 {
    20.0 + 40.0 * cfg.layers as f64
}

/// Training FLOPs of one step, roughly: `(dense, mixing on the CPU, mixing on the GPU)`.
/// Dense: 6 per parameter per token (forward + backward). Mixing: attention's l² products on
/// both; the DLR's Toeplitz matmuls (2·b·d·l², three times) on the CPU but a scan (~24 per
/// state per token) on the GPU.
pub fn step_flops(cfg: &TrainConfig, dims: ModelDims) -> (f64, f64, f64) {
    let (b, l, d, layers) = (cfg.batch as f64, dims.seq_len as f64, cfg.d_model as f64, cfg.layers as f64);
    let dense = 6.0 * cfg.param_count(dims) as f64 * b * l;
    match cfg.model.as_str() {
        "transformer" => {
            let attn = 12.0 * layers * b * l * l * d;
            (dense, attn, attn)
        }
        _ => (dense, 6.0 * layers * b * d * l * l, 24.0 * layers * b * l * d * cfg.state.max(1) as f64),
    }
}

/// Estimated milliseconds per step: (CPU, GPU on this adapter).
pub fn step_ms(cfg: &TrainConfig, dims: ModelDims, software: bool) -> (f64, f64) {
    let (dense, cpu_mix, gpu_mix) = step_flops(cfg, dims);
    let cpu_mix_rate = if cfg.model == "transformer" { CPU_FLOPS } else { CPU_TOEPLITZ_FLOPS };
    let (rate, per) = if software {
        (SOFTWARE_GPU_FLOPS, SOFTWARE_DISPATCH_MS)
    } else {
        (HARDWARE_GPU_FLOPS, HARDWARE_DISPATCH_MS)
    };
    (
        (dense / CPU_FLOPS + cpu_mix / cpu_mix_rate) * 1e3,
        (dense + gpu_mix) / rate * 1e3 + dispatches(cfg) * per,
    )
}

/// Where a run trains, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub gpu: bool,
    pub reason: String,
}

/// The backend for `cfg` given the preference and the adapter (None: no WebGPU / no device).
pub fn choose(
    pref: BackendPref,
    cfg: &TrainConfig,
    dims: ModelDims,
    adapter: Option<&AdapterSummary>,
) -> Choice {
    let cpu = |reason: String| Choice { gpu: false, reason };
    if pref == BackendPref::Cpu {
        return cpu("CPU chosen (backend=cpu)".into());
    }
    if let Some(why) = unsupported(cfg) {
        return cpu(format!("CPU: {why}"));
    }
    let Some(a) = adapter else {
        return cpu("CPU: no WebGPU adapter".into());
    };
    if pref == BackendPref::Gpu {
        return Choice { gpu: true, reason: format!("WebGPU chosen (backend=gpu) on {}", a.name) };
    }
    let (cpu_ms, gpu_ms) = step_ms(cfg, dims, a.is_software);
    let kind = if a.is_software { "software adapter " } else { "" };
    let est = format!("estimated {cpu_ms:.0} ms per step on the CPU, {gpu_ms:.0} ms on {kind}{}", a.name);
    if gpu_ms < cpu_ms {
        Choice { gpu: true, reason: format!("WebGPU: {est}") }
    } else {
        cpu(format!("CPU: {est} (backend=gpu forces the GPU)"))
    }
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
        let soft = choose(BackendPref::Auto, &big, dims, Some(&adapter(true)));
        assert!(!soft.gpu && soft.reason.contains("software adapter SwiftShader"), "{}", soft.reason);
        // The measured cases: a long DLR wins on a software adapter, the default Transformer
        // does not (lavapipe 0.09 vs CPU 0.03 steps/s; 0.83 vs 32.6).
        let dlr =
            TrainConfig { model: "dlr".into(), d_model: 64, state: 16, batch: 4, ..TrainConfig::default() };
        let long = ModelDims { seq_len: 4096, vocab: 16, features: 0, out: 16 };
        assert!(choose(BackendPref::Auto, &dlr, long, Some(&adapter(true))).gpu);
        let default_dims = ModelDims { seq_len: 64, vocab: 64, features: 0, out: 64 };
        assert!(!choose(BackendPref::Auto, &TrainConfig::default(), default_dims, Some(&adapter(true))).gpu);
        assert!(choose(BackendPref::Gpu, &big, dims, Some(&adapter(true))).gpu);
        assert!(!choose(BackendPref::Cpu, &big, dims, Some(&hw)).gpu);
        assert!(choose(BackendPref::Gpu, &big, dims, None).reason.contains("no WebGPU"));
        let lstm = TrainConfig { model: "lstm".into(), ..big.clone() };
        assert!(choose(BackendPref::Gpu, &lstm, dims, Some(&hw))
            .reason
            .contains("'lstm' model has no GPU kernels"));
        assert_eq!(BackendPref::parse("gpu"), Ok(BackendPref::Gpu));
        assert!(BackendPref::parse("tpu").unwrap_err().contains("'tpu'"));
        assert!(BackendPref::NAMES.iter().all(|n| BackendPref::parse(n).unwrap().name() == *n));
    }
}
