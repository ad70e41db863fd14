//! The run controller: start / pause / resume / reset. Training runs in a Web Worker
//! (`crate::worker`) so a slow step never blocks the page; if the worker cannot start, the
//! same `engine::Session` runs here in chunks of at most `CHUNK_MS` that yield to the browser.
//! Both paths feed the UI the same `FromWorker` updates.

use std::rc::Rc;

use leptos::prelude::*;

mod files;

use super::controls::FormState;
use super::TRAINING_BACKEND;
use crate::browser;
use crate::browser::worker::WorkerHandle;
use crate::core::TrainConfig;
use crate::engine::backend::BackendInfo;
use crate::engine::history::{History, SpeedMeter};
use crate::engine::inspect::ModelView;
use crate::engine::messages::{FromWorker, ToWorker, Wire};
use crate::engine::steering::{SteerOutcome, SteerProgress, SteerRequest};
use crate::engine::{Backend, RunState, RunStatus, Runner, Session, Trainer};
use crate::engine::{BackendPref, RunEnv};

/// The worker script Trunk emits for `src/bin/worker.rs` (unhashed, next to index.html).
const WORKER_URL: &str = "./interlab-worker_loader.js";
/// Longest stretch of main-thread training between two yields (fallback path only).
const CHUNK_MS: f64 = 25.0;

#[derive(Clone, Copy)]
pub struct Lab {
    pub form: FormState,
    pub status: RwSignal<RunStatus>,
    pub history: RwSignal<History>,
    pub message: RwSignal<Option<String>>,
    /// The model views: the last example seen through the model, which example, and whether
    /// the views are open (then they refresh at every evaluation).
    pub view: RwSignal<Option<ModelView>>,
    pub view_seed: RwSignal<u64>,
    pub views_open: RwSignal<bool>,
    speed: StoredValue<SpeedMeter, LocalStorage>,
    /// Id of the current run; updates carrying another id are stale and dropped.
    run_id: StoredValue<u64, LocalStorage>,
    config: StoredValue<Option<TrainConfig>, LocalStorage>,
    worker: StoredValue<Option<WorkerHandle>, LocalStorage>,
    /// Messages posted before the worker said it is ready (a worker drops messages that
    /// arrive before its wasm has installed the handler), in their wire form.
    outbox: StoredValue<Option<Vec<Wire>>, LocalStorage>,
    /// The fallback: a session trained on this thread, and a counter that retires old loops.
    local: StoredValue<Option<Session>, LocalStorage>,
    local_gen: StoredValue<u64, LocalStorage>,
    /// Spawn the worker at the first run (experiment arms), not at construction.
    lazy_worker: StoredValue<bool, LocalStorage>,
    /// Where the current run trains, once the worker has decided.
    pub backend: RwSignal<Option<BackendInfo>>,
    /// The last steering result, and progress of the request under way.
    pub steer: RwSignal<Option<SteerOutcome>>,
    pub steer_progress: RwSignal<Option<SteerProgress>>,
    /// Called (soon after, never inside a worker callback) when a run reaches done or error.
    on_finish: StoredValue<Option<Rc<dyn Fn()>>, LocalStorage>,
    /// The export under way is a run bundle (else plain weights).
    exporting_bundle: StoredValue<bool, LocalStorage>,
}

impl Lab {
    /// The lab's own run, driven by `form`; its worker starts now.
    pub fn new(form: FormState) -> Self {
        let lab = Self::build(form);
        lab.spawn_worker();
        lab
    }

    /// A run driven by `run_config` only (an experiment arm); its worker starts with it.
    pub fn detached(env: RunEnv, on_finish: Rc<dyn Fn()>) -> Self {
        let lab = Self::build(FormState::from_query(&[], env));
        lab.lazy_worker.set_value(true);
        lab.on_finish.set_value(Some(on_finish));
        lab
    }

    fn spawn_worker(&self) {
        let lab = *self;
        self.outbox.set_value(Some(Vec::new()));
        match WorkerHandle::spawn(
            WORKER_URL,
            move |wire| lab.on_worker_message(wire),
            move |e| lab.worker_failed(e),
        ) {
            Ok(w) => self.worker.set_value(Some(w)),
            Err(e) => self.worker_failed(e),
        }
    }

