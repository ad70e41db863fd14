//! Side-by-side experiments: several models ("arms") trained on one task with one seed and
//! one budget. Plain data, shared by the experiments page and its exports: the arm catalogue,
//! the experiment file (JSON), and the results table (CSV). The page runs each arm as an
//! ordinary run (`engine::Session`), so an arm's curve is exactly the lab's curve for that
//! config.

use serde::{Deserialize, Serialize};

use super::env::RunEnv;
use super::presets::Preset;
use crate::core::csv::Table;
use crate::core::TrainConfig;

/// The experiment file's format version.
pub const FORMAT: u32 = 1;

/// One model of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub label: String,
    pub config: TrainConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub format: u32,
    pub version: String,
    pub title: String,
    pub arms: Vec<Arm>,
}

/// A model choice for a custom comparison: key (used in links), label, family, mixers
/// (`{rest}` is replaced by the rest of a hybrid's layers).
pub struct ArmKind {
    pub key: &'static str,
    pub label: &'static str,
    pub model: &'static str,
    pub mixers: &'static str,
}

pub const ARM_KINDS: &[ArmKind] = &[
    ArmKind { key: "attn", label: "softmax attention", model: "transformer", mixers: "attn" },
    ArmKind { key: "none", label: "no token mixing", model: "transformer", mixers: "none" },
    ArmKind { key: "static", label: "static mixing", model: "transformer", mixers: "static" },
    ArmKind { key: "linear", label: "linear attention", model: "transformer", mixers: "linear" },
    ArmKind { key: "hybrid", label: "attention, then static", model: "transformer", mixers: "attn,{rest}" },
    ArmKind { key: "dlr", label: "DLR", model: "dlr", mixers: "attn" },
    ArmKind { key: "s4d", label: "S4D", model: "s4d", mixers: "attn" },
    ArmKind { key: "mhssm", label: "multi-head SSM", model: "mhssm", mixers: "attn" },
    ArmKind { key: "lstm", label: "LSTM", model: "lstm", mixers: "attn" },
    ArmKind { key: "gru", label: "GRU", model: "gru", mixers: "attn" },
];

/// The default comparison: attention vs no mixing vs DLR.
pub const DEFAULT_ARMS: &[&str] = &["attn", "none", "dlr"];

impl Experiment {
    /// One arm per kind in `keys`, each `base` with that model (same task, seed and budget).
    pub fn compare(base: &TrainConfig, keys: &[&str]) -> Result<Self, String> {
        let mut arms = Vec::new();
        for key in keys {
            let kind = ARM_KINDS.iter().find(|k| k.key == *key).ok_or_else(|| {
                let all: Vec<&str> = ARM_KINDS.iter().map(|k| k.key).collect();
                format!("arms: unknown model '{key}' (choose from {})", all.join(", "))
            })?;
            let mixers = match kind.mixers {
                "attn,{rest}" if base.layers <= 1 => "attn".to_string(),
                "attn,{rest}" => std::iter::once("attn")
                    .chain(std::iter::repeat_n("static", base.layers - 1))
                    .collect::<Vec<_>>()
                    .join(","),
                m => m.to_string(),
            };
            let config = TrainConfig { model: kind.model.into(), mixers, ..base.clone() };
            arms.push(Arm { label: kind.label.into(), config });
        }
        if arms.is_empty() {
            return Err("arms: choose at least one model".into());
        }
        Ok(Experiment {
            format: FORMAT,
            version: crate::VERSION.into(),
            title: format!("{} models on {}", arms.len(), base.task),
            arms,
        })
    }

    pub fn from_preset(p: &Preset) -> Self {
        let arms = p
            .runs
            .iter()
            .map(|(label, config)| Arm { label: label.clone(), config: config.clone() })
            .collect();
        Experiment { format: FORMAT, version: crate::VERSION.into(), title: p.title.into(), arms }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an experiment serialises")
    }

    /// Read and check an experiment file: every problem names its place (`arms[2].config:
    /// ...`); labels must be unique and every arm's config must plan in `env`.
    pub fn from_json(text: &str, env: &RunEnv) -> Result<Self, String> {
        let e: Experiment = serde_json::from_str(text).map_err(|e| format!("experiment file: {e}"))?;
        if e.format != FORMAT {
            return Err(format!(
                "experiment file: format {} is not supported (this version reads format {FORMAT})",
                e.format
            ));
        }
        if e.arms.is_empty() {
            return Err("experiment file: arms: the list is empty".into());
        }
        for (i, a) in e.arms.iter().enumerate() {
            if e.arms[..i].iter().any(|b| b.label == a.label) {
                return Err(format!("experiment file: arms[{i}].label: '{}' is used twice", a.label));
            }
            super::plan(&a.config, env)
                .map_err(|err| format!("experiment file: arms[{i}].config ({}): {err}", a.label))?;
        }
        Ok(e)
    }
}

