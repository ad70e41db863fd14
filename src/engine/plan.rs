//! From a `TrainConfig` to a checked plan: the task built from the registry with its
//! parameters, the model's dimensions, and the memory budget. Every problem in the model
//! fields, the task's parameters and the budget is reported at once, each naming its field.

use super::backend::unsupported;
use super::env::{BackendPref, RunEnv};
use crate::core::{ConfigError, FieldError, ModelDims, TrainConfig};
use crate::tasks::{self, Output, Params, Shape, Task};

pub struct Plan {
    pub task: Box<dyn Task>,
    pub dims: ModelDims,
}

/// The model's view of a task's shape.
pub fn dims_of(shape: &Shape) -> ModelDims {
    let out = match shape.output {
        Output::Classes { channels, classes } => channels * classes,
        Output::Regression { channels } => channels,
    };
    ModelDims { seq_len: shape.seq_len, vocab: shape.vocab, features: shape.features, out }
}

/// Check everything about `cfg` and build its task. The memory budget is `env`'s, and only the
/// CPU path's: a run sent to the GPU (`env.backend` = `gpu`) is not held to it.
pub fn plan(cfg: &TrainConfig, env: &RunEnv) -> Result<Plan, ConfigError> {
    let mut errors: Vec<FieldError> = cfg.validate().err().map(|e| e.errors).unwrap_or_default();
    let info = match tasks::find(&cfg.task) {
        Ok(i) => i,
        Err(e) => {
            errors.push(e);
            return Err(ConfigError { errors });
        }
    };
    for (k, _) in &cfg.task_params {
        if !info.params.iter().any(|p| p.key == k) {
            let keys: Vec<&str> = info.params.iter().map(|p| p.key).collect();
            errors.push(FieldError::new(
                k.clone(),
                format!("not a parameter of task '{}' (its parameters: {})", info.name, keys.join(", ")),
            ));
        }
    }
    let built =
        Params::from_pairs(info.params, cfg.task_params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .and_then(info.build);
    let task = match built {
        Ok(t) => t,
        Err(e) => {
            errors.extend(e.errors);
            return Err(ConfigError { errors });
        }
    };
    let dims = dims_of(&task.shape());
    // A run the user sends to the GPU (`backend=gpu`) is not held to the CPU path's memory
    // budget: the GPU engine checks the device's own limits when it allocates.
    let gpu_run = env.backend == BackendPref::Gpu && unsupported(cfg).is_none();
    if !gpu_run {
        if let Err(e) = cfg.check_budget(dims, env.budget_bytes) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(Plan { task, dims })
    } else {
        Err(ConfigError { errors })
    }
}

impl Plan {
    /// The run as share-link pairs: model fields, `task`, then every task parameter in its
    /// canonical text (defaults included), so a link fixes the run even if defaults change.
    pub fn share_pairs(&self, cfg: &TrainConfig) -> Vec<(String, String)> {
        let mut out = cfg.model_pairs();
        out.push(("task".into(), self.task.info().name.to_string()));
        out.extend(self.task.params().to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_from_every_layer_are_reported_together() {
        let cfg = TrainConfig::from_pairs([("heads", "3"), ("kv_pairs", "100"), ("bogus", "1")]).unwrap_err();
        assert!(cfg.for_field("heads").is_some(), "{cfg}");
        // Model field errors stop `from_pairs`; task errors show up in `plan`.
        let cfg = TrainConfig::from_pairs([("kv_pairs", "100"), ("bogus", "1")]).unwrap();
        let e = plan(&cfg, &RunEnv::default()).err().unwrap();
        assert!(e.for_field("bogus").unwrap().contains("not a parameter of task 'mqar'"), "{e}");
        assert!(e.for_field("seq_len").is_some() || e.for_field("vocab").is_some(), "{e}");
    }

    #[test]
    fn unknown_task_and_budget_are_named() {
        let cfg = TrainConfig { task: "nope".into(), ..TrainConfig::default() };
        assert!(plan(&cfg, &RunEnv::default())
            .err()
            .unwrap()
            .for_field("task")
            .unwrap()
            .contains("unknown task"));
        let cfg = TrainConfig::from_pairs([("seq_len", "8192"), ("batch", "64")]).unwrap();
        assert!(plan(&cfg, &RunEnv::default()).err().unwrap().for_field("batch").unwrap().contains("budget"));
    }

    #[test]
    fn share_pairs_round_trip_to_the_same_task() {
        let cfg = TrainConfig::from_pairs([("seq_len", "30")]).unwrap();
        let p = plan(&cfg, &RunEnv::default()).unwrap();
        let pairs = p.share_pairs(&cfg);
        assert!(pairs.iter().any(|(k, v)| k == "power_a" && v == "1"));
        let back = TrainConfig::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(plan(&back, &RunEnv::default()).unwrap().task.params(), p.task.params());
    }
}
