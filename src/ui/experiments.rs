//! The experiments page: several models on one task, seed and budget — a custom comparison
//! on the lab's task, a shipped preset, or an experiment file. Each arm is an ordinary run in
//! its own worker (`run::Lab::detached`); at most `parallel()` train at once so steps/s stay
//! comparable. Overlaid curves, a results table, CSV and JSON export.

use std::rc::Rc;

use leptos::prelude::*;

use super::chart::{LineChart, Series};
use super::controls::FormState;
use super::run::Lab;
use super::views::PALETTE;
use crate::browser;
use crate::core::names::export_name;
use crate::engine::experiment::{results_csv, ArmResult, Experiment, ARM_KINDS, DEFAULT_ARMS};
use crate::engine::history::downsample;
use crate::engine::RunEnv;
use crate::engine::{presets, RunState};

/// Chart points per arm.
const POINTS: usize = 300;
const CUSTOM: &str = "custom";

/// One arm of the running experiment: its run and wall-clock bookkeeping for steps/s.
#[derive(Clone, Copy)]
struct Slot {
    lab: Lab,
    params: u64,
    /// `performance.now()` at start and at finish.
    started: StoredValue<Option<f64>, LocalStorage>,
    finished: StoredValue<Option<f64>, LocalStorage>,
}

#[derive(Clone, Copy)]
pub struct ExperimentState {
    /// `custom` or a preset name.
    pub source: RwSignal<String>,
    /// Arm kinds ticked for a custom comparison.
    pub chosen: RwSignal<Vec<String>>,
    /// An experiment read from a file (shown as the source "file").
    loaded: RwSignal<Option<Experiment>, LocalStorage>,
    /// The experiment last started, and its arms.
    current: RwSignal<Option<Experiment>, LocalStorage>,
    slots: RwSignal<Vec<Slot>, LocalStorage>,
    pub message: RwSignal<Option<String>>,
    /// The page's run environment (budget, backend): the lab form's own signal, so the run
    /// bar's choice applies to every arm too.
    env: RwSignal<RunEnv>,
}

/// Arms trained at once: one per spare core (the page keeps one), at least 1, at most 4.
fn parallel() -> usize {
    browser::hardware_concurrency().saturating_sub(1).clamp(1, 4)
}

