//! The run form: a task picker, the chosen task's parameters (from its `ParamSpec` table),
//! then the model/optimiser fields (from `core::config::FIELDS`). Every input shows its help
//! text and, when invalid, the error for that key; the whole form is checked by
//! `engine::plan`, so a bad task setting or an over-budget run is named before it starts.

use leptos::prelude::*;

use super::field::{error_for, Field};
use super::run::Lab;
use crate::core::config::{format_field, DEFAULT_TASK, FIELDS, MIXER_NAMES, MODEL_NAMES};
use crate::core::{ConfigError, ModelDims, TrainConfig};
use crate::engine::{plan, Plan, RunEnv};
use crate::tasks::{self, ParamKind, ParamSpec};

/// The text in each input (kept as typed, so a bad value stays visible beside its error),
/// and what it means: `checked`, derived from the texts, never set by hand.
#[derive(Clone, Copy)]
pub struct FormState {
    pub task: RwSignal<String>,
    /// `(key, text)` for the task's parameters, in its table's order.
    pub task_texts: RwSignal<Vec<(String, String)>>,
    /// Model family and the per-layer mixer list, as typed.
    pub model: RwSignal<String>,
    pub mixers: RwSignal<String>,
    /// Texts of the model fields, in `FIELDS` order.
    pub texts: RwSignal<Vec<String>>,
    /// The form parsed and planned (`check`): the config and its model sizes, or every bad field.
    pub checked: Memo<Checked>,
    /// The run environment from the link and the run bar (budget, backend preference);
    /// `checked` follows it (a GPU run is not held to the CPU budget).
    pub env: RwSignal<RunEnv>,
}

/// What the form's texts mean: the config and the model's sizes, or every invalid field.
pub type Checked = Result<(TrainConfig, ModelDims), ConfigError>;

