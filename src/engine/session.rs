//! A training run driven in time-boxed chunks: train steps and, when one is due, slices of
//! the held-out evaluation, until the chunk's budget is used. The web worker and the
//! main-thread fallback both drive a `Session`, so the loop logic lives here once.

use super::gpu_train::GpuTrainer;
use super::trainer::{EvalProgress, EvalStats, StepStats, Trainer};

/// Held-out evaluation every this many steps (and at the last step).
pub const EVAL_EVERY: usize = 50;
/// On the GPU, weights and Adam moments are read back every this many steps (and at each
/// evaluation): the point a run continues from on the CPU if the device is lost.
pub const SYNC_EVERY: usize = 25;
/// Held-out sequences evaluated per slice of an evaluation.
pub const EVAL_PART: usize = 16;

/// What one chunk did.
#[derive(Clone, Debug, Default)]
pub struct ChunkReport {
    pub steps: Vec<StepStats>,
    /// A finished evaluation: (the step it belongs to, its result).
    pub eval: Option<(usize, EvalStats)>,
    pub error: Option<String>,
    /// With a finished evaluation, for recurrent models: `inspect::spectrum_summary`.
    pub spectrum: Option<Vec<[f32; 5]>>,
    /// The schedule's last step and its evaluation are done.
    pub done: bool,
    /// The GPU was lost: (why, the step the CPU continues from). Steps reported after that
    /// step are trained again on the CPU.
    pub fell_back: Option<(String, usize)>,
}

pub struct Session {
    pub trainer: Trainer,
    pending_eval: Option<(usize, EvalProgress)>,
    /// The GPU engine, when the run trains there.
    gpu: Option<GpuTrainer>,
    /// Evaluate every this many steps (and at the last).
    pub eval_every: usize,
    /// GPU runs: sync weights back every this many steps (see `SYNC_EVERY`).
    pub sync_every: usize,
    /// Test hook: destroy the GPU device once this many steps are submitted (from the
    /// trainer's `RunEnv::lose_gpu_at`; cleared once done).
    lose_device_at: Option<usize>,
    /// A GPU evaluation waiting for the sync of its step.
    held_eval: Option<(usize, EvalStats)>,
}

impl Session {
    /// A session for `trainer`, in the trainer's environment (`Trainer::env`).
    pub fn new(trainer: Trainer) -> Self {
        let lose_device_at = trainer.env.lose_gpu_at;
        Session {
            trainer,
            pending_eval: None,
            gpu: None,
            eval_every: EVAL_EVERY,
            sync_every: SYNC_EVERY,
            lose_device_at,
            held_eval: None,
        }
    }

    /// Train on the GPU engine from here (built for this session's trainer).
    pub fn attach_gpu(&mut self, gpu: GpuTrainer) {
        let a = gpu.adapter();
        self.trainer.trained_on = Some(format!("gpu ({}, {}): {}", a.backend, a.device_type, a.name));
        self.gpu = Some(gpu);
    }

    /// The GPU engine, while the run trains there.
    pub fn gpu(&self) -> Option<&GpuTrainer> {
        self.gpu.as_ref()
    }

    pub fn is_done(&self) -> bool {
        self.trainer.is_done() && self.pending_eval.is_none() && self.gpu_idle()
    }

    /// Work until `now()` passes `deadline` (at least one unit of work is always done).
    /// On the GPU a chunk also ends early when it can only wait for the device: natively
    /// `wait` blocks on it instead (the CLI, tests); the browser returns so its event loop
    /// can deliver the readbacks.
    pub fn run_until(&mut self, deadline: f64, now: &dyn Fn() -> f64) -> ChunkReport {
        self.run(deadline, now, false)
    }

    /// `run_until`, blocking on the GPU instead of returning (native callers).
    pub fn run_blocking(&mut self, deadline: f64, now: &dyn Fn() -> f64) -> ChunkReport {
        self.run(deadline, now, true)
    }

    fn run(&mut self, deadline: f64, now: &dyn Fn() -> f64, wait: bool) -> ChunkReport {
        let mut r = ChunkReport::default();
        loop {
            if self.pending_eval.is_some() {
                self.eval_part(&mut r);
            } else if self.gpu.is_some() {
                match self.gpu_work(&mut r, wait) {
                    Ok(true) => {}
                    Ok(false) => break,
                    // Whatever failed on the GPU (a lost device shows up as failed maps or
                    // submissions too), the run goes on on the CPU.
                    Err(e) => {
                        let why = self.gpu.as_ref().and_then(GpuTrainer::lost).unwrap_or(e);
                        self.fall_back(&mut r, why);
                    }
                }
            } else if self.trainer.is_done() {
                break;
            } else {
                match self.trainer.step() {
                    Ok(s) => {
                        if !self.take_step(&mut r, s) {
                            break;
                        }
                        if s.step % self.eval_every.max(1) == 0 || self.trainer.is_done() {
                            self.pending_eval = Some((s.step, EvalProgress::default()));
                        }
                    }
                    Err(e) => {
                        r.error =
                            Some(format!("training step {} failed: {e}", self.trainer.step_count() + 1));
                        break;
                    }
                }
            }
            // A report holds one evaluation: end the chunk at each (a fast GPU could
            // otherwise finish the next one in the same chunk and overwrite it).
            if r.error.is_some() || r.eval.is_some() || now() >= deadline {
                break;
            }
        }
        r.done = r.error.is_none() && self.is_done();
        r
    }