impl ExperimentState {
    pub fn from_query(query: &[(String, String)], env: RwSignal<RunEnv>) -> Self {
        let get = |key: &str| query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let source = get("preset").filter(|p| presets::find(p).is_ok()).unwrap_or_else(|| CUSTOM.into());
        let chosen = get("arms")
            .map(|a| a.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_else(|| DEFAULT_ARMS.iter().map(|s| s.to_string()).collect());
        ExperimentState {
            source: RwSignal::new(source),
            chosen: RwSignal::new(chosen),
            loaded: RwSignal::new_local(None),
            current: RwSignal::new_local(None),
            slots: RwSignal::new_local(Vec::new()),
            message: RwSignal::new(None),
            env,
        }
    }

    /// The URL of this page's state (with the lab's config for a custom comparison).
    pub fn url_pairs(&self, form: &FormState) -> Vec<(String, String)> {
        let mut out = vec![("page".to_string(), "experiments".to_string())];
        match self.source.get_untracked().as_str() {
            CUSTOM => {
                if let Ok((cfg, plan)) = form.parse() {
                    out.extend(plan.share_pairs(&cfg));
                }
                out.push(("arms".into(), self.chosen.get_untracked().join(",")));
            }
            "file" => {}
            p => out.push(("preset".into(), p.to_string())),
        }
        out
    }

    pub fn write_url(&self, form: &FormState) {
        let _ = browser::url::replace_query(&self.url_pairs(form));
    }

    /// The experiment the current choices describe.
    fn build(&self, form: &FormState) -> Result<Experiment, String> {
        match self.source.get_untracked().as_str() {
            CUSTOM => {
                let (base, _) = form.parse().map_err(|e| {
                    format!("The lab's settings are invalid ({e}); fix them on the Sequence lab page.")
                })?;
                let keys = self.chosen.get_untracked();
                Experiment::compare(&base, &keys.iter().map(String::as_str).collect::<Vec<_>>())
            }
            "file" => self.loaded.get_untracked().ok_or_else(|| "Load an experiment file first.".into()),
            name => presets::find(name).map(|p| Experiment::from_preset(&p)),
        }
    }

    /// Build the chosen experiment and run it (or say why not).
    pub fn start(&self, form: &FormState) {
        match self.build(form) {
            Ok(exp) => {
                self.write_url(form);
                self.run(exp);
            }
            Err(e) => self.message.set(Some(e)),
        }
    }

    /// Stop and drop the arms of the last experiment, and start `exp`.
    pub fn run(&self, exp: Experiment) {
        self.stop();
        let me = *self;
        let env = self.env.get_untracked();
        let mut slots = Vec::with_capacity(exp.arms.len());
        for arm in &exp.arms {
            let params =
                crate::engine::plan(&arm.config, &env).map(|p| arm.config.param_count(p.dims)).unwrap_or(0);
            let lab = Lab::detached(env, Rc::new(move || me.pump()));
            slots.push(Slot {
                lab,
                params,
                started: StoredValue::new_local(None),
                finished: StoredValue::new_local(None),
            });
        }
        self.slots.set(slots);
        self.current.set(Some(exp));
        self.message.set(None);
        self.pump();
    }

    pub fn stop(&self) {
        for s in self.slots.get_untracked() {
            if s.lab.is_active() {
                s.lab.reset();
            }
            s.lab.release_worker();
        }
    }

    /// Note finished arms, free their workers, and start waiting arms up to `parallel()`.
    fn pump(&self) {
        let Some(exp) = self.current.get_untracked() else { return };
        let slots = self.slots.get_untracked();
        let now = browser::now_ms();
        let mut running = 0;
        let mut newly_finished = false;
        for s in &slots {
            match s.lab.status.get_untracked().state {
                RunState::Done | RunState::Error if s.finished.get_value().is_none() => {
                    s.finished.set_value(Some(now));
                    s.lab.release_worker();
                    newly_finished = true;
                }
                RunState::Running | RunState::Paused => running += 1,
                _ => {}
            }
        }
        // The table's whole-run rate needs the finish time, which is not a signal: redraw it.
        // (An arm finished within one report has no live rate, and showed none until the next
        // status change — the experiments test's rare "null" speed.)
        if newly_finished {
            self.slots.update(|_| {});
        }
        for (s, arm) in slots.iter().zip(&exp.arms) {
            if running >= parallel() {
                break;
            }
            if s.started.get_value().is_none() {
                match crate::engine::plan(&arm.config, &self.env.get_untracked()) {
                    Ok(plan) => {
                        s.started.set_value(Some(browser::now_ms()));
                        s.lab.run_config(arm.config.clone(), &plan);
                        running += 1;
                    }
                    Err(e) => {
                        s.started.set_value(Some(now));
                        s.finished.set_value(Some(now));
                        self.message.set(Some(format!("{}: {e}", arm.label)));
                    }
                }
            }
        }
    }

    /// The results table's rows, read from the arms' runs.
    fn results(&self) -> Vec<ArmResult> {
        let Some(exp) = self.current.get() else { return Vec::new() };
        self.slots.with(|slots| {
            slots
                .iter()
                .zip(&exp.arms)
                .map(|(s, arm)| {
                    let st = s.lab.status.get();
                    let c = &arm.config;
                    // Whole-run rate once finished; the live window while running.
                    let sps = match (s.started.get_value(), s.finished.get_value()) {
                        (Some(a), Some(b)) if b > a && st.step > 0 => Some(st.step as f64 * 1000.0 / (b - a)),
                        _ => st.steps_per_sec,
                    };
                    ArmResult {
                        label: arm.label.clone(),
                        model: c.model.clone(),
                        mixers: if c.model == "transformer" { c.mixers.clone() } else { String::new() },
                        task: c.task.clone(),
                        seed: c.seed,
                        params: s.params,
                        steps: st.step,
                        loss: st.loss,
                        accuracy: st.eval_accuracy,
                        exact_match: st.eval_exact_match,
                        mse: st.eval_mse,
                        steps_per_sec: sps,
                        backend: {
                            let adapter = s
                                .lab
                                .backend
                                .with(|b| b.as_ref().and_then(|b| b.adapter.clone()))
                                .map(|a| format!(", {a}"))
                                .unwrap_or_default();
                            format!(
                                "{} ({}{adapter})",
                                format!("{:?}", st.backend).to_lowercase(),
                                format!("{:?}", st.runner).to_lowercase()
                            )
                        },
                        state: format!(
                            "{:?}",
                            if s.started.get_value().is_none() { RunState::Idle } else { st.state }
                        )
                        .to_lowercase(),
                    }
                })
                .collect()
        })
    }

    /// Load an experiment file chosen in the "Load experiment" input (from its change event).
    fn load_file(self, ev: leptos::ev::Event) {
        let (source, message) = (self.source, self.message);
        browser::spawn(async move {
            match browser::read_chosen_file(&ev).await {
                Ok(Some((name, bytes))) => {
                    match Experiment::from_json(&String::from_utf8_lossy(&bytes), &self.env.get_untracked()) {
                        Ok(exp) => {
                            self.loaded.set(Some(exp));
                            source.set("file".into());
                            message.set(None);
                        }
                        Err(e) => message.set(Some(format!("{name}: {e}"))),
                    }
                }
                Ok(None) => {}
                Err(e) => message.set(Some(e)),
            }
        })
    }
}

fn curves(state: ExperimentState, metric: bool) -> Signal<Vec<Series>> {
    Signal::derive(move || {
        let Some(exp) = state.current.get() else { return Vec::new() };
        state.slots.with(|slots| {
            slots
                .iter()
                .zip(&exp.arms)
                .enumerate()
                .map(|(i, (s, arm))| {
                    let pts = s.lab.history.with(|h| match (metric, h.regression) {
                        (false, _) => downsample(&h.loss, POINTS),
                        (true, false) => h.eval_accuracy.clone(),
                        (true, true) => h.eval_mse.clone(),
                    });
                    Series { name: arm.label.clone(), color: PALETTE[i % PALETTE.len()], points: pts }
                })
                .collect()
        })
    })
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "–".into())
}

