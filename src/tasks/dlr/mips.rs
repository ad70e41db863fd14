//! MIPS, maximum inner product search (Gupta, Mehta & Berant 2022, "Simplifying and
//! Understanding State Space Models with Diagonal Linear RNNs", the DLR synthetic suite): a
//! soft, continuous form of associative recall.
//!
//! Layout (`seq_len = keys + queries`): positions `0..keys` are keys, each with a key vector
//! in `R^dim` (entries `N(0, 1)`) as its features and its value token (uniform in
//! `0..values`) as its input token; positions `keys..keys+queries` are queries, each with a
//! query vector (entries `N(0, 1)`) as features and the query marker as token. `features` is
//! `[seq_len, dim]`.
//!
//! Vocabulary: value tokens `0..values` (labelled `v3`), the query marker `values` (labelled
//! `q`); `values + 1` input tokens. Output classes are the value tokens `0..values`.
//!
//! Scored: exactly the query positions; the target is the value token of the key whose
//! vector has the largest inner product with the query vector (ties go to the lowest key
//! index; with continuous draws they essentially never happen). Inner products are taken in
//! f64 over the f32 vectors the model sees.
//!
//! Cost: exact search is `keys x queries x dim` multiply-adds per sequence, so `build` caps
//! that product at 2^19 to keep generation fast (about a millisecond per sequence at most).

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo};

pub static INFO: TaskInfo = TaskInfo {
    name: "mips",
    title: "MIPS",
    family: "DLR suite",
    description: "at each query vector, output the value of the key vector with the largest inner product",
    source: "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (MIPS)",
    params: PARAMS,
    build,
};

/// Most multiply-adds (`keys x queries x dim`) one sequence may cost.
pub const MAX_WORK: usize = 1 << 19;

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int("keys", "Keys", "key vectors with a value each; keys x queries x dim <= 2^19", 8, 1, 8192),
    ParamSpec::int(
        "queries",
        "Queries",
        "query vectors after the keys, each scored; seq_len = keys + queries",
        4,
        1,
        4096,
    ),
    ParamSpec::int("dim", "Dimension", "entries per key/query vector (input feature channels)", 4, 1, 32),
    ParamSpec::int(
        "values",
        "Values",
        "value tokens 0..values carried by the keys; also the number of classes",
        8,
        2,
        4096,
    ),
];

pub struct Mips {
    params: Params,
    keys: usize,
    queries: usize,
    dim: usize,
    values: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (keys, queries, dim, values) =
        (params.usize("keys"), params.usize("queries"), params.usize("dim"), params.usize("values"));
    let mut c = Checks::default();
    let work = keys * queries * dim;
    c.check(work > MAX_WORK, "queries", || {
        format!(
            "{queries} queries x {keys} keys x dim {dim} is {work} multiply-adds per sequence, over the limit of {MAX_WORK}; \
             use at most {} queries",
            MAX_WORK / (keys * dim)
        )
    });
    c.finish()?;
    Ok(Box::new(Mips { params, keys, queries, dim, values }))
}

/// Fill `out` with N(0, 1) draws, two at a time (Marsaglia's polar method: no trigonometry,
/// about twice as fast as `Rng::normal` when there are many feature channels).
fn fill_normal(rng: &mut Rng, out: &mut [f32]) {
    for pair in out.chunks_mut(2) {
        let (u, v, s) = loop {
            let u = 2.0 * rng.next_f64() - 1.0;
            let v = 2.0 * rng.next_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                break (u, v, s);
            }
        };
        let scale = (-2.0 * s.ln() / s).sqrt();
        pair[0] = (u * scale) as f32;
        if let Some(second) = pair.get_mut(1) {
            *second = (v * scale) as f32;
        }
    }
}

impl Task for Mips {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.keys + self.queries,
            vocab: self.values + 1,
            features: self.dim,
            output: Output::Classes { channels: 1, classes: self.values },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let (n, d) = (self.keys, self.dim);
        // features: [keys + queries, dim], keys first.
        for (p, x) in row.inputs.iter_mut().enumerate() {
            *x = if p < n { rng.below(self.values as u64) as u32 } else { self.values as u32 };
        }
        fill_normal(rng, row.features);
        // Inner products in f64 over the f32 features; keys widened once per sequence.
        let key_vecs: Vec<f64> = row.features[..n * d].iter().map(|&a| a as f64).collect(); // [keys, dim]
        let mut q = vec![0.0f64; d]; // [dim]
        for qi in 0..self.queries {
            for (qj, &f) in q.iter_mut().zip(&row.features[(n + qi) * d..(n + qi + 1) * d]) {
                *qj = f as f64;
            }
            let (mut best, mut best_key) = (f64::NEG_INFINITY, 0);
            for (ki, k) in key_vecs.chunks_exact(d).enumerate() {
                let dot = k.iter().zip(&q).fold(0.0, |acc, (a, b)| acc + a * b);
                if dot > best {
                    (best, best_key) = (dot, ki);
                }
            }
            row.targets[n + qi] = row.inputs[best_key];
            row.mask[n + qi] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        if token as usize == self.values {
            "q".into()
        } else {
            format!("v{token}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Box<dyn Task>, ConfigError> {
        build(Params::from_pairs(PARAMS, pairs.iter().copied())?)
    }

    #[test]
    fn too_much_work_names_queries_and_the_limit() {
        let e = with(&[("keys", "8192"), ("queries", "3"), ("dim", "32")]).err().unwrap();
        assert!(e.for_field("queries").unwrap().contains("at most 2 queries"), "{e}");
        assert!(with(&[("keys", "8192"), ("queries", "2"), ("dim", "32")]).is_ok());
    }

    #[test]
    fn targets_follow_the_largest_inner_product() {
        let t = with(&[("keys", "3"), ("queries", "1"), ("dim", "2")]).unwrap();
        let b = t.generate(7, 50);
        for r in 0..b.batch {
            // features: [4, 2]; keys at rows 0..3, the query at row 3.
            let row = b.row(r);
            let q = &row.features[6..8];
            let dots: Vec<f64> =
                (0..3).map(|k| (0..2).map(|j| row.features[2 * k + j] as f64 * q[j] as f64).sum()).collect();
            let best = (0..3).fold(0, |bi, k| if dots[k] > dots[bi] { k } else { bi });
            assert_eq!(row.targets[3], row.inputs[best]);
            assert_eq!((row.inputs[3], row.mask), (8, &[0.0, 0.0, 0.0, 1.0][..]));
        }
        assert_eq!((t.token_label(8), t.token_label(5)), ("q".into(), "v5".into()));
    }

    #[test]
    fn largest_settings_generate() {
        let t = with(&[("keys", "8192"), ("queries", "2"), ("dim", "32"), ("values", "4096")]).unwrap();
        assert_eq!(t.generate(1, 1).scored(), 2);
        let t = with(&[("keys", "128"), ("queries", "4096"), ("dim", "1")]).unwrap();
        assert_eq!(t.generate(1, 1).scored(), 4096);
    }

    #[test]
    fn features_are_standard_normal() {
        let mut rng = Rng::new(3);
        let mut xs = vec![0.0f32; 20001];
        fill_normal(&mut rng, &mut xs);
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        assert!(xs[20000] != 0.0);
    }
}
