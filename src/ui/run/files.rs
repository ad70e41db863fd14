//! The run's files: opening a checkpoint or a run bundle (`engine::bundle`) as a paused run,
//! and saving the run's weights or the whole run as a bundle — from the worker, or directly
//! from the main-thread session.

use leptos::prelude::*;

use super::{write_run_url, Lab};
use crate::browser;
use crate::engine::history::History;
use crate::engine::messages::{FromWorker, ToWorker};
use crate::engine::{RunState, Trainer};

impl Lab {
    /// Replace the current run with one loaded from a checkpoint file (weights + config), after
    /// checking its header here; a bad file leaves the current run untouched.
    pub fn load_checkpoint(&self, name: &str, bytes: Vec<u8>) {
        let cfg = match Trainer::checkpoint_config(&bytes).and_then(|(cfg, step)| {
            crate::engine::plan(&cfg).map(|p| (cfg, step, p)).map_err(|e| e.to_string())
        }) {
            Ok(x) => x,
            Err(e) => return self.message.set(Some(format!("Could not load {name}: {e}"))),
        };
        let (cfg, step, plan) = cfg;
        let bundle = match crate::engine::bundle::info(&bytes) {
            Ok(b) => b,
            Err(e) => return self.message.set(Some(format!("Could not load {name}: {e}"))),
        };
        let regression = plan.task.shape().output.is_regression();
        let curve = match bundle
            .as_ref()
            .map(|b| crate::engine::bundle::parse_metrics(&b.metrics_csv, regression))
            .transpose()
        {
            Ok(h) => h,
            Err(e) => return self.message.set(Some(format!("Could not load {name}: {e}"))),
        };
        self.reset();
        self.form.show(&cfg);
        write_run_url(&cfg, &plan);
        self.config.set_value(Some(cfg.clone()));
        self.history
            .set(History { regression: plan.task.shape().output.is_regression(), ..History::default() });
        self.status.update(|s| {
            s.state = RunState::Paused;
            s.step = step;
            s.task = Some(cfg.task.clone());
            s.model = Some(cfg.model.clone());
            s.mixers = Some(cfg.mixers.clone());
        });
        if let Some(h) = curve {
            self.history.set(h);
        }
        let more = match (&bundle, step < cfg.steps) {
            (Some(_), true) => format!("; Resume continues the run exactly to step {}", cfg.steps),
            (None, true) => format!("; Resume trains on to step {} with fresh optimiser moments", cfg.steps),
            _ => String::new(),
        };
        let what = match &bundle {
            Some(b) if b.version != crate::VERSION => format!(
                "run bundle {name} (step {step}, with its curve; made with interlab {}, this is {})",
                b.version,
                crate::VERSION
            ),
            Some(_) => format!("run bundle {name} (step {step}, with its curve)"),
            None => format!("{name} (step {step})"),
        };
        self.message.set(Some(format!("Loaded {what}{more}.")));
        let run = self.run_id.get_value();
        // To the worker the bytes go as a transferred buffer (`browser::worker`), not as text.
        if self.post(ToWorker::Load { run, checkpoint: bytes.clone() }) {
            return;
        }
        match crate::engine::session::load_checkpoint(&bytes) {
            Ok((session, eval)) => {
                let done = session.is_done();
                self.local.set_value(Some(session));
                let mut m =
                    FromWorker::state(run, if done { RunState::Done } else { RunState::Paused }, None);
                m.eval = Some(eval);
                self.apply(m);
            }
            Err(e) => self.apply(FromWorker::state(run, RunState::Error, Some(e))),
        }
    }

    /// Save the current run's weights as a safetensors file (from the worker, or directly
    /// from the main-thread session).
    pub fn download_checkpoint(&self) {
        let run = self.run_id.get_value();
        self.exporting_bundle.set_value(false);
        if self.post(ToWorker::Export { run, bundle: None }) {
            return;
        }
        let bytes = self.local.with_value(|s| s.as_ref().map(|s| s.trainer.checkpoint()));
        match bytes {
            Some(Ok(b)) => self.save_checkpoint(&b),
            Some(Err(e)) => self.message.set(Some(format!("Could not save the checkpoint: {e}"))),
            None => self.message.set(Some("No run to save yet.".into())),
        }
    }

    /// Save the whole run as a bundle (`engine::bundle`): config, weights, optimiser state,
    /// the metrics as CSV and the page's link.
    pub fn export_bundle(&self) {
        let run = self.run_id.get_value();
        let request = crate::engine::messages::BundleRequest {
            metrics_csv: crate::engine::bundle::metrics_csv(&self.history.get_untracked()),
            link: browser::url::href(),
        };
        self.exporting_bundle.set_value(true);
        if self.post(ToWorker::Export { run, bundle: Some(request.clone()) }) {
            return;
        }
        let bytes = self.local.with_value(|s| {
            s.as_ref().map(|s| crate::engine::bundle::write(&s.trainer, &request.metrics_csv, &request.link))
        });
        match bytes {
            Some(Ok(b)) => self.save_checkpoint(&b),
            Some(Err(e)) => self.message.set(Some(format!("Could not save the run: {e}"))),
            None => self.message.set(Some("No run to save yet.".into())),
        }
    }

    pub(super) fn save_checkpoint(&self, bytes: &[u8]) {
        let kind = if self.exporting_bundle.get_value() { "interlab-run" } else { "interlab" };
        let name = self.config.with_value(|c| {
            c.as_ref().map(|c| {
                format!("{kind}-{}-{}-step{}.safetensors", c.task, c.model, self.status.get_untracked().step)
            })
        });
        let name = name.unwrap_or_else(|| "interlab.safetensors".into());
        if let Err(e) = browser::download(&name, bytes, "application/octet-stream") {
            self.message.set(Some(e));
        }
    }
}
