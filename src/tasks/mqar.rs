//! Multi-query associative recall (MQAR; Arora et al., "Zoology", 2023).
//!
//! A sequence starts with `kv_pairs` key-value pairs `k1 v1 k2 v2 ...`; later, at random
//! positions among filler tokens, each key appears again as a query, and the model must
//! output that key's value at the query position. Only query positions are scored.
//!
//! Vocabulary layout: token 0 is filler, keys are `1..=K` with `K = (vocab - 1) / 2`, values
//! are `K+1..vocab`. Keys within a sequence are distinct; values are drawn with replacement.

use super::{Batch, Task};
use crate::core::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct Mqar {
    pub vocab: usize,
    pub seq_len: usize,
    pub kv_pairs: usize,
}

impl Mqar {
    pub fn new(vocab: usize, seq_len: usize, kv_pairs: usize) -> Self {
        Mqar { vocab, seq_len, kv_pairs }
    }

    pub fn num_keys(&self) -> usize {
        (self.vocab - 1) / 2
    }

    pub fn is_key(&self, t: u32) -> bool {
        t >= 1 && (t as usize) <= self.num_keys()
    }

    /// Write one sequence into the given row slices.
    fn fill_row(&self, rng: &mut Rng, inputs: &mut [u32], targets: &mut [u32], mask: &mut [f32]) {
        let (n, l) = (self.kv_pairs, self.seq_len);
        let k = self.num_keys();
        let n_values = self.vocab - 1 - k;
        let keys: Vec<u32> = rng.distinct(k, n).into_iter().map(|i| i as u32 + 1).collect();
        let values: Vec<u32> = (0..n).map(|_| (k + 1 + rng.below(n_values as u64) as usize) as u32).collect();
        inputs.fill(0);
        targets.fill(0);
        mask.fill(0.0);
        for i in 0..n {
            inputs[2 * i] = keys[i];
            inputs[2 * i + 1] = values[i];
        }
        // Query slots: n distinct positions after the pairs, in increasing order.
        let mut slots: Vec<usize> = rng.distinct(l - 2 * n, n).into_iter().map(|p| p + 2 * n).collect();
        slots.sort_unstable();
        let order = rng.distinct(n, n); // which pair each slot asks for
        for (slot, &pair) in slots.iter().zip(&order) {
            inputs[*slot] = keys[pair];
            targets[*slot] = values[pair];
            mask[*slot] = 1.0;
        }
    }
}

impl Task for Mqar {
    fn name(&self) -> &'static str {
        "mqar"
    }

    fn description(&self) -> &'static str {
        "multi-query associative recall: recall each queried key's value from earlier in the sequence"
    }

    fn vocab(&self) -> usize {
        self.vocab
    }

    fn seq_len(&self) -> usize {
        self.seq_len
    }

    fn generate(&self, seed: u64, batch: usize) -> Batch {
        let l = self.seq_len;
        let mut rng = Rng::new(seed);
        let mut inputs = vec![0u32; batch * l];
        let mut targets = vec![0u32; batch * l];
        let mut mask = vec![0f32; batch * l];
        for b in 0..batch {
            let r = b * l..(b + 1) * l;
            self.fill_row(&mut rng, &mut inputs[r.clone()], &mut targets[r.clone()], &mut mask[r]);
        }
        Batch { batch, seq_len: l, inputs, targets, mask }
    }

    fn token_label(&self, token: u32) -> String {
        if token == 0 {
            "·".into()
        } else if self.is_key(token) {
            format!("k{token}")
        } else {
            format!("v{}", token as usize - self.num_keys())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Mqar {
        Mqar::new(64, 48, 8)
    }

    #[test]
    fn deterministic_in_seed() {
        let t = task();
        assert_eq!(t.generate(42, 4), t.generate(42, 4));
        assert_ne!(t.generate(42, 4).inputs, t.generate(43, 4).inputs);
    }

    #[test]
    fn every_query_targets_its_keys_value() {
        let t = task();
        let b = t.generate(7, 16);
        for row in 0..b.batch {
            let x = &b.inputs[row * b.seq_len..(row + 1) * b.seq_len];
            let y = &b.targets[row * b.seq_len..(row + 1) * b.seq_len];
            let m = &b.mask[row * b.seq_len..(row + 1) * b.seq_len];
            assert_eq!(m.iter().filter(|&&v| v > 0.0).count(), t.kv_pairs);
            // Keys in the pair prefix are distinct.
            let mut keys: Vec<u32> = (0..t.kv_pairs).map(|i| x[2 * i]).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), t.kv_pairs);
            for p in 0..b.seq_len {
                if m[p] > 0.0 {
                    assert!(p >= 2 * t.kv_pairs, "query inside the pair prefix");
                    let i = (0..t.kv_pairs).find(|&i| x[2 * i] == x[p]).expect("query key was never stored");
                    assert_eq!(y[p], x[2 * i + 1]);
                    assert!(!t.is_key(y[p]) && y[p] != 0);
                } else if p >= 2 * t.kv_pairs {
                    assert_eq!(x[p], 0, "non-query positions after the pairs are filler");
                }
            }
        }
    }

    #[test]
    fn tokens_within_vocab() {
        let t = Mqar::new(17, 30, 8);
        let b = t.generate(3, 8);
        assert!(b.inputs.iter().chain(&b.targets).all(|&v| (v as usize) < t.vocab));
        assert_eq!(b.scored(), 8 * 8);
    }
}
