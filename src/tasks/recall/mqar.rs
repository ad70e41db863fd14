//! Multi-query associative recall (MQAR; Arora et al., "Zoology", 2023).
//!
//! A sequence starts with `kv_pairs` key-value pairs `k1 v1 k2 v2 ...`; later, among filler
//! tokens, each key appears again as a query, and the model must output that key's value at
//! the query position. Only query positions are scored.
//!
//! Query placement follows Zoology's power law: a query lands at offset `g` (0-based) after
//! the pairs with weight `(g+1)^(a-1)`, `a = power_a` in (0, 1]; `a = 1` is uniform, small
//! `a` puts queries close to the pairs (Zoology uses 0.01). Offsets are distinct (weighted
//! sampling without replacement, Efraimidis–Spirakis keys).
//!
//! Vocabulary: token 0 is filler, keys are `1..=K` with `K = (vocab - 1) / 2`, values are
//! `K+1..vocab`. Keys within a sequence are distinct; values are drawn with replacement.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "mqar",
    title: "MQAR",
    family: "Recall",
    description:
        "multi-query associative recall: recall each queried key's value from earlier in the sequence",
    source: "Arora et al. 2023, Zoology (HazyResearch/zoology, multiquery_ar)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "filler + keys + values; keys = (vocab-1)/2 >= kv pairs",
        32,
        4,
        8192,
    ),
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence; at least 3 x kv pairs",
        24,
        4,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::int("kv_pairs", "KV pairs", "key-value pairs per sequence, each queried once", 4, 1, 4096),
    ParamSpec::float(
        "power_a",
        "Gap power law a",
        "query offset weight (g+1)^(a-1): 1 = uniform, 0.01 = Zoology",
        1.0,
        0.001,
        1.0,
    ),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Mqar {
    params: Params,
    pub vocab: usize,
    pub seq_len: usize,
    pub kv_pairs: usize,
    pub power_a: f64,
    /// Cumulative query-offset weights `[seq_len - 2 * kv_pairs]` (empty when uniform).
    cdf: Vec<f64>,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    Ok(Box::new(Mqar::from_params(params)?))
}

impl Mqar {
    /// Uniform query placement, other parameters as given (validated).
    pub fn new(vocab: usize, seq_len: usize, kv_pairs: usize) -> Result<Self, ConfigError> {
        Mqar::from_params(Params::with(
            PARAMS,
            &[("vocab", vocab as f64), ("seq_len", seq_len as f64), ("kv_pairs", kv_pairs as f64)],
        ))
    }

