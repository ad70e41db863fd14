//! Shift (multi-shift; Gupta, Mehta & Berant 2022, "Simplifying and Understanding State Space
//! Models with Diagonal Linear RNNs", the DLR synthetic suite).
//!
//! Layout: `seq_len` data tokens drawn uniformly from `0..vocab`. The output has `channels`
//! channels; channel `j` must reproduce the input delayed by its own shift
//! `s_j = ceil((j+1) * max_shift / channels)`, so the shifts are distinct (`channels <=
//! max_shift`), spread evenly over `1..=max_shift`, and the last one is `max_shift`. With one
//! channel this is the plain Shift task.
//!
//! Vocabulary: input tokens and output classes are the data tokens `0..vocab` (labelled by
//! their number). Scored: channel `j` at position `t` iff `t >= s_j`; its target is
//! `x[t - s_j]`. Earlier positions of that channel have nothing to copy and are not scored.
//!
//! The paper describes shifting an input signal by a fixed amount (one kernel per shift);
//! we use tokens so accuracy is meaningful, and several channels for the multi-shift variant.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "shift",
    title: "Shift",
    family: "DLR suite",
    description: "copy the input delayed by a fixed shift, one distinct shift per output channel",
    source: "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (Shift / multi-shift)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int(
        "seq_len",
        "Sequence length",
        "tokens per sequence; must exceed max_shift",
        32,
        2,
        MAX_SEQ_LEN as u64,
    ),
    ParamSpec::int(
        "vocab",
        "Vocabulary",
        "data tokens 0..vocab, drawn uniformly; also the number of classes",
        16,
        2,
        8192,
    ),
    ParamSpec::int(
        "channels",
        "Channels",
        "output channels, each with its own shift; at most max_shift",
        4,
        1,
        16,
    ),
    ParamSpec::int(
        "max_shift",
        "Max shift",
        "channel j shifts ceil((j+1)*max_shift/channels); < seq_len",
        8,
        1,
        MAX_SEQ_LEN as u64 - 1,
    ),
];

pub struct Shift {
    params: Params,
    seq_len: usize,
    vocab: usize,
    /// `[channels]` the shift of each output channel, increasing.
    shifts: Vec<usize>,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    let (seq_len, vocab, channels, max_shift) =
        (params.usize("seq_len"), params.usize("vocab"), params.usize("channels"), params.usize("max_shift"));
    let mut c = Checks::default();
    c.check(max_shift >= seq_len, "max_shift", || {
        format!("{max_shift} must be below seq_len {seq_len}: a shift of {max_shift} leaves no position with a target")
    });
    c.check(channels > max_shift, "channels", || {
        format!(
            "{channels} channels need {channels} distinct shifts, but max_shift {max_shift} allows only {max_shift} (1..={max_shift})"
        )
    });
    c.finish()?;
    Ok(Box::new(Shift { params, seq_len, vocab, shifts: channel_shifts(channels, max_shift) }))
}

/// `s_j = ceil((j+1) * max_shift / channels)` for `j in 0..channels`.
fn channel_shifts(channels: usize, max_shift: usize) -> Vec<usize> {
    (0..channels).map(|j| ((j + 1) * max_shift).div_ceil(channels)).collect()
}

impl Task for Shift {
    task_meta!();

    fn shape(&self) -> Shape {
        let channels = self.shifts.len();
        Shape {
            seq_len: self.seq_len,
            vocab: self.vocab,
            features: 0,
            output: Output::Classes { channels, classes: self.vocab },
        }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let c = self.shifts.len();
        for x in row.inputs.iter_mut() {
            *x = rng.below(self.vocab as u64) as u32;
        }
        // targets, mask: [seq_len, channels]
        for t in 0..self.seq_len {
            for (j, &s) in self.shifts.iter().enumerate() {
                if t >= s {
                    row.targets[t * c + j] = row.inputs[t - s];
                    row.mask[t * c + j] = 1.0;
                }
            }
        }
    }

    fn token_label(&self, token: u32) -> String {
        token.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, f64)]) -> Result<Box<dyn Task>, ConfigError> {
        build(Params::with(PARAMS, pairs))
    }

    #[test]
    fn shifts_are_distinct_and_end_at_max_shift() {
        assert_eq!(channel_shifts(4, 8), vec![2, 4, 6, 8]);
        assert_eq!(channel_shifts(3, 8), vec![3, 6, 8]);
        assert_eq!(channel_shifts(5, 5), vec![1, 2, 3, 4, 5]);
        for s in 1..40 {
            for c in 1..=s.min(16) {
                let v = channel_shifts(c, s);
                assert!(v.windows(2).all(|w| w[0] < w[1]) && v[0] >= 1 && v[c - 1] == s, "{c} {s}: {v:?}");
            }
        }
    }

    #[test]
    fn impossible_settings_name_the_parameter() {
        let e = with(&[("seq_len", 8.0), ("max_shift", 8.0)]).err().unwrap();
        assert!(e.for_field("max_shift").unwrap().contains("below seq_len 8"), "{e}");
        let e = with(&[("channels", 6.0), ("max_shift", 5.0)]).err().unwrap();
        assert!(e.for_field("channels").unwrap().contains("max_shift 5 allows only 5"), "{e}");
    }

    #[test]
    fn largest_setting_generates() {
        let t = with(&[
            ("seq_len", MAX_SEQ_LEN as f64),
            ("max_shift", MAX_SEQ_LEN as f64 - 1.0),
            ("channels", 16.0),
        ])
        .unwrap();
        let b = t.generate(1, 1);
        // Channel 15 (shift 65535) scores only the last position.
        assert_eq!(b.mask[(MAX_SEQ_LEN - 1) * 16 + 15], 1.0);
        assert_eq!(b.targets[(MAX_SEQ_LEN - 1) * 16 + 15], b.inputs[0]);
        let unscored: usize = channel_shifts(16, MAX_SEQ_LEN - 1).iter().sum();
        assert_eq!(b.scored(), MAX_SEQ_LEN * 16 - unscored);
    }
}