    /// Record a step's numbers; false (with the error set) when the loss diverged.
    fn take_step(&self, r: &mut ChunkReport, s: StepStats) -> bool {
        if !s.loss.is_finite() {
            r.error = Some(format!(
                "training diverged at step {}: the loss is {}; lower the learning rate (lr) or raise warmup",
                s.step, s.loss
            ));
            return false;
        }
        r.steps.push(s);
        true
    }

    fn eval_part(&mut self, r: &mut ChunkReport) {
        let Some((step, progress)) = self.pending_eval.as_mut() else { return };
        match self.trainer.evaluate_part(progress, EVAL_PART) {
            Ok(Some(e)) => {
                r.eval = Some((*step, e));
                let s = super::inspect::spectrum_summary(self.trainer.model.as_ref());
                r.spectrum = (!s.is_empty()).then_some(s);
                self.pending_eval = None;
            }
            Ok(None) => {}
            Err(e) => r.error = Some(format!("evaluation failed: {e}")),
        }
    }

    /// One unit of GPU work: deliver read-back statistics and evaluations, adopt synced
    /// weights, or submit a step (with, at evaluation steps, the held-out evaluation, also on
    /// the GPU). Ok(false): nothing to do but wait.
    fn gpu_work(&mut self, r: &mut ChunkReport, wait: bool) -> Result<bool, String> {
        let g = self.gpu.as_mut().expect("called with a GPU engine");
        if let Some(why) = g.lost() {
            return Ok(self.fall_back(r, why));
        }
        let stats = g.poll_stats(false)?;
        let mut progressed = !stats.is_empty();
        for s in stats {
            if !self.take_step(r, s) {
                return Ok(false);
            }
        }
        if self.poll_gpu(r, false)? {
            return Ok(true);
        }
        let g = self.gpu.as_mut().expect("still attached");
        let total = self.trainer.cfg.steps;
        let submitted = g.steps_submitted();
        if submitted < total && g.can_submit() && !g.sync_pending() && !g.eval_pending() {
            if self.lose_device_at == Some(submitted) {
                g.force_device_loss();
                self.lose_device_at = None;
            }
            g.submit_step(&self.trainer)?;
            let s = submitted + 1;
            let evaluate = s.is_multiple_of(self.eval_every.max(1)) || s == total;
            if evaluate {
                g.start_eval(self.trainer.eval_set())?;
            }
            if evaluate || s.is_multiple_of(self.sync_every.max(1)) {
                g.start_sync();
            } else {
                g.keep_reading();
            }
            return Ok(true);
        }
        g.start_readback();
        if self.gpu_idle() {
            return Ok(false); // everything submitted has been delivered
        }
        if wait {
            let g = self.gpu.as_mut().expect("still attached");
            let stats = g.poll_stats(true)?;
            progressed |= !stats.is_empty();
            for s in stats {
                if !self.take_step(r, s) {
                    return Ok(false);
                }
            }
            progressed |= self.poll_gpu(r, true)?;
            return Ok(progressed || !self.gpu_idle());
        }
        Ok(progressed)
    }

    /// All submitted work delivered (or no GPU).
    fn gpu_idle(&self) -> bool {
        self.gpu
            .as_ref()
            .is_none_or(|g| !g.sync_pending() && !g.eval_pending() && g.steps_read() == g.steps_submitted())
            && self.held_eval.is_none()
    }

    /// Take a finished sync or evaluation; report an evaluation once the weights it scored
    /// are synced too (for the spectrum views). True if anything arrived.
    fn poll_gpu(&mut self, r: &mut ChunkReport, wait: bool) -> Result<bool, String> {
        let g = self.gpu.as_mut().expect("called with a GPU engine");
        let mut got = false;
        if g.eval_pending() {
            if let Some(e) = g.poll_eval(wait)? {
                self.held_eval = Some(e);
                got = true;
            }
        }
        let g = self.gpu.as_mut().expect("still attached");
        if g.sync_pending() {
            if let Some(synced) = g.poll_sync(wait)? {
                for s in &synced.stats {
                    if !self.take_step(r, *s) {
                        return Ok(false);
                    }
                }
                self.trainer.adopt(synced.step, &synced.params, synced.m, synced.v)?;
                got = true;
            }
        }
        if let Some((step, e)) = self.held_eval {
            if step <= self.trainer.step_count() {
                r.eval = Some((step, e));
                if step == self.trainer.step_count() {
                    let s = super::inspect::spectrum_summary(self.trainer.model.as_ref());
                    r.spectrum = (!s.is_empty()).then_some(s);
                }
                self.held_eval = None;
            }
        }
        Ok(got)
    }

