//! Masked Select, a.k.a. selective copying (Gupta, Mehta & Berant 2022, "Simplifying and
//! Understanding State Space Models with Diagonal Linear RNNs", the DLR synthetic suite):
//! copy out, in order, the tokens at the marked positions of the input. With fixed positions
//! a few convolution kernels solve it; with variable positions the copy depends on context.
//!
//! Layout (`seq_len = length + select`): positions `0..length` are the data region, each a
//! token drawn uniformly from `0..vocab`; `select` of them are marked. Then `select` output
//! positions hold the go token.
//!
//! Which positions are marked:
//! - `positions=fixed`: the same in every sequence. `scattered`: evenly spaced,
//!   `p_i = floor((i + 0.5) * length / select)`; `consecutive`: the block starting at
//!   `(length - select) / 2`.
//! - `positions=variable`: drawn per sequence. `scattered`: `select` distinct positions
//!   chosen uniformly (selection sampling, O(length)); `consecutive`: a block at a uniform
//!   start in `0..=length - select`.
//!
//! Vocabulary: data tokens `0..vocab` (labelled by their number), marked data tokens
//! `vocab + x` (labelled `*x`), the go token `2 * vocab` (labelled `?`); `2 * vocab + 1` input
//! tokens. Output classes are the data tokens `0..vocab`.
//!
//! Scored: exactly the output positions; the target at `length + i` is the (unmarked) token
//! at the `i`-th marked position, marked positions taken in increasing order.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "masked_select",
    title: "Masked Select",
    family: "DLR suite",
    description: "copy out, in order, the tokens at the marked positions (selective copying)",
    source: "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (Masked Select, fixed/variable)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "length",
        "Data length",
        "data region before the answer; seq_len = length + select",
        24,
        1,
        MAX_SEQ_LEN as u64 / 2,
    ),
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "data tokens 0..vocab; marked copies vocab..2*vocab, go token 2*vocab",
        16,
        2,
        8192,
    ),
    ParamSpec::int(
        "select",
        "Selected",
        "marked positions to copy out; at most length",
        4,
        1,
        MAX_SEQ_LEN as u64 / 2,
    ),
    ParamSpec::choice(
        "positions",
        "Positions",
        "fixed: the same in every sequence; variable: drawn per sequence",
        0,
        POSITIONS,
    ),
    ParamSpec::choice(
        "layout",
        "Layout",
        "scattered: spread over the data; consecutive: one contiguous block",
        0,
        LAYOUTS,
    ),
];

const POSITIONS: &[&str] = &["variable", "fixed"];
const LAYOUTS: &[&str] = &["scattered", "consecutive"];

pub struct MaskedSelect {
    params: Params,
    length: usize,
    vocab: usize,
    select: usize,
    fixed: bool,
    consecutive: bool,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (length, vocab, select) = (params.usize("length"), params.usize("vocab"), params.usize("select"));
    let (fixed, consecutive) = (params.usize("positions") == 1, params.usize("layout") == 1);
    let mut c = Checks::default();
    c.check(select > length, "select", || {
        format!("{select} marked positions do not fit in a data region of length {length}")
    });
    c.finish()?;
    Ok(Box::new(MaskedSelect { params, length, vocab, select, fixed, consecutive }))
}

impl MaskedSelect {
    /// Mark data position `p` as the `i`-th selected one and write output position `i`.
    fn mark(&self, row: &mut RowMut<'_>, i: usize, p: usize) {
        let x = row.inputs[p];
        row.inputs[p] = self.vocab as u32 + x;
        let o = self.length + i;
        row.targets[o] = x;
        row.mask[o] = 1.0;
    }
}

