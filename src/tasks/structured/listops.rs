//! ListOpsSubTrees (DLR paper, Gupta et al.): ListOps expressions (Nangia & Bowman 2018, as in
//! the Long Range Arena) where the model outputs the value of every sub-tree, not just the root.
//!
//! Layout: one random expression tree per sequence in prefix form, e.g.
//! `[MAX 3 [SM 4 9 ] 1 ]`, followed by pad up to `seq_len`. Each operator node has
//! `2..=max_args` arguments, each a digit or a sub-tree; the root has depth 1 and no node is
//! deeper than `max_depth`. Each tree is grown to fill a random token budget of 3/4 to all of
//! `seq_len` (arguments split the budget between them), so it fills most of the sequence and the
//! root's `]` does not sit at a fixed position. When `max_args`/`max_depth` allow only smaller
//! trees, the budget is at most 3/4 of the largest possible tree and the rest is pad.
//!
//! Vocabulary (16 tokens): digits `0..=9` are ids 0..9; operators `[MAX` `[MIN` `[MED` `[SM` are
//! ids 10..13; `]` is 14; pad `·` is 15. MAX/MIN are the largest/smallest argument, MED is
//! `sorted(args)[len / 2]` (the upper median for an even count), SM is the sum mod 10.
//!
//! Scored positions: every `]`, with target the value (class 0..9) of the sub-tree it closes;
//! the last `]` is the whole expression's value (the LRA ListOps label). Nothing else is scored.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo};

pub static INFO: TaskInfo = TaskInfo {
    name: "listops",
    title: "ListOps sub-trees",
    family: "DLR suite (long)",
    description:
        "evaluate nested MAX/MIN/MED/SUM-mod-10 lists: output every sub-tree's value at its closing bracket",
    source:
        "Gupta et al. 2022, DLR paper (ListOpsSubTrees); ListOps from Nangia & Bowman 2018 / Long Range Arena",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence (tree + pad); at least 4 for `[OP d d ]`",
        64,
        1,
        8192,
    ),
    ParamSpec::int(
        "max_args",
        "Max arguments",
        "arguments per operator are drawn from 2..=max_args",
        5,
        2,
        10,
    ),
    ParamSpec::int(
        "max_depth",
        "Max depth",
        "deepest operator nesting (root = 1); small values cap the tree size",
        6,
        1,
        20,
    ),
];

/// Token ids.
pub const OP_MAX: u32 = 10;
pub const OP_MIN: u32 = 11;
pub const OP_MED: u32 = 12;
pub const OP_SM: u32 = 13;
pub const CLOSE: u32 = 14;
pub const PAD: u32 = 15;
/// Smallest tree: `[OP d d ]`.
const MIN_TREE: usize = 4;

pub struct ListOps {
    params: Params,
    seq_len: usize,
    max_args: usize,
    max_depth: usize,
    /// `cap[d]`: most tokens a tree of depth <= d can have (saturated), `cap[0] = 1` (a digit).
    cap: Vec<usize>,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    Ok(Box::new(ListOps::from_params(params)?))
}

/// The value of operator token `op` over `args` (digits 0..9, at least one).
pub fn apply(op: u32, args: &mut [u8]) -> u8 {
    match op {
        OP_MAX => *args.iter().max().unwrap(),
        OP_MIN => *args.iter().min().unwrap(),
        OP_MED => {
            args.sort_unstable();
            args[args.len() / 2]
        }
        _ => (args.iter().map(|&a| a as u32).sum::<u32>() % 10) as u8,
    }
}

impl ListOps {
    pub fn from_params(params: Params) -> Result<Self, ConfigError> {
        let (seq_len, max_args, max_depth) =
            (params.usize("seq_len"), params.usize("max_args"), params.usize("max_depth"));
        let mut c = Checks::default();
        c.check(seq_len < MIN_TREE, "seq_len", || {
            format!("{seq_len} is too short: the smallest tree `[OP d d ]` needs at least {MIN_TREE} tokens")
        });
        c.finish()?;
        let mut cap = vec![1usize];
        for d in 1..=max_depth {
            cap.push(cap[d - 1].saturating_mul(max_args).saturating_add(2).min(1 << 24));
        }
        Ok(ListOps { params, seq_len, max_args, max_depth, cap })
    }