    fn build(form: FormState) -> Self {
        Lab {
            form,
            status: RwSignal::new(RunStatus::idle(TRAINING_BACKEND)),
            history: RwSignal::new(History::default()),
            message: RwSignal::new(None),
            backend: RwSignal::new(None),
            steer: RwSignal::new(None),
            steer_progress: RwSignal::new(None),
            view: RwSignal::new(None),
            view_seed: RwSignal::new(1),
            views_open: RwSignal::new(false),
            speed: StoredValue::new_local(SpeedMeter::default()),
            run_id: StoredValue::new_local(0),
            config: StoredValue::new_local(None),
            worker: StoredValue::new_local(None),
            outbox: StoredValue::new_local(Some(Vec::new())),
            local: StoredValue::new_local(None),
            local_gen: StoredValue::new_local(0),
            lazy_worker: StoredValue::new_local(false),
            on_finish: StoredValue::new_local(None),
            exporting_bundle: StoredValue::new_local(false),
        }
    }

    fn runner(&self) -> Runner {
        if self.worker.with_value(Option::is_some) {
            Runner::Worker
        } else {
            Runner::Main
        }
    }

    pub fn is_running(&self) -> Signal<bool> {
        let status = self.status;
        Signal::derive(move || status.with(|s| s.state == RunState::Running))
    }

    fn post(&self, msg: ToWorker) -> bool {
        if self.worker.with_value(Option::is_none) {
            return false;
        }
        let mut wire = Some(msg.into_wire());
        let queued = self.outbox.try_update_value(|q| q.as_mut().map(|q| q.extend(wire.take()))).flatten();
        let Some((text, bytes)) = wire.filter(|_| queued.is_none()) else {
            return true; // queued until the worker is ready
        };
        let sent = self.worker.with_value(|w| w.as_ref().map(|w| w.post(&text, bytes.as_deref())));
        match sent {
            Some(Ok(())) => true,
            Some(Err(e)) => {
                self.worker_failed(e);
                false
            }
            None => false,
        }
    }

    /// Start a new run from the form, or resume a paused one.
    pub fn start(&self) {
        let state = self.status.get_untracked().state;
        if state == RunState::Running {
            return;
        }
        self.message.set(None);
        self.speed.update_value(|s| s.reset());
        let run = self.run_id.get_value();
        if state == RunState::Paused {
            self.status.update(|s| s.state = RunState::Running);
            if !self.post(ToWorker::Resume { run }) {
                self.spawn_local_loop();
            }
            return;
        }
        let Ok((cfg, plan)) = self.form.parse() else {
            // The form already marks the bad fields (`FormState::checked`).
            self.message.set(Some("Fix the highlighted fields to start.".into()));
            return;
        };
        self.form.show(&cfg);
        write_run_url(&cfg, &plan, &self.form.env.get_untracked());
        self.run_config(cfg, &plan);
    }

    /// Start a new run of `cfg` (already planned), replacing any other; the form and the
    /// URL are left alone (the experiments page drives its arms this way).
    pub fn run_config(&self, cfg: TrainConfig, plan: &crate::engine::Plan) {
        self.message.set(None);
        self.speed.update_value(|s| s.reset());
        self.local_gen.update_value(|g| *g += 1);
        self.run_id.update_value(|r| *r += 1);
        if self.lazy_worker.get_value() {
            self.lazy_worker.set_value(false);
            self.spawn_worker();
        }
        self.config.set_value(Some(cfg.clone()));
        self.history
            .set(History { regression: plan.task.shape().output.is_regression(), ..History::default() });
        self.view.set(None);
        self.backend.set(None);
        self.status.set(RunStatus {
            state: RunState::Running,
            task: Some(cfg.task.clone()),
            model: Some(cfg.model.clone()),
            mixers: Some(cfg.mixers.clone()),
            runner: self.runner(),
            ..RunStatus::idle(TRAINING_BACKEND)
        });
        self.launch();
    }

    /// Start the current config's run on the worker, or here if there is none.
    fn launch(&self) {
        let run = self.run_id.get_value();
        let Some(config) = self.config.get_value() else { return };
        let env = self.form.env.get_untracked();
        if self.post(ToWorker::Start { run, config: config.clone(), env }) {
            return;
        }
        let reason =
            "CPU: the training worker is unavailable, and the page's own thread trains on the CPU only"
                .to_string();
        self.backend.set(Some(BackendInfo { gpu: false, adapter: None, reason }));
        match Trainer::with_env(config, env) {
            Ok(t) => {
                self.local.set_value(Some(Session::new(t)));
                self.spawn_local_loop();
            }
            Err(e) => self.apply(FromWorker::state(
                run,
                RunState::Error,
                Some(format!("could not build the run: {e}")),
            )),
        }
    }

