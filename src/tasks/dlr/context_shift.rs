//! Context Shift (Gupta, Mehta & Berant 2022, "Simplifying and Understanding State Space
//! Models with Diagonal Linear RNNs", the DLR synthetic suite): Shift, but the amount to shift
//! by is read from the input, so no single fixed kernel solves it. The paper reports that DLR
//! learns Shift perfectly yet fails here.
//!
//! Layout: position 0 holds a shift token encoding `s`, drawn uniformly from `0..=max_shift`
//! per sequence; positions `1..seq_len` hold data tokens drawn uniformly from `0..vocab`.
//!
//! Vocabulary: data tokens `0..vocab` (labelled by their number), then the shift tokens
//! `vocab + s` for `s in 0..=max_shift` (labelled `»s`); `vocab + max_shift + 1` input tokens.
//! Output classes are the data tokens `0..vocab`.
//!
//! Scored: position `t` iff `t - s >= 1` (the source is a data token, not the shift token);
//! its target is `x[t - s]`. `max_shift <= seq_len - 2` so every sequence has a target.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "context_shift",
    title: "Context Shift",
    family: "DLR suite",
    description: "shift the input by an amount given by the first token, different in every sequence",
    source: "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (Context Shift)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "shift token + data tokens; at least max_shift + 2",
        32,
        3,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "data tokens 0..vocab, drawn uniformly; also the number of classes",
        16,
        2,
        8192,
    ),
    ParamSpec::int(
        "max_shift",
        "Max shift",
        "shift s is uniform in 0..=max_shift, one token each; at most seq_len - 2",
        8,
        1,
        8192,
    ),
];

pub struct ContextShift {
    params: Params,
    seq_len: usize,
    vocab: usize,
    max_shift: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (seq_len, vocab, max_shift) =
        (params.usize("seq_len"), params.usize("vocab"), params.usize("max_shift"));
    let mut c = Checks::default();
    c.check(max_shift + 2 > seq_len, "max_shift", || {
        format!(
            "{max_shift} is too large for seq_len {seq_len}: a shift of {max_shift} after the shift token needs seq_len at least {}",
            max_shift + 2
        )
    });
    c.finish()?;
    Ok(Box::new(ContextShift { params, seq_len, vocab, max_shift }))
}

impl Task for ContextShift {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.seq_len,
            vocab: self.vocab + self.max_shift + 1,
            features: 0,
            output: Output::Classes { channels: 1, classes: self.vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let s = rng.below(self.max_shift as u64 + 1) as usize;
        row.inputs[0] = (self.vocab + s) as u32;
        for x in row.inputs[1..].iter_mut() {
            *x = rng.below(self.vocab as u64) as u32;
        }
        for t in s + 1..self.seq_len {
            row.targets[t] = row.inputs[t - s];
            row.mask[t] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        let t = token as usize;
        if t < self.vocab {
            t.to_string()
        } else {
            format!("»{}", t - self.vocab)
        }
    }

    fn class_label(&self, class: u32) -> String {
        class.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, f64)]) -> Result<Box<dyn Task>, ConfigError> {
        build(Params::with(PARAMS, pairs))
    }

    #[test]
    fn impossible_settings_name_the_parameter() {
        let e = with(&[("seq_len", 9.0), ("max_shift", 8.0)]).err().unwrap();
        assert!(e.for_field("max_shift").unwrap().contains("at least 10"), "{e}");
        assert!(with(&[("seq_len", 10.0), ("max_shift", 8.0)]).is_ok());
    }

    #[test]
    fn every_shift_occurs_and_labels_read() {
        let t = with(&[("max_shift", 3.0)]).unwrap();
        let b = t.generate(5, 200);
        let mut seen = [0; 4];
        for r in 0..b.batch {
            seen[b.row(r).inputs[0] as usize - 16] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
        assert_eq!(t.token_label(16 + 3), "»3");
        assert_eq!(t.token_label(7), "7");
    }

    #[test]
    fn largest_setting_generates() {
        let t = with(&[("seq_len", MAX_SEQ_LEN as f64), ("max_shift", 8192.0), ("vocab", 8192.0)]).unwrap();
        let b = t.generate(1, 2);
        assert!(b.scored() >= 2 * (MAX_SEQ_LEN - 8193));
    }
}
