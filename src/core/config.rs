//! The run configuration and the one table through which it is read from and written to the
//! URL (and the UI's form). Adding a knob is one row in `FIELDS`: its key, label, unit, valid
//! range, and how to read/write it. Validation of relations between fields lives in
//! `TrainConfig::validate`.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, FieldError};

/// Training memory the lab allows itself by default (parameters, optimiser state and
/// activations, estimated by `TrainConfig::estimated_bytes`). Chosen to stay well inside a
/// browser tab; a run's own budget is `engine::env::RunEnv::budget_bytes`.
pub const MEMORY_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

/// Memory every run needs whatever its size (the held-out set, the evaluation's forward
/// passes, allocator slack), in bytes; part of `TrainConfig::estimated_bytes`.
const BASE_BYTES: u64 = 32 << 20;

/// The largest budget the `budget` URL key may set (a wasm32 tab addresses 4 GiB in all).
pub const MAX_BUDGET_MIB: u64 = 3584;
pub const MIN_BUDGET_MIB: u64 = 64;

/// Read the lab's `budget` URL value (MiB), naming the key and the range when it is bad.
pub fn parse_budget_mib(text: &str) -> Result<u64, FieldError> {
    match text.trim().parse::<u64>() {
        Ok(v) if (MIN_BUDGET_MIB..=MAX_BUDGET_MIB).contains(&v) => Ok(v),
        _ => Err(FieldError::new("budget", format!("'{text}' is not a whole number of MiB from {MIN_BUDGET_MIB} to {MAX_BUDGET_MIB}; the default {} MiB applies", MEMORY_BUDGET_BYTES >> 20))),
    }
}

/// Everything that defines a training run: the task (by registry name, with its parameters as
/// text), the model and the optimiser. Together with the crate version this reproduces a run
/// exactly. The task's parameters are checked by the task itself (`tasks::build`); this
/// layer only carries them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed for weights, training data and the held-out set.
    pub seed: u64,
    // --- task ---
    /// Registry name of the task, e.g. `mqar`, `shift`.
    pub task: String,
    /// The task's parameters as `key=value` text, exactly as given (URL, form or CLI). In a
    /// JSON config file: an object, `"task_params": {"seq_len": 64, "vocab": "16"}`.
    #[serde(with = "params_as_object")]
    pub task_params: Vec<(String, String)>,
    // --- model ---
    /// Model family: one of `MODEL_NAMES`.
    pub model: String,
    /// Transformer token mixer per layer, a comma list of `MIXER_NAMES` (one name applies
    /// to every layer).
    pub mixers: String,
    /// Complex states per channel of the DLR / S4D recurrence (per head for `mhssm`).
    pub state: usize,
    pub layers: usize,
    pub heads: usize,
    pub d_model: usize,
    // --- optimisation (AdamW, warmup then cosine decay, global-norm clipping) ---
    /// Peak learning rate.
    pub lr: f64,
    pub batch: usize,
    /// Total optimiser steps (the schedule's length).
    pub steps: usize,
    /// Linear warmup steps.
    pub warmup: usize,
    pub weight_decay: f64,
    /// Gradient clipping threshold on the global L2 norm.
    pub clip: f64,
}

/// `task_params` as a JSON object whose values may be strings or numbers.
mod params_as_object {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(v.iter().map(|(k, v)| (k, v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k, s)),
                serde_json::Value::Number(n) => Ok((k, n.to_string())),
                serde_json::Value::Bool(b) => Ok((k, b.to_string())),
                other => Err(D::Error::custom(format!(
                    "task_params.{k}: expected a number or a string, got {other}"
                ))),
            })
            .collect()
    }
}

/// The task the lab opens with.
pub const DEFAULT_TASK: &str = "mqar";

