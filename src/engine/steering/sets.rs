//! The steering panel's input sets, as one line of text each (so a link carries them):
//!
//! - `mode=reverse` — the run's task with these parameters changed (comma- or space-separated
//!   `key=value`; empty: the run's task as it is). `task=NAME, key=value` names another task
//!   whose tokens the model can read.
//! - `tokens: 16 3 5 | 17 3 5` — sequences written out, separated by `|` or new lines; a token
//!   is its number or its label as the task shows it (e.g. `COPY`).
//!
//! A task set is generated from a seed (so two sets of one regime and different seeds are a
//! random split, the null baseline); a token set is used as written.

use candle_core::{Device, Tensor};

use crate::tasks::{self, Task};

/// `set A: mode: 'sideways' is not one of …` (each field error, without the generic prefix).
fn named(field: &str, e: crate::core::ConfigError) -> String {
    format!("{field}: {}", e.errors.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("; "))
}

/// One input set, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum InputSet {
    /// The task `name` with `pairs` over its parameters (the run's own values where the task
    /// is the run's).
    Task { name: String, pairs: Vec<(String, String)> },
    /// Sequences written out, all of one length.
    Tokens(Vec<Vec<u32>>),
}

/// Per row: the targets of the first output channel, and whether each position is scored.
pub type Targets = (Vec<Vec<u32>>, Vec<Vec<bool>>);

/// A set made concrete: its tokens, and (task sets) each row's targets and scored positions.
pub struct Materialized {
    /// `[n, l]` u32.
    pub tokens: Tensor,
    pub rows: Vec<Vec<u32>>,
    /// Task sets: `[n][l]` targets of the first output channel and whether each is scored.
    pub targets: Option<Targets>,
    /// Output classes of the task the targets come from.
    pub classes: usize,
    /// For messages: `mode=reverse (64 sequences of 17)`.
    pub desc: String,
}

impl Materialized {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn seq_len(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }

    /// The first `k` rows as a set of their own.
    pub fn head(&self, k: usize) -> Result<Materialized, String> {
        let k = k.min(self.len());
        let rows = self.rows[..k].to_vec();
        Ok(Materialized {
            tokens: self.tokens.narrow(0, 0, k).map_err(|e| e.to_string())?,
            targets: self.targets.as_ref().map(|(t, m)| (t[..k].to_vec(), m[..k].to_vec())),
            classes: self.classes,
            desc: self.desc.clone(),
            rows,
        })
    }
}

/// What the model accepts: its input vocabulary and (for models with learned positions)
/// the longest sequence.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub vocab: usize,
    pub max_len: Option<usize>,
}