    pub fn pause(&self) {
        if self.status.get_untracked().state != RunState::Running {
            return;
        }
        let run = self.run_id.get_value();
        if !self.post(ToWorker::Pause { run }) {
            // Local loop: retire it; the worker confirms its own pause with a message.
            self.local_gen.update_value(|g| *g += 1);
            self.status.update(|s| s.state = RunState::Paused);
        }
    }

    /// Stop the worker (a finished experiment arm keeps its numbers, not its worker).
    pub fn release_worker(&self) {
        self.worker.set_value(None);
    }

    /// Whether there is a model to look at (running, paused or finished).
    pub fn is_active_or_done(&self) -> bool {
        matches!(self.status.get_untracked().state, RunState::Running | RunState::Paused | RunState::Done)
    }

    /// Whether a run is under way (running or paused).
    pub fn is_active(&self) -> bool {
        matches!(self.status.get_untracked().state, RunState::Running | RunState::Paused)
    }

    pub fn reset(&self) {
        self.run_id.update_value(|r| *r += 1);
        self.local_gen.update_value(|g| *g += 1);
        self.post(ToWorker::Reset);
        self.local.set_value(None);
        self.history.set(History::default());
        self.view.set(None);
        self.message.set(None);
        self.status.set(RunStatus { runner: self.runner(), ..RunStatus::idle(TRAINING_BACKEND) });
    }

    /// Show the current model's internals on example `view_seed` (from the worker, or
    /// computed here for a main-thread run).
    pub fn inspect(&self) {
        if self.status.get_untracked().state == RunState::Idle {
            return self.message.set(Some("Start or load a run to see the model's internals.".into()));
        }
        let (run, seed) = (self.run_id.get_value(), self.view_seed.get_untracked());
        if self.post(ToWorker::Inspect { run, seed }) {
            return;
        }
        match self.local.with_value(|s| s.as_ref().map(|s| crate::engine::inspect::inspect(&s.trainer, seed)))
        {
            Some(Ok(v)) => self.view.set(Some(v)),
            Some(Err(e)) => self.message.set(Some(format!("Could not inspect the model: {e}"))),
            None => {}
        }
    }

    /// Run a steering request on the current weights (in the worker, or here); the result
    /// arrives in `steer`. False when there is no model yet.
    pub fn steer(&self, request: SteerRequest) -> bool {
        if !self.is_active_or_done() {
            return false;
        }
        let run = self.run_id.get_value();
        if self.post(ToWorker::Steer { run, request: request.clone() }) {
            return true;
        }
        let out = self.local.with_value(|s| {
            s.as_ref()
                .map(|s| crate::engine::steering::handle(&s.trainer, &request, &browser::now_ms, &mut |_| {}))
        });
        self.steer.set(out);
        true
    }

    fn on_worker_message(&self, wire: Wire) {
        // The first message is the worker's "ready": send what was queued before it.
        if let Some(queued) = self.outbox.try_update_value(Option::take).flatten() {
            for (text, bytes) in queued {
                if let Some(Err(e)) =
                    self.worker.with_value(|w| w.as_ref().map(|w| w.post(&text, bytes.as_deref())))
                {
                    return self.worker_failed(e);
                }
            }
        }
        match FromWorker::from_wire(wire) {
            Ok(m) => self.apply(m),
            Err(e) => self.message.set(Some(e)),
        }
    }

    /// The worker could not start or crashed: say so, and carry on on this thread.
    fn worker_failed(&self, detail: String) {
        self.lazy_worker.set_value(false);
        self.worker.set_value(None);
        self.outbox.set_value(None);
        self.message.set(Some(format!(
            "Training worker unavailable ({detail}); training runs on the page's main thread."
        )));
        self.status.update(|s| s.runner = Runner::Main);
        if self.status.get_untracked().state == RunState::Running {
            // Restart the interrupted run here, from step 0 (same seed, same curve).
            self.history.update(|h| *h = History { regression: h.regression, ..History::default() });
            self.launch();
        }
    }

