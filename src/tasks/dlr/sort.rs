//! Sort (Gupta, Mehta & Berant 2022, "Simplifying and Understanding State Space Models with
//! Diagonal Linear RNNs", the DLR synthetic suite), padded to twice the length so a causal
//! model has read the whole input before it must answer.
//!
//! Layout (`seq_len = 2 * length`): positions `0..length` hold data tokens drawn uniformly
//! from `0..vocab` (repeats allowed); positions `length..2*length` hold the pad token.
//!
//! Vocabulary: data tokens `0..vocab` ordered by id (labelled by their number), pad `vocab`
//! (labelled `·`); `vocab + 1` input tokens. Output classes are the data tokens `0..vocab`.
//!
//! Scored: exactly the pad positions; the target at `length + i` is the `i`-th smallest data
//! token counting repeats, so the second half is the first half in non-decreasing order.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "sort",
    title: "Sort",
    family: "DLR suite",
    description: "read a sequence, then write its tokens in increasing order over the padding that follows",
    source: "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (Sort)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int("length", "Length", "data tokens; seq_len = 2 x length, answer on the pad half", 16, 1, MAX_SEQ_LEN as u64 / 2),
    ParamSpec::int("vocab", "Vocabulary", "data tokens 0..vocab, drawn uniformly with repeats; pad is token vocab", 16, 2, 8192),
];

pub struct Sort {
    params: Params,
    length: usize,
    vocab: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    // Both parameters are range-checked by their specs (2 x length <= MAX_SEQ_LEN by the
    // range of length); any pair of values is valid.
    let (length, vocab) = (params.usize("length"), params.usize("vocab"));
    Ok(Box::new(Sort { params, length, vocab }))
}

impl Task for Sort {
    fn info(&self) -> &'static TaskInfo {
        &INFO
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn shape(&self) -> Shape {
        Shape {
            seq_len: 2 * self.length,
            vocab: self.vocab + 1,
            features: 0,
            output: Output::Classes { channels: 1, classes: self.vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let l = self.length;
        for t in 0..l {
            let x = rng.below(self.vocab as u64) as u32;
            row.inputs[t] = x;
            row.inputs[l + t] = self.vocab as u32;
            row.targets[l + t] = x;
            row.mask[l + t] = 1.0;
        }
        // Sort the answer half in place: O(L log L), no allocation.
        row.targets[l..].sort_unstable();
    }

    fn token_label(&self, token: u32) -> String {
        if token as usize == self.vocab {
            "·".into()
        } else {
            token.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_length_names_the_parameter() {
        let e = Params::from_pairs(PARAMS, [("length", "0")]).unwrap_err();
        assert!(e.for_field("length").unwrap().contains("1..=32768"), "{e}");
    }

    #[test]
    fn answer_is_sorted_and_keeps_repeats() {
        let t = build(Params::from_pairs(PARAMS, [("length", "12"), ("vocab", "3")]).unwrap()).unwrap();
        let b = t.generate(4, 1);
        let mut x = b.inputs[..12].to_vec();
        x.sort();
        assert_eq!(&b.targets[12..], &x[..]);
        assert!(b.targets[..12].iter().all(|&y| y == 0) && b.mask[..12].iter().all(|&m| m == 0.0));
    }

    #[test]
    fn largest_setting_generates() {
        let t = build(Params::from_pairs(PARAMS, [("length", "32768"), ("vocab", "8192")]).unwrap()).unwrap();
        let b = t.generate(1, 1);
        assert_eq!(b.scored(), MAX_SEQ_LEN / 2);
        assert!(b.targets[MAX_SEQ_LEN / 2..].windows(2).all(|w| w[0] <= w[1]));
    }
}
