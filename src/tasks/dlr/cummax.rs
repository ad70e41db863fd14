//! CumMax (Gupta, Mehta & Berant 2022, "Simplifying and Understanding State Space Models with
//! Diagonal Linear RNNs", the DLR synthetic suite): output the running maximum of the input.
//!
//! Layout: `seq_len` data tokens drawn uniformly from `0..vocab`.
//!
//! Vocabulary: input tokens and output classes are the data tokens `0..vocab`, ordered by id
//! and labelled by their number.
//!
//! Scored: every position; the target at `t` is `max_{s <= t} x_s` (a token id).
//!
//! Deviation: the paper's CumMax may be stated over real-valued inputs; we use tokens so
//! the output is a classification and accuracy is meaningful. The running max is
//! non-decreasing and saturates near `vocab - 1` after about `vocab` positions, so larger
//! `vocab` keeps the task informative over longer sequences.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "cummax",
    title: "CumMax",
    family: "DLR suite",
    description: "output the largest token seen so far at every position",
    source:
        "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (CumMax)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence; every position is scored",
        32,
        1,
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
];

pub struct CumMax {
    params: Params,
    seq_len: usize,
    vocab: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    // Both parameters are range-checked by their specs; any pair of values is valid.
    let (seq_len, vocab) = (params.usize("seq_len"), params.usize("vocab"));
    Ok(Box::new(CumMax { params, seq_len, vocab }))
}

impl Task for CumMax {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.seq_len,
            vocab: self.vocab,
            features: 0,
            output: Output::Classes { channels: 1, classes: self.vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let mut best = 0u32;
        for t in 0..self.seq_len {
            let x = rng.below(self.vocab as u64) as u32;
            row.inputs[t] = x;
            best = best.max(x);
            row.targets[t] = best;
            row.mask[t] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        token.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_vocab_names_the_parameter() {
        let e = Params::from_pairs(PARAMS, [("vocab", "1")]).unwrap_err();
        assert!(e.for_field("vocab").unwrap().contains("2..=8192"), "{e}");
    }

    #[test]
    fn targets_are_non_decreasing_and_start_at_the_first_token() {
        let t = build(Params::defaults(PARAMS)).unwrap();
        let b = t.generate(9, 8);
        for r in 0..b.batch {
            let row = b.row(r);
            assert_eq!(row.targets[0], row.inputs[0]);
            assert!(row.targets.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn largest_setting_generates() {
        let t =
            build(Params::from_pairs(PARAMS, [("seq_len", "65536"), ("vocab", "8192")]).unwrap()).unwrap();
        let b = t.generate(1, 1);
        assert_eq!(b.scored(), MAX_SEQ_LEN);
        assert_eq!(b.targets[MAX_SEQ_LEN - 1], *b.inputs.iter().max().unwrap());
    }
}