/// One table row per arm.
fn result_rows(results: Memo<Vec<ArmResult>>) -> impl IntoView {
    move || {
        results
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let metric = if r.mse.is_some() { fmt(r.mse, 4) } else { format!("{} %", fmt(r.accuracy.map(|a| a * 100.0), 1)) };
                view! {
                    <tr data-testid="exp-row">
                        <td><span class="swatch" style:background=PALETTE[i % PALETTE.len()]></span>{r.label.clone()}</td>
                        <td>{r.model.clone()}</td><td>{r.mixers.clone()}</td>
                        <td class="num">{r.params}</td><td class="num">{r.steps}</td>
                        <td class="num">{fmt(r.loss, 4)}</td><td class="num">{metric}</td>
                        <td class="num">{fmt(r.exact_match.map(|a| a * 100.0), 1)}</td>
                        <td class="num">{fmt(r.steps_per_sec, 2)}</td><td>{r.backend.clone()}</td><td>{r.state.clone()}</td>
                    </tr>
                }
            })
            .collect_view()
    }
}

/// A checkbox per kind of arm (`engine::experiment::ARM_KINDS`), for the custom comparison.
fn arm_checkboxes(state: ExperimentState, form: FormState) -> impl IntoView {
    ARM_KINDS
        .iter()
        .map(|k| {
            let key = k.key.to_string();
            let key2 = key.clone();
            view! {
                <label><input type="checkbox" data-testid=format!("arm-{}", k.key)
                    prop:checked=move || state.chosen.with(|c| c.contains(&key))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        state.chosen.update(|c| { c.retain(|x| *x != key2); if on { c.push(key2.clone()); } });
                        state.chosen.update(|c| c.sort_by_key(|x| ARM_KINDS.iter().position(|k| k.key == x)));
                        state.write_url(&form);
                    }/>{k.label}</label>
            }
        })
        .collect_view()
}

