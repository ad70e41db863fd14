//! One generated sequence as data other tools can read (the gallery's `task-example` JSON
//! and `interlab tasks sample`) and as text a person can read.
//!
//! JSON: `{"task", "params", "seed", "shape", "inputs", "features"?, "targets", "mask"}`.
//! `inputs` is `[seq_len]` token ids; `features` (continuous tasks) is `[seq_len][features]`;
//! `targets` is class ids (classification) or real values (regression), `[seq_len]` for one
//! output channel and `[seq_len][channels]` for several; `mask` has the shape of `targets`.

use serde_json::{json, Map, Value};

use super::{Batch, Output, Task};

/// Positions shown by `render_text` before it summarises the rest.
pub const TEXT_POSITIONS: usize = 48;

#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub task: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub seed: u64,
    pub output: Output,
    /// A batch of exactly one sequence.
    pub batch: Batch,
}

impl Example {
    /// The first sequence of `task.generate(seed, 1)`.
    pub fn new(task: &dyn Task, seed: u64) -> Self {
        Example {
            task: task.info().name,
            params: task.params().to_pairs(),
            seed,
            output: task.shape().output,
            batch: task.generate(seed, 1),
        }
    }

    /// Scored flag per position (any channel scored).
    pub fn scored_positions(&self) -> Vec<bool> {
        let c = self.batch.channels;
        (0..self.batch.seq_len)
            .map(|p| self.batch.mask[p * c..(p + 1) * c].iter().any(|&m| m > 0.0))
            .collect()
    }

    pub fn to_value(&self) -> Value {
        let b = &self.batch;
        let (l, c, f) = (b.seq_len, b.channels, b.features);
        let per_channel = |xs: Vec<Value>| -> Value {
            if c == 1 {
                Value::Array(xs)
            } else {
                Value::Array(xs.chunks(c).map(|ch| Value::Array(ch.to_vec())).collect())
            }
        };
        let targets: Vec<Value> = match self.output {
            Output::Classes { .. } => b.targets.iter().map(|&t| json!(t)).collect(),
            Output::Regression { .. } => b.values.iter().map(|&v| json!(v)).collect(),
        };
        let mask: Vec<Value> = b.mask.iter().map(|&m| json!(m as u8)).collect();
        let params: Map<String, Value> =
            self.params.iter().map(|(k, v)| (k.to_string(), Value::String(v.clone()))).collect();
        let (kind, classes) = match self.output {
            Output::Classes { classes, .. } => ("classes", Some(classes)),
            Output::Regression { .. } => ("regression", None),
        };
        let mut obj = Map::new();
        obj.insert("task".into(), json!(self.task));
        obj.insert("params".into(), Value::Object(params));
        obj.insert("seed".into(), json!(self.seed));
        obj.insert(
            "shape".into(),
            json!({"seq_len": l, "features": f, "channels": c, "output": kind, "classes": classes}),
        );
        obj.insert("inputs".into(), json!(b.inputs));
        if f > 0 {
            obj.insert(
                "features".into(),
                Value::Array(b.features_data.chunks(f).map(|r| json!(r)).collect()),
            );
        }
        obj.insert("targets".into(), per_channel(targets));
        obj.insert("mask".into(), per_channel(mask));
        Value::Object(obj)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Aligned columns `pos | input | target(s)` for the first `TEXT_POSITIONS` positions;
    /// unscored targets print as `_`.
    pub fn render_text(&self, task: &dyn Task) -> String {
        let b = &self.batch;
        let (l, c, f) = (b.seq_len, b.channels, b.features);
        let mut out =
            format!("{} seed={} ({} positions, {} scored)\n", self.task, self.seed, l, self.batch.scored());
        for p in 0..l.min(TEXT_POSITIONS) {
            let mut input = task.token_label(b.inputs[p]);
            if f > 0 {
                let vals: Vec<String> =
                    b.features_data[p * f..(p + 1) * f].iter().map(|v| format!("{v:+.3}")).collect();
                input = format!("{input} [{}]", vals.join(" "));
            }
            let targets: Vec<String> = (0..c)
                .map(|ch| {
                    let i = p * c + ch;
                    if b.mask[i] <= 0.0 {
                        "_".to_string()
                    } else if self.output.is_regression() {
                        format!("{:+.3}", b.values[i])
                    } else {
                        task.class_label(b.targets[i])
                    }
                })
                .collect();
            out.push_str(&format!("{p:>5}  {input:<16} -> {}\n", targets.join(" ")));
        }
        if l > TEXT_POSITIONS {
            out.push_str(&format!("  ... {} more positions\n", l - TEXT_POSITIONS));
        }
        out
    }
}