    /// Fold one update into the history and the status.
    fn apply(&self, m: FromWorker) {
        if m.run != self.run_id.get_value() {
            return; // from a run that was reset or replaced
        }
        if let Some(bytes) = &m.checkpoint {
            self.save_checkpoint(bytes);
        }
        let before = self.status.get_untracked().state;
        if let Some((why, step)) = &m.fell_back {
            self.history.update(|h| h.truncate(*step));
            self.speed.update_value(|s| s.reset());
            self.message.set(Some(format!("GPU lost: {why}.")));
            self.backend.set(Some(BackendInfo {
                gpu: false,
                adapter: None,
                reason: format!("CPU after a GPU loss at step {step}: {why}"),
            }));
            self.status.update(|st| st.backend = Backend::Cpu);
        }
        if let Some(info) = &m.backend {
            self.status.update(|st| st.backend = if info.gpu { Backend::Webgpu } else { Backend::Cpu });
            self.backend.set(Some(info.clone()));
        }
        let now = browser::now_ms();
        let sps = m
            .steps
            .last()
            .and_then(|s| self.speed.try_update_value(|meter| meter.record(now, s.step)).flatten());
        self.history.update(|h| h.record(&m.steps, m.eval, m.spectrum.as_ref()));
        if let Some(v) = m.view {
            self.view.set(Some(v));
        }
        if m.steer_progress.is_some() {
            self.steer_progress.set(m.steer_progress);
        }
        if let Some(o) = m.steer {
            self.steer_progress.set(None);
            self.steer.set(Some(o));
        }
        self.status.update(|st| {
            if let Some(s) = m.steps.last() {
                st.step = s.step;
                st.loss = Some(s.loss);
                st.accuracy = s.accuracy;
            }
            if let Some((_, e)) = m.eval {
                st.eval_accuracy = e.accuracy;
                st.eval_exact_match = e.exact_match;
                st.eval_mse = e.mse;
            }
            if sps.is_some() {
                st.steps_per_sec = sps;
            }
            st.state = m.state;
            st.runner = self.runner();
        });
        if let Some(e) = m.error {
            self.message.set(Some(if m.state == RunState::Error {
                format!("Training stopped: {e}")
            } else {
                e
            }));
        }
        if m.eval.is_some() && self.views_open.get_untracked() {
            self.inspect();
        }
        let finished = |s: RunState| matches!(s, RunState::Done | RunState::Error);
        if finished(m.state) && !finished(before) {
            if let Some(f) = self.on_finish.get_value() {
                // Not from inside this worker's message handler: the hook may drop the worker.
                browser::spawn(async move { f() });
            }
        }
    }

    fn spawn_local_loop(&self) {
        self.local_gen.update_value(|g| *g += 1);
        let gen = self.local_gen.get_value();
        let lab = *self;
        browser::spawn(async move { lab.local_loop(gen).await });
    }

    async fn local_loop(self, gen: u64) {
        loop {
            browser::yield_now().await;
            if self.local_gen.get_value() != gen {
                return;
            }
            let deadline = browser::now_ms() + CHUNK_MS;
            let report = self
                .local
                .try_update_value(|s| s.as_mut().map(|s| s.run_until(deadline, &browser::now_ms)))
                .flatten();
            let Some(report) = report else { return };
            let update = FromWorker::from_report(self.run_id.get_value(), &report);
            let state = update.state;
            self.apply(update);
            if state != RunState::Running {
                return;
            }
        }
    }
}

/// Put a run's link in the address bar: its config, the version, a non-default budget and
/// backend preference.
pub(super) fn write_run_url(cfg: &TrainConfig, plan: &crate::engine::Plan, env: &RunEnv) {
    let mut pairs = plan.share_pairs(cfg);
    pairs.push(("v".into(), crate::VERSION.into()));
    if env.budget_bytes != RunEnv::default().budget_bytes {
        pairs.push(("budget".into(), env.budget_mib().to_string()));
    }
    if env.backend != BackendPref::Auto {
        pairs.push(("backend".into(), env.backend.name().into()));
    }
    // The steering panel's and the views' state stay in the link across runs.
    pairs.extend(
        browser::url::query_pairs()
            .into_iter()
            .filter(|(k, _)| k == "steer" || k.starts_with("st_") || k == "views" || k == "vseed"),
    );
    let _ = browser::url::replace_query(&pairs);
}