/// Parse and check a whole form: model fields, task parameters, memory budget (`engine::plan`).
/// Every bad field is reported at once, task parameters included.
fn check(
    texts: &[String],
    task: &str,
    task_texts: &[(String, String)],
    model: &str,
    mixers: &str,
    env: &RunEnv,
) -> Result<(TrainConfig, Plan), ConfigError> {
    let pairs = FIELDS
        .iter()
        .zip(texts.iter())
        .map(|(f, t)| (f.key, t.as_str()))
        .chain([("model", model), ("mixers", mixers), ("task", task)])
        .chain(task_texts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cfg = match TrainConfig::from_pairs(pairs) {
        Ok(cfg) => cfg,
        Err(mut e) => {
            // Still check the task's parameters, so every bad field is marked at once.
            if let Err(te) = tasks::build(task, task_texts.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                e.errors.extend(te.errors);
            }
            return Err(e);
        }
    };
    let p = plan(&cfg, env)?;
    Ok((cfg, p))
}

/// Default texts for a task's parameters, overridden by `given` where it has the key.
pub fn task_texts(task: &str, given: &[(String, String)]) -> Vec<(String, String)> {
    let Ok(info) = tasks::find(task) else { return Vec::new() };
    info.params
        .iter()
        .map(|p| {
            let text = given
                .iter()
                .rev()
                .find(|(k, _)| k == p.key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| p.format(p.default));
            (p.key.to_string(), text)
        })
        .collect()
}

impl FormState {
    /// Start from the defaults overridden by the URL; bad URL values are kept in their
    /// inputs and reported.
    pub fn from_query(query: &[(String, String)], env: RunEnv) -> Self {
        let defaults = TrainConfig::default();
        let task = query
            .iter()
            .rev()
            .find(|(k, _)| k == "task")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| DEFAULT_TASK.into());
        let texts: Vec<String> = FIELDS
            .iter()
            .map(|f| {
                query
                    .iter()
                    .rev()
                    .find(|(k, _)| k == f.key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| format_field(f, &defaults))
            })
            .collect();
        let text = |key: &str, default: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| default.into())
        };
        let (task_texts, task) = (RwSignal::new(task_texts(&task, query)), RwSignal::new(task));
        let (model, mixers) =
            (RwSignal::new(text("model", &defaults.model)), RwSignal::new(text("mixers", &defaults.mixers)));
        let texts = RwSignal::new(texts);
        let env = RwSignal::new(env);
        let checked = Memo::new(move |_| {
            let (task, model, mixers) = (task.read(), model.read(), mixers.read());
            check(&texts.read(), &task, &task_texts.read(), &model, &mixers, &env.read())
                .map(|(cfg, p)| (cfg, p.dims))
        });
        FormState { model, mixers, task_texts, task, texts, checked, env }
    }

    /// The form parsed and planned now, without subscribing (for actions: start a run, write
    /// the link); `checked` is the reactive view of the same.
    pub fn parse(&self) -> Result<(TrainConfig, Plan), ConfigError> {
        check(
            &self.texts.read_untracked(),
            &self.task.read_untracked(),
            &self.task_texts.read_untracked(),
            &self.model.read_untracked(),
            &self.mixers.read_untracked(),
            &self.env.read_untracked(),
        )
    }

    /// The current error for field `key`, if any.
    pub fn error(&self, key: &'static str) -> Signal<Option<String>> {
        let checked = self.checked;
        Signal::derive(move || checked.with(|c| c.as_ref().err().and_then(|e| error_for(&e.errors, key))))
    }

    /// Switch to another task with the given parameter texts (missing ones at defaults).
    pub fn set_task(&self, task: &str, given: &[(String, String)]) {
        self.task.set(task.to_string());
        self.task_texts.set(task_texts(task, given));
    }

    /// If the only problem is the memory budget, halve `batch` until the run fits; returns
    /// the new batch when that worked (the gallery's "Train on this task" uses this so a long
    /// task starts with a batch that fits instead of an error). When even batch 1 does not
    /// fit, the batch is left as it was and the budget error stays on the form.
    pub fn fit_batch(&self) -> Option<usize> {
        let i = FIELDS.iter().position(|f| f.key == "batch")?;
        let original = self.texts.with_untracked(|t| t[i].clone());
        let mut batch: usize = original.trim().parse().ok()?;
        let fits = loop {
            match self.parse() {
                Ok(_) => break true,
                Err(e) => {
                    let only_budget =
                        e.errors.iter().all(|f| f.field == "batch" && f.message.contains("budget"));
                    if !only_budget || batch <= 1 {
                        break false;
                    }
                    batch /= 2;
                    self.texts.update(|t| t[i] = batch.to_string());
                }
            }
        };
        let changed = self.texts.with_untracked(|t| t[i] != original);
        if changed && !fits {
            self.texts.update(|t| t[i] = original);
        }
        (changed && fits).then_some(batch)
    }

    /// Show a parsed config in the inputs.
    pub fn show(&self, cfg: &TrainConfig) {
        self.model.set(cfg.model.clone());
        self.mixers.set(cfg.mixers.clone());
        self.texts.set(FIELDS.iter().map(|f| format_field(f, cfg)).collect());
    }
}

/// The task picker, grouped by family; `testid` names the `<select>`.
pub fn task_select(
    testid: &'static str,
    value: Signal<String>,
    on_change: impl Fn(String) + 'static,
    disabled: Signal<bool>,
) -> impl IntoView {
    let groups = tasks::registry::FAMILIES
        .iter()
        .filter(|f| !f.is_empty())
        .map(|family| {
            let options = family
                .iter()
                .map(|info| view! { <option value=info.name selected=move || value.get() == info.name>{info.title}</option> })
                .collect_view();
            view! { <optgroup label=family[0].family>{options}</optgroup> }
        })
        .collect_view();
    view! {
        <select data-testid=testid prop:value=move || value.get() disabled=move || disabled.get()
            on:change=move |ev| on_change(event_target_value(&ev))>{groups}</select>
    }
}

/// Display name of a model family.
pub fn model_title(name: &str) -> &'static str {
    match name {
        "transformer" => "Transformer",
        "dlr" => "DLR (diagonal linear RNN)",
        "s4d" => "S4D (discretised DLR)",
        "mhssm" => "Multi-head SSM",
        "lstm" => "LSTM",
        "gru" => "GRU",
        _ => "?",
    }
}

/// A short description of a parameter's range for its help line.
pub fn range_hint(p: &ParamSpec) -> String {
    match p.kind {
        ParamKind::Choice(_) => format!("{} ({})", p.help, p.range_text()),
        _ => format!("{} [{}]", p.help, p.range_text()),
    }
}

