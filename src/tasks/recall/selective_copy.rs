//! Selective copying (MAD; Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
//! Architectures"; after Gu & Dao's selective copying in Mamba).
//!
//! Layout, `seq_len = data_len + copy`: a data region of `data_len` positions holding `copy`
//! data tokens at random distinct positions (kept in order) and a blank everywhere else,
//! then `copy` positions each holding the copy token. The target at the i-th copy position
//! is the i-th data token in order; only the copy positions are scored.
//!
//! Vocabulary: data tokens `0..vocab` ("3"), blank `vocab` ("·"), copy token `vocab+1`
//! ("?"). Classes are the input vocabulary. Data tokens are drawn uniformly with repetition.
//!
//! MAD marks the start of the answer with one copy token followed by blanks; here every
//! answer position holds the copy token, which tells the model the same thing.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "selective_copy",
    title: "Selective copying",
    family: "Recall",
    description: "copy the data tokens scattered among blanks, in order, skipping the blanks",
    source: "Poli et al. 2024, MAD (athms/mad-lab, selective copying); Gu & Dao 2023, Mamba",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "data_len",
        "Data region",
        "positions holding the data tokens and blanks; at least copy",
        32,
        1,
        MAX_SEQ_LEN as u64 - 1,
    ),
    ParamSpec::int(
        "copy",
        "Tokens to copy",
        "data tokens to find and copy; seq_len = data_len + copy",
        8,
        1,
        4096,
    ),
    ParamSpec::int("vocab", "Vocabulary", "distinct data tokens (plus blank and copy tokens)", 16, 1, 8192),
];

pub struct SelectiveCopy {
    params: Params,
    data_len: usize,
    copy: usize,
    vocab: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (data_len, copy, vocab) = (params.usize("data_len"), params.usize("copy"), params.usize("vocab"));
    let mut c = Checks::default();
    c.check(copy > data_len, "copy", || {
        format!("{copy} data tokens do not fit in a data region of {data_len} positions")
    });
    c.check(data_len + copy > MAX_SEQ_LEN, "data_len", || {
        format!("data_len + copy = {} is over the longest sequence, {MAX_SEQ_LEN}", data_len + copy)
    });
    c.finish()?;
    Ok(Box::new(SelectiveCopy { params, data_len, copy, vocab }))
}

impl Task for SelectiveCopy {
    task_meta!();

    fn shape(&self) -> Shape {
        let vocab = self.vocab + 2;
        Shape {
            seq_len: self.data_len + self.copy,
            vocab,
            features: 0,
            output: Output::Classes { channels: 1, classes: vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let (l, k) = (self.data_len, self.copy);
        let mut slots = rng.distinct(l, k); // [copy] data positions
        slots.sort_unstable();
        row.inputs[..l].fill(self.vocab as u32);
        for (i, &s) in slots.iter().enumerate() {
            let x = rng.below(self.vocab as u64) as u32;
            row.inputs[s] = x;
            row.inputs[l + i] = self.vocab as u32 + 1;
            row.targets[l + i] = x;
            row.mask[l + i] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        match token as usize {
            t if t < self.vocab => format!("{t}"),
            t if t == self.vocab => "·".into(),
            _ => "?".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_copies_than_room_names_copy() {
        let mut p = Params::defaults(PARAMS);
        p.set("data_len", 4.0);
        p.set("copy", 5.0);
        let e = build(p).err().unwrap();
        assert!(
            e.for_field("copy").unwrap().contains("5 data tokens do not fit in a data region of 4"),
            "{e}"
        );
    }

    #[test]
    fn answer_lists_the_data_tokens_in_order() {
        let t = build(Params::defaults(PARAMS)).unwrap();
        let b = t.generate(5, 4);
        for r in 0..4 {
            let row = b.row(r);
            let data: Vec<u32> = row.inputs[..32].iter().copied().filter(|&x| x < 16).collect();
            assert_eq!(data, row.targets[32..].to_vec());
        }
    }
}
