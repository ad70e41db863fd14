//! Scoring a model's outputs against a batch on the host: token accuracy over scored targets,
//! sequence exact match (every scored target of a row right), and squared error for
//! regression. One pass over the outputs serves the step statistics and the evaluation.
//! Also the row format of the CLI's wide `metrics.csv` (one row per evaluation).

use candle_core::{Tensor, D};

use super::trainer::{EvalStats, StepStats};
use crate::core::csv;
use crate::model::Result;
use crate::tasks::{Batch, Output};

/// Sums over some rows; combine parts with `add`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    pub correct: usize,
    pub scored: usize,
    pub exact_rows: usize,
    pub rows: usize,
    pub sq_err: f64,
}

impl Score {
    /// `out`: the model's `[b*l, out]` outputs for `batch`.
    pub fn of(out: &Tensor, batch: &Batch, output: Output) -> Result<Score> {
        let (l, c) = (batch.seq_len, batch.channels);
        let mut s = Score { rows: batch.batch, ..Score::default() };
        match output {
            Output::Classes { classes, .. } => {
                let logits = out.reshape((batch.batch * l * c, classes))?; // [b*l*c, classes]
                let pred: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?; // [b*l*c]
                let rows = pred.chunks(l * c).zip(batch.targets.chunks(l * c)).zip(batch.mask.chunks(l * c));
                for ((p, y), m) in rows {
                    let mut all = true;
                    for ((p, y), _) in p.iter().zip(y).zip(m).filter(|(_, m)| **m > 0.0) {
                        s.scored += 1;
                        if p == y {
                            s.correct += 1;
                        } else {
                            all = false;
                        }
                    }
                    s.exact_rows += all as usize;
                }
            }
            Output::Regression { .. } => {
                let pred: Vec<f32> = out.flatten_all()?.to_vec1()?; // [b*l*c]
                for ((p, y), _) in pred.iter().zip(&batch.values).zip(&batch.mask).filter(|(_, m)| **m > 0.0)
                {
                    s.scored += 1;
                    s.sq_err += ((p - y) as f64).powi(2);
                }
            }
        }
        Ok(s)
    }

    pub fn add(&mut self, o: &Score) {
        self.correct += o.correct;
        self.scored += o.scored;
        self.exact_rows += o.exact_rows;
        self.rows += o.rows;
        self.sq_err += o.sq_err;
    }

    /// Token accuracy (classification only).
    pub fn accuracy(&self, output: Output) -> Option<f64> {
        (!output.is_regression()).then(|| self.correct as f64 / self.scored.max(1) as f64)
    }

    pub fn exact_match(&self, output: Output) -> Option<f64> {
        (!output.is_regression()).then(|| self.exact_rows as f64 / self.rows.max(1) as f64)
    }

    pub fn mse(&self, output: Output) -> Option<f64> {
        output.is_regression().then(|| self.sq_err / self.scored.max(1) as f64)
    }
}

/// Columns of the CLI's `metrics.csv` (`interlab train`): one row per evaluation, with empty
/// cells for metrics the task does not have (accuracy for regression, MSE for classification).
pub const RUN_METRICS_COLUMNS: [&str; 8] = [
    "step",
    "loss",
    "accuracy",
    "lr",
    "heldout_loss",
    "heldout_accuracy",
    "heldout_exact_match",
    "heldout_mse",
];

/// The header line of the CLI's `metrics.csv` (ends in `\n`).
pub fn run_metrics_header() -> String {
    csv::row(&RUN_METRICS_COLUMNS)
}

/// One line of the CLI's `metrics.csv` (ends in `\n`): the step's statistics and the
/// evaluation made after it. Numbers in Rust's shortest round-trip `Display` form.
pub fn run_metrics_row(s: &StepStats, e: &EvalStats) -> String {
    let cell = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    csv::row(&[
        s.step.to_string(),
        s.loss.to_string(),
        cell(s.accuracy),
        s.lr.to_string(),
        e.loss.to_string(),
        cell(e.accuracy),
        cell(e.exact_match),
        cell(e.mse),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn accuracy_and_exact_match_count_scored_targets_per_row() {
        // 2 rows x 2 positions, 1 channel, 2 classes; row 0 all right, row 1 one wrong.
        let logits =
            Tensor::from_vec(vec![0f32, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0], (4, 2), &Device::Cpu).unwrap();
        let batch = Batch {
            batch: 2,
            seq_len: 2,
            features: 0,
            channels: 1,
            inputs: vec![0; 4],
            features_data: vec![],
            targets: vec![1, 0, 1, 0],
            values: vec![0.0; 4],
            mask: vec![1.0, 1.0, 1.0, 1.0],
        };
        let out = Output::Classes { channels: 1, classes: 2 };
        let s = Score::of(&logits, &batch, out).unwrap();
        assert_eq!((s.correct, s.scored, s.exact_rows, s.rows), (3, 4, 1, 2));
        assert_eq!(s.accuracy(out), Some(0.75));
        assert_eq!(s.exact_match(out), Some(0.5));
        assert_eq!(s.mse(out), None);
    }

    #[test]
    fn run_metrics_rows_match_the_header_and_leave_missing_metrics_empty() {
        assert_eq!(
            run_metrics_header(),
            "step,loss,accuracy,lr,heldout_loss,heldout_accuracy,heldout_exact_match,heldout_mse\n"
        );
        let s = StepStats { step: 3, loss: 0.5, accuracy: None, lr: 0.001, grad_norm: 1.0 };
        let e = EvalStats { loss: 0.25, accuracy: None, exact_match: None, mse: Some(0.125) };
        assert_eq!(run_metrics_row(&s, &e), "3,0.5,,0.001,0.25,,,0.125\n");
        let e = EvalStats { loss: f64::NAN, accuracy: Some(0.75), exact_match: Some(1.0), mse: None };
        assert_eq!(run_metrics_row(&s, &e), "3,0.5,,0.001,NaN,0.75,1,\n");
    }
}