/// Model families (`model=`): the causal Transformer (with per-layer mixers), the diagonal
/// linear RNN without discretisation (DLR), its discretised S4D-style variant, the multi-head
/// SSM (one recurrence per head, `model::ssm_heads`), and the LSTM and GRU baselines.
pub const MODEL_NAMES: &[&str] = &["transformer", "dlr", "s4d", "mhssm", "lstm", "gru"];

/// Transformer token mixers (`mixers=`); `model::mixers::Mixer` implements them.
pub const MIXER_NAMES: &[&str] =
    &["attn", "none", "static", "linear", "relu", "sigmoid", "l2", "qk_embed", "qk_pos"];

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 1,
            task: DEFAULT_TASK.into(),
            task_params: Vec::new(),
            model: "transformer".into(),
            mixers: "attn".into(),
            state: 16,
            layers: 2,
            heads: 4,
            d_model: 64,
            lr: 1e-3,
            batch: 32,
            steps: 4000,
            warmup: 100,
            weight_decay: 0.01,
            clip: 1.0,
        }
    }
}

/// The sizes of a task as the model sees them (filled in by the engine from the task).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelDims {
    pub seq_len: usize,
    /// Input token ids `0..vocab`.
    pub vocab: usize,
    /// Continuous input channels per position.
    pub features: usize,
    /// Width of the output head: channels x classes, or regression channels.
    pub out: usize,
}

/// How a field's text is parsed and what values are allowed.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int { min: u64, max: u64 },
    Float { min_exclusive: f64, max: f64 },
}

/// One row of the configuration table.
pub struct Field {
    /// URL parameter name and form id.
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub get: fn(&TrainConfig) -> f64,
    pub set: fn(&mut TrainConfig, f64),
}

macro_rules! int_field {
    ($key:literal, $label:literal, $help:literal, $min:expr, $max:expr, $f:ident) => {
        Field {
            key: $key,
            label: $label,
            help: $help,
            kind: Kind::Int { min: $min, max: $max },
            get: |c| c.$f as f64,
            set: |c, v| c.$f = v as _,
        }
    };
}

/// The table: order here is the order of the form and of the URL.
pub const FIELDS: &[Field] = &[
    int_field!("seed", "Seed", "fixes weights, data and the held-out set", 0, u32::MAX as u64, seed),
    int_field!("layers", "Layers", "blocks (attention or recurrence, each with an MLP)", 1, 12, layers),
    int_field!(
        "heads",
        "Heads",
        "attention or SSM (mhssm) heads per block; must divide d_model",
        1,
        16,
        heads
    ),
    int_field!("d_model", "d_model", "width of the residual stream", 4, 512, d_model),
    int_field!(
        "state",
        "SSM state",
        "complex states per channel (dlr, s4d) or per head (mhssm)",
        1,
        256,
        state
    ),
    Field {
        key: "lr",
        label: "Learning rate",
        help: "peak AdamW learning rate (after warmup)",
        kind: Kind::Float { min_exclusive: 0.0, max: 1.0 },
        get: |c| c.lr,
        set: |c, v| c.lr = v,
    },
    int_field!("batch", "Batch", "sequences per step", 1, 512, batch),
    int_field!("steps", "Steps", "length of the learning-rate schedule", 1, 1_000_000, steps),
    int_field!("warmup", "Warmup", "linear warmup steps; fewer than steps", 0, 1_000_000, warmup),
];

/// Parse one field's text, checking it is a number of the right kind and in range.
pub fn parse_field(field: &Field, text: &str) -> Result<f64, FieldError> {
    let t = text.trim();
    match field.kind {
        Kind::Int { min, max } => {
            let v: u64 = t.parse().map_err(|_| {
                FieldError::new(field.key, format!("'{t}' is not a whole number (expected {min}..={max})"))
            })?;
            if v < min || v > max {
                return Err(FieldError::new(field.key, format!("{v} is out of range {min}..={max}")));
            }
            Ok(v as f64)
        }
        Kind::Float { min_exclusive, max } => {
            let v: f64 = t
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| FieldError::new(field.key, format!("'{t}' is not a number")))?;
            if v <= min_exclusive || v > max {
                return Err(FieldError::new(
                    field.key,
                    format!("{v} is out of range (greater than {min_exclusive}, at most {max})"),
                ));
            }
            Ok(v)
        }
    }
}

