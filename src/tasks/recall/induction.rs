//! Induction heads (Olsson et al. 2022, "In-context Learning and Induction Heads"; Singh et al.
//! 2024, "What needs to go right for an induction head?").
//!
//! Layout: a random prefix of `seq_len - 2 x segment` tokens, then a segment of `segment`
//! distinct tokens, then the same segment again. Prefix tokens are drawn uniformly with
//! repetition from the tokens NOT in the segment, so inside the second copy the current token
//! has appeared exactly once before (in the first copy) and the token after that occurrence
//! is the answer: `[A][B] ... [A] -> [B]`.
//!
//! Next-token framing: the target at position t is `x[t+1]`, scored for t from the start of
//! the second copy up to the second-to-last position (`segment - 1` positions per row; the
//! first copy and the prefix are unpredictable and unscored).
//!
//! Vocabulary: tokens `0..vocab` ("7"), all interchangeable; classes are the same ids.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "induction",
    title: "Induction heads",
    family: "Recall",
    description: "a segment repeats: continue it by copying what followed each token the first time",
    source: "Olsson et al. 2022, In-context Learning and Induction Heads; Singh et al. 2024",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence: prefix + 2 x segment",
        64,
        4,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "distinct tokens; more than segment when there is a prefix",
        32,
        2,
        8192,
    ),
    ParamSpec::int(
        "segment",
        "Segment length",
        "distinct tokens in the repeated segment; 2 x segment <= seq_len",
        16,
        2,
        4096,
    ),
];

pub struct Induction {
    params: Params,
    seq_len: usize,
    vocab: usize,
    segment: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (seq_len, vocab, segment) = (params.usize("seq_len"), params.usize("vocab"), params.usize("segment"));
    let mut c = Checks::default();
    c.check(2 * segment > seq_len, "segment", || {
        format!("{segment} does not fit twice in seq_len {seq_len} (2 x segment = {})", 2 * segment)
    });
    let prefix = seq_len.saturating_sub(2 * segment);
    let need = segment + usize::from(prefix > 0);
    c.check(vocab < need, "vocab", || {
        if prefix > 0 {
            format!("{vocab} is too small: {segment} segment tokens plus at least one other token for the prefix need {need}")
        } else {
            format!("{vocab} is too small for {segment} distinct segment tokens")
        }
    });
    c.finish()?;
    Ok(Box::new(Induction { params, seq_len, vocab, segment }))
}

impl Task for Induction {
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
        let (l, s, v) = (self.seq_len, self.segment, self.vocab);
        // Partial Fisher-Yates: pool[..s] is the segment, pool[s..] the other tokens.
        let mut pool: Vec<u32> = (0..v as u32).collect(); // [vocab]
        for i in 0..s {
            let j = i + rng.below((v - i) as u64) as usize;
            pool.swap(i, j);
        }
        let prefix = l - 2 * s;
        for x in row.inputs[..prefix].iter_mut() {
            *x = pool[s + rng.below((v - s) as u64) as usize];
        }
        row.inputs[prefix..prefix + s].copy_from_slice(&pool[..s]);
        row.inputs[prefix + s..].copy_from_slice(&pool[..s]);
        for t in prefix + s..l - 1 {
            row.targets[t] = row.inputs[t + 1];
            row.mask[t] = 1.0;
        }
    }

    fn token_label(&self, token: u32) -> String {
        format!("{token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(seq_len: usize, vocab: usize, segment: usize) -> Result<Box<dyn Task>, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("seq_len", seq_len as f64);
        p.set("vocab", vocab as f64);
        p.set("segment", segment as f64);
        build(p)
    }

    #[test]
    fn impossible_settings_name_the_parameter() {
        let e = make(20, 32, 11).err().unwrap();
        assert!(e.for_field("segment").unwrap().contains("2 x segment = 22"), "{e}");
        let e = make(64, 16, 16).err().unwrap();
        assert!(e.for_field("vocab").unwrap().contains("need 17"), "{e}");
        // Without a prefix, segment tokens alone are enough.
        assert!(make(32, 16, 16).is_ok());
    }

    #[test]
    fn scores_segment_minus_one_positions() {
        let t = make(64, 32, 16).unwrap();
        let b = t.generate(4, 3);
        assert_eq!(b.scored(), 3 * 15);
    }
}
