//! The run configuration and the one table through which it is read from and written to the
//! URL (and the UI's form). Adding a knob is one row in `FIELDS`: its key, label, unit, valid
//! range, and how to read/write it. Validation of relations between fields lives in
//! `TrainConfig::validate`.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, FieldError};

/// Training memory the lab allows itself (parameters, optimiser state and activations,
/// estimated by `TrainConfig::estimated_bytes`). Chosen to stay well inside a browser tab.
pub const MEMORY_BUDGET_BYTES: u64 = 512 * 1024 * 1024;

/// Everything that defines a training run of the first slice: MQAR task, Transformer, AdamW.
/// Together with the crate version this reproduces a run exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Seed for weights, training data and the held-out set.
    pub seed: u64,
    // --- task (MQAR) ---
    /// Vocabulary size: token 0 is filler, then keys, then values.
    pub vocab: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Key-value pairs per sequence (each is queried once).
    pub kv_pairs: usize,
    // --- model (causal Transformer) ---
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

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 1,
            vocab: 32,
            seq_len: 24,
            kv_pairs: 4,
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
    int_field!("layers", "Layers", "Transformer blocks", 1, 12, layers),
    int_field!("heads", "Heads", "attention heads per block; must divide d_model", 1, 16, heads),
    int_field!("d_model", "d_model", "width of the residual stream", 4, 512, d_model),
    Field {
        key: "lr",
        label: "Learning rate",
        help: "peak AdamW learning rate (after warmup)",
        kind: Kind::Float { min_exclusive: 0.0, max: 1.0 },
        get: |c| c.lr,
        set: |c, v| c.lr = v,
    },
    int_field!("batch", "Batch", "sequences per step", 1, 512, batch),
    int_field!("seq_len", "Sequence length", "tokens per sequence; at least 3 x kv pairs", 4, 4096, seq_len),
    int_field!("kv_pairs", "KV pairs", "key-value pairs per sequence, each queried once", 1, 256, kv_pairs),
    int_field!("vocab", "Vocabulary", "filler + keys + values; keys = (vocab-1)/2 >= kv pairs", 4, 8192, vocab),
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
    /// Build a config from key/value text pairs (URL query or form): defaults for missing
    /// keys, every bad value reported with its field. Keys not in the table are ignored here
    /// (the caller owns app-level keys such as `autorun`).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ConfigError> {
        let mut cfg = TrainConfig::default();
        let mut errors = Vec::new();
        for (k, v) in pairs {
            if let Some(field) = FIELDS.iter().find(|f| f.key == k) {
                match parse_field(field, v) {
                    Ok(x) => (field.set)(&mut cfg, x),
                    Err(e) => errors.push(e),
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

    /// The config as `key=value` pairs in table order (for a share link).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        FIELDS.iter().map(|f| (f.key, format_field(f, self))).collect()
    }

    /// Relations between fields and the memory budget. Collects all problems.
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
        if self.batch == 0 {
            err("batch", "must be at least 1".into());
        }
        if self.kv_pairs == 0 {
            err("kv_pairs", "must be at least 1".into());
        }
        if self.seq_len < 3 * self.kv_pairs {
            err(
                "seq_len",
                format!(
                    "{} is too short for {} kv pairs: need {} pair tokens plus {} query slots (at least {})",
                    self.seq_len,
                    self.kv_pairs,
                    2 * self.kv_pairs,
                    self.kv_pairs,
                    3 * self.kv_pairs
                ),
            );
        }
        let keys = self.vocab.saturating_sub(1) / 2;
        if keys < self.kv_pairs {
            err(
                "vocab",
                format!("{} gives {keys} distinct keys, fewer than {} kv pairs", self.vocab, self.kv_pairs),
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            err("lr", format!("{} must be a positive number", self.lr));
        }
        if self.warmup >= self.steps {
            err("warmup", format!("{} must be fewer than steps ({})", self.warmup, self.steps));
        }
        let bytes = self.estimated_bytes();
        if bytes > MEMORY_BUDGET_BYTES {
            err(
                "seq_len",
                format!(
                    "this run needs about {} MiB, over the {} MiB budget; reduce seq_len, batch, heads or d_model",
                    bytes / (1024 * 1024),
                    MEMORY_BUDGET_BYTES / (1024 * 1024)
                ),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors })
        }
    }

    /// Parameter count of the Transformer this config builds.
    pub fn param_count(&self) -> u64 {
        let (v, l, d, n) = (self.vocab as u64, self.seq_len as u64, self.d_model as u64, self.layers as u64);
        let per_block = 4 * d * d /* attn */ + 8 * d * d /* mlp */ + 2 * d /* norm gains */;
        v * d + l * d + n * per_block + d + d * v
    }

    /// A conservative estimate of training memory in bytes: parameters with gradients and
    /// two Adam moments, plus activations kept for the backward pass (including the
    /// B x H x L x L attention scores and probabilities, and their gradients).
    pub fn estimated_bytes(&self) -> u64 {
        let (b, l, d, h) = (self.batch as u64, self.seq_len as u64, self.d_model as u64, self.heads as u64);
        let params = self.param_count() * 4 * 4;
        let per_layer = b * l * d * 20 + b * h * l * l * 4;
        let head = b * l * self.vocab as u64 * 4;
        params + (self.layers as u64 * per_layer + head) * 4 * 2
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
        let back = TrainConfig::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
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
        let e = TrainConfig::from_pairs([("seq_len", "10"), ("kv_pairs", "8")]).unwrap_err();
        assert!(e.for_field("seq_len").is_some(), "{e}");
        let e = TrainConfig::from_pairs([("vocab", "9"), ("kv_pairs", "8")]).unwrap_err();
        assert!(e.for_field("vocab").is_some(), "{e}");
    }

    #[test]
    fn memory_budget_rejects_long_sequences() {
        let e = TrainConfig::from_pairs([("seq_len", "4096"), ("batch", "64")]).unwrap_err();
        let msg = e.for_field("seq_len").unwrap();
        assert!(msg.contains("MiB"), "{msg}");
    }
}
