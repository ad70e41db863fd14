//! CumSum (Gupta, Mehta & Berant 2022, "Simplifying and Understanding State Space Models with
//! Diagonal Linear RNNs", the DLR synthetic suite): output the running sum of a real-valued
//! input, normalised so the target keeps unit variance at every position.
//!
//! Layout: one continuous feature channel `u_t ~ N(0, 1)` per position (`features` is
//! `[seq_len, 1]`); the input token is the constant 0 (vocabulary of one, labelled `·`).
//!
//! Scored: every position; the target (regression, one channel, in `values`) is
//! `y_t = (1 / sqrt(t + 1)) * sum_{s <= t} u_s` for 0-based `t`, computed in f64 from the
//! f32 inputs the model sees and stored as f32.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo, MAX_SEQ_LEN};

pub static INFO: TaskInfo = TaskInfo {
    name: "cumsum",
    title: "CumSum",
    family: "DLR suite",
    description: "regress the running sum of a Gaussian input, scaled by 1/sqrt(t+1)",
    source:
        "Gupta, Mehta & Berant 2022, Simplifying and Understanding SSMs with Diagonal Linear RNNs (CumSum)",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[ParamSpec::int(
    "seq_len",
    "Sequence length",
    "positions per sequence; every one is scored",
    64,
    1,
    MAX_SEQ_LEN as u64,
)];

pub struct CumSum {
    params: Params,
    seq_len: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    // The only parameter is range-checked by its spec; there are no relations to check.
    let seq_len = params.usize("seq_len");
    Ok(Box::new(CumSum { params, seq_len }))
}

impl Task for CumSum {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape { seq_len: self.seq_len, vocab: 1, features: 1, output: Output::Regression { channels: 1 } }
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        // features, values, mask: [seq_len, 1]; inputs stay the constant token 0.
        let mut sum = 0.0f64;
        for t in 0..self.seq_len {
            let u = rng.normal();
            row.features[t] = u;
            sum += u as f64;
            row.values[t] = (sum / ((t + 1) as f64).sqrt()) as f32;
            row.mask[t] = 1.0;
        }
    }

    fn token_label(&self, _token: u32) -> String {
        "·".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_length_names_the_parameter() {
        let e = Params::from_pairs(PARAMS, [("seq_len", "0")]).unwrap_err();
        assert!(e.for_field("seq_len").unwrap().contains("1..=65536"), "{e}");
    }

    #[test]
    fn targets_keep_unit_variance() {
        let t = build(Params::from_pairs(PARAMS, [("seq_len", "256")]).unwrap()).unwrap();
        let b = t.generate(3, 400);
        // Position 255 over 400 rows: y ~ N(0, 1).
        let ys: Vec<f64> = (0..b.batch).map(|r| b.row(r).values[255] as f64).collect();
        let var = ys.iter().map(|y| y * y).sum::<f64>() / ys.len() as f64;
        assert!((0.8..1.2).contains(&var), "{var}");
    }

    #[test]
    fn largest_setting_generates() {
        let t = build(Params::from_pairs(PARAMS, [("seq_len", "65536")]).unwrap()).unwrap();
        let b = t.generate(1, 1);
        assert_eq!(b.scored(), MAX_SEQ_LEN);
        assert!(b.values.iter().all(|v| v.is_finite()));
    }
}
