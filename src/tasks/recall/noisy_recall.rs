//! Noisy in-context recall (MAD; Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
//! Architectures").
//!
//! In-context recall (see `in_context_recall`) with noise tokens between the pairs: each row
//! has its own random key -> value mapping, pairs `k v` with keys drawn uniformly with
//! repetition, and single noise tokens scattered uniformly among the pairs (before, between
//! and after them; a pair is never split). `round(noise x seq_len)` positions are noise, one
//! more when needed so that the rest is a whole number of pairs.
//!
//! Scored: a key position whose key already appeared earlier in the row; the target is its
//! value (the next token). Noise, value and first-occurrence key positions are unscored.
//!
//! Vocabulary: keys `0..keys` ("k0", ...), values `keys..keys+values` ("v0", ...), noise
//! `keys+values..keys+values+noise_vocab` ("n0", ...). Classes are the input vocabulary.
//!
//! As in `in_context_recall`, a row with no repeated key by its last pair gets the first
//! pair's key there, so every row scores at least once. MAD replaces whole pair slots by two
//! noise tokens with probability `frac_noise`; here noise is a fixed fraction of positions.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "noisy_recall",
    title: "Noisy in-context recall",
    family: "Recall",
    description: "in-context recall with noise tokens scattered between the key-value pairs",
    source: "Poli et al. 2024, MAD (athms/mad-lab, noisy in-context recall)",
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
    ParamSpec::int("noise_vocab", "Noise tokens", "distinct noise tokens, never scored", 4, 1, 4096),
    ParamSpec::float(
        "noise",
        "Noise fraction",
        "fraction of positions that are noise; the rest must hold at least 2 pairs",
        0.25,
        0.0,
        0.9,
    ),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence (pairs plus noise)",
        64,
        4,
        MAX_SEQ_LEN as u64,
    ),
];

const UNSET: u32 = u32::MAX;

pub struct NoisyRecall {
    params: Params,
    keys: usize,
    values: usize,
    noise_vocab: usize,
    seq_len: usize,
    /// Noise positions per row.
    n_noise: usize,
}

/// Noise positions for `seq_len` at fraction `noise`: rounded, then made to leave an even rest.
fn noise_positions(seq_len: usize, noise: f64) -> usize {
    let n = ((noise * seq_len as f64).round() as usize).min(seq_len);
    if (seq_len - n) % 2 == 1 {
        n + 1
    } else {
        n
    }
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (keys, values, noise_vocab, seq_len) =
        (params.usize("keys"), params.usize("values"), params.usize("noise_vocab"), params.usize("seq_len"));
    let noise = params.get("noise");
    let n_noise = noise_positions(seq_len, noise);
    let mut c = Checks::default();
    c.check(seq_len - n_noise < 4, "noise", || {
        format!(
            "{noise} of {seq_len} positions is {n_noise} noise tokens, leaving {} key-value pairs; at least 2 pairs are needed",
            (seq_len - n_noise) / 2
        )
    });
    c.finish()?;
    Ok(Box::new(NoisyRecall { params, keys, values, noise_vocab, seq_len, n_noise }))
}

impl Task for NoisyRecall {
    task_meta!();

    fn shape(&self) -> Shape {
        let vocab = self.keys + self.values + self.noise_vocab;
        Shape {
            seq_len: self.seq_len,
            vocab,
            features: 0,
            output: Output::Classes { channels: 1, classes: vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let noise_base = (self.keys + self.values) as u32;
        let mut map = vec![UNSET; self.keys]; // [keys] this row's value token per key
        let (mut pairs_left, mut noise_left) = ((self.seq_len - self.n_noise) / 2, self.n_noise);
        let (mut first_key, mut repeated, mut p) = (None, false, 0);
        while pairs_left + noise_left > 0 {
            // Each remaining item is equally likely to come next: a uniform arrangement.
            if rng.below((pairs_left + noise_left) as u64) < noise_left as u64 {
                row.inputs[p] = noise_base + rng.below(self.noise_vocab as u64) as u32;
                noise_left -= 1;
                p += 1;
                continue;
            }
            let mut k = rng.below(self.keys as u64) as usize;
            match first_key {
                None => first_key = Some(k),
                Some(f) if pairs_left == 1 && !repeated => k = f,
                _ => {}
            }
            if map[k] == UNSET {
                map[k] = (self.keys + rng.below(self.values as u64) as usize) as u32;
            } else {
                repeated = true;
                row.targets[p] = map[k];
                row.mask[p] = 1.0;
            }
            row.inputs[p] = k as u32;
            row.inputs[p + 1] = map[k];
            pairs_left -= 1;
            p += 2;
        }
    }

    fn token_label(&self, token: u32) -> String {
        let t = token as usize;
        if t < self.keys {
            format!("k{t}")
        } else if t < self.keys + self.values {
            format!("v{}", t - self.keys)
        } else {
            format!("n{}", t - self.keys - self.values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_much_noise_names_noise() {
        let mut p = Params::defaults(PARAMS);
        p.set("seq_len", 8.0);
        p.set("noise", 0.9);
        let e = build(p).err().unwrap();
        assert!(e.for_field("noise").unwrap().contains("at least 2 pairs"), "{e}");
    }

    #[test]
    fn noise_count_leaves_whole_pairs() {
        assert_eq!(noise_positions(64, 0.25), 16);
        assert_eq!(noise_positions(63, 0.0), 1);
        assert_eq!(noise_positions(10, 0.25), 4); // 2.5 rounds to 3, plus one for parity
        let t = build(Params::defaults(PARAMS)).unwrap();
        let b = t.generate(3, 8);
        let noise = b.inputs.iter().filter(|&&x| x >= 16).count();
        assert_eq!(noise, 8 * 16);
    }
}
