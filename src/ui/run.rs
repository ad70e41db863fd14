//! The run controller: start / pause / resume / reset, and the training loop sliced into
//! chunks of at most `CHUNK_MS` that yield to the browser, so the page stays responsive.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::controls::FormState;
use super::TRAINING_BACKEND;
use crate::browser;
use crate::core::config::format_field;
use crate::engine::history::{History, SpeedMeter};
use crate::engine::{EvalProgress, RunState, RunStatus, Trainer};

/// Longest stretch of training between two yields to the browser.
const CHUNK_MS: f64 = 25.0;
/// Held-out evaluation every this many steps (and at the end).
const EVAL_EVERY: usize = 50;
/// Held-out sequences evaluated per slice of an evaluation (keeps each slice short).
const EVAL_PART: usize = 16;

#[derive(Clone)]
pub struct Lab {
    pub form: FormState,
    pub status: RwSignal<RunStatus>,
    pub history: RwSignal<History>,
    pub message: RwSignal<Option<String>>,
    trainer: StoredValue<Option<Trainer>, LocalStorage>,
    speed: StoredValue<SpeedMeter, LocalStorage>,
    /// An evaluation under way: (the step it belongs to, progress). Survives pause.
    pending_eval: StoredValue<Option<(usize, EvalProgress)>, LocalStorage>,
    /// Bumped on every start/pause/reset so a stale loop notices and exits.
    generation: StoredValue<u64, LocalStorage>,
}

impl Lab {
    pub fn new(form: FormState) -> Self {
        Lab {
            form,
            status: RwSignal::new(RunStatus::idle(TRAINING_BACKEND)),
            history: RwSignal::new(History::default()),
            message: RwSignal::new(None),
            trainer: StoredValue::new_local(None),
            speed: StoredValue::new_local(SpeedMeter::default()),
            pending_eval: StoredValue::new_local(None),
            generation: StoredValue::new_local(0),
        }
    }

    pub fn is_running(&self) -> Signal<bool> {
        let status = self.status;
        Signal::derive(move || status.with(|s| s.state == RunState::Running))
    }

    fn set_state(&self, state: RunState) {
        self.status.update(|s| s.state = state);
    }

    /// Start a new run from the form, or resume a paused one.
    pub fn start(&self) {
        let state = self.status.get_untracked().state;
        if state == RunState::Running {
            return;
        }
        if state != RunState::Paused {
            let cfg = match self.form.parse() {
                Ok(cfg) => cfg,
                Err(e) => {
                    self.form.errors.set(e.errors);
                    self.message.set(Some("Fix the highlighted fields to start.".into()));
                    return;
                }
            };
            self.form.errors.set(Vec::new());
            match Trainer::new(cfg.clone()) {
                Ok(t) => self.trainer.set_value(Some(t)),
                Err(e) => {
                    self.message.set(Some(format!("Could not build the run: {e}")));
                    self.set_state(RunState::Error);
                    return;
                }
            }
            self.form.show(&cfg);
            let mut pairs: Vec<(String, String)> =
                crate::core::config::FIELDS.iter().map(|f| (f.key.to_string(), format_field(f, &cfg))).collect();
            pairs.push(("v".into(), crate::VERSION.into()));
            let _ = browser::url::replace_query(&pairs);
            self.history.set(History::default());
            self.pending_eval.set_value(None);
            self.status.set(RunStatus::idle(TRAINING_BACKEND));
        }
        self.message.set(None);
        self.speed.update_value(|s| s.reset());
        self.set_state(RunState::Running);
        let gen = self.bump();
        let lab = self.clone();
        spawn_local(async move { lab.run_loop(gen).await });
    }

    pub fn pause(&self) {
        if self.status.get_untracked().state == RunState::Running {
            self.bump();
            self.set_state(RunState::Paused);
        }
    }

    pub fn reset(&self) {
        self.bump();
        self.trainer.set_value(None);
        self.pending_eval.set_value(None);
        self.history.set(History::default());
        self.message.set(None);
        self.status.set(RunStatus::idle(TRAINING_BACKEND));
    }

    fn bump(&self) -> u64 {
        self.generation.update_value(|g| *g += 1);
        self.generation.get_value()
    }