#[component]
pub fn RunBar(lab: Lab) -> impl IntoView {
    let status = lab.status;
    let message = lab.message;
    let state = move || status.with(|s| s.state);
    let fmt =
        |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "–".into());
    view! {
        <div class="runbar">
            <div class="buttons">
                <button data-testid="start" class="primary" on:click=move |_| lab.start()
                    disabled=move || state() == RunState::Running>
                    {move || match state() { RunState::Paused => "Resume", RunState::Done => "Restart", _ => "Start" }}
                </button>
                <button data-testid="pause" on:click=move |_| lab.pause()
                    disabled=move || state() != RunState::Running>"Pause"</button>
                <button data-testid="reset" on:click=move |_| lab.reset()>"Reset"</button>
                <button data-testid="download-checkpoint" title="weights as safetensors, with the config in the header"
                    disabled=move || !matches!(state(), RunState::Paused | RunState::Done) on:click=move |_| lab.download_checkpoint()>"Download weights"</button>
                <button data-testid="export-bundle" title="the whole run in one file: config and seed, weights, optimiser state, metrics (CSV) and this page's link"
                    disabled=move || !matches!(state(), RunState::Paused | RunState::Done) on:click=move |_| lab.export_bundle()>"Export run"</button>
                <button data-testid="download-curve" title="the learning curve as CSV: step, metric, value"
                    disabled=move || lab.history.with(|h| h.loss.is_empty()) on:click=move |_| lab.download_curve()>"Download curve (CSV)"</button>
                <label class="button" title="a .safetensors file saved by interlab (tab or CLI), weights or a whole run: it replaces the current run (or drop the file on the page)">
                    "Open weights or run"
                    <input type="file" accept=".safetensors" data-testid="upload-checkpoint" class="hidden-file" on:change=move |ev| {
                        browser::spawn(async move {
                            match browser::read_chosen_file(&ev).await {
                                Ok(Some((name, bytes))) => lab.load_checkpoint(&name, bytes),
                                Ok(None) => {}
                                Err(e) => lab.message.set(Some(e)),
                            }
                        })
                    }/>
                </label>
            </div>
            <dl class="stats">
                <div><dt>"state"</dt><dd data-testid="state">{move || format!("{:?}", state()).to_lowercase()}</dd></div>
                <div><dt>"step"</dt><dd data-testid="step">{move || status.with(|s| match lab.config.with_value(|c| c.as_ref().map(|c| c.steps)) {
                    Some(total) => format!("{} / {total}", s.step),
                    None => s.step.to_string(),
                })}</dd></div>
                <div><dt>"loss"</dt><dd>{move || status.with(|s| fmt(s.loss, 4))}</dd></div>
                <div><dt>{move || if status.with(|s| s.eval_mse.is_some()) { "held-out mse" } else { "held-out acc" }}</dt>
                    <dd data-testid="heldout">{move || status.with(|s| match s.eval_mse {
                        Some(m) => format!("{m:.4}"),
                        None => format!("{} %", fmt(s.eval_accuracy.map(|a| a * 100.0), 1)),
                    })}</dd></div>
                <div><dt>"exact match"</dt><dd>{move || status.with(|s| fmt(s.eval_exact_match.map(|a| a * 100.0), 1))}" %"</dd></div>
                <div><dt>"steps/s"</dt><dd data-testid="steps-per-sec">{move || status.with(|s| fmt(s.steps_per_sec, 1))}</dd></div>
                <div><dt>"backend"</dt><dd data-testid="backend" data-backend=move || status.with(|s| format!("{:?}", s.backend).to_lowercase())
                    title=move || lab.backend.with(|b| b.as_ref().map(|b| b.reason.clone()).unwrap_or_default())>
                    {move || status.with(|s| {
                        let adapter = lab.backend.with(|b| b.as_ref().and_then(|b| b.adapter.clone()));
                        let on = adapter.map(|a| format!(" ({a})")).unwrap_or_default();
                        format!("{}{on} · {}", format!("{:?}", s.backend).to_lowercase(), if s.runner == Runner::Worker { "web worker" } else { "main thread" })
                    })}
                    </dd></div>
                <div><dt>"next run on"</dt><dd>
                    <select data-testid="backend-select" title="auto: the GPU when it is a hardware adapter and the model is big enough (see the README)"
                        on:change=move |ev| {
                            if let Ok(p) = BackendPref::parse(&event_target_value(&ev)) {
                                lab.form.env.update(|e| e.backend = p);
                            }
                        }>
                        {BackendPref::NAMES.iter().map(|n| view! { <option value=*n selected=lab.form.env.get_untracked().backend.name() == *n>{*n}</option> }).collect_view()}
                    </select>
                </dd></div>
            </dl>
            <p class="backend-note" data-testid="backend-note">{move || lab.backend.with(|b| b.as_ref().map(|b| b.reason.clone()).unwrap_or_default())}</p>
            <Show when=move || message.get().is_some()>
                <p class="notice" role="status" data-testid="message">{move || message.get().unwrap_or_default()}</p>
            </Show>
        </div>
    }
}
