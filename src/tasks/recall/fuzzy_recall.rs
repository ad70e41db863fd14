//! Fuzzy in-context recall (MAD; Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
//! Architectures").
//!
//! Keys and values are short token sequences: a key is 1..=`max_key_len` key tokens, a value
//! 1..=`max_value_len` value tokens (lengths uniform). Each row draws `pairs` distinct keys
//! and a random value sequence for each, then lists items `key value key value ...` drawn
//! uniformly with repetition from its pairs until the next item would not fit; the tail is
//! padding. Key and value tokens come from separate id ranges, so item boundaries are visible.
//!
//! Unambiguous keys: a row's keys are prefix-free (no key is a prefix of another), so a causal
//! reader knows a key is complete at its last token. Lengths are uniform as far as that allows
//! (a draw that would leave no room for the remaining keys, or collides, is redrawn; after a
//! few tries a free key of full length is taken, which always exists as `pairs` is at most
//! `key_vocab^max_key_len`).
//!
//! Next-token framing. Scored, only when the item's key already appeared earlier in the row:
//! the key's last token and every value token except the last; the target is the next token
//! (the value's next token). Everything else, including padding, is unscored.
//!
//! Vocabulary: key tokens `0..key_vocab` ("k0", ...), value tokens
//! `key_vocab..key_vocab+value_vocab` ("v0", ...), pad `key_vocab+value_vocab` ("·").
//! Classes are the input vocabulary.
//!
//! To score every row, a row with no repeated item once less than two maximal items of room
//! is left repeats its first item. MAD pads at the front and draws keys without the
//! prefix-free rule (so some of its targets are ambiguous); its training loss is on every
//! next token.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "fuzzy_recall",
    title: "Fuzzy in-context recall",
    family: "Recall",
    description:
        "recall with multi-token keys and values: reproduce a key's value sequence when the key comes back",
    source: "Poli et al. 2024, MAD (athms/mad-lab, fuzzy in-context recall)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int("key_vocab", "Key tokens", "distinct tokens keys are spelled with", 8, 1, 64),
    ParamSpec::int("value_vocab", "Value tokens", "distinct tokens values are spelled with", 8, 1, 64),
    ParamSpec::int("max_key_len", "Max key length", "key length is uniform in 1..=max_key_len", 2, 1, 4),
    ParamSpec::int(
        "max_value_len",
        "Max value length",
        "value length is uniform in 1..=max_value_len",
        2,
        1,
        4,
    ),
    ParamSpec::int(
        "pairs",
        "Keys per row",
        "distinct keys per row; at most key_vocab^max_key_len",
        8,
        1,
        128,
    ),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per row; room for 2 items of maximal length",
        64,
        2,
        MAX_SEQ_LEN as u64,
    ),
];

/// Longest key or value (the `max_*_len` ranges).
const MAX_LEN: usize = 4;

pub struct FuzzyRecall {
    params: Params,
    kv: usize,
    vv: usize,
    mk: usize,
    mv: usize,
    pairs: usize,
    seq_len: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (kv, vv, mk, mv) = (
        params.usize("key_vocab"),
        params.usize("value_vocab"),
        params.usize("max_key_len"),
        params.usize("max_value_len"),
    );
    let (pairs, seq_len) = (params.usize("pairs"), params.usize("seq_len"));
    let mut c = Checks::default();
    let spellings = (kv as u64).pow(mk as u32);
    c.check(pairs as u64 > spellings, "pairs", || {
        format!(
            "{pairs} distinct keys do not fit: key_vocab^max_key_len = {kv}^{mk} = {spellings} keys at most"
        )
    });
    c.check(seq_len < 2 * (mk + mv), "seq_len", || {
        format!("{seq_len} is too short: 2 items of up to {} tokens need at least {}", mk + mv, 2 * (mk + mv))
    });
    c.finish()?;
    Ok(Box::new(FuzzyRecall { params, kv, vv, mk, mv, pairs, seq_len }))
}