/// One row of the results table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ArmResult {
    pub label: String,
    pub model: String,
    pub mixers: String,
    pub task: String,
    pub seed: u64,
    pub params: u64,
    pub steps: usize,
    pub loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub exact_match: Option<f64>,
    pub mse: Option<f64>,
    pub steps_per_sec: Option<f64>,
    pub backend: String,
    pub state: String,
}

/// The results table as CSV, one row per arm (empty cells for metrics a task lacks).
pub fn results_csv(rows: &[ArmResult]) -> String {
    let num = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    let mut t = Table::new(&[
        "label",
        "model",
        "mixers",
        "task",
        "seed",
        "params",
        "steps",
        "final_loss",
        "heldout_accuracy",
        "heldout_exact_match",
        "heldout_mse",
        "steps_per_sec",
        "backend",
        "state",
    ]);
    for r in rows {
        t.push(&[
            r.label.clone(),
            r.model.clone(),
            r.mixers.clone(),
            r.task.clone(),
            r.seed.to_string(),
            r.params.to_string(),
            r.steps.to_string(),
            num(r.loss),
            num(r.accuracy),
            num(r.exact_match),
            num(r.mse),
            num(r.steps_per_sec),
            r.backend.clone(),
            r.state.clone(),
        ]);
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_builds_one_arm_per_model_with_the_same_task_seed_and_budget() {
        let base = TrainConfig { layers: 3, seed: 11, steps: 40, ..TrainConfig::default() };
        let e = Experiment::compare(&base, &["attn", "hybrid", "dlr"]).unwrap();
        assert_eq!(e.arms.len(), 3);
        assert_eq!(e.arms[1].config.mixers, "attn,static,static");
        assert_eq!(e.arms[2].config.model, "dlr");
        assert!(e
            .arms
            .iter()
            .all(|a| a.config.seed == 11 && a.config.steps == 40 && a.config.task == base.task));
        assert!(Experiment::compare(&base, &["attn", "mamba"])
            .err()
            .unwrap()
            .contains("unknown model 'mamba'"));
        assert!(Experiment::compare(&base, &[]).is_err());
    }

    #[test]
    fn experiment_files_round_trip_and_bad_files_name_the_place() {
        let e = Experiment::from_preset(&super::super::presets::find("mixing-mqar").unwrap());
        // Task parameters come back in key order; the same runs either way.
        let back = Experiment::from_json(&e.to_json(), &RunEnv::default()).unwrap();
        let sorted = |x: &Experiment| {
            let mut x = x.clone();
            x.arms.iter_mut().for_each(|a| a.config.task_params.sort());
            x
        };
        assert_eq!(sorted(&back), sorted(&e));
        assert_eq!(Experiment::from_json(&back.to_json(), &RunEnv::default()).unwrap(), back);
        let mut dup = e.clone();
        dup.arms[1].label = dup.arms[0].label.clone();
        assert!(Experiment::from_json(&dup.to_json(), &RunEnv::default())
            .err()
            .unwrap()
            .contains("arms[1].label"));
        let mut bad = e.clone();
        bad.arms[2].config.heads = 3;
        let msg = Experiment::from_json(&bad.to_json(), &RunEnv::default()).err().unwrap();
        assert!(msg.contains("arms[2].config") && msg.contains("heads"), "{msg}");
        assert!(Experiment::from_json("{\"format\":1}", &RunEnv::default())
            .err()
            .unwrap()
            .starts_with("experiment file:"));
        assert!(Experiment::from_json(
            &e.to_json().replace("\"format\": 1", "\"format\": 9"),
            &RunEnv::default()
        )
        .err()
        .unwrap()
        .contains("format 9"));
    }

    #[test]
    fn csv_has_a_header_and_one_quoted_row_per_arm() {
        let rows = [
            ArmResult {
                label: "attn, 2 layers".into(),
                model: "transformer".into(),
                params: 1234,
                steps: 10,
                loss: Some(0.5),
                accuracy: Some(0.75),
                ..ArmResult::default()
            },
            ArmResult { label: "dlr".into(), mse: Some(0.125), ..ArmResult::default() },
        ];
        let csv = results_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("label,model,mixers,task,seed,params,steps,final_loss"));
        assert!(
            lines[1].starts_with("\"attn, 2 layers\",transformer,,,0,1234,10,0.5,0.75,,,"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2].split(',').nth(10), Some("0.125"));
        assert_eq!(lines.iter().map(|l| l.matches(',').count()).collect::<Vec<_>>(), [13, 14, 13]);
        // the quoted comma
    }
}