#[component]
pub fn Experiments(state: ExperimentState, form: FormState) -> impl IntoView {
    let source = state.source;
    let message = state.message;
    let start = move || state.start(&form);
    let download = move |name: &str, text: String, mime: &str| {
        if let Err(e) = browser::download(name, text.as_bytes(), mime) {
            message.set(Some(e));
        }
    };
    let on_file = move |ev: leptos::ev::Event| state.load_file(ev);
    let base_summary = move || match form.parse() {
        Ok((c, _)) => format!(
            "task {} · seed {} · {} steps · batch {} · lr {} · {} layers · d_model {} · heads {} · state {}",
            c.task, c.seed, c.steps, c.batch, c.lr, c.layers, c.d_model, c.heads, c.state
        ),
        Err(e) => format!("the lab's settings are invalid: {e}"),
    };
    let preview = move || {
        let _ = (source.get(), state.chosen.get(), state.loaded.get());
        match state.build(&form) {
            Ok(e) => format!(
                "{}: {} arm(s): {}",
                e.title,
                e.arms.len(),
                e.arms.iter().map(|a| a.label.as_str()).collect::<Vec<_>>().join(" · ")
            ),
            Err(e) => e,
        }
    };
    let results = Memo::new(move |_| state.results());
    let regression = Signal::derive(move || {
        state.slots.with(|s| s.first().is_some_and(|x| x.lab.history.with(|h| h.regression)))
    });
    view! {
        <div class="experiments">
            <section class="panel exp-setup">
                <h2>"Experiment"</h2>
                <label for="exp-source">"Compare"</label>
                <select id="exp-source" data-testid="exp-source" prop:value=move || source.get()
                    on:change=move |ev| { source.set(event_target_value(&ev)); state.write_url(&form); }>
                    <option value=CUSTOM>"models on the lab's task"</option>
                    {presets::all().into_iter().map(|p| view! { <option value=p.name>{format!("preset: {} ({} runs)", p.title, p.runs.len())}</option> }).collect_view()}
                    <Show when=move || state.loaded.with(Option::is_some)><option value="file">"the loaded experiment file"</option></Show>
                </select>
                <Show when=move || source.get() == CUSTOM>
                    <p class="muted" data-testid="exp-base">{base_summary}" — set on the Sequence lab page."</p>
                    <div class="arm-kinds">
                        {arm_checkboxes(state, form)}
                    </div>
                </Show>
                <p class="muted" data-testid="exp-preview">{preview}</p>
                <div class="buttons">
                    <button class="primary" data-testid="exp-run" on:click=move |_| start()>"Run experiment"</button>
                    <button data-testid="exp-stop" on:click=move |_| state.stop()>"Stop"</button>
                    <button data-testid="exp-csv" disabled=move || results.with(Vec::is_empty)
                        on:click=move |_| {
                            let rows = results.get_untracked();
                            let name = rows.first().map_or_else(|| "interlab-results.csv".into(), |r| export_name("results", &r.task, r.seed, "csv"));
                            download(&name, results_csv(&rows), "text/csv")
                        }>"Results CSV"</button>
                    <button data-testid="exp-json" on:click=move |_| match state.build(&form) {
                        Ok(e) => {
                            let e = state.current.get_untracked().unwrap_or(e);
                            let name = e.arms.first().map_or_else(|| "interlab-experiment.json".into(), |a| export_name("experiment", &a.config.task, a.config.seed, "json"));
                            download(&name, e.to_json(), "application/json")
                        }
                        Err(e) => message.set(Some(e)),
                    }>"Experiment JSON"</button>
                    <label class="button">"Load experiment"<input type="file" accept=".json" class="hidden-file" data-testid="exp-upload" on:change=on_file/></label>
                </div>
                <p class="muted">{move || format!("Arms train {} at a time, each in its own worker, on the CPU; steps/s is the whole run's rate.", parallel())}</p>
                <Show when=move || message.get().is_some()>
                    <p class="notice" role="status" data-testid="exp-message">{move || message.get().unwrap_or_default()}</p>
                </Show>
            </section>
            <div class="charts">
                <LineChart title="Training loss" x_label="step" y_label="loss" series=curves(state, false) testid="exp-loss-chart"/>
                <Show when=move || !regression.get() fallback=move || view! {
                    <LineChart title="Held-out MSE" x_label="step" y_label="mean squared error" series=curves(state, true) testid="exp-metric-chart"/>
                }>
                    <LineChart title="Held-out accuracy" x_label="step" y_label="accuracy (fraction)" series=curves(state, true) y_range=(0.0, 1.0) testid="exp-metric-chart"/>
                </Show>
            </div>
            <section class="panel">
                <h2>"Results"</h2>
                <table class="results" data-testid="exp-results">
                    <thead><tr><th>"arm"</th><th>"model"</th><th>"mixers"</th><th>"params"</th><th>"step"</th><th>"loss"</th>
                        <th>{move || if regression.get() { "held-out MSE" } else { "held-out acc" }}</th><th>"exact %"</th><th>"steps/s"</th><th>"backend"</th><th>"state"</th></tr></thead>
                    <tbody>{result_rows(results)}</tbody>
                </table>
                <details class="automation">
                    <summary>"Machine-readable results"</summary>
                    <pre data-testid="exp-status">{move || serde_json::to_string(&results.get()).unwrap_or_default()}</pre>
                </details>
            </section>
        </div>
    }
}