/// True when the shorter of `a`, `b` is a prefix of the other (equal keys included).
fn clash(a: &[u32], b: &[u32]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl FuzzyRecall {
    /// Full-length spellings (of `kv^mk`) under `prefix` already taken by `keys`.
    fn covered(&self, prefix: &[u32], keys: &[[u32; MAX_LEN]], klen: &[usize]) -> u64 {
        let mut n = 0;
        for (k, &l) in keys.iter().zip(klen) {
            if clash(prefix, &k[..l]) {
                if l <= prefix.len() {
                    return (self.kv as u64).pow((self.mk - prefix.len()) as u32);
                }
                n += (self.kv as u64).pow((self.mk - l) as u32);
            }
        }
        n
    }

    /// `pairs` distinct prefix-free keys.
    fn draw_keys(&self, rng: &mut Rng, keys: &mut Vec<[u32; MAX_LEN]>, klen: &mut Vec<usize>) {
        let total = (self.kv as u64).pow(self.mk as u32);
        let mut used = 0u64; // full-length spellings covered so far (Kraft sum x total)
        for i in 0..self.pairs {
            let after = (self.pairs - 1 - i) as u64; // keys still to draw after this one
            let mut key = [0u32; MAX_LEN];
            let mut len = 0;
            for _ in 0..8 {
                let l = rng.range(1, self.mk + 1);
                if used + (self.kv as u64).pow((self.mk - l) as u32) + after > total {
                    continue;
                }
                for t in key.iter_mut().take(l) {
                    *t = rng.below(self.kv as u64) as u32;
                }
                if !keys.iter().zip(klen.iter()).any(|(k, &kl)| clash(&key[..l], &k[..kl])) {
                    len = l;
                    break;
                }
            }
            if len == 0 {
                // Walk down to a free full-length key: a subtree not fully covered always has a
                // child not fully covered (there are total - used >= after + 1 free leaves).
                len = self.mk;
                for d in 0..len {
                    let start = rng.below(self.kv as u64) as u32;
                    let cap = (self.kv as u64).pow((self.mk - d - 1) as u32);
                    for s in 0..self.kv as u32 {
                        key[d] = (start + s) % self.kv as u32;
                        if self.covered(&key[..d + 1], keys, klen) < cap {
                            break;
                        }
                    }
                }
            }
            used += (self.kv as u64).pow((self.mk - len) as u32);
            keys.push(key);
            klen.push(len);
        }
    }
}

impl Task for FuzzyRecall {
    task_meta!();

    fn shape(&self) -> Shape {
        let vocab = self.kv + self.vv + 1;
        Shape {
            seq_len: self.seq_len,
            vocab,
            features: 0,
            output: Output::Classes { channels: 1, classes: vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let n = self.pairs;
        let (mut keys, mut klen) = (Vec::with_capacity(n), Vec::with_capacity(n));
        self.draw_keys(rng, &mut keys, &mut klen);
        let mut vals = vec![[0u32; MAX_LEN]; n]; // [pairs] value spellings (value token ids)
        let mut vlen = vec![0usize; n];
        for (v, l) in vals.iter_mut().zip(vlen.iter_mut()) {
            *l = rng.range(1, self.mv + 1);
            for t in v.iter_mut().take(*l) {
                *t = (self.kv + rng.below(self.vv as u64) as usize) as u32;
            }
        }
        let mut seen = vec![false; n];
        let (mut p, mut first, mut repeated) = (0, None, false);
        let room = 2 * (self.mk + self.mv);
        loop {
            let mut i = rng.below(n as u64) as usize;
            match first {
                None => first = Some(i),
                Some(f) if !repeated && self.seq_len - p < room => i = f,
                _ => {}
            }
            let (kl, vl) = (klen[i], vlen[i]);
            if p + kl + vl > self.seq_len {
                break;
            }
            row.inputs[p..p + kl].copy_from_slice(&keys[i][..kl]);
            row.inputs[p + kl..p + kl + vl].copy_from_slice(&vals[i][..vl]);
            if seen[i] {
                repeated = true;
                row.targets[p + kl - 1..p + kl - 1 + vl].copy_from_slice(&vals[i][..vl]);
                row.mask[p + kl - 1..p + kl - 1 + vl].fill(1.0);
            }
            seen[i] = true;
            p += kl + vl;
        }
        let pad = (self.kv + self.vv) as u32;
        row.inputs[p..].fill(pad);
    }

    fn token_label(&self, token: u32) -> String {
        let t = token as usize;
        if t < self.kv {
            format!("k{t}")
        } else if t < self.kv + self.vv {
            format!("v{}", t - self.kv)
        } else {
            "·".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(pairs: usize, kv: usize, mk: usize) -> Result<Box<dyn Task>, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("pairs", pairs as f64);
        p.set("key_vocab", kv as f64);
        p.set("max_key_len", mk as f64);
        build(p)
    }

    #[test]
    fn too_many_keys_names_pairs() {
        let e = make(10, 3, 2).err().unwrap();
        assert!(e.for_field("pairs").unwrap().contains("3^2 = 9"), "{e}");
    }

    #[test]
    fn keys_are_distinct_and_prefix_free_even_when_the_space_is_full() {
        for (pairs, kv, mk) in [(9, 3, 2), (64, 4, 3), (16, 2, 4), (128, 64, 4), (8, 8, 2)] {
            let t =
                FuzzyRecall { params: Params::defaults(PARAMS), kv, vv: 2, mk, mv: 1, pairs, seq_len: 64 };
            let mut rng = Rng::new(pairs as u64);
            for _ in 0..20 {
                let (mut keys, mut klen) = (Vec::new(), Vec::new());
                t.draw_keys(&mut rng, &mut keys, &mut klen);
                assert_eq!(keys.len(), pairs);
                for a in 0..pairs {
                    for b in 0..a {
                        assert!(!clash(&keys[a][..klen[a]], &keys[b][..klen[b]]), "{pairs} {kv} {mk}");
                    }
                }
            }
        }
    }
}
