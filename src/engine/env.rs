//! The run environment: the settings of a run that are not part of its `TrainConfig` (they
//! never change what a CPU run computes) but decide where and whether it may run. One value,
//! passed explicitly to planning (`plan`), the trainer (`Trainer::with_env`) and the session,
//! so nothing reads them from process-wide state:
//!
//! | field | URL key | CLI | default |
//! | --- | --- | --- | --- |
//! | `budget_bytes` | `budget` (MiB) | `--budget-mib` | `MEMORY_BUDGET_BYTES` (512 MiB) |
//! | `backend` | `backend` | `--backend` | `auto` |
//! | `lose_gpu_at` | `lose_gpu_at` | (tests) | never |

use serde::{Deserialize, Serialize};

use crate::core::config::MEMORY_BUDGET_BYTES;

/// The user's backend preference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendPref {
    /// The rule in `backend::choose`.
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

/// Where and within what a run may train (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunEnv {
    /// The memory budget of the CPU path, in bytes (`TrainConfig::check_budget`). A run sent
    /// to the GPU (`backend` = `gpu`) is not held to it: the GPU engine checks the device's
    /// own limits when it allocates.
    pub budget_bytes: u64,
    pub backend: BackendPref,
    /// A diagnostic: destroy the GPU device when this step is submitted, to exercise the CPU
    /// fallback. `None`: never.
    pub lose_gpu_at: Option<usize>,
}

impl Default for RunEnv {
    fn default() -> Self {
        RunEnv { budget_bytes: MEMORY_BUDGET_BYTES, backend: BackendPref::Auto, lose_gpu_at: None }
    }
}

impl RunEnv {
    /// The budget in whole MiB (what the URL and the CLI show).
    pub fn budget_mib(&self) -> u64 {
        self.budget_bytes >> 20
    }

    /// This environment with a budget of `mib` MiB.
    pub fn with_budget_mib(self, mib: u64) -> Self {
        RunEnv { budget_bytes: mib << 20, ..self }
    }

    /// This environment with another backend preference.
    pub fn with_backend(self, backend: BackendPref) -> Self {
        RunEnv { backend, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_tab_budget_auto_and_no_forced_loss() {
        let e = RunEnv::default();
        assert_eq!(e.budget_mib(), 512);
        assert_eq!(e.backend, BackendPref::Auto);
        assert_eq!(e.lose_gpu_at, None);
        assert_eq!(e.with_budget_mib(64).budget_bytes, 64 << 20);
    }

    #[test]
    fn backend_names_round_trip_and_unknown_names_are_refused() {
        for n in BackendPref::NAMES {
            assert_eq!(BackendPref::parse(n).unwrap().name(), n);
        }
        assert!(BackendPref::parse("tpu").unwrap_err().contains("'tpu'"));
    }
}