impl InputSet {
    /// Read one set's text; `field` names it in errors (e.g. `set A`).
    pub fn parse(text: &str, field: &str, run_task: &dyn Task) -> Result<InputSet, String> {
        let t = text.trim();
        if let Some(body) = t.strip_prefix("tokens:") {
            return parse_tokens(body, field, run_task);
        }
        let mut name = run_task.info().name.to_string();
        let mut pairs: Vec<(String, String)> =
            run_task.params().to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        for item in t.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return Err(format!(
                    "{field}: '{item}' is not key=value (or start the set with 'tokens:' to write sequences)"
                ));
            };
            if k == "task" {
                tasks::find(v).map_err(|e| format!("{field}: {e}"))?;
                if v != name {
                    pairs.clear(); // another task starts from its own defaults
                }
                name = v.to_string();
            } else if let Some(p) = pairs.iter_mut().find(|(pk, _)| pk == k) {
                p.1 = v.to_string();
            } else {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        let info = tasks::find(&name).map_err(|e| format!("{field}: {e}"))?;
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !info.params.iter().any(|p| p.key == k)) {
            let keys: Vec<&str> = info.params.iter().map(|p| p.key).collect();
            return Err(format!("{field}: '{k}' is not a parameter of {name} ({})", keys.join(", ")));
        }
        // Build once now, so a bad parameter is reported when the set is read.
        tasks::build(&name, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| named(field, e))?;
        Ok(InputSet::Task { name, pairs })
    }

    /// `n` sequences from `seed` (task sets), or the written sequences, checked against the
    /// model's `limits`.
    pub fn build(&self, field: &str, seed: u64, n: usize, limits: Limits) -> Result<Materialized, String> {
        let (rows, targets, classes, desc) = match self {
            InputSet::Tokens(rows) => (
                rows.clone(),
                None,
                0,
                format!("{} written sequences of {}", rows.len(), rows.first().map_or(0, Vec::len)),
            ),
            InputSet::Task { name, pairs } => {
                let task = tasks::build(name, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .map_err(|e| named(field, e))?;
                let shape = task.shape();
                if shape.features > 0 {
                    return Err(format!(
                        "{field}: {name} has continuous inputs; steering needs token inputs"
                    ));
                }
                if shape.vocab > limits.vocab {
                    return Err(format!(
                        "{field}: {name} uses {} input tokens, the model reads {}",
                        shape.vocab, limits.vocab
                    ));
                }
                if n == 0 {
                    return Err(format!("{field}: an empty input set (0 sequences)"));
                }
                tasks::check_batch(&shape, n).map_err(|e| named(field, e))?;
                let b = task.generate(seed, n);
                let (l, c) = (b.seq_len, b.channels);
                let rows: Vec<Vec<u32>> = (0..n).map(|r| b.inputs[r * l..(r + 1) * l].to_vec()).collect();
                let t = (0..n).map(|r| (0..l).map(|p| b.targets[(r * l + p) * c]).collect()).collect();
                let m = (0..n).map(|r| (0..l).map(|p| b.mask[(r * l + p) * c] > 0.0).collect()).collect();
                let classes = match shape.output {
                    tasks::Output::Classes { classes, .. } => classes,
                    _ => 0,
                };
                let changed: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (
                    rows,
                    Some((t, m)),
                    classes,
                    format!("{name} {} ({n} sequences of {l}, seed {seed})", changed.join(" ")),
                )
            }
        };
        let l = rows.first().map_or(0, Vec::len);
        if let Some(max) = limits.max_len.filter(|&m| l > m) {
            return Err(format!("{field}: sequences of {l} tokens, the model was trained on at most {max}"));
        }
        if rows.is_empty() || l == 0 {
            return Err(format!("{field}: an empty input set"));
        }
        let flat: Vec<u32> = rows.iter().flatten().copied().collect();
        let tokens =
            Tensor::from_vec(flat, (rows.len(), l), &Device::Cpu).map_err(|e| format!("{field}: {e}"))?; // [n, l]
        Ok(Materialized { tokens, rows, targets, classes, desc })
    }
}

fn parse_tokens(body: &str, field: &str, task: &dyn Task) -> Result<InputSet, String> {
    let vocab = task.shape().vocab;
    let mut rows: Vec<Vec<u32>> = Vec::new();
    for (i, line) in body.split(['|', '\n']).map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let row = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|tok| match tok.parse::<u32>() {
                Ok(id) if (id as usize) < vocab => Ok(id),
                Ok(id) => {
                    Err(format!("{field}: sequence {}: token {id} outside the vocabulary 0..{vocab}", i + 1))
                }
                Err(_) => (0..vocab as u32).find(|&id| task.token_label(id) == tok).ok_or_else(|| {
                    format!(
                        "{field}: sequence {}: '{tok}' is neither a token number nor a label of {}",
                        i + 1,
                        task.info().name
                    )
                }),
            })
            .collect::<Result<Vec<u32>, String>>()?;
        if let Some(first) = rows.first().filter(|f| f.len() != row.len()) {
            return Err(format!(
                "{field}: sequence {} has {} tokens, sequence 1 has {}: write sequences of one length",
                i + 1,
                row.len(),
                first.len()
            ));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(format!("{field}: 'tokens:' with no sequences after it"));
    }
    Ok(InputSet::Tokens(rows))
}

/// Default sets for a task: its two single-regime settings where a choice parameter has a
/// `mixed` option (e.g. Copy-or-Reverse: `mode=reverse` vs `mode=copy`), else its first two
/// options of a choice, else the task twice (a random split: the null baseline).
pub fn defaults(info: &tasks::TaskInfo) -> (String, String) {
    for p in info.params {
        if let tasks::ParamKind::Choice(opts) = p.kind {
            let rest: Vec<&str> = opts.iter().copied().filter(|o| *o != "mixed").collect();
            if rest.len() >= 2 {
                let (a, b) = if opts.contains(&"mixed") {
                    (rest[rest.len() - 1], rest[0])
                } else {
                    (rest[1], rest[0])
                };
                return (format!("{}={a}", p.key), format!("{}={b}", p.key));
            }
        }
    }
    (String::new(), String::new())
}
