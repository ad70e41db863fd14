//! The run's files: opening a checkpoint or a run bundle (`engine::bundle`) as a paused run,
//! and saving the run's weights or the whole run as a bundle — from the worker, or directly
//! from the main-thread session — and its learning curve as CSV.

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
            crate::engine::plan(&cfg, &self.form.env.get_untracked())
                .map(|p| (cfg, step, p))
                .map_err(|e| e.to_string())
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
        write_run_url(&cfg, &plan, &self.form.env.get_untracked());
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
        let what = if self.exporting_bundle.get_value() { "run" } else { "weights" };
        let name = self.export_name(what, "safetensors");
        if let Err(e) = browser::download(&name, bytes, "application/octet-stream") {
            self.message.set(Some(e));
        }
    }

    /// Save the learning curve as tidy CSV (`step,metric,value`, as `metrics.csv` in a bundle).
    pub fn download_curve(&self) {
        let csv = crate::engine::bundle::metrics_csv(&self.history.get_untracked());
        if let Err(e) = browser::download(&self.export_name("curve", "csv"), csv.as_bytes(), "text/csv") {
            self.message.set(Some(e));
        }
    }

    /// The default name of a file about the current run (`core::names::export_name`).
    pub fn export_name(&self, what: &str, ext: &str) -> String {
        self.config
            .with_value(|c| c.as_ref().map(|c| crate::core::names::export_name(what, &c.task, c.seed, ext)))
            .unwrap_or_else(|| format!("interlab-{what}.{ext}"))
    }
}
