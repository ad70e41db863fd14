//! Reverse and Sort (Gupta, Mehta & Berant 2022, "Simplifying and Understanding State Space
//! Models with Diagonal Linear RNNs", the DLR synthetic suite), padded to twice the length so
//! a causal model has read the whole input before it must answer. One generator, two
//! registry entries: they differ only in the order the answer is written in.
//!
//! Layout (`seq_len = 2 * length`): positions `0..length` hold data tokens drawn uniformly
//! from `0..vocab` (repeats allowed); positions `length..2*length` hold the pad token.
//!
//! Vocabulary: data tokens `0..vocab` (labelled by their number), pad `vocab` (labelled `·`);
//! `vocab + 1` input tokens. Output classes are the data tokens `0..vocab`.
//!
//! Scored: exactly the pad positions. Reverse: the target at `length + i` is
//! `x[length - 1 - i]`, so the second half spells the first backwards. Sort: the target at
//! `length + i` is the `i`-th smallest data token counting repeats, so the second half is the
//! first in non-decreasing order.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static REVERSE: TaskInfo = TaskInfo {
    name: "reverse",
    title: "Reverse",
    family: "DLR suite",
    description: "read a sequence, then write it backwards over the padding that follows",
    source:
        "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (Reverse)",
    params: PARAMS,
    build: |p| build(p, Order::Reversed),
};

pub static SORT: TaskInfo = TaskInfo {
    name: "sort",
    title: "Sort",
    family: "DLR suite",
    description: "read a sequence, then write its tokens in increasing order over the padding that follows",
    source: "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (Sort)",
    params: PARAMS,
    build: |p| build(p, Order::Sorted),
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "length",
        "Length",
        "data tokens; seq_len = 2 x length, answer on the pad half",
        16,
        1,
        MAX_SEQ_LEN as u64 / 2,
    ),
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "data tokens 0..vocab, drawn uniformly with repeats; pad is token vocab",
        16,
        2,
        8192,
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Reversed,
    Sorted,
}

pub struct Reorder {
    params: Params,
    order: Order,
    length: usize,
    vocab: usize,
}

fn build(params: Params, order: Order) -> Result<Box<dyn Task>, ConfigError> {
    // Both parameters are range-checked by their specs (2 x length <= MAX_SEQ_LEN by the
    // range of length); any pair of values is valid.
    let (length, vocab) = (params.usize("length"), params.usize("vocab"));
    Ok(Box::new(Reorder { params, order, length, vocab }))
}

impl Task for Reorder {
    fn info(&self) -> &'static TaskInfo {
        match self.order {
            Order::Reversed => &REVERSE,
            Order::Sorted => &SORT,
        }
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
            row.inputs[t] = rng.below(self.vocab as u64) as u32;
        }
        row.inputs[l..].fill(self.vocab as u32); // [length] pad
        row.mask[l..].fill(1.0);
        row.targets[l..].copy_from_slice(&row.inputs[..l]);
        match self.order {
            Order::Reversed => row.targets[l..].reverse(),
            Order::Sorted => row.targets[l..].sort_unstable(), // O(L log L), in place
        }
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

    fn task(info: &TaskInfo, pairs: &[(&str, &str)]) -> Box<dyn Task> {
        (info.build)(Params::from_pairs(PARAMS, pairs.iter().copied()).unwrap()).unwrap()
    }

    #[test]
    fn out_of_range_length_names_the_parameter() {
        let e = Params::from_pairs(PARAMS, [("length", "32769")]).unwrap_err();
        assert!(e.for_field("length").unwrap().contains("1..=32768"), "{e}");
    }

    #[test]
    fn reverse_writes_the_first_half_backwards() {
        let t = task(&REVERSE, &[("length", "5")]);
        assert_eq!(t.info().name, "reverse");
        let b = t.generate(2, 1);
        let x = &b.inputs;
        assert_eq!(&b.targets[5..], &[x[4], x[3], x[2], x[1], x[0]]);
        assert_eq!(t.token_label(16), "·");
    }

    #[test]
    fn sort_keeps_repeats_and_scores_only_the_answer() {
        let t = task(&SORT, &[("length", "12"), ("vocab", "3")]);
        assert_eq!(t.info().name, "sort");
        let b = t.generate(4, 1);
        let mut x = b.inputs[..12].to_vec();
        x.sort();
        assert_eq!(&b.targets[12..], &x[..]);
        assert!(b.targets[..12].iter().all(|&y| y == 0) && b.mask[..12].iter().all(|&m| m == 0.0));
    }

    #[test]
    fn largest_setting_generates() {
        for info in [&REVERSE, &SORT] {
            let t = task(info, &[("length", "32768"), ("vocab", "8192")]);
            let b = t.generate(1, 1);
            assert_eq!(b.seq_len, MAX_SEQ_LEN);
            assert_eq!(b.scored(), MAX_SEQ_LEN / 2);
        }
    }
}