    pub fn from_params(params: Params) -> Result<Self, ConfigError> {
        let (vocab, seq_len, kv_pairs) =
            (params.usize("vocab"), params.usize("seq_len"), params.usize("kv_pairs"));
        let mut c = Checks::default();
        c.check(seq_len < 3 * kv_pairs, "seq_len", || {
            format!(
                "{seq_len} is too short for {kv_pairs} kv pairs: need {} pair tokens plus {kv_pairs} query slots (at least {})",
                2 * kv_pairs,
                3 * kv_pairs
            )
        });
        let keys = vocab.saturating_sub(1) / 2;
        c.check(keys < kv_pairs, "vocab", || {
            format!("{vocab} gives {keys} distinct keys, fewer than {kv_pairs} kv pairs")
        });
        c.finish()?;
        let power_a = params.get("power_a");
        let cdf = if power_a < 1.0 {
            let mut acc = 0.0;
            (0..seq_len - 2 * kv_pairs)
                .map(|g| {
                    acc += ((g + 1) as f64).powf(power_a - 1.0);
                    acc
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Mqar { params, vocab, seq_len, kv_pairs, power_a, cdf })
    }

    pub fn num_keys(&self) -> usize {
        (self.vocab - 1) / 2
    }

    pub fn is_key(&self, t: u32) -> bool {
        t >= 1 && (t as usize) <= self.num_keys()
    }

    /// `n` distinct offsets in `0..space`, weighted `(g+1)^(a-1)`, in increasing order.
    fn query_offsets(&self, rng: &mut Rng, space: usize, n: usize) -> Vec<usize> {
        let mut slots: Vec<usize> = if self.cdf.is_empty() {
            rng.distinct(space, n)
        } else if 2 * n > space {
            // Dense picks: redrawing duplicates would stall on rare offsets. Efraimidis–Spirakis
            // instead: the n largest ln(u)/w_g form a weighted sample without replacement.
            let mut keyed: Vec<(f64, usize)> = (0..space)
                .map(|g| {
                    let w = self.cdf[g] - if g == 0 { 0.0 } else { self.cdf[g - 1] };
                    ((1.0 - rng.next_f64()).ln() / w, g)
                })
                .collect();
            keyed.select_nth_unstable_by(n - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            keyed[..n].iter().map(|&(_, g)| g).collect()
        } else {
            let total = self.cdf[space - 1];
            let mut taken = vec![0u64; space.div_ceil(64)]; // bitset over offsets
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let u = rng.next_f64() * total;
                let g = self.cdf.partition_point(|&c| c <= u).min(space - 1);
                let (w, bit) = (g / 64, 1u64 << (g % 64));
                if taken[w] & bit == 0 {
                    taken[w] |= bit;
                    out.push(g);
                }
            }
            out
        };
        slots.sort_unstable();
        slots
    }
}

impl Task for Mqar {
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
        let (n, l) = (self.kv_pairs, self.seq_len);
        let k = self.num_keys();
        let n_values = self.vocab - 1 - k;
        let keys: Vec<u32> = rng.distinct(k, n).into_iter().map(|i| i as u32 + 1).collect();
        let values: Vec<u32> = (0..n).map(|_| (k + 1 + rng.below(n_values as u64) as usize) as u32).collect();
        for i in 0..n {
            row.inputs[2 * i] = keys[i];
            row.inputs[2 * i + 1] = values[i];
        }
        let slots = self.query_offsets(rng, l - 2 * n, n);
        let order = rng.distinct(n, n); // which pair each slot asks for
        for (&g, &pair) in slots.iter().zip(&order) {
            let p = 2 * n + g;
            row.inputs[p] = keys[pair];
            row.targets[p] = values[pair];
            row.mask[p] = 1.0;
        }
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

    #[test]
    fn power_law_puts_queries_closer_to_the_pairs() {
        let mean_offset = |a: f64| {
            let t = Mqar::from_params(Params::with(
                PARAMS,
                &[("seq_len", 512.0), ("kv_pairs", 8.0), ("vocab", 64.0), ("power_a", a)],
            ))
            .unwrap();
            let b = t.generate(1, 64);
            let pos: Vec<usize> =
                (0..b.mask.len()).filter(|&i| b.mask[i] > 0.0).map(|i| i % 512 - 16).collect();
            pos.iter().sum::<usize>() as f64 / pos.len() as f64
        };
        let (uniform, skewed) = (mean_offset(1.0), mean_offset(0.01));
        // Uniform over 0..496 has mean ~248; a = 0.01 concentrates mass near 0.
        assert!((200.0..300.0).contains(&uniform), "{uniform}");
        assert!(skewed < uniform / 2.0, "power law did not skew offsets: {skewed} vs {uniform}");
    }

    #[test]
    fn dense_power_law_queries_fill_every_slot() {
        let b = Mqar::from_params(Params::with(
            PARAMS,
            &[("seq_len", 30.0), ("kv_pairs", 10.0), ("power_a", 0.001)],
        ))
        .unwrap()
        .generate(5, 4);
        assert_eq!(b.scored(), 40);
    }

    #[test]
    fn impossible_settings_name_the_parameter() {
        let e = Mqar::new(64, 10, 8).unwrap_err();
        assert!(e.for_field("seq_len").unwrap().contains("at least 24"), "{e}");
        let e = Mqar::new(9, 48, 8).unwrap_err();
        assert!(e.for_field("vocab").unwrap().contains("4 distinct keys"), "{e}");
    }
}