    /// Bring the CPU trainer's weights up to the last submitted GPU step (before a
    /// checkpoint or an inspection of a paused GPU run): starts a sync if needed and takes it
    /// when it lands. True once the trainer is current; call again until then (yielding).
    pub fn catch_up(&mut self, r: &mut ChunkReport) -> Result<bool, String> {
        let Some(g) = self.gpu.as_mut() else { return Ok(true) };
        if self.trainer.step_count() == g.steps_submitted() && !g.sync_pending() {
            return Ok(true);
        }
        if !g.sync_pending() {
            g.start_sync();
        }
        self.poll_gpu(r, false)?;
        Ok(self
            .gpu
            .as_ref()
            .is_none_or(|g| self.trainer.step_count() == g.steps_submitted() && !g.sync_pending()))
    }

    /// The device is gone: continue on the CPU from the last synced step.
    fn fall_back(&mut self, r: &mut ChunkReport, why: String) -> bool {
        let lost_eval = self.gpu.as_ref().is_some_and(GpuTrainer::eval_pending);
        self.gpu = None;
        let from = self.trainer.step_count();
        r.steps.retain(|s| s.step <= from);
        let dims = super::plan::dims_of(&self.trainer.task.shape());
        if let Err(e) = self.trainer.cfg.check_budget(dims, self.trainer.env.budget_bytes) {
            self.held_eval = None;
            r.error = Some(format!(
                "{why}; this run cannot continue on the CPU ({}: {}); the weights of step {from} are kept (Download weights)",
                e.field, e.message
            ));
            return false;
        }
        // An evaluation of the synced step lost with the device is redone on the CPU.
        if (lost_eval || self.held_eval.is_some())
            && (from.is_multiple_of(self.eval_every.max(1)) || from == self.trainer.cfg.steps)
            && r.eval.is_none_or(|e| e.0 != from)
        {
            self.pending_eval = Some((from, EvalProgress::default()));
        }
        self.held_eval = None;
        let on = self.trainer.trained_on.take().unwrap_or_default();
        self.trainer.trained_on = Some(format!("{on} to step {from}, then cpu"));
        r.fell_back = Some((format!("{why}; training continues on the CPU from step {from}"), from));
        true
    }
}

/// A session rebuilt from checkpoint or run-bundle bytes,
/// with the held-out evaluation of the loaded weights at the saved step. A bundle carries
/// the optimiser's moments, so training on continues the run exactly; a plain checkpoint
/// restarts them.
pub fn load_checkpoint(bytes: &[u8]) -> Result<(Session, (usize, EvalStats)), String> {
    let trainer = super::bundle::restore(bytes).map_err(|e| format!("could not load the checkpoint: {e}"))?;
    let eval = trainer.evaluate().map_err(|e| format!("could not evaluate the loaded weights: {e}"))?;
    let step = trainer.step_count();
    Ok((Session::new(trainer), (step, eval)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::TrainConfig;

    #[test]
    fn chunks_cover_every_step_and_every_evaluation() {
        let cfg = TrainConfig {
            layers: 1,
            heads: 1,
            d_model: 8,
            batch: 2,
            steps: 120,
            warmup: 5,
            ..TrainConfig::default()
        }
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

    #[test]
    fn evaluations_of_recurrent_models_carry_the_spectrum() {
        let cfg = TrainConfig {
            model: "dlr".into(),
            layers: 2,
            d_model: 4,
            state: 2,
            batch: 2,
            steps: 50,
            warmup: 5,
            ..TrainConfig::default()
        }
        .with_task("shift", &[("seq_len", "8"), ("vocab", "4"), ("max_shift", "2"), ("channels", "1")]);
        let mut s = Session::new(Trainer::new(cfg).unwrap());
        let mut seen = None;
        while !s.is_done() {
            let r = s.run_until(f64::INFINITY, &|| f64::INFINITY);
            assert_eq!(r.eval.is_some(), r.spectrum.is_some());
            seen = seen.or(r.spectrum);
        }
        let sp = seen.expect("an evaluation at step 50");
        assert_eq!(sp.len(), 2);
        assert!(sp.iter().all(|[lo, mid, hi, pmid, pmax]| lo <= mid
            && mid <= hi
            && 0.0 <= *pmid
            && pmid <= pmax
            && *pmax <= std::f32::consts::PI));
    }

    #[test]
    fn a_checkpoint_loads_into_a_session_with_its_evaluation_and_bad_bytes_are_refused() {
        let cfg = TrainConfig {
            layers: 1,
            heads: 1,
            d_model: 8,
            batch: 2,
            steps: 20,
            warmup: 2,
            ..TrainConfig::default()
        }
        .with_task("mqar", &[("vocab", "12"), ("seq_len", "9"), ("kv_pairs", "3")]);
        let mut t = Trainer::new(cfg).unwrap();
        for _ in 0..3 {
            t.step().unwrap();
        }
        let (loaded, (step, eval)) = load_checkpoint(&t.checkpoint().unwrap()).unwrap();
        assert_eq!(step, 3);
        assert!(!loaded.is_done());
        assert_eq!(eval, t.evaluate().unwrap());
        let e = load_checkpoint(b"not a safetensors file").err().unwrap();
        assert!(e.starts_with("could not load the checkpoint"), "{e}");
    }
}