impl Task for MaskedSelect {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.length + self.select,
            vocab: 2 * self.vocab + 1,
            features: 0,
            output: Output::Classes { channels: 1, classes: self.vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, mut row: RowMut<'_>) {
        let (l, k) = (self.length, self.select);
        for x in row.inputs[..l].iter_mut() {
            *x = rng.below(self.vocab as u64) as u32;
        }
        for x in row.inputs[l..].iter_mut() {
            *x = 2 * self.vocab as u32;
        }
        match (self.fixed, self.consecutive) {
            (true, false) => {
                for i in 0..k {
                    // floor((i + 0.5) * l / k) in integers; strictly increasing since l >= k.
                    self.mark(&mut row, i, (2 * i + 1) * l / (2 * k));
                }
            }
            (_, true) => {
                let start = if self.fixed { (l - k) / 2 } else { rng.range(0, l - k + 1) };
                for i in 0..k {
                    self.mark(&mut row, i, start + i);
                }
            }
            (false, false) => {
                // Selection sampling: keep position p with probability (needed / remaining),
                // which picks a uniform k-subset, already in increasing order.
                let mut i = 0;
                for p in 0..l {
                    if i == k {
                        break;
                    }
                    if rng.below((l - p) as u64) < (k - i) as u64 {
                        self.mark(&mut row, i, p);
                        i += 1;
                    }
                }
            }
        }
    }

    fn token_label(&self, token: u32) -> String {
        let (t, v) = (token as usize, self.vocab);
        if t < v {
            t.to_string()
        } else if t < 2 * v {
            format!("*{}", t - v)
        } else {
            "?".into()
        }
    }

    fn class_label(&self, class: u32) -> String {
        class.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Box<dyn Task>, ConfigError> {
        build(Params::from_pairs(PARAMS, pairs.iter().copied())?)
    }

    fn marked(b: &crate::tasks::Batch, r: usize, l: usize, vocab: u32) -> Vec<usize> {
        (0..l).filter(|&p| b.row(r).inputs[p] >= vocab).collect()
    }

    #[test]
    fn impossible_settings_name_the_parameter() {
        let e = with(&[("length", "5"), ("select", "6")]).err().unwrap();
        assert!(e.for_field("select").unwrap().contains("length 5"), "{e}");
        assert!(with(&[("length", "5"), ("select", "5")]).is_ok());
    }

    #[test]
    fn fixed_positions_are_the_same_in_every_row() {
        let t = with(&[("length", "10"), ("select", "4"), ("positions", "fixed")]).unwrap();
        let b = t.generate(1, 5);
        for r in 0..5 {
            assert_eq!(marked(&b, r, 10, 16), vec![1, 3, 6, 8]);
        }
        let t = with(&[("length", "10"), ("select", "4"), ("positions", "fixed"), ("layout", "consecutive")])
            .unwrap();
        assert_eq!(marked(&t.generate(2, 1), 0, 10, 16), vec![3, 4, 5, 6]);
        assert_eq!(
            (t.token_label(21), t.token_label(32), t.token_label(3)),
            ("*5".into(), "?".into(), "3".into())
        );
    }

    #[test]
    fn variable_positions_cover_the_region_uniformly() {
        let t = with(&[("length", "8"), ("select", "2")]).unwrap();
        let b = t.generate(3, 800);
        let mut hits = [0; 8];
        for r in 0..b.batch {
            let m = marked(&b, r, 8, 16);
            assert_eq!(m.len(), 2);
            for p in m {
                hits[p] += 1;
            }
        }
        // Each position is marked with probability 1/4: 200 expected of 800.
        assert!(hits.iter().all(|&h| (140..260).contains(&h)), "{hits:?}");
    }

    #[test]
    fn largest_setting_generates() {
        let t = with(&[("length", "32768"), ("select", "32768"), ("vocab", "8192")]).unwrap();
        assert_eq!(t.generate(1, 1).scored(), 32768);
        let t = with(&[("length", "32768"), ("select", "3"), ("positions", "variable")]).unwrap();
        assert_eq!(t.generate(1, 1).scored(), 3);
    }
}
