//! Memorization (MAD; Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
//! Architectures").
//!
//! One fixed key -> value table is shared by every sequence (drawn once from `table_seed`),
//! so the mapping cannot be read from context: it has to be stored in the weights. A row is
//! pairs `key ·`: a key drawn uniformly with repetition, then a blank. The target at each key
//! position is `table[key]`; every key position is scored, blanks never are.
//!
//! Vocabulary: input keys `0..keys` ("k0", ...), blank `keys` ("·"). Output classes are the
//! values `0..values` ("v0", ...), drawn uniformly with repetition for each key.
//!
//! MAD scores the value at the blank (insert) token after the key; scoring it at the key
//! itself asks the same question one position earlier, with the same information.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "memorization",
    title: "Memorization",
    family: "Recall",
    description: "a fixed key-value table shared by all sequences: learn it into the weights",
    source: "Poli et al. 2024, MAD (athms/mad-lab, memorization)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int("keys", "Keys", "entries in the fixed table (input key tokens)", 64, 1, 4096),
    ParamSpec::int(
        "values",
        "Values",
        "distinct values (output classes) the table maps keys to",
        16,
        1,
        4096,
    ),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence; even (key, blank pairs)",
        32,
        2,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::int(
        "table_seed",
        "Table seed",
        "seed of the fixed key-value table (same for every sequence)",
        0,
        0,
        1 << 32,
    ),
];

pub struct Memorization {
    params: Params,
    keys: usize,
    values: usize,
    seq_len: usize,
    /// `[keys]` the fixed value of each key.
    table: Vec<u32>,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (keys, values, seq_len) = (params.usize("keys"), params.usize("values"), params.usize("seq_len"));
    let mut c = Checks::default();
    c.check(seq_len % 2 == 1, "seq_len", || {
        format!("{seq_len} is odd: the sequence is (key, blank) pairs, so it must be even")
    });
    c.finish()?;
    let mut rng = Rng::fork(params.get("table_seed") as u64, "memorization table");
    let table = (0..keys).map(|_| rng.below(values as u64) as u32).collect();
    Ok(Box::new(Memorization { params, keys, values, seq_len, table }))
}

impl Task for Memorization {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.seq_len,
            vocab: self.keys + 1,
            features: 0,
            output: Output::Classes { channels: 1, classes: self.values },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        for p in (0..self.seq_len).step_by(2) {
            let k = rng.below(self.keys as u64) as usize;
            row.inputs[p] = k as u32;
            row.inputs[p + 1] = self.keys as u32;
            row.targets[p] = self.table[k];
            row.mask[p] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        if (token as usize) < self.keys {
            format!("k{token}")
        } else {
            "·".into()
        }
    }

    fn class_label(&self, class: u32) -> String {
        format!("v{class}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(seq_len: usize, table_seed: u64) -> Result<Box<dyn Task>, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("seq_len", seq_len as f64);
        p.set("table_seed", table_seed as f64);
        build(p)
    }

    #[test]
    fn odd_length_names_seq_len() {
        let e = make(31, 0).err().unwrap();
        assert!(e.for_field("seq_len").unwrap().contains("31 is odd"), "{e}");
    }

    #[test]
    fn the_table_follows_table_seed_not_the_data_seed() {
        let (a, b) = (make(32, 0).unwrap(), make(32, 1).unwrap());
        let (x, y) = (a.generate(7, 2), b.generate(7, 2));
        assert_eq!(x.inputs, y.inputs);
        assert_ne!(x.targets, y.targets);
    }
}
