//! Compression (MAD; Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
//! Architectures"), as position-indexed recall.
//!
//! Layout, `seq_len = 2 x length + 1`: `length` random data tokens, a compress token, then
//! `length` query positions holding the position-index tokens `@0..@length-1` in a random
//! order. The target at a query holding `@i` is the data token at position `i`; only the
//! query positions are scored.
//!
//! Vocabulary: data tokens `0..vocab` ("3"), compress token `vocab` ("⊙"), index tokens
//! `vocab+1+i` ("@i"), so the input vocabulary grows with `length`. Classes are the input
//! vocabulary. Data tokens are drawn uniformly with repetition.
//!
//! In MAD the model reads the data and the compression token, and a small decoder has to
//! reconstruct the whole sequence from the compression token's output alone, so everything
//! must squeeze through one vector. Our causal models can still attend back to the data at
//! every query, so this version does not force that bottleneck: it measures recall of a
//! token by its position after a compression marker.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo};

pub static INFO: TaskInfo = TaskInfo {
    name: "compression",
    title: "Compression",
    family: "Recall",
    description: "after a compress token, recall the data token at each queried position",
    source: "Poli et al. 2024, MAD (athms/mad-lab, compression), as position-indexed recall",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "length",
        "Data length",
        "data tokens; seq_len = 2 x length + 1 and one index token per position",
        16,
        1,
        4096,
    ),
    ParamSpec::int("vocab", "Vocabulary", "distinct data tokens", 16, 1, 8192),
];

pub struct Compression {
    params: Params,
    length: usize,
    vocab: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (length, vocab) = (params.usize("length"), params.usize("vocab"));
    // The ranges alone keep 2 x length + 1 and the vocabulary small: no relation to check.
    Ok(Box::new(Compression { params, length, vocab }))
}

impl Task for Compression {
    task_meta!();

    fn shape(&self) -> Shape {
        let vocab = self.vocab + 1 + self.length;
        Shape {
            seq_len: 2 * self.length + 1,
            vocab,
            features: 0,
            output: Output::Classes { channels: 1, classes: vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let l = self.length;
        for x in row.inputs[..l].iter_mut() {
            *x = rng.below(self.vocab as u64) as u32;
        }
        row.inputs[l] = self.vocab as u32;
        let order = rng.distinct(l, l); // [length] queried positions, a random permutation
        for (j, &i) in order.iter().enumerate() {
            let q = l + 1 + j;
            row.inputs[q] = (self.vocab + 1 + i) as u32;
            row.targets[q] = row.inputs[i];
            row.mask[q] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        match token as usize {
            t if t < self.vocab => format!("{t}"),
            t if t == self.vocab => "⊙".into(),
            t => format!("@{}", t - self.vocab - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_length_names_length() {
        let e = crate::tasks::build("compression", [("length", "5000")]).err().unwrap();
        assert!(e.for_field("length").unwrap().contains("1..=4096"), "{e}");
    }

    #[test]
    fn queries_are_a_permutation_and_labels_read() {
        let t = build(Params::defaults(PARAMS)).unwrap();
        let b = t.generate(2, 1);
        let mut q: Vec<u32> = b.inputs[17..].to_vec();
        q.sort_unstable();
        assert_eq!(q, (17..33).collect::<Vec<u32>>());
        assert_eq!(t.token_label(16), "⊙");
        assert_eq!(t.token_label(20), "@3");
    }
}
