//! Copy or Reverse, chosen per sequence by a task token: the steering lab's flagship task. A
//! model trained on the mixture must carry "which task am I doing" in its residual stream;
//! the difference of mean activations between reverse-mode and copy-mode inputs is then a
//! task direction, and adding it to a copy-mode input should make the model reverse
//! (Physics Steering's recipe on a toy we can check exactly).
//!
//! Layout (`seq_len = 2 * length + 1`): position 0 holds the task token — `vocab` (COPY) or
//! `vocab + 1` (REVERSE); positions `1..=length` hold data tokens drawn uniformly from
//! `0..vocab`; positions `length+1..` hold the pad token `vocab + 2`. Inputs: `vocab + 3`
//! tokens; outputs: the data tokens `0..vocab`.
//!
//! Scored: exactly the pad positions. The target at `length + 1 + i` is `x[1 + i]` (copy) or
//! `x[length - i]` (reverse). `mode` picks the mixture (each sequence's task drawn with
//! probability ½) or one task only (for building the two input sets of a direction).

use crate::core::{ConfigError, Rng};
use crate::tasks::{Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "copy_reverse",
    title: "Copy or Reverse",
    family: "DLR suite",
    description: "a task token says whether to copy the sequence or write it backwards over the padding",
    source: "interlab's steering flagship, after Gupta et al. 2022 (Reverse) and Physics Steering (task directions)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "length",
        "Length",
        "data tokens; seq_len = 2 x length + 1 (task token first)",
        8,
        1,
        (MAX_SEQ_LEN as u64 - 1) / 2,
    ),
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "data tokens 0..vocab; COPY = vocab, REVERSE = vocab+1, pad = vocab+2",
        16,
        2,
        8192,
    ),
    ParamSpec::choice(
        "mode",
        "Mode",
        "mixed: each sequence copies or reverses with probability 1/2; or one task only",
        0,
        MODES,
    ),
];

const MODES: &[&str] = &["mixed", "copy", "reverse"];

pub struct CopyReverse {
    params: Params,
    length: usize,
    vocab: usize,
    mode: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (length, vocab, mode) = (params.usize("length"), params.usize("vocab"), params.usize("mode"));
    Ok(Box::new(CopyReverse { params, length, vocab, mode }))
}

impl Task for CopyReverse {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn shape(&self) -> Shape {
        Shape {
            seq_len: 2 * self.length + 1,
            vocab: self.vocab + 3,
            features: 0,
            output: Output::Classes { channels: 1, classes: self.vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let (l, v) = (self.length, self.vocab);
        let reverse = match self.mode {
            1 => false,
            2 => true,
            _ => rng.below(2) == 1,
        };
        row.inputs[0] = (v + reverse as usize) as u32;
        for t in 1..=l {
            row.inputs[t] = rng.below(v as u64) as u32;
        }
        row.inputs[l + 1..].fill((v + 2) as u32);
        row.mask[l + 1..].fill(1.0);
        for i in 0..l {
            row.targets[l + 1 + i] = row.inputs[if reverse { l - i } else { 1 + i }];
        }
    }

    fn token_label(&self, token: u32) -> String {
        match token as usize {
            t if t == self.vocab => "COPY".into(),
            t if t == self.vocab + 1 => "REV".into(),
            t if t == self.vocab + 2 => "·".into(),
            t => t.to_string(),
        }
    }
}