    /// Write one operator node of depth budget `depth` (>= 1) at `pos` using at most `budget`
    /// (>= 4) tokens; returns (tokens used, value).
    fn node(
        &self,
        rng: &mut Rng,
        row: &mut RowMut<'_>,
        pos: usize,
        budget: usize,
        depth: usize,
    ) -> (usize, u8) {
        let inner = budget - 2; // tokens left for the arguments, >= 2
        let k_max = self.max_args.min(inner);
        // Enough arguments that they can absorb the budget when sub-trees are size-capped.
        let child_cap = self.cap[depth - 1];
        let k_min = inner.div_ceil(child_cap).clamp(2, k_max);
        let k = rng.range(k_min, k_max + 1);
        let op = OP_MAX + rng.below(4) as u32;
        row.inputs[pos] = op;
        let mut p = pos + 1;
        let mut rem = inner;
        let mut vals = [0u8; 10];
        for (i, v) in vals.iter_mut().enumerate().take(k) {
            let left = k - i; // this argument and those after it
                              // Share around the mean rem / left, at most one sub-tree's capacity, leaving at least
                              // one token per later argument and no more than the later ones can hold.
            let later_cap = (left - 1).saturating_mul(child_cap);
            let lo = rem.saturating_sub(later_cap).max(1);
            let hi = (rem - (left - 1)).min(child_cap).min(2 * (rem / left)).max(lo);
            let share = rng.range(lo, hi + 1);
            // Now and then a digit where a sub-tree would fit, if the later arguments can take up the slack.
            let digit = depth == 1 || share < MIN_TREE || (rem - 1 <= later_cap && rng.below(8) == 0);
            let used = if digit {
                row.inputs[p] = rng.below(10) as u32;
                *v = row.inputs[p] as u8;
                1
            } else {
                let (used, value) = self.node(rng, row, p, share, depth - 1);
                *v = value;
                used
            };
            p += used;
            rem -= used;
        }
        let value = apply(op, &mut vals[..k]);
        row.inputs[p] = CLOSE;
        row.targets[p] = value as u32;
        row.mask[p] = 1.0;
        (p + 1 - pos, value)
    }
}

impl Task for ListOps {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.seq_len,
            vocab: 16,
            features: 0,
            output: Output::Classes { channels: 1, classes: 10 },
        }
    }

    fn fill_row(&self, rng: &mut Rng, mut row: RowMut<'_>) {
        // Token budget: 3/4 to all of seq_len, but at most 3/4 of the largest tree the depth and
        // arity allow (so capped trees still vary in shape instead of always being full).
        let hi = self.seq_len.min(self.cap[self.max_depth] * 3 / 4).max(MIN_TREE);
        let lo = (hi * 3).div_ceil(4).max(MIN_TREE);
        let budget = rng.range(lo, hi + 1);
        let (used, _) = self.node(rng, &mut row, 0, budget, self.max_depth);
        row.inputs[used..].fill(PAD);
    }

    fn token_label(&self, token: u32) -> String {
        match token {
            0..=9 => token.to_string(),
            OP_MAX => "[MAX".into(),
            OP_MIN => "[MIN".into(),
            OP_MED => "[MED".into(),
            OP_SM => "[SM".into(),
            CLOSE => "]".into(),
            _ => "·".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(seq_len: usize, max_args: usize, max_depth: usize) -> Result<ListOps, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("seq_len", seq_len as f64);
        p.set("max_args", max_args as f64);
        p.set("max_depth", max_depth as f64);
        ListOps::from_params(p)
    }

    #[test]
    fn operators_follow_the_definition() {
        // [MAX 2 9 [MIN 4 1 ] 0 ] = 9; [MED 7 1 4 8 ] = sorted [1 4 7 8][2] = 7; [SM 9 8 5 ] = 2.
        let mut inner = [4, 1];
        let min = apply(OP_MIN, &mut inner);
        assert_eq!(min, 1);
        assert_eq!(apply(OP_MAX, &mut [2, 9, min, 0]), 9);
        assert_eq!(apply(OP_MED, &mut [7, 1, 4, 8]), 7);
        assert_eq!(apply(OP_MED, &mut [3, 3, 0]), 3);
        assert_eq!(apply(OP_SM, &mut [9, 8, 5]), 2);
    }

    #[test]
    fn long_settings_fill_most_of_the_sequence() {
        for (seq_len, max_args, max_depth) in [(8192, 5, 6), (2048, 3, 10), (64, 5, 6)] {
            let t = task(seq_len, max_args, max_depth).unwrap();
            let b = t.generate(7, 8);
            for r in 0..8 {
                let len = b.row(r).inputs.iter().take_while(|&&x| x != PAD).count();
                assert!(len >= seq_len / 2, "{seq_len}/{max_args}/{max_depth}: tree of {len} tokens");
            }
        }
        // max_depth 1 caps the tree at max_args digits + 2 tokens.
        let b = task(64, 4, 1).unwrap().generate(1, 4);
        assert!((0..4).all(|r| b.row(r).inputs.iter().take_while(|&&x| x != PAD).count() <= 6));
    }

    #[test]
    fn too_short_names_seq_len() {
        let e = task(3, 5, 6).err().unwrap();
        assert!(e.for_field("seq_len").unwrap().contains("at least 4"), "{e}");
        assert!(task(4, 5, 6).is_ok());
    }
}
