//! In-context recall (MAD; Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
//! Architectures", multi-query form).
//!
//! Each sequence draws its own random key -> value mapping and is a run of pairs
//! `k v k v ...` with keys drawn uniformly with repetition; a key is always followed by the
//! same value within the sequence. Next-token framing: at a key position the target is the
//! value that follows it, scored only when that key already appeared earlier in the row (its
//! value is then known from context). Value positions and first occurrences are unscored.
//!
//! Vocabulary: keys are `0..keys` ("k0", ...), values are `keys..keys+values` ("v0", ...).
//! Classes are the input vocabulary (a target is the value's token id).
//!
//! So that every row scores at least one position, a row whose keys are all distinct up to
//! its last pair gets the first pair's key at the last pair (only possible when there are
//! at most `keys` pairs). MAD also trains on every next token; here only recalls are scored.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "in_context_recall",
    title: "In-context recall",
    family: "Recall",
    description: "key-value pairs with repeated keys: predict a key's value each time the key comes back",
    source: "Poli et al. 2024, MAD (athms/mad-lab, in-context recall, multi-query)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "keys",
        "Keys",
        "distinct key tokens; fewer keys than pairs means more repeats",
        8,
        1,
        4096,
    ),
    ParamSpec::int("values", "Values", "distinct value tokens each key can map to", 8, 1, 4096),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence; even (key-value pairs), at least 4",
        64,
        4,
        MAX_SEQ_LEN as u64,
    ),
];

/// Marks a key with no value yet in the row's mapping.
const UNSET: u32 = u32::MAX;

pub struct InContextRecall {
    params: Params,
    keys: usize,
    values: usize,
    seq_len: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (keys, values, seq_len) = (params.usize("keys"), params.usize("values"), params.usize("seq_len"));
    let mut c = Checks::default();
    c.check(seq_len % 2 == 1, "seq_len", || {
        format!("{seq_len} is odd: the sequence is key-value pairs, so it must be even")
    });
    c.finish()?;
    Ok(Box::new(InContextRecall { params, keys, values, seq_len }))
}

impl Task for InContextRecall {
    task_meta!();

    fn shape(&self) -> Shape {
        let vocab = self.keys + self.values;
        Shape {
            seq_len: self.seq_len,
            vocab,
            features: 0,
            output: Output::Classes { channels: 1, classes: vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let pairs = self.seq_len / 2;
        let mut map = vec![UNSET; self.keys]; // [keys] this row's value token per key
        let mut repeated = false;
        for i in 0..pairs {
            let mut k = rng.below(self.keys as u64) as usize;
            if i == pairs - 1 && !repeated {
                k = row.inputs[0] as usize;
            }
            let p = 2 * i;
            if map[k] == UNSET {
                map[k] = (self.keys + rng.below(self.values as u64) as usize) as u32;
            } else {
                repeated = true;
                row.targets[p] = map[k];
                row.mask[p] = 1.0;
            }
            row.inputs[p] = k as u32;
            row.inputs[p + 1] = map[k];
        }
    }

    fn token_label(&self, token: u32) -> String {
        let t = token as usize;
        if t < self.keys {
            format!("k{t}")
        } else {
            format!("v{}", t - self.keys)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(keys: usize, seq_len: usize) -> Result<Box<dyn Task>, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("keys", keys as f64);
        p.set("seq_len", seq_len as f64);
        build(p)
    }

    #[test]
    fn odd_length_names_seq_len() {
        let e = make(8, 63).err().unwrap();
        assert!(e.for_field("seq_len").unwrap().contains("63 is odd"), "{e}");
    }

    #[test]
    fn rows_without_a_repeat_are_forced_to_score_one_recall() {
        // 2 pairs over 4096 keys almost never repeat on their own.
        let t = make(4096, 4).unwrap();
        let b = t.generate(9, 64);
        for r in 0..b.batch {
            let row = b.row(r);
            assert_eq!(row.inputs[2], row.inputs[0]);
            assert_eq!(row.mask, &[0.0, 0.0, 1.0, 0.0]);
        }
    }
}