/// One row per parameter of the form's task (rebuilt when the task changes).
fn task_param_rows(form: FormState, running: Signal<bool>) -> impl IntoView {
    move || {
        let Ok(info) = tasks::find(&form.task.get()) else { return ().into_any() };
        info.params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let value = Signal::derive(move || {
                    form.task_texts.with(|t| t.get(i).map(|x| x.1.clone()).unwrap_or_default())
                });
                let on_input = move |v: String| {
                    form.task_texts.update(|t| {
                        if let Some(x) = t.get_mut(i) {
                            x.1 = v
                        }
                    })
                };
                view! {
                    <Field id=format!("cfg-{}", p.key) testid=format!("cfg-{}", p.key) error_testid=format!("error-{}", p.key)
                        label=p.label help=range_hint(p) value=value on_input=on_input error=form.error(p.key) disabled=running/>
                }
            })
            .collect_view()
            .into_any()
    }
}

/// One row per model / optimiser field (`core::config::FIELDS`).
fn model_field_rows(form: FormState, running: Signal<bool>) -> impl IntoView {
    FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let value = Signal::derive(move || form.texts.with(|t| t[i].clone()));
            let on_input = move |v: String| form.texts.update(|t| t[i] = v);
            view! {
                <Field id=format!("cfg-{}", f.key) testid=format!("cfg-{}", f.key) error_testid=format!("error-{}", f.key)
                    label=f.label help=f.help value=value on_input=on_input error=form.error(f.key) disabled=running/>
            }
        })
        .collect_view()
}

/// The run's size against the memory budget, or how many fields need attention.
fn estimate_line(form: FormState) -> impl IntoView {
    move || {
        form.checked.with(|c| match c {
            Ok((cfg, dims)) => format!(
                "{} parameters · ~{} MiB of {} MiB budget",
                cfg.param_count(*dims),
                cfg.estimated_bytes(*dims).div_ceil(1024 * 1024),
                form.env.with(RunEnv::budget_mib)
            ),
            Err(e) => format!("{} field(s) need attention", e.errors.len()),
        })
    }
}

/// The model family picker.
fn model_select(form: FormState, running: Signal<bool>) -> impl IntoView {
    let model_err = form.error("model");
    view! {
        <div class="field">
            <label for="cfg-model">"Model"</label>
            <select id="cfg-model" data-testid="cfg-model" prop:value=move || form.model.get() disabled=move || running.get()
                on:change=move |ev| form.model.set(event_target_value(&ev))>
                {MODEL_NAMES.iter().map(|m| view! { <option value=*m selected=move || form.model.get() == *m>{model_title(m)}</option> }).collect_view()}
            </select>
            <small class="help">"Transformer (per-layer mixers below), diagonal linear RNN, its discretised S4D variant, a multi-head SSM (one recurrence per head), or an LSTM / GRU"</small>
            <Show when=move || model_err.with(Option::is_some)>
                <small class="error" role="alert" data-testid="error-model">{move || model_err.get().unwrap_or_default()}</small>
            </Show>
        </div>
    }
}

#[component]
pub fn ConfigForm(lab: Lab) -> impl IntoView {
    let form = lab.form;
    let running = lab.is_running();
    let description = move || tasks::find(&form.task.get()).map(|i| i.description).unwrap_or("");
    let task_err = form.error("task");
    let mixers_help = format!(
        "Transformer token mixer per layer, comma-separated; one name for all layers ({})",
        MIXER_NAMES.join(", ")
    );
    let mixers_off = Signal::derive(move || running.get() || form.model.get() != "transformer");
    view! {
        <form class="config" on:submit=|ev| ev.prevent_default()>
            <h2>"Task"</h2>
            <div class="field">
                <label for="cfg-task">"Task"</label>
                {task_select("cfg-task", form.task.into(), move |t| form.set_task(&t, &[]), running)}
                <small class="help">{description}</small>
                <Show when=move || task_err.with(Option::is_some)>
                    <small class="error" role="alert" data-testid="error-task">{move || task_err.get().unwrap_or_default()}</small>
                </Show>
            </div>
            {task_param_rows(form, running)}
            <h2>"Model and training"</h2>
            {model_select(form, running)}
            <Field id="cfg-mixers" testid="cfg-mixers" error_testid="error-mixers" label="Mixers" help=mixers_help
                value=form.mixers on_input=move |v: String| form.mixers.set(v) error=form.error("mixers") disabled=mixers_off/>
            {model_field_rows(form, running)}
            <p class="estimate" data-testid="estimate">{estimate_line(form)}</p>
        </form>
    }
}
