//! The machine-readable run status shown in `data-testid="run-status"` and printed by the
//! CLI: `{"state", "task", "model", "mixers", "step", "loss", "accuracy", "eval_accuracy", "eval_exact_match",
//! "eval_mse", "steps_per_sec", "backend", "runner"}`; metrics a task does not have are null
//! (accuracy for regression tasks, MSE for classification tasks).

use serde::{Deserialize, Serialize};

/// Where the training step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Cpu,
    Webgpu,
}

/// Where the training loop runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runner {
    /// A Web Worker (the page's thread stays free).
    Worker,
    /// The page's own thread (the fallback), or the native CLI.
    Main,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Nothing built yet (or reset).
    Idle,
    Running,
    Paused,
    /// The schedule's last step is done.
    Done,
    /// The run could not start or stopped on an error.
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub state: RunState,
    /// Registry name of the run's task (null before a run is started).
    pub task: Option<String>,
    /// Model family and mixers of the run (null before a run is started).
    pub model: Option<String>,
    pub mixers: Option<String>,
    pub step: usize,
    /// Training loss of the last step (null before the first).
    pub loss: Option<f64>,
    /// Token accuracy on the last training batch's scored targets.
    pub accuracy: Option<f64>,
    /// Token accuracy on the held-out set at the last evaluation.
    pub eval_accuracy: Option<f64>,
    /// Fraction of held-out sequences with every scored target right.
    pub eval_exact_match: Option<f64>,
    /// Held-out mean squared error (regression tasks).
    pub eval_mse: Option<f64>,
    pub steps_per_sec: Option<f64>,
    pub backend: Backend,
    pub runner: Runner,
}

impl RunStatus {
    pub fn idle(backend: Backend) -> Self {
        RunStatus {
            state: RunState::Idle,
            task: None,
            model: None,
            mixers: None,
            step: 0,
            loss: None,
            accuracy: None,
            eval_accuracy: None,
            eval_exact_match: None,
            eval_mse: None,
            steps_per_sec: None,
            backend,
            runner: Runner::Main,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"state\":\"error\",\"detail\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_documented_keys() {
        let s = RunStatus { step: 3, loss: Some(1.5), accuracy: Some(0.25), ..RunStatus::idle(Backend::Cpu) };
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["state"], "idle");
        assert_eq!(v["step"], 3);
        assert_eq!(v["loss"], 1.5);
        assert_eq!(v["accuracy"], 0.25);
        assert_eq!(v["backend"], "cpu");
    }
}