    async fn run_loop(self, gen: u64) {
        loop {
            browser::yield_now().await;
            if self.generation.get_value() != gen {
                return;
            }
            let t0 = browser::now_ms();
            let mut stats = Vec::new();
            let mut error = None;
            let mut eval = None;
            let mut done = false;
            let mut pending = self.pending_eval.get_value();
            self.trainer.update_value(|t| {
                let Some(t) = t.as_mut() else {
                    error = Some("no run".to_string());
                    return;
                };
                // Alternate between training steps and slices of a due evaluation until this
                // chunk's time is used up.
                while browser::now_ms() - t0 < CHUNK_MS {
                    if let Some((step, progress)) = pending.as_mut() {
                        match t.evaluate_part(progress, EVAL_PART) {
                            Ok(Some(e)) => {
                                eval = Some((*step, e));
                                pending = None;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                error = Some(e.to_string());
                                break;
                            }
                        }
                        continue;
                    }
                    if t.is_done() {
                        break;
                    }
                    match t.step() {
                        Ok(s) => {
                            stats.push(s);
                            if s.step % EVAL_EVERY == 0 || t.is_done() {
                                pending = Some((s.step, EvalProgress::default()));
                            }
                        }
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                done = t.is_done() && pending.is_none();
            });
            self.pending_eval.set_value(pending);
            let now = browser::now_ms();
            let sps = self.speed.try_update_value(|m| stats.last().and_then(|s| m.record(now, s.step))).flatten();
            self.history.update(|h| {
                for s in &stats {
                    h.loss.push((s.step as f64, s.loss));
                    h.accuracy.push((s.step as f64, s.accuracy));
                }
                if let Some((step, e)) = &eval {
                    h.eval_accuracy.push((*step as f64, e.accuracy));
                }
            });
            self.status.update(|st| {
                if let Some(s) = stats.last() {
                    st.step = s.step;
                    st.loss = Some(s.loss);
                    st.accuracy = Some(s.accuracy);
                }
                if let Some((_, e)) = &eval {
                    st.eval_accuracy = Some(e.accuracy);
                }
                if sps.is_some() {
                    st.steps_per_sec = sps;
                }
            });
            if let Some(e) = error {
                self.message.set(Some(format!("Training stopped: {e}")));
                self.set_state(RunState::Error);
                return;
            }
            if done {
                self.set_state(RunState::Done);
                return;
            }
        }
    }
}

#[component]
pub fn RunBar(lab: Lab) -> impl IntoView {
    let status = lab.status;
    let message = lab.message;
    let state = move || status.with(|s| s.state);
    let (l1, l2, l3) = (lab.clone(), lab.clone(), lab.clone());
    let fmt = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "–".into());
    view! {
        <div class="runbar">
            <div class="buttons">
                <button data-testid="start" class="primary" on:click=move |_| l1.start()
                    disabled=move || state() == RunState::Running>
                    {move || match state() { RunState::Paused => "Resume", RunState::Done => "Restart", _ => "Start" }}
                </button>
                <button data-testid="pause" on:click=move |_| l2.pause()
                    disabled=move || state() != RunState::Running>"Pause"</button>
                <button data-testid="reset" on:click=move |_| l3.reset()>"Reset"</button>
            </div>
            <dl class="stats">
                <div><dt>"state"</dt><dd data-testid="state">{move || format!("{:?}", state()).to_lowercase()}</dd></div>
                <div><dt>"step"</dt><dd data-testid="step">{move || status.with(|s| format!("{} / {}", s.step, lab.form.parse().map(|c| c.steps).unwrap_or(0)))}</dd></div>
                <div><dt>"loss"</dt><dd>{move || status.with(|s| fmt(s.loss, 4))}</dd></div>
                <div><dt>"held-out acc"</dt><dd>{move || status.with(|s| fmt(s.eval_accuracy.map(|a| a * 100.0), 1))}" %"</dd></div>
                <div><dt>"steps/s"</dt><dd data-testid="steps-per-sec">{move || status.with(|s| fmt(s.steps_per_sec, 1))}</dd></div>
                <div><dt>"backend"</dt><dd>{move || status.with(|s| format!("{:?}", s.backend).to_lowercase())}</dd></div>
            </dl>
            <Show when=move || message.get().is_some()>
                <p class="notice" role="status" data-testid="message">{move || message.get().unwrap_or_default()}</p>
            </Show>
        </div>
    }
}
