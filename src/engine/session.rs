//! A training run driven in time-boxed chunks: train steps and, when one is due, slices of
//! the held-out evaluation, until the chunk's budget is used. The web worker and the
//! main-thread fallback both drive a `Session`, so the loop logic lives here once.

use super::trainer::{EvalProgress, EvalStats, StepStats, Trainer};

/// Held-out evaluation every this many steps (and at the last step).
pub const EVAL_EVERY: usize = 50;
/// Held-out sequences evaluated per slice of an evaluation.
pub const EVAL_PART: usize = 16;

/// What one chunk did.
#[derive(Clone, Debug, Default)]
pub struct ChunkReport {
    pub steps: Vec<StepStats>,
    /// A finished evaluation: (the step it belongs to, its result).
    pub eval: Option<(usize, EvalStats)>,
    pub error: Option<String>,
    /// The schedule's last step and its evaluation are done.
    pub done: bool,
}

pub struct Session {
    pub trainer: Trainer,
    pending_eval: Option<(usize, EvalProgress)>,
}

impl Session {
    pub fn new(trainer: Trainer) -> Self {
        Session { trainer, pending_eval: None }
    }

    pub fn is_done(&self) -> bool {
        self.trainer.is_done() && self.pending_eval.is_none()
    }

    /// Work until `now()` passes `deadline` (at least one unit of work is always done).
    pub fn run_until(&mut self, deadline: f64, now: &dyn Fn() -> f64) -> ChunkReport {
        let mut r = ChunkReport::default();
        loop {
            if let Some((step, progress)) = self.pending_eval.as_mut() {
                match self.trainer.evaluate_part(progress, EVAL_PART) {
                    Ok(Some(e)) => {
                        r.eval = Some((*step, e));
                        self.pending_eval = None;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        r.error = Some(format!("evaluation failed: {e}"));
                        break;
                    }
                }
            } else if self.trainer.is_done() {
                break;
            } else {
                match self.trainer.step() {
                    Ok(s) if !s.loss.is_finite() => {
                        r.error = Some(format!(
                            "training diverged at step {}: the loss is {}; lower the learning rate (lr) or raise warmup",
                            s.step, s.loss
                        ));
                        break;
                    }
                    Ok(s) => {
                        r.steps.push(s);
                        if s.step % EVAL_EVERY == 0 || self.trainer.is_done() {
                            self.pending_eval = Some((s.step, EvalProgress::default()));
                        }
                    }
                    Err(e) => {
                        r.error = Some(format!("training step {} failed: {e}", self.trainer.step_count() + 1));
                        break;
                    }
                }
            }
            if now() >= deadline {
                break;
            }
        }
        r.done = self.is_done();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::TrainConfig;

    #[test]
    fn chunks_cover_every_step_and_every_evaluation() {
        let cfg = TrainConfig { layers: 1, heads: 1, d_model: 8, batch: 2, steps: 120, warmup: 5, ..TrainConfig::default() }
            .with_task("mqar", &[("vocab", "12"), ("seq_len", "9"), ("kv_pairs", "3")]);
        let mut s = Session::new(Trainer::new(cfg).unwrap());
        let (mut steps, mut evals) = (Vec::new(), Vec::new());
        // A deadline in the past: each call does one unit of work.
        for _ in 0..10_000 {
            let r = s.run_until(f64::NEG_INFINITY, &|| 0.0);
            assert!(r.error.is_none());
            steps.extend(r.steps.iter().map(|x| x.step));
            evals.extend(r.eval.map(|e| e.0));
            if r.done {
                break;
            }
        }
        assert_eq!(steps, (1..=120).collect::<Vec<_>>());
        assert_eq!(evals, vec![50, 100, 120]);
        assert!(s.is_done());
    }
}