/// Format a field's value for the URL and the form (integers without a decimal point).
pub fn format_field(field: &Field, cfg: &TrainConfig) -> String {
    let v = (field.get)(cfg);
    match field.kind {
        Kind::Int { .. } => format!("{}", v as u64),
        Kind::Float { .. } => format!("{v}"),
    }
}

impl TrainConfig {
    /// Build a config from key/value text pairs (URL query, form or CLI): defaults for
    /// missing keys, every bad value reported with its field. `task` picks the task; keys that
    /// are neither model fields nor app keys (`is_app_key`) are kept as the task's parameters (the task
    /// checks them, and names unknown ones).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ConfigError> {
        let mut cfg = TrainConfig::default();
        let mut errors = Vec::new();
        for (k, v) in pairs {
            if let Some(field) = FIELDS.iter().find(|f| f.key == k) {
                match parse_field(field, v) {
                    Ok(x) => (field.set)(&mut cfg, x),
                    Err(e) => errors.push(e),
                }
            } else if k == "task" {
                cfg.task = v.trim().to_string();
            } else if k == "model" {
                cfg.model = v.trim().to_string();
            } else if k == "mixers" {
                cfg.mixers = v.trim().to_string();
            } else if !super::share::is_app_key(k) {
                match cfg.task_params.iter_mut().find(|(key, _)| key == k) {
                    Some(slot) => slot.1 = v.to_string(),
                    None => cfg.task_params.push((k.to_string(), v.to_string())),
                }
            }
        }
        if errors.is_empty() {
            cfg.validate()?;
            Ok(cfg)
        } else {
            Err(ConfigError { errors })
        }
    }

    /// Read a JSON config file's text (missing keys take their defaults; unknown keys and bad
    /// values are errors naming the key, with serde's line and column) and validate it.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let cfg: TrainConfig = serde_json::from_str(text).map_err(|e| format!("config: {e}"))?;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// This config with another task and parameters (for code and tests; users go through
    /// `from_pairs`).
    pub fn with_task(mut self, task: &str, params: &[(&str, &str)]) -> Self {
        self.task = task.to_string();
        self.task_params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self
    }

    /// The config as `key=value` pairs: model fields in table order, then `task` and the
    /// task's parameters as given (the engine writes them in canonical form for links).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = self.model_pairs();
        out.push(("task".into(), self.task.clone()));
        out.extend(self.task_params.iter().cloned());
        out
    }

    /// `model`, `mixers` and the numeric fields as `key=value` pairs (everything but the task).
    pub fn model_pairs(&self) -> Vec<(String, String)> {
        let mut out =
            vec![("model".to_string(), self.model.clone()), ("mixers".to_string(), self.mixers.clone())];
        out.extend(FIELDS.iter().map(|f| (f.key.to_string(), format_field(f, self))));
        out
    }

    /// Relations between the model/optimiser fields. Collects all problems. (The task's
    /// parameters and the memory budget need the task: see `engine::plan`.)
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, msg: String| errors.push(FieldError::new(field, msg));
        if self.heads == 0 {
            err("heads", "must be at least 1".into());
        } else if !self.d_model.is_multiple_of(self.heads) {
            err("heads", format!("d_model {} is not divisible by {} heads", self.d_model, self.heads));
        }
        if self.layers == 0 {
            err("layers", "must be at least 1".into());
        }
        if !MODEL_NAMES.contains(&self.model.as_str()) {
            err("model", format!("unknown model '{}' (models: {})", self.model, MODEL_NAMES.join(", ")));
        }
        let mixers: Vec<&str> = self.mixers.split(',').map(str::trim).collect();
        if let Some(bad) = mixers.iter().find(|m| !MIXER_NAMES.contains(m)) {
            err("mixers", format!("unknown mixer '{bad}' (mixers: {})", MIXER_NAMES.join(", ")));
        } else if mixers.len() != 1 && mixers.len() != self.layers {
            err(
                "mixers",
                format!(
                    "{} mixers listed for {} layers: give one name for all layers or exactly {}",
                    mixers.len(),
                    self.layers,
                    self.layers
                ),
            );
        }
        if self.batch == 0 {
            err("batch", "must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            err("lr", format!("{} must be a positive number", self.lr));
        }
        if self.warmup >= self.steps {
            err("warmup", format!("{} must be fewer than steps ({})", self.warmup, self.steps));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors })
        }
    }

    /// Parameter count of the Transformer this config builds for a task of size `dims`.
    pub fn param_count(&self, dims: ModelDims) -> u64 {
        let (d, n, l) = (self.d_model as u64, self.layers as u64, dims.seq_len as u64);
        let head = d /* ln_f */ + d * dims.out as u64;
        let tokens = dims.vocab as u64 * d + dims.features as u64 * d;
        match self.model.as_str() {
            // LSTM / GRU: per layer a norm gain, input and recurrent matrices and a bias for
            // 4 (LSTM) or 3 (GRU) gates; no position embedding.
            "lstm" | "gru" => {
                let g = if self.model == "lstm" { 4 } else { 3 };
                return tokens + n * (d + 2 * d * g * d + g * d) + head;
            }
            // DLR / S4D: per layer a norm gain, 4 (dlr) or 5 (s4d) [d, state] recurrence
            // tensors, and a 2x MLP; no position embedding.
            "dlr" | "s4d" => {
                let rec = if self.model == "s4d" {
                    4 * d * self.state as u64 + d
                } else {
                    4 * d * self.state as u64
                };
                return tokens + n * (d + rec + 4 * d * d) + head;
            }
            // Multi-head SSM: per layer two norm gains, 4 [heads, state] recurrence tensors,
            // value and output projections [d, d] and a 2x MLP; no position embedding.
            "mhssm" => {
                let rec = 4 * self.heads as u64 * self.state as u64;
                return tokens + n * (2 * d + rec + 2 * d * d + 4 * d * d) + head;
            }
            _ => {}
        }
        let per_block = 4 * d * d /* attn */ + 8 * d * d /* mlp */ + 2 * d /* norm gains */;
        let static_layers = self.static_layers() as u64;
        tokens + l * d + n * per_block + static_layers * self.heads as u64 * l * l + head
    }

    /// How many layers use the `static` mixer.
    pub fn static_layers(&self) -> usize {
        let names: Vec<&str> = self.mixers.split(',').map(str::trim).collect();
        if names.len() == 1 {
            if names[0] == "static" {
                self.layers
            } else {
                0
            }
        } else {
            names.iter().filter(|m| **m == "static").count()
        }
    }

    /// Training memory in bytes: parameters with gradients and two Adam moments, the
    /// activations and per-family buffers the backward pass keeps, and a fixed base. The
    /// per-family constants were fitted to the peak resident memory of native training steps
    /// (`scripts/bench_memory.sh`; the measured table is in this module's tests) so that the
    /// estimate stays at or above every measurement and within about 35 % of it.
    pub fn estimated_bytes(&self, dims: ModelDims) -> u64 {
        let (b, l, d, h) = (self.batch as u64, dims.seq_len as u64, self.d_model as u64, self.heads as u64);
        let activations = b * l * d; // one [b, l, d] tensor, in floats
        let per_layer = match self.model.as_str() {
            // Fused attention never stores [b, h, l, l]: memory is linear in l.
            "transformer" => activations * 200,
            // One [l, l] Toeplitz kernel per head (and its gradient), plus the block.
            "mhssm" => activations * 120 + h * l * l * 11,
            // Per-step graphs keep a [d, g·d] gradient per step until they are summed.
            "lstm" | "gru" => activations * 220 + l * d * d * 34,
            // dlr, s4d: the [d, l, l] Toeplitz kernels (and their gradients), plus the block.
            _ => activations * 80 + d * l * l * 11,
        };
        let head = b * l * dims.out as u64 * 16;
        BASE_BYTES + self.param_count(dims) * 16 + self.layers as u64 * per_layer + head
    }

    /// The memory-budget check, reported on `batch` (the knob every task shares).
    pub fn check_budget(&self, dims: ModelDims, budget_bytes: u64) -> Result<(), FieldError> {
        let bytes = self.estimated_bytes(dims);
        if bytes > budget_bytes {
            return Err(FieldError::new(
                "batch",
                format!(
                    "this run needs about {} MiB, over the {} MiB budget (sequence length {}); reduce batch, heads, d_model or the task's length",
                    bytes / (1024 * 1024),
                    budget_bytes / (1024 * 1024),
                    dims.seq_len
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips_through_pairs() {
        let cfg = TrainConfig::default();
        cfg.validate().unwrap();
        let pairs = cfg.to_pairs();
        let back = TrainConfig::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = TrainConfig::from_pairs([("heads", "0"), ("lr", "abc"), ("batch", "-3")]).unwrap_err();
        assert!(e.for_field("heads").unwrap().contains("out of range"), "{e}");
        assert!(e.for_field("lr").unwrap().contains("not a number"), "{e}");
        assert!(e.for_field("batch").unwrap().contains("not a whole number"), "{e}");
    }

    #[test]
    fn relations_are_checked() {
        let e = TrainConfig::from_pairs([("d_model", "30"), ("heads", "4")]).unwrap_err();
        assert!(e.for_field("heads").unwrap().contains("not divisible"), "{e}");
        let e = TrainConfig::from_pairs([("model", "mhssm"), ("d_model", "30"), ("heads", "4")]).unwrap_err();
        assert_eq!(e.for_field("heads").unwrap(), "d_model 30 is not divisible by 4 heads", "{e}");
        assert!(e.to_string().contains("heads: d_model 30"), "{e}");
        let e = TrainConfig::from_pairs([("warmup", "10"), ("steps", "10")]).unwrap_err();
        assert!(e.for_field("warmup").is_some(), "{e}");
    }

    #[test]
    fn task_and_its_parameters_are_carried_app_keys_are_not() {
        let cfg = TrainConfig::from_pairs([
            ("task", "shift"),
            ("seq_len", "40"),
            ("autorun", "1"),
            ("v", "0.1.0"),
            ("seq_len", "48"),
        ])
        .unwrap();
        assert_eq!(cfg.task, "shift");
        assert_eq!(cfg.task_params, vec![("seq_len".to_string(), "48".to_string())]);
        let back =
            TrainConfig::from_pairs(cfg.to_pairs().iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn json_config_files_round_trip_and_name_bad_keys() {
        let cfg =
            TrainConfig { layers: 3, ..TrainConfig::default() }.with_task("shift", &[("seq_len", "40")]);
        let text = cfg.to_json_pretty();
        assert!(text.contains("\"seq_len\": \"40\""), "{text}");
        assert_eq!(TrainConfig::from_json(&text).unwrap(), cfg);
        let partial =
            TrainConfig::from_json(r#"{"task": "mqar", "task_params": {"seq_len": 30}, "lr": 0.002}"#)
                .unwrap();
        assert_eq!((partial.lr, partial.layers), (0.002, 2));
        assert_eq!(partial.task_params, vec![("seq_len".to_string(), "30".to_string())]);
        let e = TrainConfig::from_json("{\n  \"lrr\": 1\n}").unwrap_err();
        assert!(e.contains("unknown field `lrr`") && e.contains("line 2"), "{e}");
        let e = TrainConfig::from_json(r#"{"heads": 3}"#).unwrap_err();
        assert!(e.contains("heads"), "{e}");
        assert!(TrainConfig::from_json("not json").unwrap_err().starts_with("config:"));
    }

    #[test]
    fn memory_budget_rejects_long_sequences() {
        let cfg = TrainConfig { batch: 64, ..TrainConfig::default() };
        let dims = ModelDims { seq_len: 4096, vocab: 32, features: 0, out: 32 };
        let msg = cfg.check_budget(dims, MEMORY_BUDGET_BYTES).unwrap_err().message;
        assert!(msg.contains("MiB") && msg.contains("4096"), "{msg}");
        assert!(cfg.check_budget(ModelDims { seq_len: 24, ..dims }, MEMORY_BUDGET_BYTES).is_ok());
    }

    #[test]
    fn budget_values_are_checked_and_named() {
        assert_eq!(parse_budget_mib(" 2048 ").unwrap(), 2048);
        for bad in ["abc", "0", "63", "4096", "-1", "1.5"] {
            let e = parse_budget_mib(bad).unwrap_err();
            assert_eq!(e.field, "budget");
            assert!(e.message.contains("64 to 3584"), "{}", e.message);
        }
        // `budget` is the app's key, never a task parameter.
        let cfg = TrainConfig::from_pairs([("budget", "2048")]).unwrap();
        assert!(cfg.task_params.is_empty());
    }

    /// Peak resident MiB of `interlab bench ... --timed-steps 1` (release, native, 2026-11-26):
    /// (model, d_model, seq_len, batch, MiB); layers 2, heads 2, state 16, task mqar
    /// (kv_pairs 16, vocab 64). Re-measure with `scripts/bench_memory.sh`.
    const MEASURED_MIB: &[(&str, usize, usize, usize, u64)] = &[
        ("transformer", 64, 256, 32, 215),
        ("transformer", 64, 1024, 8, 217),
        ("transformer", 128, 256, 32, 413),
        ("transformer", 128, 1024, 8, 415),
        ("transformer", 256, 256, 32, 736),
        ("transformer", 256, 1024, 8, 738),
        ("dlr", 64, 256, 32, 178),
        ("dlr", 64, 1024, 8, 1387),
        ("dlr", 128, 256, 32, 331),
        ("dlr", 128, 1024, 8, 2764),
        ("dlr", 256, 256, 32, 649),
        ("dlr", 256, 1024, 8, 5513),
        ("s4d", 128, 1024, 8, 2764),
        ("lstm", 64, 256, 32, 313),
        ("lstm", 64, 1024, 8, 518),
        ("lstm", 128, 256, 32, 735),
        ("lstm", 128, 1024, 8, 1517),
        ("lstm", 256, 256, 32, 1928),
        ("gru", 256, 256, 32, 1454),
    ];

    #[test]
    fn memory_estimate_covers_measured_peaks_without_gross_overcounting() {
        for &(model, d, l, b, mib) in MEASURED_MIB {
            let pairs = [("kv_pairs", "16"), ("vocab", "64"), ("seq_len", &l.to_string())];
            let cfg = TrainConfig {
                model: model.into(),
                d_model: d,
                batch: b,
                layers: 2,
                heads: 2,
                state: 16,
                ..TrainConfig::default()
            }
            .with_task("mqar", &pairs);
            let dims = ModelDims { vocab: 64, features: 0, seq_len: l, out: 64 };
            let est = cfg.estimated_bytes(dims) >> 20;
            assert!(est >= mib, "{model} d{d} l{l} b{b}: estimate {est} MiB under the measured {mib} MiB");
            assert!(
                est as f64 <= 1.4 * mib as f64,
                "{model} d{d} l{l} b{b}: estimate {est} MiB vs measured {mib} MiB"
            );
        }
    }
}
