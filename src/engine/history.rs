//! What a run has produced so far, in plain types the UI only renders: per-step training
//! loss/accuracy, held-out evaluations, and a steps-per-second meter.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Whether the run's task is a regression (its metric is MSE, not accuracy).
    pub regression: bool,
    /// `(step, training loss)`.
    pub loss: Vec<(f64, f64)>,
    /// `(step, training-batch query accuracy)`.
    pub accuracy: Vec<(f64, f64)>,
    /// `(step, held-out token accuracy)`.
    pub eval_accuracy: Vec<(f64, f64)>,
    /// `(step, held-out sequence exact match)`.
    pub eval_exact: Vec<(f64, f64)>,
    /// `(step, held-out mean squared error)` (regression tasks).
    pub eval_mse: Vec<(f64, f64)>,
    /// `(step, per layer [min, median, max |λ|, median, max |arg λ|])` at each evaluation
    /// (recurrent models).
    pub spectrum: Vec<(f64, Vec<[f32; 5]>)>,
}

impl History {
    /// Forget everything after `step` (the steps a lost GPU ran past its last sync, which
    /// the CPU trains again).
    pub fn truncate(&mut self, step: usize) {
        let x = step as f64;
        for v in [
            &mut self.loss,
            &mut self.accuracy,
            &mut self.eval_accuracy,
            &mut self.eval_exact,
            &mut self.eval_mse,
        ] {
            v.retain(|p| p.0 <= x);
        }
        self.spectrum.retain(|p| p.0 <= x);
    }

    /// Fold in one chunk's steps and evaluation.
    pub fn record(
        &mut self,
        steps: &[StepPoint],
        eval: Option<(usize, super::EvalStats)>,
        spectrum: Option<&Vec<[f32; 5]>>,
    ) {
        for s in steps {
            self.loss.push((s.step as f64, s.loss));
            if let Some(a) = s.accuracy {
                self.accuracy.push((s.step as f64, a));
            }
        }
        if let Some((step, e)) = eval {
            let x = step as f64;
            if let Some(a) = e.accuracy {
                self.eval_accuracy.push((x, a));
            }
            if let Some(a) = e.exact_match {
                self.eval_exact.push((x, a));
            }
            if let Some(m) = e.mse {
                self.eval_mse.push((x, m));
            }
            if let Some(s) = spectrum {
                self.spectrum.push((x, s.clone()));
            }
        }
    }
}

/// At most `max` points, evenly strided, always keeping the last one (what a chart needs;
/// thousands of SVG vertices would slow the page for nothing).
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(max - 1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(stride).copied().collect();
    if out.last() != points.last() {
        out.push(*points.last().unwrap());
    }
    out
}

/// Steps per second over a sliding window of wall-clock time (pauses excluded by `reset`).
#[derive(Clone, Debug, Default)]
pub struct SpeedMeter {
    samples: VecDeque<(f64, usize)>,
}

impl SpeedMeter {
    /// Window length in milliseconds.
    pub const WINDOW_MS: f64 = 3000.0;

    pub fn reset(&mut self) {
        self.samples.clear();
    }

    /// Record that `step` steps were complete at `t_ms`; returns the current rate once two
    /// samples exist.
    pub fn record(&mut self, t_ms: f64, step: usize) -> Option<f64> {
        self.samples.push_back((t_ms, step));
        while self.samples.len() > 2 && t_ms - self.samples[0].0 > Self::WINDOW_MS {
            self.samples.pop_front();
        }
        let (t0, s0) = *self.samples.front()?;
        let dt = t_ms - t0;
        (dt > 0.0 && step > s0).then(|| (step - s0) as f64 * 1000.0 / dt)
    }
}

/// One training step's numbers, as the charts need them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepPoint {
    pub step: usize,
    #[serde(with = "super::metrics::finite_or_null")]
    pub loss: f64,
    /// Token accuracy of the batch (classification tasks).
    pub accuracy: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_bounds_points_and_keeps_ends() {
        let pts: Vec<(f64, f64)> = (0..1001).map(|i| (i as f64, i as f64)).collect();
        let d = downsample(&pts, 100);
        assert!(d.len() <= 101, "{}", d.len());
        assert_eq!(d[0], pts[0]);
        assert_eq!(d.last(), pts.last());
        assert_eq!(downsample(&pts[..5], 100).len(), 5);
    }

    #[test]
    fn speed_meter_measures_rate() {
        let mut m = SpeedMeter::default();
        assert_eq!(m.record(0.0, 0), None);
        let r = m.record(1000.0, 20).unwrap();
        assert!((r - 20.0).abs() < 1e-9);
        m.reset();
        assert_eq!(m.record(5000.0, 20), None);
    }
}
